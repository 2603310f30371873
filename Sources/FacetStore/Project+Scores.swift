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

extension CheckpointScores {
    /// The eyes+mouth landmark error (in eye distances) at which the combined score's expression term reaches 0.
    public static let expressionScale = 0.2
    /// The gap of mean distances (to the dst minus to the src) over which the identity margin goes from 0 to 1.
    public static let identityMarginScale = 0.4

    /// The combined swap score `best` follows under `--best-by swap` (README "Swap scores"), 0...1, higher better:
    /// identity x (expression + detail) / 2. Identity is the mean of the src share and the distance margin
    /// 0.5 + (to_dst - to_src) / 0.4 (clamped to 0...1, so it moves before the share does), times the share of the
    /// swapped faces found again; expression is 1 - eyes_mouth / 0.2 (at least 0); detail is the merged-over-
    /// original sharpness (at most 1). A swap that is not the src person scores 0 however sharp; nil when a
    /// measure is missing.
    public var combined: Double? {
        guard faces > 0 else { return nil }
        if found == 0 { return values["missed"] == nil ? nil : 0 }
        guard let identity, let expression, let detailTerm else { return nil }
        return identity * (expression + detailTerm) / 2
    }

    /// Faces found again in the merged frames.
    var found: Double { max(0, Double(faces) - (values["missed"] ?? 0)) }

    /// The combined score's identity term, 0...1: the mean of the src share and the distance margin, times the
    /// share of the faces found again.
    public var identity: Double? {
        guard faces > 0, let share = values["identity_src_share"], let toSrc = values["identity_to_src"],
              let toDst = values["identity_to_dst"] else { return nil }
        let margin = min(1, max(0, 0.5 + (toDst - toSrc) / Self.identityMarginScale))
        return (share + margin) / 2 * found / Double(faces)
    }

    /// The combined score's expression term, 0...1: 1 - eyes_mouth / 0.2, at least 0.
    public var expression: Double? { values["eyes_mouth"].map { max(0, 1 - $0 / Self.expressionScale) } }

    /// The combined score's detail term, 0...1: the merged-over-original sharpness, at most 1.
    public var detailTerm: Double? { values["detail"].map { min(max($0, 0), 1) } }
}

/// What the alias `best` follows for a model (`facet checkpoints --best-by`, stored per model).
public enum BestBy: String, Codable, Sendable, CaseIterable {
    /// The lowest held-out loss (the default).
    case valLoss = "val_loss"
    /// The highest combined swap score (`CheckpointScores.combined`) among the scored checkpoints.
    case swap
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
                try db.execute(sql: "INSERT INTO checkpoint_score (checkpoint_id, metric, value, faces) VALUES "
                                    + "(?, ?, ?, ?)",
                               arguments: [checkpointId, metric, value, scores.faces])
            }
        }
    }

    /// The stored scores of the given checkpoints (all when nil), by checkpoint id; checkpoints never
    /// scored are absent, and so is everything in a file made before scores were stored.
    public func scores(checkpointIds: [Int64]? = nil) throws -> [Int64: CheckpointScores] {
        try read { db in try self.scores(db, checkpointIds: checkpointIds) }
    }

    /// `scores(checkpointIds:)` inside a read, the ids filtered by SQLite.
    func scores(_ db: Database, checkpointIds: [Int64]?) throws -> [Int64: CheckpointScores] {
        guard try hasScoreTable(db) else { return [:] }
        var out: [Int64: CheckpointScores] = [:]
        let rows: [Row]
        if let ids = checkpointIds {
            guard !ids.isEmpty else { return [:] }
            // Bound as one JSON array, so any number of ids is one statement.
            let list = "[" + ids.map(String.init).joined(separator: ",") + "]"
            rows = try Row.fetchAll(db, sql: """
                SELECT checkpoint_id, metric, value, faces FROM checkpoint_score
                WHERE checkpoint_id IN (SELECT value FROM json_each(?))
                """, arguments: [list])
        } else {
            rows = try Row.fetchAll(db, sql: "SELECT checkpoint_id, metric, value, faces FROM checkpoint_score")
        }
        for r in rows {
            let id: Int64 = r["checkpoint_id"]
            out[id, default: CheckpointScores(values: [:], faces: r["faces"])].values[r["metric"]] = r["value"]
        }
        return out
    }

    /// What `best` follows for model `modelId`: `.valLoss` unless set (and in a file made before it could be).
    public func bestBy(modelId: Int64) throws -> BestBy {
        try read { db in
            guard try db.tableExists("model_best_by"),
                  let text = try String.fetchOne(db, sql: "SELECT best_by FROM model_best_by WHERE model_id = ?",
                                                 arguments: [modelId])
            else { return .valLoss }
            return BestBy(rawValue: text) ?? .valLoss
        }
    }

    /// Makes `best` of model `modelId` follow `bestBy` from now on.
    public func setBestBy(_ bestBy: BestBy, modelId: Int64) throws {
        try write("choosing what best follows") { db in
            guard try Int64.fetchOne(db, sql: "SELECT id FROM model WHERE id = ?", arguments: [modelId]) != nil else {
                throw FacetError.file(self.path, "has no model \(modelId)", kind: .notFound)
            }
            try db.execute(sql: "INSERT OR REPLACE INTO model_best_by (model_id, best_by) VALUES (?, ?)",
                           arguments: [modelId, bestBy.rawValue])
        }
    }

    /// The model's checkpoints with weights in the order `best` takes them, best first, by the model's `bestBy`:
    /// by held-out loss (lowest first, the later iteration on a tie), or by combined swap score (highest first)
    /// with the unscored ones after, by held-out loss. Checkpoints without the measure come last, latest first.
    public func bestRanking(modelId: Int64) throws -> [CheckpointRecord] {
        let live = try checkpoints(modelId: modelId).filter { !$0.tensorsPruned }
        let by = try bestBy(modelId: modelId)
        let combined = by == .swap ? try scores(checkpointIds: live.map(\.id)).compactMapValues(\.combined) : [:]
        // Sort keys: (has the measure, the measure as lower-is-better, later iteration first).
        func key(_ c: CheckpointRecord) -> (Int, Double, Double, Int) {
            if let s = combined[c.id] { return (0, -s, 0, -c.iteration) }
            if let v = c.valLoss { return (1, 0, v, -c.iteration) }
            return (2, 0, 0, -c.iteration)
        }
        return live.sorted { key($0) < key($1) }
    }
}
