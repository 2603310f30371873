/// DeepFaceLab face sets in and out, as a user runs them: faces Facet aligned are turned into a DeepFaceLab
/// `aligned` folder by Tools/reference/dfl_faceset.py (DeepFaceLab's writer), imported with `facet import-faces`
/// (no detection, landmarks exact), exported with `facet export --format dfl`, and read back by the same
/// script's `pickle.loads`: every field equal to what the script wrote.
import XCTest
import Foundation

final class DFLRoundTripCLITests: CLITestCase {
    /// Runs the reference script; its standard output.
    func python(_ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", Self.repo.appendingPathComponent("Tools/reference/dfl_faceset.py").path] + args
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "dfl_faceset.py \(args)")
        return String(decoding: data, as: UTF8.self)
    }

    /// Each file's APP15 dict as the script's `pickle.loads` sees it, by file order.
    func dicts(_ folder: String) throws -> [[String: Any]] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".jpg") }.sorted().map { folder + "/" + $0 }
        return try python(["read"] + files).split(separator: "\n").map { line in
            let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return o["dict"] as! [String: Any]
        }
    }

    func testDFLSetImportsExactlyAndExportsBackToDeepFaceLab() throws {
        // Real faces: three frames of the src sample, aligned by `facet detect`, imported, exported with a manifest.
        let frames = path("frames"), aligned = path("aligned")
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        let ff = Process()
        ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ff.arguments = ["-v", "error", "-i", Self.fixtures + "/video/src-d18.mp4", "-vf", "select=not(mod(n\\,40))", "-vsync", "vfr", "-frames:v", "3", frames + "/f%02d.png"]
        try ff.run(); ff.waitUntilExit()
        let pngs = try FileManager.default.contentsOfDirectory(atPath: frames).sorted().map { frames + "/" + $0 }
        XCTAssertEqual(try facet(["detect"] + pngs + ["--face-type", "full", "--size", "192", "--out", aligned]).status, 0)
        XCTAssertEqual(try facet(["init", "a.facet"]).status, 0)
        XCTAssertEqual(try facet(["import-faces", "a.facet", "--role", "src", aligned]).status, 0)
        XCTAssertEqual(try facet(["export", "a.facet", "--role", "src", "--out", path("plain")]).status, 0)

        // DeepFaceLab's files, with every field its extractor writes (pickle protocols 3 and 4, numpy 1 and 2 names).
        let dfl = path("dfl")
        _ = try python(["from-export", path("plain"), dfl, "4"])
        let written = try dicts(dfl)
        XCTAssertEqual(written.count, 4)

        XCTAssertEqual(try facet(["init", "b.facet"]).status, 0)
        let r = try facet(["import-faces", "b.facet", "--role", "dst", dfl])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue((r.stdout + r.stderr).contains("4 with their own landmarks"), r.stdout + r.stderr)

        // Out again as DeepFaceLab files: DeepFaceLab's reader (pickle.loads) gets back every field.
        let out = path("back")
        let e = try facet(["export", "b.facet", "--role", "dst", "--format", "dfl", "--out", out])
        XCTAssertEqual(e.status, 0, e.stderr)
        let back = try dicts(out)
        XCTAssertEqual(back.count, 4)
        for (w, b) in zip(written, back) {
            for key in ["face_type", "landmarks", "source_filename", "source_rect", "source_landmarks"] {
                XCTAssertEqual("\(w[key] ?? "missing")", "\(b[key] ?? "missing")", key)
            }
            let wm = (w["image_to_face_mat"] as! [String: Any]), bm = (b["image_to_face_mat"] as! [String: Any])
            XCTAssertEqual(bm["dtype"] as? String, "<f8")
            XCTAssertEqual(bm["shape"] as? [Int], [2, 3])
            XCTAssertEqual(wm["values"] as? [Double], bm["values"] as? [Double])
            let wp = ((w["seg_ie_polys"] as! [String: Any])["polys"] as! [[String: Any]])[0]
            let bp = ((b["seg_ie_polys"] as! [String: Any])["polys"] as! [[String: Any]])[0]
            XCTAssertEqual(wp["type"] as? Int, bp["type"] as? Int)
            XCTAssertEqual(wp["pts"] as? NSDictionary, bp["pts"] as? NSDictionary)
            XCTAssertEqual(w["xseg_mask"] as? NSDictionary, b["xseg_mask"] as? NSDictionary)
            XCTAssertEqual((bp["pts"] as? [String: Any])?["dtype"] as? String, "<f4")
        }

        // A damaged block: that file is named, exit 1, the project file unchanged.
        let bad = path("bad")
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        _ = try python(["hostile", dfl + "/00001.jpg", bad])
        for name in ["set.jpg", "global.jpg", "shape.jpg", "truncated.jpg"] { if name != "global.jpg" { try FileManager.default.removeItem(atPath: bad + "/" + name) } }
        let before = snapshot(path("b.facet"))
        assertFailsCleanly(try facet(["import-faces", "b.facet", "--role", "src", bad]), mentioning: "global.jpg: APP15 block: pickle refers to 'posix.system'")
        XCTAssertEqual(before.0, snapshot(path("b.facet")).0)
    }
}
