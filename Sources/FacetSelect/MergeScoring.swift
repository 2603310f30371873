/// Scoring a merge frame by frame, as it runs: every swapped face judged on the merged frame beside the
/// decoded one (identity, expression and pose, detail, and its jitter against the head), the run and its
/// scores stored in the project (`merge_run`, `merge_frame_score`), and the worst frames of a run with why.
import Foundation
import FacetCore
import FacetMerge
import FacetProjectMedia
import FacetStore
import FacetVision

/// Per-frame metrics a merge stores (README "Merge runs and their scores"); each in its own row.
public enum MergeMetric {
    /// Face-recognition distance of the merged face to the src person's centre (dlib's units; 0.6 = same person).
    public static let identityToSrc = "identity_to_src"
    /// Its distance to the dst person's centre.
    public static let identityToDst = "identity_to_dst"
    /// Mean distance of the 68 points refitted on the merged face to those refitted on the decoded frame in
    /// the same box, in outer-eye-corner distances.
    public static let landmarks = "landmarks"
    /// The same over the eyes and mouth (points 36-67): expression.
    public static let eyesMouth = "eyes_mouth"
    /// Variance of the Laplacian inside the face's landmark hull, merged over decoded (1: as sharp).
    public static let detail = "detail"
    /// The face's jump against the head: mean over the 68 points of the second difference (the frame before,
    /// this one and the next) of the merged face's refitted points minus the decoded face's, in eye distances (#21).
    public static let jitter = "jitter"
    /// The decoded face's own second difference, the same way (what `jitter` is compared with).
    public static let dstJitter = "dst_jitter"
}

/// What the merge's scorer needs: the landmark predictor (refits the face on both frames), and for identity
/// the recogniser and both persons' centres (nil: identity not scored).
public struct MergeScoringSetup {
    /// dlib's 68-point predictor.
    public var predictor: ShapePredictor
    /// Face-recognition network and the persons' mean descriptors (the expression restore's check uses the same);
    /// nil leaves identity out.
    public var identity: IdentityCheck?
    /// Identity is scored on every `identityEvery`-th frame (a descriptor costs more than the rest of a
    /// frame's scoring and merge together: see the README's figure); 1: every frame.
    public var identityEvery: Int
    /// Frames whose faces' 68-point fits (merged and decoded frame of each) run as one lockstep fit
    /// (`ShapePredictor.landmarks(of:)`), so a leaf that several reach is read from memory once; the scores come
    /// `framesPerFit` frames late, and that many merged and decoded frames wait in memory.
    public var framesPerFit: Int

    /// A setup from its parts.
    public init(predictor: ShapePredictor,
                identity: IdentityCheck?,
                identityEvery: Int = MergeScoringSetup.defaultIdentityEvery,
                framesPerFit: Int = MergeScoringSetup.defaultFramesPerFit) {
        self.predictor = predictor; self.identity = identity; self.identityEvery = max(1, identityEvery)
        self.framesPerFit = max(1, framesPerFit)
    }

    /// Identity on every 8th frame by default (README "Merge runs and their scores").
    public static let defaultIdentityEvery = 8
    /// Inside the merge, beside stages that fill the caches, the two fits of a frame cost about twice what they cost
    /// alone (2.3 against 1.1 ms), which the lockstep wins back in part: 8 frames kept 2-5 points more of the
    /// merge's frames/s than 4 in each of three same-run comparisons (README). `Tools/bench merge-score` prints the
    /// lockstep fit's cost alone and runs the merge with half this many frames per fit beside it. At 1080p the 8
    /// frames' two images hold about 100 MB.
    public static let defaultFramesPerFit = 8
}

/// Scores each merged frame as the merge hands it over (a `MergeFrameObserver`): keeps the scores until
/// `flush` takes them. Frames without a swapped face get no scores; a frame's value is its worst face's.
public final class MergeFrameScorer: MergeFrameObserver {
    /// What it scores with.
    public let setup: MergeScoringSetup
    /// Called with the scores gathered so far every `flushEvery` frames (on the observing thread).
    let flushEvery: Int
    let onFlush: ([Int: [String: Double]]) throws -> Void
    private var pending: [Int: [String: Double]] = [:]
    /// Faces of the last frames: centre, refitted points on merged and decoded frame (pixels).
    private var history: [(frame: Int, faces: [(centre: Point2, out: [Point2], ref: [Point2])])] = []
    /// Frames waiting to be scored (`setup.framesPerFit` at a time).
    private var queued: [(frame: Int, original: Image, merged: Image, faces: [MergeFace])] = []
    /// Chips waiting for one batched descriptor call, with the frame they came from.
    private var chips: [(frame: Int, chip: Image)] = []
    private var framesSinceFlush = 0
    /// Frames scored so far.
    public private(set) var framesScored = 0

    /// A scorer over `setup`, handing its scores to `flush` every `flushEvery` frames and at the end.
    public init(setup: MergeScoringSetup, flushEvery: Int = 64,
                flush: @escaping ([Int: [String: Double]]) throws -> Void) {
        self.setup = setup; self.flushEvery = max(1, flushEvery); self.onFlush = flush
    }

    /// Takes one frame; frames are scored `setup.framesPerFit` at a time, in order (see `MergeMetric`).
    public func observe(frame: Int, original: Image, merged: Image, faces: [MergeFace]) throws {
        queued.append((frame, original, merged, faces))
        if queued.count >= setup.framesPerFit { try scoreQueued() }
    }

    /// Fits the waiting frames' faces in one lockstep fit, then scores the frames in order.
    private func scoreQueued() throws {
        guard !queued.isEmpty else { return }
        let batch = queued
        queued.removeAll(keepingCapacity: true)
        let p = setup.predictor
        var requests: [(image: Image, box: FaceRect)] = []
        for item in batch {
            for face in item.faces {
                // Both frames fitted in the same box (from the landmarks the merge placed the face by), so the
                // box's own noise cancels and what is left is the pasted face against the head.
                let box = p.trackingBox(for: face.landmarks)
                requests.append((item.merged, box)); requests.append((item.original, box))
            }
        }
        let fits = p.landmarks(of: requests)
        var next = 0
        for item in batch {
            let n = item.faces.count
            try score(frame: item.frame, original: item.original, merged: item.merged, faces: item.faces,
                      fits: Array(fits[next..<(next + 2 * n)]))
            next += 2 * n
        }
    }

    /// Scores one frame with its faces' fits (merged, original; face by face).
    private func score(frame: Int, original: Image, merged: Image, faces: [MergeFace], fits: [Landmarks68]) throws {
        guard !faces.isEmpty else { history.removeAll(); return }
        var values: [String: Double] = [:]
        // The second difference over frames t-2, t-1, t belongs to the middle frame (as in #21's measure):
        // a single bad frame then stands out at its own index, its neighbours at half of it.
        var middle: [String: Double] = [:]
        var current: [(centre: Point2, out: [Point2], ref: [Point2])] = []
        let withIdentity = setup.identity != nil && frame % setup.identityEvery == 0
        for f in faces.indices {
            let out = fits[2 * f].points, ref = fits[2 * f + 1].points
            let unit = eyeDistance(Landmarks68(points: ref))
            guard unit > 1 else { continue }
            var all = 0.0, em = 0.0
            for i in 0..<68 {
                let e = hypot(out[i].x - ref[i].x, out[i].y - ref[i].y) / unit
                all += e
                if i >= 36 { em += e }
            }
            worst(&values, MergeMetric.landmarks, all / 68, higher: true)
            worst(&values, MergeMetric.eyesMouth, em / 32, higher: true)
            let (dOut, dRef) = Self.hullDetail(merged, original, points: ref)
            if dRef > 0 { worst(&values, MergeMetric.detail, dOut / dRef, higher: false) }
            let centre = Point2(ref.reduce(0) { $0 + $1.x } / 68, ref.reduce(0) { $0 + $1.y } / 68)
            // The second difference needs this face in the two frames before (the nearest face there).
            if history.count == 2, history[1].frame == frame - 1, history[0].frame == frame - 2,
               let b = Self.nearest(history[1].faces, centre, within: unit),
               let a = Self.nearest(history[0].faces, centre, within: unit) {
                var rel = 0.0, own = 0.0
                for i in 0..<68 {
                    let ox = out[i].x - 2 * b.out[i].x + a.out[i].x, oy = out[i].y - 2 * b.out[i].y + a.out[i].y
                    let rx = ref[i].x - 2 * b.ref[i].x + a.ref[i].x, ry = ref[i].y - 2 * b.ref[i].y + a.ref[i].y
                    rel += hypot(ox - rx, oy - ry); own += hypot(rx, ry)
                }
                worst(&middle, MergeMetric.jitter, rel / 68 / unit, higher: true)
                worst(&middle, MergeMetric.dstJitter, own / 68 / unit, higher: true)
            }
            current.append((centre, out, ref))
            if withIdentity {
                chips.append((frame, FaceRecognizer.chips(image: merged, faces: [Landmarks68(points: out)])[0]))
            }
        }
        history.append((frame, current))
        if history.count > 2 { history.removeFirst() }
        if !middle.isEmpty { pending[frame - 1, default: [:]].merge(middle) { $1 } }
        guard !values.isEmpty else { return }
        pending[frame, default: [:]].merge(values) { $1 }
        framesScored += 1
        framesSinceFlush += 1
        if chips.count >= 8 { describeChips() }
        if framesSinceFlush >= flushEvery { try flush() }
    }

    /// Hands over every score gathered so far (descriptors of the chips still waiting included).
    public func flush() throws {
        try scoreQueued()
        describeChips()
        framesSinceFlush = 0
        guard !pending.isEmpty else { return }
        let out = pending
        pending = [:]
        try onFlush(out)
    }

    /// Describes the waiting chips in one batch; a frame's identity is its face farthest from the src person.
    private func describeChips() {
        guard let id = setup.identity, !chips.isEmpty else { return }
        let descriptors = id.recognizer.descriptors(chips: chips.map(\.chip))
        for (c, d) in zip(chips, descriptors) {
            let toSrc = Double(FaceRecognizer.distance(d, id.srcCentre))
            let toDst = Double(FaceRecognizer.distance(d, id.dstCentre))
            var v = pending[c.frame, default: [:]]
            if v[MergeMetric.identityToSrc].map({ toSrc > $0 }) ?? true {
                v[MergeMetric.identityToSrc] = toSrc; v[MergeMetric.identityToDst] = toDst
            }
            pending[c.frame] = v
        }
        chips.removeAll(keepingCapacity: true)
    }

    private func worst(_ values: inout [String: Double], _ key: String, _ v: Double, higher: Bool) {
        guard v.isFinite else { return }
        if let old = values[key], higher ? old >= v : old <= v { return }
        values[key] = v
    }

    private static func nearest(_ faces: [(centre: Point2, out: [Point2], ref: [Point2])], _ c: Point2,
                                within limit: Double) -> (centre: Point2, out: [Point2], ref: [Point2])? {
        func d(_ f: (centre: Point2, out: [Point2], ref: [Point2])) -> Double {
            hypot(f.centre.x - c.x, f.centre.y - c.y)
        }
        let best = faces.min { d($0) < d($1) }
        guard let best, hypot(best.centre.x - c.x, best.centre.y - c.y) < limit else { return nil }
        return best
    }

    /// Laplacian variance inside the hull of `points` in `a` and in `b` (`SwapScorer.laplacianVariance`): the detail
    /// the scorer takes of each face, merged and decoded (public for `Tools/bench merge-score`, which times it).
    public static func hullDetail(_ a: Image, _ b: Image, points: [Point2]) -> (Double, Double) {
        let spans = hullSpans(of: points, width: a.width, height: a.height)
        return (SwapScorer.laplacianVariance(a, spans: spans), SwapScorer.laplacianVariance(b, spans: spans))
    }
}
