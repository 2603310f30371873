/// `facet prune`: keep the weights of the best and latest checkpoints (and tagged ones), drop the others' tensors,
/// keep every row, loss and preview.
import Foundation
import FacetCore
import FacetStore

/// A checkpoint whose weights stay, and why.
public struct KeptCheckpoint: Codable, Sendable, Equatable {
    /// The checkpoint's id.
    public var id: Int64
    /// Its model's name.
    public var model: String
    /// The iteration it was saved at.
    public var iteration: Int
    /// "best", "latest" and/or "tagged".
    public var reasons: [String]
}

/// What `facet prune` did: the checkpoints kept and pruned, the bytes freed, the file's size.
public struct PruneReport: Codable, Sendable, Equatable {
    /// The checkpoints whose weights stay, and why.
    public var kept: [KeptCheckpoint]
    /// Checkpoints whose tensors this run deleted.
    public var pruned: [Int64]
    /// Checkpoints pruned before this run (left as they were).
    public var alreadyPruned: [Int64]
    /// Tensor bytes deleted.
    public var tensorBytesFreed: Int64
    /// The file (and its log) before and after; they differ only with `vacuum`, as SQLite keeps
    /// deleted pages for reuse until then.
    public var fileBytesBefore: Int64
    /// The file (and its log) after the run.
    public var fileBytesAfter: Int64
    /// Whether the file was vacuumed (its free pages given back to the file system).
    public var vacuumed: Bool
}

/// Per model (only `model` when given): keeps the weights of the `keepBest` best checkpoints (ranked as
/// `best` resolves: `Project.bestRanking`), the `keepLatest` highest iterations and every user-tagged one, and prunes
/// the rest in one transaction. `keepLatest` must be at least 1: training resumes from the latest
/// checkpoint with weights and would discard the losses after it.
public func pruneCheckpoints(project: Project, model: String? = nil, keepBest: Int, keepLatest: Int,
                             vacuum: Bool = false,
                             dryRun: Bool = false) throws -> PruneReport {
    guard keepBest >= 0 else { throw FacetError.setting("keep-best", "must be 0 or more, got \(keepBest)") }
    guard keepLatest >= 1 else {
        throw FacetError.setting("keep-latest",
                                 "must be at least 1, got \(keepLatest): training resumes from the latest checkpoint "
                                 + "with weights")
    }
    let models = try model.map { [try project.requireModel(named: $0)] } ?? project.models()
    var kept: [KeptCheckpoint] = [], prune: [Int64] = [], already: [Int64] = []
    for m in models {
        let all = try project.checkpoints(modelId: m.id!)
        already += all.filter(\.tensorsPruned).map(\.id)
        let live = all.filter { !$0.tensorsPruned }
        // Ranked as the alias `best` is (the model's --best-by), among those with a held-out loss or a swap score.
        let scored = Set(try project.scores(checkpointIds: live.map(\.id)).keys)
        let best = Set(try project.bestRanking(modelId: m.id!).filter { $0.valLoss != nil || scored.contains($0.id) }
            .prefix(keepBest).map(\.id))
        let latest = Set(live.sorted { $0.iteration > $1.iteration }.prefix(keepLatest).map(\.id))
        for c in live {
            var reasons: [String] = []
            if best.contains(c.id) { reasons.append("best") }
            if latest.contains(c.id) { reasons.append("latest") }
            if !(c.tags ?? "").isEmpty { reasons.append("tagged") }
            if reasons.isEmpty { prune.append(c.id) } else { kept.append(KeptCheckpoint(
                id: c.id, model: m.name, iteration: c.iteration, reasons: reasons)) }
        }
    }
    let before = project.bytesOnDisk()
    var freed: Int64 = 0
    if !dryRun {
        freed = try project.pruneCheckpointTensors(ids: prune)
        if vacuum { try project.vacuum() }
    } else {
        freed = prune.reduce(0) { acc, id in acc + ((try? project.checkpoint(id: id).bytes) ?? 0) }
    }
    return PruneReport(kept: kept, pruned: prune, alreadyPruned: already, tensorBytesFreed: freed,
                       fileBytesBefore: before,
                       fileBytesAfter: project.bytesOnDisk(), vacuumed: vacuum && !dryRun)
}
