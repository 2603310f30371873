/// The project file: create, open (checked, migrated), and the one place that owns its database.
import Foundation
import GRDB
import FacetCore

/// Which side of the swap a media or face is on: `src` (the face to put in) or `dst` (the video to change).
public enum Role: String, Codable, Sendable, CaseIterable {
    case src, dst
}

/// Whether a face is in the training set (`kept`) or curated out of it (`rejected`).
public enum FaceStatus: String, Codable, Sendable, CaseIterable {
    case kept, rejected
}

/// An open Facet project. Every public method is one transaction, named for what it does.
/// Thread-safe: GRDB serialises writes and runs reads concurrently (WAL).
public final class Project: @unchecked Sendable {
    /// The project file's path, as given when it was opened.
    public let path: String
    /// Whether it was opened read-only (every write then throws).
    public let isReadOnly: Bool
    let reader: any DatabaseReader
    let writerIfAny: (any DatabaseWriter)?

    /// The writer, or a clear error when the project was opened read-only.
    var writer: any DatabaseWriter {
        get throws {
            guard let w = writerIfAny else {
                throw FacetError.file(path, "is open read-only (check the file's permissions)")
            }
            return w
        }
    }

    /// How a project is opened: read-write, or read-only (every write then throws).
    public enum Mode: Sendable { case readWrite, readOnly }

    /// Creates a new, empty project. Refuses an existing file unless `force`.
    /// The file appears complete or not at all: it is built beside `path` and renamed into place.
    @discardableResult
    public static func create(at path: String, force: Bool = false,
                              migrations: [Migration] = ProjectSchema.migrations) throws -> Project {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: path, isDirectory: &isDir) {
            if isDir.boolValue { throw FacetError.file(path, "is a directory") }
            guard force else {
                throw FacetError.file(path, "already exists (use --force to replace it)", kind: .conflict)
            }
        }
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir.isEmpty ? "." : dir) + "/.\((path as NSString).lastPathComponent).creating-\(getpid())"
        for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: tmp + suffix) }
        do {
            var config = Configuration()
            config.busyMode = .timeout(10)
            let queue = try DatabaseQueue(path: tmp, configuration: config)
            try queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try Project.migrate(db, from: 0, migrations: migrations)
                try db.execute(sql: "INSERT INTO project_info(key, value) VALUES ('created_at', "
                                    + "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ('created_by', 'facet')")
            }
            try queue.close()
        } catch let e as FacetError {
            for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: tmp + suffix) }
            throw e
        } catch {
            for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: tmp + suffix) }
            throw FacetError.file(path, "cannot be created: \(Project.describe(error))", kind: Project.kind(of: error))
        }
        for suffix in ["-wal", "-shm"] { try? fm.removeItem(atPath: path + suffix) }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? fm.removeItem(atPath: tmp)
            throw FacetError.file(path, "cannot be created: \(reason)")
        }
        return try Project(path: path, mode: .readWrite, migrations: migrations)
    }

    /// Opens an existing project. The header is checked before SQLite sees the file, so a file that
    /// is not a Facet project, or is from a newer Facet, is refused without a byte written.
    /// `.readWrite` migrates an older project; a file without write permission opens read-only.
    /// `hooks` inject faults for tests (none unless the running code bound some, see `ProjectTestHooks.current`).
    public init(path: String, mode: Mode = .readWrite, migrations: [Migration] = ProjectSchema.migrations,
                hooks: ProjectTestHooks = ProjectTestHooks.current) throws {
        let known = migrations.last?.version ?? 0
        let header = try ProjectFileHeader.check(path: path, knownVersion: known)
        self.path = path
        let writable = FileManager.default.isWritableFile(atPath: path)
            && FileManager.default.isWritableFile(atPath: (path as NSString).deletingLastPathComponent.isEmpty
                                                  ? "." : (path as NSString).deletingLastPathComponent)
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.foreignKeysEnabled = true
        do {
            if mode == .readWrite && writable {
                let pageLimit = hooks.maxPageCount
                config.prepareDatabase { db in
                    try db.execute(sql: "PRAGMA synchronous = NORMAL")
                    if let pageLimit { _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pageLimit)") }
                }
                let pool = try DatabasePool(path: path, configuration: config)
                if header.userVersion < known {
                    try pool.writeWithoutTransaction {
                        db in try Project.migrate(db, from: Int(header.userVersion), migrations: migrations)
                    }
                }
                self.reader = pool
                self.writerIfAny = pool
                self.isReadOnly = false
            } else if writable {
                // Listing a writable project: a read-only pool still needs the WAL index, and a
                // read-write connection is what removes -wal/-shm again on close.
                config.prepareDatabase { db in try db.execute(sql: "PRAGMA query_only = 1") }
                let queue = try DatabaseQueue(path: path, configuration: config)
                self.reader = queue
                self.writerIfAny = nil
                self.isReadOnly = true
            } else {
                config.readonly = true
                let queue = try DatabaseQueue(path: path, configuration: config)
                self.reader = queue
                self.writerIfAny = nil
                self.isReadOnly = true
            }
        } catch let e as FacetError {
            throw e
        } catch {
            throw FacetError.file(path, "cannot be opened: \(Project.describe(error))", kind: Project.kind(of: error))
        }
    }

    /// Closes the database now (otherwise on deinit). Later calls fail.
    public func close() throws {
        if let pool = reader as? DatabasePool { try pool.close() }
        if let queue = reader as? DatabaseQueue { try queue.close() }
    }

    /// Applies every migration above `version`, each in its own transaction with its version stamp.
    static func migrate(_ db: Database, from version: Int, migrations: [Migration]) throws {
        for m in migrations where m.version > version {
            try db.inTransaction {
                if m.version == 1 { try db.execute(sql: "PRAGMA application_id = \(ProjectSchema.applicationID)") }
                try db.execute(sql: m.sql)
                try db.execute(sql: "PRAGMA user_version = \(m.version)")
                return .commit
            }
        }
    }

    /// The schema version stored in the file.
    public func schemaVersion() throws -> Int {
        try reader.read { db in try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0 }
    }

    /// One line for an SQLite or GRDB error, saying the full disk plainly.
    static func describe(_ error: Error) -> String {
        if let e = error as? DatabaseError {
            switch e.resultCode {
            case .SQLITE_FULL: return "the disk is full"
            case .SQLITE_READONLY: return "the file is read-only"
            case .SQLITE_BUSY,
                 .SQLITE_LOCKED: return "the project is busy (another facet command is writing to it); "
                                        + "try again when it has finished"
            case .SQLITE_CORRUPT, .SQLITE_NOTADB: return "the file is damaged (\(e.message ?? "corrupt"))"
            case .SQLITE_CANTOPEN: return "cannot open the file"
            default: return e.message ?? "\(e.resultCode)"
            }
        }
        if let e = error as? FacetError { return e.message }
        return "\(error)"
    }

    /// The kind of a database (or other) error, for `FacetError.kind`.
    static func kind(of error: Error) -> FacetError.Kind {
        if let e = error as? FacetError { return e.kind }
        guard let e = error as? DatabaseError else { return .failed }
        switch e.resultCode {
        case .SQLITE_FULL: return .diskFull
        case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM: return .readOnly
        case .SQLITE_BUSY, .SQLITE_LOCKED: return .busy
        case .SQLITE_CORRUPT, .SQLITE_NOTADB: return .corrupt
        case .SQLITE_CONSTRAINT: return .conflict
        default: return .failed
        }
    }

    /// Runs a write transaction, mapping database errors to one clear line about this project.
    func write<T>(_ what: String, _ body: @escaping (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let e as FacetError {
            throw e
        } catch {
            throw FacetError.file(path, "\(what) failed: \(Project.describe(error))", kind: Project.kind(of: error))
        }
    }

    /// Runs a read, mapping database errors to one clear line about this project.
    func read<T>(_ body: @escaping (Database) throws -> T) throws -> T {
        do {
            return try reader.read(body)
        } catch let e as FacetError {
            throw e
        } catch {
            throw FacetError.file(path, "read failed: \(Project.describe(error))", kind: Project.kind(of: error))
        }
    }
}

/// Faults a test injects into the projects it opens; shipping code never sets any. Passed to `Project.init`, whose
/// default is `current`: a test binds hooks around the code it runs, and the CLI's main binds the ones its tests ask
/// for through the environment (`FACET_TEST_MAX_PAGE_COUNT`), so the library itself reads no environment variable.
public struct ProjectTestHooks: Sendable, Equatable {
    /// A writable project cannot grow past this many pages: the write that would is refused with SQLITE_FULL, exactly
    /// as when the disk fills up (a portable stand-in for a small filesystem).
    public var maxPageCount: Int?

    /// Hooks with the given faults (none by default).
    public init(maxPageCount: Int? = nil) { self.maxPageCount = maxPageCount }

    /// The hooks of the running code: none unless a caller bound some with `$current.withValue`.
    @TaskLocal public static var current = ProjectTestHooks()
}
