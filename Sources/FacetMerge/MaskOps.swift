/// Merge masks: the landmark hull, erosion/dilation by an ellipse and Gaussian blur, as DeepFaceLab's MergeMasked does.
import FacetCore
import FacetVision
import Foundation

/// A single-channel float plane (mask values 0...1), row-major. Internal working storage of the merge.
struct Plane: Sendable, Equatable {
    let width: Int
    let height: Int
    var values: [Float]

    init(width: Int, height: Int, value: Float = 0) {
        self.width = width
        self.height = height
        self.values = [Float](repeating: value, count: width * height)
    }

    init(width: Int, height: Int, values: [Float]) {
        precondition(values.count == width * height, "plane size mismatch")
        self.width = width; self.height = height; self.values = values
    }

    /// The tightest rectangle holding every value above `threshold`, or nil when there is none.
    func bounds(above threshold: Float = 0) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        var x0 = width, y0 = height, x1 = -1, y1 = -1
        values.withUnsafeBufferPointer { v in
            for y in 0..<height {
                let row = y * width
                var first = -1, last = -1
                for x in 0..<width where v[row + x] > threshold {
                    if first < 0 { first = x }
                    last = x
                }
                if first >= 0 {
                    x0 = min(x0, first); x1 = max(x1, last)
                    y0 = min(y0, y); y1 = y
                }
            }
        }
        return x1 < 0 ? nil : (x0, y0, x1, y1)
    }

    /// Bilinear sample at (x, y) in pixel-index coordinates; 0 outside.
    @inline(__always) func sample(_ x: Double, _ y: Double) -> Float {
        let xf = x.rounded(.down), yf = y.rounded(.down)
        let x0 = Int(xf), y0 = Int(yf)
        if x0 < -1 || y0 < -1 || x0 >= width || y0 >= height { return 0 }
        let ax = Float(x - xf), ay = Float(y - yf)
        func at(_ xx: Int, _ yy: Int) -> Float {
            (xx >= 0 && yy >= 0 && xx < width && yy < height) ? values[yy * width + xx] : 0
        }
        let top = at(x0, y0) + ax * (at(x0 + 1, y0) - at(x0, y0))
        let bottom = at(x0, y0 + 1) + ax * (at(x0 + 1, y0 + 1) - at(x0, y0 + 1))
        return top + ay * (bottom - top)
    }
}

enum MaskOps {
    /// The convex hull of `points` (pixel coordinates) filled with 1 on a `size x size` plane: a
    /// pixel is inside when its centre is (cv2.fillConvexPoly's rule, closely).
    static func hull(points: [Point2], size: Int) -> Plane {
        var plane = Plane(width: size, height: size)
        let hull = FacetVision.convexHull(points)
        guard hull.count >= 3 else { return plane }
        plane.values.withUnsafeMutableBufferPointer { v in
            for y in 0..<size {
                let fy = Double(y)
                var lo = Double.infinity, hi = -Double.infinity
                // Each hull edge crossing this row bounds the filled span.
                for i in 0..<hull.count {
                    let p = hull[i], q = hull[(i + 1) % hull.count]
                    if (p.y <= fy && q.y >= fy) || (q.y <= fy && p.y >= fy) {
                        if p.y == q.y {
                            lo = min(lo, min(p.x, q.x)); hi = max(hi, max(p.x, q.x))
                        } else {
                            let x = p.x + (fy - p.y) / (q.y - p.y) * (q.x - p.x)
                            lo = min(lo, x); hi = max(hi, x)
                        }
                    }
                }
                guard lo <= hi else { continue }
                let x0 = max(0, Int(lo.rounded(.up))), x1 = min(size - 1, Int(hi.rounded(.down)))
                if x0 <= x1 { for x in x0...x1 { v[y * size + x] = 1 } }
            }
        }
        return plane
    }

    /// DeepFaceLab's mask processing: erode (`amount` > 0) or dilate (< 0) with an ellipse of
    /// `|amount|` pixels across, zero a strip of `blur / 2` at the border so the blur fades to zero
    /// inside the square, Gaussian blur of `blur` pixels (made odd), clamp to 0...1.
    /// Outside the plane counts as 0, as DeepFaceLab's zero padding does.
    static func process(_ mask: inout Plane, erode amount: Int, blur: Int) {
        if amount > 0 { morph(&mask, diameter: amount, erode: true) }
        if amount < 0 { morph(&mask, diameter: -amount, erode: false) }
        let clip = blur / 2
        if clip > 0 {
            let w = mask.width, h = mask.height
            mask.values.withUnsafeMutableBufferPointer { v in
                for y in 0..<h {
                    for x in 0..<w where y < clip || y >= h - clip || x < clip || x >= w - clip { v[y * w + x] = 0 }
                }
            }
        }
        if blur > 0 { gaussianBlur(&mask, size: blur + (1 - blur % 2)) }
        mask.values.withUnsafeMutableBufferPointer { v in
            for i in 0..<v.count { v[i] = min(1, max(0, v[i])) }
        }
    }

    /// Grey-level erosion (minimum) or dilation (maximum) over an ellipse `diameter` pixels across:
    /// the ellipse is a stack of horizontal runs, so the result is the extreme, over each row offset,
    /// of a running horizontal extreme (van Herk / Gil-Werman, 3 comparisons a pixel whatever the width).
    /// Cost: O(diameter / 2 x area of the mask's bounds).
    static func morph(_ mask: inout Plane, diameter: Int, erode: Bool) {
        guard diameter > 1, let b = mask.bounds() else { return }
        let w = mask.width, h = mask.height
        let r = Double(diameter) / 2
        let reach = Int(r)
        // Rows and columns that can change: for erosion, inside the bounds; for dilation, around them.
        let x0 = erode ? b.x0 : max(0, b.x0 - reach), x1 = erode ? b.x1 : min(w - 1, b.x1 + reach)
        let y0 = erode ? b.y0 : max(0, b.y0 - reach), y1 = erode ? b.y1 : min(h - 1, b.y1 + reach)
        let source = mask.values
        var result = [Float](repeating: erode ? 1 : 0, count: w * h)
        var line = [Float](repeating: 0, count: w)
        var prefix = [Float](repeating: 0, count: w + 2 * reach + 1)
        var suffix = prefix
        // Half-widths of the ellipse's runs by row offset (OpenCV's MORPH_ELLIPSE, closely).
        var halfWidths: [Int] = []
        for dy in 0...reach {
            let t = Double(dy) / max(r, 1)
            halfWidths.append(t >= 1 ? (dy == 0 ? reach : 0) : Int((r * (1 - t * t).squareRoot()).rounded(.down)))
        }
        let outside: Float = 0
        source.withUnsafeBufferPointer { src in
            result.withUnsafeMutableBufferPointer { out in
                for dy in 0...reach {
                    let hw = halfWidths[dy]
                    if dy > 0 && Double(dy) > r { break }
                    let k = 2 * hw + 1
                    // Every source row that feeds an output row in [y0, y1] with this offset.
                    let rowsLo = max(0, y0 - dy), rowsHi = min(h - 1, y1 + dy)
                    if rowsLo > rowsHi { continue }
                    for sy in rowsLo...rowsHi {
                        // Running extreme of width k centred on each x of row sy, outside = 0.
                        let n = w + 2 * hw
                        prefix.withUnsafeMutableBufferPointer { pre in
                            suffix.withUnsafeMutableBufferPointer { suf in
                                func value(_ i: Int) -> Float {
                                    let x = i - hw
                                    return (x >= 0 && x < w) ? src[sy * w + x] : outside
                                }
                                var i = 0
                                while i < n {
                                    let end = min(n, i + k)
                                    var acc = value(i)
                                    pre[i] = acc
                                    var j = i + 1
                                    while j < end {
                                        let v = value(j)
                                        acc = erode ? min(acc, v) : max(acc, v)
                                        pre[j] = acc
                                        j += 1
                                    }
                                    acc = value(end - 1)
                                    suf[end - 1] = acc
                                    j = end - 2
                                    while j >= i {
                                        let v = value(j)
                                        acc = erode ? min(acc, v) : max(acc, v)
                                        suf[j] = acc
                                        j -= 1
                                    }
                                    i = end
                                }
                                line.withUnsafeMutableBufferPointer { ln in
                                    for x in x0...x1 {
                                        // Window [x, x + k - 1] in padded indices.
                                        let a = suf[x], c = pre[x + k - 1]
                                        ln[x] = erode ? min(a, c) : max(a, c)
                                    }
                                }
                            }
                        }
                        // This row feeds output rows sy - dy and sy + dy.
                        for side in 0..<(dy == 0 ? 1 : 2) {
                            let oy = side == 0 ? sy - dy : sy + dy
                            guard oy >= y0 && oy <= y1 else { continue }
                            line.withUnsafeBufferPointer { ln in
                                for x in x0...x1 {
                                    let q = oy * w + x
                                    out[q] = erode ? min(out[q], ln[x]) : max(out[q], ln[x])
                                }
                            }
                        }
                    }
                    // Rows whose run at this offset reaches outside the plane see 0 there.
                    if erode {
                        for oy in y0...y1 where oy - dy < 0 || oy + dy >= h {
                            for x in x0...x1 { out[oy * w + x] = 0 }
                        }
                    }
                }
                if erode {
                    // Outside the bounds the mask was 0 and stays 0.
                    for y in 0..<h {
                        for x in 0..<w where y < y0 || y > y1 || x < x0 || x > x1 { out[y * w + x] = 0 }
                    }
                } else {
                    for y in 0..<h {
                        for x in 0..<w where y < y0 || y > y1 || x < x0 || x > x1 { out[y * w + x] = src[y * w + x] }
                    }
                }
            }
        }
        mask.values = result
    }

    /// cv2.GaussianBlur with a `size x size` kernel and sigma from the size (OpenCV's rule),
    /// separable, zero outside. Only the mask's bounds grown by the kernel's reach are computed.
    static func gaussianBlur(_ mask: inout Plane, size: Int) {
        guard size > 1, let b = mask.bounds() else { return }
        let radius = size / 2
        let sigma = 0.3 * (Double(size - 1) * 0.5 - 1) + 0.8
        var kernel = (0..<size).map { i -> Float in
            let d = Double(i - radius)
            return Float(exp(-d * d / (2 * sigma * sigma)))
        }
        let total = kernel.reduce(0, +)
        for i in kernel.indices { kernel[i] /= total }
        let w = mask.width, h = mask.height
        let x0 = max(0, b.x0 - radius), x1 = min(w - 1, b.x1 + radius)
        let y0 = max(0, b.y0 - radius), y1 = min(h - 1, b.y1 + radius)
        var horizontal = [Float](repeating: 0, count: w * h)
        let source = mask.values
        source.withUnsafeBufferPointer { src in
            horizontal.withUnsafeMutableBufferPointer { hz in
                kernel.withUnsafeBufferPointer { kr in
                    // Rows outside the bounds are all zero: only rows b.y0...b.y1 need the pass.
                    for y in b.y0...b.y1 {
                        for x in x0...x1 {
                            var acc: Float = 0
                            let lo = max(-radius, -x), hi = min(radius, w - 1 - x)
                            var d = lo
                            while d <= hi { acc += kr[d + radius] * src[y * w + x + d]; d += 1 }
                            hz[y * w + x] = acc
                        }
                    }
                }
            }
        }
        var out = [Float](repeating: 0, count: w * h)
        horizontal.withUnsafeBufferPointer { hz in
            out.withUnsafeMutableBufferPointer { o in
                kernel.withUnsafeBufferPointer { kr in
                    for y in y0...y1 {
                        let lo = max(-radius, -y, b.y0 - y), hi = min(radius, h - 1 - y, b.y1 - y)
                        if lo > hi { continue }
                        for x in x0...x1 {
                            var acc: Float = 0
                            var d = lo
                            while d <= hi { acc += kr[d + radius] * hz[(y + d) * w + x]; d += 1 }
                            o[y * w + x] = acc
                        }
                    }
                }
            }
        }
        mask.values = out
    }
}
