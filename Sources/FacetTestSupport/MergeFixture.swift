/// Merge fixtures shared by the merge tests and the benchmarks (`Tools/bench merge|compositor|seamless`): a project
/// with the dst sample video and its real faces, a trained copy, test swappers, decoded frames.
import Foundation
import FacetCore
import FacetExtract
import FacetMedia
import FacetMerge
import FacetStore
import FacetTrain

/// Returns each aligned destination face unchanged, with an all-white learned mask: a merge with
/// it should leave the frame almost as it was.
public struct IdentitySwapper: FaceSwapper {
    /// Side of the square aligned face it takes and returns, in pixels.
    public let resolution: Int
    /// A swapper at `resolution` pixels.
    public init(resolution: Int) { self.resolution = resolution }
    /// The swapped faces and learned masks for `faces`.
    public func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map {
            ($0,
             Image(width: resolution, height: resolution, channels: 1,
                   pixels: [UInt8](repeating: 255, count: resolution * resolution)))
        }
    }
}

/// Returns each face with its colours shifted (red up, blue down) and a centred elliptic learned
/// mask: the change is easy to see and to measure.
public struct ShiftedSwapper: FaceSwapper {
    /// Side of the square aligned face it takes and returns, in pixels.
    public let resolution: Int
    /// What it adds to each pixel's red, green and blue (clamped to 0...255).
    public var shift: (Int, Int, Int) = (70, 0, -50)
    /// Also turn the face upside down: a change of content, not only of colour.
    public var upsideDown = false
    /// A swapper at `resolution` pixels shifting colours by `shift`, upside down or not.
    public init(resolution: Int, shift: (Int, Int, Int) = (70, 0, -50), upsideDown: Bool = false) {
        self.resolution = resolution; self.shift = shift; self.upsideDown = upsideDown
    }
    /// The swapped faces and learned masks for `faces`.
    public func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map { face in
            var f = face
            for i in 0..<(resolution * resolution) {
                let from = upsideDown ? ((resolution - 1 - i / resolution) * resolution + i % resolution) : i
                f.pixels[i * 3] = UInt8(clamping: Int(face.pixels[from * 3]) + shift.0)
                f.pixels[i * 3 + 1] = UInt8(clamping: Int(face.pixels[from * 3 + 1]) + shift.1)
                f.pixels[i * 3 + 2] = UInt8(clamping: Int(face.pixels[from * 3 + 2]) + shift.2)
            }
            var m = Image(width: resolution, height: resolution, channels: 1)
            let c = Double(resolution) / 2
            for y in 0..<resolution {
                for x in 0..<resolution {
                    let dx = (Double(x) - c) / (0.36 * Double(resolution)),
                        dy = (Double(y) - c * 1.1) / (0.42 * Double(resolution))
                    m.pixels[y * resolution + x] = dx * dx + dy * dy <= 1 ? 255 : 0
                }
            }
            return (f, m)
        }
    }
}

/// Returns each face with a strongly red disc in its middle (a change of content the Poisson blend
/// keeps, unlike a plain colour shift) and an all-white learned mask.
public struct RedPatchSwapper: FaceSwapper {
    /// Side of the square aligned face it takes and returns, in pixels.
    public let resolution: Int
    /// A swapper at `resolution` pixels.
    public init(resolution: Int) { self.resolution = resolution }
    /// The swapped faces and learned masks for `faces`.
    public func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map { face in
            var f = face
            let c = Double(resolution) / 2, r = 0.22 * Double(resolution)
            for y in 0..<resolution {
                for x in 0..<resolution
                where (Double(x) - c) * (Double(x) - c) + (Double(y) - c) * (Double(y) - c) <= r * r {
                    let i = (y * resolution + x) * 3
                    f.pixels[i] = UInt8(clamping: Int(face.pixels[i]) + 90)
                    f.pixels[i + 1] = UInt8(clamping: Int(face.pixels[i + 1]) - 40)
                    f.pixels[i + 2] = UInt8(clamping: Int(face.pixels[i + 2]) - 40)
                }
            }
            return (f,
                    Image(width: resolution, height: resolution, channels: 1,
                          pixels: [UInt8](repeating: 255, count: resolution * resolution)))
        }
    }
}

/// The dst sample video and its stored faces as a project, and the helpers the merge tests build on them.
public enum MergeFixture {
    /// The repository root (three folders above this file), to find the test fixtures.
    public static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    /// The dst sample video (dst-d19), in Tests/Fixtures.
    public static let dstVideo = repo.appendingPathComponent("Tests/Fixtures/video/dst-d19.mp4").path
    /// The src sample video (src-d18), in Tests/Fixtures.
    public static let srcVideo = repo.appendingPathComponent("Tests/Fixtures/video/src-d18.mp4").path

    /// One stored face of a sample video: frame index, score, MTCNN box, landmarks, full-face matrix.
    public typealias Row = (frame: Int, score: Double, box: [Double], landmarks: Landmarks68, matrix: Affine2D)

    /// The stored faces of dst-d19: frame index, score, MTCNN box, landmarks, full-face matrix for 256 pixels.
    public static let rows: [Row] = parse(dstD19Faces)
    /// The same for src-d18.
    public static let srcRows: [Row] = parse(srcD18Faces)

    /// The rows of a JSON face list (`dstD19Faces`, `srcD18Faces`); traps on malformed text (fixed data).
    public static func parse(_ text: String) -> [Row] {
        let json = try! JSONSerialization.jsonObject(with: Data(text.utf8)) as! [[Any]]
        return json.map { row in
            let values = (row[3] as! [NSNumber]).map(\.doubleValue)
            let points = (0..<68).map { Point2(values[2 * $0], values[2 * $0 + 1]) }
            return ((row[0] as! NSNumber).intValue, (row[1] as! NSNumber).doubleValue,
                    (row[2] as! [NSNumber]).map(\.doubleValue),
                    Landmarks68(points: points), Affine2D((row[4] as! [NSNumber]).map(\.doubleValue)))
        }
    }

    /// The face as extraction stores it: full face type, 256-pixel crop matrix from the landmarks.
    public static func newFace(_ row: Row, crop: Data = Data([0xFF, 0xD8, 0xFF])) -> NewFace {
        var histogram = [Float](repeating: 0, count: 768)
        histogram[128] = 1; histogram[384] = 1; histogram[640] = 1
        return NewFace(faceIndex: 0, score: row.score, box: (row.box[0], row.box[1], row.box[2], row.box[3]),
                       points5: [],
                       landmarks: row.landmarks, matrix: row.matrix,
                       faceType: "full", cropSize: 256, cropFormat: "jpeg", crop: crop, histogram: histogram,
                       blur: 10, motionBlur: 10, yaw: 0, pitch: 0, roll: 0, brightness: 100, hue: 20, faceSize: 250)
    }

    /// A new project at `path` with the dst sample video (embedded, or linked from `linkFrom`) and
    /// the stored faces of its first 60 frames (or none); with `source`, also the src sample video
    /// and its faces, all with real aligned crops (what training reads).
    @discardableResult
    public static func makeProject(at path: String, link linkFrom: String? = nil, withFaces: Bool = true,
                                   source: Bool = false) throws -> (Project, MediaRecord) {
        let p = try Project.create(at: path)
        let media = try MediaImporter.importMedia(path: linkFrom ?? dstVideo, role: .dst, link: linkFrom != nil,
                                                  into: p)
        if withFaces { try storeFaces(rows, of: dstVideo, media: media.id!, role: .dst, crops: source, in: p) }
        if source {
            let src = try MediaImporter.importMedia(path: srcVideo, role: .src, link: false, into: p)
            try storeFaces(srcRows, of: srcVideo, media: src.id!, role: .src, crops: true, in: p)
        }
        return (p, media)
    }

    /// Stores `list` as the faces of `video` (media `media`) in one extraction run; with `crops`, each with
    /// its real aligned crop cut from the decoded frame, else with a 3-byte placeholder.
    public static func storeFaces(_ list: [Row], of video: String, media: Int64, role: Role, crops: Bool,
                                  in p: Project) throws {
        let run = try p.beginExtraction(ExtractionProvenance(role: role, detector: "mtcnn", detectorSHA256: "0",
                                                             landmarker: "dlib68", landmarkerSHA256: "0",
                                                             optionsJSON: "{}"))
        var frames: [ExtractedFrame] = []
        let decoder = crops ? try VideoDecoder(path: video) : nil
        for row in list {
            var crop = Data([0xFF, 0xD8, 0xFF])
            if let decoder {
                while let f = try decoder.nextFrame() {
                    guard f.index == row.frame else { continue }
                    crop = try JPEGCodec.encode(f.image.warped(by: row.matrix, width: 256, height: 256), quality: 90)
                    break
                }
            }
            frames.append(ExtractedFrame(mediaId: media, frameIndex: row.frame, pts: Double(row.frame) / 30,
                                         faces: [newFace(row, crop: crop)]))
        }
        try p.storeFrames(frames, extractionId: run, role: role)
        try p.finishExtraction(id: run)
    }

    /// A project with both sample videos, their faces, and a `tiny` model trained for a few
    /// iterations: made once per test run, copied by each test that needs it.
    public static let trainedProject: String = {
        let folder = NSTemporaryDirectory() + "facet-merge-fixture-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let file = folder + "/trained.facet"
        let (p, _) = try! makeProject(at: file, source: true)
        _ = try! Trainer(project: p,
                         options: TrainOptions(architecture: .tiny, batchSize: 4, stop: .iterations(6), seed: 11)).run()
        try! p.close()
        return file
    }()

    /// A copy of the trained fixture project at `path`.
    public static func trainedCopy(at path: String) throws -> (Project, MediaRecord) {
        try FileManager.default.copyItem(atPath: trainedProject, toPath: path)
        let p = try Project(path: path)
        return (p, try MergeEngine.destination(in: p, mediaId: nil))
    }

    /// Decoded frame `index` of the dst sample video.
    public static func frame(_ index: Int) throws -> Image {
        let d = try VideoDecoder(path: dstVideo)
        while let f = try d.nextFrame() { if f.index == index { return f.image } }
        throw FacetError("no frame \(index)")
    }

    /// The merge face (matrix, crop size, landmarks) stored for frame `index` of the dst sample video.
    public static func face(_ index: Int) -> MergeFace {
        let row = rows.first { $0.frame == index }!
        return MergeFace(imageToFace: row.matrix, cropSize: 256, landmarks: row.landmarks)
    }
}
