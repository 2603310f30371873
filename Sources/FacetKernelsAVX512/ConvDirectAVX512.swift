/// MTCNN's direct convolution compiled for AVX-512 (this module alone is built with
/// `-target-cpu skylake-avx512`; callers check `facet_cpu_has_avx512()` before calling in).
///
/// The same arithmetic as FacetVision's AVX2 kernel (`ConvLayer.forwardDirect`): per output lane,
/// the same fused multiply-adds in the same order over the same packed weights, so both give
/// bit-identical outputs. What changes is the tile: a `SIMD16<Float>` is one ZMM register here, so
/// six pixels x 32 channels (two weight blocks) keep twelve independent accumulators in flight, enough
/// to hide the FMA latency on both FMA ports; a single 16-channel block takes eight pixels at a time.
public typealias Vector16 = SIMD16<Float>

/// A stride-1, VALID convolution with bias and optional per-channel PReLU.
/// - `packed`: weights `[block][K][16]`, `K = kh * kw * cin` in `(dy, dx, c)` order, zero-padded lanes.
/// - `bias`, `alpha`: `[blocks * 16]`, zero-padded; `alpha` nil for a linear layer.
/// - `input`: `n` maps of `h x w x cin`; `output`: `n` maps of `(h - kh + 1) x (w - kw + 1) x cout`.
public func convDirectAVX512(_ input: UnsafePointer<Float>, n: Int, h: Int, w: Int,
                             kh: Int, kw: Int, cin: Int, cout: Int,
                             packed: UnsafePointer<Float>, bias: UnsafePointer<Float>, alpha: UnsafePointer<Float>?,
                             into output: UnsafeMutablePointer<Float>) {
    let outH = h - kh + 1, outW = w - kw + 1
    precondition(outH > 0 && outW > 0, "convolution input \(h)x\(w) smaller than its \(kh)x\(kw) kernel")
    let blocks = (cout + 15) / 16
    let total = n * outH * outW
    let k = kh * kw * cin, run = kw * cin, rowStride = w * cin
    @inline(__always) func patch(_ q: Int) -> UnsafePointer<Float> {
        let t = q / outH / outW * h + (q / outW) % outH
        return input + t * rowStride + (q % outW) * cin
    }
    @inline(__always) func blockConstants(_ block: Int) -> (Vector16, Vector16?) {
        let offset = block * 16
        let b = UnsafeRawPointer(bias + offset).loadUnaligned(as: Vector16.self)
        let s = alpha.map { UnsafeRawPointer($0 + offset).loadUnaligned(as: Vector16.self) }
        return (b, s)
    }
    if blocks == 1 {
        // One block: eight pixels x 16 channels.
        let (b0, s0) = blockConstants(0)
        var q = 0
        while q < total {
            let valid = min(8, total - q)
            let p0 = patch(q)
            let p1 = valid > 1 ? patch(q + 1) : p0
            let p2 = valid > 2 ? patch(q + 2) : p1
            let p3 = valid > 3 ? patch(q + 3) : p2
            let p4 = valid > 4 ? patch(q + 4) : p3
            let p5 = valid > 5 ? patch(q + 5) : p4
            let p6 = valid > 6 ? patch(q + 6) : p5
            let p7 = valid > 7 ? patch(q + 7) : p6
            let acc = tile8x16((p0, p1, p2, p3, p4, p5, p6, p7), rowStride: rowStride, kh: kh, run: run,
                               weights: packed)
            let out = output + q * cout
            store(acc.0, out, count: cout, bias: b0, slope: s0)
            if valid > 1 { store(acc.1, out + cout, count: cout, bias: b0, slope: s0) }
            if valid > 2 { store(acc.2, out + 2 * cout, count: cout, bias: b0, slope: s0) }
            if valid > 3 { store(acc.3, out + 3 * cout, count: cout, bias: b0, slope: s0) }
            if valid > 4 { store(acc.4, out + 4 * cout, count: cout, bias: b0, slope: s0) }
            if valid > 5 { store(acc.5, out + 5 * cout, count: cout, bias: b0, slope: s0) }
            if valid > 6 { store(acc.6, out + 6 * cout, count: cout, bias: b0, slope: s0) }
            if valid > 7 { store(acc.7, out + 7 * cout, count: cout, bias: b0, slope: s0) }
            q += 8
        }
        return
    }
    var q = 0
    while q < total {
        let valid = min(6, total - q)
        let p0 = patch(q)
        let p1 = valid > 1 ? patch(q + 1) : p0
        let p2 = valid > 2 ? patch(q + 2) : p1
        let p3 = valid > 3 ? patch(q + 3) : p2
        let p4 = valid > 4 ? patch(q + 4) : p3
        let p5 = valid > 5 ? patch(q + 5) : p4
        let out = output + q * cout
        var block = 0
        while block < blocks {
            let offset = block * 16
            if block + 1 < blocks {
                let acc = tile6x32((p0, p1, p2, p3, p4, p5), rowStride: rowStride, kh: kh, run: run,
                                   weights0: packed + block * k * 16, weights1: packed + (block + 1) * k * 16)
                let (b0, s0) = blockConstants(block), (b1, s1) = blockConstants(block + 1)
                let c0 = min(16, cout - offset), c1 = min(16, cout - offset - 16)
                let o = out + offset
                store(acc.0, o, count: c0, bias: b0, slope: s0); store(acc.6, o + 16, count: c1, bias: b1, slope: s1)
                if valid > 1 {
                    store(acc.1, o + cout, count: c0, bias: b0, slope: s0)
                    store(acc.7, o + cout + 16, count: c1, bias: b1, slope: s1)
                }
                if valid > 2 {
                    store(acc.2, o + 2 * cout, count: c0, bias: b0, slope: s0)
                    store(acc.8, o + 2 * cout + 16, count: c1, bias: b1, slope: s1)
                }
                if valid > 3 {
                    store(acc.3, o + 3 * cout, count: c0, bias: b0, slope: s0)
                    store(acc.9, o + 3 * cout + 16, count: c1, bias: b1, slope: s1)
                }
                if valid > 4 {
                    store(acc.4, o + 4 * cout, count: c0, bias: b0, slope: s0)
                    store(acc.10, o + 4 * cout + 16, count: c1, bias: b1, slope: s1)
                }
                if valid > 5 {
                    store(acc.5, o + 5 * cout, count: c0, bias: b0, slope: s0)
                    store(acc.11, o + 5 * cout + 16, count: c1, bias: b1, slope: s1)
                }
                block += 2
            } else {
                let acc = tile6x16((p0, p1, p2, p3, p4, p5), rowStride: rowStride, kh: kh, run: run,
                                   weights: packed + block * k * 16)
                let (b0, s0) = blockConstants(block)
                let c0 = min(16, cout - offset)
                let o = out + offset
                store(acc.0, o, count: c0, bias: b0, slope: s0)
                if valid > 1 { store(acc.1, o + cout, count: c0, bias: b0, slope: s0) }
                if valid > 2 { store(acc.2, o + 2 * cout, count: c0, bias: b0, slope: s0) }
                if valid > 3 { store(acc.3, o + 3 * cout, count: c0, bias: b0, slope: s0) }
                if valid > 4 { store(acc.4, o + 4 * cout, count: c0, bias: b0, slope: s0) }
                if valid > 5 { store(acc.5, o + 5 * cout, count: c0, bias: b0, slope: s0) }
                block += 1
            }
        }
        q += 6
    }
}

/// Six pixels x two 16-channel blocks: twelve accumulators, two weight loads and six broadcasts per step.
@inline(__always)
private func tile6x32(_ p: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                            UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                      rowStride: Int, kh: Int, run: Int, weights0: UnsafePointer<Float>, weights1: UnsafePointer<Float>)
    -> (Vector16, Vector16, Vector16, Vector16, Vector16, Vector16,
        Vector16, Vector16, Vector16, Vector16, Vector16, Vector16) {
    var a0 = Vector16(), a1 = Vector16(), a2 = Vector16(), a3 = Vector16(), a4 = Vector16(), a5 = Vector16()
    var b0 = Vector16(), b1 = Vector16(), b2 = Vector16(), b3 = Vector16(), b4 = Vector16(), b5 = Vector16()
    var w0 = UnsafeRawPointer(weights0), w1 = UnsafeRawPointer(weights1)
    for dy in 0..<kh {
        let d = dy * rowStride
        let x0 = p.0 + d, x1 = p.1 + d, x2 = p.2 + d, x3 = p.3 + d, x4 = p.4 + d, x5 = p.5 + d
        for i in 0..<run {
            let u = w0.loadUnaligned(as: Vector16.self), v = w1.loadUnaligned(as: Vector16.self)
            let v0 = x0[i], v1 = x1[i], v2 = x2[i], v3 = x3[i], v4 = x4[i], v5 = x5[i]
            a0.addProduct(v0, u); b0.addProduct(v0, v)
            a1.addProduct(v1, u); b1.addProduct(v1, v)
            a2.addProduct(v2, u); b2.addProduct(v2, v)
            a3.addProduct(v3, u); b3.addProduct(v3, v)
            a4.addProduct(v4, u); b4.addProduct(v4, v)
            a5.addProduct(v5, u); b5.addProduct(v5, v)
            w0 += 64; w1 += 64
        }
    }
    return (a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5)
}

/// Six pixels x one block (the odd block left after the pairs).
@inline(__always)
private func tile6x16(_ p: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                            UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                      rowStride: Int, kh: Int, run: Int, weights: UnsafePointer<Float>)
    -> (Vector16, Vector16, Vector16, Vector16, Vector16, Vector16) {
    var a0 = Vector16(), a1 = Vector16(), a2 = Vector16(), a3 = Vector16(), a4 = Vector16(), a5 = Vector16()
    var wp = UnsafeRawPointer(weights)
    for dy in 0..<kh {
        let d = dy * rowStride
        let x0 = p.0 + d, x1 = p.1 + d, x2 = p.2 + d, x3 = p.3 + d, x4 = p.4 + d, x5 = p.5 + d
        for i in 0..<run {
            let u = wp.loadUnaligned(as: Vector16.self)
            a0.addProduct(x0[i], u); a1.addProduct(x1[i], u); a2.addProduct(x2[i], u)
            a3.addProduct(x3[i], u); a4.addProduct(x4[i], u); a5.addProduct(x5[i], u)
            wp += 64
        }
    }
    return (a0, a1, a2, a3, a4, a5)
}

/// Eight pixels x one block: eight accumulators, one weight load and eight broadcasts per step.
@inline(__always)
private func tile8x16(_ p: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                            UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                      rowStride: Int, kh: Int, run: Int, weights: UnsafePointer<Float>)
    -> (Vector16, Vector16, Vector16, Vector16, Vector16, Vector16, Vector16, Vector16) {
    var a0 = Vector16(), a1 = Vector16(), a2 = Vector16(), a3 = Vector16()
    var a4 = Vector16(), a5 = Vector16(), a6 = Vector16(), a7 = Vector16()
    var wp = UnsafeRawPointer(weights)
    for dy in 0..<kh {
        let d = dy * rowStride
        let x0 = p.0 + d, x1 = p.1 + d, x2 = p.2 + d, x3 = p.3 + d
        let x4 = p.4 + d, x5 = p.5 + d, x6 = p.6 + d, x7 = p.7 + d
        for i in 0..<run {
            let u = wp.loadUnaligned(as: Vector16.self)
            a0.addProduct(x0[i], u); a1.addProduct(x1[i], u); a2.addProduct(x2[i], u); a3.addProduct(x3[i], u)
            a4.addProduct(x4[i], u); a5.addProduct(x5[i], u); a6.addProduct(x6[i], u); a7.addProduct(x7[i], u)
            wp += 64
        }
    }
    return (a0, a1, a2, a3, a4, a5, a6, a7)
}

/// Bias, PReLU, and the block's `count` real channels into `dst`.
@inline(__always)
private func store(_ acc: Vector16, _ dst: UnsafeMutablePointer<Float>, count: Int, bias: Vector16, slope: Vector16?) {
    var v = acc + bias
    if let slope { v = v.replacing(with: v * slope, where: v .< Vector16()) }
    if count == 16 {
        UnsafeMutableRawPointer(dst).storeBytes(of: v, as: Vector16.self)
    } else {
        for l in 0..<count { dst[l] = v[l] }
    }
}
