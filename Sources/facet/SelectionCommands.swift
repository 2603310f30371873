/// Model selection commands: checkpoints, score, tag-checkpoint, compare, plot, prune, export-model.
import ArgumentParser
import FacetCore
import FacetMedia
import FacetSelect
import FacetStore
import FacetTrain
import FacetVision
import Foundation

extension BestBy: ExpressibleByArgument {}

/// Bytes for people: 1.2 MB.
func byteCount(_ n: Int64) -> String {
    let v = Double(n)
    return v >= 1e9 ? String(format: "%.2f GB", v / 1e9) : v >= 1e6 ? String(format: "%.1f MB", v / 1e6)
        : v >= 1e3 ? String(format: "%.1f kB", v / 1e3) : "\(n) B"
}

func lossText(_ v: Double?) -> String { v.map { String(format: "%.5f", $0) } ?? "-" }

struct CheckpointsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoints",
        abstract: "List checkpoints: losses (smoothed), held-out loss, tags, size; per model best, "
                  + "latest and where the loss curve is heading.",
        discussion: "best (lowest held-out loss, or with --best-by swap the highest swap score) and latest resolve "
            + "per model wherever a checkpoint is expected; MODEL:best names another model's. A segmenter's "
            + "checkpoints (facet xseg) show their IoU on the held-out labelled faces in the val_iou column (json: "
            + "iou); their val_loss is 1 - IoU, so best is the highest IoU.")
    @OptionGroup var target: ProjectArgument
    @Option(help: "Only this model's checkpoints.") var model: String?
    @Option(help: "The loss to project the iteration of (default: 5% above the fitted floor).") var targetLoss: Double?
    @Option(help: "What best follows from now on, stored per model (--model's, else every model's): val_loss or swap.")
    var bestBy: BestBy?
    @OptionGroup var output: JSONFlag
    @Flag(help: "Read every stored weight and list the checkpoints holding NaN or infinite values (exit 1 when any).")
    var scan = false

    func validate() throws {
        if let t = targetLoss, !(t > 0) { throw ValidationError("--target-loss must be positive") }
    }

    func run() throws {
        var p = try Project(path: target.project, mode: .readOnly)
        if scan {
            let found = try scanNonFiniteCheckpoints(project: p, model: model)
            let checked = try p.checkpoints().filter { !$0.tensorsPruned && (model == nil || $0.modelName == model) }
                .count
            for f in found {
                print("checkpoint #\(f.checkpointId) (model \(f.model), iteration \(f.iteration)): "
                      + "tensor '\(f.tensor)' holds \(f.count) non-finite values")
            }
            let bad = Set(found.map(\.checkpointId)).count
            print("\(checked) checkpoints with weights read: \(bad) with non-finite weights"
                  + (bad > 0 ? " (merge or score another checkpoint; resume trains from the latest)" : ""))
            if bad > 0 { throw ExitCode(1) }
            return
        }
        if let bestBy {
            // The model checked on a read-only handle, so a refusal leaves the file exactly as it was.
            if let model { _ = try p.requireModel(named: model) } else if try p.models().isEmpty {
                throw FacetError.file(p.path, "has no models yet (train one with facet train)", kind: .notFound)
            }
            try p.close()
            try setBestBy(project: try Project(path: target.project), bestBy, model: model)
            p = try Project(path: target.project, mode: .readOnly)
        }
        let listing = try listCheckpoints(project: p, model: model, target: targetLoss)
        if output.json { try printJSON(listing); return }
        if listing.models.isEmpty { print("no models yet (train one with facet train)"); return }
        for m in listing.models {
            print("model \(m.name) (\(m.architecture), \(m.resolution) px): \(m.checkpoints) checkpoints, "
                  + "\(m.iterations) iterations"
                  + (m.best.map { ", best #\($0) (by \(bestByText(m)))" }
                     ?? "")
                  + (m.latest.map { ", latest #\($0)" } ?? ""))
            if let f = m.convergence { print("  convergence: \(f.summary)") } else { print("  convergence: "
                                                                                           + "too few iterations to "
                                                                                           + "fit (8 needed)") }
        }
        print("")
        // A segmenter's held-out IoU gets a column of its own, shown when the project has a segmenter.
        let segmenter = listing.models.contains { $0.architecture == xsegArchitecture }
        print("\(pad("id", 6)) \(pad("model", 12)) \(pad("iter", 8)) \(pad("created", 20)) \(pad("loss_src", 9)) "
              + "\(pad("loss_dst", 9)) \(pad("val_loss", 9)) " + (segmenter ? "\(pad("val_iou", 8)) " : "")
              + "\(pad("bytes", 10)) tags")
        for c in listing.checkpoints {
            let tags = (c.aliases + c.tags + (c.pruned ? ["(pruned)"] : [])).joined(separator: ",")
            let iou = segmenter ? pad(c.iou.map { String(format: "%.4f", $0) } ?? "-", 8) + " " : ""
            print("\(pad(String(c.id), 6)) \(pad(c.model, 12)) \(pad(String(c.iteration), 8)) "
                  + "\(pad(String(c.createdAt.prefix(19)), 20)) "
                  + "\(pad(lossText(c.lossSrc), 9)) \(pad(lossText(c.lossDst), 9)) \(pad(lossText(c.valLoss), 9)) "
                  + iou + "\(pad(byteCount(c.bytes), 10)) \(tags)")
        }
        print("bytes: the checkpoint's tensors. Each model's latest checkpoint also keeps the optimizer state "
              + "(training resumes "
              + "from it only; saving a new one drops it from the older ones), so it is 2-3x the size of the others.")
        let scored = listing.checkpoints.filter { $0.swapScore != nil }
        if !scored.isEmpty {
            print("")
            print("swap scores (facet score; held-out dst faces swapped as merge would):")
            print(SwapScoreText.header)
            for c in scored { print(SwapScoreText.row(id: c.id, c.swapScore!, swap: c.swap)) }
            print(SwapScoreText.legend)
        }
    }
}

/// What a model's `best` follows, in words: the swap score, a segmenter's held-out IoU, or the held-out loss.
func bestByText(_ m: ModelSummary) -> String {
    m.bestBy == BestBy.swap.rawValue ? "swap score" : m.architecture == xsegArchitecture ? "held-out IoU"
        : "held-out loss"
}

/// The swap score as the commands print it.
enum SwapScoreText {
    static let header = "\(pad("id", 6)) \(pad("faces", 6)) \(pad("src%", 6)) \(pad("to_src", 7)) \(pad("to_dst", 7)) "
        + "\(pad("landmarks", 10)) \(pad("eyes+mouth", 11)) \(pad("em_motion", 10)) \(pad("em_still", 9)) "
        + "\(pad("mouth_r", 8)) \(pad("detail", 7)) swap"
    static func row(id: Int64, _ s: SwapScore, swap: Double?) -> String {
        func f(_ v: Double, _ digits: Int = 3) -> String { v.isFinite ? String(format: "%.\(digits)f", v) : "-" }
        return "\(pad(String(id), 6)) \(pad(String(s.faces - s.missed), 6)) \(pad(f(100 * s.identitySrcShare, 0), 6)) "
            + "\(pad(f(s.identityToSrc), 7)) \(pad(f(s.identityToDst), 7)) \(pad(f(s.landmarks), 10)) "
            + "\(pad(f(s.eyesMouth), 11)) \(pad(s.eyesMouthMotion.map { f($0) } ?? "-", 10)) "
            + "\(pad(s.eyesMouthStill.map { f($0) } ?? "-", 9)) "
            + "\(pad(s.mouthCorrelation.map { f($0, 2) } ?? "-", 8)) \(pad(f(s.detail, 2), 7)) "
            + (swap.map { f($0) } ?? "-")
    }
    /// One line for a save: identity share, expression error, detail.
    static func brief(_ s: SwapScore) -> String {
        func f(_ v: Double, _ format: String) -> String { v.isFinite ? String(format: format, v) : "-" }
        return "src " + f(100 * s.identitySrcShare, "%.0f%%") + ", eyes+mouth " + f(s.eyesMouth, "%.3f") + ", detail "
            + f(s.detail, "%.2f") + " (\(s.faces - s.missed) faces)"
    }
    static let legend = "src%: swapped faces closer to the src person than to the dst (identity); to_src/to_dst: "
                        + "mean face-recognition "
        + "distance (0.6 = same person); landmarks, eyes+mouth: refitted landmarks against the dst's, in eye distances "
        + "(expression and pose; lower is better); em_motion: the same for the eyes' and mouth's movement from face to "
        + "face, their mean shape left out (does the swap move them as the dst does, whoever's they are; lower is "
        + "better), against em_still, what a swap that never moves them scores; mouth_r: mouth opening correlation "
        + "with the dst; detail: sharpness "
        + "inside the face, merged over original (1 = as sharp); swap: the combined score best follows under "
        + "--best-by swap, "
        + "identity x (expression + detail) / 2 (0...1, higher is better; README \"Swap scores\")."
}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a checkpoint's swaps: held-out dst faces swapped as merge would, judged by identity, "
                  + "expression and detail; stored.",
        discussion: "Needs face-recognition descriptors of the kept src and dst faces "
                    + "(facet embed). The scores are stored with the "
            + "checkpoint and shown by facet checkpoints.")
    @OptionGroup var target: ProjectArgument
    @Argument(help: "The checkpoint: an id, best, latest, a tag, or MODEL:best.") var checkpoint: String
    @Option(help: "The model best/latest/tags refer to when not prefixed with MODEL:.") var model: String?
    @Option(help: "Held-out dst faces to swap, at most (evenly spread over them).") var faces: Int = 100
    @OptionGroup var output: JSONFlag

    func validate() throws {
        guard faces >= 1 else { throw ValidationError("--faces must be at least 1") }
    }

    func run() throws {
        // Scored from a read-only handle, so a refusal leaves the file exactly as it was; stored after.
        let p = try Project(path: target.project, mode: .readOnly)
        let pipeline = try FacePipeline.load()
        let scorer = SwapScorer(pipeline: pipeline, recognizer: try FaceRecognizer())
        let (c, s) = try CheckpointScoring.score(project: p, checkpoint: checkpoint, model: model, limit: faces,
                                                 scorer: scorer)
        try Project(path: target.project).storeScores(checkpointId: c.id,
                                                      CheckpointScores(values: s.metrics, faces: s.faces))
        if output.json { try printJSON(s); return }
        print("checkpoint #\(c.id), iteration \(c.iteration): \(s.faces) held-out dst faces swapped, "
              + "\(s.missed) not found again, "
              + String(format: "%.1f s", s.seconds))
        print(SwapScoreText.header)
        print(SwapScoreText.row(id: c.id, s, swap: CheckpointScores(values: s.metrics, faces: s.faces).combined))
        print(SwapScoreText.legend)
    }
}

struct TagCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag-checkpoint",
        abstract: "Tag a checkpoint (or with --remove, untag it); a tag resolves like best and latest wherever a "
                  + "checkpoint is expected.")
    @OptionGroup var target: ProjectArgument
    @Argument(help: "The checkpoint: an id, best, latest, a tag, or MODEL:best.") var checkpoint: String
    @Argument(help: "The tag (a word; not best, latest or a number).") var tag: String
    @Option(help: "The model, when the project has several and the checkpoint is not an id.") var model: String?
    @Flag(help: "Remove the tag instead of adding it.") var remove = false

    func run() throws {
        let p = try Project(path: target.project)
        let c = try tagCheckpoint(project: p, reference: checkpoint, tag: tag, model: model, remove: remove)
        print("checkpoint #\(c.id) (\(c.modelName), iteration \(c.iteration)) \(remove ? "untagged" : "tagged") "
              + "'\(tag)'; its tags: \(c.tags ?? "none")")
    }
}

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Evaluate two checkpoints now on the same held-out faces, beside their stored losses and swap "
            + "scores; --out writes their swaps side by side.")
    @OptionGroup var target: ProjectArgument
    @Argument(help: "Checkpoint A: an id, best, latest, a tag, or MODEL:best.") var a: String
    @Argument(help: "Checkpoint B, named the same ways.") var b: String
    @Option(help: "The model best/latest/tags refer to when not prefixed with MODEL:.") var model: String?
    @Option(help: "Faces per role to evaluate on (the lowest ids of the shared held-out faces).") var faces: Int = 32
    @Option(help: "Write the side-by-side preview to this PNG.") var out: String?
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if faces < 1 { throw ValidationError("--faces must be at least 1") }
        if let o = out, !o.lowercased().hasSuffix(".png") { throw ValidationError("--out must name a .png file") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let (c, preview) = try compareCheckpoints(project: p, a: a, b: b, model: model, faces: faces)
        if let out { try writeFile(try PNGCodec.encode(preview), to: out) }
        if output.json { try printJSON(c); return }
        print("evaluated on the same \(c.srcFaces.count) src and \(c.dstFaces.count) dst faces (\(c.faceSource))")
        print("\(pad("", 3)) \(pad("id", 6)) \(pad("model", 12)) \(pad("iter", 8)) \(pad("now src", 9)) "
              + "\(pad("now dst", 9)) \(pad("now mean", 9)) \(pad("stored val", 10)) "
              + "\(pad("stored src", 10)) stored dst")
        for (name, s) in [("A", c.a), ("B", c.b)] {
            print("\(pad(name, 3)) \(pad("#\(s.id)", 6)) \(pad(s.model, 12)) \(pad(String(s.iteration), 8)) "
                  + "\(pad(lossText(s.evaluated.src), 9)) \(pad(lossText(s.evaluated.dst), 9)) "
                  + "\(pad(lossText(s.evaluated.mean), 9)) \(pad(lossText(s.storedValLoss.mean), 10)) "
                  + "\(pad(lossText(s.storedLoss.src), 10)) \(lossText(s.storedLoss.dst))")
        }
        print(c.better == "tie" ? "tie on these faces" : "\(c.better.uppercased()) has the lower loss on these faces")
        print("")
        print("swap scores (stored: held-out dst faces of each checkpoint's model swapped as merge would):")
        print("\(pad("", 3)) " + SwapScoreText.header)
        for (name, s) in [("A", c.a), ("B", c.b)] {
            print("\(pad(name, 3)) " + (s.swapScore.map { SwapScoreText.row(id: s.id, $0, swap: s.swap) }
                                        ?? "\(pad(String(s.id), 6)) not scored (facet score PROJECT \(s.id))"))
        }
        if let x = c.a.swap, let y = c.b.swap, x != y { print("\(x > y ? "A" : "B") has the higher swap score") }
        if let out { print("wrote \(out)") }
    }
}

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Plot loss curves (raw, smoothed, held-out points, convergence fit) of one or more models to "
                  + "a PNG or SVG.")
    @OptionGroup var target: ProjectArgument
    @Option(help: "A model to plot (repeat for several; default all).") var model: [String] = []
    @Flag(help: "Logarithmic loss axis.") var log = false
    @Option(help: "The file to write: .png or .svg.") var out: String
    @Option(help: "Width in pixels.") var width: Int = 1200
    @Option(help: "Height in pixels.") var height: Int = 720
    @Option(help: "The loss the fit projects the iteration of (default: 5% above the fitted floor).")
    var targetLoss: Double?

    func validate() throws {
        let o = out.lowercased()
        if !o.hasSuffix(".png") && !o.hasSuffix(".svg") { throw ValidationError("--out must name a .png or .svg file") }
        if !(400...8000).contains(width) || !(300...8000).contains(height) {
            throw ValidationError("--width must be 400...8000 and --height 300...8000")
        }
        if let t = targetLoss, !(t > 0) { throw ValidationError("--target-loss must be positive") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        if out.lowercased().hasSuffix(".svg") {
            try writeFile(Data(try renderLossPlotSVG(project: p, models: model, log: log, width: width, height: height,
                                                     target: targetLoss).utf8), to: out)
        } else {
            try writeFile(try PNGCodec.encode(try renderLossPlot(
                project: p, models: model, log: log, width: width, height: height, target: targetLoss)), to: out)
        }
        print("wrote \(out)")
    }
}

struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Drop the weights of all but the best, latest and tagged checkpoints; "
                  + "their losses and previews stay.")
    @OptionGroup var target: ProjectArgument
    @Option(help: "Only this model (default: every model, each keeping its own).") var model: String?
    @Option(
        help: "Keep the N best checkpoints, ranked as best is (held-out loss, or swap score: checkpoints --best-by).")
    var keepBest: Int
    @Option(help: "Keep the N latest checkpoints (at least 1: training resumes from the latest).") var keepLatest: Int
    @Flag(help: "Then rewrite the file so it shrinks (needs free disk as large as the file).") var vacuum = false
    @Flag(help: "Report what would be pruned without changing anything.") var dryRun = false
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if keepBest < 0 { throw ValidationError("--keep-best must be 0 or more") }
        if keepLatest < 1 {
            throw ValidationError("--keep-latest must be at least 1: training resumes from the latest checkpoint")
        }
    }

    func run() throws {
        let p = try Project(path: target.project)
        let r = try pruneCheckpoints(project: p, model: model, keepBest: keepBest, keepLatest: keepLatest,
                                     vacuum: vacuum, dryRun: dryRun)
        if output.json { try printJSON(r); return }
        for k in r.kept {
            print("keep  #\(k.id) \(k.model) iteration \(k.iteration) (\(k.reasons.joined(separator: ", ")))")
        }
        print("\(dryRun ? "would prune" : "pruned") "
              + "\(r.pruned.count) checkpoints" + (r.pruned.isEmpty ? "" : " (\(idRanges(r.pruned)))")
              + ": \(byteCount(r.tensorBytesFreed)) of tensors"
              + (r.alreadyPruned.isEmpty ? "" : "; \(r.alreadyPruned.count) were pruned before"))
        if r.vacuumed {
            print("file: \(byteCount(r.fileBytesBefore)) -> \(byteCount(r.fileBytesAfter))")
        } else if !dryRun && r.tensorBytesFreed > 0 {
            print("the file keeps its size until --vacuum (SQLite reuses the freed pages)")
        }
    }
}

/// What `export-model` writes.
enum ModelExportFormat: String, ExpressibleByArgument, CaseIterable {
    case safetensors, onnx, dfm
}

struct ExportModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-model",
        abstract: "Write a checkpoint for other tools: its weights as safetensors, "
                  + "or its swap graph as ONNX or DeepFaceLive's DFM.",
        discussion: """
            --format onnx: input 'face' [N,R,R,3] RGB; outputs 'swapped_face' [N,R,R,3] RGB and 'swapped_mask' \
            [N,R,R,1]. \
            --format dfm: input 'in_face:0' [N,R,R,3] BGR; outputs 'out_face_mask:0', 'out_celeb_face:0' (BGR), \
            'out_celeb_face_mask:0'. Both NHWC float32 in [0, 1], ONNX opset 12.
            """)
    @OptionGroup var target: ProjectArgument
    @Argument(help: "The checkpoint: an id, best, latest, a tag, or MODEL:best.") var checkpoint: String
    @Option(help: "The model, when the project has several and the checkpoint is not an id.") var model: String?
    @Option(help: "safetensors (weights), onnx (the swap graph) or dfm (DeepFaceLive's model file).")
    var format: ModelExportFormat = .safetensors
    @Option(help: "The file to write (replaced if it exists).") var out: String

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        switch format {
        case .safetensors:
            let e = try exportModel(project: p, checkpoint: checkpoint, model: model, to: out)
            print("wrote \(e.path): \(e.tensors) tensors, \(byteCount(e.bytes)) (checkpoint #\(e.checkpoint), "
                  + "\(e.model), iteration \(e.iteration))")
        case .onnx, .dfm:
            let e = try exportSwapGraph(project: p, checkpoint: checkpoint, model: model,
                                        format: format == .onnx ? .onnx : .dfm, to: out)
            print("wrote \(e.path): \(e.format) \(e.architecture) \(e.resolution) px, \(e.nodes) nodes, "
                  + "\(byteCount(e.bytes)) "
                  + "(checkpoint #\(e.checkpoint), \(e.model), iteration \(e.iteration)); in \(e.input), "
                  + "out \(e.outputs.joined(separator: ", "))")
        }
    }
}

struct ImportModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-model",
        abstract: "Bring a DeepFaceLab Quick96 model folder in as a Facet quick96 model with one checkpoint "
                  + "(its weights, its iteration count).")
    @OptionGroup var target: ProjectArgument
    @Argument(help: "DeepFaceLab's model folder (<name>_Quick96_*.npy and <name>_Quick96_data.dat).") var folder: String
    @Option(help: "Where the model comes from (only dfl).") var from: String
    @Option(help: "The Facet model's name (default: the DeepFaceLab model's).") var name: String?

    func validate() throws {
        guard from == "dfl" else { throw ValidationError("--from must be dfl (DeepFaceLab's Quick96)") }
    }

    func run() throws {
        let p = try Project(path: target.project)
        let s = try DFLModelImport.importQuick96(folder: folder, name: name, into: p)
        print("imported \(s.folderModelName) (DeepFaceLab Quick96, iteration \(s.iteration)) as model \(s.model): "
              + "\(s.tensors) tensors, "
              + "\(s.parameters) parameters, checkpoint #\(s.checkpoint.id)")
    }
}

/// Writes `data` to `path` whole (a temporary file renamed into place), or one clear error.
func writeFile(_ data: Data, to path: String) throws {
    do {
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw FacetError.file(path, "cannot be written (check the folder exists and is writable)")
    }
}
