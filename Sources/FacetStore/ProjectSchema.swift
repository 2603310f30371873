/// The file format's identity: application id, schema versions, and the checks made before opening.
import Foundation
import FacetCore

/// One numbered SQL migration from `Schema/`.
public struct Migration: Sendable {
    /// The schema version it brings the file to.
    public let version: Int
    /// Its file name in `Schema/` (for messages).
    public let name: String
    /// The SQL it runs.
    public let sql: String
    /// A migration with each field given.
    public init(version: Int, name: String, sql: String) {
        self.version = version; self.name = name; self.sql = sql
    }
}

/// The file format's identity and the checks made before a file is opened or migrated.
public enum ProjectSchema {
    /// `PRAGMA application_id` of every Facet project: the bytes "FACE".
    public static let applicationID: Int32 = 0x4641_4345

    /// The migrations this build knows, in order.
    public static var migrations: [Migration] { bundledMigrations }

    /// The schema version a project reaches after all migrations of this build.
    public static var currentVersion: Int { migrations.last?.version ?? 0 }
}

/// What the first 100 bytes of a file say, read without SQLite so a file that is not ours is never
/// touched (no journal, no WAL, not a byte written).
struct ProjectFileHeader {
    let applicationID: Int32
    let userVersion: Int32
    let isWAL: Bool

    /// Reads and checks the header of `path`; throws a one-line `FacetError` naming the file.
    static func check(path: String, knownVersion: Int) throws -> ProjectFileHeader {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw FacetError.file(path, "no such file (create a project with `facet init \(path)`)")
        }
        if isDir.boolValue { throw FacetError.file(path, "is a directory, not a Facet project file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FacetError.file(path, "cannot be read (check its permissions)")
        }
        defer { try? handle.close() }
        let bytes: Data
        do { bytes = try handle.read(upToCount: 100) ?? Data() } catch {
            throw FacetError.file(path, "cannot be read: \(error.localizedDescription)")
        }
        let magic = Array("SQLite format 3\u{0}".utf8)
        guard bytes.count == 100, Array(bytes.prefix(16)) == magic else {
            throw FacetError.file(path,
                                  bytes.isEmpty ? "is empty, not a Facet project file" : "is not a Facet project file "
                                                                                         + "(not an SQLite database)")
        }
        func int32(at o: Int) -> Int32 {
            Int32(bitPattern: UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8
                  | UInt32(bytes[o + 3]))
        }
        let header = ProjectFileHeader(applicationID: int32(at: 68), userVersion: int32(at: 60), isWAL: bytes[18] == 2)
        guard header.applicationID == ProjectSchema.applicationID else {
            throw FacetError.file(path,
                                  "is an SQLite database but not a Facet project "
                                  + "(application_id \(header.applicationID))")
        }
        guard header.userVersion <= knownVersion else {
            throw FacetError.file(path,
                                  "was written by a newer Facet (schema version \(header.userVersion); "
                                  + "this build knows up to \(knownVersion)): update Facet to open it")
        }
        return header
    }
}
