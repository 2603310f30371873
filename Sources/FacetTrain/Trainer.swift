/// The training loop: a new or resumed model, batches from the store's kept faces, every
/// iteration's loss written back, and periodic checkpoints (weights, optimizer state, random
/// state, losses, held-out loss, preview) each saved in one transaction.
import Foundation
import FacetCore
import FacetNN
import FacetStore

/// When a run stops (besides an interruption, which always saves and stops).
public enum StopCondition: Sendable, Equatable {
    /// Train until interrupted.
    case never
    /// When the model reaches this iteration (counted over all its runs, as DeepFaceLab's target
    /// iteration: a resumed run with the same value finishes where an uninterrupted one would).
    case iterations(Int)
    /// After this much training time in this run.
    case minutes(Double)
    /// When the recent mean loss ((src + dst) / 2 over the last 50 iterations) is at or below this.
    case targetLoss(Double)
}

/// What `facet train` asks for.
public struct TrainOptions: Sendable {
    /// A new model of this architecture (nil when resuming).
    public var architecture: TrainArchitecture?
    /// The new model's name (default: the architecture's name), or the model to resume.
    public var name: String?
    /// Resume the model `name` from its latest checkpoint.
    public var resume = false
    /// Batch size per role (default: the model's).
    public var batchSize: Int?
    /// When the run stops (never: only when asked to).
    public var stop: StopCondition = .never
    /// Minutes of training between checkpoints (one is always saved at the end).
    public var saveEveryMinutes: Double = 10
    /// Seeds weights, the split, sampling and augmentation of a new model (default 1).
    public var seed: UInt64?
    /// Overrides the architecture's optimizer for a new model.
    public var optimizer: OptimizerOptions?
    /// Seconds between the batched writes of iteration losses.
    public var lossFlushSeconds: Double = 2
    /// Rows of the preview grid.
    public var previewRows: Int = 4
    /// The network of a new `h128` model (default `H128Config.h128`; `.lighter` for --lighter).
    public var h128: H128Config?
    /// A new model trains only on these persons' faces (`facet people`), per role.
    public var persons: [Role: Int64] = [:]
    /// When the collapse guard steps in (see `TrainingGuard`).
    public var guardSettings = GuardSettings()
    /// A new model's training knobs (nil: the architecture's defaults; see `ModelOptions`).
    public var knobs = TrainingKnobs()
    /// This run trains without the random warp (the final, sharpening phase).
    public var noWarp = false
    /// This run stops warping from this model iteration on (a warp schedule).
    public var warpUntil: Int?
    /// A new model starts from another project's checkpoint (`--init-from`).
    public var initFrom: WarmStart?
    /// The network, face type and options of a new `saehd` model (default `SAEHDOptions()`: DeepFaceLab's).
    public var saehd: SAEHDOptions?
    /// What a resumed SAEHD model changes of the options DeepFaceLab asks again on resume.
    public var resumeChanges = SAEHDResumeChanges()
    /// A new model is a generic one (`facet pretrain`): both decoders train on every kept face, any role or person.
    public var pretrain = false
    /// Batches are prepared ahead on a thread of their own while the engine trains (false: in the loop, between
    /// steps). The same batches either way; off only to measure what it gains.
    public var prefetch = true

    /// Options with the common fields given; set the others afterwards.
    public init(architecture: TrainArchitecture? = nil, name: String? = nil, resume: Bool = false,
                batchSize: Int? = nil,
                stop: StopCondition = .never, saveEveryMinutes: Double = 10, seed: UInt64? = nil,
                optimizer: OptimizerOptions? = nil) {
        self.architecture = architecture; self.name = name; self.resume = resume; self.batchSize = batchSize
        self.stop = stop; self.saveEveryMinutes = saveEveryMinutes; self.seed = seed; self.optimizer = optimizer
    }
}

/// A snapshot of the run for the progress line.
public struct TrainProgress: Sendable {
    /// The last completed iteration.
    public var iteration: Int
    /// Iterations per second over the recent window.
    public var iterationsPerSecond: Double
    /// Losses of the latest iteration.
    public var lossSrc: Double
    /// The dst loss of the latest iteration.
    public var lossDst: Double
    /// Mean of (src + dst) / 2 over the last 50 iterations: what `--target-loss` compares.
    public var recentLoss: Double
    /// Held-out loss of the latest checkpoint.
    public var validationLoss: Double?
    /// Estimated seconds until `recentLoss` reaches the target (nil: no target or not falling).
    public var secondsToTarget: Double?
    /// The checkpoint just saved, if this update reports a save.
    public var saved: CheckpointRecord?
    /// What the collapse guard just did, if this update reports that.
    public var event: TrainingEvent?
}

/// How a run ended.
public struct TrainResult: Sendable {
    /// The model trained.
    public var model: ModelRecord
    /// The checkpoint saved at the end.
    public var checkpoint: CheckpointRecord
    /// Iterations done by this run.
    public var iterationsThisRun: Int
    /// Whether it stopped because it was asked to (`shouldStop`, e.g. Ctrl-C) rather than by its stop condition.
    public var interrupted: Bool
}

/// The trainer's random state, stored with each checkpoint: randomness is keyed by (seed,
/// iteration), so these two numbers reproduce every later draw.
struct RandomState: Codable, Equatable {
    var seed: UInt64
    var iteration: Int
}

/// One training run of one model. Create it (checks the faces, creates or loads the model), then
/// `run`. Not thread-safe; `shouldStop` may be flipped from another thread.
public final class Trainer {
    /// The project the model is stored in.
    public let project: Project
    /// The model trained (its row as created or loaded).
    public private(set) var model: ModelRecord
    /// The model's options, fixed at creation.
    public let options: ModelOptions
    /// The network being trained.
    public let network: any SwapNetwork
    /// The last completed iteration (0 before the first).
    public private(set) var iteration: Int
    /// The checkpoint this run resumed from.
    public let resumedFrom: CheckpointRecord?
    /// Whether the optimizer state came back with the weights on resume.
    public let resumedOptimizerState: Bool
    /// Whether a model of this name without any checkpoint (a first run killed before its first
    /// save) was replaced by this new one.
    public private(set) var replacesUnsavedModel = false

    let batchSize: Int
    let seed: UInt64
    let src: RoleSamples
    let dst: RoleSamples
    let augmenter: Augmenter
    /// Makes each iteration's batches (on the prefetcher's thread, or here without one).
    let batchMaker: BatchMaker
    /// Prepares the coming iterations' batches while the engine trains (nil: `TrainOptions.prefetch` off).
    let prefetcher: BatchPrefetcher?
    /// The batch buffers of a run without prefetching.
    private let srcBatch: TrainingBatch, dstBatch: TrainingBatch
    private var trainSeconds: Double
    private var pendingLosses: [LossRow] = []
    private var recent: [(src: Double, dst: Double)] = []
    private var lastValidation: (src: Double?, dst: Double?)
    private let runOptions: TrainOptions
    private var savesThisRun = 0

    /// Faults injected by tests (none in shipping code).
    let hooks: TrainerTestHooks
    /// Called by `run` after each checkpoint it saves (`final`: the run's last), before training goes on: the CLI
    /// scores the checkpoint's swaps there. Its time does not count towards the next save's interval.
    public var afterSave: ((_ checkpoint: CheckpointRecord, _ final: Bool) -> Void)?
    /// The collapse guard: last good state, loss history, event counts.
    let collapseGuard: TrainingGuard
    /// The model's learning rate before the guard's cuts.
    let baseLearningRate: Double
    /// The parameters the optimizer updates (all but the frozen parts).
    private(set) var trainable: [(name: String, parameter: Parameter)] = []
    /// Those updated in a step without the random warp: an SAEHD liae model leaves `inter_AB` as it is then
    /// (DeepFaceLab trains only the encoder, `inter_B` and the decoder once random warp is off).
    private(set) var trainableWithoutWarp: [(name: String, parameter: Parameter)] = []
    /// Events of the latest steps not yet stored.
    private var pendingEvents: [TrainingEvent] = []
    /// A spike seen by the latest step, handled by `run` (it rolls back through the store).
    private var pendingSpike: (loss: Double, median: Double)?

    /// Checks the request and the faces, then creates (or loads) the model. Every bad-input error
    /// comes before any decoding or training; a new model's row is written only once its faces
    /// have all decoded. Three steps: plan (`TrainingPlan`: the model, its options and faces), load (decode the
    /// faces, build the network), start (`RunStart`: a new model's row, or the resumed checkpoint).
    /// `hooks` inject faults for tests (none unless the running code bound some, see `TrainerTestHooks.current`).
    public init(project: Project, options run: TrainOptions,
                hooks: TrainerTestHooks = TrainerTestHooks.current) throws {
        self.project = project
        self.hooks = hooks
        self.runOptions = run
        let plan = try TrainingPlan(project: project, run: run)
        options = plan.options
        batchSize = plan.batchSize
        seed = plan.seed
        replacesUnsavedModel = plan.replacesUnsavedModel

        // Decode every face once, at the model's resolution.
        let r = plan.options.resolution
        var decoded: [Int64: FaceSample] = [:]   // a generic model's roles share their faces
        let xseg = plan.options.trainingMask == .xseg
        func load(_ ids: [Int64]) throws -> [FaceSample] {
            try ids.map { id in
                if let done = decoded[id] { return done }
                let sample = try FaceSample.load(try project.face(id: id), project: project, resolution: r,
                                                 alignAs: plan.options.realignedFaceType,
                                                 xseg: xseg ? try storedXSegMask(project: project, faceID: id) : nil)
                decoded[id] = sample
                return sample
            }
        }
        let uniform = plan.options.uniformPose ?? false
        src = RoleSamples(role: .src, train: try load(plan.split.train[.src]!),
                          validation: try load(plan.split.validation[.src] ?? []), seed: seed, uniformPose: uniform)
        dst = RoleSamples(role: .dst, train: try load(plan.split.train[.dst]!),
                          validation: try load(plan.split.validation[.dst] ?? []), seed: seed, uniformPose: uniform)

        network = try plan.options.makeNetwork(seed: seed, optimizerSeed: seed)
        augmenter = Augmenter(resolution: r, options: plan.options.augmentation)
        let noWarp = run.noWarp, warpUntil = run.warpUntil
        var maker = BatchMaker(src: src, dst: dst, augmenter: augmenter, colorTransfer: plan.options.colorTransfer,
                               seed: seed, batchSize: plan.batchSize, resolution: r,
                               priority: plan.options.lossOptions.eyesMouthWeight > 0,
                               warps: { n in !noWarp && (warpUntil.map { n < $0 } ?? true) })
        // DeepFaceLab pretrains without random_hsv_power.
        maker.hsvPower = plan.options.pretrain == true ? 0 : plan.options.saehd?.randomHsvPower ?? 0
        batchMaker = maker
        srcBatch = batchMaker.emptyBatch()
        dstBatch = batchMaker.emptyBatch()
        prefetcher = run.prefetch ? BatchPrefetcher(maker: batchMaker) : nil

        let start: RunStart
        if let m = plan.existing {
            start = try RunStart.resume(m, plan: plan, network: network, project: project)
        } else {
            // A warm start loads (and checks) the other checkpoint before the new model's row is written.
            let lineage = try run.initFrom?.load(into: network, options: plan.options)
            start = try RunStart.create(plan: plan, name: run.name, project: project)
            if let lineage { try project.setModelInit(modelId: start.model.id!, lineage) }
        }
        let frozen = WarmStart.prefixes(plan.options.frozen ?? [])
        trainable = network.namedParameters.filter { p in !frozen.contains { p.name.hasPrefix($0) } }
        trainableWithoutWarp = plan.options.saehd?.network.isLIAE == true
            ? trainable.filter { !$0.name.hasPrefix("inter_AB.") } : trainable
        model = start.model
        iteration = start.iteration
        trainSeconds = start.trainSeconds
        lastValidation = start.lastValidation
        resumedFrom = start.resumedFrom
        resumedOptimizerState = start.resumedOptimizerState

        // The guard: a resumed model keeps the learning-rate cuts of its earlier rollbacks.
        baseLearningRate = plan.options.optimizer.learningRate
        let scale = plan.existing == nil ? 1 : try project.learningRateScale(modelId: start.model.id!)
        collapseGuard = TrainingGuard(settings: run.guardSettings, learningRateScale: scale)
        network.optimizer.learningRate = Float(baseLearningRate * scale)
        collapseGuard.remember(network, iteration: iteration)
    }

    /// A seeded split of `ids`: `validationFraction` of them (at most `maxValidationFaces`, at least
    /// one when there are more faces than a batch) held out, the rest trained on.
    static func split(_ ids: [Int64], batchSize: Int, options: ModelOptions, seed: UInt64)
        -> (train: [Int64], validation: [Int64]) {
        var wanted = Int((Double(ids.count) * options.validationFraction).rounded())
        wanted = min(max(wanted, 1), options.maxValidationFaces, max(0, ids.count - batchSize))
        var g = SeededGenerator(seed: seed)
        var shuffled = ids
        shuffled.shuffle(using: &g)
        let validation = Set(shuffled.prefix(wanted))
        return (ids.filter { !validation.contains($0) }, ids.filter { validation.contains($0) })
    }

    /// Faces trained on and held out, per role.
    public var faceCounts: (train: [Role: Int], validation: [Role: Int]) {
        ([.src: src.train.count, .dst: dst.train.count], [.src: src.validation.count, .dst: dst.validation.count])
    }

    /// The batch size of this run.
    public var runBatchSize: Int { batchSize }

    deinit { prefetcher?.stop() }

    /// Fresh tensors holding `iteration`'s batches, as the run draws them (for tests; training takes its batches
    /// from the prefetcher).
    func makeBatches(iteration: Int) -> (src: TrainingBatch, dst: TrainingBatch) {
        var maker = BatchMaker(src: RoleSamples(role: .src, train: src.train, validation: [], seed: seed,
                                                uniformPose: src.poseBins != nil),
                               dst: RoleSamples(role: .dst, train: dst.train, validation: [], seed: seed,
                                                uniformPose: dst.poseBins != nil),
                               augmenter: augmenter, colorTransfer: batchMaker.colorTransfer, seed: seed,
                               batchSize: batchSize, resolution: batchMaker.resolution, priority: batchMaker.priority,
                               warps: batchMaker.warps)
        maker.hsvPower = batchMaker.hsvPower
        let out = (src: maker.emptyBatch(), dst: maker.emptyBatch())
        maker.fill(src: out.src, dst: out.dst, iteration: iteration)
        return out
    }

    /// One iteration: draw and augment both batches (or take them from the prefetcher), train, record the losses.
    @discardableResult
    public func step() -> StepLosses {
        let next = iteration + 1
        let started = Date()
        let warp = batchMaker.warps(next)
        var schedule = options.schedule?.factor(iteration: next) ?? 1
        if options.saehd != nil {
            schedule *= SAEHDOptions.cosineFactor(iteration: iteration, lrDropout: options.optimizer.lrDropout)
        }
        network.optimizer.learningRate = Float(baseLearningRate * collapseGuard.learningRateScale * schedule)
        let losses: StepLosses
        // SAEHD's discriminators train on the batches after the update: they stay taken until the step's end then.
        let batches: (slot: Int, src: TrainingBatch, dst: TrainingBatch)
        if let prefetcher {
            batches = prefetcher.take(iteration: next)
        } else {
            batchMaker.fill(src: srcBatch, dst: dstBatch, iteration: next)
            batches = (-1, srcBatch, dstBatch)
        }
        var held = prefetcher != nil
        defer { if held { prefetcher?.release(batches.slot) } }
        losses = network.computeGradients(src: batches.src, dst: batches.dst)
        if held && !trainsDiscriminators {
            prefetcher?.release(batches.slot)
            held = false
        }
        var (ls, ld) = (Double(losses.srcMean), Double(losses.dstMean))
        if hooks.nonFiniteGradientAt.contains(next), let p = network.namedParameters.first?.parameter {
            p.gradient.data[0] = .nan
        }
        if let r = hooks.lossSpike, r.contains(next), collapseGuard.spikeEvents == 0 { ls *= 10; ld *= 10 }
        iteration = next
        // The guard: nothing non-finite reaches an update, the store or a checkpoint.
        if !(ls.isFinite && ld.isFinite) {
            nonFiniteStep("the loss is non-finite (src \(ls), dst \(ld))", loss: (ls + ld) / 2)
        } else if !TrainingGuard.gradientsFinite(network) {
            nonFiniteStep("a gradient is non-finite", loss: (ls + ld) / 2)
        } else {
            let updated = warp ? trainable : trainableWithoutWarp
            if options.saehd?.clipGradients == true { clipGradients(updated, maxNorm: 1) }
            network.optimizer.step(updated)
            if let bad = TrainingGuard.firstNonFiniteWeight(network) {
                nonFiniteStep("weight '\(bad)' became non-finite in the update", loss: (ls + ld) / 2)
            } else {
                stepDiscriminators(src: batches.src, dst: batches.dst, iteration: next)
                trainSeconds += Date().timeIntervalSince(started)
                pendingLosses.append(LossRow(iteration: next, lossSrc: ls, lossDst: ld, seconds: trainSeconds))
                recent.append((ls, ld))
                if recent.count > 50 { recent.removeFirst(recent.count - 50) }
                let (verdict, healthy) = collapseGuard.observe(loss: (ls + ld) / 2)
                collapseGuard.stepSucceeded(network, iteration: next, healthy: healthy)
                if case .spike(let loss, let median) = verdict { pendingSpike = (loss, median) }
                return losses
            }
        }
        trainSeconds += Date().timeIntervalSince(started)
        return losses
    }

    /// A step with something non-finite: not applied (or undone), the last good weights and optimizer state
    /// restored, an event queued for `run` to store and report.
    private func nonFiniteStep(_ what: String, loss: Double) {
        collapseGuard.countNonFinite()
        let restored: Int?
        do { restored = try collapseGuard.restore(network) } catch {
            preconditionFailure("restoring the network's own snapshot: \(error)")
        }
        let back = restored.map { "; weights and optimizer state of iteration \($0) restored" } ?? ""
        pendingEvents.append(TrainingEvent(modelId: model.id!, iteration: iteration, kind: .nonFinite,
                                           detail: "\(what): step skipped\(back)", loss: loss,
                                           learningRateScale: collapseGuard.learningRateScale))
    }

    /// The latest step's spike: back to the last checkpoint (or, before the first, the last good state in memory)
    /// with the learning rate cut; the losses after it are discarded. Returns the event and the checkpoint.
    private func rollBack(loss: Double, median: Double) throws -> (TrainingEvent, CheckpointRecord?) {
        let from = iteration
        collapseGuard.rolledBack()
        let target = try project.checkpoints(modelId: model.id!).filter { !$0.tensorsPruned }.last
        let place: String
        if let c = target {
            try CheckpointIO.load(network, project: project, checkpoint: c, model: model, optimizer: true)
            iteration = c.iteration
            place = "checkpoint #\(c.id) (iteration \(c.iteration))"
        } else {
            iteration = try collapseGuard.restore(network) ?? iteration
            place = "the last good state in memory (iteration \(iteration))"
        }
        try project.discardLosses(modelId: model.id!, after: iteration)
        pendingLosses.removeAll(keepingCapacity: true)
        recent.removeAll()
        let lr = baseLearningRate * collapseGuard.learningRateScale
        network.optimizer.learningRate = Float(lr)
        collapseGuard.remember(network, iteration: iteration)
        let detail = String(format: "the loss stayed above %.3g x its running median %.4f for %d steps (now %.4f): ",
                            collapseGuard.settings.spikeFactor, median, collapseGuard.settings.spikeSteps, loss)
            + "rolled back to \(place), learning rate now \(String(format: "%g", lr))"
        let event = TrainingEvent(modelId: model.id!, iteration: from, kind: .spike, detail: detail, loss: loss,
                                  medianLoss: median, learningRateScale: collapseGuard.learningRateScale,
                                  checkpointId: target?.id)
        return (event, target)
    }

    /// Mean (src + dst) / 2 over the last 50 iterations.
    public var recentLoss: Double {
        guard !recent.isEmpty else { return .nan }
        return recent.reduce(0) { $0 + ($1.src + $1.dst) / 2 } / Double(recent.count)
    }

    /// Writes the losses not yet stored, in one transaction.
    public func flushLosses() throws {
        guard !pendingLosses.isEmpty else { return }
        try project.appendLosses(modelId: model.id!, pendingLosses)
        pendingLosses.removeAll(keepingCapacity: true)
    }

    /// Held-out losses over every validation face, unaugmented (nil for a role without any): the
    /// shared definition in `heldOutLosses`, which `SwapModel.evaluate` also uses.
    public func validationLosses() -> (src: Double?, dst: Double?) {
        heldOutLosses(src: src.validation, dst: dst.validation, chunk: max(1, batchSize)) {
            network.evaluate(src: $0, dst: $1)
        }
    }

    /// The preview grid (PNG) over fixed faces: held-out ones first, so it shows generalisation.
    public func previewPNG() throws -> Data {
        let rows = runOptions.previewRows
        func pick(_ s: RoleSamples) -> [FaceSample] { Array((s.validation + s.train).prefix(rows)) }
        return try PreviewGrid.render(network, src: pick(src), dst: pick(dst))
    }

    /// Counts iterations from `iteration` on (a model imported from another tool keeps its count).
    func startAt(iteration: Int) { self.iteration = iteration }

    /// Saves a checkpoint now, with the pending losses, in one transaction.
    @discardableResult
    public func saveCheckpoint() throws -> CheckpointRecord {
        if let bad = TrainingGuard.firstNonFiniteWeight(network) {
            throw FacetError("model '\(model.name)': weight '\(bad)' is non-finite at iteration \(iteration); "
                             + "no checkpoint saved",
                             kind: .failed)
        }
        let validation = validationLosses()
        lastValidation = validation
        let recentSrc = recent.isEmpty ? nil : recent.reduce(0) { $0 + $1.src } / Double(recent.count)
        let recentDst = recent.isEmpty ? nil : recent.reduce(0) { $0 + $1.dst } / Double(recent.count)
        let rng = try JSONEncoder().encode(RandomState(seed: seed, iteration: iteration))
        let png = try previewPNG()
        let c = NewCheckpoint(modelId: model.id!, iteration: iteration, lossSrc: recentSrc, lossDst: recentDst,
                              valLossSrc: validation.src, valLossDst: validation.dst, trainSeconds: trainSeconds,
                              rngState: rng)
        let network = self.network
        savesThisRun += 1
        let killHere = hooks.killDuringSave == savesThisRun
        let saved = try project.saveCheckpoint(c, losses: pendingLosses, previews: ["grid": png]) { writer in
            try CheckpointIO.write(network, to: writer, killHalfway: killHere)
        }
        pendingLosses.removeAll(keepingCapacity: true)
        return saved
    }

    /// Trains until `options.stop` or `shouldStop()`, flushing losses every few seconds and saving
    /// every `saveEveryMinutes` and at the end. `progress` gets every iteration and every save.
    public func run(shouldStop: () -> Bool = { false },
                    progress: (TrainProgress) -> Void = { _ in }) throws -> TrainResult {
        let runStart = Date(), startIteration = iteration
        var lastFlush = Date(), lastSave = Date()
        var window: [(time: Date, iteration: Int, loss: Double)] = [(runStart, startIteration, .nan)]
        var interrupted = false
        var last: CheckpointRecord? = nil
        func report(_ losses: StepLosses?, saved: CheckpointRecord?, event: TrainingEvent? = nil) {
            let now = Date()
            let first = window.first
            let rate = first.map { Double(iteration - $0.iteration) / max(now.timeIntervalSince($0.time), 1e-9) } ?? 0
            var eta: Double? = nil
            if case .targetLoss(let target) = runOptions.stop, window.count >= 10, let f = window.dropFirst().first {
                let current = recentLoss, earlier = f.loss, dt = now.timeIntervalSince(f.time)
                if current <= target { eta = 0 } else if current < earlier, dt > 0 {
                    // Exponential decay fitted through the window's ends.
                    let k = log(earlier / current) / dt
                    eta = log(current / target) / k
                }
            }
            let val: Double? = (lastValidation.src != nil && lastValidation.dst != nil)
                ? (lastValidation.src! + lastValidation.dst!) / 2 : (lastValidation.src ?? lastValidation.dst)
            progress(TrainProgress(iteration: iteration, iterationsPerSecond: rate,
                                   lossSrc: Double(losses?.srcMean ?? .nan),
                                   lossDst: Double(losses?.dstMean ?? .nan), recentLoss: recentLoss,
                                   validationLoss: val,
                                   secondsToTarget: eta, saved: saved, event: event))
        }
        while true {
            if shouldStop() { interrupted = true; break }
            let done: Bool
            switch runOptions.stop {
            case .never: done = false
            case .iterations(let n): done = iteration >= n
            case .minutes(let m): done = Date().timeIntervalSince(runStart) >= m * 60
            case .targetLoss(let t): done = recent.count >= 20 && recentLoss <= t
            }
            if done { break }
            let losses = step()
            for e in pendingEvents {
                try flushLosses()
                report(nil, saved: nil, event: try project.recordTrainingEvent(e))
            }
            pendingEvents.removeAll()
            if let spike = pendingSpike {
                pendingSpike = nil
                let (e, c) = try rollBack(loss: spike.loss, median: spike.median)
                if let c { last = c }
                window = [(Date(), iteration, .nan)]
                report(nil, saved: nil, event: try project.recordTrainingEvent(e))
            }
            if let reason = collapseGuard.stopReason(learningRate: baseLearningRate * collapseGuard.learningRateScale,
                                                     resumed: resumedFrom != nil) {
                try flushLosses()
                let kept = try project.checkpoints(modelId: model.id!).last
                let tail = kept.map { " (checkpoint #\($0.id) at iteration \($0.iteration) is kept)" }
                    ?? " (no checkpoint was saved)"
                let e = TrainingEvent(modelId: model.id!, iteration: iteration, kind: .stopped, detail: reason + tail,
                                      learningRateScale: collapseGuard.learningRateScale)
                report(nil, saved: nil, event: try project.recordTrainingEvent(e))
                throw FacetError("model '\(model.name)': training stopped at iteration \(iteration): \(reason)\(tail)",
                                 kind: .failed)
            }
            let now = Date()
            window.append((now, iteration, recentLoss))
            if window.count > 200 || (window.count > 10 && now.timeIntervalSince(window[0].time) > 300) {
                window.removeFirst()
            }
            if now.timeIntervalSince(lastSave) >= runOptions.saveEveryMinutes * 60 {
                last = try saveCheckpoint()
                afterSave?(last!, false)
                lastSave = Date()
                lastFlush = lastSave
                report(losses, saved: last)
            } else {
                if now.timeIntervalSince(lastFlush) >= runOptions.lossFlushSeconds {
                    try flushLosses()
                    lastFlush = Date()
                }
                report(losses, saved: nil)
            }
        }
        prefetcher?.pause()
        // The end of a run is always a checkpoint, unless nothing changed since the last one.
        if last == nil || last!.iteration != iteration {
            if iteration == startIteration, let r = resumedFrom {
                last = r
            } else {
                last = try saveCheckpoint()
                afterSave?(last!, true)
                report(nil, saved: last)
            }
        }
        return TrainResult(model: model, checkpoint: last!, iterationsThisRun: max(0, iteration - startIteration),
                           interrupted: interrupted)
    }
}

/// What a run trains, worked out before anything is decoded or written: the model (new, or the one to resume), its
/// options, the batch size and seed, and which kept faces it trains on and holds out.
struct TrainingPlan {
    /// The model to resume, nil for a new one.
    var existing: ModelRecord?
    var options: ModelOptions
    var batchSize: Int
    var seed: UInt64
    /// Faces trained on and held out, per role.
    var split = ModelFaceSplit()
    /// A resumed model's faces kept since its split was made (added to its training faces).
    var added = ModelFaceSplit()
    /// A model of this name without any checkpoint (a first run killed before its first save) is replaced.
    var replacesUnsavedModel = false
    /// A resumed model's options differ from its stored ones (an SAEHD option changed on resume).
    var optionsChanged = false

    /// Checks `run` against the project: every bad-input error of a run comes from here.
    init(project: Project, run: TrainOptions) throws {
        if let b = run.batchSize, b < 1 { throw FacetError.setting("batch", "must be at least 1, got \(b)") }
        guard run.saveEveryMinutes > 0 else { throw FacetError.setting("save-every-minutes", "must be positive") }
        if run.resume {
            guard let name = run.name else { throw FacetError.setting("resume", "needs the name of a model") }
            let m = try project.requireModel(named: name)
            let stored = try ModelOptions.parse(m.optionsJson, model: m.name)
            if let a = run.architecture, a != stored.architecture {
                throw FacetError("model '\(name)' is a \(stored.architecture.rawValue) model, not \(a.rawValue); "
                                 + "drop --model to resume it, or train a new one with --name")
            }
            options = stored
            existing = m
            if !run.resumeChanges.isEmpty {
                options = try run.resumeChanges.apply(to: stored, model: name)
                optionsChanged = options != stored
            }
        } else {
            guard let a = run.architecture else {
                throw FacetError("name an architecture with --model "
                                 + "(\(TrainArchitecture.allCases.map(\.rawValue).joined(separator: ", "))) or resume "
                                 + "one with --resume NAME")
            }
            let name = run.name ?? a.rawValue
            if let old = try project.model(named: name) {
                // A model without a checkpoint is what a first run killed before its first save
                // leaves: nothing to keep, so the same command starts it afresh.
                guard try project.checkpoints(modelId: old.id!).isEmpty else {
                    throw FacetError.file(project.path,
                                          "already has a model named '\(name)' (resume it with --resume \(name), "
                                          + "or pick another --name)", kind: .conflict)
                }
                replacesUnsavedModel = true
            }
            options = ModelOptions(architecture: a, batchSize: run.batchSize, optimizer: run.optimizer, h128: run.h128,
                                   saehd: run.saehd)
            run.knobs.apply(to: &options)
            if let s = options.saehd {
                try s.validate()
                if options.maskedTraining == false && !s.maskedTrainingIsChoice {
                    throw FacetError("an saehd model of \(s.faceType.rawValue) faces always trains masked "
                                     + "(DeepFaceLab offers --no-masked-training for whole_face and head only)")
                }
            }
            if let w = run.initFrom {
                if !w.freeze.isEmpty { options.frozen = w.freeze }
                // The new network pads its downscales as the pretrained one does (models made before symmetric
                // padding keep TensorFlow's), so the weights read what they learned on; an unreadable source is
                // for `WarmStart.load` to name.
                if let theirs = try? w.sourceOptions(), theirs.architecture == options.architecture {
                    options.network.downscalePadding = theirs.network.downscalePadding
                    if let t = theirs.saehd { options.saehd?.network.downscalePadding = t.network.downscalePadding }
                }
            }
            if run.pretrain { options.pretrain = true }
            if !run.persons.isEmpty {
                options.persons = Dictionary(uniqueKeysWithValues: run.persons.map { ($0.key.rawValue, $0.value) })
            }
        }
        batchSize = run.batchSize ?? options.batchSize
        seed = existing.map { UInt64(bitPattern: $0.seed) } ?? run.seed ?? 1

        // Which faces: a new model splits the kept faces now; a resumed one keeps its split and
        // trains also on faces kept since (never on its held-out ones, nor on rejected ones).
        if options.pretrain == true {
            try pretrainFaces(project: project)
            return
        }
        for role in Role.allCases {
            var keptQuery = FaceQuery(role: role, status: .kept)
            keptQuery.person = options.persons?[role.rawValue]
            let kept = try project.faceIDs(matching: keptQuery)
            if let m = existing {
                let stored = try project.modelFaces(modelId: m.id!)
                let held = Set(stored.validation[role] ?? []), known = held.union(stored.train[role] ?? [])
                split.validation[role] = kept.filter { held.contains($0) }
                split.train[role] = kept.filter { !held.contains($0) }
                added.train[role] = kept.filter { !known.contains($0) }
            } else {
                let (train, validation) = Trainer.split(kept, batchSize: batchSize, options: options,
                                                        seed: mix(seed, role == .src ? 11 : 12))
                split.train[role] = train
                split.validation[role] = validation
            }
            let nTrain = split.train[role]?.count ?? 0
            if options.trainingMask == .xseg, !kept.isEmpty {
                let have = try project.predictedMaskStates(role: role)
                let used = (split.train[role] ?? []) + (split.validation[role] ?? [])
                let missing = used.filter { have[$0] == nil }
                if let first = missing.first {
                    throw FacetError.file(project.path,
                                          "\(missing.count) of the \(used.count) \(role.rawValue) faces to train on "
                                          + "have no predicted mask (face \(first) first): run "
                                          + "`facet xseg apply \(project.path)` before training with --mask xseg")
                }
            }
            if kept.isEmpty, let person = keptQuery.person {
                throw FacetError.file(project.path,
                                      "has no kept \(role.rawValue) faces of person \(person) to train on "
                                      + "(see `facet people \(project.path)`)")
            }
            if kept.isEmpty {
                throw FacetError.file(project.path,
                                      "has no kept \(role.rawValue) faces: "
                                      + "import a \(role.rawValue) video and run facet extract --role "
                                      + "\(role.rawValue) first")
            }
            if nTrain < batchSize {
                throw FacetError.file(project.path,
                                      "has \(nTrain) \(role.rawValue) faces to train on, "
                                      + "fewer than a batch of \(batchSize): extract more faces, "
                                      + "restore rejected ones, or lower --batch")
            }
        }
    }
}

extension TrainingPlan {
    /// A generic model's faces: every kept face of the project for both roles (one split, so a held-out face is
    /// held out from both decoders).
    mutating func pretrainFaces(project: Project) throws {
        let kept = try project.faceIDs(matching: FaceQuery(status: .kept))
        if let m = existing {
            let stored = try project.modelFaces(modelId: m.id!)
            let held = Set(stored.validation.values.joined())
            let known = held.union(stored.train.values.joined())
            for role in Role.allCases {
                split.validation[role] = kept.filter { held.contains($0) }
                split.train[role] = kept.filter { !held.contains($0) }
            }
            added.train[.src] = kept.filter { !known.contains($0) }
        } else {
            let (train, validation) = Trainer.split(kept, batchSize: batchSize, options: options, seed: mix(seed, 13))
            for role in Role.allCases {
                split.train[role] = train
                split.validation[role] = validation
            }
        }
        let nTrain = split.train[.src]?.count ?? 0
        guard !kept.isEmpty else {
            throw FacetError.file(project.path, "has no kept faces to pretrain on")
        }
        if nTrain < batchSize {
            throw FacetError.file(project.path, "has \(nTrain) faces to pretrain on, fewer than a batch of "
                                  + "\(batchSize): add projects with more faces, or lower --batch")
        }
    }
}

/// Where a run starts: a new model's row, or a resumed model with its newest checkpoint's weights, optimizer state,
/// iteration, training time and held-out losses.
struct RunStart {
    var model: ModelRecord
    var iteration = 0
    var trainSeconds = 0.0
    var lastValidation: (src: Double?, dst: Double?) = (nil, nil)
    var resumedFrom: CheckpointRecord?
    var resumedOptimizerState = false

    /// Writes the new model's row (with its face split).
    static func create(plan: TrainingPlan, name: String?, project: Project) throws -> RunStart {
        let a = plan.options.architecture
        let record = ModelRecord(name: name ?? a.rawValue, architecture: a.rawValue,
                                 resolution: plan.options.resolution,
                                 faceType: plan.options.faceType, optionsJson: try plan.options.json(),
                                 seed: Int64(bitPattern: plan.seed))
        return RunStart(model: try project.createModel(record, split: plan.split,
                                                       replacingUnsaved: plan.replacesUnsavedModel))
    }

    /// Adds the faces kept since, loads the newest checkpoint that still has weights into `network` (none: the run
    /// died before its first save, and starts from iteration 0), and discards the losses after it.
    static func resume(_ m: ModelRecord, plan: TrainingPlan, network: any SwapNetwork,
                       project: Project) throws -> RunStart {
        var start = RunStart(model: m)
        if plan.optionsChanged {
            start.model.optionsJson = try plan.options.json()
            try project.setModelOptions(modelId: m.id!, json: start.model.optionsJson)
        }
        if !(plan.added.train[.src]?.isEmpty ?? true) || !(plan.added.train[.dst]?.isEmpty ?? true) {
            try project.addModelFaces(modelId: m.id!, split: plan.added)
        }
        let checkpoints = try project.checkpoints(modelId: m.id!).filter { !$0.tensorsPruned }
        if let c = checkpoints.last {
            start.resumedOptimizerState = try CheckpointIO.load(
                network, project: project, checkpoint: c, model: m, optimizer: true)
            start.iteration = c.iteration
            start.trainSeconds = c.trainSeconds
            start.lastValidation = (c.valLossSrc, c.valLossDst)
            start.resumedFrom = c
            if let state = try project.checkpointRNGState(id: c.id),
               let rs = try? JSONDecoder().decode(RandomState.self, from: state),
               rs.seed != plan.seed || rs.iteration != c.iteration {
                throw FacetError("model '\(m.name)': checkpoint \(c.id) holds random state for seed \(rs.seed) at "
                                 + "iteration \(rs.iteration), not \(plan.seed) at \(c.iteration); "
                                 + "the checkpoint is damaged")
            }
        }
        // Iterations after the checkpoint are redone, so their old losses go.
        try project.discardLosses(modelId: m.id!, after: start.iteration)
        return start
    }
}

/// Faults a test injects into a training run; shipping code never sets any. Passed to `Trainer.init`, whose default is
/// `current`: a test binds hooks around the code it runs, and the CLI's main binds the ones its tests ask for through
/// the environment (`FACET_TEST_KILL_DURING_SAVE`), so the library itself reads no environment variable.
public struct TrainerTestHooks: Sendable, Equatable {
    /// The process SIGKILLs itself halfway through writing the tensors of its N-th checkpoint of the run, inside the
    /// save's transaction (what a kill -9 or power cut at the worst moment does).
    public var killDuringSave: Int?
    /// Iterations whose first parameter gradient gets a NaN written into it before the guard looks.
    public var nonFiniteGradientAt: Set<Int>
    /// Iterations whose losses the guard sees 10x larger (a spike), until the run's first rollback.
    public var lossSpike: ClosedRange<Int>?

    /// Hooks with the given faults (none by default).
    public init(killDuringSave: Int? = nil, nonFiniteGradientAt: Set<Int> = [], lossSpike: ClosedRange<Int>? = nil) {
        self.killDuringSave = killDuringSave
        self.nonFiniteGradientAt = nonFiniteGradientAt
        self.lossSpike = lossSpike
    }

    /// The hooks of the running code: none unless a caller bound some with `$current.withValue`.
    @TaskLocal public static var current = TrainerTestHooks()
}
