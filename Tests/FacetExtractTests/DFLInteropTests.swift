/// DeepFaceLab face sets in: aligned JPEGs whose APP15 block was written by Tools/reference/dfl_faceset.py
/// (DeepFaceLab's writer: `pickle.dumps` of its dict layout, numpy arrays included) come in with their
/// landmarks exact, no detection, and their source frame, rect, matrix, polygons and mask kept.
import XCTest
import GRDB
import FacetCore
import FacetMedia
import FacetVision
@testable import FacetExtract
@testable import FacetStore

final class DFLInteropTests: XCTestCase {
    var dir: String!
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let fixtures = repo + "/Tests/Fixtures"
    static let script = repo + "/Tools/reference/dfl_faceset.py"

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-dfl-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs the reference script; its standard output.
    static func python(_ args: [String], script: String = script) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw FacetError("\((script as NSString).lastPathComponent) \(args.first ?? "") exited \(p.terminationStatus): "
                             + String(decoding: errors + data, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// What the script wrote into one file, as the test expects it back.
    struct Written {
        var landmarks: [[Double]]        // float32 values, as DeepFaceLab's `tolist()` of float32 gives
        var sourceLandmarks: [[Double]]
        var sourceRect: [Double]
        var matrix: [Double]
        var polygon: [[Double]]
        var mask: [[Int]]
    }

    /// A DeepFaceLab aligned folder: faces of every 25th frame of src-d18.mp4 aligned by Facet's pipeline as
    /// 256 px full-face JPEGs, then given an APP15 block by the reference script (pickle protocols 3 and 4,
    /// numpy 1's and numpy 2's names of the array reconstructor).
    func dflFolder(frames: Int = 6) throws -> (String, [Written]) {
        let folder = dir + "/aligned"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pipeline = FacePipeline(detector: try MTCNNDetector(weightsPath: try ModelFiles.mtcnnWeights()),
                                    shapePredictor: try ShapePredictor(path: try ModelFiles.shapePredictor()))
        let decoder = try VideoDecoder(path: Self.fixtures + "/video/src-d18.mp4")
        var written: [Written] = [], specs: [[String: Any]] = []
        func f32(_ v: Double) -> Double { Double(Float(v)) }
        try decoder.forEachFrame { f in
            if f.index % 25 == 0, let face = pipeline.faces(in: f.image, faceType: .full, size: 256, minFaceSize: 40, maxFaces: 1).first {
                let k = written.count
                let path = folder + String(format: "/%05d.jpg", k)
                try JPEGCodec.encode(face.crop, quality: 95).write(to: URL(fileURLWithPath: path))
                let lm = face.landmarksInFace.points.map { [f32($0.x), f32($0.y)] }
                let src = face.landmarks.points.map { [f32($0.x), f32($0.y)] }
                let rect = [face.box.x, face.box.y, face.box.x + face.box.width, face.box.y + face.box.height].map { $0.rounded(.down) }
                let poly = Array(lm[0..<17]) + [lm[26], lm[17]]       // the jaw and the brows: an include polygon
                let mask = (0..<16).map { y in (0..<16).map { x in (x * 16 + y * 3) % 256 } }
                written.append(Written(landmarks: lm, sourceLandmarks: src, sourceRect: rect, matrix: face.matrix.values,
                                       polygon: poly.map { $0.map(f32) }, mask: mask))
                specs.append(["path": path, "protocol": k % 2 == 0 ? 3 : 4, "numpy1": k % 2 == 0,
                              "dict": ["face_type": "full_face", "landmarks": lm, "source_filename": String(format: "%05d.png", f.index),
                                       "source_rect": rect, "source_landmarks": src, "image_to_face_mat": face.matrix.values,
                                       "seg_ie_polys": [["type": 1, "pts": poly]], "xseg_mask": mask, "eyebrows_expand_mod": 1.5] as [String: Any]])
            }
            return written.count < frames
        }
        let spec = dir + "/spec.json"
        try JSONSerialization.data(withJSONObject: ["files": specs]).write(to: URL(fileURLWithPath: spec))
        _ = try Self.python(["write", spec])
        return (folder, written)
    }

    func testDFLFacesComeInWithTheirOwnLandmarksAndSource() throws {
        let (folder, written) = try dflFolder()
        let p = try Project.create(at: dir + "/p.facet")
        let s = try FaceSetImporter.importFaces(folder: folder, role: .src, faceType: .half, into: p)
        XCTAssertEqual(s.facesStored, written.count)
        XCTAssertEqual(s.fromMetadata, written.count, "every file carries its landmarks: nothing is detected")
        let run = try p.read { db in try Row.fetchOne(db, sql: "SELECT detector, landmarker FROM extraction")! }
        XCTAssertEqual(run["detector"] as String, "the files' own metadata (import-faces)")
        let faces = try p.faces(matching: FaceQuery(role: .src, sort: [FaceSort(.frameIndex)]))
        XCTAssertEqual(faces.count, written.count)
        let origins = try p.faceOrigins(ids: faces.map(\.id))
        for (i, f) in faces.enumerated() {
            let w = written[i]
            // The file's face type wins over --face-type (which is for files without metadata).
            XCTAssertEqual(f.faceType, "full")
            XCTAssertEqual(f.imageToFace, .identity)
            // Landmarks exact: float32 in the face table, the file's values in face_origin.
            let lm = try XCTUnwrap(f.landmarks68).points
            XCTAssertEqual(lm.map { [$0.x, $0.y] }, w.landmarks, "face \(i)")
            let o = try XCTUnwrap(origins[f.id])
            XCTAssertEqual(o.tool, "dfl")
            XCTAssertEqual(o.fileName, String(format: "%05d.jpg", i))
            XCTAssertEqual(o.landmarks, w.landmarks.flatMap { $0 })
            XCTAssertEqual(o.sourceLandmarks, w.sourceLandmarks.flatMap { $0 })
            XCTAssertEqual(o.sourceRect, w.sourceRect)
            XCTAssertEqual(o.sourceMatrix, w.matrix)
            XCTAssertEqual(o.sourceFilename, String(format: "%05d.png", i * 25))
            // The polygon, as float32 points.
            let polys = try JSONDecoder().decode([DFLFaceInfo.SegPolygon].self, from: Data(try XCTUnwrap(o.segIEPolysJSON).utf8))
            XCTAssertEqual(polys, [DFLFaceInfo.SegPolygon(type: 1, pts: w.polygon)])
            // The mask: the PNG bytes, which decode to the values written.
            let mask = try PNGCodec.decode(try XCTUnwrap(o.xsegMask))
            XCTAssertEqual(mask.width, 16)
            XCTAssertEqual((0..<16).map { Int(mask.pixels[($0 * 16 + 5) * mask.channels]) }, (0..<16).map { w.mask[$0][5] })
            // Fields Facet has no column for are kept.
            XCTAssertEqual(o.extraJSON, "{\"eyebrows_expand_mod\":1.5}")
            // Signatures were computed on the crop, with these landmarks.
            XCTAssertGreaterThan(f.faceSize, 50)
            XCTAssertLessThan(abs(f.yaw), 60)
        }
    }

    func testDamagedOrHostileAPP15IsRefusedNamingTheFileWithNothingWritten() throws {
        let (folder, _) = try dflFolder(frames: 2)
        let bad = dir + "/bad"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        _ = try Self.python(["hostile", folder + "/00001.jpg", bad])
        let path = dir + "/p.facet"
        try Project.create(at: path).close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let cases = [("truncated.jpg", "truncated APP15 block"), ("set.jpg", "pickle opcode 0x8F"),
                     ("global.jpg", "'posix.system', which is not one of the types DeepFaceLab writes"),
                     ("shape.jpg", "a numpy array of shape [3, 3] and 8-byte elements holds 48 bytes, not 72")]
        for (name, text) in cases {
            let one = dir + "/case-" + name
            try FileManager.default.createDirectory(atPath: one, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: folder + "/00000.jpg", toPath: one + "/00000.jpg")
            try FileManager.default.copyItem(atPath: bad + "/" + name, toPath: one + "/00001.jpg")
            // The command plans on a read-only handle before it opens the file for writing.
            let p = try Project(path: path, mode: .readOnly)
            XCTAssertThrowsError(try FaceSetImporter.plan(folder: one, role: .src, in: p)) { e in
                XCTAssertTrue("\(e)".hasPrefix(one + "/00001.jpg: "), "\(e)")
                XCTAssertTrue("\(e)".contains(text), "\(name): expected '\(text)' in \(e)")
                XCTAssertEqual("\(e)".split(separator: "\n").count, 1)
            }
            try p.close()
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "\(name): the project file is unchanged")
        }
    }

    /// faceswap face PNGs (the `faceswap` iTXt chunk written by Tools/reference/faceswap_faceset.py as faceswap
    /// writes it): the frame landmarks, box, source frame and face index kept exactly; the face's landmarks the
    /// frame landmarks through the fitted frame -> face matrix, which lands near the true alignment.
    func testFaceswapFacesComeInWithTheirFrameLandmarksAndSource() throws {
        let plain = dir + "/plain", fs = dir + "/fs"
        try FileManager.default.createDirectory(atPath: plain, withIntermediateDirectories: true)
        let pipeline = FacePipeline(detector: try MTCNNDetector(weightsPath: try ModelFiles.mtcnnWeights()),
                                    shapePredictor: try ShapePredictor(path: try ModelFiles.shapePredictor()))
        let decoder = try VideoDecoder(path: Self.fixtures + "/video/dst-d19.mp4")
        var manifest = "", matrices: [Affine2D] = [], k = 0
        try decoder.forEachFrame { f in
            if f.index % 30 == 0, let face = pipeline.faces(in: f.image, faceType: .full, size: 256, minFaceSize: 40, maxFaces: 1).first {
                let name = String(format: "%05d.png", k)
                try PNGCodec.encode(face.crop).write(to: URL(fileURLWithPath: plain + "/" + name))
                let line: [String: Any] = ["file": name, "landmarks": face.landmarksInFace.points.map { [$0.x, $0.y] }, "matrix": face.matrix.values,
                                           "frame_index": f.index, "face_index": 0, "face_type": "full"]
                manifest += String(decoding: try JSONSerialization.data(withJSONObject: line), as: UTF8.self) + "\n"
                matrices.append(face.matrix)
                k += 1
            }
            return k < 3
        }
        try manifest.write(toFile: plain + "/manifest.jsonl", atomically: true, encoding: .utf8)
        _ = try Self.python(["from-export", plain, fs, "3"], script: Self.repo + "/Tools/reference/faceswap_faceset.py")
        let written = try Self.python(["read"] + (0..<3).map { fs + String(format: "/%05d.png", $0) }, script: Self.repo + "/Tools/reference/faceswap_faceset.py")
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }

        let p = try Project.create(at: dir + "/p.facet")
        let s = try FaceSetImporter.importFaces(folder: fs, role: .dst, faceType: .full, into: p)
        XCTAssertEqual(s.facesStored, 3)
        let faces = try p.faces(matching: FaceQuery(role: .dst, sort: [FaceSort(.frameIndex)]))
        let origins = try p.faceOrigins(ids: faces.map(\.id))
        for (i, f) in faces.enumerated() {
            let w = (written[i]["dict"] as! [String: Any])
            let a = w["alignments"] as! [String: Any], src = w["source"] as! [String: Any]
            let o = try XCTUnwrap(origins[f.id])
            XCTAssertEqual(o.tool, "faceswap")
            // Exact: Foundation's JSON reader on Linux is not correctly rounded (1e-13 off), hence the tolerance.
            let expected = (a["landmarks_xy"] as! [[NSNumber]]).flatMap { $0.map(\.doubleValue) }
            let kept = try XCTUnwrap(o.sourceLandmarks)
            XCTAssertEqual(kept.count, 136)
            for (u, v) in zip(kept, expected) { XCTAssertEqual(u, v, accuracy: 1e-9, "frame landmarks exact") }
            XCTAssertEqual(o.sourceFilename, src["source_filename"] as? String)
            func num(_ v: Any?) -> Double { (v as! NSNumber).doubleValue }
            let x = num(a["x"]), y = num(a["y"])
            XCTAssertEqual(o.sourceRect, [x, y, x + num(a["w"]), y + num(a["h"])])
            XCTAssertTrue(try XCTUnwrap(o.extraJSON).contains("\"original_filename\":\"\(src["original_filename"] as! String)\""))
            // The fitted matrix is near the alignment that cut the face (a 256 px crop: within a few pixels).
            let fit = Affine2D(try XCTUnwrap(o.sourceMatrix))
            let lm = (a["landmarks_xy"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }.map { Point2($0[0], $0[1]) }
            let err = lm.map { p -> Double in
                let u = fit.apply(p), v = matrices[i].apply(p)
                return ((u.x - v.x) * (u.x - v.x) + (u.y - v.y) * (u.y - v.y)).squareRoot()
            }.reduce(0, +) / 68
            XCTAssertLessThan(err, 4, "face \(i): fitted matrix off by \(err) px on average")
            // The face table's landmarks are the frame landmarks through that matrix.
            XCTAssertEqual(try XCTUnwrap(f.landmarks68).points[30].x, Double(Float(fit.apply(lm[30]).x)), accuracy: 1e-3)
        }

        // A call where a literal belongs, 67 landmarks, a chunk cut off: the file named, nothing written.
        let bad = dir + "/fsbad"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        _ = try Self.python(["hostile", fs + "/00000.png", bad], script: Self.repo + "/Tools/reference/faceswap_faceset.py")
        for (name, text) in [("call.png", "'__import__' is not a literal"), ("short.png", "'landmarks_xy' is not 68"), ("truncated.png", "damaged PNG image (chunk iTXt")] {
            let one = dir + "/fscase-" + name
            try FileManager.default.createDirectory(atPath: one, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: bad + "/" + name, toPath: one + "/00000.png")
            let before = try p.countFaces(matching: FaceQuery())
            XCTAssertThrowsError(try FaceSetImporter.importFaces(folder: one, role: .src, faceType: .full, into: p)) { e in
                XCTAssertTrue("\(e)".hasPrefix(one + "/00000.png: "), "\(e)")
                XCTAssertTrue("\(e)".contains(text), "\(name): expected '\(text)' in \(e)")
            }
            XCTAssertEqual(try p.countFaces(matching: FaceQuery()), before)
        }
    }
}
