/// Test projects with real faces: frames of the sample videos, cropped around the face as aligned
/// crops are stored (256 px JPEG, landmarks in frame coordinates, image-to-face matrix).
import XCTest
import FacetCore
import FacetMedia
import FacetStore

class TrainTestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-train-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func path(_ name: String) -> String { dir + "/" + name }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// The faces of both sample videos, made once per test process: (role, frame index, JPEG crop).
    nonisolated(unsafe) static var cachedCrops: [(role: Role, frame: Int, pts: Double, jpeg: Data)]?

    /// Where the face sits in the 480x480 talking-head videos: a 300 px square (the same crop
    /// FacetNN's fixture faces use), mapped to a 256 px aligned crop.
    static let cropOrigin = (x: 90.0, y: 60.0), cropSide = 300.0, cropSize = 256

    static var imageToFace: Affine2D {
        let s = Double(cropSize) / cropSide
        return Affine2D(a: s, b: 0, tx: -cropOrigin.x * s, c: 0, d: s, ty: -cropOrigin.y * s)
    }

    /// `perRole` frames of each video at 5 fps, cropped and JPEG-encoded like extracted faces.
    static func crops(perRole: Int) throws -> [(role: Role, frame: Int, pts: Double, jpeg: Data)] {
        if let c = cachedCrops, c.filter({ $0.role == .src }).count >= perRole { return c }
        var out: [(role: Role, frame: Int, pts: Double, jpeg: Data)] = []
        for (role, file) in [(Role.src, "src-d18.mp4"), (Role.dst, "dst-d19.mp4")] {
            let decoder = try VideoDecoder(path: fixtures + "/video/" + file, fps: 5)
            var n = 0
            try decoder.forEachFrame { frame in
                let crop = frame.image.warped(by: imageToFace, width: cropSize, height: cropSize, border: .replicate)
                out.append((role, frame.index, frame.pts, try JPEGCodec.encode(crop, quality: 92)))
                n += 1
                return n < perRole
            }
        }
        cachedCrops = out
        return out
    }

    /// 68 points on an ellipse around the face in the crop, mapped back to frame coordinates (the
    /// store keeps landmarks in frame coordinates); their hull is the training mask.
    static func landmarks() -> Landmarks68 {
        let inv = imageToFace.inverted!
        let points = (0..<68).map { i -> Point2 in
            let t = Double(i) / 68 * 2 * .pi
            return inv.apply(Point2(128 + 72 * cos(t), 140 + 92 * sin(t)))
        }
        return Landmarks68(points: points)
    }

    /// A project with `srcFaces` src and `dstFaces` dst faces from the sample videos.
    func projectWithFaces(src srcFaces: Int, dst dstFaces: Int, name: String = "train.facet") throws -> Project {
        let p = try Project.create(at: path(name))
        let crops = try Self.crops(perRole: max(srcFaces, dstFaces))
        for (role, wanted) in [(Role.src, srcFaces), (Role.dst, dstFaces)] where wanted > 0 {
            let media = MediaRecord(role: role, name: "\(role.rawValue).mp4", kind: .video, storage: .linked, path: "/nowhere/\(role.rawValue).mp4",
                                    sha256: UUID().uuidString, byteSize: 1, container: "mp4", codec: "h264", width: 480, height: 480,
                                    fps: 25, frameCount: 250, duration: 10, hasAudio: false)
            let mediaId = try XCTUnwrap(try p.importMedia(media) { nil }.id)
            let run = try p.beginExtraction(ExtractionProvenance(role: role, detector: "fixed-crop", detectorSHA256: "0", landmarker: "ellipse",
                                                                 landmarkerSHA256: "0", optionsJSON: "{}"))
            let frames = crops.filter { $0.role == role }.prefix(wanted).map { c in
                ExtractedFrame(mediaId: mediaId, frameIndex: c.frame, pts: c.pts, faces: [
                    NewFace(faceIndex: 0, score: 0.99, box: (120, 100, 240, 280), points5: [], landmarks: Self.landmarks(),
                            matrix: Self.imageToFace, faceType: "full", cropSize: Self.cropSize, cropFormat: "jpeg", crop: c.jpeg,
                            histogram: [Float](repeating: 1.0 / 256, count: 768), blur: 10, motionBlur: 10, yaw: 0, pitch: 0, roll: 0,
                            brightness: 128, hue: 20, faceSize: 240),
                ])
            }
            try p.storeFrames(Array(frames), extractionId: run, role: role)
        }
        return p
    }
}
