/// Expression restore: the swapped face's eyes, mouth and jaw moved towards where the destination face has them, before
/// the blend, so the swap keeps the dst's expression where the model has not learned it yet (FaceFusion's "expression
/// restorer" does the same job with a reenactment network; this one warps by landmarks).
import FacetCore
import FacetVision
import Foundation

/// Moves the swapped face's eye, mouth and jaw landmarks (`moved`) a share `strength` of the way to the dst face's,
/// by a thin-plate-spline warp of the model's output face and mask. Both faces are fitted by dlib's 68-point
/// predictor in the same box at the same scale (the model's output and its input, enlarged alike), so what the two
/// fits have in common (the box, the enlargement's softness) cancels, and only the difference of the faces moves
/// pixels. The brows and nose (points 17-35) and the face square's border stay where they are. A move whose map would
/// fold or smear is taken shorter (`displacement`).
public struct ExpressionRestorer: Sendable {
    /// dlib's 68-point predictor.
    public let predictor: ShapePredictor
    /// 0: no change; 1: the moved points land on the dst's (unless the fold guard takes the move shorter).
    public let strength: Double
    /// A face whose `moved` points would move more than this many eye distances on average is left as the model made
    /// it: one of the fits has failed (a face turned away, or the model's output not yet a face).
    public static let largestMeanMove = 0.3
    /// Faces are enlarged to at least this many pixels before fitting (the predictor's pixel samples are then
    /// interpolated rather than repeated).
    public static let fitSize = 256
    /// The points that move: the jaw line (0-16) with the eyes (36-47) and the mouth (48-67), so a mouth that closes
    /// takes the chin up with it instead of stretching the skin between lip and chin. The brows and the nose (17-35)
    /// stay: moved to the dst's too, they turned the sample swap from the src person into neither (README).
    public static let moved: Set<Int> = Set(0..<17).union(36..<68)

    /// Within one merge, each face's moves averaged with its own in the frames before (`ExpressionSmoother`); nil:
    /// every face on its own (a preview, the checkpoint scorer's scattered faces).
    public var smoother: ExpressionSmoother?
    /// Judges how much nearer the src person than the dst person a restored face looks, so the restore takes no
    /// more of the dst's face shape than keeps the swap the src person (`shapeShare`); nil: the whole move.
    public var identity: IdentityCheck?

    nonisolated(unsafe) private static var loaded: ShapePredictor?
    private static let loading = NSLock()

    /// dlib's 68-point predictor from `ModelFiles.shapePredictor()`, loaded on first use and kept.
    public static func defaultPredictor() throws -> ShapePredictor {
        loading.lock(); defer { loading.unlock() }
        if let loaded { return loaded }
        let p = try ShapePredictor(path: ModelFiles.shapePredictor())
        loaded = p
        return p
    }

    /// A restorer with the predictor and the share of the way to move.
    public init(predictor: ShapePredictor, strength: Double, smoother: ExpressionSmoother? = nil) {
        self.predictor = predictor; self.strength = strength; self.smoother = smoother
    }

    /// The two faces' 68 points in face pixels: the swapped face and the dst face (the model's input), fitted in the
    /// box of `dstPoints` (the dst's landmarks in face pixels) at `fitSize` or more.
    public func fits(swapped: Image, aligned: Image, dstPoints: [Point2]) -> (swapped: [Point2], dst: [Point2]) {
        let res = swapped.width
        let k = max(1, (Self.fitSize + res - 1) / res)
        let big = res * k
        let scale = Double(big) / Double(res)
        // Pixel centres: face pixel x sits at big pixel (x + 0.5) * k - 0.5.
        func up(_ p: Point2) -> Point2 { Point2((p.x + 0.5) * scale - 0.5, (p.y + 0.5) * scale - 0.5) }
        func down(_ p: Point2) -> Point2 { Point2((p.x + 0.5) / scale - 0.5, (p.y + 0.5) / scale - 0.5) }
        let box = predictor.trackingBox(for: Landmarks68(points: dstPoints.map(up)))
        let (fs, fd) = predictor.landmarks(in: Self.enlargedGrey(swapped, factor: k),
                                           and: Self.enlargedGrey(aligned, factor: k), box: box)
        return (fs.points.map(down), fd.points.map(down))
    }

    /// `image` in grey (the predictor's own (r + g + b) / 3 of each pixel) enlarged `factor` times, bilinearly with
    /// pixel centres kept (output x reads input (x + 0.5) / factor - 0.5), edges replicated. The predictor reads
    /// about 7,500 pixels a fit, so the enlargement, not the fit, was the larger cost: one grey plane instead of an RGB
    /// image through the general warp.
    static func enlargedGrey(_ image: Image, factor k: Int) -> Image {
        let w = image.width, h = image.height, c = image.channels
        var grey = [Float](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { px in
            for i in 0..<(w * h) {
                grey[i] = c >= 3 ? Float((Int(px[i * c]) + Int(px[i * c + 1]) + Int(px[i * c + 2])) / 3)
                    : Float(px[i * c])
            }
        }
        let bw = w * k, bh = h * k
        func taps(_ n: Int, _ limit: Int) -> (lo: [Int], hi: [Int], t: [Float]) {
            var lo = [Int](repeating: 0, count: n), hi = lo, t = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let x = min(max((Double(i) + 0.5) / Double(k) - 0.5, 0), Double(limit - 1))
                lo[i] = Int(x); hi[i] = min(lo[i] + 1, limit - 1); t[i] = Float(x - Double(lo[i]))
            }
            return (lo, hi, t)
        }
        let xs = taps(bw, w), ys = taps(bh, h)
        var out = Image(width: bw, height: bh, channels: 1)
        out.pixels.withUnsafeMutableBufferPointer { o in
            grey.withUnsafeBufferPointer { g in
                for y in 0..<bh {
                    let r0 = ys.lo[y] * w, r1 = ys.hi[y] * w, ty = ys.t[y]
                    for x in 0..<bw {
                        let top = g[r0 + xs.lo[x]] + xs.t[x] * (g[r0 + xs.hi[x]] - g[r0 + xs.lo[x]])
                        let bottom = g[r1 + xs.lo[x]] + xs.t[x] * (g[r1 + xs.hi[x]] - g[r1 + xs.lo[x]])
                        o[y * bw + x] = UInt8(min(255, max(0, (top + ty * (bottom - top)).rounded())))
                    }
                }
            }
        }
        return out
    }

    /// The model's face and mask with the jaw, eyes and mouth moved (see the type). Unchanged when `strength` is 0,
    /// when the fits disagree by more than `largestMeanMove`, or when the dst's eye distance is under 2 pixels.
    /// `framePoints`, the dst face's landmarks in the frame, tell the smoother which face this is.
    public func restore(face: Image, mask: Image, aligned: Image, dstPoints: [Point2],
                        framePoints: [Point2]? = nil) -> (face: Image, mask: Image) {
        guard let field = field(face: face, aligned: aligned, dstPoints: dstPoints, framePoints: framePoints) else {
            return (face, mask)
        }
        return (field.warp(face), field.warp(mask))
    }

    /// The backward map `restore` warps by (each face pixel reads the model's face at itself plus the map); nil where
    /// `restore` leaves the face as it is. The merge reads the map while it warps the face back into the frame, so the
    /// face is resampled once. With an `identity` check, `mask` (the model's) shows the face over the dst's as the
    /// merge will (`shapeShare`).
    public func field(face: Image, aligned: Image, dstPoints: [Point2], framePoints: [Point2]? = nil,
                      mask: Image? = nil) -> WarpField? {
        guard strength > 0, dstPoints.count == 68 else { return nil }
        let f = fits(swapped: face, aligned: aligned, dstPoints: dstPoints)
        guard let move = Self.meanMove(swapped: f.swapped, dst: f.dst), move > 0, move <= Self.largestMeanMove else {
            return nil
        }
        let tracked = framePoints.flatMap { $0.count == 68 ? $0 : nil }
        let raw = (0..<68).map { Point2(f.dst[$0].x - f.swapped[$0].x, f.dst[$0].y - f.swapped[$0].y) }
        var moves = raw, shape = raw
        if let smoother, let tracked {
            moves = smoother.smoothed(moves: raw, at: tracked)
            if let shapes = smoother.shapes { shape = shapes.smoothed(moves: raw, at: tracked) }
        }
        // The move is the dst's expression (the moves less their average over the track) and a share of the two
        // persons' difference in shape (that average), as large as the identity check allows.
        let share = identity.map { shapeShare($0, face: face, mask: mask, aligned: aligned, swapped: f.swapped,
                                              moves: moves, shape: shape, tracked: tracked) } ?? 1
        let dst = (0..<68).map {
            Point2(f.swapped[$0].x + moves[$0].x - (1 - share) * shape[$0].x,
                   f.swapped[$0].y + moves[$0].y - (1 - share) * shape[$0].y)
        }
        return Self.displacement(swapped: f.swapped, dst: dst, strength: strength, size: face.width)?.field
    }

    /// The share of the persons' difference in shape the move takes (1: all of it): the largest of `shares` at which
    /// the restored face is still `identityKept` as far nearer the src person than the dst person as the model's
    /// face is (`IdentityCheck.margin`); 1 when the model's face is not nearer the src person. Judged on the face's
    /// first frame and every `shareEvery` frames after; between, each frame's share moves at most `shareStep`
    /// towards the last judgement, so the face does not jump.
    func shapeShare(_ identity: IdentityCheck, face: Image, mask: Image?, aligned: Image, swapped s: [Point2],
                    moves: [Point2], shape: [Point2], tracked: [Point2]?,
                    kept: Double = ExpressionRestorer.identityKept) -> Double {
        let state = tracked.flatMap { smoother?.share(at: $0) }
        let judging = state.map { $0.age >= Self.shareEvery } ?? true
        var aim = state?.aim ?? 1
        if judging {
            // Judged as the merge shows the face: over the dst's own face square where the model's mask is.
            func shown(_ face: Image, _ mask: Image?) -> Image {
                guard let mask, mask.width == face.width, mask.height == face.height else { return face }
                var out = aligned
                let c = face.channels, mc = mask.channels, oc = aligned.channels
                for i in 0..<(face.width * face.height) {
                    let a = Int(mask.pixels[i * mc])
                    for k in 0..<min(3, c, oc) {
                        out.pixels[i * oc + k] = UInt8((Int(face.pixels[i * c + k]) * a
                                                        + Int(aligned.pixels[i * oc + k]) * (255 - a) + 127) / 255)
                    }
                }
                return out
            }
            aim = 1
            if let before = identity.margin(face: shown(face, mask), points: s), before > 0 {
                aim = 0
                for k in Self.shares {
                    let d = (0..<68).map {
                        Point2(s[$0].x + moves[$0].x - (1 - k) * shape[$0].x,
                               s[$0].y + moves[$0].y - (1 - k) * shape[$0].y)
                    }
                    guard let m = Self.displacement(swapped: s, dst: d, strength: strength, size: face.width) else {
                        continue
                    }
                    let restored = shown(m.field.warp(face), mask.map { m.field.warp($0) })
                    if let after = identity.margin(face: restored, points: m.targets), after >= kept * before {
                        aim = k; break
                    }
                }
            }
        }
        let now = state.map { min(max(aim, $0.share - Self.shareStep), $0.share + Self.shareStep) } ?? aim
        if let tracked { smoother?.setShare(now, aim: aim, judged: judging, at: tracked) }
        return now
    }

    /// The shape shares the identity check tries, largest first.
    static let shares = [1.0, 0.75, 0.5, 0.25]
    /// The part of the model's identity margin (distance to the dst person less distance to the src person) the
    /// restored face must keep.
    static let identityKept = 0.7
    /// Frames between identity judgements of one face.
    static let shareEvery = 24
    /// The most a face's shape share changes from one frame to the next.
    static let shareStep = 0.05

    /// The mean distance of the `moved` points from `swapped` to `dst`, in the dst's eye distances; nil when that is
    /// under 2 pixels.
    static func meanMove(swapped s: [Point2], dst d: [Point2]) -> Double? {
        let unit = hypot(d[45].x - d[36].x, d[45].y - d[36].y)
        guard unit >= 2 else { return nil }
        var move = 0.0
        for i in moved { move += hypot(d[i].x - s[i].x, d[i].y - s[i].y) }
        return move / (Double(moved.count) * unit)
    }

    /// The backward map that moves `swapped`'s `moved` points a share `strength` of the way to `dst`'s, on a face
    /// square of `size` pixels, with where it puts them (`targets`); nil when there is nothing to move, the move is too
    /// large to trust, or the fold guard gives up.
    ///
    /// Fold guard: a large move (a wide-open mouth closing while its corners rise) can fold the map over itself,
    /// which twists the lips, or spread a few pixels over a wide area, which smears them. Where the map's Jacobian
    /// falls under `smallestAreaRatio`, the points whose targets lie within `guardRadius` of the face square's side
    /// move 0.7 times as far, and the map is made again, up to `guardTries` times; the other points keep their whole
    /// move (so a mouth that cannot close all the way does not hold the eyes back).
    static func displacement(swapped s: [Point2], dst d: [Point2], strength: Double,
                             size: Int) -> (field: WarpField, targets: [Point2])? {
        guard let move = meanMove(swapped: s, dst: d), move > 0, move <= largestMeanMove else { return nil }
        var share = [Double](repeating: strength, count: 68)
        let radius = guardRadius * Double(size)
        for _ in 0..<guardTries {
            let targets = (0..<68).map { i in
                moved.contains(i) ? Point2(s[i].x + share[i] * (d[i].x - s[i].x), s[i].y + share[i] * (d[i].y - s[i].y))
                    : s[i]
            }
            guard let field = map(swapped: s, targets: targets, size: size) else { return nil }
            let low = field.pixelsBelow(smallestAreaRatio)
            if low.isEmpty { return (field, targets) }
            var near = moved.filter { i in low.contains { hypot($0.x - targets[i].x, $0.y - targets[i].y) < radius } }
            if near.isEmpty { near = moved }
            for i in near { share[i] *= 0.7 }
        }
        return nil
    }

    /// The least the map's Jacobian determinant (area read over area filled) may be: no patch of the model's face is
    /// spread over more than 1 / this times its own area. Below it the map smears; at 0 or less it folds (README
    /// "Expression restore").
    static let smallestAreaRatio: Float = 0.2
    /// How near (in face-square sides) a moved point's target must lie to a place where the map smears for the fold
    /// guard to shorten its move.
    static let guardRadius = 0.125
    /// How many maps the fold guard makes before it leaves the face as the model made it.
    static let guardTries = 6

    /// The spline map that puts each of `swapped`'s 68 points at `targets`, the face square's border held still.
    static func map(swapped s: [Point2], targets moved: [Point2], size: Int) -> WarpField? {
        // Control points where the output pixels are (targets), valued with where to read (the swapped face's point).
        var targets = moved, reads = s
        // The square's border holds still: its corners and edge midpoints.
        let e = Double(size - 1)
        for (x, y) in [(0.0, 0.0), (e / 2, 0), (e, 0), (e, e / 2), (e, e), (e / 2, e), (0, e), (0, e / 2)] {
            targets.append(Point2(x, y)); reads.append(Point2(x, y))
        }
        guard let spline = ThinPlateSpline(points: targets, values: reads.indices.map {
            Point2(reads[$0].x - targets[$0].x, reads[$0].y - targets[$0].y)
        }, scale: Double(size)) else { return nil }
        return WarpField(spline: spline, size: size)
    }
}

/// Each face's moves (dst fit minus swapped fit, per point, in face pixels) averaged over the frames of a merge, as
/// an exponential moving average: the two fits' own noise from frame to frame would otherwise shake the eyes and mouth.
/// A face is the one before whose eyes' midpoint in the frame lay within half an eye distance; one not seen for
/// `forgetAfter` calls is forgotten. Used by one merge's blend stage, which takes the frames in order; calls are
/// serialised by a lock all the same.
public final class ExpressionSmoother: @unchecked Sendable {
    /// Weight of the faces before: the average is `keep * before + (1 - keep) * now`.
    public let keep: Double
    /// Calls after which a face not seen again is forgotten.
    public let forgetAfter: Int
    /// The moves averaged over many frames (`shapeKeep`): the two persons' difference in shape, less their
    /// expressions; nil in the children.
    public let shapes: ExpressionSmoother?

    /// One face: where its eyes were, its averaged moves, the call that last saw it, and its shape share
    /// (`ExpressionRestorer.shapeShare`: now, the last judgement, frames since it; nil until judged).
    private struct Face {
        var centre: Point2, moves: [Point2], lastCall: Int
        var share: (now: Double, aim: Double, age: Int)?
    }
    private var faces: [Face] = []
    private var calls = 0
    private let lock = NSLock()

    /// A smoother keeping `keep` of the average so far at each frame; with `shapes`, it also keeps the long average
    /// (`shapeKeep`).
    public init(keep: Double = ExpressionSmoother.defaultKeep, forgetAfter: Int = 8, shapes: Bool = true) {
        self.keep = keep; self.forgetAfter = forgetAfter
        self.shapes = shapes ? ExpressionSmoother(keep: Self.shapeKeep, forgetAfter: forgetAfter, shapes: false) : nil
    }

    /// The weight measured best (README "Expression restore").
    public static let defaultKeep = 0.5
    /// The shape average's weight of the frames before: about the last 20 frames.
    public static let shapeKeep = 0.95

    /// `moves` of the face whose landmarks in the frame are `points`, averaged with that face's before.
    func smoothed(moves: [Point2], at points: [Point2]) -> [Point2] {
        lock.lock(); defer { lock.unlock() }
        calls += 1
        faces.removeAll { calls - $0.lastCall > forgetAfter }
        let c = Self.eyesCentre(points)
        if let i = nearest(points), faces[i].moves.count == moves.count {
            let out = (0..<moves.count).map {
                Point2(keep * faces[i].moves[$0].x + (1 - keep) * moves[$0].x,
                       keep * faces[i].moves[$0].y + (1 - keep) * moves[$0].y)
            }
            faces[i].centre = c; faces[i].moves = out; faces[i].lastCall = calls
            return out
        }
        faces.append(Face(centre: c, moves: moves, lastCall: calls))
        return moves
    }

    /// The shape share of the face at `points` (as `smoothed` matches faces), the judgement it moves towards and the
    /// frames since that; nil for a face not seen or not judged yet.
    func share(at points: [Point2]) -> (share: Double, aim: Double, age: Int)? {
        lock.lock(); defer { lock.unlock() }
        return nearest(points).flatMap { faces[$0].share }.map { ($0.now, $0.aim, $0.age) }
    }

    /// Records the shape share now and its judgement (`judged`: made this frame) of a face `smoothed` has seen.
    func setShare(_ share: Double, aim: Double, judged: Bool, at points: [Point2]) {
        lock.lock(); defer { lock.unlock() }
        guard let i = nearest(points) else { return }
        faces[i].share = (share, aim, judged ? 1 : (faces[i].share?.age ?? 0) + 1)
    }

    /// The face whose eyes' midpoint lies nearest that of `points`, within half their eye distance.
    private func nearest(_ points: [Point2]) -> Int? {
        let c = Self.eyesCentre(points)
        let unit = hypot(points[45].x - points[36].x, points[45].y - points[36].y)
        func distance(_ i: Int) -> Double { hypot(faces[i].centre.x - c.x, faces[i].centre.y - c.y) }
        guard let i = faces.indices.min(by: { distance($0) < distance($1) }), distance(i) < unit / 2 else { return nil }
        return i
    }

    /// The midpoint of the outer eye corners of 68 frame landmarks.
    private static func eyesCentre(_ points: [Point2]) -> Point2 {
        Point2((points[36].x + points[45].x) / 2, (points[36].y + points[45].y) / 2)
    }
}

/// A 2-D thin-plate spline f(p) = a0 + a1 x + a2 y + sum_j w_j U(|p - c_j|), U(r) = r^2 log r^2, through given
/// values at control points (a small regulariser `lambda` on the diagonal lets two control points coincide, as the
/// inner lips' do when the mouth is closed). Coordinates are divided by `scale` so the system is well conditioned.
struct ThinPlateSpline {
    let centres: [Point2]
    let weights: [Point2]
    let affine: (Point2, Point2, Point2)
    let scale: Double

    /// Solves for the spline through `values` at `points`; nil when the system is singular.
    init?(points: [Point2], values: [Point2], scale: Double, lambda: Double = 1e-6) {
        let n = points.count, m = n + 3
        let c = points.map { Point2($0.x / scale, $0.y / scale) }
        var a = [Double](repeating: 0, count: m * m)
        var bx = [Double](repeating: 0, count: m), by = [Double](repeating: 0, count: m)
        for i in 0..<n {
            for j in 0..<n { a[i * m + j] = i == j ? lambda : Self.kernel(c[i], c[j]) }
            a[i * m + n] = 1; a[i * m + n + 1] = c[i].x; a[i * m + n + 2] = c[i].y
            a[n * m + i] = 1; a[(n + 1) * m + i] = c[i].x; a[(n + 2) * m + i] = c[i].y
            bx[i] = values[i].x; by[i] = values[i].y
        }
        guard let sol = Self.solve(a, [bx, by], m) else { return nil }
        centres = c
        weights = (0..<n).map { Point2(sol[0][$0], sol[1][$0]) }
        affine = (Point2(sol[0][n], sol[1][n]), Point2(sol[0][n + 1], sol[1][n + 1]),
                  Point2(sol[0][n + 2], sol[1][n + 2]))
        self.scale = scale
    }

    /// U(|p - q|) with U(r) = r^2 log r^2 (0 at r = 0).
    static func kernel(_ p: Point2, _ q: Point2) -> Double {
        let r2 = (p.x - q.x) * (p.x - q.x) + (p.y - q.y) * (p.y - q.y)
        return r2 > 0 ? r2 * log(r2) : 0
    }

    /// The spline's value at `p` (in the points' pixels).
    func value(at p: Point2) -> Point2 {
        let q = Point2(p.x / scale, p.y / scale)
        var x = affine.0.x + affine.1.x * q.x + affine.2.x * q.y
        var y = affine.0.y + affine.1.y * q.x + affine.2.y * q.y
        for j in centres.indices {
            let u = Self.kernel(q, centres[j])
            x += weights[j].x * u; y += weights[j].y * u
        }
        return Point2(x, y)
    }

    /// Gaussian elimination with partial pivoting on the m x m matrix `a`, for each right-hand side.
    static func solve(_ a: [Double], _ rhs: [[Double]], _ m: Int) -> [[Double]]? {
        var a = a, b = rhs
        for col in 0..<m {
            var pivot = col
            for r in (col + 1)..<m where abs(a[r * m + col]) > abs(a[pivot * m + col]) { pivot = r }
            guard abs(a[pivot * m + col]) > 1e-12 else { return nil }
            if pivot != col {
                for k in 0..<m { a.swapAt(col * m + k, pivot * m + k) }
                for i in b.indices { b[i].swapAt(col, pivot) }
            }
            let p = a[col * m + col]
            for r in (col + 1)..<m {
                let f = a[r * m + col] / p
                guard f != 0 else { continue }
                for k in col..<m { a[r * m + k] -= f * a[col * m + k] }
                for i in b.indices { b[i][r] -= f * b[i][col] }
            }
        }
        for i in b.indices {
            for r in stride(from: m - 1, through: 0, by: -1) {
                var s = b[i][r]
                for k in (r + 1)..<m { s -= a[r * m + k] * b[i][k] }
                b[i][r] = s / a[r * m + r]
            }
        }
        return b
    }
}

/// A backward map over a square face: each output pixel reads the input at itself plus the spline's displacement,
/// evaluated on a grid every `step` pixels and bilinearly between (the spline is smooth at that scale).
public struct WarpField: Sendable {
    let size: Int
    /// Displacement (dx, dy) at every pixel, row-major.
    let dx: [Float], dy: [Float]
    static let step = 4

    init(spline: ThinPlateSpline, size: Int) {
        self.size = size
        let step = Self.step, cells = (size - 1 + step - 1) / step
        let g = cells + 1
        var gx = [Double](repeating: 0, count: g * g), gy = gx
        for j in 0..<g {
            for i in 0..<g {
                let v = spline.value(at: Point2(Double(min(i * step, size - 1)), Double(min(j * step, size - 1))))
                gx[j * g + i] = v.x; gy[j * g + i] = v.y
            }
        }
        var dx = [Float](repeating: 0, count: size * size), dy = dx
        for y in 0..<size {
            let j = min(y / step, cells - 1), y0 = j * step, y1 = min((j + 1) * step, size - 1)
            let ty = y1 > y0 ? Double(y - y0) / Double(y1 - y0) : 0
            for x in 0..<size {
                let i = min(x / step, cells - 1), x0 = i * step, x1 = min((i + 1) * step, size - 1)
                let tx = x1 > x0 ? Double(x - x0) / Double(x1 - x0) : 0
                func lerp(_ v: [Double]) -> Double {
                    let top = v[j * g + i] + tx * (v[j * g + i + 1] - v[j * g + i])
                    let bottom = v[(j + 1) * g + i] + tx * (v[(j + 1) * g + i + 1] - v[(j + 1) * g + i])
                    return top + ty * (bottom - top)
                }
                dx[y * size + x] = Float(lerp(gx)); dy[y * size + x] = Float(lerp(gy))
            }
        }
        self.dx = dx; self.dy = dy
    }

    /// The displacement at face point (x, y), bilinearly between pixels (clamped to the square).
    @inline(__always)
    func displacement(atX x: Double, y: Double) -> (x: Double, y: Double) {
        let m = Double(size - 1)
        let u = min(max(x, 0), m), v = min(max(y, 0), m)
        let x0 = min(Int(u), max(0, size - 2)), y0 = min(Int(v), max(0, size - 2))
        let x1 = min(x0 + 1, size - 1), y1 = min(y0 + 1, size - 1)
        let ax = u - Double(x0), ay = v - Double(y0)
        func at(_ f: [Float]) -> Double {
            let t00 = Double(f[y0 * size + x0]), t01 = Double(f[y0 * size + x1])
            let t10 = Double(f[y1 * size + x0]), t11 = Double(f[y1 * size + x1])
            let top = t00 + ax * (t01 - t00), bottom = t10 + ax * (t11 - t10)
            return top + ay * (bottom - top)
        }
        return (at(dx), at(dy))
    }

    /// The smallest Jacobian determinant of the map (read area over output area) over the square, every other pixel:
    /// below 0 the map folds, near 0 a small patch of the face is spread wide.
    var smallestAreaRatio: Float {
        var smallest = Float.infinity
        for y in stride(from: 1, to: size - 1, by: 2) {
            for x in stride(from: 1, to: size - 1, by: 2) { smallest = min(smallest, areaRatio(x, y)) }
        }
        return smallest
    }

    /// The face-square pixels (every other one, as `smallestAreaRatio` looks) where the Jacobian determinant is under
    /// `threshold`.
    func pixelsBelow(_ threshold: Float) -> [Point2] {
        var found: [Point2] = []
        for y in stride(from: 1, to: size - 1, by: 2) {
            for x in stride(from: 1, to: size - 1, by: 2) where areaRatio(x, y) < threshold {
                found.append(Point2(Double(x), Double(y)))
            }
        }
        return found
    }

    /// The Jacobian determinant at pixel (x, y), 0 < x, y < size - 1, by central differences.
    @inline(__always)
    private func areaRatio(_ x: Int, _ y: Int) -> Float {
        let q = y * size + x
        let a = 1 + (dx[q + 1] - dx[q - 1]) / 2, b = (dx[q + size] - dx[q - size]) / 2
        let c = (dy[q + 1] - dy[q - 1]) / 2, d = 1 + (dy[q + size] - dy[q - size]) / 2
        return a * d - b * c
    }

    /// `image` (size x size, any channels) read through the map, bilinearly, clamped at the edges.
    func warp(_ image: Image) -> Image {
        precondition(image.width == size && image.height == size, "the warp is for \(size)x\(size) faces")
        let c = image.channels, n = size
        var out = Image(width: n, height: n, channels: c)
        image.pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                let maxCoord = Float(n - 1)
                for y in 0..<n {
                    for x in 0..<n {
                        let q = y * n + x
                        let u = min(max(Float(x) + dx[q], 0), maxCoord), v = min(max(Float(y) + dy[q], 0), maxCoord)
                        let x0 = min(Int(u), max(0, n - 2)), y0 = min(Int(v), max(0, n - 2))
                        let ax = u - Float(x0), ay = v - Float(y0)
                        let x1 = min(x0 + 1, n - 1), y1 = min(y0 + 1, n - 1)
                        for k in 0..<c {
                            let t00 = Float(src[(y0 * n + x0) * c + k]), t01 = Float(src[(y0 * n + x1) * c + k])
                            let t10 = Float(src[(y1 * n + x0) * c + k]), t11 = Float(src[(y1 * n + x1) * c + k])
                            let top = t00 + ax * (t01 - t00), bottom = t10 + ax * (t11 - t10)
                            dst[q * c + k] = UInt8(min(255, max(0, (top + ay * (bottom - top)).rounded())))
                        }
                    }
                }
            }
        }
        return out
    }
}

/// How much nearer the src person than the dst person a face looks to dlib's face recogniser: the distance of its
/// descriptor to the dst person's mean descriptor less that to the src person's (positive: nearer the src).
public struct IdentityCheck: Sendable {
    /// dlib's face-recognition network.
    public let recognizer: FaceRecognizer
    /// The src and dst persons' mean descriptors.
    public let srcCentre: [Float], dstCentre: [Float]

    /// A check against the two persons' mean descriptors.
    public init(recognizer: FaceRecognizer, srcCentre: [Float], dstCentre: [Float]) {
        self.recognizer = recognizer; self.srcCentre = srcCentre; self.dstCentre = dstCentre
    }

    /// The margin of `face` (a face square) whose 68 landmarks are `points`; nil when the chip cannot be cut.
    public func margin(face: Image, points: [Point2]) -> Double? {
        guard points.count == 68 else { return nil }
        let descriptors = recognizer.descriptors(image: face, faces: [Landmarks68(points: points)])
        guard let d = descriptors.first else { return nil }
        return Double(FaceRecognizer.distance(d, dstCentre)) - Double(FaceRecognizer.distance(d, srcCentre))
    }
}
