/// Carrying points from one face to another through their landmarks: moving least squares (affine), so that a point
/// on a landmark lands on the other face's landmark, a point among landmarks follows them, and a point far from all
/// of them moves with the faces' overall affine transform.

/// The smooth map that takes landmarks `from[i]` exactly to `to[i]` and every other point by the affine transform
/// fitted with weights 1 / distance^2 to the point (Schaefer, McPhail and Warren, "Image deformation using moving
/// least squares", 2006, affine form with alpha = 1).
public struct LandmarkWarp: Sendable {
    /// The control points on the first face and where they go on the second.
    public let from: [Point2], to: [Point2]

    /// A warp over matching, non-empty point lists.
    public init(from: [Point2], to: [Point2]) {
        precondition(from.count == to.count && !from.isEmpty, "LandmarkWarp needs matching, non-empty point lists")
        self.from = from; self.to = to
    }

    /// Where `v` goes.
    public func apply(_ v: Point2) -> Point2 {
        var sw = 0.0, px = 0.0, py = 0.0, qx = 0.0, qy = 0.0
        var weights = [Double](repeating: 0, count: from.count)
        for i in from.indices {
            let dx = from[i].x - v.x, dy = from[i].y - v.y, d2 = dx * dx + dy * dy
            if d2 < 1e-12 { return to[i] }
            let w = 1 / d2
            weights[i] = w
            sw += w; px += w * from[i].x; py += w * from[i].y; qx += w * to[i].x; qy += w * to[i].y
        }
        px /= sw; py /= sw; qx /= sw; qy /= sw
        // A = sum w p^T p, B = sum w p^T q over the centred points (row vectors); f(v) = (v - p*) A^-1 B + q*.
        var a00 = 0.0, a01 = 0.0, a11 = 0.0, b00 = 0.0, b01 = 0.0, b10 = 0.0, b11 = 0.0
        for i in from.indices {
            let w = weights[i]
            let hx = from[i].x - px, hy = from[i].y - py, gx = to[i].x - qx, gy = to[i].y - qy
            a00 += w * hx * hx; a01 += w * hx * hy; a11 += w * hy * hy
            b00 += w * hx * gx; b01 += w * hx * gy; b10 += w * hy * gx; b11 += w * hy * gy
        }
        let det = a00 * a11 - a01 * a01
        let dx = v.x - px, dy = v.y - py
        // Control points on one line give no affine fit: move with their weighted centre.
        guard abs(det) > 1e-12 * max(1, a00 * a11) else { return Point2(dx + qx, dy + qy) }
        let i00 = a11 / det, i01 = -a01 / det, i11 = a00 / det
        let rx = dx * i00 + dy * i01, ry = dx * i01 + dy * i11
        return Point2(rx * b00 + ry * b10 + qx, rx * b01 + ry * b11 + qy)
    }
}
