/// Reject, restore, tag and untag faces, each change recorded in curation_change so `undo` can revert it
/// (mask labels are recorded alike: Project+MaskLabels).
import Foundation
import GRDB
import FacetCore

/// What one curation command changed.
public struct CurationChangeSummary: Codable, Sendable, Equatable {
    /// The recorded change (nil when nothing changed, so nothing was recorded).
    public var changeId: Int64?
    /// What the user ran, as recorded in the history.
    public var command: String
    /// Faces whose status or tags changed, in the order given.
    public var changed: [Int64]
    /// Faces selected that were already in that state.
    public var unchanged: Int
}

/// What `undo` reverted.
public struct UndoSummary: Codable, Sendable, Equatable {
    /// The recorded change that was reverted.
    public var changeId: Int64
    /// What the user ran, as recorded in the history.
    public var command: String
    /// When the change was made (ISO 8601, UTC).
    public var madeAt: String
    /// Faces put back as they were before the change.
    public var faces: [Int64]
}

/// A face tag and how many faces carry it.
public struct TagCount: Codable, Sendable, Equatable {
    /// The tag.
    public var tag: String
    /// Faces with the tag, then split by role, and how many of them are kept.
    public var faces: Int, src: Int, dst: Int, kept: Int
}

/// One entry of the curation history.
public struct CurationChangeRecord: Codable, Sendable, Equatable {
    /// The change's id (what `undo` names).
    public var id: Int64
    /// What the user ran.
    public var command: String
    /// When the change was made (ISO 8601, UTC).
    public var madeAt: String
    /// When it was undone (ISO 8601, UTC); nil while it stands.
    public var undoneAt: String?
    /// Faces the change touched.
    public var faces: Int
}

extension Project {
    /// Sets the status of `faceIDs` in one transaction and records the faces that changed.
    /// Unknown ids are an error and nothing changes. Rejecting never deletes: the face, its crop and
    /// its signatures stay, and `restore` or `undo` bring it back.
    public func setStatus(_ status: FaceStatus, faceIDs: [Int64], command: String) throws -> CurationChangeSummary {
        try recordChange(command: command, faceIDs: faceIDs) { db, ids in
            var current: [Int64: String] = [:]
            try forChunks(ids) { chunk in
                for r in try Row.fetchAll(db,
                                          sql: "SELECT id, status FROM face WHERE id IN (\(placeholders(chunk.count)))",
                                          arguments: StatementArguments(chunk)) {
                    current[r["id"]] = r["status"]
                }
            }
            try self.requireKnown(ids, known: Set(current.keys))
            let toChange = ids.filter { current[$0] != status.rawValue }
            return (toChange, { changeId in
                let upd = try db.cachedStatement(sql: "UPDATE face SET status = ? WHERE id = ?")
                let rec = try db.cachedStatement(sql: "INSERT INTO curation_change_face(change_id, face_id, field, "
                                                      + "old_value, new_value) VALUES (?, ?, 'status', ?, ?)")
                for id in toChange {
                    try upd.execute(arguments: [status.rawValue, id])
                    try rec.execute(arguments: [changeId, id, current[id]!, status.rawValue])
                }
            })
        }
    }

    /// Adds (or with `remove`, removes) `tag` on `faceIDs` in one transaction, recording the faces that changed.
    public func setTag(_ tag: String, on faceIDs: [Int64], remove: Bool = false,
                       command: String) throws -> CurationChangeSummary {
        let tag = tag.trimmingCharacters(in: .whitespaces)
        guard !tag.isEmpty, !tag.contains(","), !tag.contains(where: \.isNewline) else {
            throw FacetError("tag '\(tag)': a tag is a non-empty word without commas or line breaks")
        }
        // `tag PROJECT 12 13` would otherwise tag face 13 with "12": a tag never reads as face ids.
        guard tag.contains(where: { !$0.isNumber && $0 != "-" }) else {
            throw FacetError("tag '\(tag)': a tag is a word, not a number or an id range (the tag comes first, "
                             + "then the face ids)")
        }
        return try recordChange(command: command, faceIDs: faceIDs) { db, ids in
            var known = Set<Int64>(), tagged = Set<Int64>()
            try forChunks(ids) { chunk in
                let args = StatementArguments(chunk)
                known.formUnion(try Int64.fetchAll(db,
                                                   sql: "SELECT id FROM face WHERE id IN "
                                                        + "(\(placeholders(chunk.count)))", arguments: args))
                tagged.formUnion(try Int64.fetchAll(db,
                                                    sql: "SELECT face_id FROM face_tag WHERE tag = ? AND face_id IN "
                                                         + "(\(placeholders(chunk.count)))",
                                                    arguments: [tag] + args))
            }
            try self.requireKnown(ids, known: known)
            let toChange = ids.filter { tagged.contains($0) == remove }
            return (toChange, { changeId in
                let change = try db.cachedStatement(sql: remove ? "DELETE FROM face_tag WHERE face_id = "
                                                                  + "? AND tag = ?" : "INSERT INTO face_tag(face_id, "
                                                                                      + "tag) VALUES (?, ?)")
                let rec = try db.cachedStatement(sql: "INSERT INTO curation_change_face(change_id, face_id, field, "
                                                      + "old_value, new_value) VALUES (?, ?, ?, NULL, ?)")
                for id in toChange {
                    try change.execute(arguments: [id, tag])
                    try rec.execute(arguments: [changeId, id, remove ? "tag-" : "tag+", tag])
                }
            })
        }
    }

    /// Reverts the most recent change not yet undone, in one transaction; nil when there is none.
    /// Each face goes back to its value before the change (a later change to the same face that was
    /// itself undone first, as undo works backwards).
    public func undoLastChange() throws -> UndoSummary? {
        try write("undo") { db in
            guard let row = try Row.fetchOne(db,
                                             sql: "SELECT id, command, made_at FROM curation_change WHERE undone_at IS "
                                                  + "NULL ORDER BY id DESC LIMIT 1") else {
                return nil
            }
            let changeId: Int64 = row["id"]
            var faces: [Int64] = []
            for r in try Row.fetchAll(db,
                                      sql: "SELECT face_id, field, old_value, "
                                           + "new_value FROM curation_change_face WHERE change_id = ? ORDER BY rowid",
                                           arguments: [changeId]) {
                let id: Int64 = r["face_id"], field: String = r["field"]
                switch field {
                case "status": try db.execute(sql: "UPDATE face SET status = ? WHERE id = ?",
                                              arguments: [r["old_value"] as String, id])
                case "tag+": try db.execute(sql: "DELETE FROM face_tag WHERE face_id = ? AND tag = ?",
                                            arguments: [id, r["new_value"] as String])
                default: try db.execute(sql: "INSERT OR IGNORE INTO face_tag(face_id, tag) VALUES (?, ?)",
                                        arguments: [id, r["new_value"] as String])
                }
                faces.append(id)
            }
            faces += try Self.restoreMaskChange(db, changeId: changeId, undo: true)
            try db.execute(sql: "UPDATE curation_change SET undone_at = ? WHERE id = ?",
                           arguments: [isoNow(), changeId])
            return UndoSummary(changeId: changeId, command: row["command"], madeAt: row["made_at"], faces: faces)
        }
    }

    /// Applies again the change most recently undone, in one transaction; nil when there is none to
    /// redo. A change made after an undo ends what can be redone (as in an editor): `blockedBy` then
    /// names it and nothing changes.
    public func redoLastUndo() throws -> (redone: UndoSummary?, blockedBy: Int64?) {
        try write("redo") { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT id, command, made_at FROM curation_change WHERE undone_at IS NOT NULL \
                ORDER BY undone_at DESC, id ASC LIMIT 1
                """) else { return (nil, nil) }
            let changeId: Int64 = row["id"]
            if let later = try Int64.fetchOne(db,
                                              sql: "SELECT max(id) FROM curation_change WHERE undone_at IS "
                                                   + "NULL AND id > ?",
                                              arguments: [changeId]) {
                return (nil, later)
            }
            var faces: [Int64] = []
            for r in try Row.fetchAll(db,
                                      sql: "SELECT face_id, field, new_value FROM curation_change_face WHERE change_id "
                                           + "= ? ORDER BY rowid",
                                      arguments: [changeId]) {
                let id: Int64 = r["face_id"], field: String = r["field"], value: String = r["new_value"]
                switch field {
                case "status": try db.execute(sql: "UPDATE face SET status = ? WHERE id = ?", arguments: [value, id])
                case "tag+": try db.execute(sql: "INSERT OR IGNORE INTO face_tag(face_id, tag) VALUES (?, ?)",
                                            arguments: [id, value])
                default: try db.execute(sql: "DELETE FROM face_tag WHERE face_id = ? AND tag = ?",
                                        arguments: [id, value])
                }
                faces.append(id)
            }
            faces += try Self.restoreMaskChange(db, changeId: changeId, undo: false)
            try db.execute(sql: "UPDATE curation_change SET undone_at = NULL WHERE id = ?", arguments: [changeId])
            return (UndoSummary(changeId: changeId, command: row["command"], madeAt: row["made_at"], faces: faces), nil)
        }
    }

    /// Every face tag with its face count per role and status (`facet tags`, `facet info`).
    public func tagCounts() throws -> [TagCount] {
        try read { db in
            var byTag: [String: TagCount] = [:]
            for r in try Row.fetchAll(db, sql: """
                SELECT t.tag, f.role, f.status, count(*) AS n FROM face_tag t JOIN face f ON f.id = t.face_id \
                GROUP BY 1, 2, 3
                """) {
                let tag: String = r["tag"], n: Int = r["n"], role: String = r["role"], status: String = r["status"]
                var c = byTag[tag] ?? TagCount(tag: tag, faces: 0, src: 0, dst: 0, kept: 0)
                c.faces += n
                if role == Role.src.rawValue { c.src += n } else { c.dst += n }
                if status == FaceStatus.kept.rawValue { c.kept += n }
                byTag[tag] = c
            }
            return byTag.values.sorted { $0.tag < $1.tag }
        }
    }

    /// The latest curation changes, newest first.
    public func curationHistory(limit: Int = 20) throws -> [CurationChangeRecord] {
        try read { db in
            let masks = try db.tableExists("curation_change_mask")
            return try Row.fetchAll(db, sql: """
                SELECT c.id, c.command, c.made_at, c.undone_at,
                       (SELECT count(DISTINCT face_id) FROM curation_change_face f WHERE f.change_id = c.id)
                       + \(masks ? "(SELECT count(*) FROM curation_change_mask m WHERE m.change_id = c.id)" : "0") AS n
                FROM curation_change c ORDER BY c.id DESC LIMIT ?
                """, arguments: [limit]).map { r in
                CurationChangeRecord(id: r["id"], command: r["command"], madeAt: r["made_at"], undoneAt: r["undone_at"],
                                     faces: r["n"])
            }
        }
    }

    /// Tags of the given faces, keyed by id (faces without tags are absent).
    public func tags(faceIDs: [Int64]) throws -> [Int64: [String]] {
        try read { db in
            var out: [Int64: [String]] = [:]
            try forChunks(faceIDs) { chunk in
                for r in try Row.fetchAll(db,
                                          sql: "SELECT face_id, tag FROM face_tag WHERE face_id IN "
                                               + "(\(placeholders(chunk.count))) ORDER BY tag",
                                          arguments: StatementArguments(chunk)) {
                    out[r["face_id"], default: []].append(r["tag"])
                }
            }
            return out
        }
    }

    /// Every tag in the project with its face count, by name.
    public func allTags() throws -> [(tag: String, faces: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT tag, count(*) AS n FROM face_tag GROUP BY tag ORDER BY tag").map {
                ($0["tag"], $0["n"])
            }
        }
    }

    /// The shared shape of a change: inside one write transaction, `plan` reads the current state and
    /// returns the faces to change and how; a change row is recorded only when something changes.
    private func recordChange(command: String, faceIDs: [Int64],
                              _ plan: @escaping (Database, [Int64]) throws -> ([Int64], (Int64) throws -> Void))
        throws -> CurationChangeSummary {
        var seen = Set<Int64>()
        let ids = faceIDs.filter { seen.insert($0).inserted }
        return try write(command) { db in
            let (toChange, apply) = try plan(db, ids)
            guard !toChange.isEmpty else {
                return CurationChangeSummary(changeId: nil, command: command, changed: [], unchanged: ids.count)
            }
            try db.execute(sql: "INSERT INTO curation_change(command, made_at) VALUES (?, ?)",
                           arguments: [command, isoNow()])
            let changeId = db.lastInsertedRowID
            try apply(changeId)
            return CurationChangeSummary(changeId: changeId, command: command, changed: toChange,
                                         unchanged: ids.count - toChange.count)
        }
    }

    private func requireKnown(_ ids: [Int64], known: Set<Int64>) throws {
        let unknown = ids.filter { !known.contains($0) }
        guard unknown.isEmpty else {
            let shown = unknown.prefix(5).map(String.init).joined(separator: ", ")
                + (unknown.count > 5 ? ", ... (\(unknown.count) in all)" : "")
            throw FacetError.file(path, "has no face \(shown); nothing changed", kind: .notFound)
        }
    }
}

/// `?, ?, ?` for an IN list.
func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ", ") }

/// Calls `body` on slices of at most 500 ids (well under SQLite's bound-parameter limit).
func forChunks(_ ids: [Int64], _ body: ([Int64]) throws -> Void) rethrows {
    var i = 0
    while i < ids.count {
        try body(Array(ids[i..<min(ids.count, i + 500)]))
        i += 500
    }
}
