/// `facet demo`'s pipeline: the whole row, video to swapped video, through the engines (import, extract, curate,
/// train, merge, side by side, loss plot and preview). It reports what happens as events; the CLI words them.
import FacetCore
import FacetExtract
import FacetMedia
import FacetMerge
import FacetProjectMedia
import FacetSelect
import FacetStore
import FacetTrain
import Foundation

/// The demo on two sample videos: a new project in a work folder, and the swapped video and its companions beside it.
public struct DemoPipeline: Sendable {
    /// What the demo runs on and for how long.
    public struct Options: Sendable {
        /// Folder for the project and the results (made if missing).
        public var workdir: String
        /// Folder holding the sample videos `src-d18.mp4` and `dst-d19.mp4`.
        public var videos: String
        /// Minutes of training.
        public var minutes: Double
        /// Random seed of the model.
        public var seed: UInt64

        /// The demo's settings, as `facet demo` takes them.
        public init(workdir: String, videos: String, minutes: Double, seed: UInt64) {
            self.workdir = workdir; self.videos = videos; self.minutes = minutes; self.seed = seed
        }
    }

    /// The files the demo writes, all in the work folder.
    public struct Outputs: Sendable {
        /// The project file (`demo.facet`).
        public var project: String
        /// The merged video, tagged as synthetic media.
        public var swapped: String
        /// Destination | result, with the destination's audio.
        public var sideBySide: String
        /// The loss curve as a PNG.
        public var lossPlot: String
        /// The model's preview grid as a PNG (src | src rebuilt | dst | dst rebuilt | dst as src).
        public var preview: String
    }

    /// What the demo reports while it runs, in order, for a caller to show.
    public enum Event: Sendable {
        /// Stage `number` of `DemoPipeline.stageCount` begins.
        case stage(number: Int, title: String)
        /// A sample video is in the project.
        case imported(Role, MediaRecord)
        /// Extraction progress on a role's media.
        case extracting(Role, ExtractionProgress)
        /// A role's faces are extracted.
        case extracted(Role, ExtractionSummary)
        /// The blurriest src faces were rejected: `rejected` of `of`, undoable.
        case curated(rejected: Int, of: Int)
        /// Training progress.
        case training(TrainProgress)
        /// Training ended with this checkpoint.
        case trained(CheckpointRecord)
        /// Merge progress.
        case merging(MergeProgress)
        /// The merged video is written.
        case merged(MergeStats)
        /// The trained checkpoint's swap score (held-out dst faces swapped and measured, as `facet score`).
        case scored(CheckpointRecord, SwapScore)
        /// The merge's per-frame scores, averaged over the run (`facet merges` lists the run).
        case mergeScored(MergeRunRecord, summary: [String: Double])
        /// Something the user should know that is not an error (a score left out, and why).
        case note(String)
    }

    /// How many stages `run` announces.
    public static let stageCount = 7
    /// The model name the demo trains under.
    public static let modelName = "demo"
    /// The sample videos the demo expects in `Options.videos`.
    public static let sampleNames = (src: "src-d18.mp4", dst: "dst-d19.mp4")

    /// The settings of this run.
    public var options: Options
    /// The face recogniser extraction stores descriptors with, as `facet extract` does (nil: none stored).
    public var describer: (any FaceDescriber)?

    /// Builds the swap scorer (detector, landmarks, face recogniser) that scores each saved checkpoint and the
    /// merged frames, as `facet train` and `facet merge` do (nil: nothing is scored).
    public var makeSwapScorer: (@Sendable () throws -> SwapScorer)?

    /// A demo with these settings, storing face descriptors through `describer` when given, and scoring the
    /// checkpoints and the merge with the scorer `makeSwapScorer` builds when given.
    public init(options: Options, describer: (any FaceDescriber)? = nil,
                makeSwapScorer: (@Sendable () throws -> SwapScorer)? = nil) {
        self.options = options; self.describer = describer; self.makeSwapScorer = makeSwapScorer
    }

    /// Where the outputs go in the work folder.
    public var outputs: Outputs {
        let dir = options.workdir
        return Outputs(project: dir + "/demo.facet", swapped: dir + "/swapped.mp4",
                       sideBySide: dir + "/side_by_side.mp4", lossPlot: dir + "/loss.png",
                       preview: dir + "/preview.png")
    }

    /// Runs every stage, reporting each through `report`; returns where the outputs are.
    public func run(report: (Event) -> Void) throws -> Outputs {
        let src = options.videos + "/" + Self.sampleNames.src, dst = options.videos + "/" + Self.sampleNames.dst
        for f in [src, dst] where !FileManager.default.fileExists(atPath: f) {
            throw FacetError.file(f, "sample video not found (give --videos DIR)")
        }
        try FileManager.default.createDirectory(atPath: options.workdir, withIntermediateDirectories: true)
        let out = outputs

        report(.stage(number: 1, title: "new project \(out.project), importing the sample videos"))
        let project = try Project.create(at: out.project, force: true)
        for (path, role) in [(src, Role.src), (dst, Role.dst)] {
            report(.imported(role, try MediaImporter.importMedia(path: path, role: role, link: false, into: project)))
        }

        report(.stage(number: 2, title: "extracting faces (MTCNN, 68 landmarks, aligned full-face crops"
                      + (describer == nil ? ")" : ", face descriptors)")))
        for role in Role.allCases {
            var extraction = ExtractionOptions(role: role)
            extraction.size = 256
            let extractor = try Extractor(project: project, options: extraction, describer: describer)
            let summary = try extractor.run { report(.extracting(role, $0)) }
            report(.extracted(role, summary))
        }

        report(.stage(number: 3, title: "curating: rejecting the blurriest 5% of the src faces"))
        // Only src: a rejected dst face would leave its frame unswapped.
        let srcFaces = try project.faceIDs(matching: FaceQuery(role: .src, status: .kept, sort: [FaceSort(.blur)]))
        let worst = Array(srcFaces.prefix(srcFaces.count / 20))
        let change = try project.setStatus(.rejected, faceIDs: worst, command: "facet demo: reject blurriest 5%")
        report(.curated(rejected: change.changed.count, of: srcFaces.count))

        report(.stage(number: 4, title: "training the tiny model for \(String(format: "%g", options.minutes)) minutes"))
        let minutes = options.minutes
        let trainOptions = TrainOptions(architecture: .tiny, name: Self.modelName, stop: .minutes(minutes),
                                        saveEveryMinutes: max(1, minutes / 3), seed: options.seed)
        let trainer = try Trainer(project: project, options: trainOptions)
        // Each save scored as `facet train` scores it (within 5% of the run's time; the last save always).
        var notes: [String] = []
        var built: SwapScorer?
        let scorer: (() throws -> SwapScorer)? = makeSwapScorer.map { make in
            { if let built { return built }; let s = try make(); built = s; return s }
        }
        let scoring = scorer.map { ScoreOnSave(makeScorer: $0, note: { notes.append($0) }) }
        if let scoring {
            trainer.afterSave = { c, final in scoring.checkpointSaved(c, project: project, final: final) }
        }
        let result = try trainer.run(progress: { report(.training($0)) })
        let checkpoint = result.checkpoint
        report(.trained(checkpoint))
        for n in notes { report(.note(n)) }
        if let score = scoring?.scores[checkpoint.id] { report(.scored(checkpoint, score)) }

        report(.stage(number: 5, title: "merging: the src face onto every dst frame"))
        let swapper = try CheckpointSwapper(project: project, checkpoint: "\(checkpoint.id)")
        let mergeOptions = MergeOptions.recommended  // learned-and-hull, erode 10, blur 20, rct: facet merge's defaults
        let dstMedia = try MergeEngine.destination(in: project, mediaId: nil)
        // The merge takes an optional (so escaping) progress closure; it calls it only while it runs.
        // The merge is a run with per-frame scores, as `facet merge` records it (identity where descriptors are).
        var setup: MergeScoringSetup?
        var mergeNotes: [String] = []
        if let scorer {
            do {
                let s = try scorer()
                let (centres, why) = try MergeRuns.identityCentres(project: project, checkpointId: checkpoint.id,
                                                                   media: dstMedia)
                if let why { mergeNotes.append(why) }
                setup = MergeScoringSetup(predictor: s.pipeline.shapePredictor,
                                          identity: centres.map {
                                              IdentityCheck(recognizer: s.recognizer, srcCentre: $0.src,
                                                            dstCentre: $0.dst)
                                          },
                                          identityEvery: MergeScoringSetup.defaultIdentityEvery)
            } catch { report(.note("merged frames not scored: \(error)")) }
        }
        for n in mergeNotes { report(.note(n)) }
        let merged = try withoutActuallyEscaping(report) { report in
            try MergeRuns.merge(project: project, media: dstMedia, swapper: swapper, checkpointId: checkpoint.id,
                                options: mergeOptions, output: out.swapped, faceType: swapper.faceType,
                                scoring: setup, notes: mergeNotes) { report(.merging($0)) }
        }
        report(.merged(merged.stats))
        if setup != nil {
            let scores = try project.mergeFrameScores(runId: merged.run.id)
            report(.mergeScored(merged.run, summary: MergeRuns.summary(scores)))
        }

        report(.stage(number: 6, title: "side by side: destination | result"))
        try Self.writeSideBySide(project: project, dst: dstMedia, swapped: out.swapped, out: out.sideBySide)

        report(.stage(number: 7, title: "loss plot and preview"))
        if let png = try project.preview(checkpointId: checkpoint.id) {
            try png.write(to: URL(fileURLWithPath: out.preview))
        }
        try Self.writeLossPlot(project: project, out: out.lossPlot)
        return out
    }

    /// Destination frames on the left, merged frames on the right, with the destination's audio.
    public static func writeSideBySide(project: Project, dst: MediaRecord, swapped: String, out: String) throws {
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

    /// The demo model's loss curve (raw, smoothed, validation points) as a PNG.
    public static func writeLossPlot(project: Project, out: String) throws {
        let image = try renderLossPlot(project: project, models: [modelName], log: true, width: 1200, height: 720)
        do {
            try PNGCodec.encode(image).write(to: URL(fileURLWithPath: out))
        } catch {
            throw FacetError.file(out, "cannot write the loss plot: \(error.localizedDescription)")
        }
    }
}
