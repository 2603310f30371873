/// `facet demo`: the whole row, video to swapped video, on the bundled sample videos.
import ArgumentParser
import FacetCore
import FacetExtract
import FacetMedia
import FacetMerge
import FacetProjectMedia
import FacetSelect
import FacetStore
import FacetTrain
import Foundation

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the whole pipeline on the sample videos: import, extract, curate, train, merge.",
        discussion: "Writes DIR/demo.facet, DIR/swapped.mp4, DIR/side_by_side.mp4, DIR/loss.png and DIR/preview.png.")
    @Option(help: "Folder for the project and the results.") var workdir: String = "demo-out"
    @Option(help: "Minutes of training (the whole demo takes about this plus 1-2 minutes on 2 cores).") var minutes: Double = 8
    @Option(help: "Folder holding src-d18.mp4 and dst-d19.mp4 (default: the bundled Tests/Fixtures/video).") var videos: String?
    @Option(help: "Random seed of the model.") var seed: UInt64 = 1

    func validate() throws {
        guard minutes > 0 else { throw ValidationError("--minutes must be positive") }
    }

    func run() throws {
        let folder = try videos ?? Self.bundledVideos()
        let src = folder + "/src-d18.mp4", dst = folder + "/dst-d19.mp4"
        for f in [src, dst] where !FileManager.default.fileExists(atPath: f) {
            throw FacetError.file(f, "sample video not found (give --videos DIR)")
        }
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        let projectPath = workdir + "/demo.facet"
        let started = Date()
        func stage(_ n: Int, _ text: String) {
            print("\n[\(n)/7] \(text)  (\(String(format: "%.0f", Date().timeIntervalSince(started))) s)")
            fflush(nil)  // all streams: stage lines keep their order when stdout is a file
        }

        stage(1, "new project \(projectPath), importing the sample videos")
        let project = try Project.create(at: projectPath, force: true)
        for (path, role) in [(src, Role.src), (dst, Role.dst)] {
            let m = try MediaImporter.importMedia(path: path, role: role, link: false, into: project)
            print("  \(role.rawValue): \(m.name), \(m.frameCount) frames, \(m.width)x\(m.height) at \(String(format: "%.3g", m.fps)) fps")
        }

        stage(2, "extracting faces (MTCNN, 68 landmarks, aligned full-face crops)")
        for role in Role.allCases {
            var o = ExtractionOptions(role: role)
            o.size = 256
            var line = ProgressLine()
            let s = try Extractor(project: project, options: o).run { p in
                line.update("  \(role.rawValue): frame \(p.framesDone)/\(p.framesTotal), \(p.facesFound) faces, \(String(format: "%.1f", p.framesPerSecond)) frames/s")
            }
            line.finish("  \(role.rawValue): \(s.facesStored) faces in \(s.framesProcessed) frames (\(String(format: "%.1f", Double(s.framesProcessed) / max(s.seconds, 1e-3))) frames/s)")
            if let t = s.tracks { print("  " + trackSummaryLine(role: role, t)) }
        }

        stage(3, "curating: rejecting the blurriest 5% of the src faces")
        // Only src: a rejected dst face would leave its frame unswapped.
        let srcFaces = try project.faceIDs(matching: FaceQuery(role: .src, status: .kept, sort: [FaceSort(.blur)]))
        let worst = Array(srcFaces.prefix(srcFaces.count / 20))
        let change = try project.setStatus(.rejected, faceIDs: worst, command: "facet demo: reject blurriest 5%")
        print("  rejected \(change.changed.count) of \(srcFaces.count) src faces (undo with: facet undo \(projectPath))")

        stage(4, "training the tiny model for \(String(format: "%g", minutes)) minutes")
        let trainer = try Trainer(project: project, options: TrainOptions(architecture: .tiny, name: "demo", stop: .minutes(minutes),
                                                                          saveEveryMinutes: max(1, minutes / 3), seed: seed))
        var line = ProgressLine()
        let result = try trainer.run(progress: { p in
            line.update("  iteration \(p.iteration), \(String(format: "%.2f", p.iterationsPerSecond)) it/s, loss src \(String(format: "%.4f", p.lossSrc)) dst \(String(format: "%.4f", p.lossDst))")
        })
        let ckpt = result.checkpoint
        line.finish("  checkpoint #\(ckpt.id) at iteration \(ckpt.iteration)" + (ckpt.valLoss.map { String(format: ", validation loss %.4f", $0) } ?? ""))

        stage(5, "merging: the src face onto every dst frame")
        let swapped = workdir + "/swapped.mp4"
        let swapper = try CheckpointSwapper(project: project, checkpoint: "\(ckpt.id)")
        let options = MergeOptions.recommended  // learned-and-hull, erode 10, blur 20, rct: facet merge's defaults
        let dstMedia = try MergeEngine.destination(in: project, mediaId: nil)
        var mergeLine = ProgressLine()
        let stats = try MergeEngine.merge(project: project, media: dstMedia, swapper: swapper, options: options, output: swapped) { p in
            mergeLine.update("  frame \(p.framesDone)/\(p.frameCount), \(String(format: "%.1f", p.framesPerSecond)) frames/s")
        }
        mergeLine.finish("  \(stats.frames) frames, \(stats.facesMerged) faces swapped, \(String(format: "%.1f", stats.seconds)) s")

        stage(6, "side by side: destination | result")
        let sideBySide = workdir + "/side_by_side.mp4"
        try writeSideBySide(project: project, dst: dstMedia, swapped: swapped, out: sideBySide)

        stage(7, "loss plot and preview")
        let previewPath = workdir + "/preview.png"
        if let png = try project.preview(checkpointId: ckpt.id) {
            try png.write(to: URL(fileURLWithPath: previewPath))
        }
        let lossPath = workdir + "/loss.png"
        try writeLossPlot(project: project, out: lossPath)

        print("""

            Done in \(String(format: "%.0f", Date().timeIntervalSince(started))) s.
              project        \(projectPath)
              swapped video  \(swapped)   (tagged as synthetic media)
              side by side   \(sideBySide)
              loss curve     \(lossPath)
              preview        \(previewPath)   (src | src rebuilt | dst | dst rebuilt | dst as src)

            Next:
              facet serve \(projectPath)                      browse and curate the faces in a browser
              facet faces \(projectPath) --role src --sort sharpness --limit 10   the 10 blurriest src faces
              facet train \(projectPath) --resume demo --minutes 10     train longer, then merge again:
              facet merge \(projectPath) --checkpoint latest --out \(workdir)/swapped2.mp4
            Only use videos of people who consented to it.
            """)
    }

    /// Destination frames on the left, merged frames on the right, with the destination's audio.
    func writeSideBySide(project: Project, dst: MediaRecord, swapped: String, out: String) throws {
        let left = try MediaFrames(project: project, media: dst)
        let right = try VideoDecoder(path: swapped)
        let w = dst.width, h = dst.height
        let audio: AudioSource? = dst.hasAudio ? .file(path: swapped) : nil
        let encoder = try VideoEncoder(path: out, width: 2 * w, height: h, fps: dst.fps, crf: 20, preset: "veryfast",
                                       metadata: MergeEngine.metadata, audioFrom: audio)
        var canvas = Image(width: 2 * w, height: h, channels: 3)
        while let a = try left.next(), let b = try right.nextFrame() {
            canvas.pixels.withUnsafeMutableBufferPointer { c in
                a.image.pixels.withUnsafeBufferPointer { pa in
                    b.image.pixels.withUnsafeBufferPointer { pb in
                        for y in 0..<h {
                            (c.baseAddress! + y * 6 * w).update(from: pa.baseAddress! + y * 3 * w, count: 3 * w)
                            (c.baseAddress! + y * 6 * w + 3 * w).update(from: pb.baseAddress! + y * 3 * w, count: 3 * w)
                        }
                    }
                }
            }
            try encoder.append(canvas)
        }
        try encoder.finish()
    }

    /// The bundled sample videos, found from the executable (.build/CONFIG/facet in a checkout).
    static func bundledVideos() throws -> String {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        if let exe = Bundle.main.executableURL { dir = exe.resolvingSymlinksInPath().deletingLastPathComponent() }
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("Tests/Fixtures/video")
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("src-d18.mp4").path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        let cwd = FileManager.default.currentDirectoryPath + "/Tests/Fixtures/video"
        if FileManager.default.fileExists(atPath: cwd + "/src-d18.mp4") { return cwd }
        throw FacetError("the bundled sample videos were not found next to this facet binary: give --videos DIR (a folder with src-d18.mp4 and dst-d19.mp4)")
    }
}

extension DemoCommand {
    /// The loss curve (raw, smoothed, validation points) as a PNG.
    func writeLossPlot(project: Project, out: String) throws {
        let image = try renderLossPlot(project: project, models: ["demo"], log: true, width: 1200, height: 720)
        do {
            try PNGCodec.encode(image).write(to: URL(fileURLWithPath: out))
        } catch {
            throw FacetError.file(out, "cannot write the loss plot: \(error.localizedDescription)")
        }
    }
}
