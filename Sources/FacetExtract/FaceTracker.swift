/// Face tracks for a role: link its faces, fill short gaps (detect again, else interpolate), smooth, store.
import Foundation
import FacetCore
import FacetMedia
import FacetProjectMedia
import FacetStore
import FacetVision

/// What building tracks does.
public struct TrackBuildOptions: Sendable, Codable, Equatable {
    /// How faces are linked into tracks (distances, gaps, scene cuts).
    public var tracking = TrackingOptions()
    /// Strength of the stored smoothed alignment (0: none; 1: default).
    public var smoothing: Double = 1
    /// Fill frames a track misses (at most `tracking.maxGap` in a row) with a face.
    public var fillGaps = true
    /// Before interpolating, look for the face again in the predicted box at lower detector thresholds.
    public var redetect = true
    /// MTCNN thresholds (P-, R-, O-Net) of the second attempt (extraction uses 0.6, 0.7, 0.7).
    public var redetectThresholds: [Float] = [0.4, 0.5, 0.5]
    /// JPEG quality (1...100) of the crops stored for filled-in faces.
    public var jpegQuality = 95

    /// The defaults.
    public init() {}
}

/// What building tracks did, per role.
public struct TrackBuildSummary: Sendable, Equatable {
    /// Tracks stored.
    public var tracks = 0
    /// Faces in those tracks.
    public var faces = 0
    /// Faces found again by the second detection in a gap.
    public var redetected = 0
    /// Faces filled in by interpolation in a gap (no detection).
    public var interpolated = 0
    /// Frames inside tracks still without their face (gaps longer than the limit).
    public var gapFrames = 0
    /// Scene cuts found (no track crosses one).
    public var cuts = 0
    /// Mean jitter over the tracks that have one, before and after smoothing (eye distances).
    public var jitterRaw: Double?
    /// Mean jitter over the tracks after smoothing (eye distances).
    public var jitterSmoothed: Double?
    /// Wall-clock seconds the run took.
    public var seconds = 0.0
}

/// Builds and stores the tracks of one role. Needs the face pipeline only to fill gaps.
public final class FaceTracker {
    let project: Project
    let options: TrackBuildOptions
    let pipeline: FacePipeline?

    /// A tracker over `project`; `pipeline` (MTCNN + landmarks) is used to fill gaps, which are
    /// skipped without it.
    public init(project: Project, options: TrackBuildOptions = TrackBuildOptions(), pipeline: FacePipeline?) {
        self.project = project; self.options = options; self.pipeline = pipeline
    }

    /// A tracker that loads the face pipeline's models (found as extraction finds them).
    public convenience init(project: Project, options: TrackBuildOptions = TrackBuildOptions()) throws {
        var pipeline: FacePipeline?
        if options.fillGaps {
            pipeline = try FacePipeline.load()
        }
        self.init(project: project, options: options, pipeline: pipeline)
    }

    /// Recomputes and stores the tracks of every media of `role`, one transaction per media.
    public func run(role: Role) throws -> TrackBuildSummary {
        let start = Date()
        var summary = TrackBuildSummary()
        var raw: [Double] = [], smoothed: [Double] = []
        for media in try project.media(role: role) {
            let planned = try plan(role: role, media: media, summary: &summary)
            try project.saveTracks(role: role, mediaId: media.id!, tracks: planned)
            for t in planned {
                summary.tracks += 1
                summary.faces += t.members.count
                summary.gapFrames += t.gaps
                if let j = t.jitterRaw { raw.append(j) }
                if let j = t.jitterSmoothed { smoothed.append(j) }
            }
        }
        summary.jitterRaw = raw.isEmpty ? nil : raw.reduce(0, +) / Double(raw.count)
        summary.jitterSmoothed = smoothed.isEmpty ? nil : smoothed.reduce(0, +) / Double(smoothed.count)
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    /// One face of a track while it is being built.
    struct Member {
        var ordinal: Int
        var frameIndex: Int
        var faceId: Int64?
        var filled: FilledFace?
        var box: FaceBox
        var landmarks: Landmarks68
        var faceType: FaceType
        var cropSize: Int
    }

    /// The tracks of one media: linked, gaps filled, smoothed.
    func plan(role: Role, media: MediaRecord, summary: inout TrackBuildSummary) throws -> [PlannedTrack] {
        let faces = try project.trackInputFaces(role: role, mediaId: media.id!)
        guard !faces.isEmpty else { return [] }
        let processed = try project.processedFrameIndices(mediaId: media.id!)
        var ordinalOf: [Int: Int] = [:]
        for (o, f) in processed.enumerated() { ordinalOf[f] = o }
        let input = faces.map { f in
            TrackingFace(ordinal: ordinalOf[f.frameIndex] ?? 0,
                         box: FaceBox(x: f.box.x, y: f.box.y, width: f.box.width, height: f.box.height),
                         landmarks: f.landmarks, histogram: f.histogram, embedding: f.embedding)
        }
        let linked = linkFaces(input, options: options.tracking)
        summary.cuts += linked.cuts.count
        var tracks: [[Member]] = linked.tracks.map { indices in
            indices.map { i in
                Member(ordinal: input[i].ordinal, frameIndex: faces[i].frameIndex, faceId: faces[i].id, filled: nil,
                       box: input[i].box,
                       landmarks: faces[i].landmarks, faceType: FaceType(rawValue: faces[i].faceType) ?? .full,
                       cropSize: faces[i].cropSize)
            }
        }
        if options.fillGaps, let pipeline {
            try fill(&tracks, media: media, processed: processed, pipeline: pipeline, summary: &summary)
        }
        let smoother = TrackSmoother(strength: options.smoothing)
        return tracks.enumerated().map { (n, members) -> PlannedTrack in
            let ordinals = members.map(\.ordinal), landmarks = members.map(\.landmarks)
            let aligned = smoothedAlignment(ordinals: ordinals, landmarks: landmarks,
                                            faceTypes: members.map(\.faceType),
                                            cropSizes: members.map(\.cropSize), smoother: smoother)
            let out = members.indices.map { i -> TrackMember in
                if let f = members[i].filled {
                    return TrackMember(filled: f, smoothedLandmarks: aligned[i].landmarks,
                                       smoothedMatrix: aligned[i].matrix)
                }
                return TrackMember(faceId: members[i].faceId!, frameIndex: members[i].frameIndex,
                                   smoothedLandmarks: aligned[i].landmarks, smoothedMatrix: aligned[i].matrix)
            }
            return PlannedTrack(mediaId: media.id!, members: out,
                                gaps: ordinals.last! - ordinals.first! + 1 - ordinals.count,
                                endsAtCut: linked.endsAtCut[n],
                                jitterRaw: landmarkJitter(ordinals: ordinals, landmarks: landmarks),
                                jitterSmoothed: landmarkJitter(ordinals: ordinals, landmarks: aligned.map(\.landmarks)),
                                smoothing: options.smoothing)
        }
    }

    /// A missed frame of a track: where the face should be.
    struct Gap {
        var track: Int
        var ordinal: Int
        var frameIndex: Int
        var predicted: Landmarks68
        var box: FaceBox
        var faceType: FaceType
        var cropSize: Int
    }

    /// Fills every gap of at most `maxGap` frames inside a track: the frame is decoded, the face looked
    /// for again near where the track predicts it at lower detector thresholds (kept when it lands
    /// where predicted), and otherwise interpolated from the track (the smoother's estimate at that
    /// frame, which follows the motion on both sides). Either way the face is aligned, scored and
    /// stored like an extracted one, marked as filled.
    func fill(_ tracks: inout [[Member]], media: MediaRecord, processed: [Int], pipeline: FacePipeline,
              summary: inout TrackBuildSummary) throws {
        var gaps: [Gap] = []
        let predictor = TrackSmoother(strength: 1)
        for (t, members) in tracks.enumerated() where members.count >= 2 {
            var predicted: [Landmarks68]?
            for k in 1..<members.count {
                let a = members[k - 1], b = members[k]
                let missing = b.ordinal - a.ordinal - 1
                guard missing > 0, missing <= options.tracking.maxGap else { continue }
                if predicted == nil {
                    predicted = predictor.smooth(ordinals: members.map(\.ordinal), landmarks: members.map(\.landmarks))
                }
                for o in (a.ordinal + 1)..<b.ordinal {
                    let s = Double(o - a.ordinal) / Double(b.ordinal - a.ordinal)
                    let box = FaceBox(x: a.box.x + s * (b.box.x - a.box.x), y: a.box.y + s * (b.box.y - a.box.y),
                                      width: a.box.width + s * (b.box.width - a.box.width),
                                      height: a.box.height + s * (b.box.height - a.box.height))
                    gaps.append(Gap(track: t, ordinal: o, frameIndex: processed[o],
                                    predicted: predicted![o - members[0].ordinal],
                                    box: box, faceType: a.faceType, cropSize: a.cropSize))
                }
            }
        }
        guard !gaps.isEmpty else { return }
        let wanted = Set(gaps.map(\.frameIndex)), lastWanted = wanted.max()!
        let frames = try MediaFrames(project: project, media: media)
        var images: [Int: Image] = [:]
        while images.count < wanted.count, let f = try frames.next() {
            if wanted.contains(f.index) { images[f.index] = f.image.channels == 3 ? f.image : f.image.rgb() }
            if f.index >= lastWanted { break }
        }
        for g in gaps {
            guard let image = images[g.frameIndex] else { continue }
            var found: ExtractedFace?
            if options.redetect { found = redetect(g, in: image, pipeline: pipeline) }
            let kind = found == nil ? "interpolated" : "redetected"
            let face: ExtractedFace
            if let found {
                face = found
                summary.redetected += 1
            } else {
                let (crop, matrix) = alignedFace(image: image, landmarks: g.predicted, faceType: g.faceType,
                                                 size: g.cropSize)
                let signatures = faceSignatures(crop: crop, landmarksInFace: g.predicted.transformed(by: matrix),
                                                matrix: matrix)
                face = ExtractedFace(faceIndex: 0, score: 0, box: g.box, points5: [], landmarks: g.predicted,
                                     matrix: matrix,
                                     crop: crop, signatures: signatures)
                summary.interpolated += 1
            }
            let s = face.signatures
            let new = NewFace(faceIndex: 0, score: face.score,
                              box: (face.box.x, face.box.y, face.box.width, face.box.height),
                              points5: face.points5, landmarks: face.landmarks, matrix: face.matrix,
                              faceType: g.faceType.rawValue,
                              cropSize: g.cropSize, cropFormat: "jpeg",
                              crop: try JPEGCodec.encode(face.crop, quality: options.jpegQuality),
                              histogram: s.histogram, blur: s.blur, motionBlur: s.motionBlur, yaw: s.yaw,
                              pitch: s.pitch, roll: s.roll,
                              brightness: s.brightness, hue: s.hue, faceSize: s.faceSize,
                              landmarkScore: kind == "redetected" ? face.landmarkScore : nil)
            let member = Member(ordinal: g.ordinal, frameIndex: g.frameIndex, faceId: nil,
                                filled: FilledFace(frameIndex: g.frameIndex, kind: kind, face: new), box: face.box,
                                landmarks: face.landmarks, faceType: g.faceType, cropSize: g.cropSize)
            let at = tracks[g.track].firstIndex { $0.ordinal > g.ordinal } ?? tracks[g.track].count
            tracks[g.track].insert(member, at: at)
        }
    }

    /// The second detection attempt: MTCNN at lower thresholds on the region around the predicted
    /// face, the detection closest to the prediction, kept only if its landmarks land near it.
    func redetect(_ g: Gap, in image: Image, pipeline: FacePipeline) -> ExtractedFace? {
        let region = landmarkBox(g.predicted, margin: 0.6)
        let x0 = max(0, Int(region.x.rounded(.down))), y0 = max(0, Int(region.y.rounded(.down)))
        let crop = image.cropped(x: x0, y: y0, width: Int(region.width.rounded(.up)),
                                 height: Int(region.height.rounded(.up)))
        guard crop.width >= 24, crop.height >= 24 else { return nil }
        let t = options.redetectThresholds.count == 3 ? options.redetectThresholds : [0.4, 0.5, 0.5]
        let side = min(g.box.width, g.box.height)
        let detections = pipeline.detector.detect(crop, minFaceSize: max(12, Int(side * 0.6)),
                                                  thresholds: (t[0], t[1], t[2]))
            .map { d in
                DetectedFace(box: FaceBox(x: d.box.x + Double(x0), y: d.box.y + Double(y0), width: d.box.width,
                                          height: d.box.height),
                             score: d.score, points5: d.points5.map { Point2($0.x + Double(x0), $0.y + Double(y0)) })
            }
        guard let best = detections.max(by: { $0.box.iou(g.box) < $1.box.iou(g.box) }),
            best.box.iou(g.box) >= 0.3 else { return nil }
        let face = pipeline.face(in: image, detection: best, index: 0, faceType: g.faceType, size: g.cropSize)
        // The landmarks must agree with the track (not a neighbour's face, not a bad fit).
        guard meanLandmarkDistance(face.landmarks, g.predicted) <= 0.25 * eyeDistance(g.predicted) else { return nil }
        return face
    }
}
