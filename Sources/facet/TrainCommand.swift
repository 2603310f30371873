/// `facet train`: train a new model (quick96 or tiny) or resume one, everything in the project file.
import ArgumentParser
import Dispatch
import FacetCore
import FacetNN
import FacetSelect
import FacetStore
import FacetTrain
import FacetVision
import Foundation

extension TrainArchitecture: ExpressibleByArgument {}
extension OptimizerOptions.Kind: ExpressibleByArgument {}
extension TrainingMask: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a face-swap model on the kept src and dst faces (Ctrl-C saves and stops).",
        discussion: """
            Every iteration's loss, and a checkpoint (weights, optimizer state, held-out loss, preview grid) every \
            --save-every-minutes and at the end, go into the project file. --resume NAME carries on from the model's \
            latest checkpoint with the same iteration numbering.
            """)

    @OptionGroup var target: ProjectArgument
    @Option(help: """
        Architecture of a new model: quick96 (DeepFaceLab's, 96 px), h128 (DeepFaceLab's H128: half face, \
        128 px), saehd (DeepFaceLab's SAEHD, options below) or tiny (64 px demo).
        """)
    var model: TrainArchitecture?
    @OptionGroup var network: SAEHDNetworkFlags
    @Flag(inversion: .prefixedNo, help: """
        saehd: blur the background near the face in the targets (DeepFaceLab's blur_out_mask; default off). \
        May change on --resume.
        """)
    var blurOutMask: Bool?
    @Flag(inversion: .prefixedNo, help: """
        saehd: clip the gradients to a global norm of 1 (DeepFaceLab's clipgrad; default off). May change on --resume.
        """)
    var clipGradients: Bool?
    @Option(help: """
        saehd: GAN power, 0 to 5 (default 0: off; DeepFaceLab's gan_power, typically 0.1 once the face is trained, \
        with lr dropout on and random warp off). May change on --resume.
        """)
    var ganPower: Double?
    @Option(help: "saehd: the GAN discriminator's patch size, 3 to 640 (default resolution / 8). May change on resume.")
    var ganPatchSize: Int?
    @Option(help: "saehd: the GAN discriminator's width gan_dims, 4 to 512 (default 16). May change on --resume.")
    var ganDims: Int?
    @Option(help: """
        saehd, df archis: 'true face' power, 0 to 1 (default 0: off; DeepFaceLab's true_face_power, typically 0.01). \
        May change on --resume.
        """)
    var trueFacePower: Double?
    @Option(help: """
        saehd: one random hue, saturation and value shift per src input face, 0 to 0.3 (DeepFaceLab's \
        random_hsv_power; default 0, off; 0.05 is its typical value). May change on --resume.
        """)
    var randomHsvPower: Double?
    @Flag(help: "h128 only: DeepFaceLab's lighter H128 (dense 256, decoders 256, 128, 64).") var lighter = false
    @Flag(help: "h128 only: 50 x MSE under the blurred mask instead of 10 x DSSIM (DeepFaceLab's pixel loss).")
    var pixelLoss = false
    @Option(help: "Name of the new model (default: the architecture's name).") var name: String?
    @Option(help: "Resume the model with this name from its latest checkpoint.") var resume: String?
    @Option(help: "Faces per role per iteration (default: quick96 and h128 4, tiny 8).") var batch: Int?
    @Option(help: "Stop when the model reaches iteration N (counted over all its runs).") var iterations: Int?
    @Option(help: "Stop after M minutes of this run.") var minutes: Double?
    @Option(help: "Stop when the mean loss of the last 50 iterations, (src + dst) / 2, reaches L.")
    var targetLoss: Double?
    @Option(help: "Minutes between checkpoints (one is always saved at the end).") var saveEveryMinutes: Double = 10
    @Option(help: "Seed of a new model's weights, split, sampling and augmentation.") var seed: UInt64?
    @Option(
        help: "Optimizer of a new model: rmsprop, adam or adabelief (default: quick96 rmsprop, tiny and h128 adam).")
    var optimizer: OptimizerOptions.Kind?
    @Option(help: ArgumentHelp("Learning rate of a new model (default: rmsprop 2e-4, adam 5e-4, adabelief 1.5e-4 "
                               + "(tiny) or 5e-5; h128 5e-5)."))
    var learningRate: Double?
    @Option(help: """
        A new model trains only on these persons' faces: SRC_P or SRC_P:DST_P (numbers or names, see `facet people`).
        """)
    var person: String?
    @Flag(help: "Do not score each saved checkpoint's swaps (facet score does it later).") var noScore = false
    @Flag(help: """
        A new model's image loss covers the whole square, not only the face mask (DeepFaceLab's masked_training off).
        """)
    var noMaskedTraining = false
    @Flag(inversion: .prefixedNo, help: "A new model weighs the eyes and mouth more (DeepFaceLab's eyes_mouth_prio).")
    var eyesMouthPriority: Bool?
    @Flag(inversion: .prefixedNo, help: "A new model draws faces evenly over yaw x pitch bins (DFL's uniform_yaw).")
    var uniformPose: Bool?
    @Option(help: """
        Src faces recoloured towards random dst faces: rct, lct or none (DeepFaceLab's ct_mode; default none). \
        saehd: may change on --resume (none turns it off).
        """)
    var colorTransfer: ColorTransferChoice?
    @Option(help: "A new model's learning rate rises linearly over its first N iterations.") var lrWarmup: Int?
    @Option(help: "A new model's learning rate falls (cosine) over N iterations after the warm-up to --lr-floor.")
    var lrDecay: Int?
    @Option(help: "The share of the learning rate left after --lr-decay (default 0.1).") var lrFloor: Double?
    @Option(help: """
        A new model's lr dropout: the probability that a weight is updated in a step (1 = always; saehd: 0.3 is \
        DeepFaceLab's lr_dropout y, with its lr_cos 500; may change on --resume).
        """)
    var lrDropout: Double?
    @Option(help: """
        A new model's face mask (where the loss counts, what the mask decoder learns): hull (default), or xseg, \
        each face's segmenter mask (facet xseg apply), which leaves out what covers the face.
        """) var mask: TrainingMask?
    @Flag(help: "This run trains without the random warp (the final, sharpening phase).") var noWarp = false
    @Option(help: "This run stops the random warp from model iteration N on.") var warpUntil: Int?
    @Option(help: """
        A new model starts from another project's checkpoint: OTHER.facet:CKPT (id, best, latest, tag); a new saehd \
        model given no network options takes that model's network and face type.
        """)
    var initFrom: String?
    @Option(help: """
        With --init-from: keep this part fixed (encoder: the shared encoder and inter; saehd liae: encoder, inter_AB).
        """)
    var freeze: String?
    @Flag(help: ArgumentHelp("Prepare batches in the loop, not ahead on a thread (Tools/bench train-speed).",
                             visibility: .hidden))
    var noPrefetch = false

    func validate() throws {
        if (model == nil) == (resume == nil) {
            throw ValidationError("give either --model quick96|h128|saehd|tiny (a new model) or --resume NAME")
        }
        if resume != nil && name != nil {
            throw ValidationError("--name names a new model; --resume already names the model")
        }
        if resume != nil && (seed != nil || optimizer != nil || learningRate != nil) {
            throw ValidationError("--seed, --optimizer and --learning-rate are fixed when a model is created; "
                                  + "they cannot change on --resume")
        }
        if [iterations != nil, minutes != nil, targetLoss != nil].filter({ $0 }).count > 1 {
            throw ValidationError("give at most one of --iterations, --minutes and --target-loss")
        }
        if let b = batch, b < 1 { throw ValidationError("--batch must be at least 1") }
        if let i = iterations, i < 1 { throw ValidationError("--iterations must be at least 1") }
        if let m = minutes, !(m > 0) { throw ValidationError("--minutes must be positive") }
        if let l = targetLoss, !(l > 0) { throw ValidationError("--target-loss must be positive") }
        if !(saveEveryMinutes > 0) { throw ValidationError("--save-every-minutes must be positive") }
        if let r = learningRate, !(r > 0) { throw ValidationError("--learning-rate must be positive") }
        if resume != nil && person != nil {
            throw ValidationError("--person is fixed when a model is created; a resumed model keeps its persons")
        }
        if (lighter || pixelLoss) && model != .h128 {
            throw ValidationError("--lighter and --pixel-loss are options of --model h128")
        }
        if resume != nil && (lrWarmup != nil || lrDecay != nil || lrFloor != nil) {
            throw ValidationError("the lr schedule is fixed when a model is created")
        }
        if model != nil && model != .saehd && saehdNetworkGiven {
            throw ValidationError("--archi, --resolution, --face-type, --ae-dims, --e-dims, --d-dims, --d-mask-dims "
                                  + "and --preset are options of --model saehd")
        }
        if model != nil && model != .saehd && (blurOutMask != nil || clipGradients != nil || randomHsvPower != nil) {
            throw ValidationError("--blur-out-mask, --clip-gradients and --random-hsv-power are options of "
                                  + "--model saehd")
        }
        if model != nil && model != .saehd && (ganPower != nil || ganPatchSize != nil || ganDims != nil
                                                || trueFacePower != nil) {
            throw ValidationError("--gan-power, --gan-patch-size, --gan-dims and --true-face-power are options of "
                                  + "--model saehd")
        }
        if resume != nil && mask != nil {
            throw ValidationError("--mask is fixed when a model is created; a resumed model keeps its mask")
        }
        if let w = lrWarmup, w < 0 { throw ValidationError("--lr-warmup must be 0 or more") }
        if let d = lrDecay, d < 0 { throw ValidationError("--lr-decay must be 0 or more") }
        if let f = lrFloor, !(f > 0 && f <= 1) { throw ValidationError("--lr-floor must be in (0, 1]") }
        if let p = lrDropout, !(p > 0 && p <= 1) { throw ValidationError("--lr-dropout must be in (0, 1]") }
        if let w = warpUntil, w < 0 { throw ValidationError("--warp-until must be 0 or more") }
        if initFrom != nil && resume != nil {
            throw ValidationError("--init-from starts a new model; --resume carries one on")
        }
        if freeze != nil && initFrom == nil { throw ValidationError("--freeze goes with --init-from") }
        if let f = freeze, !WarmStart.freezable.contains(f) { throw ValidationError("--freeze knows: encoder") }
    }

    /// Whether any option fixed at an SAEHD model's creation was given.
    var saehdNetworkGiven: Bool { network.given }

    /// A new SAEHD model's options from the flags (DeepFaceLab's defaults, or the preset, for those not given).
    func saehdOptions() throws -> SAEHDOptions {
        var o = try network.options()
        o.blurOutMask = blurOutMask ?? false
        o.clipGradients = clipGradients ?? false
        var gan = o.adversarial
        gan.ganPower = ganPower ?? 0
        gan.ganPatchSize = ganPatchSize ?? gan.ganPatchSize
        gan.ganDims = ganDims ?? gan.ganDims
        gan.trueFacePower = trueFacePower ?? 0
        try SAEHDAdversarialChanges.checkShapeWithoutPower(gan, patchSize: ganPatchSize, dims: ganDims)
        o.gan = gan
        o.randomHsvPower = randomHsvPower ?? 0
        try o.validate()
        return o
    }

    func run() throws {
        if let r = resume, saehdNetworkGiven {
            throw FacetError("model '\(r)': archi, resolution, face type and the widths are fixed when a model is "
                             + "created (DeepFaceLab does not change them on resume either)")
        }
        var options = TrainOptions(architecture: model, name: resume ?? name, resume: resume != nil, batchSize: batch,
                                   saveEveryMinutes: saveEveryMinutes, seed: seed)
        if model == .h128 {
            var network = lighter ? H128Config.lighter : H128Config.h128
            network.pixelLoss = pixelLoss
            options.h128 = network
        }
        if let i = iterations {
            options.stop = .iterations(i)
        } else if let m = minutes {
            options.stop = .minutes(m)
        } else if let l = targetLoss {
            options.stop = .targetLoss(l)
        }
        if let arch = model, optimizer != nil || learningRate != nil || lrDropout != nil {
            var o = arch.defaultOptimizer(kind: optimizer ?? arch.defaultOptimizer.kind)
            if let r = learningRate { o.learningRate = r }
            if let p = lrDropout { o.lrDropout = p }
            options.optimizer = o
        }
        if model == .saehd {
            var o = try saehdOptions()
            // A warm start given no network options takes the other model's network and face type.
            if let from = initFrom, !network.given,
               let theirs = try WarmStart.parse(from).sourceOptions().saehd {
                o.network = theirs.network
                o.faceType = theirs.faceType
            }
            options.saehd = o
        }
        if resume != nil {
            var c = SAEHDResumeChanges()
            if noMaskedTraining { c.maskedTraining = false }
            c.eyesMouthPriority = eyesMouthPriority
            c.uniformPose = uniformPose
            if let t = colorTransfer { c.colorTransfer = .some(t.transfer) }
            c.lrDropout = lrDropout
            c.blurOutMask = blurOutMask
            c.clipGradients = clipGradients
            c.adversarial = SAEHDAdversarialChanges(ganPower: ganPower, ganPatchSize: ganPatchSize, ganDims: ganDims,
                                                    trueFacePower: trueFacePower)
            c.randomHsvPower = randomHsvPower
            options.resumeChanges = c
        }
        if noMaskedTraining { options.knobs.maskedTraining = false }
        options.knobs.eyesMouthPriority = eyesMouthPriority
        options.knobs.uniformPose = uniformPose
        options.knobs.colorTransfer = colorTransfer?.transfer
        options.knobs.trainingMask = mask
        if lrWarmup != nil || lrDecay != nil || lrFloor != nil {
            options.knobs.schedule = LearningRateSchedule(warmupIterations: lrWarmup ?? 0,
                                                          decayIterations: lrDecay ?? 0, floor: lrFloor ?? 0.1)
        }
        options.noWarp = noWarp
        options.prefetch = !noPrefetch
        options.initFrom = initFrom.map { WarmStart.parse($0, freeze: freeze.map { [$0] } ?? []) }
        options.warpUntil = warpUntil

        let project = try Project(path: target.project)
        if let person {
            let parts = person.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            if !parts[0].isEmpty { options.persons[.src] = try resolvePerson(project, parts[0], role: .src).id }
            if parts.count > 1, !parts[1].isEmpty {
                options.persons[.dst] = try resolvePerson(project, parts[1], role: .dst).id
            }
        }
        let trainer = try Trainer(project: project, options: options)
        // After the checks, so a refused request stays one line on stderr.
        if let warning = Engine.blasKernelWarning {
            FileHandle.standardError.write(Data("facet: warning: \(warning)\n".utf8))
        }
        if trainer.replacesUnsavedModel {
            FileHandle.standardError.write(Data("""
                model '\(trainer.model.name)' had no checkpoint (its first run stopped before saving one): \
                starting it afresh\n
                """.utf8))
        }
        let counts = trainer.faceCounts
        let from = trainer.resumedFrom.map {
            " from checkpoint #\($0.id) at iteration \($0.iteration)"
                + (trainer.resumedOptimizerState ? "" : " (no optimizer state stored: it starts afresh)")
        } ?? ""
        FileHandle.standardError.write(Data(("""
            \(options.resume ? "resuming" : "training") model '\(trainer.model.name)' (\(trainer.model.architecture), \
            \(trainer.options.resolution) px, \
            batch \(trainer.runBatchSize))\(from): src \(counts.train[.src] ?? 0) faces + \
            \(counts.validation[.src] ?? 0) held out, \
            dst \(counts.train[.dst] ?? 0) + \(counts.validation[.dst] ?? 0) held out. Ctrl-C saves and stops.\n
            """).utf8))

        // Each save's swaps scored as `facet score` would, within 5% of the run's time (README "Swap scores").
        let scoring = noScore ? nil : ScoreOnSave(makeScorer: {
            SwapScorer(pipeline: try FacePipeline.load(), recognizer: try FaceRecognizer())
        }, note: { FileHandle.standardError.write(Data("facet train: note: \($0)\n".utf8)) })
        if let scoring {
            trainer.afterSave = { c, final in scoring.checkpointSaved(c, project: project, final: final) }
        }

        let stop = StopFlag()
        let signals = stop.installSignalHandlers()
        defer { withExtendedLifetime(signals) {} }

        var line = ProgressLine()
        let result = try trainer.run(shouldStop: { stop.isSet }) { p in
            var text = "iter \(p.iteration)  \(String(format: "%.2f", p.iterationsPerSecond)) it/s  src "
                       + "\(String(format: "%.4f", p.lossSrc)) dst \(String(format: "%.4f", p.lossDst))  mean50 "
                       + "\(String(format: "%.4f", p.recentLoss))"
            if let v = p.validationLoss { text += "  val \(String(format: "%.4f", v))" }
            if case .targetLoss(let t) = options.stop {
                text += "  target \(t): " + (p.secondsToTarget.map { "~" + Self.duration($0) } ?? "eta unknown")
            }
            if let e = p.event {
                let kind = e.kind == .nonFinite ? "non-finite step" : e.kind == .spike ? "loss spike" : "stopped"
                line.finish("guard: \(kind) at iteration \(e.iteration): \(e.detail)")
            } else if let c = p.saved {
                let val = c.valLoss.map { String(format: " (val loss %.4f)", $0) } ?? ""
                let swaps = scoring?.scores[c.id].map { "; swaps: " + SwapScoreText.brief($0) } ?? ""
                line.finish("saved checkpoint #\(c.id) at iteration \(c.iteration)" + val + swaps)
            } else {
                line.update(text)
            }
        }
        let c = result.checkpoint
        print("\(result.interrupted ? "interrupted: " : "")model '\(result.model.name)' checkpoint #\(c.id) at "
              + "iteration \(c.iteration)"
              + (c.valLoss.map { String(format: ", val loss %.5f",
                                        $0) } ?? "") + " (\(result.iterationsThisRun) iterations this run)")
        if let scoring, !scoring.scores.isEmpty {
            let total = scoring.scoringSeconds + scoring.otherSeconds
            let share = total > 0 ? 100 * scoring.scoringSeconds / total : 0
            let skipped = scoring.skipped.isEmpty ? ""
                : "; \(scoring.skipped.count) left unscored to stay within 5% (facet score scores them)"
            print("scored \(scoring.scores.count) checkpoints' swaps in "
                  + String(format: "%.1f s, %.1f%% of the run", scoring.scoringSeconds, share) + skipped)
        }
    }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "?" }
        let t = Int(s.rounded())
        return t >= 3600 ? "\(t / 3600)h\(String(format: "%02d", t % 3600 / 60))m"
            : t >= 60 ? "\(t / 60)m\(String(format: "%02d", t % 60))s" : "\(t)s"
    }
}

/// Set by SIGINT/SIGTERM; the training loop checks it between iterations, then saves and exits.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var set = false
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return set }

    /// Routes SIGINT and SIGTERM to the flag (the default action would kill mid-iteration and lose
    /// the work since the last checkpoint); a second Ctrl-C quits at once, the last checkpoint
    /// being intact either way. Keep the returned sources alive while training.
    func installSignalHandlers() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                let again = set
                set = true
                lock.unlock()
                if again { _exit(130) }
                FileHandle.standardError.write(Data("""
                    \nstopping: saving a checkpoint (Ctrl-C again quits without saving; \
                    the last checkpoint stays intact)\n
                    """.utf8))
            }
            source.resume()
            return source
        }
    }
}
