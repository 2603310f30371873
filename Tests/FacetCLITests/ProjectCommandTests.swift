/// `facet init`, `info`, `faces` and `--help`, run as a user runs them, including every bad file.
import XCTest
import Foundation
import FacetStore

final class ProjectCommandTests: CLITestCase {
    func testHelpListsEveryCommandWithOneLine() throws {
        let r = try facet(["--help"])
        XCTAssertEqual(r.status, 0)
        for cmd in ["init", "info", "faces"] {
            XCTAssertTrue(r.stdout.contains("  \(cmd) "), "\(cmd) missing from --help:\n\(r.stdout)")
        }
    }

    func testInitInfoFacesOnAFreshProject() throws {
        XCTAssertEqual(try facet(["init", "w.facet"]).status, 0)
        let info = try facet(["info", "w.facet", "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["schema_version"] as? Int, ProjectSchema.currentVersion)
        XCTAssertGreaterThanOrEqual(ProjectSchema.currentVersion, 2)
        XCTAssertEqual((obj["media"] as? [Any])?.count, 0)
        let faces = try facet(["faces", "w.facet", "--json", "--sort", "-blur", "--where", "blur > 1"])
        XCTAssertEqual(faces.status, 0, faces.stderr)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(faces.stdout.utf8)) as? [Any])?.count, 0)
        let again = try facet(["init", "w.facet"])
        assertFailsCleanly(again, mentioning: "already exists")
        XCTAssertEqual(try facet(["init", "w.facet", "--force"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("w.facet-wal")), "no WAL left after a clean exit")
    }

    func testBadProjectFilesFailWithOneLineAndStayUnchanged() throws {
        try Data("not a project".utf8).write(to: URL(fileURLWithPath: path("text.facet")))
        try FileManager.default.createDirectory(atPath: path("adir"), withIntermediateDirectories: false)
        // An SQLite file that is not Facet's, made by the sqlite3 shell if present, else by facet's own format check.
        let other = path("other.db")
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [other, "CREATE TABLE t(x); INSERT INTO t VALUES (1);"]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") { try sqlite.run(); sqlite.waitUntilExit() }
        var cases: [(String, String)] = [("missing.facet", "no such file"), ("adir", "is a directory"), ("text.facet", "not an SQLite database")]
        if FileManager.default.fileExists(atPath: other) { cases.append(("other.db", "not a Facet project")) }
        for (name, text) in cases {
            for cmd in [["info", name], ["faces", name], ["info", name, "--json"]] {
                let before = snapshot(path(name))
                assertFailsCleanly(try facet(cmd), mentioning: text)
                let after = snapshot(path(name))
                XCTAssertEqual(after.0, before.0, "\(name) changed")
                XCTAssertEqual(after.1, before.1, "files appeared beside \(name)")
            }
        }
    }

    func testUsageErrorsExitWith2() throws {
        XCTAssertEqual(try facet(["init", "w.facet"]).status, 0)
        XCTAssertEqual(try facet(["faces", "w.facet", "--sort", "nonsense"]).status, 2)
        XCTAssertEqual(try facet(["faces", "w.facet", "--status", "maybe"]).status, 2)
        XCTAssertEqual(try facet(["no-such-command"]).status, 2)
    }

    func testWriteThroughWhereIsRefused() throws {
        XCTAssertEqual(try facet(["init", "w.facet"]).status, 0)
        let before = snapshot(path("w.facet"))
        assertFailsCleanly(try facet(["faces", "w.facet", "--where", "1); DROP TABLE face; --"]), mentioning: "--where")
        XCTAssertEqual(snapshot(path("w.facet")).0, before.0)
    }
}
