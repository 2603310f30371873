/// Swap scores at each checkpoint save: the trainer's `afterSave` hook (FacetTrain knows nothing of scores; the
/// CLI hands this in), scoring each checkpoint as `facet score` would and storing it with the checkpoint.
import Foundation
import FacetCore
import FacetStore

/// Scores each checkpoint `facet train` saves as `facet score` does (the same held-out dst faces, at most `limit`,
/// the merge's default settings) and stores it, so `facet checkpoints` and `best` by swap score have it without a
/// second command. It keeps within `budget` of the run's time: a save that comes sooner after the last scored one
/// than the last scoring's cost over `budget` stays unscored (`facet score` scores it later), except the run's
/// last. The first failure (no descriptors, no model files, no held-out dst faces) is said once through `note`,
/// and the run's later saves are not scored.
public final class ScoreOnSave {
    /// Held-out dst faces scored per checkpoint, at most (as `facet score --faces`).
    public let limit: Int
    /// The share of the run's time scoring may take (0.05: 5%).
    public let budget: Double
    let makeScorer: () throws -> SwapScorer
    let note: (String) -> Void
    private var scorer: SwapScorer?
    private var stopped = false
    private var since = Date()
    private var lastCost: Double?
    /// This run's scores, by checkpoint id.
    public private(set) var scores: [Int64: SwapScore] = [:]
    /// Checkpoints this run saved but left unscored to keep within the budget.
    public private(set) var skipped: [Int64] = []
    /// Seconds spent scoring (model files loaded, faces swapped, found and measured, stored).
    public private(set) var scoringSeconds = 0.0
    /// Seconds of the run outside scoring (training, saving), from this hook's creation to its last call.
    public private(set) var otherSeconds = 0.0

    /// A hook scoring `limit` faces per checkpoint within `budget`, with the scorer `makeScorer` builds on first
    /// use, saying a failure once through `note`.
    public init(limit: Int = 100, budget: Double = 0.05, makeScorer: @escaping () throws -> SwapScorer,
                note: @escaping (String) -> Void) {
        self.limit = limit; self.budget = budget; self.makeScorer = makeScorer; self.note = note
    }

    /// Scores and stores checkpoint `c` just saved in `project` (`final`: the run's last save), unless the
    /// budget or an earlier failure says not to.
    public func checkpointSaved(_ c: CheckpointRecord, project: Project, final: Bool) {
        let start = Date()
        let trained = start.timeIntervalSince(since)
        otherSeconds += trained
        defer {
            since = Date()
            scoringSeconds += since.timeIntervalSince(start)
        }
        guard !stopped else { return }
        if !final, let cost = lastCost, cost > budget * trained { skipped.append(c.id); return }
        do {
            let (_, s) = try CheckpointScoring.score(project: project, checkpoint: String(c.id), limit: limit) {
                if let scorer { return scorer }
                let made = try makeScorer()
                scorer = made
                return made
            }
            try project.storeScores(checkpointId: c.id, CheckpointScores(values: s.metrics, faces: s.faces))
            scores[c.id] = s
            lastCost = Date().timeIntervalSince(start)
        } catch {
            stopped = true
            note("checkpoints not scored: \(error) (facet score scores them later)")
        }
    }
}
