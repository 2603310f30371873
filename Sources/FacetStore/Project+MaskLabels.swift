/// Hand-drawn mask labels: each face's include and exclude polygons, every change recorded in the curation history
/// so `undo` and `redo` take it back and forth like a reject or a tag.
import Foundation
import GRDB
import FacetCore

/// A face's labels and when they last changed.
public struct MaskLabelState: Sendable, Equatable {
    /// The face's polygons in drawing order (empty: not labelled).
    public var polygons: [MaskPolygon]
    /// The project-wide label revision of the face's last change (0: never labelled).
    public var revision: Int64
}

extension Project {
    /// The polygons of the given faces, keyed by id, in drawing order (unlabelled faces are absent).
    public func maskPolygons(faceIDs: [Int64]) throws -> [Int64: [MaskPolygon]] {
        try read { db in
            guard try db.tableExists("mask_polygon") else { return [:] }
            return try Self.polygons(db, faceIDs: faceIDs)
        }
    }

    /// The label revision of each given face that was ever labelled (absent: never). A face's revision changes
    /// with every change to its labels (set, cleared, undone, redone) and is then above every other in the
    /// project: a predicted mask made at revision r is out of date when its face's revision is no longer r.
    public func maskLabelRevisions(faceIDs: [Int64]) throws -> [Int64: Int64] {
        try read { db in
            guard try db.tableExists("mask_label") else { return [:] }
            var out: [Int64: Int64] = [:]
            try forChunks(faceIDs) { chunk in
                for r in try Row.fetchAll(db, sql: "SELECT face_id, revision FROM mask_label WHERE face_id IN "
                                                   + "(\(placeholders(chunk.count)))",
                                          arguments: StatementArguments(chunk)) {
                    out[r["face_id"]] = r["revision"]
                }
            }
            return out
        }
    }

    /// The project's latest label revision (0 when no label was ever made).
    public func maskLabelRevision() throws -> Int64 {
        try read { db in
            guard try db.tableExists("mask_label") else { return 0 }
            return try Int64.fetchOne(db, sql: "SELECT coalesce(max(revision), 0) FROM mask_label") ?? 0
        }
    }

    /// Faces with at least one polygon, of `role` (nil: both) and `status` (nil: every status), by id.
    public func labelledFaceIDs(role: Role? = nil, status: FaceStatus? = nil) throws -> [Int64] {
        try read { db in
            guard try db.tableExists("mask_polygon") else { return [] }
            var sql = "SELECT id FROM face WHERE EXISTS (SELECT 1 FROM mask_polygon m WHERE m.face_id = face.id)"
            var args: StatementArguments = []
            if let role { sql += " AND role = ?"; args += [role.rawValue] }
            if let status { sql += " AND status = ?"; args += [status.rawValue] }
            return try Int64.fetchAll(db, sql: sql + " ORDER BY id", arguments: args)
        }
    }

    /// Replaces one face's polygons (empty: clears them) as one undoable change; see `setMaskPolygons(_:command:)`.
    @discardableResult
    public func setMaskPolygons(faceID: Int64, polygons: [MaskPolygon],
                                command: String) throws -> CurationChangeSummary {
        try setMaskPolygons([(faceID, polygons)], command: command)
    }

    /// Replaces the polygons of each listed face (empty: clears them) in one transaction, recorded as one change
    /// that `undo` reverts. Corners are stored as float32. Everything is checked first: an unknown face, a face
    /// listed twice, a polygon with fewer than 3 points or a point outside the face's crop is an error naming
    /// `origin(i)` (the i-th entry's place, e.g. a label file's line; by default "face ID"), and nothing changes.
    /// Faces whose polygons are already the given ones count as unchanged.
    @discardableResult
    public func setMaskPolygons(_ labels: [(faceID: Int64, polygons: [MaskPolygon])], command: String,
                                origin: (@Sendable (Int) -> String)? = nil) throws -> CurationChangeSummary {
        let place: @Sendable (Int) -> String = origin ?? { [labels] i in "face \(labels[i].faceID)" }
        var seen: [Int64: Int] = [:]
        for (i, entry) in labels.enumerated() {
            if let first = seen[entry.faceID] {
                throw FacetError("\(place(i)): face \(entry.faceID) is listed twice (also at \(place(first))); "
                                 + "nothing changed")
            }
            seen[entry.faceID] = i
            guard entry.polygons.count <= MaskPolygon.maxPolygons else {
                throw FacetError("\(place(i)): \(entry.polygons.count) polygons; a face may have at most "
                                 + "\(MaskPolygon.maxPolygons); nothing changed")
            }
        }
        let entries = labels.map { ($0.faceID, $0.polygons.map(\.stored)) }
        let ids = entries.map(\.0)
        return try write(command) { db in
            var cropSizes: [Int64: Int] = [:]
            try forChunks(ids) { chunk in
                for r in try Row.fetchAll(db, sql: "SELECT id, crop_size FROM face WHERE id IN "
                                                   + "(\(placeholders(chunk.count)))",
                                          arguments: StatementArguments(chunk)) {
                    cropSizes[r["id"]] = r["crop_size"]
                }
            }
            for (i, (id, polygons)) in entries.enumerated() {
                guard let size = cropSizes[id] else {
                    throw origin == nil
                        ? FacetError.file(self.path, "has no face \(id); nothing changed", kind: .notFound)
                        : FacetError("\(place(i)): face \(id) is not in \(self.path); nothing changed", kind: .notFound)
                }
                for (k, p) in polygons.enumerated() {
                    if let problem = p.problem(cropSize: size) {
                        throw FacetError("\(place(i)): face \(id), polygon \(k + 1) \(problem); nothing changed")
                    }
                }
            }
            let current = try Self.polygons(db, faceIDs: ids)
            let toChange = entries.filter { current[$0.0, default: []] != $0.1 }
            guard !toChange.isEmpty else {
                return CurationChangeSummary(changeId: nil, command: command, changed: [], unchanged: ids.count)
            }
            try db.execute(sql: "INSERT INTO curation_change(command, made_at) VALUES (?, ?)",
                           arguments: [command, isoNow()])
            let changeId = db.lastInsertedRowID
            let rec = try db.cachedStatement(sql: "INSERT INTO curation_change_mask(change_id, face_id, "
                                                  + "old_polygons, new_polygons) VALUES (?, ?, ?, ?)")
            for (id, polygons) in toChange {
                try rec.execute(arguments: [changeId, id, MaskLabels.json(current[id, default: []]),
                                            MaskLabels.json(polygons)])
            }
            try Self.replacePolygons(db, toChange)
            return CurationChangeSummary(changeId: changeId, command: command, changed: toChange.map(\.0),
                                         unchanged: ids.count - toChange.count)
        }
    }

    /// Faces with labels of each role, for the gallery's count and `facet info`.
    public func labelledFaceCounts() throws -> (src: Int, dst: Int) {
        try read { db in
            guard try db.tableExists("mask_polygon") else { return (0, 0) }
            var out = (src: 0, dst: 0)
            for r in try Row.fetchAll(db, sql: """
                SELECT role, count(*) AS n FROM face
                WHERE EXISTS (SELECT 1 FROM mask_polygon m WHERE m.face_id = face.id) GROUP BY role
                """) {
                if (r["role"] as String) == Role.src.rawValue { out.src = r["n"] } else { out.dst = r["n"] }
            }
            return out
        }
    }

    /// The labelled face nearest before `faceID` (or after it, `forward`) in the same track, else among the same
    /// person's faces, else in the same media (in media, frame and face order), with which of the three it came by
    /// (`track`, `person`, `media`); nil when there is none. Where the gallery copies labels from.
    public func neighbourLabelledFace(of faceID: Int64, forward: Bool) throws -> (id: Int64, via: String)? {
        try read { db in
            guard try db.tableExists("mask_polygon"),
                  let me = try Row.fetchOne(db, sql: "SELECT * FROM face WHERE id = ?", arguments: [faceID]) else {
                return nil
            }
            let labelled = "EXISTS (SELECT 1 FROM mask_polygon m WHERE m.face_id = face.id)"
            let cmp = forward ? ">" : "<", dir = forward ? "ASC" : "DESC"
            let order = "(media_id, frame_index, face_index) \(cmp) (?, ?, ?)"
            let here: StatementArguments = [me["media_id"] as Int64, me["frame_index"] as Int, me["face_index"] as Int]
            var tries: [(String, String, StatementArguments)] = []
            if let track = me["track_id"] as Int64? { tries.append(("track", "track_id = ?", [track])) }
            if let person = me["person_id"] as Int64? { tries.append(("person", "person_id = ?", [person])) }
            tries.append(("media", "media_id = ? AND role = ?", [me["media_id"] as Int64, me["role"] as String]))
            for (via, filter, args) in tries {
                if let id = try Int64.fetchOne(db, sql: """
                    SELECT id FROM face WHERE \(filter) AND \(labelled) AND \(order)
                    ORDER BY media_id \(dir), frame_index \(dir), face_index \(dir) LIMIT 1
                    """, arguments: args + here) {
                    return (id, via)
                }
            }
            return nil
        }
    }

    /// Reads the polygons of `faceIDs` inside a transaction.
    static func polygons(_ db: Database, faceIDs: [Int64]) throws -> [Int64: [MaskPolygon]] {
        var out: [Int64: [MaskPolygon]] = [:]
        try forChunks(faceIDs) { chunk in
            for r in try Row.fetchAll(db, sql: "SELECT face_id, kind, points FROM mask_polygon WHERE face_id IN "
                                               + "(\(placeholders(chunk.count))) ORDER BY face_id, ord",
                                      arguments: StatementArguments(chunk)) {
                let values = unpackFloat32(r["points"])
                let points = stride(from: 0, to: values.count - 1, by: 2).map {
                    Point2(Double(values[$0]), Double(values[$0 + 1]))
                }
                let kind = MaskPolygon.Kind(rawValue: r["kind"]) ?? .include
                out[r["face_id"], default: []].append(MaskPolygon(kind: kind, points: points))
            }
        }
        return out
    }

    /// Writes each face's polygons in place of its old ones and gives each a new label revision.
    static func replacePolygons(_ db: Database, _ entries: [(Int64, [MaskPolygon])]) throws {
        var revision = try Int64.fetchOne(db, sql: "SELECT coalesce(max(revision), 0) FROM mask_label") ?? 0
        let clear = try db.cachedStatement(sql: "DELETE FROM mask_polygon WHERE face_id = ?")
        let insert = try db.cachedStatement(sql: "INSERT INTO mask_polygon(face_id, ord, kind, points) "
                                                 + "VALUES (?, ?, ?, ?)")
        let mark = try db.cachedStatement(sql: "INSERT INTO mask_label(face_id, revision, changed_at) VALUES (?, ?, ?) "
                                               + "ON CONFLICT(face_id) DO UPDATE SET revision = excluded.revision, "
                                               + "changed_at = excluded.changed_at")
        let now = isoNow()
        for (id, polygons) in entries {
            try clear.execute(arguments: [id])
            for (k, p) in polygons.enumerated() {
                try insert.execute(arguments: [id, k, p.kind.rawValue,
                                               packFloat32(p.points.flatMap { [Float($0.x), Float($0.y)] })])
            }
            revision += 1
            try mark.execute(arguments: [id, revision, now])
        }
    }

    /// Puts back one side (`old_polygons` for undo, `new_polygons` for redo) of a recorded labels change; returns
    /// the faces it touched.
    static func restoreMaskChange(_ db: Database, changeId: Int64, undo: Bool) throws -> [Int64] {
        guard try db.tableExists("curation_change_mask") else { return [] }
        let column = undo ? "old_polygons" : "new_polygons"
        var entries: [(Int64, [MaskPolygon])] = []
        for r in try Row.fetchAll(db, sql: "SELECT face_id, \(column) AS p FROM curation_change_mask "
                                           + "WHERE change_id = ? ORDER BY face_id", arguments: [changeId]) {
            entries.append((r["face_id"], try MaskLabels.polygons(json: r["p"])))
        }
        try replacePolygons(db, entries)
        return entries.map(\.0)
    }
}
