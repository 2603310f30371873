/// The fast mask operations against the straightforward ones they replaced, on real masks.
import XCTest
import FacetCore
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

/// MaskOps.morph and MaskOps.gaussianBlur as they were before they were rewritten for speed
/// (commit 917bf58): a scalar van Herk / Gil-Werman pass per row offset of the ellipse, and a
/// per-pixel separable blur. The reference the fast versions must equal exactly.
enum MaskOpsReference {
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

final class MaskOpsTests: XCTestCase {
    /// Real merge masks: the landmark hull of stored dst faces, alone and times a grey level
    /// (the aligned face's red channel, standing in for a learned mask), after the merge's noise
    /// cut, at the mask resolutions of `tiny` (256) and Quick96 (384).
    func realMasks() throws -> [(String, Plane)] {
        var masks: [(String, Plane)] = []
        for res in [64, 96] {
            let compositor = FaceCompositor(options: MergeOptions(), resolution: res)
            for index in [0, 37] {
                let face = MergeFixture.face(index)
                let hull = compositor.hullMask(face)
                masks.append(("hull \(res) frame \(index)", hull))
                let aligned = compositor.alignedFace(from: try MergeFixture.frame(index), face: face)
                var grey = compositor.upsampled(aligned, to: compositor.maskResolution)
                for i in grey.values.indices { grey.values[i] *= hull.values[i] }
                for i in grey.values.indices where grey.values[i] < 1 / 255 { grey.values[i] = 0 }
                masks.append(("grey x hull \(res) frame \(index)", grey))
            }
        }
        // A mask touching the plane's edges (erosion there reads outside the plane).
        var edge = Plane(width: 96, height: 80)
        for y in 0..<80 { for x in 0..<96 where x < 60 || y > 50 { edge.values[y * 96 + x] = Float((x * 7 + y * 3) % 11) / 10 } }
        masks.append(("edges", edge))
        return masks
    }

    func testMorphEqualsTheReferenceOnRealMasks() throws {
        for (name, mask) in try realMasks() {
            for amount in [10, 40, 7, 2, 3, 1] {
                for erode in [true, false] {
                    var fast = mask, slow = mask
                    MaskOps.morph(&fast, diameter: amount, erode: erode)
                    MaskOpsReference.morph(&slow, diameter: amount, erode: erode)
                    XCTAssertEqual(fast.values, slow.values, "\(name) \(erode ? "erode" : "dilate") \(amount)")
                    if amount > 1 { XCTAssertNotEqual(fast.values, mask.values, "\(name) \(amount): the mask should change") }
                }
            }
        }
    }

    func testGaussianBlurEqualsTheReferenceOnRealMasks() throws {
        for (name, mask) in try realMasks() {
            for size in [21, 41, 3, 61, 101] {
                var fast = mask, slow = mask
                MaskOps.gaussianBlur(&fast, size: size)
                MaskOpsReference.gaussianBlur(&slow, size: size)
                XCTAssertEqual(fast.values, slow.values, "\(name) blur \(size)")
            }
        }
    }

    /// The merge's whole mask processing (erode 10, blur 20 as the benchmark), timed both ways
    /// on the Quick96 masks; prints the ratio (no assertion on time: the machine is shared).
    func testProcessEqualsTheReferenceAndTimes() throws {
        let masks = try realMasks().filter { $0.1.width == 384 }
        func reference(_ m: inout Plane) {
            MaskOpsReference.morph(&m, diameter: 10, erode: true)
            let w = m.width, h = m.height
            for y in 0..<h { for x in 0..<w where y < 10 || y >= h - 10 || x < 10 || x >= w - 10 { m.values[y * w + x] = 0 } }
            MaskOpsReference.gaussianBlur(&m, size: 21)
            for i in m.values.indices { m.values[i] = min(1, max(0, m.values[i])) }
        }
        for (name, mask) in masks {
            var fast = mask, slow = mask
            MaskOps.process(&fast, erode: 10, blur: 20)
            reference(&slow)
            XCTAssertEqual(fast.values, slow.values, name)
        }
        var fastTime = 0.0, slowTime = 0.0
        for _ in 0..<10 {
            for (_, mask) in masks {
                var a = mask, b = mask
                let t0 = clockSeconds()
                MaskOps.process(&a, erode: 10, blur: 20)
                let t1 = clockSeconds()
                reference(&b)
                fastTime += t1 - t0; slowTime += clockSeconds() - t1
            }
        }
        let n = Double(10 * masks.count)
        print(String(format: "MaskOps.process erode 10 blur 20 at 384 px, thread CPU time per mask: fast %.3f ms, reference %.3f ms (%.1fx)",
                     fastTime / n * 1000, slowTime / n * 1000, slowTime / max(fastTime, 1e-9)))
    }

    /// CPU time of this thread, in seconds (not wall time: the machine is shared).
    func clockSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
