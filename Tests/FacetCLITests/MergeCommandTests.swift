/// `facet merge` from the command line: usage errors exit 2, bad input exits 1 with one line and writes nothing.
import XCTest

final class MergeCommandTests: CLITestCase {
    func testUsageErrorsExit2() throws {
        try facet(["init", path("w.facet")])
        for args in [["--frames", "9..3"], ["--frames", "x"], ["--preview", "3"], ["--mode", "sideways"], ["--color", "sepia"]] {
            let r = try facet(["merge", path("w.facet"), "--checkpoint", "latest", "--out", path("o.mp4")] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
        }
        let r = try facet(["merge", path("w.facet"), "--checkpoint", "latest", "--out", path("o.png")])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("--out must be a video file"), r.stderr)
    }

    func testProjectWithoutDestinationOrModelIsRefusedWithNothingWritten() throws {
        try facet(["init", path("w.facet")])
        assertFailsCleanly(try facet(["merge", path("w.facet"), "--checkpoint", "latest", "--out", path("o.mp4")]), mentioning: "has no dst video")
        let dst = Self.fixtures + "/video/dst-d19.mp4"
        XCTAssertEqual(try facet(["import", path("w.facet"), "--role", "dst", dst]).status, 0)
        let r = try facet(["merge", path("w.facet"), "--checkpoint", "latest", "--out", path("o.mp4")])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.mp4")))
        assertFailsCleanly(try facet(["merge", path("w.facet"), "--checkpoint", "latest", "--from-config", "nope", "--out", path("o.mp4")]), mentioning: "has no merge configuration 'nope'")
    }
}
