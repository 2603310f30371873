/// Training in the project file: models, their train/validation split, per-iteration losses,
/// checkpoints with their tensors as named blobs, and preview images.
import Foundation
import GRDB
import FacetCore

/// What a checkpoint tensor holds: model weights, or optimizer state (needed only to resume).
public enum TensorKind: String, Codable, Sendable {
    case weight, optimizer
}

/// One named tensor as the store keeps it: row-major little-endian float32 bytes.
public struct StoredTensor: Sendable, Equatable {
    /// The tensor's path (`encoder.down1.weight`, `optimizer.acc.encoder.down1.weight`).
    public var name: String
    /// Weights, or optimizer state.
    public var kind: TensorKind
    /// Its shape, outermost axis first.
    public var shape: [Int]
    /// Its values, row-major little-endian float32.
    public var data: Data
    /// A tensor with each field given.
    public init(name: String, kind: TensorKind, shape: [Int], data: Data) {
        self.name = name; self.kind = kind; self.shape = shape; self.data = data
    }
    /// The values (a copy).
    public var floats: [Float] { unpackFloat32(data) }
}

/// A checkpoint tensor's name, kind, shape and size, without its bytes.
public struct StoredTensorInfo: Sendable, Equatable {
    /// The tensor's path.
    public var name: String
    /// Weights, or optimizer state.
    public var kind: TensorKind
    /// Its shape, outermost axis first.
    public var shape: [Int]
    /// Size of its stored bytes.
    public var byteCount: Int
}

/// The loss of one training iteration (means over the batch) and the training time it ended at.
public struct LossRow: Codable, Sendable, Equatable {
    /// The training iteration.
    public var iteration: Int
    /// The src batch's mean loss at it.
    public var lossSrc: Double
    /// The dst batch's mean loss at it.
    public var lossDst: Double
    /// Cumulative training time when it ended, in seconds.
    public var seconds: Double
    /// A loss row with each field given.
    public init(iteration: Int, lossSrc: Double, lossDst: Double, seconds: Double) {
        self.iteration = iteration; self.lossSrc = lossSrc; self.lossDst = lossDst; self.seconds = seconds
    }
}

/// Which faces a model trains on and which it holds out, by role.
public struct ModelFaceSplit: Sendable, Equatable {
    /// The faces trained on, by role.
    public var train: [Role: [Int64]] = [:]
    /// The faces held out for validation, by role.
    public var validation: [Role: [Int64]] = [:]
    /// A split with the given faces.
    public init(train: [Role: [Int64]] = [:], validation: [Role: [Int64]] = [:]) {
        self.train = train; self.validation = validation
    }
}

/// The row of a checkpoint about to be saved (its id and time come from the store).
public struct NewCheckpoint: Sendable {
    /// The model the checkpoint belongs to.
    public var modelId: Int64
    /// The training iteration it was saved at.
    public var iteration: Int
    /// The src loss, smoothed over the last iterations (nil: none measured).
    public var lossSrc: Double?
    /// The dst loss, smoothed over the last iterations (nil: none measured).
    public var lossDst: Double?
    /// The src loss on the held-out faces (nil: no validation).
    public var valLossSrc: Double?
    /// The dst loss on the held-out faces (nil: no validation).
    public var valLossDst: Double?
    /// Cumulative training time, in seconds.
    public var trainSeconds: Double
    /// The trainer's random state, to resume exactly.
    public var rngState: Data?
    /// A checkpoint row with each field given.
    public init(modelId: Int64, iteration: Int, lossSrc: Double?, lossDst: Double?, valLossSrc: Double?,
                valLossDst: Double?,
                trainSeconds: Double, rngState: Data?) {
        self.modelId = modelId; self.iteration = iteration; self.lossSrc = lossSrc; self.lossDst = lossDst
        self.valLossSrc = valLossSrc; self.valLossDst = valLossDst; self.trainSeconds = trainSeconds
        self.rngState = rngState
    }
    /// The mean of the two held-out losses, when both are known.
    public var valLoss: Double? {
        guard let s = valLossSrc, let d = valLossDst else { return nil }
        return (s + d) / 2
    }
}

/// Hands tensors to `saveCheckpoint` one at a time, so a 300 MB checkpoint never sits in memory
/// twice: each call binds `bytes` straight into the INSERT (SQLite copies them once).
public struct CheckpointTensorWriter {
    let insert: (String, TensorKind, [Int], UnsafeRawBufferPointer) throws -> Void
    /// Stores one tensor of `shape` whose float32 values are `bytes` (native order, little-endian
    /// on every platform Facet runs on).
    public func write(name: String, kind: TensorKind, shape: [Int], bytes: UnsafeRawBufferPointer) throws {
        try insert(name, kind, shape, bytes)
    }
    /// Stores one tensor from an array of floats.
    public func write(name: String, kind: TensorKind, shape: [Int], values: [Float]) throws {
        try values.withUnsafeBytes { try insert(name, kind, shape, $0) }
    }
}

/// The columns `CheckpointRecord` decodes, for every checkpoint query.
private let checkpointSelect = """
    SELECT c.id, c.model_id, md.name AS model_name, c.iteration, c.created_at, c.loss_src, c.loss_dst,
           c.val_loss_src, c.val_loss_dst, c.val_loss, c.train_seconds, c.tensors_pruned,
           (SELECT group_concat(t.tag, ',') FROM checkpoint_tag t WHERE t.checkpoint_id = c.id) AS tags,
           (SELECT coalesce(sum(length(ct.data)), 0) FROM checkpoint_tensor ct WHERE ct.checkpoint_id = c.id) AS bytes
    FROM checkpoint c JOIN model md ON md.id = c.model_id
    """

extension Project {
    // MARK: Models

    /// Creates a model and records its train/validation split in one transaction.
    /// Refuses a name already taken, saying how to resume it instead; with `replacingUnsaved`, a
    /// model of that name that has no checkpoint (its first run was killed before saving one) is
    /// deleted with its split and losses in the same transaction, so the new one starts afresh.
    public func createModel(_ model: ModelRecord, split: ModelFaceSplit,
                            replacingUnsaved: Bool = false) throws -> ModelRecord {
        let name = model.name
        return try write("creating model '\(name)'") { db in
            if let old = try Int64.fetchOne(db, sql: "SELECT id FROM model WHERE name = ?", arguments: [name]) {
                let saved = try Int.fetchOne(db, sql: "SELECT count(*) FROM checkpoint WHERE model_id = ?",
                                             arguments: [old]) ?? 0
                guard replacingUnsaved && saved == 0 else {
                    throw FacetError.file(self.path,
                                          "already has a model named '\(name)' (resume it with --resume \(name), "
                                          + "or pick another --name)", kind: .conflict)
                }
                try db.execute(sql: "DELETE FROM model WHERE id = ?", arguments: [old])
            }
            var m = model
            try m.insert(db)
            try Project.insertModelFaces(db, modelId: m.id!, split: split)
            return m
        }
    }

    /// Replaces a model's stored options (an SAEHD option changed on resume, as DeepFaceLab allows).
    public func setModelOptions(modelId: Int64, json: String) throws {
        try write("updating the options of a model") { db in
            try db.execute(sql: "UPDATE model SET options_json = ? WHERE id = ?", arguments: [json, modelId])
        }
    }

    /// Adds faces to a model's split (faces already in it keep their side).
    public func addModelFaces(modelId: Int64, split: ModelFaceSplit) throws {
        try write("updating the faces of a model") {
            db in try Project.insertModelFaces(db, modelId: modelId, split: split)
        }
    }

    private static func insertModelFaces(_ db: Database, modelId: Int64, split: ModelFaceSplit) throws {
        let stmt = try db.cachedStatement(sql: "INSERT OR IGNORE INTO model_face(model_id, face_id, "
                                               + "split) VALUES (?, ?, ?)")
        for (side, byRole) in [("train", split.train), ("validation", split.validation)] {
            for role in Role.allCases {
                for id in byRole[role] ?? [] { try stmt.execute(arguments: [modelId, id, side]) }
            }
        }
    }

    /// The model called `name`, or nil.
    public func model(named name: String) throws -> ModelRecord? {
        try read { db in try ModelRecord.fetchOne(db, sql: "SELECT * FROM model WHERE name = ?", arguments: [name]) }
    }

    /// The model called `name`, or a clear error listing the models there are.
    public func requireModel(named name: String) throws -> ModelRecord {
        if let m = try model(named: name) { return m }
        let names = try models().map(\.name)
        throw FacetError.file(path, "has no model named '\(name)'"
                                  + (names.isEmpty ? " (it has no models yet: run facet train)"
                                                   : " (models: \(names.joined(separator: ", ")))"),
                              kind: .notFound)
    }

    /// Every model, oldest first.
    public func models() throws -> [ModelRecord] {
        try read { db in try ModelRecord.fetchAll(db, sql: "SELECT * FROM model ORDER BY id") }
    }

    /// The model's split, restricted to faces that still exist; ids in ascending order.
    /// Faces rejected since are included: the caller decides whether to use them.
    public func modelFaces(modelId: Int64) throws -> ModelFaceSplit {
        try read { db in
            var split = ModelFaceSplit()
            let rows = try Row.fetchAll(db, sql: """
                SELECT mf.face_id, mf.split, f.role FROM model_face mf JOIN face f ON f.id = mf.face_id
                WHERE mf.model_id = ? ORDER BY mf.face_id
                """, arguments: [modelId])
            for r in rows {
                let role = Role(rawValue: r["role"])!
                let id: Int64 = r["face_id"]
                if (r["split"] as String) == "validation" {
                    split.validation[role, default: []].append(id)
                } else {
                    split.train[role, default: []].append(id)
                }
            }
            return split
        }
    }

    // MARK: Losses

    /// Appends iteration losses in one transaction. An iteration already stored is replaced
    /// (a resumed run redoes the iterations after its checkpoint).
    public func appendLosses(modelId: Int64, _ rows: [LossRow]) throws {
        guard !rows.isEmpty else { return }
        try write("saving losses") { db in
            try self.requireModelRow(db, modelId)
            try Project.insertLosses(db, modelId: modelId, rows)
        }
    }

    /// A run's model must still exist when it writes: another `facet train` may have started a
    /// model of the same name afresh (it had no checkpoint yet), deleting this one.
    private func requireModelRow(_ db: Database, _ modelId: Int64) throws {
        if try Int.fetchOne(db, sql: "SELECT 1 FROM model WHERE id = ?", arguments: [modelId]) == nil {
            throw FacetError.file(path,
                                  "no longer has model #\(modelId) (another facet train started a model of that name "
                                  + "afresh before this run saved a checkpoint); this run stops")
        }
    }

    private static func insertLosses(_ db: Database, modelId: Int64, _ rows: [LossRow]) throws {
        let stmt = try db.cachedStatement(sql: "INSERT OR REPLACE INTO loss(model_id, iteration, loss_src, loss_dst, "
                                               + "seconds) VALUES (?, ?, ?, ?, ?)")
        for r in rows { try stmt.execute(arguments: [modelId, r.iteration, r.lossSrc, r.lossDst, r.seconds]) }
    }

    /// Deletes the losses after `iteration`: a resume from a checkpoint at `iteration` redoes them,
    /// so the curve stays the one the resumed weights come from.
    public func discardLosses(modelId: Int64, after iteration: Int) throws {
        try write("resetting losses") { db in
            try db.execute(sql: "DELETE FROM loss WHERE model_id = ? AND iteration > ?",
                           arguments: [modelId, iteration])
        }
    }

    /// Losses of `iterations` (all by default), in order; `every` > 1 keeps one row in `every`
    /// (for plots of long runs).
    public func losses(modelId: Int64, iterations: ClosedRange<Int>? = nil, every: Int = 1) throws -> [LossRow] {
        let lo = iterations?.lowerBound ?? Int.min, hi = iterations?.upperBound ?? Int.max, step = max(1, every)
        return try read { db in
            try Row.fetchAll(db, sql: """
                SELECT iteration, loss_src, loss_dst, seconds FROM loss
                WHERE model_id = ? AND iteration BETWEEN ? AND ? AND (iteration % ?) = 0 ORDER BY iteration
                """, arguments: [modelId, lo, hi, step]).map {
                LossRow(iteration: $0["iteration"], lossSrc: $0["loss_src"], lossDst: $0["loss_dst"],
                        seconds: $0["seconds"])
            }
        }
    }

    // MARK: Checkpoints

    /// Saves a checkpoint in ONE transaction: its row, the pending `losses`, its `previews`
    /// (kind -> PNG) and every tensor `tensors` writes. A crash at any point leaves either all of it
    /// or none, and the previous checkpoint untouched.
    ///
    /// With `dropOlderOptimizerState`, the optimizer tensors of the model's earlier checkpoints are
    /// deleted in the same transaction (only the newest checkpoint is resumed from; weights of every
    /// checkpoint stay for merge and comparison).
    @discardableResult
    public func saveCheckpoint(_ c: NewCheckpoint, losses: [LossRow] = [], previews: [String: Data] = [:],
                               dropOlderOptimizerState: Bool = true,
                               tensors: (CheckpointTensorWriter) throws -> Void) throws -> CheckpointRecord {
        let id: Int64 = try withoutActuallyEscaping(tensors) { tensors in
            try write("saving the checkpoint at iteration \(c.iteration)") { db in
                try self.requireModelRow(db, c.modelId)
                try Project.insertLosses(db, modelId: c.modelId, losses)
                if dropOlderOptimizerState {
                    try db.execute(sql: """
                        DELETE FROM checkpoint_tensor WHERE kind = 'optimizer'
                        AND checkpoint_id IN (SELECT id FROM checkpoint WHERE model_id = ?)
                        """, arguments: [c.modelId])
                }
                // A checkpoint at the same iteration (a resume saved before training any step) is replaced.
                try db.execute(sql: "DELETE FROM checkpoint WHERE model_id = ? AND iteration = ?",
                               arguments: [c.modelId, c.iteration])
                try db.execute(sql: """
                    INSERT INTO checkpoint(model_id, iteration, created_at, loss_src, loss_dst, val_loss_src, \
                    val_loss_dst, val_loss,
                                           train_seconds, rng_state)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, arguments: [c.modelId, c.iteration, isoNow(), c.lossSrc, c.lossDst, c.valLossSrc, c.valLossDst,
                                     c.valLoss, c.trainSeconds, c.rngState])
                let id = db.lastInsertedRowID
                let insert = try db.makeStatement(sql: "INSERT INTO checkpoint_tensor(checkpoint_id, name, kind, "
                                                       + "dtype, shape, data) VALUES (?, ?, ?, 'f32', ?, ?)")
                let writer = CheckpointTensorWriter { name, kind, shape, bytes in
                    let expected = shape.reduce(1, *) * 4
                    guard bytes.count == expected else {
                        throw FacetError("tensor '\(name)': \(bytes.count) bytes for shape \(shape) "
                                         + "(expected \(expected))")
                    }
                    // No copy here: SQLite copies the bytes while binding.
                    let data = bytes.count == 0 ? Data()
                        : Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: bytes.count,
                               deallocator: .none)
                    try insert.execute(arguments: [id, name, kind.rawValue, Project.shapeJSON(shape), data])
                }
                try tensors(writer)
                let previewStmt = try db.makeStatement(sql: "INSERT INTO preview(checkpoint_id, kind, format, "
                                                            + "data) VALUES (?, ?, 'png', ?)")
                for (kind, png) in previews.sorted(by: { $0.key < $1.key }) {
                    try previewStmt.execute(arguments: [id, kind, png])
                }
                return id
            }
        }
        return try checkpoint(id: id)
    }

    static func shapeJSON(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ",") + "]" }

    static func parseShape(_ text: String, name: String) throws -> [Int] {
        let inner = text.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
        if inner.isEmpty { return [] }
        let dims = inner.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard dims.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw FacetError("tensor '\(name)': unreadable shape \(text); the checkpoint is corrupt")
        }
        return dims.map { $0! }
    }

    /// One checkpoint, or a clear error naming the id.
    public func checkpoint(id: Int64) throws -> CheckpointRecord {
        guard let c = try read({ db in try CheckpointRecord.fetchOne(
            db, sql: checkpointSelect + " WHERE c.id = ?", arguments: [id]) }) else {
            throw FacetError.file(path, "has no checkpoint \(id)", kind: .notFound)
        }
        return c
    }

    /// The checkpoints of a model (of every model when nil), by model then iteration.
    public func checkpoints(modelId: Int64? = nil) throws -> [CheckpointRecord] {
        try read { db in
            if let modelId {
                return try CheckpointRecord.fetchAll(db,
                                                     sql: checkpointSelect + " WHERE c.model_id = ? ORDER "
                                                                             + "BY c.iteration", arguments: [modelId])
            }
            return try CheckpointRecord.fetchAll(db, sql: checkpointSelect + " ORDER BY c.model_id, c.iteration")
        }
    }

    /// Resolves what a user names a checkpoint by: `latest` (highest iteration), `best` (lowest
    /// held-out loss, or the highest swap score where the model's `bestBy` says so: `bestRanking`), a tag,
    /// or a numeric id. Only checkpoints whose weights are still stored qualify for `latest`, `best` and tags.
    /// `model` (a name) is required when the project has several models and the reference is not an id.
    /// `MODEL:REF` (`b:best`, `demo:latest`, `demo:12`) names model MODEL's checkpoint REF, the one grammar
    /// of every command that takes a checkpoint; the prefix wins over `model`.
    public func checkpoint(resolving reference: String, model: String? = nil) throws -> CheckpointRecord {
        if Int64(reference) == nil, let colon = reference.lastIndex(of: ":") {
            let name = String(reference[..<colon]), ref = String(reference[reference.index(after: colon)...])
            guard !name.isEmpty, !ref.isEmpty, !ref.contains(":") else {
                throw FacetError("'\(reference)' is not a checkpoint: use an id, best, latest, a tag, or MODEL:best")
            }
            return try checkpoint(resolving: ref, model: name)
        }
        if let id = Int64(reference) {
            let c = try checkpoint(id: id)
            if let model, c.modelName != model {
                throw FacetError.file(path, "checkpoint \(id) belongs to model '\(c.modelName)', not '\(model)'")
            }
            return c
        }
        let m: ModelRecord
        if let model {
            m = try requireModel(named: model)
        } else {
            // The segmenter's models (`facet xseg`) are not swap models: a reference without a model skips them.
            let all = try models().filter { $0.architecture != xsegArchitecture }
            guard let only = all.first else {
                throw FacetError.file(path, "has no models yet (train one with facet train)", kind: .notFound)
            }
            guard all.count == 1 else {
                throw FacetError.file(path,
                                      "has \(all.count) models (\(all.map(\.name).joined(separator: ", "))): "
                                      + "name one with --model")
            }
            m = only
        }
        let modelId = m.id!
        if reference == "best" {
            // The model's choice (`facet checkpoints --best-by`): held-out loss, or the swap score.
            guard let c = try bestRanking(modelId: modelId).first else {
                throw FacetError.file(path, "model '\(m.name)' has no checkpoint with weights yet "
                                      + "(train it with facet train --resume \(m.name))", kind: .notFound)
            }
            return c
        }
        let found: CheckpointRecord? = try read { db in
            let live = checkpointSelect + " WHERE c.model_id = ? AND c.tensors_pruned = 0"
            switch reference {
            case "latest":
                return try CheckpointRecord.fetchOne(db, sql: live + " ORDER BY c.iteration DESC LIMIT 1",
                                                     arguments: [modelId])
            default:
                return try CheckpointRecord.fetchOne(db,
                                                     sql: live + " AND EXISTS "
                                                                 + "(SELECT 1 FROM checkpoint_tag t WHERE "
                                                                 + "t.checkpoint_id = c.id AND t.tag = ?) ORDER BY "
                                                                 + "c.iteration DESC LIMIT 1",
                                                     arguments: [modelId, reference])
            }
        }
        guard let c = found else {
            if reference == "latest" || reference == "best" {
                throw FacetError.file(path,
                                      "model '\(m.name)' has no checkpoint with weights yet "
                                      + "(train it with facet train --resume \(m.name))", kind: .notFound)
            }
            throw FacetError.file(path,
                                  "model '\(m.name)' has no checkpoint '\(reference)' (use latest, best, "
                                  + "a tag or a checkpoint id)", kind: .notFound)
        }
        return c
    }

    /// The trainer's random state saved with a checkpoint.
    public func checkpointRNGState(id: Int64) throws -> Data? {
        try read { db in try Data.fetchOne(db, sql: "SELECT rng_state FROM checkpoint WHERE id = ?", arguments: [id]) }
    }

    /// Names, kinds, shapes and sizes of a checkpoint's tensors, in name order, without their bytes.
    public func checkpointTensorInfos(checkpointId: Int64) throws -> [StoredTensorInfo] {
        let rows = try read { db in
            try Row.fetchAll(db,
                             sql: "SELECT name, kind, shape, length(data) AS n FROM checkpoint_tensor WHERE "
                                  + "checkpoint_id = ? ORDER BY name", arguments: [checkpointId])
        }
        return try rows.map { r in
            let name: String = r["name"]
            return StoredTensorInfo(name: name, kind: TensorKind(rawValue: r["kind"]) ?? .weight,
                                    shape: try Project.parseShape(r["shape"], name: name), byteCount: r["n"])
        }
    }

    /// Calls `body` with each tensor of a checkpoint (of `kind`, or all), one at a time in one read
    /// transaction, so only one tensor's bytes are in memory at once.
    public func forEachCheckpointTensor(checkpointId: Int64, kind: TensorKind? = nil,
                                        _ body: (StoredTensor) throws -> Void) throws {
        try withoutActuallyEscaping(body) { body in
            try read { db in
                let cursor = try Row.fetchCursor(db, sql: """
                    SELECT name, kind, shape, data FROM checkpoint_tensor WHERE checkpoint_id = ? AND (? IS NULL \
                    OR kind = ?) ORDER BY name
                    """, arguments: [checkpointId, kind?.rawValue, kind?.rawValue])
                while let r = try cursor.next() {
                    let name: String = r["name"]
                    try body(StoredTensor(name: name, kind: TensorKind(rawValue: r["kind"]) ?? .weight,
                                          shape: try Project.parseShape(r["shape"], name: name), data: r["data"]))
                }
            }
        }
    }

    /// The named tensors of a checkpoint that exist, keyed by name (missing names are left out).
    public func checkpointTensors(checkpointId: Int64, names: [String]) throws -> [String: StoredTensor] {
        try read { db in
            var out: [String: StoredTensor] = [:]
            let stmt = try db.cachedStatement(sql: "SELECT kind, shape, "
                                                   + "data FROM checkpoint_tensor WHERE checkpoint_id = ? AND name = ?")
            for name in names {
                guard let r = try Row.fetchOne(stmt, arguments: [checkpointId, name]) else { continue }
                out[name] = StoredTensor(name: name, kind: TensorKind(rawValue: r["kind"]) ?? .weight,
                                         shape: try Project.parseShape(r["shape"], name: name), data: r["data"])
            }
            return out
        }
    }

    /// A checkpoint's preview of `kind` (PNG bytes), or nil.
    public func preview(checkpointId: Int64, kind: String = "grid") throws -> Data? {
        try read {
            db in try Data.fetchOne(db, sql: "SELECT data FROM preview WHERE checkpoint_id = ? AND kind = ?",
                                    arguments: [checkpointId, kind])
        }
    }

    /// Adds a tag (e.g. `keep`, `candidate`) to a checkpoint.
    public func tagCheckpoint(id: Int64, tag: String) throws {
        guard !tag.isEmpty else { throw FacetError("a checkpoint tag cannot be empty") }
        _ = try checkpoint(id: id)
        try write("tagging checkpoint \(id)") { db in
            try db.execute(sql: "INSERT OR IGNORE INTO checkpoint_tag(checkpoint_id, tag) VALUES (?, ?)",
                           arguments: [id, tag])
        }
    }

    /// Removes a tag from a checkpoint (nothing happens when it does not carry it).
    public func untagCheckpoint(id: Int64, tag: String) throws {
        try write("untagging checkpoint \(id)") { db in
            try db.execute(sql: "DELETE FROM checkpoint_tag WHERE checkpoint_id = ? AND tag = ?", arguments: [id, tag])
        }
    }

    /// Deletes a checkpoint's tensors but keeps its row, losses and previews (for the curve and
    /// comparisons); it can no longer be merged with or resumed from.
    public func pruneCheckpointTensors(id: Int64) throws {
        _ = try checkpoint(id: id)
        try write("pruning checkpoint \(id)") { db in
            try db.execute(sql: "DELETE FROM checkpoint_tensor WHERE checkpoint_id = ?", arguments: [id])
            try db.execute(sql: "UPDATE checkpoint SET tensors_pruned = 1 WHERE id = ?", arguments: [id])
        }
    }
}
