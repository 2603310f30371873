/// Merge masks: the landmark hull, erosion/dilation by an ellipse and Gaussian blur, as DeepFaceLab's MergeMasked does.
import FacetCore
import FacetVision
import Foundation

/// A single-channel float plane (mask values 0...1), row-major. Internal working storage of the merge.
@_spi(Benchmarks) public struct Plane: Sendable, Equatable {
    /// Columns.
    public let width: Int
    /// Rows.
    public let height: Int
    /// The values, row after row.
    public var values: [Float]

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
                // Whether the row has any value above the threshold, 16 at a time: most rows of a mask
                // are empty or full, and only rows with such a value are searched for their ends.
                var found = false
                var x = 0
                if let base = v.baseAddress {
                    let limit = SIMD16<Float>(repeating: threshold)
                    while x + 16 <= width {
                        let chunk = UnsafeRawPointer(base + row + x).loadUnaligned(as: SIMD16<Float>.self)
                        if any(chunk .> limit) { found = true; break }
                        x += 16
                    }
                }
                while !found && x < width { found = v[row + x] > threshold; x += 1 }
                guard found else { continue }
                var first = 0, last = width - 1
                while !(v[row + first] > threshold) { first += 1 }
                while !(v[row + last] > threshold) { last -= 1 }
                x0 = min(x0, first); x1 = max(x1, last)
                y0 = min(y0, y); y1 = y
            }
        }
        return x1 < 0 ? nil : (x0, y0, x1, y1)
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
                // The strip alone: whole rows at the top and bottom, both ends of the rows between.
                let c = min(clip, w, h)
                for y in 0..<h {
                    if y < c || y >= h - c {
                        for x in 0..<w { v[y * w + x] = 0 }
                    } else {
                        for x in 0..<c { v[y * w + x] = 0; v[y * w + w - 1 - x] = 0 }
                    }
                }
            }
        }
        if blur > 0 { gaussianBlur(&mask, size: blur + (1 - blur % 2)) }
        mask.values.withUnsafeMutableBufferPointer { v in
            for i in 0..<v.count { v[i] = min(1, max(0, v[i])) }
        }
    }

    /// Grey-level erosion (minimum) or dilation (maximum) over an ellipse `diameter` pixels across
    /// (its runs' half-widths by row offset as OpenCV's MORPH_ELLIPSE, closely). Outside the plane
    /// counts as 0 along rows; for erosion, an ellipse reaching above or below the plane gives 0.
    /// Only the mask's bounds (erosion) or the bounds grown by the radius (dilation) can change.
    ///
    /// The ellipse is a stack of horizontal runs whose half-widths shrink with the row offset, so
    /// each source row's running extremes of every half-width 0...reach come one from the other
    /// (half-width k = half-width k-1 and the two pixels k away) and are kept for the half-widths
    /// the ellipse uses; each output row is then the extreme of 2 reach + 1 kept rows. Every step
    /// is a straight loop over a row, which the compiler vectorises. Cost: O(reach x area of the
    /// bounds); min and max are exact, so the result is the same as any other order of comparisons.
    static func morph(_ mask: inout Plane, diameter: Int, erode: Bool) {
        if erode { morph(&mask, diameter: diameter, MinimumOp.self) } else { morph(
            &mask, diameter: diameter, MaximumOp.self) }
    }

    private static func morph<Op: ExtremeOp>(_ mask: inout Plane, diameter: Int, _: Op.Type) {
        guard diameter > 1, let b = mask.bounds() else { return }
        let erode = Op.erodes
        let w = mask.width, h = mask.height
        let r = Double(diameter) / 2
        let reach = Int(r)
        // Rows and columns that can change: for erosion, inside the bounds; for dilation, around them.
        let x0 = erode ? b.x0 : max(0, b.x0 - reach), x1 = erode ? b.x1 : min(w - 1, b.x1 + reach)
        let y0 = erode ? b.y0 : max(0, b.y0 - reach), y1 = erode ? b.y1 : min(h - 1, b.y1 + reach)
        // Half-widths of the ellipse's runs by row offset (OpenCV's MORPH_ELLIPSE, closely).
        var halfWidths: [Int] = []
        for dy in 0...reach {
            let t = Double(dy) / max(r, 1)
            halfWidths.append(t >= 1 ? (dy == 0 ? reach : 0) : Int((r * (1 - t * t).squareRoot()).rounded(.down)))
        }
        let maxHalfWidth = halfWidths.max()!
        // Kept half-widths: slot of each (or -1).
        var slot = [Int](repeating: -1, count: maxHalfWidth + 1)
        var slots = 0
        for hw in halfWidths where slot[hw] < 0 { slot[hw] = slots; slots += 1 }
        let cols = x1 - x0 + 1
        let rowLo = max(0, y0 - reach), rowHi = min(h - 1, y1 + reach), rows = rowHi - rowLo + 1
        // kept[s][(sy - rowLo) * cols + i]: extreme of row sy over x0 + i - hw ... x0 + i + hw.
        var kept = [Float](repeating: 0, count: slots * rows * cols)
        var padded = [Float](repeating: 0, count: cols + 2 * maxHalfWidth)
        var running = [Float](repeating: 0, count: cols)
        var result = erode ? [Float](repeating: 0, count: w * h) : mask.values
        mask.values.withUnsafeBufferPointer { srcBuffer in
            let src = srcBuffer.baseAddress!
            kept.withUnsafeMutableBufferPointer { keptBuffer in
                let keep = keptBuffer.baseAddress!
                padded.withUnsafeMutableBufferPointer { padBuffer in
                    running.withUnsafeMutableBufferPointer { runBuffer in
                        let pad = padBuffer.baseAddress!, run = runBuffer.baseAddress!
                        for sy in rowLo...rowHi {
                            // pad[j] = src[sy, x0 - maxHalfWidth + j], 0 outside the plane.
                            let first = x0 - maxHalfWidth
                            for j in 0..<(cols + 2 * maxHalfWidth) {
                                let x = first + j
                                pad[j] = x >= 0 && x < w ? src[sy * w + x] : 0
                            }
                            let centre = pad + maxHalfWidth
                            run.update(from: centre, count: cols)
                            for hw in 0...maxHalfWidth {
                                if hw > 0 {
                                    let left = centre - hw, right = centre + hw
                                    for i in 0..<cols { run[i] = Op.pick(run[i], Op.pick(left[i], right[i])) }
                                }
                                if slot[hw] >= 0 {
                                    (keep + (slot[hw] * rows + sy - rowLo) * cols).update(from: run, count: cols)
                                }
                            }
                        }
                    }
                }
                result.withUnsafeMutableBufferPointer { outBuffer in
                    let out = outBuffer.baseAddress!
                    for oy in y0...y1 {
                        let acc = out + oy * w + x0
                        acc.update(repeating: Op.start, count: cols)
                        for dy in 0...reach {
                            let base = keep + slot[halfWidths[dy]] * rows * cols
                            for side in 0..<(dy == 0 ? 1 : 2) {
                                let sy = side == 0 ? oy - dy : oy + dy
                                guard sy >= 0 && sy < h else { continue }
                                let line = base + (sy - rowLo) * cols
                                for i in 0..<cols { acc[i] = Op.pick(acc[i], line[i]) }
                            }
                            // A run reaching above or below the plane sees 0 there (erosion).
                            if erode && (oy - dy < 0 || oy + dy >= h) { acc.update(repeating: 0, count: cols) }
                        }
                    }
                }
            }
        }
        mask.values = result
    }

    /// cv2.GaussianBlur with a `size x size` kernel and sigma from the size (OpenCV's rule),
    /// separable, zero outside. Only the mask's bounds grown by the kernel's reach are computed.
    /// Each output value is the sum of its taps in kernel order, as a per-pixel loop would add
    /// them; the loops run tap by tap over whole rows so that they vectorise.
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
        // Columns whose taps all lie inside the plane.
        let inLo = max(x0, radius), inHi = min(x1, w - 1 - radius)
        var horizontal = [Float](repeating: 0, count: w * h)
        mask.values.withUnsafeBufferPointer { srcBuffer in
            horizontal.withUnsafeMutableBufferPointer { hzBuffer in
                kernel.withUnsafeBufferPointer { kr in
                    let src = srcBuffer.baseAddress!, hz = hzBuffer.baseAddress!
                    // Rows outside the bounds are all zero: only rows b.y0...b.y1 need the pass.
                    for y in b.y0...b.y1 {
                        let row = src + y * w, out = hz + y * w
                        // Near the plane's sides: the taps that fall inside it.
                        for x in x0...x1 where x < inLo || x > inHi {
                            var acc: Float = 0
                            let lo = max(-radius, -x), hi = min(radius, w - 1 - x)
                            var d = lo
                            while d <= hi { acc += kr[d + radius] * row[x + d]; d += 1 }
                            out[x] = acc
                        }
                        guard inLo <= inHi else { continue }
                        let n = inHi - inLo + 1, o = out + inLo
                        o.update(repeating: 0, count: n)
                        for d in -radius...radius {
                            let k = kr[d + radius], s = row + inLo + d
                            for i in 0..<n { o[i] += k * s[i] }
                        }
                    }
                }
            }
        }
        var result = [Float](repeating: 0, count: w * h)
        horizontal.withUnsafeBufferPointer { hzBuffer in
            result.withUnsafeMutableBufferPointer { outBuffer in
                kernel.withUnsafeBufferPointer { kr in
                    let hz = hzBuffer.baseAddress!, out = outBuffer.baseAddress!
                    let n = x1 - x0 + 1
                    for y in y0...y1 {
                        let lo = max(-radius, -y, b.y0 - y), hi = min(radius, h - 1 - y, b.y1 - y)
                        if lo > hi { continue }
                        let o = out + y * w + x0
                        for d in lo...hi {
                            let k = kr[d + radius], s = hz + (y + d) * w + x0
                            for i in 0..<n { o[i] += k * s[i] }
                        }
                    }
                }
            }
        }
        mask.values = result
    }
}

/// The comparison of erosion (minimum, starting from 1) or dilation (maximum, from 0).
private protocol ExtremeOp {
    static var erodes: Bool { get }
    static var start: Float { get }
    static func pick(_ a: Float, _ b: Float) -> Float
}

private enum MinimumOp: ExtremeOp {
    static var erodes: Bool { true }
    static var start: Float { 1 }
    @inline(__always) static func pick(_ a: Float, _ b: Float) -> Float { min(a, b) }
}

private enum MaximumOp: ExtremeOp {
    static var erodes: Bool { false }
    static var start: Float { 0 }
    @inline(__always) static func pick(_ a: Float, _ b: Float) -> Float { max(a, b) }
}
