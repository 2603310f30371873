/// Named merge configurations (`merge_config`): the settings of a merge, kept so a result can be reproduced.
import Foundation
import GRDB
import FacetCore

/// A saved set of merge settings and the checkpoint they were used with.
public struct MergeConfigRecord: Sendable, Equatable {
    /// The configuration's row id.
    public var id: Int64
    /// Its name (what `merge --from-config` takes).
    public var name: String
    /// The checkpoint it was used with (nil: none recorded, or deleted since).
    public var checkpointId: Int64?
    /// The merge options as JSON (FacetMerge's `MergeOptions`).
    public var optionsJSON: String
    /// When it was saved (ISO 8601, UTC).
    public var createdAt: String
}

extension Project {
    /// Saves `optionsJSON` under `name`, replacing an earlier configuration of that name, in one
    /// transaction. `checkpointId`, when given, must exist.
    @discardableResult
    public func saveMergeConfig(name: String, checkpointId: Int64?, optionsJSON: String) throws -> MergeConfigRecord {
        guard !name.isEmpty else { throw FacetError("a merge configuration needs a name") }
        return try write("saving merge configuration '\(name)'") { db in
            if let c = checkpointId,
                try Int.fetchOne(db, sql: "SELECT 1 FROM checkpoint WHERE id = ?", arguments: [c]) == nil {
                throw FacetError.file(self.path, "has no checkpoint \(c)", kind: .notFound)
            }
            try db.execute(sql: """
                INSERT INTO merge_config(name, checkpoint_id, options_json, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(name) DO UPDATE SET checkpoint_id = excluded.checkpoint_id,
                    options_json = excluded.options_json, created_at = excluded.created_at
                """, arguments: [name, checkpointId, optionsJSON, isoNow()])
            let row = try Row.fetchOne(db, sql: "SELECT * FROM merge_config WHERE name = ?", arguments: [name])!
            return MergeConfigRecord(row)
        }
    }

    /// The configuration saved under `name`, or nil.
    public func mergeConfig(named name: String) throws -> MergeConfigRecord? {
        try read {
            db in try Row.fetchOne(db, sql: "SELECT * FROM merge_config WHERE name = ?",
                                   arguments: [name]).map(MergeConfigRecord.init)
        }
    }

    /// Every saved configuration, oldest first.
    public func mergeConfigs() throws -> [MergeConfigRecord] {
        try read {
            db in try Row.fetchAll(db, sql: "SELECT * FROM merge_config ORDER BY id").map(MergeConfigRecord.init)
        }
    }
}

extension MergeConfigRecord {
    init(_ row: Row) {
        id = row["id"]; name = row["name"]; checkpointId = row["checkpoint_id"]
        optionsJSON = row["options_json"]; createdAt = row["created_at"]
    }
}
