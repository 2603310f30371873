/// `facet import-faces` as a user runs it: aligned crops written by `facet detect --out` from frames of
/// the sample video come in as faces; a second import and a bad folder fail with one line, nothing changed.
import XCTest
import Foundation

final class ImportFacesCLITests: CLITestCase {
    func testAlignedFolderFromDetectImportsAndBadInputChangesNothing() throws {
        // Three frames of the src sample as PNG, then their aligned faces as `facet detect` writes them.
        let frames = path("frames"), aligned = path("aligned")
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        let ff = Process()
        ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ff.arguments = ["-v", "error", "-i", Self.fixtures + "/video/src-d18.mp4", "-vf", "select=not(mod(n\\,40))", "-vsync", "vfr", "-frames:v", "3", frames + "/f%02d.png"]
        try ff.run(); ff.waitUntilExit()
        XCTAssertEqual(ff.terminationStatus, 0)
        let pngs = try FileManager.default.contentsOfDirectory(atPath: frames).sorted().map { frames + "/" + $0 }
        XCTAssertEqual(pngs.count, 3)
        let detect = try facet(["detect"] + pngs + ["--face-type", "full", "--size", "192", "--out", aligned])
        XCTAssertEqual(detect.status, 0, detect.stderr)
        let crops = try FileManager.default.contentsOfDirectory(atPath: aligned).filter { !$0.hasPrefix(".") }
        XCTAssertGreaterThanOrEqual(crops.count, 3)

        XCTAssertEqual(try facet(["init", "p.facet"]).status, 0)
        let r = try facet(["import-faces", "p.facet", "--role", "src", aligned])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(crops.count) faces from aligned") || r.stdout.contains("\(crops.count) faces from aligned"), r.stdout + r.stderr)
        let count = try facet(["faces", "p.facet", "--role", "src", "--count"])
        XCTAssertEqual(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(crops.count)")
        let sorted = try facet(["sort", "p.facet", "--sort", "hist", "--role", "src", "--json"])
        XCTAssertEqual(sorted.status, 0, sorted.stderr)

        // The same folder again, a folder with a non-image, and a missing folder: exit 1, one line, file unchanged.
        let bad = path("bad")
        try FileManager.default.copyItem(atPath: aligned, toPath: bad)
        try Data("text".utf8).write(to: URL(fileURLWithPath: bad + "/zz.png"))
        for (args, text) in [([aligned], "already imported"), ([bad], "zz.png: is not a PNG or JPEG image"), ([path("nowhere")], "no such folder")] {
            let before = snapshot(path("p.facet"))
            assertFailsCleanly(try facet(["import-faces", "p.facet", "--role", "src"] + args), mentioning: text)
            let after = snapshot(path("p.facet"))
            XCTAssertEqual(before.0, after.0, "\(text): file changed")
            XCTAssertEqual(before.1, after.1)
        }
        XCTAssertEqual(try facet(["faces", "p.facet", "--count"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines), "\(crops.count)")
    }
}
