/// `facet xseg train` and `facet xseg apply`: the occlusion segmenter, trained on the project's labelled faces
/// and applied to every face.
import ArgumentParser
import FacetCore
import FacetNN
import FacetStore
import FacetTrain
import Foundation

struct XSegCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xseg",
        abstract: "Train the occlusion segmenter on the labelled faces (xseg train) and store a mask for every face "
                  + "(xseg apply).",
        subcommands: [XSegTrainCommand.self, XSegApplyCommand.self])
}

struct XSegTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train (or carry on training) the segmenter on the faces of both roles that have mask labels.",
        discussion: "Labels come from `facet mask PROJECT --import FILE.jsonl` or the gallery's mask editor. A fifth "
                    + "of the labelled faces (when there are 5 or more) is held out: their IoU is the checkpoint's "
                    + "quality (`facet checkpoints` shows it, and val_loss is 1 - IoU). Ctrl-C saves and stops.")

    @OptionGroup var target: ProjectArgument
    @Option(help: "The segmenter model's name.") var name = "xseg"
    @Option(help: "Stop when the model reaches iteration N (counted over all its runs; default 2000).")
    var iterations: Int?
    @Option(help: "Stop after M minutes of this run.") var minutes: Double?
    @Option(help: "Faces per step of a new model.") var batch: Int?
    @Option(help: "Side of a new model's masks in pixels (a multiple of 32).") var resolution: Int?
    @Option(help: "Minutes between checkpoints (one is always saved at the end).") var saveEveryMinutes: Double = 5
    @Option(help: "Seed of a new model's weights, split and augmentation.") var seed: UInt64 = 1

    func validate() throws {
        if iterations != nil && minutes != nil {
            throw ValidationError("give at most one of --iterations and --minutes")
        }
        if let i = iterations, i < 1 { throw ValidationError("--iterations must be at least 1") }
        if let m = minutes, !(m > 0) { throw ValidationError("--minutes must be positive") }
        if let b = batch, b < 1 { throw ValidationError("--batch must be at least 1") }
        if let r = resolution, r < 64 || r % 32 != 0 {
            throw ValidationError("--resolution must be a multiple of 32, at least 64")
        }
        if !(saveEveryMinutes > 0) { throw ValidationError("--save-every-minutes must be positive") }
    }

    func run() throws {
        let project = try Project(path: target.project)
        var options = XSegTrainOptions()
        options.name = name
        options.seed = seed
        options.saveEveryMinutes = saveEveryMinutes
        if let b = batch { options.model.batchSize = b }
        if let r = resolution { options.model.network.resolution = r }
        if let i = iterations { options.stop = .iterations(i) } else if let m = minutes { options.stop = .minutes(m) }
        let trainer = try XSegTrainer(project: project, labels: ProjectMaskLabels(project: project), options: options)
        let counts = trainer.faceCounts
        let from = trainer.resumedFrom.map { " from checkpoint #\($0.id) at iteration \($0.iteration)" } ?? ""
        let net = trainer.options.network
        FileHandle.standardError.write(Data(("""
            \(trainer.resumedFrom == nil ? "training" : "resuming") segmenter '\(trainer.model.name)' \
            (\(net.resolution) px, width \(net.width), batch \(trainer.options.batchSize))\(from): \
            \(counts.train) labelled faces + \(counts.validation) held out. Ctrl-C saves and stops.\n
            """).utf8))
        let stop = StopFlag()
        let signals = stop.installSignalHandlers()
        defer { withExtendedLifetime(signals) {} }
        var line = ProgressLine()
        let c = try trainer.run(shouldStop: { stop.isSet }) { iteration, rate, loss, saved in
            if let saved {
                let iou = saved.valLoss.map { String(format: " (held-out IoU %.3f)", 1 - $0) } ?? ""
                line.finish("saved checkpoint #\(saved.id) at iteration \(saved.iteration)" + iou)
            } else {
                line.update("iter \(iteration)  \(String(format: "%.2f", rate)) it/s  bce mean50 "
                            + String(format: "%.4f", loss))
            }
        }
        print("\(stop.isSet ? "interrupted: " : "")segmenter '\(trainer.model.name)' checkpoint #\(c.id) at iteration "
              + "\(c.iteration)" + (c.valLoss.map { String(format: ", held-out IoU %.3f", 1 - $0) } ?? ""))
    }
}

struct XSegApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Store a mask for every face: the segmenter's prediction, or the drawn mask where a face is "
                  + "labelled.",
        discussion: "Faces whose mask is already from this checkpoint and saw their current labels are skipped, so a "
                    + "killed run carries on where it stopped and a face relabelled since is done again. "
                    + "`facet merge --mask xseg` and `facet train --mask xseg` use the stored masks.")

    @OptionGroup var target: ProjectArgument
    @Option(help: "Only this role's faces (src or dst; default both).") var role: Role?
    @Option(help: "The segmenter model's name.") var name = "xseg"
    @Option(help: "The checkpoint: latest, best (highest held-out IoU), a tag or an id.") var checkpoint = "latest"

    func run() throws {
        let project = try Project(path: target.project)
        let model = try XSegModel.load(project: project, name: name, checkpoint: checkpoint)
        let stop = StopFlag()
        let signals = stop.installSignalHandlers()
        defer { withExtendedLifetime(signals) {} }
        var line = ProgressLine()
        let r = try XSegApply.run(project: project, model: model, labels: ProjectMaskLabels(project: project),
                                  role: role, shouldStop: { stop.isSet }) { p in
            line.update("\(p.done)/\(p.total) faces  \(String(format: "%.1f", p.facesPerSecond)) faces/s  eta "
                        + TrainCommand.duration(p.etaSeconds))
        }
        print("\(stop.isSet ? "interrupted: " : "")checkpoint #\(r.checkpoint.id): \(r.predicted) faces predicted, "
              + "\(r.labelled) labelled faces given their drawn mask, \(r.upToDate) already up to date "
              + String(format: "(%.1f s)", r.seconds))
    }
}
