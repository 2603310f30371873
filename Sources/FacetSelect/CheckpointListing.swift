/// The checkpoint table of `facet checkpoints`: every checkpoint with its smoothed and held-out losses, tags and size,
/// and per model the aliases and the convergence fit.
import Foundation
import FacetCore
import FacetStore
import FacetPlot

/// One checkpoint as the listing shows it.
public struct CheckpointSummary: Codable, Sendable, Equatable {
    /// The checkpoint's id.
    public var id: Int64
    /// The model it belongs to.
    public var model: String
    /// That model's architecture.
    public var architecture: String
    /// The training iteration it was saved at.
    public var iteration: Int
    /// When it was saved (ISO 8601, UTC).
    public var createdAt: String
    /// Training losses averaged over the last iterations before the save (up to 50).
    public var lossSrc: Double?
    /// The dst training loss, averaged the same way.
    public var lossDst: Double?
    /// Held-out loss, mean of the roles, and per role.
    public var valLoss: Double?
    /// The src held-out loss.
    public var valLossSrc: Double?
    /// The dst held-out loss.
    public var valLossDst: Double?
    /// Cumulative training time at the save, in seconds.
    public var trainSeconds: Double
    /// User tags, sorted.
    public var tags: [String]
    /// Bytes of stored tensors (0 once pruned).
    public var bytes: Int64
    /// Whether its tensors were pruned (it can no longer be loaded or merged).
    public var pruned: Bool
    /// `best` and/or `latest` when the alias resolves to this checkpoint.
    public var aliases: [String]
    /// How its swaps score on held-out dst faces (`facet score`); nil until scored.
    public var swapScore: SwapScore? = nil
    /// The combined swap score `best` follows under `--best-by swap` (README "Swap scores"); nil until scored.
    public var swap: Double? = nil
    /// A segmenter checkpoint's (`facet xseg`) IoU on its held-out labelled faces (its val_loss is 1 - IoU); nil
    /// for swap models and for a segmenter without held-out faces.
    public var iou: Double? = nil
}

/// One model's line above its checkpoints.
public struct ModelSummary: Codable, Sendable, Equatable {
    /// The model's name.
    public var name: String
    /// Its architecture.
    public var architecture: String
    /// Side of its square faces, in pixels.
    public var resolution: Int
    /// How many checkpoints it has.
    public var checkpoints: Int
    /// The last iteration with a stored loss.
    public var iterations: Int
    /// The checkpoint `best` names, if any.
    public var best: Int64?
    /// The checkpoint `latest` names, if any.
    public var latest: Int64?
    /// The power-law fit of its loss curve (nil: none could be made).
    public var convergence: ConvergenceFit?
    /// What `best` follows: "val_loss" or "swap" (`facet checkpoints --best-by`).
    public var bestBy: String = BestBy.valLoss.rawValue
}

/// What `facet checkpoints` lists: per model a summary line, then every checkpoint.
public struct CheckpointListing: Codable, Sendable, Equatable {
    /// One summary per model.
    public var models: [ModelSummary]
    /// The checkpoints, in the listing's order.
    public var checkpoints: [CheckpointSummary]
}

/// Resolves what a user names a checkpoint by: an id, `best`, `latest` or a tag, optionally
/// prefixed `MODEL:` (`b:best`), which is how to say "best of model b" in one word where two
/// checkpoints are given (compare). `model` applies when there is no prefix.
public func resolveCheckpoint(_ project: Project, _ reference: String,
                              model: String? = nil) throws -> CheckpointRecord {
    try project.checkpoint(resolving: reference, model: model)
}

/// Makes `best` of `model` (every model when nil) follow `bestBy` (stored per model); the models changed.
@discardableResult
public func setBestBy(project: Project, _ bestBy: BestBy, model: String? = nil) throws -> [ModelRecord] {
    let models = try model.map { [try project.requireModel(named: $0)] } ?? project.models()
    guard !models.isEmpty else {
        throw FacetError.file(project.path, "has no models yet (train one with facet train)", kind: .notFound)
    }
    for m in models { try project.setBestBy(bestBy, modelId: m.id!) }
    return models
}

/// The checkpoints of `model` (all models when nil), by model then iteration, with each model's
/// aliases and its convergence fit for `target` (nil: 5% above the projected floor).
public func listCheckpoints(project: Project, model: String? = nil, target: Double? = nil) throws -> CheckpointListing {
    let models = try model.map { [try project.requireModel(named: $0)] } ?? project.models()
    var listing = CheckpointListing(models: [], checkpoints: [])
    let scores = try project.scores()
    for m in models {
        let records = try project.checkpoints(modelId: m.id!)
        // The aliases as the store resolves them everywhere else (its one definition of best and
        // latest); a model with no checkpoint left with weights has neither.
        let hasLive = records.contains { !$0.tensorsPruned }
        let latest = hasLive ? try project.checkpoint(resolving: "latest", model: m.name).id : nil
        let best = hasLive ? try project.checkpoint(resolving: "best", model: m.name).id : nil
        let curve = try lossCurves(project: project, models: [m.name], target: target).first
        let bestBy = try project.bestBy(modelId: m.id!).rawValue
        listing.models.append(ModelSummary(name: m.name, architecture: m.architecture, resolution: m.resolution,
                                           checkpoints: records.count,
                                           iterations: curve?.iterations.last ?? 0, best: best, latest: latest,
                                           convergence: curve?.fit,
                                           bestBy: bestBy))
        for c in records {
            var lossSrc = c.lossSrc, lossDst = c.lossDst
            if lossSrc == nil || lossDst == nil {
                // Older rows without the saved average: the mean of the 50 iterations up to the save.
                let rows = try project.losses(modelId: m.id!, iterations: max(0, c.iteration - 49)...c.iteration)
                if !rows.isEmpty {
                    lossSrc = lossSrc ?? rows.map(\.lossSrc).reduce(0, +) / Double(rows.count)
                    lossDst = lossDst ?? rows.map(\.lossDst).reduce(0, +) / Double(rows.count)
                }
            }
            var aliases: [String] = []
            if c.id == best { aliases.append("best") }
            if c.id == latest { aliases.append("latest") }
            listing.checkpoints.append(CheckpointSummary(
                id: c.id, model: m.name, architecture: m.architecture, iteration: c.iteration, createdAt: c.createdAt,
                lossSrc: lossSrc, lossDst: lossDst, valLoss: c.valLoss, valLossSrc: c.valLossSrc,
                valLossDst: c.valLossDst,
                trainSeconds: c.trainSeconds, tags: (c.tags ?? "").split(separator: ",").map(String.init).sorted(),
                bytes: c.bytes, pruned: c.tensorsPruned, aliases: aliases,
                swapScore: scores[c.id].flatMap(SwapScore.init(stored:)), swap: scores[c.id]?.combined,
                iou: m.architecture == xsegArchitecture ? c.valLoss.map { 1 - $0 } : nil))
        }
    }
    return listing
}

/// Tags a checkpoint. Refuses names the resolver would read as something else (`best`,
/// `latest`, a number, anything with a colon), since such a tag could never be used.
public func tagCheckpoint(project: Project, reference: String, tag: String, model: String? = nil,
                          remove: Bool = false) throws -> CheckpointRecord {
    let c = try resolveCheckpoint(project, reference, model: model)
    if !remove {
        guard !tag.isEmpty, tag.trimmingCharacters(in: .whitespaces) == tag else {
            throw FacetError("a checkpoint tag must be a non-empty word without surrounding spaces, got '\(tag)'")
        }
        guard tag != "best", tag != "latest", Int64(tag) == nil, !tag.contains(":"), !tag.contains(",") else {
            throw FacetError("'\(tag)' cannot be a checkpoint tag: best, latest, "
                             + "numbers and names with ':' or ',' already mean something else; pick another word")
        }
        try project.tagCheckpoint(id: c.id, tag: tag)
    } else {
        let tags = (c.tags ?? "").split(separator: ",").map(String.init)
        guard tags.contains(tag) else {
            throw FacetError.file(project.path,
                                  "checkpoint \(c.id) has no "
                                  + "tag '\(tag)'" + (tags.isEmpty ? "" : " (its tags: "
                                                                          + "\(tags.joined(separator: ", ")))"))
        }
        try project.untagCheckpoint(id: c.id, tag: tag)
    }
    return try project.checkpoint(id: c.id)
}
