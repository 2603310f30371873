/// The curation commands as a user runs them: sort, similar, duplicates, reject/restore/tag/undo, export, bad input.
import XCTest
import Foundation
import FacetStore

final class CurationCLITests: TemplateProjectTestCase {
    override class var projectName: String { "c.facet" }
    override class var templateName: String { "curation" }

    /// A project of 60 sample faces (`SampleFaces`).
    override func makeTemplate(_ t: String) throws {
        XCTAssertEqual(try facet(["init", t]).status, 0)
        try addSampleFaces(t, role: .src, count: 60, size: 64, video: Self.fixtures + "/video/src-d18.mp4")
    }

    func testSortSaveAndTag() throws {
        let chain = try ids(["sort", project, "--sort", "hist", "--role", "src"])
        XCTAssertEqual(chain.count, 60)
        XCTAssertEqual(chain.first, 1)
        XCTAssertEqual(Set(chain).count, 60)
        let blur = try ids(["sort", project, "--sort", "-blur", "--role", "src", "--limit", "5"])
        XCTAssertEqual(blur, Array(try ids(["faces", project, "--role", "src", "--sort", "-blur"]).prefix(5)))
        let best = try ids(["sort", project, "--sort", "best:10", "--role", "src", "--save", "final", "--tag-as", "final"])
        XCTAssertEqual(best.count, 10)
        XCTAssertEqual(Set(try ids(["faces", project, "--tag", "final"])), Set(best))
        XCTAssertTrue(try facet(["orderings", project]).stdout.contains("final"))
        XCTAssertEqual(try ids(["sort", project, "--sort", "ordering:final"]), best)
        let unknown = try facet(["sort", project, "--sort", "sideways"])
        XCTAssertEqual(unknown.status, 2)
    }

    func testRejectRestoreTagUndoRoundTrip() throws {
        var r = try facet(["reject", project, "3", "4", "5", "9"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("rejected 4 faces: 3-5, 9"), r.stdout)
        XCTAssertEqual(try ids(["faces", project, "--status", "rejected"]), [3, 4, 5, 9])
        r = try facet(["restore", project, "--where", "id IN (4, 5)"])
        XCTAssertTrue(r.stdout.hasPrefix("restored 2 faces: 4-5"), r.stdout)
        r = try facet(["tag", project, "side", "--where", "yaw > 0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let side = try ids(["faces", project, "--status", "all", "--where", "yaw > 0"])
        XCTAssertEqual(try ids(["faces", project, "--status", "all", "--tag", "side"]), side)
        r = try facet(["undo", project])
        XCTAssertTrue(r.stdout.contains("undid change 3"), r.stdout)
        XCTAssertEqual(try ids(["faces", project, "--status", "all", "--tag", "side"]), [])
        _ = try facet(["undo", project])
        XCTAssertEqual(try ids(["faces", project, "--status", "rejected"]), [3, 4, 5, 9])
        _ = try facet(["undo", project])
        XCTAssertEqual(try ids(["faces", project, "--status", "rejected"]), [])
        XCTAssertEqual(try facet(["undo", project]).stdout, "nothing to undo\n")
        // The worst 5 by sharpness: the last five of -blur, the blurriest kept faces.
        r = try facet(["reject", project, "--role", "src", "--sort", "-blur", "--worst", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(Set(try ids(["faces", project, "--status", "rejected"])), Set(try ids(["faces", project, "--status", "all", "--sort", "blur", "--limit", "5"])))
        // More than half of the faces by a value: refused, then done with --yes (the old option name still works).
        assertFailsCleanly(try facet(["reject", project, "--blur-below", "1e9"]), mentioning: "--yes")
        r = try facet(["reject", project, "--blur-below", "1e9", "--yes"])
        XCTAssertTrue(r.stdout.hasPrefix("rejected 55 faces"), r.stdout)
    }

    func testSimilarAndDuplicates() throws {
        let r = try facet(["similar", project, "10", "--k", "4", "--by", "histogram", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let near = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(near.count, 4)
        let d = near.map { ($0["distance"] as! NSNumber).doubleValue }
        XCTAssertEqual(d, d.sorted())
        XCTAssertFalse(near.contains { ($0["id"] as! NSNumber).int64Value == 10 })
        let dup = try facet(["duplicates", project, "--threshold", "1.0", "--reject"])
        XCTAssertEqual(dup.status, 0, dup.stderr)
        let n = Int(dup.stdout.split(separator: "\n").last!.split(separator: " ")[2])!
        XCTAssertGreaterThan(n, 0)
        XCTAssertEqual(try ids(["faces", project, "--status", "rejected"]).count, n)
    }

    func testExportWritesOrderedFilesAndManifest() throws {
        _ = try facet(["reject", project, "1", "2"])
        let out = path("set")
        let r = try facet(["export", project, "--role", "src", "--out", out, "--sort", "-blur", "--size", "48", "--format", "png"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        XCTAssertEqual(files.count, 59)
        XCTAssertEqual(files.last, "manifest.jsonl")
        let order = try ids(["faces", project, "--role", "src", "--sort", "-blur"])
        XCTAssertEqual(files.dropLast().map { Int64($0.split(separator: "_f")[1].split(separator: ".")[0])! }, order)
        XCTAssertEqual(files.first, "000001_f\(order[0]).png")
        let lines = try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 58)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual((first["face_id"] as! NSNumber).int64Value, order[0])
        XCTAssertEqual(first["media"] as? String, "src-d18.mp4")
        XCTAssertEqual((first["landmarks"] as! [[Double]]).count, 68)
        XCTAssertEqual((first["size"] as! NSNumber).intValue, 48)
        XCTAssertNotNil((first["signatures"] as! [String: Any])["blur"])
        let png = FileManager.default.contents(atPath: out + "/" + files[0])!
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47])
        // A non-empty folder is refused without --force, and left as it was.
        let again = try facet(["export", project, "--role", "src", "--out", out])
        assertFailsCleanly(again, mentioning: "is not empty")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).count, 59)
        // --force replaces the earlier export.
        let forced = try facet(["export", project, "--role", "src", "--out", out, "--force", "--where", "id <= 10"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).count, 9)
    }

    func testBadInputIsOneClearLineAndChangesNothing() throws {
        assertFailsCleanly(try facet(["reject", project, "5", "424242"]), mentioning: "has no face 424242; nothing changed")
        assertFailsCleanly(try facet(["tag", project, "x", "--where", "blur <"]), mentioning: "--where \"blur <\"")
        assertFailsCleanly(try facet(["reject", project, "--where", "1); DELETE FROM face; --"]), mentioning: "--where")
        assertFailsCleanly(try facet(["similar", project, "31337"]), mentioning: "has no face 31337")
        assertFailsCleanly(try facet(["sort", project, "--sort", "ordering:none"]), mentioning: "no ordering named 'none'")
        FileManager.default.createFile(atPath: path("plain.txt"), contents: Data("x".utf8))
        assertFailsCleanly(try facet(["export", project, "--role", "src", "--out", path("plain.txt") + "/set"]), mentioning: "cannot be created")
        assertFailsCleanly(try facet(["export", project, "--role", "src", "--out", path("plain.txt")]), mentioning: "is a file, not a folder")
        XCTAssertEqual(try facet(["reject", project]).status, 2)
        XCTAssertEqual(try facet(["reject", project, "3", "--where", "id > 1"]).status, 2)
        XCTAssertEqual(try facet(["reject", project, "--worst", "3"]).status, 2)
        XCTAssertEqual(try ids(["faces", project, "--status", "rejected"]), [])
        XCTAssertEqual(try facet(["undo", project]).stdout, "nothing to undo\n", "no change was recorded")
    }
}

/// End to end on faces that `facet extract` found (MTCNN, landmarks, alignment, signatures).
final class CurationExtractedCLITests: CLITestCase {
    func testSortRejectExportUndoOnExtractedFaces() throws {
        let p = path("x.facet")
        XCTAssertEqual(try facet(["init", p]).status, 0)
        XCTAssertEqual(try facet(["import", p, "--role", "src", Self.fixtures + "/video/src-d18.mp4"]).status, 0)
        let x = try facet(["extract", p, "--role", "src", "--fps", "0.5", "--size", "64"])
        XCTAssertEqual(x.status, 0, x.stderr)
        let all = try JSONSerialization.jsonObject(with: Data(try facet(["faces", p, "--json"]).stdout.utf8)) as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(all.count, 3, "one face per sampled frame of the sample video")
        let ids = all.map { ($0["id"] as! NSNumber).int64Value }
        let chain = try JSONSerialization.jsonObject(with: Data(try facet(["sort", p, "--sort", "hist", "--json"]).stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(Set(chain.map { ($0["id"] as! NSNumber).int64Value }), Set(ids))
        XCTAssertEqual((chain[0]["id"] as! NSNumber).int64Value, ids[0])
        let near = try facet(["similar", p, "\(ids[0])", "--k", "2", "--by", "histogram", "--json"])
        XCTAssertEqual(near.status, 0, near.stderr)
        let r = try facet(["reject", p, "--sort", "-blur", "--worst", "1"])
        XCTAssertTrue(r.stdout.hasPrefix("rejected 1 face:"), r.stdout)
        let out = path("set")
        XCTAssertEqual(try facet(["export", p, "--role", "src", "--out", out, "--sort", "hist"]).status, 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        XCTAssertEqual(files.count, all.count - 1 + 1, "kept faces plus the manifest")
        let manifest = try String(contentsOfFile: out + "/manifest.jsonl", encoding: .utf8).split(separator: "\n")
        let first = try JSONSerialization.jsonObject(with: Data(manifest[0].utf8)) as! [String: Any]
        // Landmarks in face coordinates lie inside the 64-pixel crop for a real aligned face.
        let lm = first["landmarks"] as! [[Double]]
        XCTAssertTrue(lm.allSatisfy { $0[0] > -8 && $0[0] < 72 && $0[1] > -8 && $0[1] < 72 }, "\(lm.prefix(3))")
        XCTAssertTrue(try facet(["undo", p]).stdout.hasPrefix("undid change"))
        XCTAssertEqual(try facet(["faces", p, "--count"]).stdout, "\(all.count)\n")
    }
}
