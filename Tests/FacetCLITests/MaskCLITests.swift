/// `facet mask` as a user runs it on real sample faces: labels in and out, masks as PNG files, undo, bad input.
import XCTest
import Foundation
import FacetCore
import FacetMedia
import FacetStore

final class MaskCLITests: TemplateProjectTestCase {
    override class var projectName: String { "m.facet" }
    override class var templateName: String { "mask" }

    /// 30 src and 20 dst sample faces (`SampleFaces`), crops of 64 pixels.
    override func makeTemplate(_ t: String) throws {
        XCTAssertEqual(try facet(["init", t]).status, 0)
        try addSampleFaces(t, role: .src, count: 30, size: 64, video: Self.fixtures + "/video/src-d18.mp4")
        try addSampleFaces(t, role: .dst, count: 20, size: 64, video: Self.fixtures + "/video/dst-d19.mp4")
    }

    let labels = """
        {"face": 3, "polygons": [{"kind": "include", "points": [[8, 6], [56, 6.5], [58, 60], [6, 58]]}, \
        {"kind": "exclude", "points": [[20, 30], [44, 30], [32, 50]]}]}
        {"face": 7, "polygons": [{"kind": "include", "points": [[0, 0], [64, 0], [64, 64], [0, 64]]}]}
        {"face": 40, "polygons": [{"kind": "include", "points": [[10.5, 10.25], [50, 12], [30, 50]]}]}

        """

    func shoelace(_ p: [(Double, Double)]) -> Double {
        abs(p.indices.reduce(0.0) { s, i in let q = p[(i + 1) % p.count]; return s + p[i].0 * q.1 - q.0 * p[i].1 }) / 2
    }

    func testImportExportLabelsMasksAndUndo() throws {
        let file = path("labels.jsonl")
        try Data(labels.utf8).write(to: URL(fileURLWithPath: file))
        var r = try facet(["mask", project, "--import", file])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("read labels of 3 faces from \(file): 3 changed (3, 7, 40)"), r.stdout)
        XCTAssertEqual(try ids(["faces", project, "--status", "all", "--where", "id IN (3, 7, 40)"]), [3, 7, 40])

        // The labels come back as they went in (one line a face, by id), and by role.
        r = try facet(["mask", project, "--export-labels", "-"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, labels.replacingOccurrences(of: "\n\n", with: "\n"))
        r = try facet(["mask", project, "--export-labels", path("dst.jsonl"), "--role", "dst"])
        XCTAssertEqual(r.stdout, "wrote the labels of 1 face to \(path("dst.jsonl"))\n")
        XCTAssertEqual(try String(contentsOfFile: path("dst.jsonl"), encoding: .utf8),
                       String(labels.split(separator: "\n")[2]) + "\n")

        // Masks: one PNG a labelled face, 8-bit grey at crop size; coverage is the polygons' area.
        let out = path("masks")
        r = try facet(["mask", project, "--export", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote 3 masks to \(out) (3 from labels, 0 predicted)"), r.stdout)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).sorted(),
                       ["f3.png", "f40.png", "f7.png"])
        let m3 = try PNGCodec.decode(try Data(contentsOf: URL(fileURLWithPath: out + "/f3.png")))
        XCTAssertEqual([m3.width, m3.height, m3.channels], [64, 64, 1])
        XCTAssertEqual(m3.pixels[12 * 64 + 12], 255, "inside the include polygon")
        XCTAssertEqual(m3.pixels[45 * 64 + 32], 0, "inside the exclude polygon")
        XCTAssertEqual(m3.pixels[2 * 64 + 2], 0, "outside both")
        let area = Double(m3.pixels.reduce(0) { $0 + Int($1) }) / 255
        let expected = shoelace([(8, 6), (56, 6.5), (58, 60), (6, 58)]) - shoelace([(20, 30), (44, 30), (32, 50)])
        XCTAssertEqual(area, expected, accuracy: expected * 0.01, "the include polygon less the exclude triangle")
        let m7 = try PNGCodec.decode(try Data(contentsOf: URL(fileURLWithPath: out + "/f7.png")))
        XCTAssertEqual(Set(m7.pixels), [255], "the whole crop")
        // Only dst faces, into a non-empty folder: refused without --force, done with it.
        assertFailsCleanly(try facet(["mask", project, "--export", out, "--role", "dst"]), mentioning: "is not empty")
        r = try facet(["mask", project, "--export", out, "--role", "dst", "--force"])
        XCTAssertTrue(r.stdout.hasPrefix("wrote 1 masks"), r.stdout)

        // Undo takes the whole import back; the labels list empties.
        r = try facet(["undo", project])
        XCTAssertTrue(r.stdout.contains("3 faces back as they were: 3, 7, 40"), r.stdout)
        XCTAssertEqual(try facet(["mask", project, "--export-labels", "-"]).stdout, "")
        // An empty polygon list clears a face's labels: redo, then clear face 7.
        _ = try facet(["redo", project])
        try Data("{\"face\": 7, \"polygons\": []}\n".utf8).write(to: URL(fileURLWithPath: path("clear.jsonl")))
        r = try facet(["mask", project, "--import", path("clear.jsonl")])
        XCTAssertTrue(r.stdout.contains("1 changed (7)"), r.stdout)
        XCTAssertEqual(try facet(["mask", project, "--export-labels", "-"]).stdout.split(separator: "\n").count, 2)
    }

    /// Each bad label file: one line naming the file and the line, exit 1, the project file unchanged.
    func testBadLabelFilesChangeNothing() throws {
        let good = "{\"face\": 2, \"polygons\": [{\"kind\": \"include\", \"points\": [[1, 1], [9, 1], [5, 8]]}]}\n"
        let cases: [(String, String)] = [
            ("not json", "bad.jsonl:2: is not JSON"),
            ("{\"face\": 5, \"polygons\": [{\"kind\": \"include\", \"points\": [[1, 1], [9, 1]]}]}",
             "bad.jsonl:2: polygon 1 has 2 points; a polygon needs at least 3"),
            ("{\"face\": 5, \"polygons\": [{\"kind\": \"exclude\", \"points\": [[1, 1], [65, 1], [5, 8]]}]}",
             "bad.jsonl:2: face 5, polygon 1 point [65, 1] lies outside the 64x64 crop"),
            ("{\"face\": 5, \"polygons\": [{\"kind\": \"exclude\", \"points\": [[1, -1], [6, 1], [5, 8]]}]}",
             "bad.jsonl:2: face 5, polygon 1 point [1, -1] lies outside"),
            ("{\"face\": 424242, \"polygons\": []}", "bad.jsonl:2: face 424242 is not in "),
            ("{\"face\": 5, \"polygons\": [{\"kind\": \"cut\", \"points\": [[1, 1], [6, 1], [5, 8]]}]}",
             "bad.jsonl:2: polygon 1: kind \"cut\""),
        ]
        for (bad, expected) in cases {
            try Data((good + bad + "\n").utf8).write(to: URL(fileURLWithPath: path("bad.jsonl")))
            assertFailsCleanly(try facet(["mask", project, "--import", path("bad.jsonl")]), mentioning: expected)
        }
        assertFailsCleanly(try facet(["mask", project, "--import", path("none.jsonl")]), mentioning: "no such file")
        try Data().write(to: URL(fileURLWithPath: path("empty.jsonl")))
        assertFailsCleanly(try facet(["mask", project, "--import", path("empty.jsonl")]), mentioning: "holds no label")
        // Nothing was recorded or stored (every writable open rewrites the file's header, so bytes cannot tell).
        XCTAssertEqual(try facet(["undo", project]).stdout, "nothing to undo\n")
        let p = try Project(path: project, mode: .readOnly)
        XCTAssertEqual(try p.labelledFaceIDs(), [])
        XCTAssertEqual(try p.maskLabelRevision(), 0, "no face's labels were ever touched")
        XCTAssertEqual(try facet(["mask", project]).status, 2, "one of --import, --export-labels, --export")
        XCTAssertEqual(try facet(["mask", project, "--import", "a", "--export", "b"]).status, 2)
    }
}
