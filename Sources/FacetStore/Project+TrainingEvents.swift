/// The training guard's events (a skipped non-finite step, a rollback after a loss spike, a stop) and where a
/// warm-started model's weights came from: the `training_event` and `model_init` tables.
import Foundation
import GRDB
import FacetCore

/// What the training guard did at one iteration.
public enum TrainingEventKind: String, Codable, Sendable, CaseIterable {
    /// A non-finite loss, gradient or weight: the step was skipped and the last good weights restored in memory.
    case nonFinite = "non_finite"
    /// The loss stayed well above its running median: rolled back to the last checkpoint with a lower learning rate.
    case spike
    /// Too many events: the run stopped.
    case stopped
}

/// One row of `training_event`.
public struct TrainingEvent: Sendable, Equatable {
    /// The row id (nil before it is stored).
    public var id: Int64?
    /// The model whose run it happened in.
    public var modelId: Int64
    /// The iteration it was noticed at.
    public var iteration: Int
    /// What happened.
    public var kind: TrainingEventKind
    /// One human line: what was seen and what was done.
    public var detail: String
    /// The offending loss ((src + dst) / 2), when there was one.
    public var loss: Double?
    /// The running median it was compared with (spikes).
    public var medianLoss: Double?
    /// The factor on the model's learning rate from this event on.
    public var learningRateScale: Double
    /// The checkpoint a spike rolled back to.
    public var checkpointId: Int64?

    /// An event not yet stored.
    public init(modelId: Int64, iteration: Int, kind: TrainingEventKind, detail: String, loss: Double? = nil,
                medianLoss: Double? = nil, learningRateScale: Double, checkpointId: Int64? = nil) {
        self.modelId = modelId; self.iteration = iteration; self.kind = kind; self.detail = detail; self.loss = loss
        self.medianLoss = medianLoss; self.learningRateScale = learningRateScale; self.checkpointId = checkpointId
    }
}

/// Where a warm-started model's weights came from (`facet train --init-from`).
public struct ModelInit: Sendable, Equatable {
    /// The source project file as given.
    public var sourcePath: String
    /// SHA-256 (hex) of the source file's bytes when it was read.
    public var sourceSHA256: String
    /// The source model's name.
    public var sourceModel: String
    /// The source checkpoint's id in its own file.
    public var sourceCheckpointId: Int64
    /// The source checkpoint's iteration.
    public var sourceIteration: Int
    /// The parts kept fixed ("encoder", or "" for none).
    public var frozen: String

    /// A lineage record.
    public init(sourcePath: String, sourceSHA256: String, sourceModel: String, sourceCheckpointId: Int64,
                sourceIteration: Int, frozen: String) {
        self.sourcePath = sourcePath; self.sourceSHA256 = sourceSHA256; self.sourceModel = sourceModel
        self.sourceCheckpointId = sourceCheckpointId; self.sourceIteration = sourceIteration; self.frozen = frozen
    }
}

extension Project {
    /// Stores a training event (and the losses a run had pending, finite ones only, in the same transaction).
    @discardableResult
    public func recordTrainingEvent(_ e: TrainingEvent) throws -> TrainingEvent {
        try write("recording a training event") { db in
            try db.execute(sql: """
                INSERT INTO training_event(model_id, iteration, kind, detail, loss, median_loss, lr_scale,
                                           checkpoint_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [e.modelId, e.iteration, e.kind.rawValue, e.detail,
                                 e.loss.flatMap { $0.isFinite ? $0 : nil },
                                 e.medianLoss.flatMap { $0.isFinite ? $0 : nil },
                                 e.learningRateScale, e.checkpointId])
            var stored = e
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    /// A model's training events, oldest first.
    public func trainingEvents(modelId: Int64) throws -> [TrainingEvent] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, model_id, iteration, kind, detail, loss, median_loss, lr_scale, checkpoint_id
                FROM training_event WHERE model_id = ? ORDER BY id
                """, arguments: [modelId]).map { r in
                var e = TrainingEvent(modelId: r["model_id"], iteration: r["iteration"],
                                      kind: TrainingEventKind(rawValue: r["kind"]) ?? .stopped, detail: r["detail"],
                                      loss: r["loss"], medianLoss: r["median_loss"], learningRateScale: r["lr_scale"],
                                      checkpointId: r["checkpoint_id"])
                e.id = r["id"]
                return e
            }
        }
    }

    /// The factor on a model's learning rate its latest event left (1 when none).
    public func learningRateScale(modelId: Int64) throws -> Double {
        try read { db in
            try Double.fetchOne(db, sql: "SELECT lr_scale FROM training_event "
                                    + "WHERE model_id = ? ORDER BY id DESC LIMIT 1",
                                arguments: [modelId]) ?? 1
        }
    }

    /// Records where a new model's weights came from.
    public func setModelInit(modelId: Int64, _ i: ModelInit) throws {
        try write("recording where the model started") { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO model_init(model_id, source_path, source_sha256, source_model,
                                                  source_checkpoint_id, source_iteration, frozen)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [modelId, i.sourcePath, i.sourceSHA256, i.sourceModel, i.sourceCheckpointId,
                                 i.sourceIteration, i.frozen])
        }
    }

    /// Where a model's weights came from, nil for a model trained from scratch.
    public func modelInit(modelId: Int64) throws -> ModelInit? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM model_init WHERE model_id = ?", arguments: [modelId]).map { r in
                ModelInit(sourcePath: r["source_path"], sourceSHA256: r["source_sha256"],
                          sourceModel: r["source_model"],
                          sourceCheckpointId: r["source_checkpoint_id"], sourceIteration: r["source_iteration"],
                          frozen: r["frozen"])
            }
        }
    }
}
