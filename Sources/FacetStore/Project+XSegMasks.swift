/// The segmenter's predicted masks in the project file (`face_xseg_mask`, schema 17): one 8-bit grey PNG per
/// face with the xseg checkpoint that made it and the revision of the face's labels it saw.
import Foundation
import GRDB
import FacetCore

/// The architecture name of the segmenter's models (`model.architecture`), apart from the swap models.
public let xsegArchitecture = "xseg"

/// One face's predicted mask as stored.
public struct PredictedMask: Sendable, Equatable {
    /// The face it belongs to.
    public var faceId: Int64
    /// The xseg checkpoint that predicted it (nil once that checkpoint is gone).
    public var checkpointId: Int64?
    /// The revision of the face's mask labels when it was predicted ('' for a face without labels).
    public var labelRevision: String
    /// Side of the square mask, in pixels (the network's resolution).
    public var size: Int
    /// The mask as an 8-bit grey PNG, 255 where the face is uncovered.
    public var png: Data
    /// When it was predicted (ISO 8601, UTC).
    public var predictedAt: String

    /// A mask with each field given (`predictedAt` defaults to now).
    public init(faceId: Int64, checkpointId: Int64?, labelRevision: String, size: Int, png: Data,
                predictedAt: String? = nil) {
        self.faceId = faceId; self.checkpointId = checkpointId; self.labelRevision = labelRevision
        self.size = size; self.png = png; self.predictedAt = predictedAt ?? isoNow()
    }
}

/// What `xseg apply` needs to know of a face's stored mask to decide whether to predict it again.
public struct PredictedMaskState: Sendable, Equatable {
    /// The checkpoint that made it (nil once that checkpoint is gone).
    public var checkpointId: Int64?
    /// The label revision it saw.
    public var labelRevision: String
}

extension Project {
    /// Whether the file has the predicted-mask table (schema 17 and later; older files are upgraded on open).
    func hasPredictedMaskTable(_ db: Database) throws -> Bool { try db.tableExists("face_xseg_mask") }

    /// Stores (or replaces) the given faces' predicted masks in one transaction: a kill loses at most this batch.
    public func storePredictedMasks(_ masks: [PredictedMask]) throws {
        guard !masks.isEmpty else { return }
        try write("saving predicted masks") { db in
            let stmt = try db.cachedStatement(sql: """
                INSERT OR REPLACE INTO face_xseg_mask (face_id, checkpoint_id, label_revision, size, data, predicted_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """)
            for m in masks {
                try stmt.execute(arguments: [m.faceId, m.checkpointId, m.labelRevision, m.size, m.png, m.predictedAt])
            }
        }
    }

    /// The predicted mask of a face, nil when it has none (never applied, or a file made before masks were stored).
    public func predictedMask(faceID: Int64) throws -> PredictedMask? {
        try read { db in
            guard try self.hasPredictedMaskTable(db),
                  let r = try Row.fetchOne(db, sql: """
                      SELECT face_id, checkpoint_id, label_revision, size, data, predicted_at FROM face_xseg_mask
                      WHERE face_id = ?
                      """, arguments: [faceID]) else { return nil }
            return PredictedMask(faceId: r["face_id"], checkpointId: r["checkpoint_id"],
                                 labelRevision: r["label_revision"], size: r["size"], png: r["data"],
                                 predictedAt: r["predicted_at"])
        }
    }

    /// Checkpoint and label revision of every stored predicted mask of `role`'s faces (all roles when nil), by face.
    public func predictedMaskStates(role: Role? = nil) throws -> [Int64: PredictedMaskState] {
        try read { db in
            guard try self.hasPredictedMaskTable(db) else { return [:] }
            var sql = "SELECT m.face_id, m.checkpoint_id, m.label_revision FROM face_xseg_mask m"
            var args: StatementArguments = []
            if let role {
                sql += " JOIN face f ON f.id = m.face_id WHERE f.role = ?"
                args = [role.rawValue]
            }
            var out: [Int64: PredictedMaskState] = [:]
            for r in try Row.fetchAll(db, sql: sql, arguments: args) {
                out[r["face_id"]] = PredictedMaskState(checkpointId: r["checkpoint_id"],
                                                       labelRevision: r["label_revision"])
            }
            return out
        }
    }

    /// Checkpoint and label revision of the stored predicted masks of the given faces, by face (faces without one
    /// are absent).
    public func predictedMaskStates(faceIDs: [Int64]) throws -> [Int64: PredictedMaskState] {
        try read { db in
            guard try self.hasPredictedMaskTable(db) else { return [:] }
            var out: [Int64: PredictedMaskState] = [:]
            try forChunks(faceIDs) { chunk in
                for r in try Row.fetchAll(db, sql: "SELECT face_id, checkpoint_id, label_revision FROM face_xseg_mask "
                                                   + "WHERE face_id IN (\(placeholders(chunk.count)))",
                                          arguments: StatementArguments(chunk)) {
                    out[r["face_id"]] = PredictedMaskState(checkpointId: r["checkpoint_id"],
                                                           labelRevision: r["label_revision"])
                }
            }
            return out
        }
    }

    /// The label revision `xseg apply` would record for each given face now: the revision of its labels (as text)
    /// where it has polygons, '' where it has none. A stored mask whose `labelRevision` differs is out of date.
    public func labelRevisionsNow(faceIDs: [Int64]) throws -> [Int64: String] {
        let polygons = try maskPolygons(faceIDs: faceIDs)
        let labelled = faceIDs.filter { !(polygons[$0] ?? []).isEmpty }
        let revisions = try maskLabelRevisions(faceIDs: labelled)
        var out: [Int64: String] = [:]
        for id in faceIDs { out[id] = "" }
        for id in labelled { out[id] = revisions[id].map { String($0) } ?? "" }
        return out
    }

    /// How many faces of `role` (all when nil) have a predicted mask.
    public func predictedMaskCount(role: Role? = nil) throws -> Int {
        try predictedMaskStates(role: role).count
    }
}
