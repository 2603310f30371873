/// `facet merge`: swap the faces of the destination video with a checkpoint and write the mp4 (or one preview frame).
import ArgumentParser
import FacetCore
import FacetMedia
import FacetMerge
import FacetStore
import FacetTrain
import Foundation

extension MergeMode: ExpressibleByArgument {}
extension MaskKind: ExpressibleByArgument {}
extension ColorTransfer: ExpressibleByArgument {}

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Swap the destination video's faces with a checkpoint and write an H.264 mp4 with its audio (DeepFaceLab's convert).",
        discussion: "The output is tagged as synthetic media. The settings are saved in the project under --config, so a result can be reproduced with --from-config.")

    @OptionGroup var target: ProjectArgument
    @Option(help: "Checkpoint: an id, a tag, best (lowest held-out loss) or latest.") var checkpoint: String
    @Option(help: "The model, when the project has several.") var model: String?
    @Option(help: "The dst video's media id, when the project has several.") var media: Int64?
    @Option(help: "Output: a video (.mp4, .mkv, .mov), or with --preview an image (.png, .jpg).") var out: String
    @Option(help: "overlay, hist-match, seamless or raw (default overlay; seamless for an h128 model).") var mode: MergeMode?
    @Option(help: "learned, hull or learned-and-hull (default learned).") var mask: MaskKind?
    @Option(help: "Erode (positive) or dilate (negative) the mask, in pixels at 4x the model resolution (-400...400).") var erode: Int?
    @Option(help: "Blur the mask edge, in the same pixels (0...400).") var blur: Int?
    @Option(help: "Output face scale in percent, -50...50 (positive pastes the face smaller).") var faceScale: Double?
    @Option(help: "Colour transfer to the destination face: none, rct, lct, hist-match or idt (default none).") var color: ColorTransfer?
    @Option(help: "Smooth the alignment over each face track: 0 for the raw per-frame alignment, 1 the default, more is steadier (0...100).")
    var smooth: Double?
    @Option(help: "H.264 quality, 0 (lossless) ... 51 (default 18).") var crf: Int?
    @Option(help: "x264 preset, ultrafast ... veryslow (default medium).") var preset: String?
    @Option(help: "Only frames A..B (inclusive) of the dst video, with the audio of their time span.") var frames: String?
    @Option(help: "Write only this frame (full-rate index) as an image, to tune settings quickly.") var preview: Int?
    @Option(help: "Save the settings under this name in the project (default: last).") var config: String = "last"
    @Option(help: "Start from settings saved under this name; options given here override them.") var fromConfig: String?
    @Option(help: "Swap only this dst person's faces (number or name, see `facet people`); the others pass through. Default: the person with the most faces when there are several.")
    var person: String?

    func validate() throws {
        if let frames, Self.parseFrames(frames) == nil { throw ValidationError("--frames must be A..B with 0 <= A <= B, got '\(frames)'") }
        if preview != nil && frames != nil { throw ValidationError("--preview and --frames do not go together") }
        let ext = (out as NSString).pathExtension.lowercased()
        if preview != nil {
            guard ImageFile.extensions.contains(ext) else { throw ValidationError("with --preview, --out must be a .png or .jpg image") }
        } else {
            guard ["mp4", "mkv", "mov", "m4v"].contains(ext) else { throw ValidationError("--out must be a video file (.mp4, .mkv or .mov)") }
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
        FileHandle.standardError.write(Data("merge: the dst video shows \(counts.count) persons; swapping \(counts[0].0.label) (\(counts[0].1) faces), the one with the most faces (others: \(others)); choose with --person\n".utf8))
        return counts[0].0.id
    }

    static func parseFrames(_ text: String) -> ClosedRange<Int>? {
        let parts = text.replacingOccurrences(of: "...", with: "..").components(separatedBy: "..")
        guard parts.count == 2, let a = Int(parts[0]), let b = Int(parts[1]), a >= 0, a <= b else { return nil }
        return a...b
    }

    func run() throws {
        let project = try Project(path: target.project)
        var options = MergeOptions()
        if let name = fromConfig {
            guard let saved = try project.mergeConfig(named: name) else { throw FacetError.file(project.path, "has no merge configuration '\(name)'") }
            options = try MergeOptions(json: saved.optionsJSON)
        }
        if let mode { options.mode = mode }
        if let mask { options.mask = mask }
        if let erode { options.erode = erode }
        if let blur { options.blur = blur }
        if let faceScale { options.faceScale = faceScale }
        if let color { options.color = color }
        if let smooth { options.smooth = smooth }
        if let crf { options.crf = crf }
        if let preset { options.preset = preset }
        try options.validate()

        let destination = try MergeEngine.destination(in: project, mediaId: media)
        let who = try mergePerson(project, destination)
        let swapper = try CheckpointSwapper(project: project, checkpoint: checkpoint, model: model)
        // H128 merges seamlessly unless told otherwise, as DeepFaceLab's converter did for it.
        if mode == nil && fromConfig == nil && swapper.model.model.architecture == TrainArchitecture.h128.rawValue { options.mode = .seamless }

        if let index = preview {
            let (image, _) = try MergeEngine.preview(project: project, media: destination, frame: index, swapper: swapper,
                                                     options: options, faceType: swapper.faceType, person: who)
            try ImageFile.write(image, path: out)
            try project.saveMergeConfig(name: config, checkpointId: swapper.checkpointId, optionsJSON: options.json)
            print("wrote \(out): frame \(index) merged with checkpoint \(swapper.checkpointId) (settings saved as '\(config)')")
            return
        }

        var line = ProgressLine()
        let stats = try MergeEngine.merge(project: project, media: destination, swapper: swapper, options: options, output: out,
                                          frames: frames.flatMap(Self.parseFrames), faceType: swapper.faceType, person: who) { p in
            let eta = p.etaSeconds.map { String(format: "%.0f s", $0) } ?? "?"
            line.update("merging: frame \(p.framesDone)/\(p.frameCount)  \(String(format: "%.1f", p.framesPerSecond)) frames/s  ETA \(eta)")
        }
        try project.saveMergeConfig(name: config, checkpointId: swapper.checkpointId, optionsJSON: options.json)
        if options.smooth > 0 && stats.smoothedFaces == 0 {
            FileHandle.standardError.write(Data("note: the dst faces have no tracks, so they were merged with the raw alignment; run `facet tracks \(project.path) --role dst` to build them\n".utf8))
        } else if options.smooth > 0 {
            FileHandle.standardError.write(Data("alignment smoothed over face tracks for \(stats.smoothedFaces) of \(stats.facesMerged) faces (strength \(options.smooth), \(String(format: "%.1f", stats.smoothingSeconds * 1000)) ms)\n".utf8))
        }
        line.finish("merged \(stats.frames) frames (\(stats.facesMerged) faces in \(stats.framesWithFaces) frames) in \(String(format: "%.1f", stats.seconds)) s, \(String(format: "%.1f", Double(stats.frames) / max(stats.seconds, 1e-9))) frames/s")
        print("wrote \(out) (synthetic media tag set; settings saved as '\(config)')")
    }
}
