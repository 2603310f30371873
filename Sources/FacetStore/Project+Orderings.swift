/// Saved orderings of faces: a named list of face ids in order, with the sort that made it.
import Foundation
import GRDB
import FacetCore

/// A saved ordering's summary.
public struct FaceOrderingInfo: Codable, Sendable, Equatable {
    /// Row id, name, role (nil: every role), the sort that made it (as typed), creation time (ISO 8601) and face count.
    public var id: Int64
    /// The name it was saved under.
    public var name: String
    /// The role of its faces (nil: every role).
    public var role: String?
    /// The sort that made it, as typed.
    public var sortSpec: String
    /// When it was saved (ISO 8601, UTC).
    public var createdAt: String
    /// How many faces it lists.
    public var faces: Int
}

extension Project {
    /// Saves `faceIDs` in order under `name` (replacing an ordering of that name) in one transaction;
    /// `sortSpec` is the sort that made the order, as its words (`CurationSort.description` in FacetCurate).
    @discardableResult
    public func saveOrdering(name: String, role: Role?, sortSpec: String, faceIDs: [Int64]) throws -> Int64 {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw FacetError("an ordering needs a name") }
        return try write("saving ordering '\(name)'") { db in
            try db.execute(sql: "DELETE FROM face_ordering WHERE name = ?", arguments: [name])
            try db.execute(sql: "INSERT INTO face_ordering(name, role, sort_spec, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [name, role?.rawValue, sortSpec, isoNow()])
            let oid = db.lastInsertedRowID
            let ins = try db.cachedStatement(sql: "INSERT INTO face_ordering_entry(ordering_id, position, "
                                                  + "face_id) VALUES (?, ?, ?)")
            for (pos, id) in faceIDs.enumerated() { try ins.execute(arguments: [oid, pos, id]) }
            return oid
        }
    }

    /// The faces of a saved ordering, in order; a clear error for an unknown name.
    public func orderingFaceIDs(name: String) throws -> [Int64] {
        let path = self.path
        return try read { db in
            guard let oid = try Int64.fetchOne(db, sql: "SELECT id FROM face_ordering WHERE name = ?",
                                               arguments: [name]) else {
                let names = try String.fetchAll(db, sql: "SELECT name FROM face_ordering ORDER BY name")
                throw FacetError.file(path, "has no ordering named '\(name)'"
                                          + (names.isEmpty ? " (save one with `facet sort --save NAME`)"
                                                           : " (saved: \(names.joined(separator: ", ")))"))
            }
            return try Int64.fetchAll(db,
                                      sql: "SELECT face_id FROM face_ordering_entry WHERE ordering_id = ? "
                                           + "ORDER BY position", arguments: [oid])
        }
    }

    /// Every saved ordering, by name.
    public func orderings() throws -> [FaceOrderingInfo] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT o.id, o.name, o.role, o.sort_spec, o.created_at,
                       (SELECT count(*) FROM face_ordering_entry e WHERE e.ordering_id = o.id) AS n
                FROM face_ordering o ORDER BY o.name
                """).map { r in
                FaceOrderingInfo(id: r["id"], name: r["name"], role: r["role"], sortSpec: r["sort_spec"],
                                 createdAt: r["created_at"], faces: r["n"])
            }
        }
    }
}
