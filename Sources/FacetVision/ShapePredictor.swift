/// dlib's 68-point regression-tree shape predictor, read from its own `.dat` file, exact to dlib.
import CCPUFeatures
import FacetCore
import Foundation

/// A face box in dlib's convention: integer-valued pixel coordinates, `right` and `bottom`
/// inclusive (a 10-pixel-wide box has `right - left == 9`).
public struct FaceRect: Sendable, Equatable, Codable {
    /// Left edge, in pixels (inclusive).
    public var left: Double
    /// Top edge, in pixels (inclusive).
    public var top: Double
    /// Right edge, in pixels (inclusive).
    public var right: Double
    /// Bottom edge, in pixels (inclusive).
    public var bottom: Double

    /// A box with the given edges.
    public init(left: Double, top: Double, right: Double, bottom: Double) {
        self.left = left; self.top = top; self.right = right; self.bottom = bottom
    }

    /// Width in pixels, edges included.
    public var width: Double { right - left + 1 }
    /// Height in pixels, edges included.
    public var height: Double { bottom - top + 1 }
}

/// The box the shape predictor wants for a face detector's box `x, y, width, height`
/// (top-left corner and size, as MTCNN reports it).
///
/// dlib's model was trained on the square boxes of dlib's HOG detector. MTCNN's boxes are taller
/// than wide (about 3:4) and start higher, at the brows' top. Fed MTCNN's box unchanged, the
/// predictor stretches the face vertically. The adjustment makes a square box with the side
/// 1.1 x the detector box's geometric-mean side, centred horizontally and 55% of the way down.
/// These constants minimise the landmark error against dlib's landmarks on the boxes its own
/// detector drew (the 43 faces of `Tests/Fixtures/images/faces` and the astronaut's square box):
/// mean error 4.3% of the interocular distance, against 7.0% for the raw MTCNN box and 5.3% for a
/// plain square about its centre (see `ShapePredictorTests.testDetectorBoxAdjustment`).
public func shapePredictorRect(fromDetectorBox x: Double, y: Double, width: Double, height: Double) -> FaceRect {
    let cx = x + width * DetectorBoxAdjustment.centerX
    let cy = y + height * DetectorBoxAdjustment.centerY
    let side = (width * height).squareRoot() * DetectorBoxAdjustment.side
    let left = (cx - side / 2).rounded(), top = (cy - side / 2).rounded()
    let extent = max(1, side.rounded()) - 1
    return FaceRect(left: left, top: top, right: left + extent, bottom: top + extent)
}

/// Fitted constants of `shapePredictorRect(fromDetectorBox:...)`: the HOG-like box's centre as a
/// fraction of the detector box, and its side as a multiple of the detector box's geometric-mean side.
enum DetectorBoxAdjustment {
    static let centerX = 0.5
    static let centerY = 0.55
    static let side = 1.1
}

/// An ensemble of regression trees (Kazemi & Sullivan 2014) as dlib trains and serializes it.
///
/// Loading parses the whole `.dat` file into flat arrays (about 65 MB of leaf values for the
/// 68-point model). `landmarks(in:box:)` reads only the 500 pixels each cascade stage samples,
/// allocates nothing on the heap, and may be called from many threads at once.
public final class ShapePredictor: @unchecked Sendable {
    /// Number of landmarks (68 for the iBUG model).
    public let pointCount: Int
    /// The mean shape in box units (x0 y0 x1 y1 ...), where every fit starts.
    private let initialShape: [Float]
    /// Per stage: the range of trees and of sample pixels that belong to it.
    private let stageTreeStart: [Int]
    private let stageFeatureStart: [Int]
    /// Per sample pixel: the landmark it is anchored to and its offset in mean-shape units.
    private let anchor: [Int32]
    private let deltaX: [Float]
    private let deltaY: [Float]
    /// Per tree: where its splits and its leaves begin in the flat arrays below.
    private let treeSplitStart: [Int32]
    private let treeSplitCount: [Int32]
    private let treeLeafStart: [Int]
    /// Per split node: the two sample pixels compared and the threshold of their difference.
    private let splitIndex1: [Int32]
    private let splitIndex2: [Int32]
    private let splitThreshold: [Float]
    /// Leaf values, `2 * pointCount` floats per leaf, all trees back to back.
    private let leaves: UnsafeMutableBufferPointer<Float>
    /// Most sample pixels any stage uses: the size of the per-call feature buffer.
    private let maxFeatures: Int
    /// Mean-centred initial shape and its summed squared norm, for the per-stage similarity fit.
    private let centredInitial: [Double]
    private let initialSpread: Double

    /// Loads a dlib shape predictor (`shape_predictor_68_face_landmarks.dat` from Debian's
    /// `libdlib-data`). Throws a `FacetError` naming the file when it is missing, truncated,
    /// corrupt or not a 68-point shape predictor.
    public init(path: String) throws {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw FacetError.file(path,
                                  "cannot read the dlib landmark model (\(error.localizedDescription)); "
                                  + "install Debian's libdlib-data or pass the path of "
                                    + "shape_predictor_68_face_landmarks.dat")
        }
        let parsed: ParsedModel
        do {
            parsed = try data.withUnsafeBytes { raw -> ParsedModel in
                var reader = DlibReader(raw)
                return try ParsedModel.parse(&reader)
            }
        } catch let problem as DlibFormatProblem {
            throw FacetError.file(path, "not a valid dlib shape predictor: \(problem.message)")
        }
        guard parsed.initialShape.count == 136 else {
            parsed.leaves.deallocate()
            throw FacetError.file(path,
                                  "a dlib shape predictor with \(parsed.initialShape.count / 2) landmarks; "
                                  + "Facet needs the 68-point model (shape_predictor_68_face_landmarks.dat)")
        }
        pointCount = parsed.initialShape.count / 2
        initialShape = parsed.initialShape
        stageTreeStart = parsed.stageTreeStart
        stageFeatureStart = parsed.stageFeatureStart
        anchor = parsed.anchor
        deltaX = parsed.deltaX
        deltaY = parsed.deltaY
        treeSplitStart = parsed.treeSplitStart
        treeSplitCount = parsed.treeSplitCount
        treeLeafStart = parsed.treeLeafStart
        splitIndex1 = parsed.splitIndex1
        splitIndex2 = parsed.splitIndex2
        splitThreshold = parsed.splitThreshold
        leaves = parsed.leaves
        var most = 0
        for s in 0..<(stageFeatureStart.count - 1) { most = max(most, stageFeatureStart[s + 1] - stageFeatureStart[s]) }
        maxFeatures = most

        var mx = 0.0, my = 0.0
        for i in 0..<pointCount { mx += Double(initialShape[2 * i]); my += Double(initialShape[2 * i + 1]) }
        mx /= Double(pointCount); my /= Double(pointCount)
        var centred = [Double](repeating: 0, count: 2 * pointCount)
        var spread = 0.0
        for i in 0..<pointCount {
            centred[2 * i] = Double(initialShape[2 * i]) - mx
            centred[2 * i + 1] = Double(initialShape[2 * i + 1]) - my
            spread += centred[2 * i] * centred[2 * i] + centred[2 * i + 1] * centred[2 * i + 1]
        }
        centredInitial = centred
        initialSpread = spread
    }

    deinit { leaves.deallocate() }

    /// Number of cascade stages (15 for the 68-point model).
    public var stageCount: Int { stageTreeStart.count - 1 }
    /// Total number of regression trees (7,500 for the 68-point model).
    public var treeCount: Int { treeSplitStart.count }

    /// The 68 landmarks of the face in `box`, in image pixels. These are dlib's points before its
    /// final rounding: `floor(x + 0.5)` of each gives exactly what dlib returns.
    /// Cost: 15 x 500 pixel reads and 7,500 tree walks of 4 comparisons and 136 additions.
    public func landmarks(in image: Image, box: FaceRect) -> Landmarks68 {
        landmarks(in: image, box: box, legacyBoxMapping: false)
    }

    /// The square box in which the predictor's mean face best fits `landmarks` (least-squares
    /// similarity, rotation ignored), rounded to whole pixels. Fitting the next video frame in the
    /// box of this frame's landmarks tracks a face without running the detector again.
    public func trackingBox(for landmarks: Landmarks68) -> FaceRect {
        let mean = (0..<pointCount).map { Point2(Double(initialShape[2 * $0]), Double(initialShape[2 * $0 + 1])) }
        guard pointCount == landmarks.points.count,
              let t = similarityTransform(from: mean, to: landmarks.points) else {
            let p = landmarks.points.first ?? Point2(0, 0)
            return FaceRect(left: p.x.rounded(), top: p.y.rounded(), right: p.x.rounded(), bottom: p.y.rounded())
        }
        let centre = t.apply(Point2(0.5, 0.5))
        let side = max(1, t.scale.rounded())
        let left = (centre.x - side / 2).rounded(), top = (centre.y - side / 2).rounded()
        return FaceRect(left: left, top: top, right: left + side, bottom: top + side)
    }

    /// The predictor's mean shape in box units (the unit square of dlib's detector box), where every fit starts.
    public var meanShape: [Point2] {
        (0..<pointCount).map { Point2(Double(initialShape[2 * $0]), Double(initialShape[2 * $0 + 1])) }
    }

    /// The 68 landmarks fitted from the mean shape placed in the image by `frame` (box units to image
    /// pixels). A frame that maps the unit square onto a box is `landmarks(in:box:)`; any other
    /// similarity or affine frame (rotated, mirrored, fitted to a detector's five points) runs the same
    /// cascade in that frame, as if the image were warped so that the frame became an upright box.
    public func landmarks(in image: Image, frame: Affine2D) -> Landmarks68 {
        precondition(pointCount == 68, "this shape predictor has \(pointCount) points, not 68")
        var result = [Point2](repeating: Point2(0, 0), count: 68)
        let t = BoxTransform(m00: frame.a, m01: frame.b, m10: frame.c, m11: frame.d, bx: frame.tx, by: frame.ty)
        fit(image: image, toImage: t) { i, x, y in result[i] = Point2(x, y) }
        return Landmarks68(points: result)
    }

    /// The 68 landmarks of the face in `box` on two images at once, each exactly what
    /// `landmarks(in:box:)` gives on it alone (see `landmarks(of:)`).
    public func landmarks(in first: Image, and second: Image, box: FaceRect) -> (Landmarks68, Landmarks68) {
        let both = landmarks(of: [(first, box), (second, box)])
        return (both[0], both[1])
    }

    /// The 68 landmarks of each (image, box), each exactly what `landmarks(in:box:)` gives on it alone. The
    /// cascades run in lockstep, tree by tree, so on similar faces (a frame and the same frame with its face
    /// replaced; the next frames of a video) most trees reach the same leaf, and its 136 values are read from
    /// memory once for all of them: the leaves (65 MB) are what a fit waits on, the more so beside other work
    /// that fills the caches (the merge's other stages).
    public func landmarks(of faces: [(image: Image, box: FaceRect)]) -> [Landmarks68] {
        precondition(pointCount == 68, "this shape predictor has \(pointCount) points, not 68")
        var out = [[Point2]](repeating: [Point2](repeating: Point2(0, 0), count: 68), count: faces.count)
        fitMany(faces.map { ($0.image, BoxTransform($0.box)) }) { shape, i, x, y in out[shape][i] = Point2(x, y) }
        return out.map { Landmarks68(points: $0) }
    }

    /// `legacyBoxMapping` reproduces dlib 18.x, which mapped non-square boxes with a similarity
    /// transform (see `BoxTransform`); only tests against old dlib output want it.
    func landmarks(in image: Image, box: FaceRect, legacyBoxMapping: Bool) -> Landmarks68 {
        precondition(pointCount == 68, "this shape predictor has \(pointCount) points, not 68")
        var result = [Point2](repeating: Point2(0, 0), count: 68)
        fit(image: image, toImage: BoxTransform(box, legacySimilarity: legacyBoxMapping)) {
            i, x, y in result[i] = Point2(x, y)
        }
        return Landmarks68(points: result)
    }

    /// Runs the cascade and reports each point in image coordinates.
    private func fit(image: Image, toImage: BoxTransform, report: (Int, Double, Double) -> Void) {
        let n2 = 2 * pointCount
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n2) { shape in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, maxFeatures)) { features in
                _ = shape.initialize(from: initialShape)
                for stage in 0..<stageCount {
                    let transform = similarityToCurrent(shape)
                    let f0 = stageFeatureStart[stage], f1 = stageFeatureStart[stage + 1]
                    samplePixels(image: image, toImage: toImage, shape: shape, transform: transform, range: f0..<f1,
                                 into: features)
                    addTrees(of: stage, features: features, shape: shape)
                }
                for i in 0..<pointCount {
                    let (x, y) = toImage.apply(Double(shape[2 * i]), Double(shape[2 * i + 1]))
                    report(i, x, y)
                }
            }
        }
    }

    /// `fit` on several images (each in its own frame), the cascades in lockstep (see `landmarks(of:)`). Each
    /// shape sees exactly the operations, in the same order, that `fit` would apply to it alone.
    private func fitMany(_ faces: [(image: Image, toImage: BoxTransform)], report: (Int, Int, Double, Double) -> Void) {
        let n = faces.count, n2 = 2 * pointCount, m = max(1, maxFeatures)
        guard n > 0 else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n * n2) { shapes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n * m) { features in
                for f in 0..<n {
                    let shape = UnsafeMutableBufferPointer(rebasing: shapes[(f * n2)..<((f + 1) * n2)])
                    _ = shape.initialize(from: initialShape)
                }
                for stage in 0..<stageCount {
                    let f0 = stageFeatureStart[stage], f1 = stageFeatureStart[stage + 1]
                    for f in 0..<n {
                        let shape = UnsafeMutableBufferPointer(rebasing: shapes[(f * n2)..<((f + 1) * n2)])
                        samplePixels(image: faces[f].image, toImage: faces[f].toImage, shape: shape,
                                     transform: similarityToCurrent(shape), range: f0..<f1,
                                     into: UnsafeMutableBufferPointer(rebasing: features[(f * m)..<((f + 1) * m)]))
                    }
                    addTreesMany(of: stage, count: n, features: features.baseAddress!, featureStride: m,
                                 shapes: shapes.baseAddress!)
                }
                for f in 0..<n {
                    for i in 0..<pointCount {
                        let (x, y) = faces[f].toImage.apply(Double(shapes[f * n2 + 2 * i]),
                                                            Double(shapes[f * n2 + 2 * i + 1]))
                        report(f, i, x, y)
                    }
                }
            }
        }
    }

    /// `addTrees` for `count` shapes (`2 * pointCount` floats each, back to back) with their features (`featureStride`
    /// apart), tree by tree: a leaf another shape already reached is in the cache.
    @inline(__always)
    private func addTreesMany(of stage: Int, count n: Int, features: UnsafeMutablePointer<Float>, featureStride: Int,
                              shapes: UnsafeMutablePointer<Float>) {
        let n2 = 2 * pointCount
        let leafBase = leaves.baseAddress!
        let leafBytes = n2 * MemoryLayout<Float>.size
        treeSplitStart.withUnsafeBufferPointer { splitStart in
            treeSplitCount.withUnsafeBufferPointer { splitCount in
                treeLeafStart.withUnsafeBufferPointer { leafStart in
                    splitIndex1.withUnsafeBufferPointer { i1 in
                        splitIndex2.withUnsafeBufferPointer { i2 in
                            splitThreshold.withUnsafeBufferPointer { thresh in
                                let trees = stageTreeStart[stage]..<stageTreeStart[stage + 1]
                                // First every tree's leaves, then the sums: with the addresses known
                                // ahead, the loads of the next leaves overlap the adds of this one.
                                withUnsafeTemporaryAllocation(of: Int.self, capacity: n * trees.count) { at in
                                for (k, tree) in trees.enumerated() {
                                    let base = Int(splitStart[tree]), count = Int(splitCount[tree])
                                    for f in 0..<n {
                                        let feat = features + f * featureStride
                                        var node = 0
                                        while node < count {
                                            let s = base + node
                                            node = feat[Int(i1[s])] - feat[Int(i2[s])] > thresh[s]
                                                ? 2 * node + 1 : 2 * node + 2
                                        }
                                        let leaf = leafStart[tree] + (node - count) * n2
                                        at[k * n + f] = leaf
                                        var seen = false
                                        for g in 0..<f where at[k * n + g] == leaf { seen = true; break }
                                        if !seen { facet_prefetch(leafBase + leaf, leafBytes) }
                                    }
                                }
                                for k in 0..<trees.count {
                                    for f in 0..<n {
                                        let leaf = leafBase + at[k * n + f], shape = shapes + f * n2
                                        for j in 0..<n2 { shape[j] += leaf[j] }
                                    }
                                }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The 2x2 part of the least-squares similarity transform (Umeyama) taking the initial shape
    /// to `shape`, rounded to float as dlib does. In 2-D the optimal rotation has a closed form:
    /// with `M` the cross-covariance, `s R = [[p, -q], [q, p]]`, `p = tr(M) / spread`,
    /// `q = (M10 - M01) / spread`; the same matrix dlib's SVD route gives, reflections included.
    @inline(__always)
    private func similarityToCurrent(_ shape: UnsafeMutableBufferPointer<Float>) -> (Float, Float, Float, Float) {
        var mx = 0.0, my = 0.0
        for i in 0..<pointCount { mx += Double(shape[2 * i]); my += Double(shape[2 * i + 1]) }
        mx /= Double(pointCount); my /= Double(pointCount)
        var a = 0.0, b = 0.0, c = 0.0, d = 0.0
        centredInitial.withUnsafeBufferPointer { from in
            for i in 0..<pointCount {
                let tx = Double(shape[2 * i]) - mx, ty = Double(shape[2 * i + 1]) - my
                let fx = from[2 * i], fy = from[2 * i + 1]
                a += tx * fx; b += tx * fy; c += ty * fx; d += ty * fy
            }
        }
        let p = (a + d) / initialSpread, q = (c - b) / initialSpread
        return (Float(p), Float(-q), Float(q), Float(p))
    }

    /// Grey levels of one stage's sample pixels: each is placed relative to its anchor landmark
    /// in the current shape, mapped into the box, rounded to the nearest pixel; 0 outside the image.
    @inline(__always)
    private func samplePixels(image: Image, toImage: BoxTransform,
                              shape: UnsafeMutableBufferPointer<Float>, transform t: (Float, Float, Float, Float),
                              range: Range<Int>, into features: UnsafeMutableBufferPointer<Float>) {
        let w = image.width, h = image.height, ch = image.channels
        image.pixels.withUnsafeBufferPointer { px in
            anchor.withUnsafeBufferPointer { anchor in
                deltaX.withUnsafeBufferPointer { dx in
                    deltaY.withUnsafeBufferPointer { dy in
                        for (k, f) in range.enumerated() {
                            let a = Int(anchor[f])
                            // Float arithmetic in dlib's order: (T * delta) + anchor point.
                            let u = (t.0 * dx[f] + t.1 * dy[f]) + shape[2 * a]
                            let v = (t.2 * dx[f] + t.3 * dy[f]) + shape[2 * a + 1]
                            let (bx, by) = toImage.apply(Double(u), Double(v))
                            let x = (bx + 0.5).rounded(.down), y = (by + 0.5).rounded(.down)
                            guard x >= 0, y >= 0, x < Double(w), y < Double(h) else { features[k] = 0; continue }
                            let p = (Int(y) * w + Int(x)) * ch
                            if ch == 1 {
                                features[k] = Float(px[p])
                            } else {
                                features[k] = Float((Int(px[p]) + Int(px[p + 1]) + Int(px[p + 2])) / 3)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Walks every tree of `stage` and adds the leaf it reaches to the shape.
    @inline(__always)
    private func addTrees(of stage: Int, features: UnsafeMutableBufferPointer<Float>,
                          shape: UnsafeMutableBufferPointer<Float>) {
        let n2 = 2 * pointCount
        let leafBase = leaves.baseAddress!
        let shapeBase = shape.baseAddress!
        let leafBytes = n2 * MemoryLayout<Float>.size
        treeSplitStart.withUnsafeBufferPointer { splitStart in
            treeSplitCount.withUnsafeBufferPointer { splitCount in
                treeLeafStart.withUnsafeBufferPointer { leafStart in
                    splitIndex1.withUnsafeBufferPointer { i1 in
                        splitIndex2.withUnsafeBufferPointer { i2 in
                            splitThreshold.withUnsafeBufferPointer { thresh in
                                let trees = stageTreeStart[stage]..<stageTreeStart[stage + 1]
                                // First every tree's leaf, then the sums (in tree order, as dlib adds them):
                                // with the addresses known ahead, the next leaves' loads overlap these adds.
                                withUnsafeTemporaryAllocation(of: Int.self, capacity: trees.count) { at in
                                for (k, tree) in trees.enumerated() {
                                    let base = Int(splitStart[tree]), count = Int(splitCount[tree])
                                    var node = 0
                                    while node < count {
                                        let s = base + node
                                        node = features[Int(i1[s])] - features[Int(i2[s])] > thresh[s]
                                            ? 2 * node + 1 : 2 * node + 2
                                    }
                                    at[k] = leafStart[tree] + (node - count) * n2
                                    facet_prefetch(leafBase + at[k], leafBytes)
                                }
                                for k in 0..<trees.count {
                                    let leaf = leafBase + at[k]
                                    for j in 0..<n2 { shapeBase[j] += leaf[j] }
                                }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// dlib's `unnormalizing_tform`: box units (0..1) to image pixels, `(0,0)` to the top-left
/// corner, `(1,0)` to the top-right and `(1,1)` to the bottom-right one.
struct BoxTransform {
    var m00: Double, m01: Double, m10: Double, m11: Double, bx: Double, by: Double

    init(m00: Double, m01: Double, m10: Double, m11: Double, bx: Double, by: Double) {
        self.m00 = m00; self.m01 = m01; self.m10 = m10; self.m11 = m11; self.bx = bx; self.by = by
    }

    /// `legacySimilarity`: dlib 18.x fitted a similarity transform (Umeyama) to those three
    /// corner pairs instead of the exact affine map. The two agree on square boxes; on others the
    /// old mapping uses one scale for both axes (and a slight rotation). The 68-point landmarks in
    /// dlib's example XML files (2014) were made that way; current dlib uses the affine map.
    init(_ box: FaceRect, legacySimilarity: Bool = false) {
        guard legacySimilarity else {
            m00 = box.right - box.left; m01 = 0; m10 = 0; m11 = box.bottom - box.top
            bx = box.left; by = box.top
            return
        }
        let from = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
        let to = [(box.left, box.top), (box.right, box.top), (box.right, box.bottom)]
        let fmx = 2.0 / 3, fmy = 1.0 / 3
        let tmx = (to[0].0 + to[1].0 + to[2].0) / 3, tmy = (to[0].1 + to[1].1 + to[2].1) / 3
        var a = 0.0, b = 0.0, c = 0.0, d = 0.0, spread = 0.0
        for i in 0..<3 {
            let fx = from[i].0 - fmx, fy = from[i].1 - fmy, tx = to[i].0 - tmx, ty = to[i].1 - tmy
            a += tx * fx; b += tx * fy; c += ty * fx; d += ty * fy
            spread += fx * fx + fy * fy
        }
        let p = (a + d) / spread, q = (c - b) / spread
        m00 = p; m01 = -q; m10 = q; m11 = p
        bx = tmx - (p * fmx - q * fmy); by = tmy - (q * fmx + p * fmy)
    }

    @inline(__always) func apply(_ u: Double, _ v: Double) -> (Double, Double) {
        (m00 * u + m01 * v + bx, m10 * u + m11 * v + by)
    }
}

/// The predictor's arrays as parsed, before they move into the class.
struct ParsedModel {
    var initialShape: [Float] = []
    var stageTreeStart: [Int] = [0]
    var stageFeatureStart: [Int] = [0]
    var anchor: [Int32] = []
    var deltaX: [Float] = []
    var deltaY: [Float] = []
    var treeSplitStart: [Int32] = []
    var treeSplitCount: [Int32] = []
    var treeLeafStart: [Int] = []
    var splitIndex1: [Int32] = []
    var splitIndex2: [Int32] = []
    var splitThreshold: [Float] = []
    var leaves: UnsafeMutableBufferPointer<Float>

    /// Bounds that no real shape predictor comes near; they keep a corrupt count from running away.
    static let maxPoints = 1_000, maxStages = 1_000, maxTrees = 100_000, maxSplits = 1 << 16,
               maxFeatures = 1 << 20

    /// Reads the layout dlib's `serialize(shape_predictor)` writes: version 1, initial shape,
    /// forests, anchor indices, deltas; nothing may follow.
    static func parse(_ r: inout DlibReader) throws(DlibFormatProblem) -> ParsedModel {
        let version = try r.int("the version")
        guard version == 1 else { throw DlibFormatProblem(message: "version \(version), expected 1") }

        let rows = try -r.count("initial shape rows", in: -2 * maxPoints ... -2)
        let cols = try -r.count("initial shape columns", in: -1 ... -1)
        guard rows % 2 == 0, cols == 1 else { throw DlibFormatProblem(message: "initial shape is \(rows)x\(cols)") }
        var initial = [Float](repeating: 0, count: rows)
        for i in 0..<rows { initial[i] = try r.float("the initial shape") }

        var leaves = GrowableFloats()
        var model = ParsedModel(leaves: UnsafeMutableBufferPointer(start: nil, count: 0))
        model.initialShape = initial
        do {
            try parseForests(&r, rows: rows, into: &model, leaves: &leaves)
            try parseFeatures(&r, points: rows / 2, into: &model)
        } catch {
            leaves.free()
            throw error
        }
        model.leaves = leaves.finish()
        return model
    }

    private static func parseForests(_ r: inout DlibReader, rows: Int, into m: inout ParsedModel,
                                     leaves: inout GrowableFloats) throws(DlibFormatProblem) {
        let stages = try r.count("the number of cascade stages", in: 1...maxStages)
        var totalTrees = 0
        for stage in 0..<stages {
            let trees = try r.count("the number of trees in stage \(stage)", in: 0...maxTrees)
            totalTrees += trees
            guard totalTrees <= maxTrees * 10 else {
                throw DlibFormatProblem(message: "more than \(maxTrees * 10) trees")
            }
            for tree in 0..<trees {
                let splits = try r.count("the split count of tree \(tree) in stage \(stage)", in: 0...maxSplits)
                m.treeSplitStart.append(Int32(m.splitIndex1.count))
                m.treeSplitCount.append(Int32(splits))
                for _ in 0..<splits {
                    m.splitIndex1.append(Int32(try r.count("a split's first pixel index", in: 0...maxFeatures)))
                    m.splitIndex2.append(Int32(try r.count("a split's second pixel index", in: 0...maxFeatures)))
                    m.splitThreshold.append(try r.float("a split threshold"))
                }
                // The walk from the root ends at index `splits...2*splits`, so a tree needs exactly
                // one leaf more than it has splits.
                let leafCount = try r.count("the leaf count of tree \(tree) in stage \(stage)",
                                            in: (splits + 1)...(splits + 1))
                if leaves.capacity == 0 {
                    // Every float takes at least 4 bytes, so the file bounds the reservation.
                    leaves.reserve(min(stages * trees * leafCount * rows, r.remaining / 4))
                }
                m.treeLeafStart.append(leaves.count)
                for _ in 0..<leafCount {
                    _ = try r.count("leaf rows", in: -rows ... -rows)
                    _ = try r.count("leaf columns", in: -1 ... -1)
                    let dst = leaves.extend(by: rows)
                    for j in 0..<rows { dst[j] = try r.float("a leaf value") }
                }
            }
            m.stageTreeStart.append(m.treeSplitStart.count)
        }
    }

    private static func parseFeatures(_ r: inout DlibReader, points: Int,
                                      into m: inout ParsedModel) throws(DlibFormatProblem) {
        let stages = m.stageTreeStart.count - 1
        _ = try r.count("the number of anchor lists", in: stages...stages)
        for stage in 0..<stages {
            let n = try r.count("the sample pixel count of stage \(stage)", in: 0...maxFeatures)
            for _ in 0..<n { m.anchor.append(Int32(try r.count("an anchor landmark index", in: 0...(points - 1)))) }
            m.stageFeatureStart.append(m.anchor.count)
        }
        _ = try r.count("the number of delta lists", in: stages...stages)
        for stage in 0..<stages {
            let expected = m.stageFeatureStart[stage + 1] - m.stageFeatureStart[stage]
            _ = try r.count("the delta count of stage \(stage)", in: expected...expected)
            for _ in 0..<expected {
                m.deltaX.append(try r.float("a pixel delta"))
                m.deltaY.append(try r.float("a pixel delta"))
            }
        }
        guard r.atEnd else { throw DlibFormatProblem(message: "unexpected bytes after the model at byte \(r.offset)") }
        // Every split must compare pixels its own stage samples.
        for stage in 0..<stages {
            let features = m.stageFeatureStart[stage + 1] - m.stageFeatureStart[stage]
            for tree in m.stageTreeStart[stage]..<m.stageTreeStart[stage + 1] {
                let s0 = Int(m.treeSplitStart[tree])
                for s in s0..<(s0 + Int(m.treeSplitCount[tree]))
                where Int(m.splitIndex1[s]) >= features || Int(m.splitIndex2[s]) >= features {
                    throw DlibFormatProblem(message: "a split in stage \(stage) reads pixel "
                                                     + "\(max(m.splitIndex1[s], m.splitIndex2[s])) of \(features)")
                }
            }
        }
    }
}

/// A float buffer that grows by doubling, filled through a raw pointer (the leaf values are
/// 16 million floats; per-element `Array.append` would dominate the parse in debug builds).
struct GrowableFloats {
    private(set) var base: UnsafeMutablePointer<Float>?
    private(set) var count = 0
    private(set) var capacity = 0

    mutating func reserve(_ n: Int) {
        guard n > capacity else { return }
        let grown = UnsafeMutablePointer<Float>.allocate(capacity: n)
        if let base {
            grown.moveInitialize(from: base, count: count)
            base.deallocate()
        }
        base = grown
        capacity = n
    }

    /// Room for `n` more floats, returned for the caller to fill.
    mutating func extend(by n: Int) -> UnsafeMutablePointer<Float> {
        if count + n > capacity { reserve(max(count + n, capacity * 2, 1024)) }
        let p = base! + count
        count += n
        return p
    }

    /// Hands the storage over (the receiver deallocates it).
    mutating func finish() -> UnsafeMutableBufferPointer<Float> {
        if base == nil { reserve(1) }
        let out = UnsafeMutableBufferPointer(start: base, count: count)
        base = nil; count = 0; capacity = 0
        return out
    }

    mutating func free() {
        base?.deallocate()
        base = nil; count = 0; capacity = 0
    }
}
