/// The kernels MTCNN's networks run on: convolution (direct SIMD; im2col + sgemm in debug builds), TF max pooling,
/// INTER_AREA resampling.
import CCPUFeatures
import COpenBLAS
import FacetCore
import FacetKernelsAVX512
import Foundation

/// Which direct-convolution kernel release builds run: the AVX-512 one (FacetKernelsAVX512, six pixels x
/// 32 channels in ZMM registers) where the processor and OS support it, else the AVX2 one here.
/// `FACET_NO_AVX512=1` forces the AVX2 kernel (for comparisons).
enum ConvKernel {
    static let avx512Available = facet_cpu_has_avx512() != 0
    static let useAVX512 = avx512Available && ProcessInfo.processInfo.environment["FACET_NO_AVX512"] == nil
}

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

/// A stride-1, VALID-padded convolution with bias and optional per-channel PReLU, computed
/// directly (no im2col): each step of the micro-kernel broadcasts one input value of each of six
/// output pixels' patches and multiplies it by 16 output channels' weights (twelve FMAs on
/// AVX2 registers). Output channels go in blocks of 16, the weights packed `[block][K][16]`
/// (zero-padded), `K = kh * kw * cin` in Keras's `(dy, dx, c)` order. Cost: `K * ceil(cout / 16) * 16`
/// multiply-adds per output pixel, no allocation.
///
/// Debug builds (what `swift test` runs) leave Swift's SIMD generics unspecialised, some 30x slower
/// than optimised code, which would make every detection in the test suites take most of a minute.
/// So debug builds multiply with OpenBLAS instead (im2col + sgemm, prebuilt and fast in any build);
/// the kernel tests check both paths against plain loops in every build.
struct ConvLayer: Sendable {
    static let lanes = 16
    typealias Vector = SIMD16<Float>

    let kh: Int, kw: Int, cin: Int, cout: Int
    let blocks: Int
    /// `[block][K][16]`.
    let packed: WeightBuffer
    /// Keras's `[K, cout]`, for the sgemm path.
    let matrix: WeightBuffer
    /// `[block * 16]`, zero-padded.
    let bias: WeightBuffer
    /// PReLU slopes `[block * 16]`; nil for a linear layer.
    let alpha: WeightBuffer?

    /// `weight` is Keras's `[kh, kw, cin, cout]`, row-major.
    init(kh: Int, kw: Int, cin: Int, cout: Int, weight: [Float], bias: [Float], alpha: [Float]?) {
        precondition(weight.count == kh * kw * cin * cout && bias.count == cout && (alpha?.count ?? cout) == cout)
        self.kh = kh; self.kw = kw; self.cin = cin; self.cout = cout
        let lanes = Self.lanes
        let blocks = (cout + lanes - 1) / lanes
        self.blocks = blocks
        let k = kh * kw * cin
        var packed = [Float](repeating: 0, count: blocks * k * lanes)
        for b in 0..<blocks {
            for i in 0..<k {
                for l in 0..<lanes where b * lanes + l < cout {
                    packed[(b * k + i) * lanes + l] = weight[i * cout + b * lanes + l]
                }
            }
        }
        func padded(_ v: [Float]) -> [Float] { v + [Float](repeating: 0, count: blocks * lanes - cout) }
        self.packed = WeightBuffer(packed)
        self.matrix = WeightBuffer(weight)
        self.bias = WeightBuffer(padded(bias))
        self.alpha = alpha.map { WeightBuffer(padded($0)) }
    }

    var patchSize: Int { kh * kw * cin }

    /// `n` maps of `h x w x cin` in, `n` maps of `(h - kh + 1) x (w - kw + 1) x cout` out.
    func forward(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, into output: UnsafeMutablePointer<Float>) {
        #if DEBUG
        forwardGEMM(input, n: n, h: h, w: w, into: output)
        #else
        if ConvKernel.useAVX512 {
            forwardAVX512(input, n: n, h: h, w: w, into: output)
        } else {
            forwardDirect(input, n: n, h: h, w: w, into: output)
        }
        #endif
    }

    /// The AVX-512 kernel; only call where `ConvKernel.avx512Available`. Bit-identical to `forwardDirect`.
    func forwardAVX512(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int,
                       into output: UnsafeMutablePointer<Float>) {
        convDirectAVX512(input, n: n, h: h, w: w, kh: kh, kw: kw, cin: cin, cout: cout,
                         packed: packed.pointer, bias: bias.pointer, alpha: alpha.map { UnsafePointer($0.pointer) },
                         into: output)
    }

    /// The SIMD kernel: what release builds run.
    func forwardDirect(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int,
                       into output: UnsafeMutablePointer<Float>) {
        let outH = h - kh + 1, outW = w - kw + 1
        precondition(outH > 0 && outW > 0, "convolution input \(h)x\(w) smaller than its \(kh)x\(kw) kernel")
        let total = n * outH * outW
        let k = patchSize, run = kw * cin, rowStride = w * cin
        // Raw pointers hoisted out of the loops: touching the buffers' class references in the
        // loops would retain and release them per pixel.
        let weightBase = UnsafePointer(packed.pointer), biasBase = UnsafePointer(bias.pointer)
        let alphaBase = alpha.map { UnsafePointer($0.pointer) }
        let cout = self.cout
        /// Where output pixel `q` (in batch, row, column order) reads its patch.
        @inline(__always) func patch(_ q: Int) -> UnsafePointer<Float> {
            let t = q / outH / outW * h + (q / outW) % outH
            return input + t * rowStride + (q % outW) * cin
        }
        // The output pixels are taken six at a time in storage order, across row and map
        // boundaries, so narrow maps (R-Net, O-Net) keep the full tile busy. A last short group
        // repeats its final pixel and stores only the real ones.
        var q = 0
        while q < total {
            let valid = min(6, total - q)
            let p0 = patch(q)
            let p1 = valid > 1 ? patch(q + 1) : p0
            let p2 = valid > 2 ? patch(q + 2) : p1
            let p3 = valid > 3 ? patch(q + 3) : p2
            let p4 = valid > 4 ? patch(q + 4) : p3
            let p5 = valid > 5 ? patch(q + 5) : p4
            for block in 0..<blocks {
                let offset = block * Self.lanes, count = min(Self.lanes, cout - offset)
                let acc = Self.tile6((p0, p1, p2, p3, p4, p5), rowStride: rowStride, kh: kh, run: run,
                                     weights: weightBase + block * k * Self.lanes)
                let biasVector = UnsafeRawPointer(biasBase + offset).loadUnaligned(as: Vector.self)
                let slope = alphaBase.map { UnsafeRawPointer($0 + offset).loadUnaligned(as: Vector.self) }
                let out = output + q * cout + offset
                Self.store(acc.0, out, count: count, bias: biasVector, slope: slope)
                if valid > 1 { Self.store(acc.1, out + cout, count: count, bias: biasVector, slope: slope) }
                if valid > 2 { Self.store(acc.2, out + 2 * cout, count: count, bias: biasVector, slope: slope) }
                if valid > 3 { Self.store(acc.3, out + 3 * cout, count: count, bias: biasVector, slope: slope) }
                if valid > 4 { Self.store(acc.4, out + 4 * cout, count: count, bias: biasVector, slope: slope) }
                if valid > 5 { Self.store(acc.5, out + 5 * cout, count: count, bias: biasVector, slope: slope) }
            }
            q += 6
        }
    }

    /// Six output pixels x 16 channels: 12 accumulator registers; per step 2 weight loads and 6
    /// broadcasts feed 12 FMAs.
    @inline(__always)
    private static func tile6(_ p: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                    UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                              rowStride: Int, kh: Int, run: Int,
                              weights: UnsafePointer<Float>) -> (Vector, Vector, Vector, Vector, Vector, Vector) {
        var c0 = Vector(), c1 = Vector(), c2 = Vector(), c3 = Vector(), c4 = Vector(), c5 = Vector()
        var wp = UnsafeRawPointer(weights)
        for dy in 0..<kh {
            let d = dy * rowStride
            let a0 = p.0 + d, a1 = p.1 + d, a2 = p.2 + d, a3 = p.3 + d, a4 = p.4 + d, a5 = p.5 + d
            for i in 0..<run {
                let wv = wp.loadUnaligned(as: Vector.self)
                c0.addProduct(a0[i], wv)
                c1.addProduct(a1[i], wv)
                c2.addProduct(a2[i], wv)
                c3.addProduct(a3[i], wv)
                c4.addProduct(a4[i], wv)
                c5.addProduct(a5[i], wv)
                wp += MemoryLayout<Vector>.size
            }
        }
        return (c0, c1, c2, c3, c4, c5)
    }

    /// Bias, PReLU, and the block's `count` real channels into `dst`.
    @inline(__always)
    private static func store(_ acc: Vector, _ dst: UnsafeMutablePointer<Float>, count: Int, bias: Vector,
                              slope: Vector?) {
        var v = acc + bias
        if let slope { v = v.replacing(with: v * slope, where: v .< Vector()) }
        if count == lanes {
            UnsafeMutableRawPointer(dst).storeBytes(of: v, as: Vector.self)
        } else {
            for l in 0..<count { dst[l] = v[l] }
        }
    }

    /// im2col + sgemm with OpenBLAS, then bias and PReLU: what debug builds run. The im2col rows
    /// go through a scratch buffer of a few hundred KB, one chunk of output rows at a time.
    func forwardGEMM(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int, into output: UnsafeMutablePointer<Float>) {
        let outH = h - kh + 1, outW = w - kw + 1
        precondition(outH > 0 && outW > 0, "convolution input \(h)x\(w) smaller than its \(kh)x\(kw) kernel")
        let k = patchSize
        let weights = UnsafePointer(matrix.pointer)
        if kh == 1 && kw == 1 {
            // 1x1: the input already is the im2col matrix.
            let m = n * h * w
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(cout), Int32(k),
                        1, input, Int32(k), weights, Int32(cout), 0, output, Int32(cout))
            biasAndActivation(output, rows: m)
            return
        }
        let rowFloats = outW * k
        let rowsPerChunk = max(1, (1 << 16) / rowFloats)
        let totalRows = n * outH, run = kw * cin
        withUnsafeTemporaryAllocation(of: Float.self, capacity: rowsPerChunk * rowFloats) { scratch in
            var row = 0
            while row < totalRows {
                let rows = min(rowsPerChunk, totalRows - row)
                // Each output pixel's patch is kh runs of kw * cin contiguous input floats.
                var dst = scratch.baseAddress!
                for t in row..<(row + rows) {
                    let b = t / outH, r = t % outH
                    for c in 0..<outW {
                        for dy in 0..<kh {
                            dst.update(from: input + ((b * h + r + dy) * w + c) * cin, count: run)
                            dst += run
                        }
                    }
                }
                let m = rows * outW
                let out = output + row * outW * cout
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(cout), Int32(k),
                            1, scratch.baseAddress!, Int32(k), weights, Int32(cout), 0, out, Int32(cout))
                biasAndActivation(out, rows: m)
                row += rows
            }
        }
    }

    /// Adds the bias and applies PReLU over `rows` pixels of sgemm output.
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

    /// A dense layer (`[in, out]` weights) over `n` rows of `in` values is this 1x1 convolution
    /// over a 1 x n map, so the six-pixel tile shares each weight load among six rows.
    func dense(_ input: UnsafePointer<Float>, n: Int, into output: UnsafeMutablePointer<Float>) {
        precondition(kh == 1 && kw == 1, "dense layers are 1x1 convolutions")
        forward(input, n: 1, h: 1, w: n, into: output)
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
        return (enlargingArea(source: sourceWidth, destination: width),
                enlargingArea(source: sourceHeight, destination: height))
    }
}

/// Resamples the `windowWidth x windowHeight` window at (originX, originY) of an RGB image (cells
/// outside the image read 0, as MTCNN's zero-padded crops do) to `width x height`, writing the
/// networks' input: `(v - 127.5) / 128`, transposed (`out[(x * height + y) * 3 + c]`) because the
/// networks were trained on transposed images. `rowScratch` needs `windowWidth * 3` floats.
/// Separable, vertical pass first: per output row, a weighted sum of whole source rows (contiguous,
/// vectorised), then the horizontal taps along that one row.
func resampleToNetworkInput(_ pixels: UnsafePointer<UInt8>, imageWidth: Int, imageHeight: Int,
                            originX: Int, originY: Int, windowWidth: Int, windowHeight: Int,
                            width: Int, height: Int, taps: (x: AxisTaps, y: AxisTaps),
                            into out: UnsafeMutablePointer<Float>, rowScratch: UnsafeMutablePointer<Float>) {
    // The part of each window row inside the image; the rest stays 0.
    let x0 = max(0, originX), x1 = min(imageWidth, originX + windowWidth)
    let rowFloats = windowWidth * 3
    let acc = rowScratch
    taps.y.starts.withUnsafeBufferPointer { ys in
    taps.y.indices.withUnsafeBufferPointer { yi in
    taps.y.weights.withUnsafeBufferPointer { yw in
    taps.x.starts.withUnsafeBufferPointer { xs in
    taps.x.indices.withUnsafeBufferPointer { xi in
    taps.x.weights.withUnsafeBufferPointer { xw in
        for oy in 0..<height {
            acc.update(repeating: 0, count: rowFloats)
            if x1 > x0 {
                let dst = acc + (x0 - originX) * 3
                let count = (x1 - x0) * 3
                for t in ys[oy]..<ys[oy + 1] {
                    let y = originY + yi[t]
                    guard y >= 0 && y < imageHeight else { continue }
                    let src = pixels + (y * imageWidth + x0) * 3, wt = yw[t]
                    for j in 0..<count { dst[j] += wt * Float(src[j]) }
                }
            }
            for ox in 0..<width {
                var r: Float = 0, g: Float = 0, b: Float = 0
                for t in xs[ox]..<xs[ox + 1] {
                    let p = acc + xi[t] * 3, wt = xw[t]
                    r += wt * p[0]; g += wt * p[1]; b += wt * p[2]
                }
                let dst = out + (ox * height + oy) * 3
                dst[0] = (r - 127.5) * 0.0078125
                dst[1] = (g - 127.5) * 0.0078125
                dst[2] = (b - 127.5) * 0.0078125
            }
        }
    }}}}}}
}
