/// The guard against collapsed runs: a non-finite loss, gradient or weight never reaches an update, the store or a
/// checkpoint; a loss that stays well above its running median rolls the run back to its last checkpoint with a lower
/// learning rate; repeated events stop the run with one line saying what to change.
import Foundation
import FacetCore
import FacetNN
import FacetStore

/// When the guard steps in. The defaults suit every architecture; tests shorten the windows.
public struct GuardSettings: Sendable, Equatable {
    /// Good steps between in-memory snapshots of the weights and optimizer state.
    public var snapshotEvery = 50
    /// Losses the running median is taken over.
    public var medianWindow = 200
    /// Losses needed before a spike can be called.
    public var minimumHistory = 50
    /// A spike: the loss above `spikeFactor` times the running median ...
    public var spikeFactor = 3.0
    /// ... for this many consecutive steps.
    public var spikeSteps = 10
    /// The learning rate is multiplied by this at every spike rollback.
    public var learningRateCut = 0.5
    /// Non-finite steps in one run before it stops.
    public var maxNonFinite = 5
    /// Spike rollbacks in one run before it stops.
    public var maxSpikes = 3

    /// The defaults.
    public init() {}
}

/// What the guard made of one step.
enum GuardVerdict: Equatable {
    /// Loss, gradients and updated weights all finite.
    case ok
    /// Something non-finite: the step was not applied (or undone) and the last good state is back.
    case nonFinite(String)
    /// The loss has been well above its running median for `spikeSteps` steps.
    case spike(loss: Double, median: Double)
}

/// The guard's state over one run: the last good weights and optimizer state in memory, the recent losses and the
/// event counts. `Trainer` calls `check...` around every step and acts on the verdicts.
final class TrainingGuard {
    let settings: GuardSettings
    /// Factor on the model's learning rate (lowered at each spike; carried over resumes through the events).
    var learningRateScale: Double
    private(set) var nonFiniteEvents = 0
    private(set) var spikeEvents = 0
    private var good: (iteration: Int, tensors: [NamedTensor])?
    private var goodSteps = 0
    private var history: [Double] = []
    private var above = 0

    init(settings: GuardSettings, learningRateScale: Double) {
        self.settings = settings
        self.learningRateScale = learningRateScale
    }

    /// Whether every value is finite: the largest exponent field over the values (an integer max, which vectorises
    /// where a float test would not) is all ones exactly when some value is NaN or infinite.
    static func allFinite(_ pointer: UnsafeMutablePointer<Float>, count: Int) -> Bool {
        let bits = UnsafeRawPointer(pointer).assumingMemoryBound(to: UInt32.self)
        var top: UInt32 = 0
        for i in 0..<count { top = max(top, bits[i] & 0x7F80_0000) }
        return top != 0x7F80_0000
    }

    /// Whether every parameter gradient is finite.
    static func gradientsFinite(_ network: any SwapNetwork) -> Bool {
        network.namedParameters.allSatisfy { allFinite($0.parameter.gradient.data, count: $0.parameter.gradient.count) }
    }

    /// The first parameter with a non-finite weight, nil when all are finite.
    static func firstNonFiniteWeight(_ network: any SwapNetwork) -> String? {
        network.namedParameters.first { !allFinite($0.parameter.value.data, count: $0.parameter.value.count) }?.name
    }

    /// Keeps the network's state as the last good one (every `snapshotEvery` good steps, and at the start).
    func stepSucceeded(_ network: any SwapNetwork, iteration: Int, healthy: Bool) {
        goodSteps += 1
        if good == nil || (healthy && goodSteps >= settings.snapshotEvery) { remember(network, iteration: iteration) }
    }

    /// Takes a snapshot now.
    func remember(_ network: any SwapNetwork, iteration: Int) {
        good = (iteration, network.exportTensors())
        goodSteps = 0
    }

    /// Puts the last good state back (nothing when there is none); returns its iteration.
    @discardableResult
    func restore(_ network: any SwapNetwork) throws -> Int? {
        guard let good else { return nil }
        try network.importTensors(good.tensors)
        return good.iteration
    }

    /// Counts a non-finite step.
    func countNonFinite() { nonFiniteEvents += 1 }

    /// Whether the run should stop, and the one line saying why and what to change.
    func stopReason(learningRate: Double, resumed: Bool) -> String? {
        let lr = String(format: "%g", learningRate)
        let what = resumed ? "its earlier checkpoints stay usable; train a new model with a lower --learning-rate"
                           : "train a new model with a lower --learning-rate"
        if nonFiniteEvents >= settings.maxNonFinite {
            return "the loss or gradients became non-finite \(nonFiniteEvents) times at learning rate \(lr): "
                + "\(what) (try 10x lower)"
        }
        if spikeEvents >= settings.maxSpikes {
            return "the loss spiked \(spikeEvents) times even after lowering the learning rate to \(lr): "
                + "\(what), or check the faces (facet faces)"
        }
        return nil
    }

    /// Adds a finite loss to the history; a spike verdict once it has stayed above `spikeFactor` times the running
    /// median for `spikeSteps` steps. `healthy` tells whether this loss is near the median (snapshots wait for it).
    func observe(loss: Double) -> (verdict: GuardVerdict, healthy: Bool) {
        let median = runningMedian
        history.append(loss)
        if history.count > settings.medianWindow { history.removeFirst(history.count - settings.medianWindow) }
        guard let median, history.count > settings.minimumHistory else { return (.ok, true) }
        if loss > settings.spikeFactor * median {
            above += 1
            if above >= settings.spikeSteps { return (.spike(loss: loss, median: median), false) }
            return (.ok, false)
        }
        above = 0
        return (.ok, loss <= 1.5 * median)
    }

    /// The median of the losses before the latest `spikeSteps` (so a spike does not raise its own baseline).
    var runningMedian: Double? {
        let base = history.dropLast(min(history.count, above))
        guard !base.isEmpty else { return nil }
        let sorted = base.sorted()
        return sorted[sorted.count / 2]
    }

    /// After a rollback: the history restarts, the learning rate is cut, the spike is counted.
    func rolledBack() {
        spikeEvents += 1
        learningRateScale *= settings.learningRateCut
        history.removeAll()
        above = 0
    }
}

/// A checkpoint tensor holding non-finite weights (`facet checkpoints --scan`).
public struct NonFiniteTensor: Sendable, Equatable {
    /// The checkpoint's id.
    public var checkpointId: Int64
    /// Its model's name.
    public var model: String
    /// Its iteration.
    public var iteration: Int
    /// The tensor's name.
    public var tensor: String
    /// How many of its values are NaN or infinite.
    public var count: Int
}

/// Every weight tensor of every checkpoint (with tensors) holding NaN or infinite values.
public func scanNonFiniteCheckpoints(project: Project, model: String? = nil) throws -> [NonFiniteTensor] {
    var found: [NonFiniteTensor] = []
    for c in try project.checkpoints() where !c.tensorsPruned && (model == nil || c.modelName == model) {
        try project.forEachCheckpointTensor(checkpointId: c.id, kind: .weight) { t in
            let bad = t.data.withUnsafeBytes { raw in
                raw.bindMemory(to: Float.self).reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            }
            if bad > 0 {
                found.append(NonFiniteTensor(checkpointId: c.id, model: c.modelName, iteration: c.iteration,
                                             tensor: t.name, count: bad))
            }
        }
    }
    return found
}
