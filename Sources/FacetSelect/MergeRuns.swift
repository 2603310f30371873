/// A merge recorded as a run: `MergeEngine.merge` with the frame scorer riding on it, the run's row written at
/// its first frame (so a refusal writes nothing), its scores as it goes, and its end; plus the worst frames.
import Foundation
import FacetCore
import FacetMerge
import FacetStore
import FacetVision

/// The settings a run stores (`merge_run.settings_json`).
public struct MergeRunSettings: Codable, Sendable, Equatable {
    /// The merge options.
    public var options: MergeOptions
    /// The frames asked for (nil: all).
    public var frames: [Int]?
    /// The dst person swapped (nil: every face).
    public var person: Int64?
    /// Whether frames were scored, and identity's frame step.
    public var scoring: Bool
    /// Identity's frame step (nil: identity not scored).
    public var identityEvery: Int?
    /// Ranges merged with other settings or left unswapped (`--config-for`, `--skip`), in frame order.
    public var ranges: [MergeRunRange]?

    /// Settings from their parts.
    public init(options: MergeOptions, frames: ClosedRange<Int>?, person: Int64?, scoring: Bool, identityEvery: Int?) {
        self.options = options; self.frames = frames.map { [$0.lowerBound, $0.upperBound] }; self.person = person
        self.scoring = scoring; self.identityEvery = identityEvery
    }

    /// Sorted-key JSON.
    public var json: String {
        let enc = JSONEncoder()
        enc.keyEncodingStrategy = .convertToSnakeCase
        enc.outputFormatting = [.sortedKeys]
        return String(decoding: (try? enc.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// A range of a run with its own settings: a saved configuration (and its checkpoint), or skipped.
public struct MergeRunRange: Codable, Sendable, Equatable {
    /// First and last frame.
    public var frames: [Int]
    /// The saved configuration's name; nil for a skipped range.
    public var config: String?
    /// The checkpoint that swapped the range (nil: skipped).
    public var checkpointId: Int64?
    /// The range's own settings (nil: skipped).
    public var options: MergeOptions?
    /// Whether the range was left unswapped.
    public var skip: Bool
}

/// What a recorded merge did.
public struct MergeRunResult {
    /// The stored run (finished).
    public var run: MergeRunRecord
    /// The merge's own figures.
    public var stats: MergeStats
}

/// One frame among a run's worst: the measure that makes it stand out most, its value, and how far it is
/// from the run's typical frame in robust spreads (median absolute deviations, scaled to a standard deviation).
public struct WorstFrame: Sendable, Equatable, Codable {
    /// The frame (full-rate index).
    public var frame: Int
    /// The measure (`MergeMetric`, or `identity`: distance to src minus distance to dst).
    public var metric: String
    /// Its value (for identity: the distance to src minus to dst).
    public var value: Double
    /// Spreads from the run's median, the worse way.
    public var spread: Double
    /// Every stored value of the frame.
    public var values: [String: Double]
}

/// Locks the run's row and counts shared by the writing and the scoring threads.
private final class RunRecorder: @unchecked Sendable {
    let lock = NSLock()
    let start: () throws -> MergeRunRecord
    var run: MergeRunRecord?
    var counts = MergeRunCounts()
    init(start: @escaping () throws -> MergeRunRecord) { self.start = start }

    func started() throws -> MergeRunRecord {
        lock.lock(); defer { lock.unlock() }
        if let run { return run }
        let r = try start()
        run = r
        return r
    }
}

/// Recorded merges and what their scores say.
public enum MergeRuns {
    /// The src and dst persons' centres for identity: the mean descriptors of the src faces `checkpointId`'s
    /// model trained on and of the dst video's kept faces; nil with the reason when either has none stored.
    public static func identityCentres(project: Project, checkpointId: Int64, media: MediaRecord) throws
        -> (centres: (src: [Float], dst: [Float])?, note: String?) {
        let checkpoint = try project.checkpoint(id: checkpointId)
        let split = try project.modelFaces(modelId: checkpoint.modelId)
        let srcIDs = Set((split.train[.src] ?? []) + (split.validation[.src] ?? []))
        var src = FaceQuery(role: .src)
        src.ids = srcIDs.sorted()
        let srcRows = try project.embeddingMatrix(matching: src)
        var dst = FaceQuery(role: .dst, status: .kept)
        dst.mediaId = media.id
        let dstRows = try project.embeddingMatrix(matching: dst)
        let srcCentre = srcIDs.isEmpty ? nil : mean(srcRows, keeping: srcIDs), dstCentre = mean(dstRows, keeping: nil)
        guard let srcCentre, let dstCentre else {
            let which = srcCentre == nil ? (dstCentre == nil ? "src and dst" : "src") : "dst"
            return (nil, "identity not scored: the \(which) faces have no face-recognition descriptors"
                         + " (run `facet embed \(project.path)`)")
        }
        return ((srcCentre, dstCentre), nil)
    }

    private static func mean(_ m: EmbeddingMatrix, keeping ids: Set<Int64>?) -> [Float]? {
        var c = [Float](repeating: 0, count: FaceEmbedding.dimension)
        var n = 0
        for i in 0..<m.count where ids?.contains(m.ids[i]) ?? true {
            let r = m.row(i)
            for j in c.indices { c[j] += r[j] }
            n += 1
        }
        return n == 0 ? nil : c.map { $0 / Float(n) }
    }

    /// Merges as `MergeEngine.merge` does and records the run: its row appears with the first merged frame
    /// (a refusal before that writes nothing), scores (with `scoring`) are stored every 64 frames, and the
    /// run is marked finished once the video is written. A run stopped by an error keeps the error in its
    /// notes; one killed stays unfinished. `notes` are stored with the run. The expression restore fits with
    /// `predictor`, or the scorer's (else it loads its own), and checks identity with `identity`, or the scorer's.
    public static func merge(project: Project, media: MediaRecord, swapper: any FaceSwapper, checkpointId: Int64?,
                             options: MergeOptions, output: String, frames: ClosedRange<Int>? = nil,
                             faceType: String? = nil,
                             person: Int64? = nil, scoring: MergeScoringSetup?, predictor: ShapePredictor? = nil,
                             identity: IdentityCheck? = nil, notes: [String] = [],
                             plan: MergePlan = MergePlan(), planCheckpoints: [Int64?] = [],
                             progress: ((MergeProgress) -> Void)? = nil) throws -> MergeRunResult {
        let range = frames ?? 0...max(0, media.frameCount - 1)
        var settings = MergeRunSettings(options: options, frames: frames, person: person, scoring: scoring != nil,
                                        identityEvery: scoring?.identity == nil ? nil : scoring?.identityEvery)
        if !plan.isEmpty {
            let segments = plan.segments.enumerated().map { k, s in
                MergeRunRange(frames: [s.frames.lowerBound, s.frames.upperBound], config: s.name,
                              checkpointId: k < planCheckpoints.count ? planCheckpoints[k] : nil, options: s.options,
                              skip: false)
            }
            let skipped = plan.skip.map {
                MergeRunRange(frames: [$0.lowerBound, $0.upperBound], config: nil, checkpointId: nil, options: nil,
                              skip: true)
            }
            settings.ranges = (segments + skipped).sorted { $0.frames[0] < $1.frames[0] }
        }
        let outputPath = URL(fileURLWithPath: output).standardizedFileURL.path
        let recorder = RunRecorder {
            try project.startMergeRun(mediaId: media.id!, checkpointId: checkpointId, output: outputPath,
                                      settingsJSON: settings.json, frames: range)
        }
        var scorer: MergeFrameScorer?
        if let scoring {
            scorer = MergeFrameScorer(setup: scoring) { scores in
                let run = try recorder.started()
                recorder.lock.lock()
                let counts = recorder.counts
                recorder.lock.unlock()
                try project.storeMergeFrameScores(runId: run.id, scores, counts: counts)
            }
        }
        let s = scorer
        do {
            let stats = try MergeEngine.merge(project: project, media: media, swapper: swapper, options: options,
                                              output: output, frames: frames, faceType: faceType, person: person,
                                              predictor: predictor ?? scoring?.predictor,
                                              identity: identity ?? scoring?.identity, observer: scorer,
                                              plan: plan) { p in
                _ = try? recorder.started()
                recorder.lock.lock()
                recorder.counts.frames = p.framesDone
                recorder.counts.framesScored = s?.framesScored ?? 0
                recorder.lock.unlock()
                progress?(p)
            }
            let run = try recorder.started()
            try scorer?.flush()
            let counts = MergeRunCounts(frames: stats.frames, framesWithFaces: stats.framesWithFaces,
                                        facesMerged: stats.facesMerged, framesScored: scorer?.framesScored ?? 0)
            try project.finishMergeRun(id: run.id, counts: counts, seconds: stats.seconds,
                                       notes: notes.joined(separator: "\n"))
            return MergeRunResult(run: try project.mergeRun(id: run.id), stats: stats)
        } catch {
            if let run = recorder.run {
                try? project.noteMergeRun(id: run.id, notes: (notes + ["stopped: \(error)"]).joined(separator: "\n"))
            }
            throw error
        }
    }

    /// Measures ranked for the worst frames, and which way is worse.
    static let ranked: [(metric: String, higherIsWorse: Bool, floor: Double)] = [
        ("identity", true, 0.02), (MergeMetric.landmarks, true, 0.005), (MergeMetric.eyesMouth, true, 0.005),
        (MergeMetric.detail, false, 0.05), (MergeMetric.jitter, true, 0.002),
    ]

    /// The `n` worst scored frames of a run: each frame's measures are put on one scale, their distance from
    /// the run's median in robust spreads (1.4826 x the median absolute deviation, at least a small floor per
    /// measure), the worse way; a frame ranks by its worst measure, which is the why. Identity is ranked as
    /// distance to src minus distance to dst (a face nearer the dst person than the src ranks high).
    public static func worstFrames(_ scores: [Int: [String: Double]], count n: Int) -> [WorstFrame] {
        var series: [String: [(Int, Double)]] = [:]
        for (frame, v) in scores {
            for r in ranked {
                let x: Double?
                if r.metric == "identity" {
                    x = v[MergeMetric.identityToSrc].flatMap { s in v[MergeMetric.identityToDst].map { s - $0 } }
                } else if r.metric == MergeMetric.detail {
                    x = v[r.metric].flatMap { $0 > 0 ? log($0) : nil }
                } else { x = v[r.metric] }
                if let x, x.isFinite { series[r.metric, default: []].append((frame, x)) }
            }
        }
        var best: [Int: WorstFrame] = [:]
        for r in ranked {
            guard let s = series[r.metric], !s.isEmpty else { continue }
            let med = median(s.map(\.1))
            let spread = max(1.4826 * median(s.map { abs($0.1 - med) }), r.floor)
            for (frame, x) in s {
                let z = (r.higherIsWorse ? x - med : med - x) / spread
                if best[frame].map({ z > $0.spread }) ?? true {
                    let value = r.metric == MergeMetric.detail ? exp(x) : x
                    best[frame] = WorstFrame(frame: frame, metric: r.metric, value: value, spread: z,
                                             values: scores[frame] ?? [:])
                }
            }
        }
        let sorted = best.values.sorted { $0.spread != $1.spread ? $0.spread > $1.spread : $0.frame < $1.frame }
        return Array(sorted.prefix(max(0, n)))
    }

    private static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// A run's summary over its frames: mean of each metric, and the jitter over the dst's own (the #21 ratio).
    public static func summary(_ scores: [Int: [String: Double]]) -> [String: Double] {
        var sums: [String: (Double, Int)] = [:]
        for v in scores.values { for (k, x) in v { sums[k, default: (0, 0)].0 += x; sums[k, default: (0, 0)].1 += 1 } }
        var out = sums.mapValues { $0.0 / Double($0.1) }
        // The ratio over frames that have both (a sum over frames, as Tools/reference/merged_jitter.py does).
        var rel = 0.0, own = 0.0
        for v in scores.values {
            if let j = v[MergeMetric.jitter], let d = v[MergeMetric.dstJitter] { rel += j; own += d }
        }
        if own > 0 { out["jitter_ratio"] = rel / own }
        return out
    }
}
