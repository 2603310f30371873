/// The 68 points of a detection fitted from what the detector knows (its five points), refined,
/// checked against a fit of the mirrored face and scored, so that turned faces hold and hands drop.
import FacetCore
import Foundation

/// The 68 points of one detection and how far to trust them.
public struct LandmarkFit: Sendable, Equatable {
    /// dlib's 68 points in image pixels.
    public var landmarks: Landmarks68
    /// 0...1: near 1 when the fit agrees with the detector's five points and with the fit of the
    /// mirrored face; near 0 for shapes no face makes (a hand, a pattern in the background).
    public var score: Double
    /// Mean distance between the fit's eye centres, nose tip and mouth corners and the detector's
    /// five points, in units of the detector box's side.
    public var fivePointError: Double
    /// Mean distance between the 68 points fitted on the face and on its mirror image, in units of
    /// the detector box's side (nil when the mirrored fit was not run).
    public var mirrorDisagreement: Double?
    /// Whether the points kept come from the mirrored image's fit.
    public var fromMirror: Bool
}

/// How `LandmarkFitter` starts and checks a fit (the default is what extraction uses; the other
/// settings exist to measure the choice, see `Tools/bench landmarks`).
public struct LandmarkFitOptions: Sendable, Equatable {
    /// Where the mean shape starts.
    public enum Start: String, Sendable, CaseIterable {
        /// The detector's box, squared and shifted (`shapePredictorRect`): the first way.
        case box
        /// The mean shape placed by the similarity that best maps its five points onto the detector's.
        case similarity
        /// The same with a full affine map (it also shears and squeezes for turned faces).
        case affine
    }
    /// Where the first fit starts from.
    public var start: Start = .similarity
    /// A second fit from the mean shape placed by the similarity that best maps it onto the first fit.
    public var refine = true
    /// Fit the mirrored face as well (always: its disagreement is what tells a face from a hand).
    public var mirror = true
    /// Keep the mean of the two fits (true) or only the one closer to the five points (false).
    public var averageMirror = true
    /// With `refine`: refit only faces whose five points say they are turned (`fivePointTurn` above
    /// `LandmarkFitter.refineAboveTurn`), or that come without five points. Frontal faces gain
    /// nothing from the refit (Tools/bench landmarks) and it doubles the cost of the fit.
    public var refineOnlyTurned = true

    /// Options with each choice given; the defaults are what extraction uses.
    public init(start: Start = .similarity, refine: Bool = true, mirror: Bool = true, averageMirror: Bool = true,
                refineOnlyTurned: Bool = true) {
        self.start = start; self.refine = refine; self.mirror = mirror; self.averageMirror = averageMirror
        self.refineOnlyTurned = refineOnlyTurned
    }

    /// The first way: the adjusted box, one fit, no check.
    public static let boxOnly = LandmarkFitOptions(start: .box, refine: false, mirror: false, averageMirror: false,
                                                   refineOnlyTurned: false)
}

/// Fits and scores dlib's 68 points for detections. Read-only after init: safe on many threads.
public struct LandmarkFitter: Sendable {
    /// dlib's 68-point shape predictor the fits run.
    public let predictor: ShapePredictor
    /// How the fits start, and whether they refine and mirror.
    public let options: LandmarkFitOptions
    /// The mean shape (box units) and its five points as the detector reports them.
    private let mean: [Point2]
    private let mean5: [Point2]

    /// Below this score a detection is not kept as a face (see `LandmarkFit.score`).
    public static let dropBelow = 0.2

    /// A fitter over `predictor` with `options`.
    public init(predictor: ShapePredictor, options: LandmarkFitOptions = LandmarkFitOptions()) {
        self.predictor = predictor
        self.options = options
        mean = predictor.meanShape
        mean5 = fivePoints(of: mean)
    }

    /// The fit for a detector's box and five points (left eye, right eye, nose, mouth left, mouth
    /// right as seen in the image). Without five points it starts from the box.
    public func fit(image: Image, box: FaceBox, points5: [Point2]) -> LandmarkFit {
        let side = max(1, (box.width * box.height).squareRoot())
        let hasPoints = points5.count == 5 && options.start != .box
        let start = hasPoints ? startFrame(points5, mirrored: false) : boxFrame(box)
        let refine = options.refine
            && (!options.refineOnlyTurned || !hasPoints || abs(fivePointTurn(points5)) > Self.refineAboveTurn)
        let direct = run(image: image, frame: start, mirrored: false, refine: refine)
        let directError = hasPoints ? fivePointDistance(direct, points5) / side : 0
        guard options.mirror else {
            return LandmarkFit(landmarks: Landmarks68(points: direct),
                               score: hasPoints ? Self.score(directError, nil) : 1,
                               fivePointError: directError, mirrorDisagreement: nil, fromMirror: false)
        }
        let mirrorStart = hasPoints ? startFrame(points5,
                                                 mirrored: true) : Self.mirrorX.concatenating(boxFrame(mirrored(box)))
        let fromMirror = run(image: image, frame: mirrorStart, mirrored: true, refine: refine)
        let disagreement = meanDistance(direct, fromMirror) / side
        var kept = direct, usedMirror = false
        if options.averageMirror {
            kept = zip(direct, fromMirror).map { Point2(($0.x + $1.x) / 2, ($0.y + $1.y) / 2) }
        } else if hasPoints, fivePointDistance(fromMirror, points5) < fivePointDistance(direct, points5) {
            kept = fromMirror; usedMirror = true
        }
        let error = hasPoints ? fivePointDistance(kept, points5) / side : 0
        return LandmarkFit(landmarks: Landmarks68(points: kept),
                           score: Self.score(hasPoints ? error : nil, disagreement),
                           fivePointError: error, mirrorDisagreement: disagreement, fromMirror: usedMirror)
    }

    /// 0...1 from the five-point error and the mirror disagreement (both in box sides): a Gaussian
    /// fall-off of each, scaled by what real faces reach (see `Tools/bench landmarks`).
    static func score(_ fivePointError: Double?, _ disagreement: Double?) -> Double {
        var e = 0.0
        if let f = fivePointError { e += (f / fivePointScale) * (f / fivePointScale) }
        if let d = disagreement { e += (d / mirrorScale) * (d / mirrorScale) }
        return exp(-e)
    }
    static let fivePointScale = 0.08
    /// The turn (`fivePointTurn`) above which `refineOnlyTurned` refits; see `Tools/bench landmarks`.
    public static let refineAboveTurn = 0.12
    static let mirrorScale = 0.05

    // MARK: - Frames

    /// Reflection about x = 0: a frame composed with it fits the mirror image without copying it.
    static let mirrorX = Affine2D(a: -1, b: 0, tx: 0, c: 0, d: 1, ty: 0)

    /// The frame that places the mean shape on the detector's five points (of the mirror image
    /// when `mirrored`: the points reflected, left and right swapped, and the reflection folded in).
    private func startFrame(_ p: [Point2], mirrored: Bool) -> Affine2D {
        let target = mirrored ? [p[1], p[0], p[2], p[4], p[3]].map { Point2(-$0.x, $0.y) } : p
        let t: Affine2D?
        switch options.start {
        case .affine: t = leastSquaresAffine(from: mean5, to: target)
        case .similarity, .box: t = similarityTransform(from: mean5, to: target)
        }
        let frame = t ?? Affine2D(a: 1, b: 0, tx: target[2].x - 0.5, c: 0, d: 1, ty: target[2].y - 0.5)
        return mirrored ? Self.mirrorX.concatenating(frame) : frame
    }

    private func boxFrame(_ box: FaceBox) -> Affine2D {
        let r = shapePredictorRect(fromDetectorBox: box.x, y: box.y, width: box.width, height: box.height)
        return Affine2D(a: r.right - r.left, b: 0, tx: r.left, c: 0, d: r.bottom - r.top, ty: r.top)
    }

    /// The box reflected about x = 0.
    private func mirrored(_ box: FaceBox) -> FaceBox {
        FaceBox(x: -box.right, y: box.y, width: box.width, height: box.height)
    }

    /// One fit (and its refinement) in `frame`; the points in image pixels, in the 68-point order of
    /// the face in the image (a mirrored fit's points are renumbered).
    private func run(image: Image, frame: Affine2D, mirrored: Bool, refine: Bool) -> [Point2] {
        var points = predictor.landmarks(in: image, frame: frame).points
        if refine {
            // The refit frame: the similarity from the mean shape to the first fit, found where the
            // fit is upright (in the mirror image for a mirrored frame).
            let inFrame = mirrored ? points.map { Point2(-$0.x, $0.y) } : points
            if let s = similarityTransform(from: mean, to: inFrame) {
                points = predictor.landmarks(in: image, frame: mirrored ? Self.mirrorX.concatenating(s) : s).points
            }
        }
        return mirrored ? (0..<68).map { points[mirrorIndex($0)] } : points
    }
}

/// The detector's five points as read off 68 landmarks: eye centres (36-41, 42-47), nose tip (30),
/// mouth corners (48, 54).
func fivePoints(of p: [Point2]) -> [Point2] {
    func centre(_ r: ClosedRange<Int>) -> Point2 {
        Point2(r.map { p[$0].x }.reduce(0, +) / Double(r.count), r.map { p[$0].y }.reduce(0, +) / Double(r.count))
    }
    return [centre(36...41), centre(42...47), p[30], p[48], p[54]]
}

/// How far the nose lies off the middle of the eyes along the eye line, in eye distances (the five
/// points: left eye, right eye, nose, ...): about 0 for a frontal face, growing with the head's turn
/// (signed: positive when the nose is nearer the right eye as seen in the image).
public func fivePointTurn(_ p: [Point2]) -> Double {
    guard p.count >= 3 else { return 0 }
    let ex = p[1].x - p[0].x, ey = p[1].y - p[0].y
    let len2 = ex * ex + ey * ey
    guard len2 > 1e-9 else { return 0 }
    let mx = (p[0].x + p[1].x) / 2, my = (p[0].y + p[1].y) / 2
    return ((p[2].x - mx) * ex + (p[2].y - my) * ey) / len2
}

/// Mean distance between the five points of `points` (68) and `points5`.
func fivePointDistance(_ points: [Point2], _ points5: [Point2]) -> Double {
    meanDistance(fivePoints(of: points), points5)
}

/// Mean distance between corresponding points.
func meanDistance(_ a: [Point2], _ b: [Point2]) -> Double {
    zip(a, b).map { hypot($0.x - $1.x, $0.y - $1.y) }.reduce(0, +) / Double(max(1, min(a.count, b.count)))
}

/// The least-squares affine map from `from` to `to` (at least three points not on a line); nil when degenerate.
public func leastSquaresAffine(from: [Point2], to: [Point2]) -> Affine2D? {
    precondition(from.count == to.count, "leastSquaresAffine needs matching point lists")
    guard from.count >= 3 else { return nil }
    let n = Double(from.count)
    let fx = from.map(\.x).reduce(0, +) / n, fy = from.map(\.y).reduce(0, +) / n
    let tx = to.map(\.x).reduce(0, +) / n, ty = to.map(\.y).reduce(0, +) / n
    var sxx = 0.0, sxy = 0.0, syy = 0.0, ux = 0.0, uy = 0.0, vx = 0.0, vy = 0.0
    for (f, t) in zip(from, to) {
        let x = f.x - fx, y = f.y - fy, u = t.x - tx, v = t.y - ty
        sxx += x * x; sxy += x * y; syy += y * y
        ux += u * x; uy += u * y; vx += v * x; vy += v * y
    }
    let det = sxx * syy - sxy * sxy
    guard abs(det) > 1e-12 * max(1, sxx * syy) else { return nil }
    let a = (ux * syy - uy * sxy) / det, b = (uy * sxx - ux * sxy) / det
    let c = (vx * syy - vy * sxy) / det, d = (vy * sxx - vx * sxy) / det
    return Affine2D(a: a, b: b, tx: tx - a * fx - b * fy, c: c, d: d, ty: ty - c * fx - d * fy)
}
