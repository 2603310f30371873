/// Media in the project: storing a video's bytes in chunks, listing media, reading them back.
import Foundation
import GRDB
import FacetCore

/// Bytes of an embedded video, read back by offset from its chunks without a temporary copy.
/// Thread-confined: one reader per decoder.
public final class StoredMediaBytes: @unchecked Sendable {
    /// The media the bytes are of.
    public let mediaId: Int64
    /// The video's length in bytes.
    public let size: Int64
    private let project: Project
    private var chunkOffsets: [Int64] = []
    private var chunkSizes: [Int] = []
    private var cachedSeq: Int = -1
    private var cached = Data()

    init(project: Project, mediaId: Int64) throws {
        self.project = project
        self.mediaId = mediaId
        let rows = try project.read { db in
            try Row.fetchAll(db,
                             sql: "SELECT offset, length(data) AS n FROM media_chunk WHERE media_id = ? ORDER BY seq",
                             arguments: [mediaId])
        }
        chunkOffsets = rows.map { $0["offset"] }
        chunkSizes = rows.map { $0["n"] }
        size = (chunkOffsets.last ?? 0) + Int64(chunkSizes.last ?? 0)
    }

    /// Copies up to `buffer.count` bytes from `offset`; returns how many (0 at the end).
    public func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard offset >= 0, offset < size, buffer.count > 0 else { return 0 }
        // Binary search for the chunk holding `offset`.
        var lo = 0, hi = chunkOffsets.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if chunkOffsets[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        if cachedSeq != lo {
            let mediaId = self.mediaId, seq = lo
            cached = try project.read { db in
                try Data.fetchOne(db, sql: "SELECT data FROM media_chunk WHERE media_id = ? AND seq = ?",
                                  arguments: [mediaId, seq]) ?? Data()
            }
            cachedSeq = lo
        }
        let start = Int(offset - chunkOffsets[lo])
        let n = min(buffer.count, cached.count - start)
        guard n > 0 else { return 0 }
        cached.withUnsafeBytes { src in
            buffer.baseAddress!.copyMemory(from: src.baseAddress! + start, byteCount: n)
        }
        return n
    }
}

extension Project {
    /// Chunk size for embedded media: a few MiB keeps every row far below SQLite's 1 GB limit.
    public static let mediaChunkBytes = 4 << 20

    /// Stores a media row and its bytes in one transaction: either all of it lands or none.
    /// `chunks` is called repeatedly for the next chunk (nil at the end); its errors abort the import.
    /// Refuses content whose SHA-256 is already in the project.
    @discardableResult
    public func importMedia(_ media: MediaRecord,
                            chunks: @escaping () throws -> (name: String?, data: Data)?) throws -> MediaRecord {
        return try write("import") { db in
            var m = media
            if let existing = try Row.fetchOne(db, sql: "SELECT id, role, name FROM media WHERE sha256 = ?",
                                               arguments: [media.sha256]) {
                let name: String = existing["name"], role: String = existing["role"], id: Int64 = existing["id"]
                throw FacetError("\(media.path ?? media.name): already imported as media \(id) (\(role) \(name)); "
                                 + "same content (SHA-256 \(media.sha256.prefix(12))…)", kind: .conflict)
            }
            try m.insert(db)
            var seq = 0
            var offset: Int64 = 0
            while let chunk = try chunks() {
                try db.execute(sql: "INSERT INTO media_chunk(media_id, seq, offset, name, data) VALUES (?, ?, ?, ?, ?)",
                               arguments: [m.id, seq, offset, chunk.name, chunk.data])
                seq += 1
                offset += Int64(chunk.data.count)
            }
            return m
        }
    }

    /// The media of `role` (all when nil), by id.
    public func media(role: Role? = nil) throws -> [MediaRecord] {
        try read { db in
            if let role {
                return try MediaRecord.filter(Column("role") == role.rawValue).order(Column("id")).fetchAll(db)
            }
            return try MediaRecord.order(Column("id")).fetchAll(db)
        }
    }

    /// Media `id`; throws naming it when the project has none.
    public func media(id: Int64) throws -> MediaRecord {
        guard let m = try read({ db in try MediaRecord.fetchOne(db, key: id) }) else {
            throw FacetError.file(path, "has no media \(id)")
        }
        return m
    }

    /// Random access to an embedded video's bytes.
    public func storedBytes(mediaId: Int64) throws -> StoredMediaBytes {
        try StoredMediaBytes(project: self, mediaId: mediaId)
    }

    /// The named files of a stills folder, in frame order.
    public func stillNames(mediaId: Int64) throws -> [String] {
        try read {
            db in try String.fetchAll(db,
                                      sql: "SELECT coalesce(name, '') FROM media_chunk WHERE media_id = ? ORDER BY seq",
                                      arguments: [mediaId])
        }
    }

    /// The bytes of still number `index` of a stills media.
    public func stillData(mediaId: Int64, index: Int) throws -> Data {
        guard let d = try read({ db in try Data.fetchOne(db,
                                                         sql: "SELECT data FROM media_chunk WHERE media_id = "
                                                              + "? AND seq = ?", arguments: [mediaId, index]) }) else {
            throw FacetError.file(path, "media \(mediaId) has no still \(index)")
        }
        return d
    }
}
