/// Swap scores in the project file: how a checkpoint swaps held-out dst faces (identity, expression,
/// detail), one row per checkpoint and metric (`checkpoint_score`, schema 11).
import Foundation
import GRDB
import FacetCore

/// The stored scores of one checkpoint: metric name to value, and how many faces they came from.
public struct CheckpointScores: Sendable, Equatable {
    /// Metric name to value.
    public var values: [String: Double]
    /// Held-out dst faces swapped for these scores.
    public var faces: Int

    /// Scores from `values` over `faces` faces.
    public init(values: [String: Double], faces: Int) { self.values = values; self.faces = faces }
}

extension Project {
    /// Whether the file has the score table (schema 11 and later).
    func hasScoreTable(_ db: Database) throws -> Bool { try db.tableExists("checkpoint_score") }

    /// Replaces the stored scores of `checkpointId` with `scores`, in one transaction.
    public func storeScores(checkpointId: Int64, _ scores: CheckpointScores) throws {
        _ = try checkpoint(id: checkpointId)
        let finite = scores.values.filter { $0.value.isFinite }
        try write("saving the checkpoint's swap scores") { db in
            try db.execute(sql: "DELETE FROM checkpoint_score WHERE checkpoint_id = ?", arguments: [checkpointId])
            for (metric, value) in finite.sorted(by: { $0.key < $1.key }) {
                try db.execute(sql: "INSERT INTO checkpoint_score (checkpoint_id, metric, value, faces) VALUES (?, ?, ?, ?)",
                               arguments: [checkpointId, metric, value, scores.faces])
            }
        }
    }

    /// The stored scores of the given checkpoints (all when nil), by checkpoint id; checkpoints never
    /// scored are absent, and so is everything in a file made before scores were stored.
    public func scores(checkpointIds: [Int64]? = nil) throws -> [Int64: CheckpointScores] {
        try read { db in
            guard try self.hasScoreTable(db) else { return [:] }
            var out: [Int64: CheckpointScores] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT checkpoint_id, metric, value, faces FROM checkpoint_score") {
                let id: Int64 = r["checkpoint_id"]
                if let ids = checkpointIds, !ids.contains(id) { continue }
                out[id, default: CheckpointScores(values: [:], faces: r["faces"])].values[r["metric"]] = r["value"]
            }
            return out
        }
    }
}
