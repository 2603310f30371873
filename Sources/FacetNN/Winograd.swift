/// Winograd F(2x2, 3x3) and F(4x4, 3x3) for 3x3 stride-1 SAME convolutions: forward and both
/// gradients with 2.25x (4x) fewer multiplications than im2col + GEMM.
///
/// Each m x m output tile reads an (m+2) x (m+2) input tile. In the transformed domain the
/// convolution becomes (m+2)^2 independent GEMMs (one per tile element xi): M[xi] = V[xi] U[xi]
/// with V the input tiles `[tiles, cin]` and U the kernel `[cin, cout]`. Both gradients are the
/// adjoints of the same linear maps, so they are GEMMs too: dU[xi] = V[xi]^T dM[xi] and
/// dV[xi] = dM[xi] U[xi]^T. The transforms are the unrolled SIMD kernels of WinogradKernels.swift.
import COpenBLAS
import Foundation

/// Shapes of one Winograd call; channels are multiples of 8 (the SIMD width of the kernels).
struct WinogradShape {
    let n, h, w, cin, cout: Int
    /// Output tile side: 2 or 4.
    let m: Int
    /// Input tile side, m + 2.
    var a: Int { m + 2 }
    /// Tile elements: the number of GEMMs.
    var points: Int { a * a }
    var th: Int { (h + m - 1) / m }
    var tw: Int { (w + m - 1) / m }
    var tiles: Int { n * th * tw }
    init(_ g: ConvGeometry, tile m: Int) { (n, h, w, cin, cout, self.m) = (g.n, g.h, g.w, g.cin, g.cout, m) }
}

/// Per-worker pointer tables (up to 36 sources and destinations) and a zero row / sink row.
private final class TileScratch {
    let src = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 36)
    let dst = UnsafeMutablePointer<UnsafeMutablePointer<Float>>.allocate(capacity: 36)
    let zero: UnsafeMutablePointer<Float>
    let sink: UnsafeMutablePointer<Float>
    init(channels: Int) {
        zero = .allocate(capacity: channels)
        zero.initialize(repeating: 0, count: channels)
        sink = .allocate(capacity: channels)
        sink.initialize(repeating: 0, count: channels)
    }
    deinit { src.deallocate(); dst.deallocate(); zero.deallocate(); sink.deallocate() }
}

/// V[xi][t][c] = (B^T d B)[xi] of every input tile t (zeros outside the image).
func winogradTransformInput(_ x: UnsafePointer<Float>, _ s: WinogradShape, _ v: UnsafeMutablePointer<Float>) {
    let (h, w, cin, th, tw, tiles, m, a) = (s.h, s.w, s.cin, s.th, s.tw, s.tiles, s.m, s.a)
    parallelRanges(tiles, grain: 32) { range in
        let ts = TileScratch(channels: cin)
        for t in range {
            let nn = t / (th * tw), ty = (t % (th * tw)) / tw, tx = t % tw
            for i in 0..<a {
                let iy = m * ty - 1 + i
                for j in 0..<a {
                    let ix = m * tx - 1 + j
                    ts.src[i * a + j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? x + ((nn * h + iy) * w + ix) * cin
                        : UnsafePointer(ts.zero)
                    ts.dst[i * a + j] = v + ((i * a + j) * tiles + t) * cin
                }
            }
            var c = 0
            if m == 4 {
                while c < cin { winogradInputKernel4(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            } else {
                while c < cin { winogradInputKernel2(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            }
        }
    }
}

/// U[xi][ci][co] = (G w G^T)[xi] of the `[3, 3, cin, cout]` kernel.
func winogradTransformWeights(_ weight: UnsafePointer<Float>, _ s: WinogradShape, _ u: UnsafeMutablePointer<Float>) {
    let (cin, cout, points, m) = (s.cin, s.cout, s.points, s.m)
    parallelRanges(cin, grain: 16) { range in
        let ts = TileScratch(channels: 8)
        for ci in range {
            for k in 0..<9 { ts.src[k] = weight + (k * cin + ci) * cout }
            for xi in 0..<points { ts.dst[xi] = u + (xi * cin + ci) * cout }
            var c = 0
            if m == 4 {
                while c < cout { winogradWeightKernel4(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            } else {
                while c < cout { winogradWeightKernel2(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            }
        }
    }
}

/// y = A^T M A per tile, plus bias and activation, cropped to the image.
func winogradTransformOutput(_ m_: UnsafePointer<Float>, _ s: WinogradShape, _ y: UnsafeMutablePointer<Float>,
                             bias: UnsafePointer<Float>?, _ activation: Activation) {
    let (h, w, cout, th, tw, tiles, m, points) = (s.h, s.w, s.cout, s.th, s.tw, s.tiles, s.m, s.points)
    let slope: Float
    switch activation {
    case .identity: slope = 1
    case .leakyReLU(let a): slope = a
    case .sigmoid: preconditionFailure("Winograd path: sigmoid is not fused here")
    }
    parallelRanges(tiles, grain: 32) { range in
        let ts = TileScratch(channels: cout)
        for t in range {
            let nn = t / (th * tw), ty = (t % (th * tw)) / tw, tx = t % tw
            for xi in 0..<points { ts.src[xi] = m_ + (xi * tiles + t) * cout }
            for a in 0..<m {
                for b in 0..<m {
                    let oy = m * ty + a, ox = m * tx + b
                    ts.dst[a * m + b] = oy < h && ox < w ? y + ((nn * h + oy) * w + ox) * cout : ts.sink
                }
            }
            var c = 0
            while c < cout {
                let bv = bias.map { load8($0 + c) } ?? V8()
                let post: (V8, Int) -> V8 = { v, _ in
                    let z = v + bv
                    return slope == 1 ? z : z.replacing(with: z * slope, where: z .< 0)
                }
                if m == 4 { winogradOutputKernel4(ts.src, ts.dst, c, post) } else { winogradOutputKernel2(ts.src,
                                                                                                          ts.dst, c,
                                                                                                          post) }
                c += 8
            }
        }
    }
}

/// dM[xi][t][co] = (A dY A^T)[xi]: the adjoint of the output transform (dY zero outside the image).
///
/// With `y` (the forward output) the leaky ReLU of slope `slope` is differentiated on the way:
/// dY is then dy * f'(pre), computed per tile into a small buffer that the transform reads from
/// cache, instead of a separate pass over the whole gradient. With `biasGradient`, the column sums
/// of dY (the bias gradient) are taken in the same pass (each output pixel lies in exactly one tile).
func winogradTransformOutputGradient(_ dy: UnsafePointer<Float>, _ s: WinogradShape, _ dm: UnsafeMutablePointer<Float>,
                                     y: UnsafePointer<Float>? = nil, slope: Float = 1,
                                     biasGradient: UnsafeMutablePointer<Float>? = nil) {
    let (h, w, cout, th, tw, tiles, m, points) = (s.h, s.w, s.cout, s.th, s.tw, s.tiles, s.m, s.points)
    let fuseActivation = y != nil && slope != 1
    biasGradient?.update(repeating: 0, count: cout)
    let lock = NSLock()
    parallelRanges(tiles, grain: 32) { range in
        let ts = TileScratch(channels: cout)
        let local = UnsafeMutablePointer<Float>.allocate(capacity: fuseActivation ? m * m * cout : 1)
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: cout)
        sums.initialize(repeating: 0, count: cout)
        defer { local.deallocate(); sums.deallocate() }
        for t in range {
            let nn = t / (th * tw), ty = (t % (th * tw)) / tw, tx = t % tw
            for a in 0..<m {
                for b in 0..<m {
                    let oy = m * ty + a, ox = m * tx + b
                    guard oy < h && ox < w else { ts.src[a * m + b] = UnsafePointer(ts.zero); continue }
                    let pixel = ((nn * h + oy) * w + ox) * cout
                    var src = dy + pixel
                    if fuseActivation, let y {
                        let l = local + (a * m + b) * cout, yp = y + pixel
                        var c = 0
                        while c < cout {
                            let v = load8(src + c)
                            v.replacing(with: v * slope, where: load8(yp + c) .<= 0).store(l + c)
                            c += 8
                        }
                        src = UnsafePointer(l)
                    }
                    if biasGradient != nil {
                        var c = 0
                        while c < cout { (load8(sums + c) + load8(src + c)).store(sums + c); c += 8 }
                    }
                    ts.src[a * m + b] = src
                }
            }
            for xi in 0..<points { ts.dst[xi] = dm + (xi * tiles + t) * cout }
            var c = 0
            if m == 4 {
                while c < cout { winogradOutputGradientKernel4(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            } else {
                while c < cout { winogradOutputGradientKernel2(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            }
        }
        if let biasGradient {
            lock.lock()
            for c in 0..<cout { biasGradient[c] += sums[c] }
            lock.unlock()
        }
    }
}

/// dx += B dV B^T per tile, overlapping tiles summed. Tiles two rows apart never touch the same
/// pixels (neighbours overlap by two), so even tile rows run in parallel first, then odd ones.
func winogradTransformInputGradient(_ dv: UnsafePointer<Float>, _ s: WinogradShape, _ dx: UnsafeMutablePointer<Float>) {
    let (h, w, cin, th, tw, tiles, m, a, points) = (s.h, s.w, s.cin, s.th, s.tw, s.tiles, s.m, s.a, s.points)
    dx.update(repeating: 0, count: s.n * h * w * cin)
    for parity in 0..<2 {
        let rowsOfParity = (th - parity + 1) / 2
        parallelRanges(s.n * rowsOfParity, grain: 1) { range in
            let ts = TileScratch(channels: cin)
            for r in range {
                let nn = r / rowsOfParity, ty = 2 * (r % rowsOfParity) + parity
                for tx in 0..<tw {
                    let t = (nn * th + ty) * tw + tx
                    for xi in 0..<points { ts.src[xi] = dv + (xi * tiles + t) * cin }
                    for i in 0..<a {
                        let iy = m * ty - 1 + i
                        for j in 0..<a {
                            let ix = m * tx - 1 + j
                            ts.dst[i * a + j] = iy >= 0 && iy < h && ix >= 0 && ix < w
                                ? dx + ((nn * h + iy) * w + ix) * cin : ts.sink
                        }
                    }
                    let dst = ts.dst
                    var c = 0
                    while c < cin {
                        let cc = c
                        let accumulate: (V8, Int) -> V8 = { v, k in v + load8(dst[k] + cc) }
                        if m == 4 {
                            winogradInputGradientKernel4(ts.src, dst, c, accumulate)
                        } else {
                            winogradInputGradientKernel2(ts.src, dst, c, accumulate)
                        }
                        c += 8
                    }
                }
            }
        }
    }
}

/// dw[3, 3, cin, cout] = G^T dU G per (ci, co).
func winogradTransformWeightGradient(_ du: UnsafePointer<Float>, _ s: WinogradShape,
                                     _ dw: UnsafeMutablePointer<Float>) {
    let (cin, cout, points, m) = (s.cin, s.cout, s.points, s.m)
    parallelRanges(cin, grain: 16) { range in
        let ts = TileScratch(channels: 8)
        for ci in range {
            for xi in 0..<points { ts.src[xi] = du + (xi * cin + ci) * cout }
            for k in 0..<9 { ts.dst[k] = dw + (k * cin + ci) * cout }
            var c = 0
            if m == 4 {
                while c < cout { winogradWeightGradientKernel4(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            } else {
                while c < cout { winogradWeightGradientKernel2(ts.src, ts.dst, c) { v, _ in v }; c += 8 }
            }
        }
    }
}

/// Floats of the transformed input V of one call (what `winogradForward` can keep for backward).
func winogradInputSize(_ g: ConvGeometry, tile: Int) -> Int {
    let s = WinogradShape(g, tile: tile)
    return s.points * s.tiles * s.cin
}

/// The `count` GEMMs `C[xi] = op(A[xi]) op(B[xi])`.
private func batchedGemm(_ count: Int, _ ta: CBLAS_TRANSPOSE, _ tb: CBLAS_TRANSPOSE, m: Int, n: Int, k: Int,
                         _ a: UnsafePointer<Float>, lda: Int, strideA: Int, _ b: UnsafePointer<Float>, ldb: Int,
                         strideB: Int,
                         _ c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int) {
    // Independent products: one single-threaded GEMM per task, spread over the workers.
    parallelFor(count) { xi in
        cblas_sgemm(CblasRowMajor, ta, tb, Int32(m), Int32(n), Int32(k), 1, a + xi * strideA, Int32(lda),
                    b + xi * strideB, Int32(ldb), 0, c + xi * strideC, Int32(ldc))
    }
}

/// Forward: y = activation(conv3x3(x, weight) + bias). Leaves the transformed kernel in `u`
/// (`points * cin * cout` floats, owned by the layer) for the backward pass. With `weightsReady`
/// `u` already holds it (a frozen layer's cache) and `weight` is not read.
///
/// With `savedInput` (`points * tiles * cin` floats, see `winogradInputSize`) the transformed
/// input V is left there for the backward pass, which then skips its own input transform.
func winogradForward(_ x: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                     _ activation: Activation, _ g: ConvGeometry, tile: Int,
                     transformedWeights u: UnsafeMutablePointer<Float>,
                     _ y: UnsafeMutablePointer<Float>, savedInput: UnsafeMutablePointer<Float>? = nil,
                     weightsReady: Bool = false) {
    let s = WinogradShape(g, tile: tile), t = s.tiles, p = s.points
    Scratch.with([savedInput == nil ? p * t * s.cin : 0, p * t * s.cout]) { b in
        let (v, m) = (savedInput ?? b[0], b[1])
        winogradTransformInput(x, s, v)
        if !weightsReady { winogradTransformWeights(weight, s, u) }
        batchedGemm(s.points, CblasNoTrans, CblasNoTrans, m: t, n: s.cout, k: s.cin, v, lda: s.cin, strideA: t * s.cin,
                    u, ldb: s.cout, strideB: s.cin * s.cout, m, ldc: s.cout, strideC: t * s.cout)
        winogradTransformOutput(m, s, y, bias: bias, activation)
    }
}

/// Backward from dPre (the gradient before the activation): the weight gradient, and the input
/// gradient when `dx` is given. `u` is the transformed kernel the forward pass left.
///
/// With `y` and a leaky-ReLU `slope`, `dPre` is the gradient after the activation (dLoss/dy) and
/// the activation's derivative is applied inside the output-gradient transform; with
/// `biasGradient` the bias gradient is summed there too (see `winogradTransformOutputGradient`).
func winogradBackward(_ x: UnsafePointer<Float>, transformedWeights u: UnsafePointer<Float>,
                      _ dPre: UnsafePointer<Float>,
                      _ g: ConvGeometry, tile: Int, _ dw: UnsafeMutablePointer<Float>,
                      _ dx: UnsafeMutablePointer<Float>?,
                      y: UnsafePointer<Float>? = nil, slope: Float = 1,
                      biasGradient: UnsafeMutablePointer<Float>? = nil,
                      savedInput: UnsafePointer<Float>? = nil) {
    let s = WinogradShape(g, tile: tile), t = s.tiles, p = s.points
    Scratch.with([p * t * s.cin, p * s.cin * s.cout, p * t * s.cout]) { b in
        let (du, dm) = (b[1], b[2])
        // V: the forward pass's, or transformed again here into the buffer dV reuses below.
        let v: UnsafePointer<Float>
        if let savedInput { v = savedInput } else { winogradTransformInput(x, s, b[0]); v = UnsafePointer(b[0]) }
        winogradTransformOutputGradient(dPre, s, dm, y: y, slope: slope, biasGradient: biasGradient)
        // dU[xi] = V[xi]^T dM[xi], then back to the 3x3 kernel.
        batchedGemm(s.points, CblasTrans, CblasNoTrans, m: s.cin, n: s.cout, k: t, v, lda: s.cin, strideA: t * s.cin,
                    dm, ldb: s.cout, strideB: t * s.cout, du, ldc: s.cout, strideC: s.cin * s.cout)
        winogradTransformWeightGradient(du, s, dw)
        guard let dx else { return }
        // dV[xi] = dM[xi] U[xi]^T, into the scratch V used (V is no longer needed).
        let dv = b[0]
        batchedGemm(s.points, CblasNoTrans, CblasTrans, m: t, n: s.cin, k: s.cout, dm, lda: s.cout, strideA: t * s.cout,
                    u, ldb: s.cout, strideB: s.cin * s.cout, dv, ldc: s.cin, strideC: t * s.cin)
        winogradTransformInputGradient(dv, s, dx)
    }
}
