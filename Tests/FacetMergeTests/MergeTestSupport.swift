/// Helpers for merge tests: a project with the dst sample video and its real faces, test swappers, frames.
import XCTest
import FacetCore
import FacetExtract
import FacetMedia
import FacetStore
import FacetTrain
import FacetTestSupport
@_spi(Benchmarks) @testable import FacetMerge

/// A swapper whose output has the wrong size: the merge must refuse it.
struct WrongSizeSwapper: FaceSwapper {
    let resolution: Int
    func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map { _ in (Image(width: resolution / 2, height: resolution / 2), Image(width: resolution / 2, height: resolution / 2, channels: 1)) }
    }
}

class MergeTestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-merge-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func path(_ name: String) -> String { dir + "/" + name }

    /// Saves an image for a person to look at when FACET_MERGE_LOOK names a folder.
    func look(_ image: Image, _ name: String) {
        guard let folder = ProcessInfo.processInfo.environment["FACET_MERGE_LOOK"] else { return }
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? ImageFile.write(image, path: folder + "/" + name + ".png")
    }

    /// Mean of each channel over the frame pixels where `inside` holds.
    func meanColour(_ image: Image, where inside: (Int, Int) -> Bool) -> [Double] {
        var sum = [0.0, 0.0, 0.0], n = 0.0
        for y in 0..<image.height {
            for x in 0..<image.width where inside(x, y) {
                for c in 0..<3 { sum[c] += Double(image[x, y, c]) }
                n += 1
            }
        }
        return sum.map { $0 / max(n, 1) }
    }

    /// ffprobe's answer for one entry of a file, e.g. ("stream", "nb_read_frames") of the video.
    func probe(_ file: String, _ args: [String]) throws -> String {
        try toolOutput("/usr/bin/ffprobe", ["-v", "error"] + args + [file])
    }
}
