/// A project file made by an earlier Facet opens with this build, is upgraded, and its data keeps working.
import XCTest
import Foundation

final class OlderProjectTests: CLITestCase {
    /// Copies `Fixtures/projects/NAME` into the test folder (the fixture itself is never written).
    func olderProject(_ name: String) throws -> String {
        let copy = path(name)
        try FileManager.default.copyItem(atPath: Self.fixtures + "/projects/" + name, toPath: copy)
        return copy
    }

    func testSchema2ProjectIsUpgradedAndItsFacesCurationAndMediaStillWork() throws {
        let project = try olderProject("schema2.facet")
        let info = try facet(["info", project, "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        // A read-only command leaves the old file as it was: schema 2 until something writes.
        XCTAssertEqual(json["schema_version"] as? Int, 2, "\(json)")

        // Faces, their status and tags as they were stored.
        let kept = try facet(["faces", project, "--role", "src", "--count"])
        XCTAssertEqual(kept.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "11", kept.stderr)
        let rejected = try facet(["faces", project, "--status", "rejected", "--json"])
        XCTAssertEqual(rejected.status, 0, rejected.stderr)
        let rejectedIDs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(rejected.stdout.utf8)) as? [[String: Any]])
            .compactMap { $0["id"] as? Int }
        XCTAssertEqual(rejectedIDs, [2])
        let tagged = try facet(["faces", project, "--tag", "side", "--count"])
        XCTAssertEqual(tagged.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "2", tagged.stderr)
        XCTAssertTrue(try facet(["orderings", project]).stdout.contains("byhist"))

        // The old curation history still undoes (change 2: the tag), and the old media still extract (nothing new).
        XCTAssertEqual(try facet(["undo", project]).status, 0)
        XCTAssertEqual(try facet(["faces", project, "--tag", "side", "--count"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines), "0")
        // That write upgraded the file to this build's schema.
        let upgraded = try facet(["info", project, "--json"])
        let after = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(upgraded.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(after["schema_version"] as? Int, Self.currentSchemaVersion(), "\(after)")
        let extract = try facet(["extract", project, "--role", "dst"])
        XCTAssertEqual(extract.status, 0, extract.stderr)
        XCTAssertEqual(try facet(["faces", project, "--role", "dst", "--count"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines), "12")
        // The embedded video still decodes: a sort that reads signatures and an export that reads the crops.
        let out = path("export")
        let export = try facet(["export", project, "--role", "src", "--out", out])
        XCTAssertEqual(export.status, 0, export.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".jpg") }
        XCTAssertEqual(files.count, 11)
    }

    /// The schema version of a project this build creates.
    static func currentSchemaVersion() -> Int {
        let dir = NSTemporaryDirectory() + "facet-schema-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: facetBinary)
        p.arguments = ["init", dir + "/new.facet"]
        let pipe = Pipe()
        p.standardOutput = pipe
        try? p.run()
        p.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        // "created PATH (schema version N)"
        return Int(text.split(separator: " ").last?.filter(\.isNumber) ?? "") ?? -1
    }
}
