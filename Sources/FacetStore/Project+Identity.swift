/// Identity in the project file: each face's face-recognition descriptor (float16 blobs in their own
/// table), persons (a role's faces of one identity), and each face's person.
import Foundation
import GRDB
import GRDBSQLite
import FacetCore

/// Face-recognition descriptors as the project stores them: dlib's 128-d descriptor, kept as
/// 128 little-endian float16 (256 bytes). Float16 keeps about 3 decimal digits of each component;
/// on the L2 distance of two descriptors (about 0.3 to 1.0) that is an error of the order of 1e-4,
/// far under the 0.6 same-person threshold (`Tests/FacetStoreTests/IdentityStoreTests` measures it).
public enum FaceEmbedding {
    /// Floats in a descriptor.
    public static let dimension = 128
    /// Bytes of a stored descriptor.
    public static let storedBytes = 256
    /// dlib's distance under which two descriptors are the same person.
    public static let samePersonThreshold = 0.6

    /// The stored form of a descriptor (128 floats): float16, little-endian.
    public static func pack(_ values: [Float]) -> Data {
        precondition(values.count == dimension, "a face descriptor has \(dimension) floats, not \(values.count)")
        var bytes = [UInt8](repeating: 0, count: storedBytes)
        for (i, v) in values.enumerated() {
            let bits = Float16(v).bitPattern
            bytes[2 * i] = UInt8(bits & 0xFF)
            bytes[2 * i + 1] = UInt8(bits >> 8)
        }
        return Data(bytes)
    }

    /// A stored descriptor as floats; nil when the blob is not 256 bytes.
    public static func unpack(_ data: Data) -> [Float]? {
        guard data.count == storedBytes else { return nil }
        var out = [Float](repeating: 0, count: dimension)
        data.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { unpack(raw, into: $0.baseAddress!) } }
        return out
    }

    /// Widens 128 stored float16 at `raw` into `out`: one F16C conversion per 8 values (the module is built
    /// for Haswell), exact for every float16 (subnormals, infinities and NaN too). Not inlinable, so callers
    /// in modules built without F16C still get the hardware conversion.
    public static func unpack(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<dimension {
            let bits = UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
            out[i] = Float(Float16(bitPattern: bits))
        }
    }

    /// The L2 distance of two descriptors, dlib's unit (same person under 0.6). Summed in float32 over
    /// two 8-wide accumulators: on descriptors of norm about 1 that is within 1e-6 of a double sum,
    /// and a 100,000-face scan no longer waits on a 128-long chain of dependent adds.
    public static func distance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Double {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
        for k in stride(from: 0, to: dimension * 4, by: 64) {
            let d0 = ra.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: k, as: SIMD8<Float>.self)
            let d1 = ra.loadUnaligned(fromByteOffset: k + 32, as: SIMD8<Float>.self)
                - rb.loadUnaligned(fromByteOffset: k + 32, as: SIMD8<Float>.self)
            s0 = s0.addingProduct(d0, d0)
            s1 = s1.addingProduct(d1, d1)
        }
        return Double((s0 + s1).sum()).squareRoot()
    }

    /// `distance` over two arrays of 128 floats.
    public static func distance(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == dimension && b.count == dimension, "a face descriptor has \(dimension) floats")
        return a.withUnsafeBufferPointer {
            pa in b.withUnsafeBufferPointer { pb in distance(pa.baseAddress!, pb.baseAddress!) }
        }
    }
}

/// The descriptors of a set of faces, row by row (n x 128 float32), as read from the project.
public struct EmbeddingMatrix: Sendable {
    /// Face ids, one per row, ascending.
    public let ids: [Int64]
    /// n x 128 floats.
    public let values: [Float]
    /// Faces of the selection that have no descriptor (left out of the rows).
    public let missing: [Int64]
    /// Each row's person (`facet people`; 0: none yet), when read `withPersons`; else nil.
    public let persons: [Int64]?

    /// A matrix from rows given in order.
    public init(ids: [Int64], values: [Float], missing: [Int64] = [], persons: [Int64]? = nil) {
        precondition(values.count == ids.count * FaceEmbedding.dimension,
                     "\(ids.count) faces need \(ids.count * FaceEmbedding.dimension) floats")
        precondition(persons == nil || persons!.count == ids.count, "one person per row")
        self.ids = ids; self.values = values; self.missing = missing; self.persons = persons
    }

    /// Rows.
    public var count: Int { ids.count }

    /// Row `i`'s descriptor.
    public func row(_ i: Int) -> [Float] {
        Array(values[(i * FaceEmbedding.dimension)..<((i + 1) * FaceEmbedding.dimension)])
    }
}

/// A person: faces of one identity in one role, found by `facet people`.
public struct PersonRecord: Codable, Sendable, Equatable {
    /// The person's number, stable across reruns of `facet people`.
    public var id: Int64
    /// The role whose faces it groups.
    public var role: Role
    /// The user's name for the person, if given (`facet people --name`).
    public var name: String?
    /// The mean descriptor of its faces (128 floats).
    public var centre: [Float]
    /// How many faces belong to it.
    public var faceCount: Int
    /// The face nearest the centre: the one to show for the person.
    public var representativeFaceId: Int64?
    /// The distance the clustering that found it used.
    public var threshold: Double
    /// When it was last saved (ISO 8601, UTC).
    public var updatedAt: String

    /// "alice (person 3)" or "person 3".
    public var label: String { name.map { "\($0) (person \(id))" } ?? "person \(id)" }

    init(_ row: Row) {
        id = row["id"]; role = Role(rawValue: row["role"]) ?? .src; name = row["name"]
        centre = unpackFloat32(row["centre"]); faceCount = row["face_count"]
        representativeFaceId = row["representative_face_id"]; threshold = row["threshold"]
        updatedAt = row["updated_at"]
    }
}

/// One person of a clustering, as `savePersons` stores it.
public struct PersonAssignment: Sendable {
    /// The stored person it continues (keeps its id and name), or nil for a new person.
    public var existingId: Int64?
    /// The mean descriptor of its faces (128 floats).
    public var centre: [Float]
    /// Its faces, by id.
    public var faceIDs: [Int64]
    /// The face nearest the centre: the one to show for the person.
    public var representativeFaceId: Int64?
    /// Creates one person of a clustering.
    public init(existingId: Int64?, centre: [Float], faceIDs: [Int64], representativeFaceId: Int64?) {
        self.existingId = existingId; self.centre = centre; self.faceIDs = faceIDs
        self.representativeFaceId = representativeFaceId
    }
}

/// What `savePersons` did.
public struct PersonSaveSummary: Sendable {
    /// The role's persons after the save, by id.
    public var persons: [PersonRecord]
    /// Faces whose person changed.
    public var facesChanged: Int
    /// Unnamed persons that no longer have faces, removed.
    public var removed: [Int64]
}

/// The recogniser of a run, for provenance.
public struct RecognizerProvenance: Sendable, Equatable {
    /// The recogniser's name, as the extraction provenance records it.
    public var name: String
    /// SHA-256 of the recogniser's model file.
    public var sha256: String
    /// The recogniser's name and the SHA-256 of its model file.
    public init(name: String, sha256: String) { self.name = name; self.sha256 = sha256 }
}

/// A stored face to describe: where its descriptor comes from (its frame and landmarks).
public struct FaceToEmbed: Sendable {
    /// The face's id.
    public var id: Int64
    /// The media its frame is decoded from.
    public var mediaId: Int64
    /// The frame the face was found in.
    public var frameIndex: Int
    /// The extraction run that stored it (whose recogniser provenance is set with the descriptor).
    public var extractionId: Int64
    /// The 68 points in frame coordinates.
    public var landmarks: Landmarks68
}

extension Project {
    // MARK: descriptors

    /// Stores descriptors of existing faces in one transaction (replacing any), and records the
    /// recogniser in the provenance of their extraction runs that have none yet. `halfway` (tests'
    /// crash injection) runs inside the transaction once half the rows are written.
    public func storeEmbeddings(_ embeddings: [(faceId: Int64, descriptor: [Float])], recognizer: RecognizerProvenance,
                                halfway: (() -> Void)? = nil) throws {
        guard !embeddings.isEmpty else { return }
        try write("storing face descriptors") { db in
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO face_embedding(face_id, "
                                                     + "embedding) VALUES (?, ?)")
            for (k, e) in embeddings.enumerated() {
                if k == embeddings.count / 2 { halfway?() }
                try insert.execute(arguments: [e.faceId, FaceEmbedding.pack(e.descriptor)])
            }
            try forChunks(embeddings.map(\.faceId)) { chunk in
                try db.execute(sql: """
                    UPDATE extraction SET recognizer = ?, recognizer_sha256 = ?
                    WHERE recognizer IS NULL AND id IN (SELECT DISTINCT extraction_id FROM face \
                    WHERE id IN (\(placeholders(chunk.count))))
                    """, arguments: [recognizer.name, recognizer.sha256] + StatementArguments(chunk))
            }
        }
    }

    /// Whether the file has the identity tables (schema 3 on): a file from an earlier Facet opened
    /// read-only is not upgraded, and reads as one without descriptors or persons.
    func hasIdentityTables(_ db: Database) throws -> Bool { try db.tableExists("person") }

    /// How many faces (of `role`, or every role) have a descriptor, and how many there are.
    public func embeddingCounts(role: Role?) throws -> (withDescriptor: Int, faces: Int) {
        try read { db in
            let filter = role == nil ? "" : " WHERE f.role = ?"
            let args = Self.roleArguments(role)
            let total = try Int.fetchOne(db, sql: "SELECT count(*) FROM face f" + filter, arguments: args) ?? 0
            guard try self.hasIdentityTables(db) else { return (0, total) }
            let with = try Int.fetchOne(db,
                                        sql: "SELECT count(*) FROM face f JOIN face_embedding e ON "
                                             + "e.face_id = f.id" + filter, arguments: args) ?? 0
            return (with, total)
        }
    }

    /// Up to `limit` faces (of `role`, or every role) without a descriptor, by media, frame and face:
    /// what `facet embed` describes next. A rerun after an interruption finds only those still missing.
    public func facesWithoutEmbedding(role: Role?, limit: Int) throws -> [FaceToEmbed] {
        try read { db in
            let filter = role == nil ? "" : "f.role = ? AND "
            let args = Self.roleArguments(role) + [limit]
            return try Row.fetchAll(db, sql: """
                SELECT f.id, f.media_id, f.frame_index, f.extraction_id, f.landmarks FROM face f
                WHERE \(filter)NOT EXISTS (SELECT 1 FROM face_embedding e WHERE e.face_id = f.id)
                ORDER BY f.media_id, f.frame_index, f.face_index LIMIT ?
                """, arguments: args).compactMap { r in
                guard let lm = Landmarks68(packed: r["landmarks"]) else { return nil }
                return FaceToEmbed(id: r["id"], mediaId: r["media_id"], frameIndex: r["frame_index"],
                                   extractionId: r["extraction_id"], landmarks: lm)
            }
        }
    }

    /// The stored descriptor of one face; nil when it has none (an unknown face is an error).
    public func embedding(faceId: Int64) throws -> [Float]? {
        _ = try face(id: faceId)
        return try read {
            db in try Data.fetchOne(db, sql: "SELECT embedding FROM face_embedding WHERE face_id = ?",
                                    arguments: [faceId])
        }
            .flatMap(FaceEmbedding.unpack)
    }

    /// The descriptors of the faces matching `query` (order, limit and offset ignored), by face id,
    /// with the faces that have none listed in `missing`; `withPersons` also gives each row's person.
    /// One pass of `forEachEmbedding` into one float matrix allocated once.
    public func embeddingMatrix(matching query: FaceQuery, withPersons: Bool = false) throws -> EmbeddingMatrix {
        let dim = FaceEmbedding.dimension
        var ids: [Int64] = [], persons: [Int64] = [], missing: [Int64] = []
        var rows = 0
        var values: [Float] = []
        try forEachEmbedding(matching: query, withPersons: withPersons, selected: { n in
            ids.reserveCapacity(n)
            if withPersons { persons.reserveCapacity(n) }
            values = [Float](unsafeUninitializedCapacity: n * dim) { _, initialized in initialized = n * dim }
        }) { id, person, descriptor in
            values.withUnsafeMutableBufferPointer {
                $0.baseAddress!.advanced(by: rows * dim).update(from: descriptor, count: dim)
            }
            ids.append(id)
            if withPersons { persons.append(person) }
            rows += 1
        } missing: { missing.append($0) }
        values.removeLast(values.count - rows * dim)
        return EmbeddingMatrix(ids: ids, values: values, missing: missing, persons: withPersons ? persons : nil)
    }

    /// Visits the stored descriptor of every face matching `query` (order, limit and offset ignored),
    /// by face id: `body` gets the id, its person (0: none; read only `withPersons`) and the 128
    /// floats (valid during the call); `missing` gets each face of the selection without one, and
    /// `selected` the selection's size first. Read through SQLite's C API (no row objects: at
    /// 100,000 faces the reading is most of what a one-off `similar` waits for) in one read
    /// transaction: the selection's ids in order (from an index), then the descriptor table in its
    /// own (rowid) order merged with them, one sequential pass; a selection under 2,048 faces looks
    /// its rows up instead.
    public func forEachEmbedding(matching query: FaceQuery, withPersons: Bool = false,
                                 selected: (Int) -> Void = { _ in },
                                 _ body: (_ id: Int64, _ person: Int64,
                                          _ descriptor: UnsafePointer<Float>) throws -> Void,
                                 missing: (Int64) -> Void) throws {
        var q = query
        q.sort = []; q.limit = nil; q.offset = 0
        guard try read({ try self.hasIdentityTables($0) }) else {
            let all = try faceIDs(matching: q)
            selected(all.count)
            all.forEach(missing)
            return
        }
        let (w, args) = q.whereClause()
        // No ORDER BY: sorted here. With it SQLite walks the face table itself in id order (at 100,000 faces
        // about 80 MB of rows for 0.8 MB of ids); without it, it reads the ids from the smallest covering index.
        let selection = "SELECT face.id\(withPersons ? ", ifnull(face.person_id, 0)" : "") FROM "
                        + "\(try self.source(q)) WHERE \(w)"
        let bytes = FaceEmbedding.storedBytes
        try withoutActuallyEscaping(body) { body in
            try withoutActuallyEscaping(missing) { missing in
                try withoutActuallyEscaping(selected) { selected in
                    try checkedRead(sql: selection, arguments: args, userExpression: q.whereSQL) { db, stmt in
                        var wanted: [Int64] = [], wantedPersons: [Int64] = []
                        try Project.step(stmt) { s in
                            wanted.append(sqlite3_column_int64(s, 0))
                            if withPersons { wantedPersons.append(sqlite3_column_int64(s, 1)) }
                        }
                        if !zip(wanted, wanted.dropFirst()).allSatisfy({ $0 < $1 }) {
                            let order = wanted.indices.sorted { wanted[$0] < wanted[$1] }
                            wanted = order.map { wanted[$0] }
                            if withPersons { wantedPersons = order.map { wantedPersons[$0] } }
                        }
                        selected(wanted.count)
                        let scan = wanted.count >= 2048
                        let table = try db.makeStatement(sql: scan ? "SELECT face_id, "
                                                                     + "embedding FROM face_embedding ORDER BY face_id"
                                                                   : "SELECT face_id, "
                                                                     + "embedding FROM face_embedding "
                                                                     + "WHERE face_id = ?")
                        let t = table.sqliteStatement
                        var buffer = [Float](repeating: 0, count: FaceEmbedding.dimension)
                        try buffer.withUnsafeMutableBufferPointer { out in
                            /// Row `k` of the selection, found at the current row of `t`.
                            func take(_ k: Int) throws {
                                // The table's CHECK keeps every blob 256 bytes; anything else counts as missing.
                                guard sqlite3_column_bytes(t, 1) == bytes, let blob = sqlite3_column_blob(t, 1) else {
                                    missing(wanted[k])
                                    return
                                }
                                FaceEmbedding.unpack(UnsafeRawBufferPointer(start: blob, count: bytes),
                                                     into: out.baseAddress!)
                                try body(wanted[k], withPersons ? wantedPersons[k] : 0, out.baseAddress!)
                            }
                            func fail(_ rc: Int32) -> Error {
                                DatabaseError(resultCode: ResultCode(rawValue: rc),
                                              message: String(cString: sqlite3_errmsg(sqlite3_db_handle(t))))
                            }
                            var k = 0
                            if scan {
                                while k < wanted.count {
                                    let rc = sqlite3_step(t)
                                    if rc == SQLITE_DONE { break }
                                    guard rc == SQLITE_ROW else { throw fail(rc) }
                                    let id = sqlite3_column_int64(t, 0)
                                    while k < wanted.count && wanted[k] < id { missing(wanted[k]); k += 1 }
                                    if k < wanted.count && wanted[k] == id { try take(k); k += 1 }
                                }
                                while k < wanted.count { missing(wanted[k]); k += 1 }
                            } else {
                                for k in wanted.indices {
                                    sqlite3_bind_int64(t, 1, wanted[k])
                                    let rc = sqlite3_step(t)
                                    if rc == SQLITE_ROW {
                                        try take(k)
                                    } else if rc == SQLITE_DONE {
                                        missing(wanted[k])
                                    } else {
                                        sqlite3_reset(t); throw fail(rc)
                                    }
                                    sqlite3_reset(t)
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// `embeddingMatrix(matching:)`, refusing a selection where faces have no descriptor with a line
    /// that says how to compute them.
    public func requireEmbeddings(matching query: FaceQuery, withPersons: Bool = false) throws -> EmbeddingMatrix {
        let m = try embeddingMatrix(matching: query, withPersons: withPersons)
        guard m.missing.isEmpty else {
            throw missingEmbeddingsError(m.missing.count, of: m.count + m.missing.count, role: query.role)
        }
        return m
    }

    /// Steps `statement` (arguments already set) through SQLite's C API, calling `row` on each row.
    static func step(_ statement: Statement, _ row: (OpaquePointer) throws -> Void) throws {
        let s = statement.sqliteStatement
        while true {
            let rc = sqlite3_step(s)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else {
                throw DatabaseError(resultCode: ResultCode(rawValue: rc),
                                    message: String(cString: sqlite3_errmsg(sqlite3_db_handle(s))))
            }
            try row(s)
        }
    }

    /// The error every command that needs descriptors gives when some are missing.
    public func missingEmbeddingsError(_ missing: Int, of total: Int, role: Role?) -> FacetError {
        let roleArg = role.map { " --role \($0.rawValue)" } ?? ""
        return FacetError.file(path,
                               "\(missing) of \(total) faces have no face-recognition descriptor "
                               + "(made before identity was stored): run `facet embed \(path)\(roleArg)` first")
    }

    /// `[role]` as statement arguments, or none.
    static func roleArguments(_ role: Role?) -> StatementArguments {
        guard let role else { return StatementArguments() }
        return StatementArguments([role.rawValue])
    }

    // MARK: persons

    /// The persons of `role` (every role when nil), by id.
    public func persons(role: Role?) throws -> [PersonRecord] {
        try read { db in
            guard try self.hasIdentityTables(db) else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM person" + (role == nil ? "" : " WHERE role = ?")
                                             + " ORDER BY id",
                                    arguments: Self.roleArguments(role)).map(PersonRecord.init)
        }
    }

    /// The person a user named: its number, or its name (within `role` when given). An unknown one
    /// is an error listing the persons there are.
    public func person(resolving text: String, role: Role? = nil) throws -> PersonRecord {
        let all = try persons(role: role)
        let t = text.trimmingCharacters(in: .whitespaces)
        let number = Int64(t.hasPrefix("person") ? String(t.dropFirst(6)).trimmingCharacters(in: .whitespaces) : t)
        if let n = number, let p = all.first(where: { $0.id == n }) { return p }
        let named = all.filter { $0.name == t }
        if named.count == 1 { return named[0] }
        if named.count > 1 {
            throw FacetError.file(path,
                                  "has \(named.count) persons named '\(t)' "
                                  + "(\(named.map { "\($0.role.rawValue) \($0.id)" }.joined(separator: ", "))): "
                                  + "give its number or --role")
        }
        let scope = role.map { "\($0.rawValue) " } ?? ""
        if all.isEmpty {
            throw FacetError.file(path,
                                  "has no \(scope)persons yet: "
                                  + "run `facet people \(path)\(role.map { " --role \($0.rawValue)" } ?? "")` first")
        }
        let known = all.prefix(12).map { p in "\(p.id)\(p.name.map { " \($0)" } ?? "") (\(p.role.rawValue), "
                                              + "\(p.faceCount) faces)" }.joined(separator: ", ")
        throw FacetError.file(path, "has no \(scope)person '\(t)' (persons: \(known)\(all.count > 12 ? ", ..." : ""))")
    }

    /// Names person `id` (nil removes the name), in one transaction. A name another person of the same
    /// role already has is refused; a name that is a number is refused (it would read as a person number).
    @discardableResult
    public func namePerson(id: Int64, name: String?) throws -> PersonRecord {
        let name = name?.trimmingCharacters(in: .whitespaces)
        if let n = name {
            guard !n.isEmpty, !n.contains(where: \.isNewline), n.count <= 100 else {
                throw FacetError("a person's name is 1 to 100 characters on one line")
            }
            guard Int64(n) == nil else {
                throw FacetError("a person's name cannot be a number ('\(n)' would read as a person number)")
            }
        }
        return try write("naming person \(id)") { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM person WHERE id = ?", arguments: [id]) else {
                throw FacetError.file(self.path, "has no person \(id)", kind: .notFound)
            }
            let p = PersonRecord(row)
            if let n = name,
                let other = try Int64.fetchOne(db, sql: "SELECT id FROM person WHERE role = ? AND name = ? AND id != ?",
                                               arguments: [p.role.rawValue, n, id]) {
                throw FacetError.file(self.path, "\(p.role.rawValue) person \(other) is already named '\(n)'")
            }
            try db.execute(sql: "UPDATE person SET name = ? WHERE id = ?", arguments: [name, id])
            return PersonRecord(try Row.fetchOne(db, sql: "SELECT * FROM person WHERE id = ?", arguments: [id])!)
        }
    }

    /// Each face's person among `role`'s faces (faces without one are absent).
    public func personAssignments(role: Role) throws -> [Int64: Int64] {
        try read { db in
            guard try self.hasIdentityTables(db) else { return [:] }
            var out: [Int64: Int64] = [:]
            let cursor = try Row.fetchCursor(db,
                                             sql: "SELECT id, "
                                                  + "person_id FROM face WHERE role = ? AND person_id IS NOT NULL",
                                                  arguments: [role.rawValue])
            while let r = try cursor.next() { out[r[0]] = r[1] }
            return out
        }
    }

    /// Stores a clustering of `role`'s faces in one transaction: persons that continue keep their id
    /// and name, new ones are added (largest first, so they get the lower numbers), each face points
    /// at its person (only changed rows are written), and the role's persons left without faces are
    /// removed unless named (a named one stays, with 0 faces, so its name is not lost). Faces of the
    /// role not in any assignment lose their person.
    public func savePersons(role: Role, _ assignments: [PersonAssignment],
                            threshold: Double) throws -> PersonSaveSummary {
        try write("storing persons") { db in
            // The role's faces and their persons now, by id (0: none).
            var faceIds: [Int64] = [], current: [Int64] = []
            let read = try db.makeStatement(sql: "SELECT id, ifnull(person_id, 0) FROM face WHERE role = ? ORDER BY id")
            try read.setArguments([role.rawValue])
            try Project.step(read) { s in
                faceIds.append(sqlite3_column_int64(s, 0))
                current.append(sqlite3_column_int64(s, 1))
            }
            let existing = Set(try Int64.fetchAll(db, sql: "SELECT id FROM person WHERE role = ?",
                                                  arguments: [role.rawValue]))
            let now = isoNow()
            var target: [Int64: Int64] = [:]
            var kept = Set<Int64>()
            let ordered = assignments.enumerated().sorted { a, b in
                if (a.element.existingId == nil) != (b.element.existingId == nil) { return a.element.existingId != nil }
                return a.element.faceIDs.count != b.element.faceIDs.count
                    ? a.element.faceIDs.count > b.element.faceIDs.count : a.offset < b.offset
            }
            for (_, a) in ordered {
                precondition(a.centre.count == FaceEmbedding.dimension,
                             "a person's centre has \(FaceEmbedding.dimension) floats")
                let pid: Int64
                if let e = a.existingId, existing.contains(e) {
                    try db.execute(sql: "UPDATE person SET centre = ?, face_count = ?, representative_face_id = ?, "
                                        + "threshold = ?, updated_at = ? WHERE id = ?",
                                   arguments: [packFloat32(a.centre), a.faceIDs.count, a.representativeFaceId,
                                               threshold, now, e])
                    pid = e
                } else {
                    try db.execute(sql: "INSERT INTO person(role, centre, face_count, representative_face_id, "
                                        + "threshold, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                                   arguments: [role.rawValue, packFloat32(a.centre), a.faceIDs.count,
                                               a.representativeFaceId, threshold, now])
                    pid = db.lastInsertedRowID
                }
                kept.insert(pid)
                for f in a.faceIDs { target[f] = pid }
            }
            // Only the changed rows, in id order (neighbouring rows share pages: each page is read and
            // written once, where a hash order rewrote pages at random and spilled SQLite's cache),
            // bound and stepped through the C API (100,000 faces change on a first run).
            var changed = 0
            let update = try db.makeStatement(sql: "UPDATE face SET person_id = ? WHERE id = ?")
            let u = update.sqliteStatement
            for (face, old) in zip(faceIds, current) {
                let new = target[face] ?? 0
                guard new != old else { continue }
                if new == 0 { sqlite3_bind_null(u, 1) } else { sqlite3_bind_int64(u, 1, new) }
                sqlite3_bind_int64(u, 2, face)
                let rc = sqlite3_step(u)
                sqlite3_reset(u)
                guard rc == SQLITE_DONE else {
                    throw DatabaseError(resultCode: ResultCode(rawValue: rc),
                                        message: String(cString: sqlite3_errmsg(sqlite3_db_handle(u))))
                }
                changed += 1
            }
            var removed: [Int64] = []
            for pid in existing.subtracting(kept).sorted() {
                let named = try String.fetchOne(db, sql: "SELECT name FROM person WHERE id = ?",
                                                arguments: [pid]) != nil
                if named {
                    try db.execute(sql: "UPDATE person SET face_count = 0, representative_face_id = NULL, "
                                        + "updated_at = ? WHERE id = ?", arguments: [now, pid])
                } else {
                    try db.execute(sql: "DELETE FROM person WHERE id = ?", arguments: [pid])
                    removed.append(pid)
                }
            }
            let persons = try Row.fetchAll(db, sql: "SELECT * FROM person WHERE role = ? ORDER BY id",
                                           arguments: [role.rawValue]).map(PersonRecord.init)
            return PersonSaveSummary(persons: persons, facesChanged: changed, removed: removed)
        }
    }

    /// Per person of `role`: its faces by status and by media name, in one read.
    public func personBreakdown(role: Role?) throws -> [Int64: (kept: Int, rejected: Int,
                                                                media: [(name: String, faces: Int)])] {
        try read { db in
            var out: [Int64: (kept: Int, rejected: Int, media: [(name: String, faces: Int)])] = [:]
            guard try self.hasIdentityTables(db) else { return out }
            let filter = role == nil ? "" : " AND f.role = ?"
            let args = Self.roleArguments(role)
            for r in try Row.fetchAll(db,
                                      sql: "SELECT f.person_id, f.status, count(*) AS n FROM face f WHERE f.person_id "
                                           + "IS NOT NULL\(filter) GROUP BY f.person_id, f.status", arguments: args) {
                let pid: Int64 = r["person_id"], n: Int = r["n"]
                var e = out[pid] ?? (0, 0, [])
                if (r["status"] as String) == FaceStatus.kept.rawValue { e.kept += n } else { e.rejected += n }
                out[pid] = e
            }
            for r in try Row.fetchAll(db, sql: """
                SELECT f.person_id, m.name, count(*) AS n FROM face f JOIN media m ON m.id = f.media_id
                WHERE f.person_id IS NOT NULL\(filter) GROUP BY f.person_id, m.id ORDER BY f.person_id, n DESC, m.id
                """, arguments: args) {
                let pid: Int64 = r["person_id"], name: String = r["name"], n: Int = r["n"]
                out[pid, default: (0, 0, [])].media.append((name: name, faces: n))
            }
            return out
        }
    }
}
