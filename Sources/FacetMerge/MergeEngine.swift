/// The merge over a project: the destination video and its stored faces in, the swapped H.264 video out.
import FacetCore
import FacetProjectMedia
import FacetMedia
import FacetStore
import FacetVision
import Foundation

extension MergeFace {
    /// The merge's view of a stored face; a face row with damaged landmarks is a clear error.
    public init(_ record: FaceRecord) throws {
        guard let lm = record.landmarks68 else {
            throw FacetError("face \(record.id): its stored landmarks are damaged (not 68 points)")
        }
        self.init(imageToFace: record.imageToFace, cropSize: record.cropSize, landmarks: lm)
    }
}

/// Other settings for a range of frames in one render (`facet merge --config-for A..B=NAME`).
public struct MergeSegment {
    /// The frames (full-rate indices, inclusive).
    public var frames: ClosedRange<Int>
    /// The merge settings there (the encoder's crf and preset stay the run's).
    public var options: MergeOptions
    /// The model there, and the face type its faces must have.
    public var swapper: any FaceSwapper
    /// The face type the swapper's model was trained on (nil: any).
    public var faceType: String?
    /// What the user called it (a saved configuration's name).
    public var name: String

    /// A segment from its parts.
    public init(frames: ClosedRange<Int>, options: MergeOptions, swapper: any FaceSwapper, faceType: String?,
                name: String) {
        self.frames = frames; self.options = options; self.swapper = swapper; self.faceType = faceType; self.name = name
    }
}

/// A render's per-range settings: frames in `skip` pass through unswapped (their decoded pixels go to the encoder
/// untouched), frames in a segment merge with its settings, the rest with the run's own.
public struct MergePlan {
    /// Ranges merged with other settings.
    public var segments: [MergeSegment]
    /// Ranges left unswapped.
    public var skip: [ClosedRange<Int>]

    /// A plan from its parts (none: every frame with the run's settings).
    public init(segments: [MergeSegment] = [], skip: [ClosedRange<Int>] = []) {
        self.segments = segments; self.skip = skip
    }

    /// Whether the plan changes nothing.
    public var isEmpty: Bool { segments.isEmpty && skip.isEmpty }

    /// Refuses, in one line, ranges that overlap one another or reach outside `media`'s frames.
    public func validate(in media: MediaRecord) throws {
        let all = segments.map(\.frames) + skip
        for r in all where r.upperBound >= media.frameCount {
            throw FacetError("frames \(r.lowerBound)..\(r.upperBound) are outside dst video \(media.id ?? 0) "
                             + "(\(media.name)), "
                             + "which has frames 0..\(media.frameCount - 1)")
        }
        if let (a, b) = FrameRangeSpec.firstOverlap(all) {
            throw FacetError("frame ranges \(a.lowerBound)..\(a.upperBound) and \(b.lowerBound)..\(b.upperBound) "
                             + "overlap: "
                             + "each frame takes one setting (--config-for, --skip)")
        }
        for s in segments { try s.options.validate() }
    }

    /// The setting of frame `index`: -1 skipped, 0 the run's own, k the k-th segment's (1-based).
    public func setting(of index: Int) -> Int {
        if skip.contains(where: { $0.contains(index) }) { return -1 }
        if let k = segments.firstIndex(where: { $0.frames.contains(index) }) { return k + 1 }
        return 0
    }
}

/// The merge over a project: the dst video and its faces, the whole video, a preview frame, and the synthetic-media
/// tags.
public enum MergeEngine {
    /// The container tags every merged video carries, so players and platforms can tell it is synthetic.
    public static let metadata: [String: String] = [
        "comment": "synthetic media: faces swapped with Facet",
        "description": "This video was altered with Facet (face swap). The people shown may not have done or said "
                       + "what it shows.",
    ]

    /// The destination video to merge into: `mediaId`, or the project's only dst video.
    public static func destination(in project: Project, mediaId: Int64?) throws -> MediaRecord {
        if let mediaId {
            let m = try project.media(id: mediaId)
            guard m.role == .dst else {
                throw FacetError.file(project.path,
                                      "media \(mediaId) (\(m.name)) is a src video; merge needs a dst video")
            }
            guard m.kind == .video else {
                throw FacetError.file(project.path,
                                      "media \(mediaId) (\(m.name)) is a folder of stills; "
                                      + "merge writes a video from a dst video")
            }
            return m
        }
        let videos = try project.media(role: .dst).filter { $0.kind == .video }
        guard let only = videos.first else {
            throw FacetError.file(project.path,
                                  "has no dst video: import one with `facet import \(project.path) --role dst VIDEO`")
        }
        guard videos.count == 1 else {
            throw FacetError.file(project.path,
                                  "has \(videos.count) dst videos "
                                  + "(\(videos.compactMap { $0.id }.map(String.init).joined(separator: ", "))): "
                                  + "choose one with --media ID")
        }
        return only
    }

    /// The kept faces of `media` by frame index, within `frames` when given, only `person`'s when
    /// given (the other faces are not swapped: their pixels pass through). Refuses a video with no
    /// kept faces, and (when `faceType` is given) faces of another face type than the model's.
    public static func faces(in project: Project, media: MediaRecord, frames: ClosedRange<Int>? = nil,
                             faceType: String? = nil,
                             person: Int64? = nil, smoothing: Double = 0,
                             xseg: Bool = false) throws -> [Int: [MergeFace]] {
        try facesAndSmoothing(in: project, media: media, frames: frames, faceType: faceType, person: person,
                              smoothing: smoothing, xseg: xseg).faces
    }

    /// The faces as `faces(in:...)` gives them, with how many took the smoothed alignment and the
    /// seconds the smoothing took. With `smoothing` > 0 each face with a track gets its landmarks
    /// and matrix smoothed over the track: the stored ones when they were made at that strength,
    /// else smoothed now from the raw ones. Faces of a media without tracks keep the raw alignment. With `xseg`,
    /// each face carries its stored segmenter mask, moved to the face's final alignment; a face without one is
    /// refused (one line saying to run `facet xseg apply`) before anything is merged.
    public static func facesAndSmoothing(in project: Project, media: MediaRecord, frames: ClosedRange<Int>? = nil,
                                         faceType: String? = nil,
                                         person: Int64? = nil,
                                         smoothing: Double,
                                         xseg: Bool = false) throws -> (faces: [Int: [MergeFace]], smoothed: Int,
                                                                        seconds: Double) {
        var query = FaceQuery(role: .dst, status: .kept, sort: [FaceSort(.frameIndex), FaceSort(.faceIndex)])
        query.mediaId = media.id
        query.person = person
        if let frames {
            query.ranges = [(field: .frameIndex, min: Double(frames.lowerBound), max: Double(frames.upperBound))]
        }
        let records = try project.faces(matching: query)
        guard !records.isEmpty else {
            let where_ = (frames.map { " in frames \($0.lowerBound)...\($0.upperBound)" } ?? "")
                + (person.map { " of person \($0)" } ?? "")
            throw FacetError.file(project.path,
                                  "dst video \(media.id ?? 0) (\(media.name)) has no kept faces\(where_): "
                                  + "run `facet extract \(project.path) --role dst` first")
        }
        // A model of another face type than the stored faces' (H128's half faces, SAEHD's any type) trains on
        // faces re-aligned from their landmarks; they are re-aligned the same way here (the merge warps from the
        // frame, which covers any type).
        let modelType = faceType.flatMap { FaceType(rawValue: $0) }
        if let faceType, modelType == nil, let other = records.first(where: { $0.faceType != faceType }) {
            throw FacetError.file(project.path,
                                  "the model was trained on \(faceType) faces but dst face \(other.id) is "
                                  + "\(other.faceType): extract the dst video again with --face-type \(faceType)")
        }
        let began = Date()
        var smoothed: [Int64: (landmarks: Landmarks68, matrix: Affine2D)] = [:]
        if smoothing > 0 {
            smoothed = try smoothedAlignments(project: project, media: media, strength: smoothing,
                                              faceIDs: records.map(\.id))
        }
        let seconds = Date().timeIntervalSince(began)
        var out: [Int: [MergeFace]] = [:]
        var smoothedCount = 0
        for r in records {
            var face = try MergeFace(r)
            if let s = smoothed[r.id] {
                face.landmarks = s.landmarks
                face.imageToFace = s.matrix
                smoothedCount += 1
            }
            if let modelType, r.faceType != modelType.rawValue {
                face.imageToFace = alignmentMatrix(landmarks: face.landmarks, faceType: modelType, size: face.cropSize)
            }
            if xseg { face.xseg = try storedMask(project: project, record: r, alignedAs: face.imageToFace) }
            out[r.frameIndex, default: []].append(face)
        }
        return (out, smoothedCount, seconds)
    }

    /// A dst face's stored segmenter mask over the crop `imageToFace` maps to: as stored when that is the face's
    /// stored alignment, else warped from the stored crop's coordinates to the new ones (smoothed or re-aligned).
    static func storedMask(project: Project, record r: FaceRecord, alignedAs imageToFace: Affine2D) throws -> Image {
        guard let stored = try project.predictedMask(faceID: r.id) else {
            throw FacetError.file(project.path, "dst face \(r.id) has no predicted mask: run "
                                  + "`facet xseg apply \(project.path) --role dst` before merging with an xseg mask")
        }
        let mask: Image
        do { mask = try PNGCodec.decode(stored.png).grey() } catch {
            throw FacetError.file(project.path, "dst face \(r.id): its predicted mask cannot be decoded (\(error)); "
                                  + "run `facet xseg apply \(project.path) --role dst` again", kind: .corrupt)
        }
        guard imageToFace != r.imageToFace, let inverse = r.imageToFace.inverted else { return mask }
        let k = Double(mask.width) / Double(r.cropSize)
        let scale = Affine2D(a: k, b: 0, tx: 0, c: 0, d: k, ty: 0)
        let back = Affine2D(a: 1 / k, b: 0, tx: 0, c: 0, d: 1 / k, ty: 0)
        let m = scale.concatenating(imageToFace).concatenating(inverse).concatenating(back)
        return mask.warped(by: m, width: mask.width, height: mask.height, border: .constant(0))
    }

    /// The smoothed alignment of the dst faces of `media` that have a track, at `strength`: the
    /// stored one when every track was smoothed at that strength, else computed from the raw
    /// landmarks over the stored tracks (`recompute` forces that, to measure its cost).
    public static func smoothedAlignments(project: Project, media: MediaRecord, strength: Double, faceIDs: [Int64],
                                          recompute: Bool = false) throws -> [Int64: (landmarks: Landmarks68,
                                                                                      matrix: Affine2D)] {
        let tracks = try project.tracks(role: .dst, mediaId: media.id!)
        guard !tracks.isEmpty else { return [:] }
        if !recompute && tracks.allSatisfy({ abs($0.smoothing - strength) < 1e-9 }) {
            return try project.smoothedAlignments(faceIDs: faceIDs)
        }
        let processed = try project.processedFrameIndices(mediaId: media.id!)
        var ordinalOf: [Int: Int] = [:]
        for (o, f) in processed.enumerated() { ordinalOf[f] = o }
        var byTrack: [Int64: [TrackInputFace]] = [:]
        for f in try project.trackInputFaces(role: .dst, mediaId: media.id!) {
            guard let t = f.trackId, ordinalOf[f.frameIndex] != nil else { continue }
            byTrack[t, default: []].append(f)
        }
        let smoother = TrackSmoother(strength: strength)
        var out: [Int64: (landmarks: Landmarks68, matrix: Affine2D)] = [:]
        for (_, faces) in byTrack {
            let members = faces.sorted { ordinalOf[$0.frameIndex]! < ordinalOf[$1.frameIndex]! }
            let aligned = smoothedAlignment(ordinals: members.map { ordinalOf[$0.frameIndex]! },
                                            landmarks: members.map(\.landmarks),
                                            faceTypes: members.map { FaceType(rawValue: $0.faceType) ?? .full },
                                            cropSizes: members.map(\.cropSize), smoother: smoother)
            for (m, a) in zip(members, aligned) { out[m.id] = a }
        }
        return out
    }

    /// Merges the destination video into `output` (H.264 mp4) with its audio: every frame, or only
    /// `frames` with the audio of their time span (frame A's start to frame B's end). The file
    /// appears only when the whole video is written; on any error nothing is left at `output`. An `observer`
    /// sees every merged frame beside the decoded one (the merge's scoring). A setting that restores the expression
    /// (`MergeOptions.expression`) fits with `predictor` (dlib's 68 points), or without one with the usual model, and
    /// with `identity` takes no more of the dst's face shape than keeps the swap the src person.
    public static func merge(project: Project, media: MediaRecord, swapper: any FaceSwapper, options: MergeOptions,
                             output: String, frames: ClosedRange<Int>? = nil, faceType: String? = nil,
                             person: Int64? = nil, predictor: ShapePredictor? = nil, identity: IdentityCheck? = nil,
                             observer: (any MergeFrameObserver)? = nil, plan: MergePlan = MergePlan(),
                             progress: ((MergeProgress) -> Void)? = nil) throws -> MergeStats {
        try options.validate()
        if let frames { try check(frames, in: media) }
        try plan.validate(in: media)
        // The frames come in order, so each setting's expression restore averages a face's moves over its frames.
        func compositor(_ o: MergeOptions, _ resolution: Int) throws -> FaceCompositor {
            var c = try FaceCompositor(options: o, resolution: resolution, predictor: predictor)
            c.restorer?.smoother = ExpressionSmoother()
            c.restorer?.identity = identity
            return c
        }
        let settings = try [(compositor(options, swapper.resolution), swapper)]
            + plan.segments.map { (try compositor($0.options, $0.swapper.resolution), $0.swapper) }
        let own = try facesAndSmoothing(in: project, media: media, frames: frames, faceType: faceType, person: person,
                                        smoothing: options.smooth, xseg: options.mask.usesXSeg)
        var faces = own.faces, smoothingSeconds = own.seconds
        let smoothedFaces = own.smoothed
        // Each segment's faces as its settings place them (its smoothing, its model's face type), over its frames.
        var segmentFaces: [[Int: [MergeFace]]] = []
        for s in plan.segments {
            if s.options.smooth == options.smooth && s.faceType == faceType
                && s.options.mask.usesXSeg == options.mask.usesXSeg {
                segmentFaces.append(faces)
            } else {
                let r = try facesAndSmoothing(in: project, media: media, frames: frames, faceType: s.faceType,
                                              person: person, smoothing: s.options.smooth,
                                              xseg: s.options.mask.usesXSeg)
                segmentFaces.append(r.faces)
                smoothingSeconds += r.seconds
            }
        }
        if !plan.isEmpty {
            var byFrame: [Int: [MergeFace]] = [:]
            for (index, list) in faces {
                switch plan.setting(of: index) {
                case -1: continue
                case 0: byFrame[index] = list
                case let k: if let l = segmentFaces[k - 1][index] { byFrame[index] = l }
                }
            }
            faces = byFrame
        }
        // Opening the frames checks a linked file's hash before anything is written.
        let source = try MediaFrames(project: project, media: media)
        let audio: AudioSource? = media.hasAudio ? try audioSource(project: project, media: media) : nil
        let span = frames.map { Double($0.lowerBound) / media.fps ..< Double($0.upperBound + 1) / media.fps }
        let encoder = try VideoEncoder(path: output, width: media.width, height: media.height, fps: media.fps,
                                       crf: options.crf, preset: options.preset, metadata: metadata, audioFrom: audio,
                                       audioSpan: span)
        let range = frames ?? 0...max(0, media.frameCount - 1)
        let expected = frames.map { $0.count } ?? media.frameCount
        let planned = Handed(plan)
        let facesByFrame = Handed(faces)
        var stats = try MergePipeline.run(
            frameCount: expected,
            nextFrame: {
                while let f = try source.next() {
                    if f.index < range.lowerBound { continue }
                    if f.index > range.upperBound { return nil }
                    return (f.index, f.image)
                }
                return nil
            },
            faces: { facesByFrame.value[$0] ?? [] },
            settings: settings, setting: { max(0, planned.value.setting(of: $0)) }, observer: observer,
            write: { try encoder.append($0) },
            progress: progress)
        stats.smoothedFaces = smoothedFaces
        stats.smoothingSeconds = smoothingSeconds
        if frames != nil && stats.frames != expected {
            throw FacetError.file(output,
                                  "the dst video ended after \(stats.frames) of the \(expected) frames asked for")
        }
        try encoder.finish()
        return stats
    }

    /// One merged frame of the destination video (full-rate index `frame`), for tuning settings.
    public static func preview(project: Project, media: MediaRecord, frame index: Int, swapper: any FaceSwapper,
                               options: MergeOptions, faceType: String? = nil, person: Int64? = nil,
                               predictor: ShapePredictor? = nil,
                               identity: IdentityCheck? = nil) throws -> (image: Image, regions: [BlendRegion]) {
        let p = try previewWithOriginal(project: project, media: media, frame: index, swapper: swapper,
                                        options: options, faceType: faceType, person: person, predictor: predictor,
                                        identity: identity)
        return (p.merged, p.regions)
    }

    /// `preview`, with the destination frame as it was, for showing both side by side. With `identity`, the expression
    /// restore takes no more of the dst's face shape than keeps the face the src person, judged on this frame alone.
    public static func previewWithOriginal(project: Project, media: MediaRecord, frame index: Int,
                                           swapper: any FaceSwapper,
                                           options: MergeOptions, faceType: String? = nil, person: Int64? = nil,
                                           predictor: ShapePredictor? = nil, identity: IdentityCheck? = nil)
        throws -> (original: Image, merged: Image, regions: [BlendRegion]) {
        try options.validate()
        var compositor = try FaceCompositor(options: options, resolution: swapper.resolution, predictor: predictor)
        compositor.restorer?.identity = identity
        try check(index...index, in: media)
        let faces = try faces(in: project, media: media, frames: index...index, faceType: faceType, person: person,
                              smoothing: options.smooth, xseg: options.mask.usesXSeg)
        let source = try MediaFrames(project: project, media: media)
        while let f = try source.next() {
            guard f.index == index else { continue }
            var image = f.image
            let regions = try compositor.merge(frame: &image, faces: faces[index] ?? [], swapper: swapper)
            return (f.image, image, regions)
        }
        throw FacetError.file(project.path, "dst video \(media.id ?? 0) (\(media.name)) ended before frame \(index)")
    }

    static func check(_ frames: ClosedRange<Int>, in media: MediaRecord) throws {
        guard frames.lowerBound >= 0, frames.upperBound < media.frameCount else {
            throw FacetError("frames \(frames.lowerBound)...\(frames.upperBound) are outside dst video "
                             + "\(media.id ?? 0) (\(media.name)), which has frames 0...\(media.frameCount - 1)")
        }
    }

    /// Where the encoder copies the destination's audio from: the project's chunks or the linked file.
    @_spi(Benchmarks) public static func audioSource(project: Project, media: MediaRecord) throws -> AudioSource {
        if media.storage == .linked { return .file(path: media.path ?? media.name) }
        return .source(try StoredVideoBytes(project: project, mediaId: media.id!), name: media.name)
    }
}
