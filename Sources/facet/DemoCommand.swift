/// `facet demo`: the whole row, video to swapped video, on the bundled sample videos.
import ArgumentParser
import FacetCore
import FacetSelect
import FacetStore
import FacetVision
import FacetWorkflow
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole pipeline on the sample videos: import, extract, curate, train, merge.",
        discussion: "Writes DIR/demo.facet, DIR/swapped.mp4, DIR/side_by_side.mp4, DIR/loss.png and DIR/preview.png.")
    @Option(help: "Folder for the project and the results.") var workdir: String = "demo-out"
    @Option(help: "Minutes of training (the whole demo takes about this plus 1-2 minutes on 2 cores).")
    var minutes: Double = 8
    @Option(help: "Folder holding src-d18.mp4 and dst-d19.mp4 (default: the bundled Tests/Fixtures/video).")
    var videos: String?
    @Option(help: "Random seed of the model.") var seed: UInt64 = 1

    func validate() throws {
        guard minutes > 0 else { throw ValidationError("--minutes must be positive") }
    }

    func run() throws {
        let options = DemoPipeline.Options(workdir: workdir, videos: try videos ?? Self.bundledVideos(),
                                           minutes: minutes,
                                           seed: seed)
        // Descriptors stored at extraction, as `facet extract` stores them (a warning and none without the model).
        // The checkpoints and the merged frames scored as `facet train` and `facet merge` score them.
        let demo = DemoPipeline(options: options, describer: FaceRecognizers.loadIfAvailable(for: "demo"),
                                makeSwapScorer: {
                                    SwapScorer(pipeline: try FacePipeline.load(), recognizer: try FaceRecognizer())
                                })
        let started = Date()
        var line = ProgressLine()
        let out = try demo.run { event in
            switch event {
            case .stage(let number, let title):
                let elapsed = String(format: "%.0f", Date().timeIntervalSince(started))
                print("\n[\(number)/\(DemoPipeline.stageCount)] \(title)  (\(elapsed) s)")
                fflush(nil)  // all streams: stage lines keep their order when stdout is a file
                line = ProgressLine()
            case .imported(let role, let m):
                print("  \(role.rawValue): \(m.name), \(m.frameCount) frames, \(m.width)x\(m.height) at "
                      + "\(String(format: "%.3g", m.fps)) fps")
            case .extracting(let role, let p):
                line.update("  \(role.rawValue): frame \(p.framesDone)/\(p.framesTotal), \(p.facesFound) faces, "
                            + "\(String(format: "%.1f", p.framesPerSecond)) frames/s")
            case .extracted(let role, let s):
                let rate = Double(s.framesProcessed) / max(s.seconds, 1e-3)
                line.finish("  \(role.rawValue): \(s.facesStored) faces in \(s.framesProcessed) frames "
                            + "(\(String(format: "%.1f", rate)) frames/s)")
                if let t = s.tracks { print("  " + trackSummaryLine(role: role, t)) }
                line = ProgressLine()
            case .curated(let rejected, let total):
                print("  rejected \(rejected) of \(total) src faces (undo with: facet undo \(demo.outputs.project))")
            case .training(let p):
                line.update("  iteration \(p.iteration), \(String(format: "%.2f", p.iterationsPerSecond)) "
                            + "it/s, loss src "
                            + "\(String(format: "%.4f", p.lossSrc)) dst \(String(format: "%.4f", p.lossDst))")
            case .trained(let ckpt):
                line.finish("  checkpoint #\(ckpt.id) at iteration \(ckpt.iteration)"
                            + (ckpt.valLoss.map { String(format: ", validation loss %.4f", $0) } ?? ""))
            case .merging(let p):
                line.update("  frame \(p.framesDone)/\(p.frameCount), "
                            + "\(String(format: "%.1f", p.framesPerSecond)) frames/s")
            case .merged(let stats):
                line.finish("  \(stats.frames) frames, \(stats.facesMerged) faces swapped, "
                            + "\(String(format: "%.1f", stats.seconds)) s")
            case .scored(let ckpt, let score):
                print("  swap score of #\(ckpt.id): " + SwapScoreText.brief(score)
                      + " (facet checkpoints \(demo.outputs.project))")
            case .mergeScored(let run, let summary):
                print("  run \(run.id): \(run.framesScored) frames scored; " + MergeRunText.summary(summary)
                      + "; the worst: facet merges \(demo.outputs.project) \(run.id) --worst 10")
            case .note(let text):
                line.finish("  note: \(text)")
                line = ProgressLine()
            }
        }

        print("""

            Done in \(String(format: "%.0f", Date().timeIntervalSince(started))) s.
              project        \(out.project)
              swapped video  \(out.swapped)   (tagged as synthetic media)
              side by side   \(out.sideBySide)
              loss curve     \(out.lossPlot)
              preview        \(out.preview)   (src | src rebuilt | dst | dst rebuilt | dst as src)

            Next:
              facet serve \(out.project)                      browse and curate the faces in a browser
              facet faces \(out.project) --role src --sort sharpness --limit 10   the 10 blurriest src faces
              facet train \(out.project) --resume demo --minutes 10     train longer, then merge again:
              facet merge \(out.project) --checkpoint latest --out \(workdir)/swapped2.mp4
            Only use videos of people who consented to it.
            """)
    }

    /// The bundled sample videos, found from the executable (.build/CONFIG/facet in a checkout).
    static func bundledVideos() throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let exe = Bundle.main.executableURL { dir = exe.resolvingSymlinksInPath().deletingLastPathComponent() }
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("Tests/Fixtures/video")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("src-d18.mp4").path) {
                return candidate.path
            }
            dir = dir.deletingLastPathComponent()
        }
        let cwd = FileManager.default.currentDirectoryPath + "/Tests/Fixtures/video"
        if FileManager.default.fileExists(atPath: cwd + "/src-d18.mp4") { return cwd }
        throw FacetError("the bundled sample videos were not found next to this facet binary: give --videos DIR "
                         + "(a folder with src-d18.mp4 and dst-d19.mp4)")
    }
}
