/// The gallery's merge runs over HTTP: a real merge of the dst sample's first frames (one frame given the dst face
/// itself, the rest a steady src face), recorded and scored, shown as a strip worst first with each frame's original
/// beside its result; unknown runs and frames are 404s; the pages are GET only.
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FacetCore
import FacetMedia
import FacetMerge
import FacetSelect
import FacetStore
import FacetTestSupport
import FacetVision
@testable import FacetServe

/// A src face for every input except the `wrongAt`-th, which gets its own input back (the dst person).
private final class WrongOnceSwapper: FaceSwapper, @unchecked Sendable {
    let face: Image
    let wrongAt: Int
    private var seen = 0
    init(face: Image, wrongAt: Int) { self.face = face; self.wrongAt = wrongAt }
    var resolution: Int { face.width }
    func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        let mask = Image(width: resolution, height: resolution, channels: 1, pixels: [UInt8](repeating: 255, count: resolution * resolution))
        return faces.map { f in
            defer { seen += 1 }
            return (seen == wrongAt ? f : face, mask)
        }
    }
}

final class MergesViewTests: XCTestCase {
    func testRunStripShowsWorstFirstWithOriginalBesideResult() async throws {
        let dir = NSTemporaryDirectory() + "facet-serve-merges-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (p, media) = try MergeFixture.makeProject(at: dir + "/m.facet", source: true)
        // A steady src face, and the persons' identity centres from the first 30 frames.
        let srcFace: Image? = try MergeFixture.sourceFace(resolution: 64)
        let recognizer = try FaceRecognizer()
        let centres = try MergeFixture.identityCentres(recognizer: recognizer, frames: 30, every: 5)
        let setup = MergeScoringSetup(predictor: try ShapePredictor(path: ModelFiles.shapePredictor()),
                                      identity: IdentityCheck(recognizer: recognizer, srcCentre: centres.src,
                                                              dstCentre: centres.dst),
                                      identityEvery: 1)
        let out = dir + "/out.mp4"
        let run = try MergeRuns.merge(project: p, media: media, swapper: WrongOnceSwapper(face: try XCTUnwrap(srcFace), wrongAt: 5),
                                      checkpointId: nil, options: MergeOptions(mask: .hull, blur: 10, crf: 12, preset: "ultrafast", smooth: 0),
                                      output: out, frames: 0...11, scoring: setup).run

        let gallery = Gallery(project: p, sourceFrame: Gallery.storedMediaFrame)
        let started = PortBoxForMerges()
        let server = Task { try await gallery.run(host: "127.0.0.1", port: 0) { port in started.set(port) } }
        defer { server.cancel() }
        let deadline = Date().addingTimeInterval(20)
        while started.port == nil && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        let base = "http://127.0.0.1:\(try XCTUnwrap(started.port))"
        func get(_ path: String, method: String = "GET") async throws -> (Int, Data) {
            var req = URLRequest(url: URL(string: base + path)!)
            req.httpMethod = method
            let (data, response) = try await URLSession.shared.data(for: req)
            return ((response as! HTTPURLResponse).statusCode, data)
        }

        let (s0, list) = try await get("/merges")
        XCTAssertEqual(s0, 200)
        XCTAssertTrue(String(decoding: list, as: UTF8.self).contains("href=\"/merges/\(run.id)\""))
        let (s1, pageData) = try await get("/merges/\(run.id)?n=4")
        XCTAssertEqual(s1, 200)
        let page = String(decoding: pageData, as: UTF8.self)
        // Worst first: the wrong face's frame leads the strip.
        let figures = page.components(separatedBy: "class=\"merged-frame\" id=\"frame-").dropFirst().map { $0.prefix { $0.isNumber } }
        XCTAssertEqual(figures.count, 4, page)
        XCTAssertEqual(figures.first, "5", page)
        // The frame image: original (left) beside merged (right), each 480 wide; the left half is the decoded frame.
        let (s2, jpeg) = try await get("/merges/\(run.id)/frame/5")
        XCTAssertEqual(s2, 200)
        let image = try JPEGCodec.decode(jpeg)
        XCTAssertEqual(image.width, 2 * media.width)
        XCTAssertEqual(image.height, media.height)
        let decoded = try MergeFixture.frame(5)
        var diffLeft = 0.0, diffRight = 0.0
        for y in stride(from: 0, to: media.height, by: 4) {
            for x in stride(from: 0, to: media.width, by: 4) {
                diffLeft += abs(Double(image[x, y, 1]) - Double(decoded[x, y, 1]))
                diffRight += abs(Double(image[media.width + x, y, 1]) - Double(decoded[x, y, 1]))
            }
        }
        XCTAssertLessThan(diffLeft, diffRight, "the left half is the original frame")
        // Unknown run, a frame outside the run: 404; a POST to a page is not a route.
        let (s3, _) = try await get("/merges/99")
        XCTAssertEqual(s3, 404)
        let (s4, _) = try await get("/merges/\(run.id)/frame/40")
        XCTAssertEqual(s4, 404)
        let (s5, _) = try await get("/merges/\(run.id)", method: "POST")
        XCTAssertNotEqual(s5, 200)
    }
}

/// The port the gallery bound, set from its start-up callback.
final class PortBoxForMerges: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int?
    var port: Int? { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ p: Int) { lock.lock(); value = p; lock.unlock() }
}
