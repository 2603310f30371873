/// Helpers for store tests: a fresh temporary folder per test, file snapshots, sample faces.
import XCTest
import FacetCore
@testable import FacetStore

class StoreTestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func path(_ name: String) -> String { dir + "/" + name }

    /// The bytes of a file and the names of its siblings: what "left as it was" means.
    func snapshot(_ file: String) -> (bytes: Data?, siblings: [String]) {
        (FileManager.default.contents(atPath: file), (try? FileManager.default.contentsOfDirectory(atPath: dir).sorted()) ?? [])
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// Imports a small fake media row (no chunks) and returns its id.
    func addMedia(_ p: Project, role: Role = .src, name: String = "clip.mp4") throws -> Int64 {
        let m = MediaRecord(role: role, name: name, kind: .video, storage: .linked, path: "/nowhere/\(name)", sha256: UUID().uuidString,
                            byteSize: 10, container: "mp4", codec: "h264", width: 64, height: 64, fps: 30, frameCount: 100, duration: 3.3, hasAudio: false)
        return try XCTUnwrap(try p.importMedia(m) { nil }.id)
    }

    /// A face whose signatures are simple functions of `k`, so each sort has a known order.
    func sampleFace(_ k: Int, faceIndex: Int = 0) -> NewFace {
        let lm = Landmarks68(points: (0..<68).map { Point2(Double($0 + k), Double($0 * 2)) })
        var hist = [Float](repeating: 0, count: 768)
        hist[k % 256] = 1; hist[256 + (k * 7) % 256] = 1; hist[512 + (k * 13) % 256] = 1
        let d = Double(k)
        return NewFace(faceIndex: faceIndex, score: 0.9 + d / 1000, box: (d, d, 50, 60), points5: [Point2(1, 2), Point2(3, 4), Point2(5, 6), Point2(7, 8), Point2(9, 10)],
                       landmarks: lm, matrix: Affine2D(a: 1, b: 0, tx: -d, c: 0, d: 1, ty: 0), faceType: "full", cropSize: 64,
                       cropFormat: "jpeg", crop: Data([0xFF, 0xD8, UInt8(k % 256)]), histogram: hist,
                       blur: Double((k * 37) % 101), motionBlur: Double((k * 53) % 97), yaw: Double((k * 11) % 61) - 30,
                       pitch: Double((k * 17) % 41) - 20, roll: Double((k * 5) % 21) - 10, brightness: Double((k * 29) % 255),
                       hue: Double((k * 31) % 360), faceSize: Double(40 + (k * 19) % 200))
    }

    /// A project with `n` faces over `n` frames of one src media (and a second face on every 10th frame).
    func projectWithFaces(_ n: Int) throws -> Project {
        let p = try Project.create(at: path("faces.facet"))
        let media = try addMedia(p)
        let run = try p.beginExtraction(ExtractionProvenance(role: .src, detector: "test", detectorSHA256: "0", landmarker: "test", landmarkerSHA256: "0", optionsJSON: "{}"))
        var frames: [ExtractedFrame] = []
        var k = 0
        for i in 0..<n where k < n {
            var faces = [sampleFace(k)]; k += 1
            if i % 10 == 9 && k < n { faces.append(sampleFace(k, faceIndex: 1)); k += 1 }
            frames.append(ExtractedFrame(mediaId: media, frameIndex: i, pts: Double(i) / 30, faces: faces))
        }
        try p.storeFrames(frames, extractionId: run, role: .src)
        return p
    }
}
