/// Landmark hull masks of aligned faces: the face region for signatures, training masks and merge.
import FacetCore

/// A 1-channel `size x size` mask: 255 at pixels whose centre lies inside the convex hull of the
/// 68 points (crop coordinates), 0 elsewhere. Cost O(size^2) writes; the hull is found once.
public func landmarkHullMask(landmarksInFace: Landmarks68, size: Int) -> Image {
    hullMask(of: landmarksInFace.points, width: size, height: size)
}

/// The convex hull of `points` filled into a `width x height` grey image (255 inside).
public func hullMask(of points: [Point2], width: Int, height: Int) -> Image {
    var mask = Image(width: max(0, width), height: max(0, height), channels: 1)
    let spans = hullSpans(of: points, width: width, height: height)
    mask.pixels.withUnsafeMutableBufferPointer { m in
        for span in spans { for x in span.x0...span.x1 { m[span.y * width + x] = 255 } }
    }
    return mask
}

/// One row of a filled convex polygon: the pixels `x0...x1` of row `y`.
public struct HullSpan: Sendable, Equatable {
    /// The row.
    public var y: Int
    /// First and last pixel of the row inside the polygon (inclusive).
    public var x0: Int, x1: Int
}

/// The pixels of `hullMask(of:width:height:)` as one span per row, top to bottom (no image made): the
/// pixels whose centre lies inside the convex hull of `points`, within a `width x height` image.
public func hullSpans(of points: [Point2], width: Int, height: Int) -> [HullSpan] {
    let hull = convexHull(points)
    guard hull.count >= 3, width > 0, height > 0 else { return [] }
    let minY = hull.map(\.y).min()!, maxY = hull.map(\.y).max()!
    let y0 = max(0, Int((minY - 0.5).rounded(.up))), y1 = min(height - 1, Int((maxY - 0.5).rounded(.down)))
    guard y0 <= y1 else { return [] }
    var spans: [HullSpan] = []
    spans.reserveCapacity(y1 - y0 + 1)
    for y in y0...y1 {
        // A convex polygon meets a horizontal line in one span: intersect every edge.
        let fy = Double(y) + 0.5
        var lo = Double.infinity, hi = -Double.infinity
        for i in hull.indices {
            let a = hull[i], b = hull[(i + 1) % hull.count]
            guard (a.y <= fy && b.y >= fy) || (b.y <= fy && a.y >= fy) else { continue }
            let x = a.y == b.y ? min(a.x, b.x) : a.x + (fy - a.y) / (b.y - a.y) * (b.x - a.x)
            let x2 = a.y == b.y ? max(a.x, b.x) : x
            lo = min(lo, x); hi = max(hi, x2)
        }
        guard lo <= hi else { continue }
        let x0 = max(0, Int((lo - 0.5).rounded(.up))), x1 = min(width - 1, Int((hi - 0.5).rounded(.down)))
        if x0 <= x1 { spans.append(HullSpan(y: y, x0: x0, x1: x1)) }
    }
    return spans
}

/// The convex hull, counter-clockwise in a y-down image (Andrew's monotone chain); collinear
/// points and non-finite points are dropped. Shared by training and merge masks.
public func convexHull(_ points: [Point2]) -> [Point2] {
    let p = points.filter { $0.x.isFinite && $0.y.isFinite }.sorted { $0.x != $1.x ? $0.x < $1.x : $0.y < $1.y }
    guard p.count >= 3 else { return p }
    func cross(_ o: Point2, _ a: Point2, _ b: Point2) -> Double {
        (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x)
    }
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
