/// Scoring a checkpoint by its swaps rather than its reconstructions: held-out dst faces swapped into
/// their frames exactly as `facet merge` would, then judged from the merged frame by identity (whose
/// face is it), expression and pose (do its landmarks follow the dst's) and detail (is it as sharp).
import Foundation
import FacetCore
import FacetMerge
import FacetProjectMedia
import FacetStore
import FacetTrain
import FacetVision

/// What a checkpoint's swaps score on held-out dst faces (README "Swap scores").
public struct SwapScore: Sendable, Equatable, Codable {
    /// Held-out dst faces swapped.
    public var faces: Int
    /// Swapped faces where no face was found again in the merged frame (left out of the measures).
    public var missed: Int
    /// Share (0...1) of the swapped faces whose descriptor is closer to the src person's centre than to the dst's.
    public var identitySrcShare: Double
    /// Mean face-recognition distance of the swapped faces to the src centre (dlib's units; 0.6 = same person).
    public var identityToSrc: Double
    /// Mean distance of the swapped faces to the dst centre.
    public var identityToDst: Double
    /// Mean distance of the 68 landmarks refitted on the swapped face to the dst face's stored ones, in
    /// outer-eye-corner distances of the dst face.
    public var landmarks: Double
    /// The same over the eyes and the mouth alone (points 36-67): expression.
    public var eyesMouth: Double
    /// Correlation across faces of the mouth opening (inner lips over the eye distance), swapped against dst;
    /// nil when it is undefined (fewer than 3 faces, or a mouth that never moves).
    public var mouthCorrelation: Double?
    /// Whether the eyes and mouth move as the dst's do, whatever their shape: each face's eye and mouth landmarks
    /// (points 36-67, in the dst face's aligned coordinates) less their mean over the scored faces, swapped against
    /// dst, in eye distances. A constant offset (the src person's own eye and mouth shape, a swap placed a little
    /// off) does not count, which dominates `eyesMouth` between different people; nil under 3 faces.
    public var eyesMouthMotion: Double?
    /// What `eyesMouthMotion` would be for a swap whose eyes and mouth never move: the dst's own movement, the
    /// same measure against a still face (so a swap that follows scores well below it).
    public var eyesMouthStill: Double?
    /// How much wider the swap's mouth is open than the dst's, on average over the faces (inner lips apart over the
    /// eye distance, swapped less dst): the mouth state the movement measures leave out with the mean, such as the
    /// src person's open mouth held on the dst's closed one. nil for scores stored before it.
    public var mouthOpenBias: Double?
    /// Variance of the Laplacian inside the dst face's landmark hull, merged frame over original (1: as sharp).
    public var detail: Double
    /// Seconds the scoring took.
    public var seconds: Double

    /// The stored form: metric name to value.
    public var metrics: [String: Double] {
        var m = ["identity_src_share": identitySrcShare, "identity_to_src": identityToSrc,
                 "identity_to_dst": identityToDst,
                 "landmarks": landmarks, "eyes_mouth": eyesMouth, "detail": detail, "missed": Double(missed)]
        if let mouthCorrelation { m["mouth_correlation"] = mouthCorrelation }
        if let eyesMouthMotion { m["eyes_mouth_motion"] = eyesMouthMotion }
        if let eyesMouthStill { m["eyes_mouth_still"] = eyesMouthStill }
        if let mouthOpenBias { m["mouth_open_bias"] = mouthOpenBias }
        return m
    }

    /// A score read back from its stored metrics; nil when a core metric is missing.
    public init?(stored: CheckpointScores) {
        let v = stored.values
        guard let share = v["identity_src_share"], let toSrc = v["identity_to_src"], let toDst = v["identity_to_dst"],
              let lm = v["landmarks"], let em = v["eyes_mouth"], let detail = v["detail"] else { return nil }
        self.init(faces: stored.faces, missed: Int(v["missed"] ?? 0), identitySrcShare: share, identityToSrc: toSrc,
                  identityToDst: toDst, landmarks: lm, eyesMouth: em, mouthCorrelation: v["mouth_correlation"],
                  detail: detail, seconds: 0, eyesMouthMotion: v["eyes_mouth_motion"],
                  eyesMouthStill: v["eyes_mouth_still"], mouthOpenBias: v["mouth_open_bias"])
    }

    /// A score from its parts (the movement measures nil for scores stored before them).
    public init(faces: Int, missed: Int, identitySrcShare: Double, identityToSrc: Double, identityToDst: Double,
                landmarks: Double, eyesMouth: Double, mouthCorrelation: Double?, detail: Double, seconds: Double,
                eyesMouthMotion: Double? = nil, eyesMouthStill: Double? = nil, mouthOpenBias: Double? = nil) {
        self.faces = faces; self.missed = missed; self.identitySrcShare = identitySrcShare
        self.identityToSrc = identityToSrc; self.identityToDst = identityToDst; self.landmarks = landmarks
        self.eyesMouth = eyesMouth; self.mouthCorrelation = mouthCorrelation; self.detail = detail
        self.seconds = seconds; self.eyesMouthMotion = eyesMouthMotion; self.eyesMouthStill = eyesMouthStill
        self.mouthOpenBias = mouthOpenBias
    }
}

/// Scores swaps: held-out dst faces merged with a swapper as `facet merge` does, then measured on the
/// merged frame with Facet's own detector, landmarks and face-recognition network.
public struct SwapScorer {
    /// Finds and fits the swapped face again in the merged frame.
    public let pipeline: FacePipeline
    /// Describes the swapped face (dlib's face-recognition network).
    public let recognizer: FaceRecognizer

    /// A scorer with the given pipeline and recogniser.
    public init(pipeline: FacePipeline, recognizer: FaceRecognizer) {
        self.pipeline = pipeline; self.recognizer = recognizer
    }

    /// The held-out dst faces of `checkpoint`'s model that still exist and are kept, at most `limit`,
    /// evenly spread over them (ascending ids).
    public static func heldOutFaces(project: Project, checkpoint: CheckpointRecord, limit: Int) throws -> [Int64] {
        let ids = try project.modelFaces(modelId: checkpoint.modelId).validation[.dst] ?? []
        let kept = try ids.filter { try project.face(id: $0).status == .kept }
        guard kept.count > limit, limit > 0 else { return kept }
        return (0..<limit).map { kept[$0 * kept.count / limit] }
    }

    /// Scores `swapper` on the dst faces `faceIDs`: each face's frame is decoded, that face (alone) is
    /// merged with `options` as the merge places it (its smoothed alignment when `options.smooth` > 0, the
    /// model's face type), and the merged face is found again, described and measured against the src
    /// and dst persons' centres (mean descriptors) and against the dst face's stored landmarks and pixels.
    public func score(project: Project, swapper: any FaceSwapper, faceType: String?, faceIDs: [Int64],
                      options: MergeOptions,
                      srcCentre: [Float], dstCentre: [Float]) throws -> SwapScore {
        let start = Date()
        try options.validate()
        var records = try faceIDs.map { try project.face(id: $0) }
        records.sort { ($0.mediaId, $0.frameIndex, $0.id) < ($1.mediaId, $1.frameIndex, $1.id) }
        let compositor = try FaceCompositor(options: options, resolution: swapper.resolution,
                                            predictor: pipeline.shapePredictor)
        var toSrc: [Double] = [], toDst: [Double] = [], lm: [Double] = [], em: [Double] = []
        var swapEyesMouth: [[Point2]] = [], dstEyesMouth: [[Point2]] = [], faceUnits: [Double] = []
        var mouthSwap: [Double] = [], mouthDst: [Double] = []
        var detailSwap = 0.0, detailOrig = 0.0, missed = 0
        var k = 0
        while k < records.count {
            let mediaId = records[k].mediaId
            var end = k
            while end < records.count && records[end].mediaId == mediaId { end += 1 }
            let group = Array(records[k..<end])
            k = end
            let media = try project.media(id: mediaId)
            // The faces as the merge places them (its alignment, smoothing and face type), read once per media.
            let placed = try MergeEngine.faces(in: project, media: media, faceType: faceType, smoothing: options.smooth)
            let frames = try MediaFrames(project: project, media: media)
            var next = 0
            while next < group.count, let frame = try frames.next() {
                while next < group.count && group[next].frameIndex < frame.index { missed += 1; next += 1 }
                while next < group.count && group[next].frameIndex == frame.index {
                    let record = group[next]
                    next += 1
                    guard let dstLandmarks = record.landmarks68 else { missed += 1; continue }
                    // The face as the merge places it: of the merge's faces of this frame, the one nearest this face.
                    guard let face = (placed[frame.index] ?? []).min(by: {
                        meanLandmarkDistance($0.landmarks, dstLandmarks) < meanLandmarkDistance(
                            $1.landmarks, dstLandmarks)
                    }) else { missed += 1; continue }
                    var merged = frame.image
                    _ = try compositor.merge(frame: &merged, faces: [face], swapper: swapper)
                    let unit = eyeDistance(dstLandmarks)
                    let found = pipeline.faces(in: merged, minFaceSize: 40)
                    guard unit > 0, let again = found.min(by: {
                        meanLandmarkDistance($0.landmarks, dstLandmarks) < meanLandmarkDistance(
                            $1.landmarks, dstLandmarks)
                    }), meanLandmarkDistance(again.landmarks, dstLandmarks) < 0.5 * unit else { missed += 1; continue }
                    let d = recognizer.descriptors(image: merged, faces: [again.landmarks])[0]
                    toSrc.append(Double(FaceRecognizer.distance(d, srcCentre)))
                    toDst.append(Double(FaceRecognizer.distance(d, dstCentre)))
                    var all = 0.0, eyesMouth = 0.0
                    for p in 0..<68 {
                        let e = hypot(again.landmarks.points[p].x - dstLandmarks.points[p].x,
                                      again.landmarks.points[p].y - dstLandmarks.points[p].y) / unit
                        all += e
                        if p >= 36 { eyesMouth += e }
                    }
                    lm.append(all / 68); em.append(eyesMouth / 32)
                    let aligned = record.imageToFace
                    let eyesMouthPoints = { (l: Landmarks68) in l.points[36...].map { aligned.apply($0) } }
                    let dstPoints = eyesMouthPoints(dstLandmarks)
                    swapEyesMouth.append(eyesMouthPoints(again.landmarks))
                    dstEyesMouth.append(dstPoints)
                    // The outer eye corners, points 36 and 45, are the first and tenth of these.
                    faceUnits.append(hypot(dstPoints[9].x - dstPoints[0].x, dstPoints[9].y - dstPoints[0].y))
                    mouthSwap.append(Self.mouthOpening(again.landmarks))
                    mouthDst.append(Self.mouthOpening(dstLandmarks))
                    let hull = hullSpans(of: dstLandmarks.points, width: frame.image.width,
                                         height: frame.image.height)
                    detailSwap += Self.laplacianVariance(merged, spans: hull)
                    detailOrig += Self.laplacianVariance(frame.image, spans: hull)
                }
            }
            missed += group.count - next
        }
        func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
        let movement = Self.movement(swap: swapEyesMouth, dst: dstEyesMouth, unit: mean(faceUnits))
        let share = toSrc.isEmpty ? .nan : Double(zip(toSrc, toDst).filter { $0 < $1 }.count) / Double(toSrc.count)
        return SwapScore(faces: faceIDs.count, missed: missed, identitySrcShare: share, identityToSrc: mean(toSrc),
                         identityToDst: mean(toDst), landmarks: mean(lm), eyesMouth: mean(em),
                         mouthCorrelation: Self.correlation(mouthSwap, mouthDst),
                         detail: detailOrig > 0 ? detailSwap / detailOrig : .nan,
                         seconds: Date().timeIntervalSince(start), eyesMouthMotion: movement?.motion,
                         eyesMouthStill: movement?.still,
                         mouthOpenBias: mouthSwap.isEmpty ? nil : mean(mouthSwap) - mean(mouthDst))
    }

    /// `eyesMouthMotion` and `eyesMouthStill` from each scored face's points (swapped and dst, the same points in the
    /// same aligned coordinates): the mean distance, over faces and points, of the swap's deviation from its mean
    /// over the faces to the dst's deviation from its mean; and of the dst's deviation to none. nil under 3 faces.
    static func movement(swap: [[Point2]], dst: [[Point2]], unit: Double) -> (motion: Double, still: Double)? {
        guard swap.count >= 3, swap.count == dst.count, unit > 0, let n = swap.first?.count,
              swap.allSatisfy({ $0.count == n }), dst.allSatisfy({ $0.count == n }) else { return nil }
        func centre(_ faces: [[Point2]]) -> [Point2] {
            (0..<n).map { p in
                Point2(faces.reduce(0.0) { $0 + $1[p].x } / Double(faces.count),
                       faces.reduce(0.0) { $0 + $1[p].y } / Double(faces.count))
            }
        }
        let sc = centre(swap), dc = centre(dst)
        var motion = 0.0, still = 0.0
        for i in swap.indices {
            for p in 0..<n {
                let dx = dst[i][p].x - dc[p].x, dy = dst[i][p].y - dc[p].y
                motion += hypot(swap[i][p].x - sc[p].x - dx, swap[i][p].y - sc[p].y - dy)
                still += hypot(dx, dy)
            }
        }
        let count = Double(swap.count * n) * unit
        return (motion / count, still / count)
    }

    /// The mouth's opening: mean distance of the inner lips (61-67, 62-66, 63-65) over the outer-eye distance.
    static func mouthOpening(_ l: Landmarks68) -> Double {
        let p = l.points
        let gap = [(61, 67), (62, 66),
                   (63, 65)].reduce(0.0) { $0 + hypot(p[$1.0].x - p[$1.1].x, p[$1.0].y - p[$1.1].y) } / 3
        return gap / max(eyeDistance(l), 1e-9)
    }

    /// Pearson correlation, nil for fewer than 3 pairs or a constant series.
    static func correlation(_ a: [Double], _ b: [Double]) -> Double? {
        guard a.count >= 3, a.count == b.count else { return nil }
        let n = Double(a.count), ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in a.indices {
            sab += (a[i] - ma) * (b[i] - mb)
            saa += (a[i] - ma) * (a[i] - ma)
            sbb += (b[i] - mb) * (b[i] - mb)
        }
        guard saa > 1e-12, sbb > 1e-12 else { return nil }
        return sab / (saa * sbb).squareRoot()
    }

    /// Variance of the 3x3 Laplacian of the grey image (BT.601 luma) over the pixels of `spans` (a hull's rows,
    /// `hullSpans`), the image's border pixels left out: the sharpness measure of OpenCV's `Laplacian(...).var()`,
    /// inside a region. Only the spans' box and its 1-pixel rim are converted to grey; no mask is made.
    static func laplacianVariance(_ image: Image, spans: [HullSpan]) -> Double {
        let w = image.width, h = image.height, c = image.channels
        guard w >= 3, h >= 3, let first = spans.first, let last = spans.last else { return 0 }
        let minX = spans.map(\.x0).min()!, maxX = spans.map(\.x1).max()!
        let gx0 = max(0, minX - 1), gx1 = min(w - 1, maxX + 1), gy0 = max(0, first.y - 1), gy1 = min(h - 1, last.y + 1)
        guard gx0 <= gx1, gy0 <= gy1 else { return 0 }
        let gw = gx1 - gx0 + 1
        var sum = 0.0, sumSq = 0.0, n = 0.0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: gw * (gy1 - gy0 + 1)) { grey in
            image.pixels.withUnsafeBufferPointer { px in
                for y in gy0...gy1 {
                    let row = (y - gy0) * gw - gx0
                    for x in gx0...gx1 {
                        let i = (y * w + x) * c
                        grey[row + x] = c >= 3
                            ? 0.299 * Float(px[i]) + 0.587 * Float(px[i + 1]) + 0.114 * Float(px[i + 2])
                            : Float(px[i])
                    }
                }
            }
            // Eight pixels at a time: each lane's Laplacian is the scalar one's (the same Float operations in the
            // same order); the sums run in Double over four lanes, so only their order differs (about 1e-15).
            let base = UnsafeRawPointer(grey.baseAddress!)
            let stride = MemoryLayout<Float>.stride
            var s4 = SIMD4<Double>(), q4 = SIMD4<Double>()
            func at(_ i: Int) -> SIMD8<Float> { base.loadUnaligned(fromByteOffset: i * stride, as: SIMD8<Float>.self) }
            for span in spans where span.y >= 1 && span.y <= h - 2 {
                let x0 = max(1, span.x0), x1 = min(w - 2, span.x1)
                guard x0 <= x1 else { continue }
                let row = (span.y - gy0) * gw - gx0
                var x = x0
                while x + 8 <= x1 + 1 {
                    let i = row + x
                    let v = at(i - 1) + at(i + 1) + at(i - gw) + at(i + gw) - 4 * at(i)
                    let lo = SIMD4<Double>(v.lowHalf), hi = SIMD4<Double>(v.highHalf)
                    s4 += lo + hi
                    q4 += lo * lo + hi * hi
                    x += 8
                }
                while x <= x1 {
                    let i = row + x
                    let v = Double(grey[i - 1] + grey[i + 1] + grey[i - gw] + grey[i + gw] - 4 * grey[i])
                    sum += v; sumSq += v * v
                    x += 1
                }
                n += Double(x1 - x0 + 1)
            }
            sum += s4.sum(); sumSq += q4.sum()
        }
        guard n > 1 else { return 0 }
        let m = sum / n
        return sumSq / n - m * m
    }
}

/// A checkpoint's swap score: what `facet score` computes (and then stores with `Project.storeScores`).
public enum CheckpointScoring {
    /// Scores `checkpoint` (with `options`, the merge defaults unless given) on at most `limit` of its model's
    /// held-out dst faces. Reads only (a read-only project will do). Needs descriptors of the model's src faces
    /// and of those dst faces (`facet embed`); a one-line error says so otherwise.
    public static func score(project: Project, checkpoint reference: String, model: String? = nil, limit: Int = 100,
                             options: MergeOptions? = nil,
                             scorer: SwapScorer) throws -> (checkpoint: CheckpointRecord, score: SwapScore) {
        try score(project: project, checkpoint: reference, model: model, limit: limit, options: options,
                  scorer: { scorer })
    }

    /// The same, with the scorer made by `scorer` only once the faces and their descriptors are found (so a
    /// project without descriptors is refused before any model file is read).
    public static func score(project: Project, checkpoint reference: String, model: String? = nil, limit: Int = 100,
                             options: MergeOptions? = nil,
                             scorer makeScorer: () throws -> SwapScorer)
        throws -> (checkpoint: CheckpointRecord, score: SwapScore) {
        let record = try project.checkpoint(resolving: reference, model: model)
        let faces = try SwapScorer.heldOutFaces(project: project, checkpoint: record, limit: limit)
        guard !faces.isEmpty else {
            throw FacetError.file(project.path,
                                  "checkpoint \(record.id) has no kept held-out dst faces to score its swaps on")
        }
        // The src person: the faces the model trained on (and held out) of the src role; the dst person: the
        // scored faces themselves, as extracted.
        let split = try project.modelFaces(modelId: record.modelId)
        let srcIDs = (split.train[.src] ?? []) + (split.validation[.src] ?? [])
        let srcCentre = try centre(of: srcIDs, project: project, role: .src)
        let dstCentre = try centre(of: faces, project: project, role: .dst)
        let scorer = try makeScorer()
        let swapper = try CheckpointSwapper(project: project, checkpoint: String(record.id))
        let merge = mergeOptions(options, architecture: swapper.model.model.architecture)
        let score = try scorer.score(project: project, swapper: swapper, faceType: swapper.faceType, faceIDs: faces,
                                     options: merge, srcCentre: srcCentre, dstCentre: dstCentre)
        return (record, score)
    }

    /// The settings a checkpoint's swaps are scored with: `options` as given, else the model's merge defaults without
    /// the expression restore, which would hide how well the model follows the dst's expression (the merge's
    /// per-frame scores show the restore's result).
    static func mergeOptions(_ options: MergeOptions?, architecture: String) -> MergeOptions {
        if let options { return options }
        var merge = MergeOptions.defaults(architecture: architecture)
        merge.expression = 0
        return merge
    }

    /// The mean descriptor of the faces `ids`; a one-line error naming `facet embed` when any has none.
    static func centre(of ids: [Int64], project: Project, role: Role) throws -> [Float] {
        guard !ids.isEmpty else {
            throw FacetError.file(project.path, "the model has no \(role.rawValue) faces to score its swaps against")
        }
        var c = [Float](repeating: 0, count: FaceEmbedding.dimension)
        var missing = 0
        for id in ids {
            guard let d = try project.embedding(faceId: id) else { missing += 1; continue }
            for j in c.indices { c[j] += d[j] }
        }
        if missing > 0 { throw project.missingEmbeddingsError(missing, of: ids.count, role: role) }
        return c.map { $0 / Float(ids.count) }
    }
}
