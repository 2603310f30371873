/// `facet import-faces`: aligned faces cut from the sample video (as DeepFaceLab's `aligned` folder
/// holds them) come back as faces whose landmarks match the alignment, with their files as crops.
import XCTest
import GRDB
import FacetCore
import FacetCurate
import FacetMedia
import FacetVision
@testable import FacetExtract
@testable import FacetStore

final class FaceSetImportTests: XCTestCase {
    var dir: String!
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-import-faces-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// An aligned folder made the way extraction aligns: faces of every 25th frame of src-d18.mp4 as
    /// 256 px full-face crops, JPEG (the last one PNG). Returns the folder and each file's landmarks in
    /// face coordinates, and its histogram before encoding.
    func alignedFolder(frames: Int = 8) throws -> (String, [[Point2]], [[Float]]) {
        let folder = dir + "/aligned"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pipeline = FacePipeline(detector: try MTCNNDetector(weightsPath: try ModelFiles.mtcnnWeights()),
                                    shapePredictor: try ShapePredictor(path: try ModelFiles.shapePredictor()))
        let decoder = try VideoDecoder(path: Self.fixtures + "/video/src-d18.mp4")
        var landmarks: [[Point2]] = [], histograms: [[Float]] = []
        var k = 0
        try decoder.forEachFrame { f in
            if f.index % 25 == 0, let face = pipeline.faces(in: f.image, faceType: .full, size: 256, minFaceSize: 40, maxFaces: 1).first {
                k += 1
                let last = k == frames
                let data = last ? try PNGCodec.encode(face.crop) : try JPEGCodec.encode(face.crop, quality: 95)
                try data.write(to: URL(fileURLWithPath: folder + String(format: "/%05d.%@", k, last ? "png" : "jpg")))
                landmarks.append(face.landmarksInFace.points)
                histograms.append(face.signatures.histogram)
            }
            return k < frames
        }
        XCTAssertEqual(k, frames, "the sample video has a face every 25 frames")
        return (folder, landmarks, histograms)
    }

    func testAlignedFacesComeBackWithTheirLandmarksAndCrops() throws {
        let (folder, expected, histograms) = try alignedFolder()
        let p = try Project.create(at: dir + "/p.facet")
        let s = try FaceSetImporter.importFaces(folder: folder, role: .src, faceType: .full, into: p)
        XCTAssertEqual(s.facesStored, 8)
        XCTAssertLessThanOrEqual(s.withoutDetection, 1, "MTCNN finds the face in an aligned crop")
        let faces = try p.faces(matching: FaceQuery(role: .src, sort: [FaceSort(.frameIndex)]))
        XCTAssertEqual(faces.count, 8)
        XCTAssertEqual(faces.map(\.frameIndex), Array(0..<8))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        for (i, f) in faces.enumerated() {
            // The crop is the file, byte for byte; the matrix is the identity; the crop size the image's.
            let crop = try p.faceCrop(id: f.id)
            XCTAssertEqual(crop.data, FileManager.default.contents(atPath: folder + "/" + files[i]))
            XCTAssertEqual(crop.format, i == 7 ? "png" : "jpeg")
            XCTAssertEqual(f.imageToFace, .identity)
            XCTAssertEqual(f.cropSize, 256)
            XCTAssertEqual(f.faceType, "full")
            // Landmarks found on the aligned image sit where the alignment put them (mean error in pixels of 256).
            let found = try XCTUnwrap(f.landmarks68).points
            let err = zip(found, expected[i]).map { ((($0.x - $1.x) * ($0.x - $1.x) + ($0.y - $1.y) * ($0.y - $1.y))).squareRoot() }.reduce(0, +) / 68
            XCTAssertLessThan(err, 6, "face \(i): mean landmark error \(err) px")
            // The histogram is the crop's: nearer the one measured on the same crop before encoding than
            // any other face's, and close to it when the file is lossless (PNG).
            let h = try XCTUnwrap(try p.histograms(faceIDs: [f.id])[f.id])
            let d = histograms.map { histogramDistance(h, $0) }
            XCTAssertEqual(d.firstIndex(of: d.min()!), i, "face \(i): \(d)")
            if i == 7 { XCTAssertLessThan(d[i], 0.1, "face \(i)") }
        }
        // The folder is kept as stills: each face's source frame is its own file.
        let media = try p.media(id: faces[0].mediaId)
        XCTAssertEqual(media.kind, .stills)
        XCTAssertEqual(try p.stillNames(mediaId: media.id!), files)
        // The faces sort and curate like extracted ones.
        XCTAssertEqual(try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .hist(reversed: false)).count, 8)

        // Importing the same folder again is refused, and changes nothing.
        let before = try p.countFaces(matching: FaceQuery())
        XCTAssertThrowsError(try FaceSetImporter.importFaces(folder: folder, role: .src, faceType: .full, into: p)) { e in
            XCTAssertTrue("\(e)".contains("already imported as media"), "\(e)")
        }
        XCTAssertEqual(try p.countFaces(matching: FaceQuery()), before)
        XCTAssertEqual(try p.media().count, 1)
    }

    /// A run killed after storing the folder but before its faces: the rerun stores the faces.
    func testRerunAfterAnInterruptedImportStoresTheMissingFaces() throws {
        let (folder, _, _) = try alignedFolder(frames: 4)
        let p = try Project.create(at: dir + "/p.facet")
        let m = try MediaImporter.importMedia(path: folder, role: .src, link: false, into: p)
        let s = try FaceSetImporter.importFaces(folder: folder, role: .src, faceType: .full, into: p)
        XCTAssertEqual(s.media.id, m.id)
        XCTAssertEqual(s.facesStored, 4)
        XCTAssertEqual(try p.media().count, 1)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(role: .src)), 4)
    }

    func testBadFoldersAreRefusedNamingTheFileWithNothingWritten() throws {
        let (folder, _, _) = try alignedFolder(frames: 3)
        let p = try Project.create(at: dir + "/p.facet")
        func refused(_ path: String, _ text: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try FaceSetImporter.importFaces(folder: path, role: .src, faceType: .full, into: p), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(text), "expected '\(text)' in \(e)", file: file, line: line)
                XCTAssertEqual("\(e)".split(separator: "\n").count, 1, file: file, line: line)
            }
            XCTAssertEqual(try p.media().count, 0, file: file, line: line)
            XCTAssertEqual(try p.countFaces(matching: FaceQuery()), 0, file: file, line: line)
        }
        // Not square: a real frame.
        let wide = dir + "/wide"
        try FileManager.default.copyItem(atPath: folder, toPath: wide)
        let frame = try XCTUnwrap(try VideoDecoder(path: Self.fixtures + "/video/dst-d19.mp4").nextFrame()).image.cropped(x: 0, y: 0, width: 300, height: 200)
        try JPEGCodec.encode(frame).write(to: URL(fileURLWithPath: wide + "/00002.jpg"))
        refused(wide, "00002.jpg: is 300x200: an aligned face image is square")
        // Not an image, whatever its name says.
        let text = dir + "/text"
        try FileManager.default.copyItem(atPath: folder, toPath: text)
        try Data("not a picture".utf8).write(to: URL(fileURLWithPath: text + "/00003.jpg"))
        refused(text, "00003.jpg")
        // No images at all, and no folder.
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        refused(empty, "no images in this folder")
        refused(dir + "/missing", "no such folder")
    }
}
