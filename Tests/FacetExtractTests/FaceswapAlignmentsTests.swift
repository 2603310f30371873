/// faceswap alignments JSON in: a file written by Tools/reference/faceswap_alignments.py (faceswap's `alignments -j
/// export` layout, `json.dumps(indent=2)`) drives `extract --alignments` over the real destination video: each
/// named frame's faces come in with the file's landmarks exact and its box, nothing detected, the frame link
/// kept; bad files are refused with one line naming them, nothing written.
import XCTest
import GRDB
import FacetCore
import FacetMedia
import FacetVision
@testable import FacetExtract
@testable import FacetStore

final class FaceswapAlignmentsTests: XCTestCase {
    var dir: String!
    static let script = DFLInteropTests.repo + "/Tools/reference/faceswap_alignments.py"
    static let video = DFLInteropTests.fixtures + "/video/dst-d19.mp4"

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-fsjson-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    struct Written { var frame: Int; var box: [Double]; var landmarks: [[Double]] }

    /// An alignments JSON for every 25th frame of dst-d19.mp4: the landmarks Facet's pipeline finds there, moved by
    /// a sub-pixel offset (so detected landmarks could not pass for them), and the detector's box.
    func alignmentsFile() throws -> (String, [Written]) {
        let pipeline = FacePipeline(detector: try MTCNNDetector(weightsPath: try ModelFiles.mtcnnWeights()),
                                    shapePredictor: try ShapePredictor(path: try ModelFiles.shapePredictor()))
        var written: [Written] = [], faces: [[String: Any]] = []
        try VideoDecoder(path: Self.video).forEachFrame { f in
            if f.index % 25 == 0, let face = pipeline.faces(in: f.image, faceType: .full, size: 256, minFaceSize: 40, maxFaces: 1).first {
                let lm = face.landmarks.points.enumerated().map { i, p in [p.x + 0.3125 + Double(i % 3) * 0.125, p.y - 0.4375] }
                let b = face.box
                written.append(Written(frame: f.index, box: [b.x, b.y, b.x + b.width, b.y + b.height].map { ($0 as Double).rounded(.toNearestOrEven) },
                                       landmarks: lm))
                faces.append(["frame": f.index, "x": b.x, "y": b.y, "w": b.width, "h": b.height, "landmarks_xy": lm])
            }
            return true
        }
        let spec = dir + "/spec.json", out = dir + "/dst-d19_alignments.json"
        try JSONSerialization.data(withJSONObject: ["video": "dst-d19.mp4", "faces": faces]).write(to: URL(fileURLWithPath: spec))
        _ = try DFLInteropTests.python(["write", spec, out], script: Self.script)
        return (out, written)
    }

    func testAlignmentsJSONFacesComeInWithTheirLandmarksAndFrames() throws {
        let (file, written) = try alignmentsFile()
        XCTAssertGreaterThanOrEqual(written.count, 8)
        // The file as faceswap's own importer reads it names the frames faceswap's way.
        let seen = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(DFLInteropTests.python(["read", file], script: Self.script).utf8)) as? [String: Any])
        XCTAssertEqual(Set(seen.keys), Set(written.map { String(format: "dst-d19_%06d.mp4", $0.frame + 1) }))

        let p = try Project.create(at: dir + "/p.facet")
        _ = try MediaImporter.importMedia(path: Self.video, role: .dst, link: true, into: p)
        var o = ExtractionOptions(role: .dst)
        o.alignments = file
        let s = try Extractor(project: p, options: o).run { _ in }
        XCTAssertEqual(s.framesProcessed, 250)
        XCTAssertEqual(s.facesStored, written.count)
        XCTAssertEqual(s.framesWithoutFace, 250 - written.count, "frames the file does not name have no face")
        let run = try p.read { db in try Row.fetchOne(db, sql: "SELECT detector, landmarker FROM extraction")! }
        XCTAssertEqual(run["detector"] as String, "faceswap alignments file")
        XCTAssertEqual(run["landmarker"] as String, "the file's landmarks")

        let faces = try p.faces(matching: FaceQuery(role: .dst, sort: [FaceSort(.frameIndex)]))
        XCTAssertEqual(faces.map(\.frameIndex), written.map(\.frame))
        let origins = try p.faceOrigins(ids: faces.map(\.id))
        for (f, w) in zip(faces, written) {
            let stored = try XCTUnwrap(f.landmarks68).points
            XCTAssertEqual(stored.map { [$0.x, $0.y] }, w.landmarks.map { $0.map { Double(Float($0)) } }, "frame \(w.frame): the file's landmarks (float32 as stored)")
            XCTAssertEqual([f.boxX, f.boxY, f.boxX + f.boxW, f.boxY + f.boxH], w.box, "frame \(w.frame)")
            XCTAssertEqual(f.imageToFace, alignmentMatrix(landmarks: Landmarks68(points: w.landmarks.map { Point2($0[0], $0[1]) }), faceType: .full, size: 256))
            let origin = try XCTUnwrap(origins[f.id])
            XCTAssertEqual(origin.tool, "faceswap")
            XCTAssertEqual(origin.fileName, "dst-d19_alignments.json")
            XCTAssertEqual(origin.sourceFilename, String(format: "dst-d19_%06d.mp4", w.frame + 1))
            XCTAssertEqual(origin.sourceLandmarks, w.landmarks.flatMap { $0 }, "the file's values at full precision")
            XCTAssertEqual(origin.sourceRect, w.box)
        }
        // The crop is the frame warped by that matrix: the face of the video, 256 px.
        let crop = try JPEGCodec.decode(try p.faceCrop(id: faces[0].id).data)
        XCTAssertEqual(crop.width, 256)

        // A rerun carries on: every frame is done, nothing is stored twice.
        let again = try Extractor(project: p, options: o).run { _ in }
        XCTAssertEqual(again.facesStored, 0)
        XCTAssertEqual(again.framesSkipped, 250)
        XCTAssertEqual(try p.faces(matching: FaceQuery(role: .dst)).count, written.count)
    }

    func testBadAlignmentsFilesAreRefusedWithOneLineAndNothingWritten() throws {
        let (file, _) = try alignmentsFile()
        let bad = dir + "/bad"
        _ = try DFLInteropTests.python(["hostile", file, bad], script: Self.script)
        let p = try Project.create(at: dir + "/p.facet")
        _ = try MediaImporter.importMedia(path: Self.video, role: .dst, link: true, into: p)
        let expected = [
            "truncated.json": "is not a faceswap alignments JSON file", "not-json.json": "is not a faceswap alignments JSON file",
            "list.json": "is not a faceswap alignments JSON file", "roi4.json": "4 landmarks", "67points.json": "67 landmarks",
            "nan.json": "not valid JSON", "no-box.json": "no 'detected' box", "string-box.json": "wrong type",
            "xyz.json": "not 68 finite (x, y) points", "flipped-box.json": "'detected' is not [left, top, right, bottom]",
            "other-video.json": "names none of the dst media's frames (faceswap names them like 'dst-d19_000001.mp4'",
        ]
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: bad)), Set(expected.keys))
        for (name, words) in expected.sorted(by: { $0.key < $1.key }) {
            var o = ExtractionOptions(role: .dst)
            o.alignments = bad + "/" + name
            XCTAssertThrowsError(try Extractor(project: p, options: o).run { _ in }, name) { e in
                let line = "\(e)"
                XCTAssertTrue(line.contains(bad + "/" + name), "\(name): \(line)")
                XCTAssertTrue(line.contains(words), "\(name): \(line)")
                XCTAssertFalse(line.contains("\n"), "\(name): one line: \(line)")
            }
        }
        XCTAssertEqual(try p.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM extraction") }, 0)
        XCTAssertEqual(try p.faces(matching: FaceQuery(role: .dst)).count, 0)
    }
}
