/// The project file: creation, identity, migrations, and every kind of bad file refused untouched.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class ProjectFileTests: StoreTestCase {
    func testCreateSetsIdentityWALAndSchemaVersion() throws {
        let file = path("a.facet")
        let p = try Project.create(at: file)
        XCTAssertEqual(try p.schemaVersion(), ProjectSchema.currentVersion)
        try p.close()
        // Check with a plain SQLite connection what the file says about itself.
        let q = try DatabaseQueue(path: file)
        try q.read { db in
            XCTAssertEqual(try Int32.fetchOne(db, sql: "PRAGMA application_id"), ProjectSchema.applicationID)
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA journal_mode"), "wal")
            XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok")
            for table in ["media", "media_chunk", "frame", "face", "face_crop", "face_histogram", "face_tag", "extraction", "model",
                          "checkpoint", "checkpoint_tensor", "loss", "preview", "merge_config", "faces", "checkpoints", "media_summary"] {
                XCTAssertTrue(try db.tableExists(table) || db.viewExists(table), "missing \(table)")
            }
        }
    }

    func testInitRefusesExistingFileUnlessForced() throws {
        let file = path("a.facet")
        try Project.create(at: file).close()
        let before = snapshot(file)
        XCTAssertThrowsError(try Project.create(at: file)) { XCTAssertTrue("\($0)".contains("already exists")) }
        XCTAssertEqual(snapshot(file).bytes, before.bytes)
        let p = try Project.create(at: file, force: true)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery()), 0)
    }

    func testOlderProjectIsMigratedKeepingItsData() throws {
        let file = path("old.facet")
        let v1 = Array(ProjectSchema.migrations.prefix(1))
        let p1 = try Project.create(at: file, migrations: v1)
        let mediaId = try addMedia(p1)
        try p1.close()
        let m2 = Migration(version: v1.last!.version + 1, name: "test_later.sql", sql: "ALTER TABLE media ADD COLUMN note TEXT; CREATE TABLE later_thing(x);")
        let p2 = try Project(path: file, migrations: v1 + [m2])
        XCTAssertEqual(try p2.schemaVersion(), m2.version)
        XCTAssertEqual(try p2.media(id: mediaId).name, "clip.mp4")
        try p2.reader.read { db in XCTAssertTrue(try db.tableExists("later_thing")) }
    }

    func testNewerProjectIsRefusedUnchanged() throws {
        let file = path("new.facet")
        let future = ProjectSchema.migrations + [Migration(version: ProjectSchema.currentVersion + 1, name: "future.sql", sql: "CREATE TABLE future(x);")]
        try Project.create(at: file, migrations: future).close()
        let before = snapshot(file)
        for mode in [Project.Mode.readWrite, .readOnly] {
            XCTAssertThrowsError(try Project(path: file, mode: mode)) { XCTAssertTrue("\($0)".contains("newer Facet"), "\($0)") }
        }
        let after = snapshot(file)
        XCTAssertEqual(after.bytes, before.bytes)
        XCTAssertEqual(after.siblings, before.siblings)
    }

    func testBadFilesAreRefusedWithOneLineAndLeftAsTheyWere() throws {
        let notSQLite = path("notes.facet")
        try Data("hello, this is text".utf8).write(to: URL(fileURLWithPath: notSQLite))
        let empty = path("empty.facet")
        FileManager.default.createFile(atPath: empty, contents: Data())
        let otherDB = path("other.sqlite")
        try DatabaseQueue(path: otherDB).write { db in try db.execute(sql: "CREATE TABLE t(x); INSERT INTO t VALUES (1)") }
        let subdir = path("folder.facet")
        try FileManager.default.createDirectory(atPath: subdir, withIntermediateDirectories: false)
        let cases: [(String, String)] = [
            (path("missing.facet"), "no such file"), (subdir, "is a directory"), (notSQLite, "not an SQLite database"),
            (empty, "is empty"), (otherDB, "not a Facet project"),
        ]
        for (file, expected) in cases {
            let before = snapshot(file)
            for mode in [Project.Mode.readWrite, .readOnly] {
                XCTAssertThrowsError(try Project(path: file, mode: mode)) { error in
                    let text = "\(error)"
                    XCTAssertTrue(text.contains(expected), "\(file): \(text)")
                    XCTAssertTrue(text.hasPrefix(file), "the message names the file: \(text)")
                    XCTAssertFalse(text.contains("\n"), "one line: \(text)")
                }
            }
            let after = snapshot(file)
            XCTAssertEqual(after.bytes, before.bytes, file)
            XCTAssertEqual(after.siblings, before.siblings, "no journal or WAL left beside \(file)")
        }
    }

    func testReadOnlyOpenListsAndRefusesWritesLeavingNoWAL() throws {
        let file = path("ro.facet")
        let p = try projectWithFaces(5)
        try p.close()
        try FileManager.default.moveItem(atPath: path("faces.facet"), toPath: file)
        let before = snapshot(file)
        let ro = try Project(path: file, mode: .readOnly)
        XCTAssertEqual(try ro.countFaces(matching: FaceQuery()), 5)
        XCTAssertThrowsError(try ro.beginExtraction(ExtractionProvenance(role: .src, detector: "", detectorSHA256: "", landmarker: "", landmarkerSHA256: "", optionsJSON: "")))
        try ro.close()
        XCTAssertEqual(snapshot(file).bytes, before.bytes)
        XCTAssertEqual(snapshot(file).siblings, before.siblings)
    }

    func testGeneratedSchemaMatchesSchemaFolder() throws {
        let schemaDir = URL(fileURLWithPath: Self.fixtures).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Schema")
        let files = try FileManager.default.contentsOfDirectory(atPath: schemaDir.path).filter { $0.hasSuffix(".sql") }.sorted()
        XCTAssertEqual(files, ProjectSchema.migrations.map(\.name), "run Tools/gen-schema")
        for (file, m) in zip(files, ProjectSchema.migrations) {
            let text = try String(contentsOf: schemaDir.appendingPathComponent(file), encoding: .utf8)
            let norm: (String) -> [String] = { $0.split(separator: "\n", omittingEmptySubsequences: false).map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
            XCTAssertEqual(norm(text), norm(m.sql), "\(file) differs from Schema.generated.swift: run Tools/gen-schema")
            XCTAssertEqual(m.version, Int(file.prefix(4)))
        }
    }
}
