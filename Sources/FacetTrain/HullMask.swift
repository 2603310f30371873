/// The training target mask: the convex hull of the 68 landmarks, rasterised with soft edges.
import FacetCore
import FacetVision

/// A `size x size` grey mask (255 inside) of the landmarks' convex hull, with landmarks in the
/// mask's pixel coordinates (pixel centres at integers, as `Image.warped` samples them, so pixel
/// x covers [x - 0.5, x + 0.5)). Edge pixels get their covered share from 4x4 supersampling, so
/// the mask has no staircase. O(size^2 * hull points).
///
/// FacetVision is getting a `landmarkHullMask(landmarksInFace:size:)`; this one stays local to
/// training until it lands, and both follow DeepFaceLab's "full face" hull of all 68 points.
func hullMask(landmarksInFace points: [Point2], size: Int) -> Image {
    var out = Image(width: size, height: size, channels: 1)
    let hull = convexHull(points)
    guard hull.count >= 3 else { return out }
    // The monotone chain keeps only positive turns, so a point is inside exactly when
    // cross(a->b, a->p) >= 0 for every edge a->b.
    let n = hull.count
    let minX = max(0, Int((hull.map(\.x).min()! - 1).rounded(.down))),
        maxX = min(size - 1, Int((hull.map(\.x).max()! + 1).rounded(.up)))
    let minY = max(0, Int((hull.map(\.y).min()! - 1).rounded(.down))),
        maxY = min(size - 1, Int((hull.map(\.y).max()! + 1).rounded(.up)))
    guard minX <= maxX, minY <= maxY else { return out }
    func inside(_ x: Double, _ y: Double) -> Bool {
        for i in 0..<n {
            let a = hull[i], b = hull[(i + 1) % n]
            if (b.x - a.x) * (y - a.y) - (b.y - a.y) * (x - a.x) < 0 { return false }
        }
        return true
    }
    let sub = 4
    for y in minY...maxY {
        for x in minX...maxX {
            var hits = 0
            for sy in 0..<sub {
                for sx in 0..<sub {
                    let px = Double(x) - 0.5 + (Double(sx) + 0.5) / Double(sub)
                    let py = Double(y) - 0.5 + (Double(sy) + 0.5) / Double(sub)
                    if inside(px, py) { hits += 1 }
                }
            }
            out.pixels[y * size + x] = UInt8((hits * 255 + sub * sub / 2) / (sub * sub))
        }
    }
    return out
}
