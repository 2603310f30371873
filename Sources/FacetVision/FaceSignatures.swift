/// Per-face signatures computed once at extraction: sharpness, motion blur, histogram, pose, colour.
import Foundation
import FacetCore

/// What the store keeps per face so that every sort is a query, not a rescan of images.
public struct FaceSignatures: Sendable, Equatable {
    /// Sharpness inside the landmark hull: mean squared Sobel gradient of the grey crop (higher is
    /// sharper). Background outside the face does not count.
    public var blur: Double
    /// Variance of the Laplacian over the whole crop (DeepFaceLab's "motion blur" measure).
    public var motionBlur: Double
    /// R, G, B histograms of the crop, 256 bins each, each channel summing to 1.
    public var histogram: [Float]
    /// Head pose in degrees from the landmarks: yaw (positive: face turned towards image right),
    /// pitch (positive: looking up), roll (positive: clockwise in the image).
    public var yaw: Double
    public var pitch: Double
    public var roll: Double
    /// Mean luma (BT.601) inside the hull, 0...255.
    public var brightness: Double
    /// Saturation-weighted circular mean hue inside the hull, degrees 0..<360.
    public var hue: Double
    /// Side of the landmarks' bounding square in frame pixels.
    public var faceSize: Double
}

/// A 1-channel mask of `size x size`: 255 inside the convex hull of the points, 0 outside.
/// Cost O(size^2); the hull is computed once (monotone chain).
public func landmarkHullMask(landmarksInFace: Landmarks68, size: Int) -> Image {
    let hull = convexHull(landmarksInFace.points)
    var mask = Image(width: size, height: size, channels: 1)
    guard hull.count >= 3 else { return mask }
    mask.pixels.withUnsafeMutableBufferPointer { m in
        var xs: [Double] = []
        xs.reserveCapacity(hull.count)
        for y in 0..<size {
            let fy = Double(y) + 0.5
            xs.removeAll(keepingCapacity: true)
            for i in 0..<hull.count {
                let a = hull[i], b = hull[(i + 1) % hull.count]
                if (a.y <= fy && b.y > fy) || (b.y <= fy && a.y > fy) {
                    xs.append(a.x + (fy - a.y) / (b.y - a.y) * (b.x - a.x))
                }
            }
            guard xs.count >= 2 else { continue }
            let lo = max(0, Int((xs.min()! - 0.5).rounded(.up))), hi = min(size - 1, Int((xs.max()! - 0.5).rounded(.down)))
            if lo <= hi { for x in lo...hi { m[y * size + x] = 255 } }
        }
    }
    return mask
}

/// Convex hull of points, counter-clockwise (Andrew's monotone chain).
func convexHull(_ points: [Point2]) -> [Point2] {
    let p = points.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
    guard p.count >= 3 else { return p }
    func cross(_ o: Point2, _ a: Point2, _ b: Point2) -> Double { (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x) }
    var lower: [Point2] = [], upper: [Point2] = []
    for pt in p {
        while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], pt) <= 0 { lower.removeLast() }
        lower.append(pt)
    }
    for pt in p.reversed() {
        while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], pt) <= 0 { upper.removeLast() }
        upper.append(pt)
    }
    return Array(lower.dropLast() + upper.dropLast())
}

/// Computes every signature of an aligned crop. `landmarksInFace` are the 68 points in crop
/// coordinates; `landmarksInFrame` the same in the frame (for size and roll).
public func faceSignatures(crop: Image, landmarksInFace: Landmarks68, landmarksInFrame: Landmarks68) -> FaceSignatures {
    let w = crop.width, h = crop.height
    let rgb = crop.rgb()
    let mask = landmarkHullMask(landmarksInFace: landmarksInFace, size: w)
    var grey = [Float](repeating: 0, count: w * h)
    var histogram = [Float](repeating: 0, count: 768)
    var lumaSum = 0.0, maskCount = 0.0
    var hueX = 0.0, hueY = 0.0
    rgb.pixels.withUnsafeBufferPointer { px in
        for i in 0..<(w * h) {
            let r = Float(px[i * 3]), g = Float(px[i * 3 + 1]), b = Float(px[i * 3 + 2])
            let luma = 0.299 * r + 0.587 * g + 0.114 * b
            grey[i] = luma
            histogram[Int(px[i * 3])] += 1
            histogram[256 + Int(px[i * 3 + 1])] += 1
            histogram[512 + Int(px[i * 3 + 2])] += 1
            guard mask.pixels[i] != 0 else { continue }
            lumaSum += Double(luma)
            maskCount += 1
            let mx = max(r, g, b), mn = min(r, g, b)
            let chroma = mx - mn
            if chroma > 0 {
                var hue: Float
                if mx == r { hue = (g - b) / chroma } else if mx == g { hue = 2 + (b - r) / chroma } else { hue = 4 + (r - g) / chroma }
                let angle = Double(hue) * Double.pi / 3
                let sat = Double(chroma / mx)
                hueX += sat * cos(angle); hueY += sat * sin(angle)
            }
        }
    }
    let total = Float(w * h)
    for i in 0..<768 { histogram[i] /= total }
    // Sharpness: mean squared Sobel gradient inside the hull; motion blur: Laplacian variance.
    var gradSum = 0.0, gradCount = 0.0
    var lapSum = 0.0, lapSq = 0.0, lapCount = 0.0
    grey.withUnsafeBufferPointer { g in
        for y in 1..<max(1, h - 1) {
            for x in 1..<max(1, w - 1) {
                let i = y * w + x
                let lap = Double(g[i - w] + g[i + w] + g[i - 1] + g[i + 1] - 4 * g[i])
                lapSum += lap; lapSq += lap * lap; lapCount += 1
                guard mask.pixels[i] != 0 else { continue }
                let gx = Double((g[i - w + 1] + 2 * g[i + 1] + g[i + w + 1]) - (g[i - w - 1] + 2 * g[i - 1] + g[i + w - 1]))
                let gy = Double((g[i + w - 1] + 2 * g[i + w] + g[i + w + 1]) - (g[i - w - 1] + 2 * g[i - w] + g[i - w + 1]))
                gradSum += gx * gx + gy * gy
                gradCount += 1
            }
        }
    }
    let lapMean = lapCount > 0 ? lapSum / lapCount : 0
    let motion = lapCount > 0 ? lapSq / lapCount - lapMean * lapMean : 0
    let pose = headPose(inFace: landmarksInFace, inFrame: landmarksInFrame)
    let xs = landmarksInFrame.points.map(\.x), ys = landmarksInFrame.points.map(\.y)
    let size = max(xs.max()! - xs.min()!, ys.max()! - ys.min()!)
    var hueDeg = atan2(hueY, hueX) * 180 / Double.pi
    if hueDeg < 0 { hueDeg += 360 }
    return FaceSignatures(blur: gradCount > 0 ? gradSum / gradCount / 16 : 0, motionBlur: motion, histogram: histogram,
                          yaw: pose.yaw, pitch: pose.pitch, roll: pose.roll,
                          brightness: maskCount > 0 ? lumaSum / maskCount : 0, hue: hueDeg, faceSize: size)
}

/// Yaw, pitch and roll in degrees, estimated geometrically from the 68 points.
/// Yaw: the nose tip's offset from the middle of the jaw line, over half the jaw width (the
/// sine of the turn for a head that is roughly a cylinder). Pitch: how far the nose tip sits
/// between the eye line and the mouth, against the frontal ratio. Roll: the eye line's angle.
func headPose(inFace f: Landmarks68, inFrame m: Landmarks68) -> (yaw: Double, pitch: Double, roll: Double) {
    let p = f.points
    let jawLeft = p[0], jawRight = p[16]
    let mid = Point2((jawLeft.x + jawRight.x) / 2, (jawLeft.y + jawRight.y) / 2)
    let halfWidth = max(1e-6, hypot(jawRight.x - jawLeft.x, jawRight.y - jawLeft.y) / 2)
    // Project the nose tip (30) on the jaw line's direction.
    let ux = (jawRight.x - jawLeft.x) / (2 * halfWidth), uy = (jawRight.y - jawLeft.y) / (2 * halfWidth)
    let offset = ((p[30].x - mid.x) * ux + (p[30].y - mid.y) * uy) / halfWidth
    let yaw = asin(max(-1, min(1, offset))) * 180 / Double.pi
    func centre(_ r: ClosedRange<Int>) -> Point2 {
        let pts = r.map { p[$0] }
        return Point2(pts.map(\.x).reduce(0, +) / Double(pts.count), pts.map(\.y).reduce(0, +) / Double(pts.count))
    }
    let eyes = Point2((centre(36...41).x + centre(42...47).x) / 2, (centre(36...41).y + centre(42...47).y) / 2)
    let mouth = centre(48...59)
    let span = max(1e-6, mouth.y - eyes.y)
    // A frontal face has its nose tip about 58% of the way from the eyes to the mouth centre.
    let ratio = (p[30].y - eyes.y) / span
    let pitch = asin(max(-1, min(1, (0.58 - ratio) * 2.2))) * 180 / Double.pi
    let q = m.points
    let le = Point2((36...41).map { q[$0].x }.reduce(0, +) / 6, (36...41).map { q[$0].y }.reduce(0, +) / 6)
    let re = Point2((42...47).map { q[$0].x }.reduce(0, +) / 6, (42...47).map { q[$0].y }.reduce(0, +) / 6)
    let roll = atan2(re.y - le.y, re.x - le.x) * 180 / Double.pi
    return (yaw, pitch, roll)
}
