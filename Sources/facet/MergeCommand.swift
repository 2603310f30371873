/// `facet merge`: swap the faces of the destination video with a checkpoint and write the mp4 (or one preview frame).
import ArgumentParser
import FacetCore
import FacetMedia
import FacetMerge
import FacetSelect
import FacetStore
import FacetTrain
import FacetVision
import Foundation

extension MergeMode: ExpressibleByArgument {}
extension MaskKind: ExpressibleByArgument {}
extension ColorTransfer: ExpressibleByArgument {}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Swap the destination video's faces with a checkpoint and write an H.264 mp4 with its audio "
                  + "(DeepFaceLab's convert).",
        discussion: """
            The output is tagged as synthetic media. Defaults: overlay, learned-and-hull mask, erode 10, blur 20, \
            rct colour (the lowest seam measured), expression restore 1 (the swap's eyes, mouth and jaw moved onto \
            the dst's; --dfl-defaults starts from DeepFaceLab's: learned mask, erode 0, blur 0, no colour, no \
            restore); \
            an h128 model merges seamless. A merge saves its settings (as 'last' unless --save-config NAME); \
            a --preview \
            saves them only with --save-config. facet merge-configs lists the saved ones, \
            --from-config NAME starts from one.
            """)

    @OptionGroup var target: ProjectArgument
    @OptionGroup var checkpointOptions: CheckpointOptions
    @Option(help: "The dst video's media id, when the project has several.") var media: Int64?
    @Option(help: "Output: a video (.mp4, .mkv, .mov), or with --preview an image (.png, .jpg).") var out: String
    @Option(help: "overlay, hist-match, seamless or raw (default overlay; seamless for an h128 model).")
    var mode: MergeMode?
    @Option(help: """
        learned, hull, learned-and-hull (default), or with the dst faces' segmenter masks (facet xseg apply): \
        xseg, xseg-and-learned, xseg-and-hull.
        """) var mask: MaskKind?
    @Option(help: """
        Erode (positive) or dilate (negative) the mask, in pixels at 4x the model resolution, -400...400 (default 10).
        """)
    var erode: Int?
    @Option(help: "Blur the mask edge, in the same pixels, 0...400 (default 20).") var blur: Int?
    @Option(help: "Output face scale in percent, -50...50 (positive pastes the face smaller).") var faceScale: Double?
    @Option(help: "Colour transfer to the destination face: none, rct, lct, hist-match or idt (default rct).")
    var color: ColorTransfer?
    @Option(help: """
        Smooth the alignment over each face track: 0 for the raw per-frame alignment, 1 the default, \
        more is steadier (0...100).
        """)
    var smooth: Double?
    @Option(help: """
        Expression restore: move the swapped face's jaw, eyes and mouth this share of the way towards the dst face's \
        landmarks before the blend, 0 (off) ... 1 (default 1; 0 with --dfl-defaults).
        """)
    var expression: Double?
    @Option(help: "H.264 quality, 0 (lossless) ... 51 (default 18).") var crf: Int?
    @Option(help: "x264 preset, ultrafast ... veryslow (default medium).") var preset: String?
    @Flag(help: "Start from DeepFaceLab's converter defaults (learned mask, erode 0, blur 0, no colour transfer).")
    var dflDefaults = false
    @Option(help: "Only frames A..B (inclusive) of the dst video, with the audio of their time span.")
    var frames: String?
    @Option(help: """
        Write only this frame (full-rate index) as an image, the original beside the result, to tune settings quickly; \
        with --config-for or --skip, as the render would make it.
        """)
    var preview: Int?
    @Option(help: "Save the settings under this name (default: a merge saves them as 'last', a preview saves nothing).")
    var saveConfig: String?
    @Option(help: ArgumentHelp("The old name of --save-config.", visibility: .hidden)) var config: String?
    @Option(help: """
        Start from settings saved under this name (facet merge-configs lists them); options given here override them.
        """)
    var fromConfig: String?
    @Option(help: """
        Swap only this dst person's faces (number or name, see `facet people`); the others pass through. Default: the \
        person with the most faces when there are several.
        """)
    var person: String?

    @Option(help: ArgumentHelp("Merge frames A..B with the settings saved as NAME and their checkpoint (A..B=NAME); "
                               + "repeatable. The video's crf and preset stay this run's.", valueName: "A..B=NAME"))
    var configFor: [String] = []
    @Option(help: ArgumentHelp("Leave frames A..B unswapped (their pixels as decoded); repeatable.", valueName: "A..B"))
    var skip: [String] = []
    @Flag(help: "Do not score the merged frames (identity, expression, detail, jitter; stored with the run).")
    var noScore = false
    @Option(help: "Score identity (a face-recognition descriptor) on every Nth frame; 1: every frame (default 8).")
    var scoreIdentityEvery: Int?

    func validate() throws {
        if let n = scoreIdentityEvery, n < 1 {
            throw ValidationError("--score-identity-every must be at least 1, got \(n)")
        }
        if noScore && scoreIdentityEvery != nil {
            throw ValidationError("--no-score and --score-identity-every do not go together")
        }
        for text in configFor {
            do { _ = try FrameRangeSpec.parse(text, named: true) } catch {
                throw ValidationError("--config-for: \(error)")
            }
        }
        for text in skip {
            do { _ = try FrameRangeSpec.parse(text, named: false) } catch { throw ValidationError("--skip: \(error)") }
        }
        if let frames, Self.parseFrames(frames) == nil {
            throw ValidationError("--frames must be A..B with 0 <= A <= B, got '\(frames)'")
        }
        if preview != nil && frames != nil { throw ValidationError("--preview and --frames do not go together") }
        if saveConfig != nil && config != nil {
            throw ValidationError("--config is the old name of --save-config: give one")
        }
        if dflDefaults && fromConfig != nil {
            throw ValidationError("--dfl-defaults and --from-config both say where to start: give one")
        }
        let ext = (out as NSString).pathExtension.lowercased()
        if preview != nil {
            guard ImageFile.extensions.contains(ext) else {
                throw ValidationError("with --preview, --out must be a .png or .jpg image")
            }
        } else {
            guard ["mp4", "mkv", "mov", "m4v"].contains(ext) else {
                throw ValidationError("--out must be a video file (.mp4, .mkv or .mov)")
            }
        }
    }

    /// The dst person whose faces are swapped: `--person`, else, when the video's faces belong to
    /// several persons, the one with the most of its kept faces (said on stderr); nil: every face.
    func mergePerson(_ project: Project, _ destination: MediaRecord) throws -> Int64? {
        if let person {
            let p = try resolvePerson(project, person, role: .dst)
            FileHandle.standardError.write(Data("merge: swapping only \(p.label)'s faces\n".utf8))
            return p.id
        }
        var counts: [(PersonRecord, Int)] = []
        for p in try project.persons(role: .dst) {
            var q = FaceQuery(role: .dst, status: .kept)
            q.mediaId = destination.id
            q.person = p.id
            let n = try project.countFaces(matching: q)
            if n > 0 { counts.append((p, n)) }
        }
        guard counts.count > 1 else { return nil }
        counts.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0.id < $1.0.id }
        let others = counts.dropFirst().map { "\($0.0.label): \($0.1)" }.joined(separator: ", ")
        FileHandle.standardError.write(Data("""
            merge: the dst video shows \(counts.count) persons; swapping \(counts[0].0.label) (\(counts[0].1) faces), \
            the one with the most faces (others: \(others)); choose with --person\n
            """.utf8))
        return counts[0].0.id
    }

    static func parseFrames(_ text: String) -> ClosedRange<Int>? {
        let parts = text.replacingOccurrences(of: "...", with: "..").components(separatedBy: "..")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, a <= b else { return nil }
        return a...b
    }

    var overrides: MergeOverrides {
        var o = MergeOverrides()
        o.mode = mode; o.mask = mask; o.erode = erode; o.blur = blur; o.faceScale = faceScale
        o.color = color; o.crf = crf; o.preset = preset; o.smooth = smooth; o.expression = expression
        return o
    }

    func run() throws {
        let project = try Project(path: target.project)
        let destination = try MergeEngine.destination(in: project, mediaId: media)
        let saved = try fromConfig.map { try MergeOptions.saved($0, in: project) }
        let who = try mergePerson(project, destination)
        let swapper = try CheckpointSwapper(project: project, checkpoint: checkpointOptions.checkpoint,
                                            model: checkpointOptions.model)
        let options = try MergeOptions.resolve(saved: saved, architecture: swapper.model.model.architecture,
                                               deepFaceLab: dflDefaults, overrides: overrides)
        let saveAs = saveConfig ?? config

        if let index = preview {
            // With --config-for or --skip, the frame is shown as the render would make it: the setting of the
            // range it falls in (checked like the render's ranges), or unswapped in a skipped range.
            let (plan, planCheckpoints) = try mergePlan(project, destination, main: swapper)
            let k = plan.setting(of: index)
            let segment = k > 0 ? plan.segments[k - 1] : nil
            let using = segment?.swapper ?? swapper
            let settings = segment?.options ?? options
            let checkpoint = k > 0 ? planCheckpoints[k - 1] ?? swapper.checkpointId : swapper.checkpointId
            let identity = settings.expression > 0
                ? try restoreIdentity(project, destination, checkpointId: checkpoint) : nil
            let p = try MergeEngine.previewWithOriginal(project: project, media: destination, frame: index,
                                                        swapper: using, options: settings,
                                                        faceType: segment?.faceType ?? swapper.faceType, person: who,
                                                        identity: identity)
            try ImageFile.write(Self.sideBySide(p.original, k < 0 ? p.original : p.merged), path: out)
            if let saveAs {
                try project.saveMergeConfig(name: saveAs, checkpointId: swapper.checkpointId, optionsJSON: options.json)
            }
            let how = k < 0 ? "left unswapped (--skip)"
                : segment.map {
                    "merged with settings '\($0.name)' (--config-for), "
                        + "checkpoint \(planCheckpoints[k - 1] ?? swapper.checkpointId)"
                }
                ?? "merged with checkpoint \(swapper.checkpointId)"
            print("wrote \(out): frame \(index), original | \(how)"
                  + (saveAs.map { " (settings saved as '\($0)')" } ?? " (no settings saved)"))
            renamedOptionNotes()
            return
        }

        // Every range checked (configurations, checkpoints, overlaps, the video's length) before anything is written.
        let (plan, planCheckpoints) = try mergePlan(project, destination, main: swapper)
        var notes: [String] = []
        let scoring = try noScore ? nil
            : scoringSetup(project, destination, checkpointId: swapper.checkpointId, notes: &notes)
        for n in notes { note("note: \(n)") }
        var line = ProgressLine()
        let result = try MergeRuns.merge(project: project, media: destination, swapper: swapper,
                                         checkpointId: swapper.checkpointId, options: options, output: out,
                                         frames: frames.flatMap(Self.parseFrames),
                                         faceType: swapper.faceType, person: who, scoring: scoring,
                                         identity: scoring == nil && options.expression > 0
                                             ? try restoreIdentity(project, destination,
                                                                   checkpointId: swapper.checkpointId) : nil,
                                         notes: notes, plan: plan, planCheckpoints: planCheckpoints) { p in
            let eta = p.etaSeconds.map { String(format: "%.0f s", $0) } ?? "?"
            line.update("merging: frame \(p.framesDone)/\(p.frameCount)  \(String(format: "%.1f", p.framesPerSecond)) "
                        + "frames/s  ETA \(eta)")
        }
        let stats = result.stats
        let name = saveAs ?? "last"
        try project.saveMergeConfig(name: name, checkpointId: swapper.checkpointId, optionsJSON: options.json)
        if options.smooth > 0 && stats.smoothedFaces == 0 {
            FileHandle.standardError.write(Data("""
                note: the dst faces have no tracks, so they were merged with the raw alignment; \
                run `facet tracks \(project.path) --role dst` to build them\n
                """.utf8))
        } else if options.smooth > 0 {
            FileHandle.standardError.write(Data("""
                alignment smoothed over face tracks for \(stats.smoothedFaces) of \(stats.facesMerged) faces \
                (strength \(options.smooth), \(String(format: "%.1f", stats.smoothingSeconds * 1000)) ms)\n
                """.utf8))
        }
        line.finish("merged \(stats.frames) frames (\(stats.facesMerged) faces in \(stats.framesWithFaces) frames) in "
                    + "\(String(format: "%.1f", stats.seconds)) s, "
                    + "\(String(format: "%.1f", Double(stats.frames) / max(stats.seconds, 1e-9))) frames/s")
        print("wrote \(out) (synthetic media tag set; settings saved as '\(name)')")
        if scoring != nil {
            let summary = MergeRuns.summary(try project.mergeFrameScores(runId: result.run.id))
            print("run \(result.run.id): \(result.run.framesScored) frames scored; " + MergeRunText.summary(summary)
                  + "; the worst: facet merges \(project.path) \(result.run.id) --worst 10")
        } else {
            print("run \(result.run.id) recorded (not scored: --no-score)")
        }
        renamedOptionNotes()
    }

    /// The per-range settings of `--config-for` and `--skip`: each NAME's saved settings with the checkpoint saved
    /// beside them (this run's when none), checked against each other and the video; with each segment's checkpoint.
    func mergePlan(_ project: Project, _ media: MediaRecord, main: CheckpointSwapper) throws -> (MergePlan, [Int64?]) {
        var plan = MergePlan()
        var checkpoints: [Int64?] = []
        var loaded: [Int64: CheckpointSwapper] = [main.checkpointId: main]
        for text in configFor {
            let spec = try FrameRangeSpec.parse(text, named: true)
            let name = spec.name ?? ""
            let options = try MergeOptions.saved(name, in: project)
            try options.validate()
            let id = try project.mergeConfig(named: name)?.checkpointId ?? main.checkpointId
            let swapper = try loaded[id] ?? CheckpointSwapper(project: project, checkpoint: String(id))
            loaded[id] = swapper
            plan.segments.append(MergeSegment(frames: spec.frames, options: options, swapper: swapper,
                                              faceType: swapper.faceType, name: name))
            checkpoints.append(id)
        }
        plan.skip = try skip.map { try FrameRangeSpec.parse($0, named: false).frames }
        do { try plan.validate(in: media) } catch let e as FacetError { throw FacetError.file(project.path, e.message) }
        return (plan, checkpoints)
    }

    /// The merge's scorer: the landmark predictor, and the recogniser with both persons' centres where the
    /// descriptors are stored (else identity is left out, with a note).
    func scoringSetup(_ project: Project, _ media: MediaRecord, checkpointId: Int64,
                      notes: inout [String]) throws -> MergeScoringSetup {
        let predictor = try ShapePredictor(path: ModelFiles.shapePredictor())
        return MergeScoringSetup(predictor: predictor,
                                 identity: try identityCheck(project, media, checkpointId: checkpointId, notes: &notes),
                                 identityEvery: scoreIdentityEvery ?? MergeScoringSetup.defaultIdentityEvery)
    }

    /// The recogniser with both persons' centres where the descriptors are stored and the recogniser loads, else nil
    /// with a note saying why.
    func identityCheck(_ project: Project, _ media: MediaRecord, checkpointId: Int64,
                       notes: inout [String]) throws -> IdentityCheck? {
        let (centres, why) = try MergeRuns.identityCentres(project: project, checkpointId: checkpointId, media: media)
        guard let centres else {
            if let why { notes.append(why) }
            return nil
        }
        do {
            return IdentityCheck(recognizer: try FaceRecognizer(), srcCentre: centres.src, dstCentre: centres.dst)
        } catch {
            notes.append("identity not scored: \(error)")
            return nil
        }
    }

    /// The expression restore's identity check without the scorer (`--no-score`, `--preview`): `identityCheck`, its
    /// notes unsaid (the restore then takes the whole move).
    func restoreIdentity(_ project: Project, _ media: MediaRecord, checkpointId: Int64) throws -> IdentityCheck? {
        var unsaid: [String] = []
        return try identityCheck(project, media, checkpointId: checkpointId, notes: &unsaid)
    }

    /// Notes on old option names, printed once the merge has succeeded (a refusal stays one line).
    func renamedOptionNotes() {
        if config != nil { note("note: --config is now --save-config (it names where the settings are saved)") }
    }

    /// Two images of the same size side by side.
    static func sideBySide(_ a: Image, _ b: Image) -> Image {
        var out = Image(width: a.width + b.width, height: max(a.height, b.height), channels: a.channels)
        for y in 0..<a.height {
            for x in 0..<a.width { for c in 0..<a.channels { out[x, y, c] = a[x, y, c] } }
        }
        for y in 0..<b.height {
            for x in 0..<b.width { for c in 0..<b.channels { out[a.width + x, y, c] = b[x, y, c] } }
        }
        return out
    }
}

struct MergeConfigsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-configs", abstract: "List saved merge settings "
                                                + "(facet merge --from-config NAME starts from one).")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var output: JSONFlag

    struct Line: Encodable {
        var name: String, checkpointId: Int64?, createdAt: String, options: String
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let list = try p.mergeConfigs().map {
            Line(name: $0.name, checkpointId: $0.checkpointId, createdAt: $0.createdAt, options: $0.optionsJSON)
        }
        if output.json { try printJSON(list); return }
        if list.isEmpty {
            print("no saved merge settings (a merge saves its settings as 'last', or under --save-config NAME)")
            return
        }
        for c in list {
            let o = try MergeOptions(json: c.options)
            print("\(pad(c.name, 16)) checkpoint \(c.checkpointId.map { "#\($0)" } ?? "-")  \(o.mode.rawValue), "
                  + "mask \(o.mask.rawValue), erode \(o.erode), "
                  + "blur \(o.blur), color \(o.color.rawValue), face scale \(o.faceScale), smooth \(o.smooth), "
                  + "expression \(o.expression), crf \(o.crf) \(o.preset)  (\(c.createdAt.prefix(19)))")
        }
    }
}
