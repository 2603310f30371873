/// The kernels MTCNN's three networks run on: convolution as im2col + sgemm with fused bias and PReLU,
/// max pooling by TensorFlow's SAME/VALID rules, and OpenCV-style INTER_AREA resampling.
import COpenBLAS
import FacetCore

/// Immutable float32 weights at a stable address, so kernels take raw pointers without copying.
final class WeightBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(_ values: [Float]) {
        count = values.count
        pointer = .allocate(capacity: max(1, values.count))
        values.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }
}

/// A stride-1, VALID-padded convolution followed by an optional per-channel PReLU. A dense layer
/// is the 1x1 case over a 1x1 map. Weights are Keras's `[kh, kw, cin, cout]`, which is exactly the
/// `[K, cout]` matrix an im2col row `(dy, dx, c)` multiplies.
struct ConvLayer: Sendable {
    let kh: Int, kw: Int, cin: Int, cout: Int
    let weight: WeightBuffer
    let bias: WeightBuffer
    /// PReLU slopes, one per output channel; nil for a linear layer.
    let alpha: WeightBuffer?

    var patchSize: Int { kh * kw * cin }

    /// `n` maps of `h x w x cin` in, `n` maps of `(h - kh + 1) x (w - kw + 1) x cout` out.
    /// `scratch` (`scratchCount` floats, at least one im2col row: `(w - kw + 1) * kh * kw * cin`)
    /// holds im2col rows in chunks, sized to stay in cache. Cost: one sgemm of
    /// `n * outH * outW x K x cout` in chunks, plus one pass over the output.
    func forward(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int,
                 into output: UnsafeMutablePointer<Float>,
                 scratch: UnsafeMutablePointer<Float>, scratchCount: Int) {
        let outH = h - kh + 1, outW = w - kw + 1
        precondition(outH > 0 && outW > 0, "convolution input \(h)x\(w) smaller than its \(kh)x\(kw) kernel")
        let k = patchSize
        if kh == 1 && kw == 1 {
            // 1x1: the input already is the im2col matrix.
            let m = n * h * w
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(cout), Int32(k),
                        1, input, Int32(k), weight.pointer, Int32(cout), 0, output, Int32(cout))
            biasAndActivation(output, rows: m)
            return
        }
        let rowFloats = outW * k
        precondition(scratchCount >= rowFloats, "im2col scratch of \(scratchCount) floats < one row of \(rowFloats)")
        let rowsPerChunk = max(1, scratchCount / rowFloats)
        let totalRows = n * outH
        let runLength = kw * cin
        var row = 0
        while row < totalRows {
            let rows = min(rowsPerChunk, totalRows - row)
            // Fill im2col rows: for each output pixel, kh runs of kw*cin contiguous input floats.
            var dst = scratch
            for t in row..<(row + rows) {
                let b = t / outH, r = t % outH
                for c in 0..<outW {
                    for dy in 0..<kh {
                        let src = input + ((b * h + r + dy) * w + c) * cin
                        dst.update(from: src, count: runLength)
                        dst += runLength
                    }
                }
            }
            let m = rows * outW
            let out = output + row * outW * cout
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(cout), Int32(k),
                        1, scratch, Int32(k), weight.pointer, Int32(cout), 0, out, Int32(cout))
            biasAndActivation(out, rows: m)
            row += rows
        }
    }

    /// Adds the bias and applies PReLU in one pass while the sgemm output is still in cache.
    @inline(__always)
    private func biasAndActivation(_ out: UnsafeMutablePointer<Float>, rows: Int) {
        let b = bias.pointer
        var p = out
        if let alpha {
            let a = alpha.pointer
            for _ in 0..<rows {
                for j in 0..<cout {
                    let v = p[j] + b[j]
                    p[j] = v > 0 ? v : v * a[j]
                }
                p += cout
            }
        } else {
            for _ in 0..<rows {
                for j in 0..<cout { p[j] += b[j] }
                p += cout
            }
        }
    }
}

/// TensorFlow's max pooling: VALID keeps whole windows; SAME gives ceil(in / stride) outputs with
/// the padding split floor-first, padded cells never winning.
struct MaxPool: Sendable {
    let size: Int
    let stride: Int
    let same: Bool

    /// Output length and leading padding along one axis of length `n`.
    func output(_ n: Int) -> (count: Int, padBefore: Int) {
        if same {
            let count = (n + stride - 1) / stride
            let padTotal = max((count - 1) * stride + size - n, 0)
            return (count, padTotal / 2)
        }
        return ((n - size) / stride + 1, 0)
    }

    /// `n` maps of `h x w x c` in; returns the output map size.
    @discardableResult
    func forward(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int,
                 into output: UnsafeMutablePointer<Float>) -> (h: Int, w: Int) {
        let (oh, padY) = self.output(h), (ow, padX) = self.output(w)
        var dst = output
        for b in 0..<n {
            let map = input + b * h * w * c
            for oy in 0..<oh {
                let y0 = max(0, oy * stride - padY), y1 = min(h, oy * stride - padY + size)
                for ox in 0..<ow {
                    let x0 = max(0, ox * stride - padX), x1 = min(w, ox * stride - padX + size)
                    // Every window holds at least one real cell: TF's padding never exceeds size - 1.
                    dst.update(from: map + (y0 * w + x0) * c, count: c)
                    for y in y0..<y1 {
                        for x in x0..<x1 where y != y0 || x != x0 {
                            let src = map + (y * w + x) * c
                            for j in 0..<c { dst[j] = max(dst[j], src[j]) }
                        }
                    }
                    dst += c
                }
            }
        }
        return (oh, ow)
    }
}

/// For each output position along one axis, the source indices and weights that make it up.
struct AxisTaps {
    /// `starts[i]..<starts[i + 1]` index `indices` and `weights` for output `i`.
    var starts: [Int] = [0]
    var indices: [Int] = []
    var weights: [Float] = []

    mutating func add(_ index: Int, _ weight: Float) { indices.append(index); weights.append(weight) }
    mutating func endOutput() { starts.append(indices.count) }

    /// OpenCV's INTER_AREA when shrinking (`computeResizeAreaTab`): each output averages the source
    /// cells its footprint covers, weighted by the overlap.
    static func area(source: Int, destination: Int) -> AxisTaps {
        var taps = AxisTaps()
        let scale = Double(source) / Double(destination)
        for d in 0..<destination {
            let f1 = Double(d) * scale, f2 = f1 + scale
            let cell = min(scale, Double(source) - f1)
            var s2 = Int(f2.rounded(.down))
            s2 = min(s2, source - 1)
            let s1 = min(Int(f1.rounded(.up)), s2)
            if Double(s1) - f1 > 1e-3 { taps.add(s1 - 1, Float((Double(s1) - f1) / cell)) }
            for s in s1..<max(s1, s2) { taps.add(s, Float(1 / cell)) }
            if f2 - Double(s2) > 1e-3 { taps.add(s2, Float(min(min(f2 - Double(s2), 1), cell) / cell)) }
            taps.endOutput()
        }
        return taps
    }

    /// OpenCV's INTER_AREA when enlarging: a two-tap filter that copies whole source cells and
    /// blends only across their borders; indices past the edges are clamped.
    static func enlargingArea(source: Int, destination: Int) -> AxisTaps {
        var taps = AxisTaps()
        let scale = Double(source) / Double(destination), inverse = Double(destination) / Double(source)
        for d in 0..<destination {
            var s = Int((Double(d) * scale).rounded(.down))
            var f = Float(Double(d + 1) - Double(s + 1) * inverse)
            f = f <= 0 ? 0 : f - f.rounded(.down)
            if s < 0 { s = 0; f = 0 }
            if s >= source - 1 { s = source - 1; f = 0 }
            taps.add(s, 1 - f)
            if f != 0 { taps.add(s + 1, f) }
            taps.endOutput()
        }
        return taps
    }

    /// The taps `cv2.resize(..., interpolation=INTER_AREA)` uses: true area averaging only when
    /// neither axis grows.
    static func pair(sourceWidth: Int, sourceHeight: Int, width: Int, height: Int) -> (x: AxisTaps, y: AxisTaps) {
        if sourceWidth >= width && sourceHeight >= height {
            return (area(source: sourceWidth, destination: width), area(source: sourceHeight, destination: height))
        }
        return (enlargingArea(source: sourceWidth, destination: width), enlargingArea(source: sourceHeight, destination: height))
    }
}

/// Resamples the `windowWidth x windowHeight` window at (originX, originY) of an RGB image (cells
/// outside the image read 0, as MTCNN's zero-padded crops do) to `width x height`, writing the
/// networks' input: `(v - 127.5) / 128`, transposed (`out[(x * height + y) * 3 + c]`) because the
/// networks were trained on transposed images. `rowScratch` needs `windowHeight * width * 3 + width * 3`
/// floats. Separable: a horizontal pass per window row, then a vertical pass per output row.
func resampleToNetworkInput(_ pixels: UnsafePointer<UInt8>, imageWidth: Int, imageHeight: Int,
                            originX: Int, originY: Int, windowWidth: Int, windowHeight: Int,
                            width: Int, height: Int, taps: (x: AxisTaps, y: AxisTaps),
                            into out: UnsafeMutablePointer<Float>, rowScratch: UnsafeMutablePointer<Float>) {
    let rowFloats = width * 3
    let horizontal = rowScratch
    let accumulator = rowScratch + windowHeight * rowFloats
    taps.x.starts.withUnsafeBufferPointer { xs in
    taps.x.indices.withUnsafeBufferPointer { xi in
    taps.x.weights.withUnsafeBufferPointer { xw in
        for v in 0..<windowHeight {
            let dst = horizontal + v * rowFloats
            let y = originY + v
            guard y >= 0 && y < imageHeight else {
                dst.update(repeating: 0, count: rowFloats)
                continue
            }
            let row = pixels + y * imageWidth * 3
            for ox in 0..<width {
                var r: Float = 0, g: Float = 0, b: Float = 0
                for t in xs[ox]..<xs[ox + 1] {
                    let x = originX + xi[t]
                    guard x >= 0 && x < imageWidth else { continue }
                    let p = row + x * 3, wt = xw[t]
                    r += wt * Float(p[0]); g += wt * Float(p[1]); b += wt * Float(p[2])
                }
                dst[ox * 3] = r; dst[ox * 3 + 1] = g; dst[ox * 3 + 2] = b
            }
        }
    }}}
    taps.y.starts.withUnsafeBufferPointer { ys in
    taps.y.indices.withUnsafeBufferPointer { yi in
    taps.y.weights.withUnsafeBufferPointer { yw in
        for oy in 0..<height {
            accumulator.update(repeating: 0, count: rowFloats)
            for t in ys[oy]..<ys[oy + 1] {
                let src = horizontal + yi[t] * rowFloats, wt = yw[t]
                for j in 0..<rowFloats { accumulator[j] += wt * src[j] }
            }
            for ox in 0..<width {
                let dst = out + (ox * height + oy) * 3
                dst[0] = (accumulator[ox * 3] - 127.5) * 0.0078125
                dst[1] = (accumulator[ox * 3 + 1] - 127.5) * 0.0078125
                dst[2] = (accumulator[ox * 3 + 2] - 127.5) * 0.0078125
            }
        }
    }}}
}
