/// Face tracks over a video: linking faces across frames, the two-sided landmark smoother, jitter.
import FacetCore
import Foundation

/// One face as the tracker sees it. `ordinal` counts processed frames (0, 1, 2, ...), so a video
/// extracted at a reduced rate is tracked over the frames that were looked at.
public struct TrackingFace: Sendable {
    /// Which processed frame the face is in (0, 1, 2, ...).
    public var ordinal: Int
    /// The detector's box, for the overlap test that links faces.
    public var box: FaceBox
    /// The 68 points in frame pixels, for the distance that links faces and for smoothing.
    public var landmarks: Landmarks68
    /// The face's 3 x 256 histogram signature (each channel summing to 1), for scene cuts; empty: none.
    public var histogram: [Float]
    /// The face-recognition descriptor (128 floats, dlib's units), so two people never share a track;
    /// empty: none stored.
    public var embedding: [Float]

    /// A face at processed frame `ordinal`.
    public init(ordinal: Int, box: FaceBox, landmarks: Landmarks68, histogram: [Float], embedding: [Float] = []) {
        self.ordinal = ordinal; self.box = box; self.landmarks = landmarks; self.histogram = histogram
        self.embedding = embedding
    }
}

/// How faces are linked into tracks.
public struct TrackingOptions: Sendable, Codable, Equatable {
    /// Processed frames a track may miss and still continue (the gaps filling then looks at).
    public var maxGap: Int = 4
    /// Least box overlap (intersection over union) between a track's last face and the next one.
    public var minOverlap: Double = 0.2
    /// Largest mean landmark move per elapsed frame, in eye distances (outer corners).
    public var maxShift: Double = 0.6
    /// Summed per-channel Bhattacharyya distance of the face histograms above which two faces in
    /// consecutive frames are taken to be a scene cut (measured on the sample videos with 32 bins a
    /// channel: median 0.027, at most 0.070 between consecutive frames of one shot; 0.59 across a cut
    /// from src-d18 to dst-d19)...
    public var cutDistance: Double = 0.25
    /// ... or that many times the track's median distance so far (after 8 links), when larger.
    public var cutRatio: Double = 6
    /// Largest face-recognition distance between a track's last face and the next one, when both
    /// have descriptors: dlib's same-person threshold. On the sample videos consecutive faces of one
    /// person are at most 0.27 apart (0.37 five frames apart) and different people at least 0.76, so
    /// two people crossing or trading places never continue each other's track.
    public var maxIdentityDistance: Double = 0.6

    /// The defaults.
    public init() {}
}

/// The result of linking: each track as indices into the input, in frame order.
public struct LinkedTracks: Sendable {
    /// Indices of the faces of each track, by ordinal.
    public var tracks: [[Int]]
    /// Whether each track ends because the scene cut after it.
    public var endsAtCut: [Bool]
    /// Ordinals where a scene cut was seen (the first frame of the new shot).
    public var cuts: [Int]
}

/// Summed per-channel Bhattacharyya distance (OpenCV's HISTCMP_BHATTACHARYYA per channel) of two
/// 3 x 256 histograms, each channel summing to 1, with every 8 bins merged first (32 per channel):
/// the 256-bin histogram of a small crop is noisy (a 96 px crop has 36 pixels a bin), and merging
/// bins keeps the colour jump of a cut while the noise between frames of one shot drops.
/// 0 for equal histograms, 3 for disjoint ones.
public func summedBhattacharyya(_ a: [Float], _ b: [Float]) -> Double {
    guard a.count == b.count, a.count % 24 == 0, !a.isEmpty else { return 0 }
    let n = a.count / 3
    var total = 0.0
    for c in 0..<3 {
        var bc = 0.0, sa = 0.0, sb = 0.0
        for group in stride(from: c * n, to: (c + 1) * n, by: 8) {
            var x = 0.0, y = 0.0
            for i in group..<(group + 8) { x += Double(a[i]); y += Double(b[i]) }
            bc += (x * y).squareRoot(); sa += x; sb += y
        }
        let norm = (sa * sb).squareRoot()
        total += norm > 0 ? max(0, 1 - bc / norm).squareRoot() : 1
    }
    return total
}

/// Distance between the outer eye corners (points 36 and 45): the face unit of tracking and jitter.
public func eyeDistance(_ l: Landmarks68) -> Double {
    let a = l.points[36], b = l.points[45]
    return max(1e-6, hypot(b.x - a.x, b.y - a.y))
}

/// Mean distance between corresponding points of two landmark sets, in pixels.
public func meanLandmarkDistance(_ a: Landmarks68, _ b: Landmarks68) -> Double {
    var s = 0.0
    for i in 0..<68 { s += hypot(a.points[i].x - b.points[i].x, a.points[i].y - b.points[i].y) }
    return s / 68
}

/// Links faces (any order) into tracks, greedily by landmark distance frame after frame: a face
/// continues the track whose last face (at most `maxGap` frames back) overlaps its box, moved
/// least and, where both have descriptors, is the same person, else it starts a track. A histogram
/// jump between linked faces is a scene cut: every open track ends there, so no track (and no
/// smoothing) crosses a cut. Two faces of one frame never share a track. Cost: O(faces x open tracks).
public func linkFaces(_ faces: [TrackingFace], options: TrackingOptions = TrackingOptions()) -> LinkedTracks {
    let order = faces.indices.sorted { (faces[$0].ordinal, $0) < (faces[$1].ordinal, $1) }
    var tracks: [[Int]] = [], endsAtCut: [Bool] = [], linkDistances: [[Double]] = []
    var open: [Int] = []   // track numbers still able to continue
    var cuts: [Int] = []
    var start = 0
    while start < order.count {
        let ordinal = faces[order[start]].ordinal
        var end = start
        while end < order.count && faces[order[end]].ordinal == ordinal { end += 1 }
        let here = Array(order[start..<end])
        start = end
        open.removeAll { faces[tracks[$0].last!].ordinal < ordinal - options.maxGap - 1 }
        // Every geometrically possible (track, face) pair, cheapest first.
        var pairs: [(cost: Double, track: Int, face: Int, hist: Double)] = []
        for t in open {
            let last = faces[tracks[t].last!]
            let elapsed = Double(ordinal - last.ordinal)
            let unit = eyeDistance(last.landmarks)
            for f in here {
                let face = faces[f]
                guard last.box.iou(face.box) >= options.minOverlap else { continue }
                let shift = meanLandmarkDistance(last.landmarks, face.landmarks) / unit
                guard shift <= options.maxShift * elapsed else { continue }
                if !last.embedding.isEmpty && last.embedding.count == face.embedding.count
                    && Double(FaceRecognizer.distance(last.embedding, face.embedding)) > options.maxIdentityDistance {
                        continue
                    }
                pairs.append((shift / elapsed, t, f, summedBhattacharyya(last.histogram, face.histogram)))
            }
        }
        pairs.sort { ($0.cost, $0.track, $0.face) < ($1.cost, $1.track, $1.face) }
        // A scene cut: the best continuation of some track jumps in colour.
        var seen = Set<Int>(), isCut = false
        for p in pairs where !seen.contains(p.track) {
            seen.insert(p.track)
            var limit = options.cutDistance
            let history = linkDistances[p.track]
            if history.count >= 8 { limit = max(limit, options.cutRatio * history.sorted()[history.count / 2]) }
            if p.hist > limit { isCut = true; break }
        }
        if isCut {
            cuts.append(ordinal)
            for t in open { endsAtCut[t] = true }
            open.removeAll()
            pairs.removeAll()
        }
        var usedTracks = Set<Int>(), usedFaces = Set<Int>()
        for p in pairs where !usedTracks.contains(p.track) && !usedFaces.contains(p.face) {
            usedTracks.insert(p.track); usedFaces.insert(p.face)
            tracks[p.track].append(p.face)
            linkDistances[p.track].append(p.hist)
        }
        for f in here where !usedFaces.contains(f) {
            tracks.append([f]); endsAtCut.append(false); linkDistances.append([])
            open.append(tracks.count - 1)
        }
    }
    return LinkedTracks(tracks: tracks, endsAtCut: endsAtCut, cuts: cuts)
}

/// Offline, two-sided smoothing of a track's landmarks: a Rauch-Tung-Striebel smoother of a
/// constant-velocity model per coordinate (forward Kalman filter, then backward pass), so it uses
/// the future as well as the past and has no lag: a face moving at constant speed comes out exactly
/// where it was. Frames the track misses get the smoother's estimate (an interpolation that follows
/// the motion). Noise levels are in face units (the track's median eye distance), so a small and a
/// large face are smoothed alike.
public struct TrackSmoother: Sendable, Equatable {
    /// 0: no smoothing; 1: the default; larger: smoother (the model's acceleration noise shrinks as
    /// 1 / strength against a fixed measurement noise).
    public var strength: Double
    /// Landmark measurement noise, in eye distances (dlib on video: about 1% of the eye distance).
    public static let measurementNoise = 0.01
    /// Acceleration noise at strength 1, in eye distances per frame squared. On the sample videos the
    /// landmarks' second difference drops about tenfold (dst-d19: 0.025 to 0.0017 eye distances)
    /// while the smoothed points stay within 0.9% of the eye distance of the raw ones on average
    /// (3% at most).
    public static let accelerationNoise = 0.004

    /// A smoother of the given strength (0 = none, 1 = default).
    public init(strength: Double = 1) { self.strength = max(0, strength) }

    /// The smoothed landmarks at every ordinal from the first to the last of `ordinals` (strictly
    /// increasing, one landmark set each), as an array indexed by `ordinal - ordinals[0]`. With
    /// strength 0 the observed frames come back unchanged and missed ones are interpolated linearly.
    public func smooth(ordinals: [Int], landmarks: [Landmarks68]) -> [Landmarks68] {
        precondition(ordinals.count == landmarks.count && !ordinals.isEmpty, "one landmark set per ordinal")
        let first = ordinals[0], count = ordinals.last! - first + 1
        var observed = [Int](repeating: -1, count: count)
        for (i, o) in ordinals.enumerated() { observed[o - first] = i }
        if strength == 0 || ordinals.count < 3 { return interpolated(observed, landmarks) }
        let unit = landmarks.map(eyeDistance).sorted()[landmarks.count / 2]
        let r = pow(Self.measurementNoise * unit, 2)
        let sa = Self.accelerationNoise * unit / strength, qa = sa * sa
        // Process noise of a white-noise acceleration over one frame.
        let q00 = qa / 3, q01 = qa / 2, q11 = qa
        // The gains depend only on the covariances, which every coordinate shares: work them out
        // once, then run all 136 coordinates through them.
        var gain = [(Double, Double)](repeating: (0, 0), count: count)
        var back = [(Double, Double, Double, Double)](repeating: (0, 0, 0, 0), count: count)
        var p00 = 1e9 * r, p01 = 0.0, p11 = 1e9 * r
        var priors: [(Double, Double, Double)] = []   // predicted covariances, for the backward pass
        var posts: [(Double, Double, Double)] = []
        priors.reserveCapacity(count); posts.reserveCapacity(count)
        for k in 0..<count {
            if k > 0 {
                // P = F P F' + Q with F = [1 1; 0 1].
                let n00 = p00 + 2 * p01 + p11 + q00, n01 = p01 + p11 + q01, n11 = p11 + q11
                p00 = n00; p01 = n01; p11 = n11
            }
            priors.append((p00, p01, p11))
            if observed[k] >= 0 {
                let s = p00 + r, k0 = p00 / s, k1 = p01 / s
                gain[k] = (k0, k1)
                let n00 = (1 - k0) * p00, n01 = (1 - k0) * p01, n11 = p11 - k1 * p01
                p00 = n00; p01 = n01; p11 = n11
            }
            posts.append((p00, p01, p11))
        }
        for k in 0..<(count - 1) {
            // C = P_k F' (P_{k+1}^-)^-1.
            let (a00, a01, a11) = posts[k], (b00, b01, b11) = priors[k + 1]
            let f00 = a00 + a01, f01 = a01, f10 = a01 + a11, f11 = a11   // P_k F'
            let det = b00 * b11 - b01 * b01
            let i00 = b11 / det, i01 = -b01 / det, i11 = b00 / det
            back[k] = (f00 * i00 + f01 * i01, f00 * i01 + f01 * i11, f10 * i00 + f11 * i01, f10 * i01 + f11 * i11)
        }
        var out = [[Double]](repeating: [Double](repeating: 0, count: 136), count: count)
        var xf = [(Double, Double)](repeating: (0, 0), count: count)
        var xp = [(Double, Double)](repeating: (0, 0), count: count)
        for c in 0..<136 {
            let point = c / 2, isY = c % 2 == 1
            var x0 = 0.0, x1 = 0.0
            for k in 0..<count {
                if k > 0 { x0 += x1 }
                if k == 0 {
                    let z = landmarks[observed[0]].points[point]
                    x0 = isY ? z.y : z.x
                }
                xp[k] = (x0, x1)
                if observed[k] >= 0 {
                    let z = landmarks[observed[k]].points[point], zv = isY ? z.y : z.x
                    let innovation = zv - x0
                    x0 += gain[k].0 * innovation; x1 += gain[k].1 * innovation
                }
                xf[k] = (x0, x1)
            }
            var s0 = xf[count - 1].0, s1 = xf[count - 1].1
            out[count - 1][c] = s0
            for k in stride(from: count - 2, through: 0, by: -1) {
                let d0 = s0 - xp[k + 1].0, d1 = s1 - xp[k + 1].1, g = back[k]
                s0 = xf[k].0 + g.0 * d0 + g.1 * d1
                s1 = xf[k].1 + g.2 * d0 + g.3 * d1
                out[k][c] = s0
            }
        }
        return out.map { v in Landmarks68(points: (0..<68).map { Point2(v[2 * $0], v[2 * $0 + 1]) }) }
    }

    /// Observed frames unchanged, missed ones linearly between their neighbours.
    private func interpolated(_ observed: [Int], _ landmarks: [Landmarks68]) -> [Landmarks68] {
        var out: [Landmarks68] = []
        out.reserveCapacity(observed.count)
        var previous = 0
        for k in observed.indices {
            if observed[k] >= 0 { out.append(landmarks[observed[k]]); previous = k; continue }
            var next = k + 1
            while observed[next] < 0 { next += 1 }
            let t = Double(k - previous) / Double(next - previous)
            let a = landmarks[observed[previous]], b = landmarks[observed[next]]
            out.append(Landmarks68(points: (0..<68).map {
                Point2(a.points[$0].x + t * (b.points[$0].x - a.points[$0].x),
                       a.points[$0].y + t * (b.points[$0].y - a.points[$0].y))
            }))
        }
        return out
    }
}

/// A track's jitter: over every three consecutive processed frames the track has, the mean size of
/// the 68 points' second difference `L(t+1) - 2 L(t) + L(t-1)`, in eye distances of frame t,
/// averaged. nil when the track has no three consecutive frames.
public func landmarkJitter(ordinals: [Int], landmarks: [Landmarks68]) -> Double? {
    precondition(ordinals.count == landmarks.count, "one landmark set per ordinal")
    var total = 0.0, n = 0
    for i in ordinals.indices.dropFirst().dropLast()
    where ordinals[i - 1] == ordinals[i] - 1 && ordinals[i + 1] == ordinals[i] + 1 {
        let a = landmarks[i - 1].points, b = landmarks[i].points, c = landmarks[i + 1].points
        var s = 0.0
        for p in 0..<68 { s += hypot(c[p].x - 2 * b[p].x + a[p].x, c[p].y - 2 * b[p].y + a[p].y) }
        total += s / 68 / eyeDistance(landmarks[i])
        n += 1
    }
    return n > 0 ? total / Double(n) : nil
}

/// The landmarks' bounding box grown by `margin` of its size on every side.
public func landmarkBox(_ l: Landmarks68, margin: Double = 0) -> FaceBox {
    let xs = l.points.map(\.x), ys = l.points.map(\.y)
    let x0 = xs.min()!, x1 = xs.max()!, y0 = ys.min()!, y1 = ys.max()!
    let w = x1 - x0, h = y1 - y0
    return FaceBox(x: x0 - margin * w, y: y0 - margin * h, width: w * (1 + 2 * margin), height: h * (1 + 2 * margin))
}

/// One track's smoothed alignment: its landmarks smoothed over the track, and each face's
/// image-to-face matrix recomputed from them with the extraction's alignment (its face type and
/// crop size), in the order of `ordinals` (strictly increasing).
public func smoothedAlignment(ordinals: [Int], landmarks: [Landmarks68], faceTypes: [FaceType], cropSizes: [Int],
                              smoother: TrackSmoother) -> [(landmarks: Landmarks68, matrix: Affine2D)] {
    precondition(ordinals.count == faceTypes.count && ordinals.count == cropSizes.count,
                 "one face type and size per face")
    let smooth = smoother.smooth(ordinals: ordinals, landmarks: landmarks)
    return ordinals.indices.map { i in
        let l = smooth[ordinals[i] - ordinals[0]]
        return (l, alignmentMatrix(landmarks: l, faceType: faceTypes[i], size: cropSizes[i]))
    }
}
