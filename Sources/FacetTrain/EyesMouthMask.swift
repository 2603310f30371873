/// The eyes-and-mouth priority mask: where DeepFaceLab's `eyes_mouth_prio` puts its extra loss weight.
import FacetCore
import FacetVision

/// A `size x size` grey mask (255 inside) of the two eyes and the mouth from 68 landmarks in the mask's pixel
/// coordinates: the convex hulls of points 36-41, 42-47 and 48-59, each grown by `size / 32` pixels (as DeepFaceLab
/// dilates its eye and mouth masks by `w // 32`), edge pixels covered in proportion (4x4 supersampling).
func eyesMouthMask(landmarksInFace points: [Point2], size: Int) -> Image {
    var out = Image(width: size, height: size, channels: 1)
    guard points.count == 68 else { return out }
    let grow = max(1, Double(size) / 32)
    for range in [36..<42, 42..<48, 48..<60] {
        let hull = convexHull(Array(points[range]))
        guard hull.count >= 3 else { continue }
        let n = hull.count
        let xs = hull.map(\.x), ys = hull.map(\.y)
        let minX = max(0, Int((xs.min()! - grow - 1).rounded(.down)))
        let maxX = min(size - 1, Int((xs.max()! + grow + 1).rounded(.up)))
        let minY = max(0, Int((ys.min()! - grow - 1).rounded(.down)))
        let maxY = min(size - 1, Int((ys.max()! + grow + 1).rounded(.up)))
        guard minX <= maxX, minY <= maxY else { continue }
        // Inside the hull (positive turns), or within `grow` of one of its edges.
        func covered(_ x: Double, _ y: Double) -> Bool {
            var inside = true
            for i in 0..<n {
                let a = hull[i], b = hull[(i + 1) % n]
                let ex = b.x - a.x, ey = b.y - a.y, px = x - a.x, py = y - a.y
                if ex * py - ey * px < 0 { inside = false }
                let len2 = ex * ex + ey * ey
                let t = len2 > 0 ? min(1, max(0, (px * ex + py * ey) / len2)) : 0
                let dx = px - t * ex, dy = py - t * ey
                if dx * dx + dy * dy <= grow * grow { return true }
            }
            return inside
        }
        let sub = 4
        for y in minY...maxY {
            for x in minX...maxX {
                var hits = 0
                for sy in 0..<sub {
                    for sx in 0..<sub where covered(Double(x) - 0.5 + (Double(sx) + 0.5) / Double(sub),
                                                    Double(y) - 0.5 + (Double(sy) + 0.5) / Double(sub)) {
                        hits += 1
                    }
                }
                let v = UInt8((hits * 255 + sub * sub / 2) / (sub * sub))
                out.pixels[y * size + x] = max(out.pixels[y * size + x], v)
            }
        }
    }
    return out
}
