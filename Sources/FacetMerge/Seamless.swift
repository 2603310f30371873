/// Poisson blending of the warped face into the frame, as cv2.seamlessClone's NORMAL_CLONE does.
import Foundation

/// The Poisson solver of seamless mode (`@_spi(Benchmarks)`: for `Tools/bench seamless` and the tests).
@_spi(Benchmarks) public enum SeamlessClone {
    /// Solves, over the pixels of `region` (a `width x height` window, row-major), for colours whose
    /// Laplacian equals `source`'s and which meet `target` on the region's border. Writes the result
    /// into `source` inside the region (interleaved RGB floats, 0...1 after clamping).
    ///
    /// It solves for the correction `c = result - source`: harmonic inside, `target - source` on the
    /// border (the window's own edge is a mirror: a pixel there has fewer neighbours); so the result
    /// is the source plus a smooth membrane. Conjugate gradients preconditioned with one multigrid
    /// V-cycle per step (two red-black Gauss-Seidel sweeps before and after each coarse correction,
    /// bilinear prolongation, its transpose as restriction, the mask coarsened by injection), the
    /// three channels together as SIMD lanes, until each channel's residual is `relativeTolerance`
    /// of its right-hand side: 7 to 12 steps on the sample's face windows, whatever their size, and
    /// within about 5e-6 (0.001 grey levels) of the exact solution; the former red-black SOR (1.2 x
    /// side sweeps) was within 5e-4, and took about 7x as long (SeamlessTests measures both).
    /// Each smoothing pass goes down the rows once, its sweeps a row apart, so the rows stay in
    /// cache. Memory: the thread's `SeamlessScratch` (about 130 bytes per window pixel, kept).
    public static func blend(source: inout [Float], target: [Float], region: [Bool], width: Int, height: Int) {
        let count = width * height
        precondition(source.count == count * 3 && target.count == count * 3 && region.count == count,
                     "seamless: size mismatch")
        guard count > 0, region.contains(true) else { return }
        let scratch = SeamlessScratch.forThisThread
        scratch.reset(bytes: PoissonSolver.bytesNeeded(width: width, height: height))
        let fine = PoissonLevel(width: width, height: height, scratch: scratch) { x, y in region[y * width + x] }
        guard fine.unknowns > 0 else { return }
        // Right-hand side: the fixed border values (target - source) of each unknown's in-window
        // neighbours that are not unknowns themselves.
        source.withUnsafeBufferPointer { s in
            target.withUnsafeBufferPointer { t in
                let on = fine.on, b = fine.b.p
                for y in 0..<height where fine.lo[y] < fine.hi[y] {
                    for col in fine.lo[y]..<fine.hi[y] {
                        let i = (y + 1) * fine.stride + col
                        guard on[i] > 0 else { continue }
                        let x = col - 1
                        var sum = SIMD4<Float>()
                        @inline(__always) func add(_ qx: Int, _ qy: Int) {
                            guard qx >= 0, qy >= 0, qx < width, qy < height,
                                on[(qy + 1) * fine.stride + qx + 1] == 0 else { return }
                            let q = (qy * width + qx) * 3
                            sum += SIMD4(t[q] - s[q], t[q + 1] - s[q + 1], t[q + 2] - s[q + 2], 0)
                        }
                        add(x - 1, y); add(x + 1, y); add(x, y - 1); add(x, y + 1)
                        b[i] = sum
                    }
                }
            }
        }
        let correction = PoissonSolver(fine: fine, scratch: scratch).solve()
        source.withUnsafeMutableBufferPointer { s in
            let c = correction.p, on = fine.on
            for y in 0..<height where fine.lo[y] < fine.hi[y] {
                for col in fine.lo[y]..<fine.hi[y] {
                    let i = (y + 1) * fine.stride + col
                    guard on[i] > 0 else { continue }
                    let q = (y * width + col - 1) * 3
                    for k in 0..<3 { s[q + k] = min(1, max(0, s[q + k] + c[i][k])) }
                }
            }
        }
    }

    /// Each channel stops once its residual's 2-norm is this share of its right-hand side's.
    static let relativeTolerance: Double = 1e-6
    /// More steps than this means the preconditioner is not doing its job; stop anyway.
    static let maxSteps = 60
}

/// Each thread's memory for the solver, kept between calls: fresh pages for every window (some
/// 17 MB for a 350 px one) cost more in page faults than the zeroing of reused ones. Handed out
/// zero-filled, bump by bump, within one `blend` call; freed when the thread ends.
final class SeamlessScratch {
    private var base: UnsafeMutableRawPointer?
    private var capacity = 0
    private var used = 0

    static var forThisThread: SeamlessScratch {
        let key = "FacetMerge.SeamlessScratch"
        let dictionary = Thread.current.threadDictionary
        if let scratch = dictionary[key] as? SeamlessScratch { return scratch }
        let scratch = SeamlessScratch()
        dictionary[key] = scratch
        return scratch
    }

    /// Starts handing out memory from the beginning, with room for at least `bytes`.
    func reset(bytes: Int) {
        if bytes > capacity {
            base?.deallocate()
            base = .allocate(byteCount: bytes, alignment: 64)
            capacity = bytes
        }
        used = 0
    }

    /// `count` zeroed values, 64-byte aligned.
    func take<T>(_ count: Int, of type: T.Type) -> UnsafeMutablePointer<T> {
        let start = (used + 63) & ~63, bytes = count * MemoryLayout<T>.stride
        precondition(start + bytes <= capacity, "seamless: scratch memory too small")
        used = start + bytes
        let raw = base! + start
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        return raw.bindMemory(to: T.self, capacity: count)
    }

    deinit { base?.deallocate() }
}

/// A zero-filled buffer of RGB(+pad) vectors in the thread's scratch memory.
struct PoissonBuffer {
    let p: UnsafeMutablePointer<SIMD4<Float>>
    init(count: Int, scratch: SeamlessScratch) { p = scratch.take(count, of: SIMD4<Float>.self) }
}

/// One grid of the multigrid hierarchy: the window padded by one pixel of zeros all round (so a
/// pixel on the window's edge sees a 0 there, and its smaller degree makes that edge a mirror),
/// which pixels are unknowns, their degrees, and per row the span of columns holding unknowns.
final class PoissonLevel {
    let width: Int, height: Int
    /// Padded row length (width + 2) and buffer size ((width + 2) * (height + 2)).
    let stride: Int, size: Int
    /// 1 at unknowns, 0 elsewhere.
    let on: UnsafeMutablePointer<Float>
    /// Number of in-window neighbours at unknowns (0 elsewhere), and its inverse (0 elsewhere).
    let diag: UnsafeMutablePointer<Float>, invDiag: UnsafeMutablePointer<Float>
    /// Padded columns [lo[y], hi[y]) of interior row y hold all its unknowns (lo >= hi: none).
    var lo: [Int], hi: [Int]
    var unknowns = 0
    /// The level's solution, right-hand side and residual.
    let x: PoissonBuffer, b: PoissonBuffer, r: PoissonBuffer

    /// Bytes a level of this size takes from the scratch memory (with alignment).
    static func bytes(width: Int, height: Int) -> Int {
        let size = (width + 2) * (height + 2)
        return 3 * (size * MemoryLayout<SIMD4<Float>>.stride + 64) + 3 * (size * MemoryLayout<Float>.stride + 64)
    }

    init(width: Int, height: Int, scratch: SeamlessScratch, unknown: (Int, Int) -> Bool) {
        self.width = width; self.height = height
        stride = width + 2; size = (width + 2) * (height + 2)
        on = scratch.take(size, of: Float.self)
        diag = scratch.take(size, of: Float.self)
        invDiag = scratch.take(size, of: Float.self)
        lo = [Int](repeating: 0, count: height); hi = [Int](repeating: 0, count: height)
        for y in 0..<height {
            var first = Int.max, last = -1
            for x in 0..<width where unknown(x, y) {
                let degree = (x > 0 ? 1 : 0) + (x < width - 1 ? 1 : 0) + (y > 0 ? 1 : 0) + (y < height - 1 ? 1 : 0)
                guard degree > 0 else { continue }   // a 1x1 window: nothing to solve
                let i = (y + 1) * stride + x + 1
                on[i] = 1; diag[i] = Float(degree); invDiag[i] = 1 / Float(degree)
                unknowns += 1
                first = min(first, x + 1); last = x + 1
            }
            if last >= 0 { lo[y] = first; hi[y] = last + 1 }
        }
        x = PoissonBuffer(count: size, scratch: scratch)
        b = PoissonBuffer(count: size, scratch: scratch)
        r = PoissonBuffer(count: size, scratch: scratch)
    }

    /// The next coarser level: every second pixel, an unknown where this level's pixel is one.
    func coarser(scratch: SeamlessScratch) -> PoissonLevel {
        // (Tried: a coarse pixel wherever any of the 3 x 3 fine pixels around it is an unknown, or
        // most of them by bilinear weight; no fewer steps, the first about twice as many.)
        PoissonLevel(width: (width + 1) / 2, height: (height + 1) / 2, scratch: scratch) { cx, cy in
            self.on[(2 * cy + 1) * self.stride + 2 * cx + 1] > 0
        }
    }

    /// One Gauss-Seidel half sweep of `x` on row y, over the unknowns with (x + y) % 2 == parity.
    /// With `fromZero`, as if `x` were 0 (whatever it holds): the first half sweep of a cycle,
    /// after which the other colour's sweep reads only what it wrote.
    @inline(__always)
    func relaxRow(_ y: Int, parity: Int, fromZero: Bool = false) {
        guard lo[y] < hi[y] else { return }
        let x = self.x.p, b = self.b.p, inv = invDiag, s = stride
        let row = (y + 1) * s
        var i = row + lo[y]
        if (lo[y] - 1 + y) & 1 != parity { i += 1 }
        // Pointer steps (no overflow checks in the loop).
        var px = x + i, pb = b + i, pi = inv + i
        let end = x + (row + hi[y]), up = -s
        if fromZero {
            while px < end { px.pointee = pb.pointee * pi.pointee; px += 2; pb += 2; pi += 2 }
        } else {
            while px < end {
                px.pointee = (pb.pointee + px[-1] + px[1] + px[up] + px[s]) * pi.pointee
                px += 2; pb += 2; pi += 2
            }
        }
    }

    /// r = b - A x on row y at the unknowns with (x + y) % 2 == 0, after a sweep of the others:
    /// there it is 0 (and stays 0 in `r`, never written).
    @inline(__always)
    func residualRedRow(_ y: Int) {
        guard lo[y] < hi[y] else { return }
        let x = self.x.p, b = self.b.p, r = self.r.p, s = stride
        let row = (y + 1) * s
        var i = row + lo[y]
        if (lo[y] - 1 + y) & 1 != 0 { i += 1 }
        var px = x + i, pb = b + i, pr = r + i, po = on + i, pd = diag + i
        let end = x + (row + hi[y]), up = -s
        while px < end {
            pr.pointee = (pb.pointee + px[-1] + px[1] + px[up] + px[s]) * po.pointee - px.pointee * pd.pointee
            px += 2; pb += 2; pr += 2; po += 2; pd += 2
        }
    }

    /// coarse.b on coarse row cy = P^T r: bilinear prolongation's transpose (weights 1, 1/2, 1/4)
    /// at coarse unknowns. Coarse pixels sit on fine red ones, whose edge neighbours are black,
    /// where r is 0; so only the centre and the corners count.
    @inline(__always)
    func restrictRow(_ cy: Int, into coarse: PoissonLevel) {
        guard coarse.lo[cy] < coarse.hi[cy] else { return }
        let r = self.r.p, cb = coarse.b.p, fs = stride, cs = coarse.stride
        let first = (cy + 1) * cs + coarse.lo[cy]
        var pc = cb + first, po = coarse.on + first
        var pf = r + ((2 * cy + 1) * fs + 2 * (coarse.lo[cy] - 1) + 1)
        let end = cb + ((cy + 1) * cs + coarse.hi[cy])
        let a = -fs - 1, b = -fs + 1, c = fs - 1, d = fs + 1
        while pc < end {
            pc.pointee = (pf.pointee + 0.25 * (pf[a] + pf[b] + pf[c] + pf[d])) * po.pointee
            pc += 1; po += 1; pf += 2
        }
    }

    /// x += P coarse.x on row y: bilinear interpolation of the coarse solution, at the unknowns.
    @inline(__always)
    func prolongRow(_ y: Int, from coarse: PoissonLevel) {
        guard lo[y] < hi[y] else { return }
        let x = self.x.p, cx = coarse.x.p, fs = stride, cs = coarse.stride
        let row = (y + 1) * fs
        let crow = (y / 2 + 1) * cs
        var col = lo[y]
        if y & 1 == 0 {
            // Even rows: coarse values at even x, the mean of two at odd x.
            if (col - 1) & 1 == 1 {
                let c = crow + (col - 1) / 2 + 1
                x[row + col] += 0.5 * (cx[c] + cx[c + 1]) * on[row + col]
                col += 1
            }
            while col + 1 < hi[y] {
                let c = crow + (col - 1) / 2 + 1
                x[row + col] += cx[c] * on[row + col]
                x[row + col + 1] += 0.5 * (cx[c] + cx[c + 1]) * on[row + col + 1]
                col += 2
            }
            if col < hi[y] { x[row + col] += cx[crow + (col - 1) / 2 + 1] * on[row + col] }
        } else {
            // Odd rows: the mean of the two coarse rows either side.
            if (col - 1) & 1 == 1 {
                let c = crow + (col - 1) / 2 + 1
                x[row + col] += 0.25 * (cx[c] + cx[c + 1] + cx[c + cs] + cx[c + cs + 1]) * on[row + col]; col += 1
            }
            while col + 1 < hi[y] {
                let c = crow + (col - 1) / 2 + 1
                let left = cx[c] + cx[c + cs], right = cx[c + 1] + cx[c + cs + 1]
                x[row + col] += 0.5 * left * on[row + col]
                x[row + col + 1] += 0.25 * (left + right) * on[row + col + 1]
                col += 2
            }
            if col < hi[y] {
                let c = crow + (col - 1) / 2 + 1
                x[row + col] += 0.5 * (cx[c] + cx[c + cs]) * on[row + col]
            }
        }
    }

    /// From x = 0: `sweeps` red-black Gauss-Seidel sweeps (red first), the residual, and its
    /// restriction to `coarse`, in one pass down the rows (each stage a row behind the one before,
    /// so the rows it needs are done and still in cache).
    func preSmooth(sweeps: Int, restrictInto coarse: PoissonLevel?) {
        let stages = 2 * sweeps + (coarse == nil ? 0 : 1)
        for t in 0..<(height + stages - 1) {
            for j in 0..<stages {
                let y = t - j
                guard y >= 0, y < height else { continue }
                if j < 2 * sweeps {
                    relaxRow(y, parity: j & 1, fromZero: j == 0)
                } else if let coarse {
                    residualRedRow(y)
                    if y & 1 == 1 { restrictRow(y / 2, into: coarse) }
                }
            }
        }
        if let coarse, height & 1 == 1 { restrictRow(height / 2, into: coarse) }
    }

    /// Adds the coarse correction (if any), then `sweeps` black-red sweeps (the adjoint of
    /// preSmooth's), in one pass down the rows. With `dotWith`, returns the per-channel sum of
    /// dotWith * x over the unknowns once x is final (0 otherwise).
    func postSmooth(sweeps: Int, from coarse: PoissonLevel?,
                    dotWith other: UnsafeMutablePointer<SIMD4<Float>>? = nil) -> SIMD4<Double> {
        let first = coarse == nil ? 1 : 0
        let stages = 2 * sweeps + 1 + (other == nil ? 0 : 1)
        var total = SIMD4<Double>()
        for t in 0..<(height + stages - 1) {
            for j in first..<stages {
                let y = t - j
                guard y >= 0, y < height else { continue }
                if j == 0 {
                    prolongRow(y, from: coarse!)
                } else if j <= 2 * sweeps {
                    relaxRow(y, parity: j & 1)   // black (1) first
                } else if let other, lo[y] < hi[y] {
                    let x = self.x.p, row = (y + 1) * stride
                    var acc = SIMD4<Float>()
                    let po = other + (row + lo[y]), px = x + (row + lo[y])
                    for k in 0..<(hi[y] - lo[y]) { acc += po[k] * px[k] }
                    total += SIMD4<Double>(acc)
                }
            }
        }
        return total
    }

    /// q = A p on row y at the unknowns (p is 0 elsewhere); returns the row's sum of p * q.
    @inline(__always)
    func applyRow(_ y: Int, _ p: UnsafeMutablePointer<SIMD4<Float>>,
                  into q: UnsafeMutablePointer<SIMD4<Float>>) -> SIMD4<Float> {
        guard lo[y] < hi[y] else { return SIMD4<Float>() }
        let s = stride, row = (y + 1) * s
        var acc = SIMD4<Float>()
        let i = row + lo[y], up = -s
        var pp = p + i, pq = q + i, pd = diag + i, po = on + i
        let end = p + (row + hi[y])
        while pp < end {
            let qi = pp.pointee * pd.pointee - (pp[-1] + pp[1] + pp[up] + pp[s]) * po.pointee
            pq.pointee = qi
            acc += pp.pointee * qi
            pp += 1; pq += 1; pd += 1; po += 1
        }
        return acc
    }
}

/// Conjugate gradients on the finest level, preconditioned by a symmetric multigrid V-cycle.
struct PoissonSolver {
    var levels: [PoissonLevel]
    /// Gauss-Seidel sweeps (red then black) before, and (black then red) after, each coarse correction.
    let smoothing = 2

    let scratch: SeamlessScratch

    /// Coarser levels down to a side of 6 or 16 unknowns.
    static func coarsens(_ level: (width: Int, height: Int, unknowns: Int)) -> Bool {
        max(level.width, level.height) > 6 && level.unknowns > 16
    }

    init(fine: PoissonLevel, scratch: SeamlessScratch) {
        self.scratch = scratch
        levels = [fine]
        while let last = levels.last, Self.coarsens((last.width, last.height, last.unknowns)) {
            levels.append(last.coarser(scratch: scratch))
        }
    }

    /// An upper bound of the scratch memory a window needs: every level, and the finest's three
    /// conjugate-gradient vectors.
    static func bytesNeeded(width: Int, height: Int) -> Int {
        var total = 3 * ((width + 2) * (height + 2) * MemoryLayout<SIMD4<Float>>.stride + 64)
        var (w, h) = (width, height)
        while true {
            total += PoissonLevel.bytes(width: w, height: h)
            guard coarsens((w, h, Int.max)) else { break }
            (w, h) = ((w + 1) / 2, (h + 1) / 2)
        }
        return total
    }

    /// levels[k].x = M^-1 levels[k].b, from x = 0. Symmetric: the smoothers after the correction are
    /// the adjoints of those before it, restriction is the prolongation's transpose. With `dotWith`,
    /// returns the per-channel dot product of it with the result.
    @discardableResult
    func vcycle(_ k: Int, dotWith other: UnsafeMutablePointer<SIMD4<Float>>? = nil) -> SIMD4<Double> {
        let level = levels[k]
        if k == levels.count - 1 {
            let sweeps = max(level.width, level.height) * 2 + 2
            level.preSmooth(sweeps: sweeps, restrictInto: nil)
            return level.postSmooth(sweeps: sweeps, from: nil, dotWith: other)
        }
        level.preSmooth(sweeps: smoothing, restrictInto: levels[k + 1])
        vcycle(k + 1)
        return level.postSmooth(sweeps: smoothing, from: levels[k + 1], dotWith: other)
    }

    /// Solves A c = b (the finest level's right-hand side, which it overwrites with the residual).
    func solve() -> PoissonBuffer {
        let fine = levels[0]
        let solution = PoissonBuffer(count: fine.size, scratch: scratch)
        let direction = PoissonBuffer(count: fine.size, scratch: scratch),
            product = PoissonBuffer(count: fine.size, scratch: scratch)
        // The residual lives in the fine level's right-hand side, which the V-cycle reads (never
        // writes), and the preconditioned residual z in its solution.
        let x = solution.p, r = fine.b.p, p = direction.p, q = product.p, z = fine.x.p
        let rows = (0..<fine.height).filter { fine.lo[$0] < fine.hi[$0] }
        let s = fine.stride
        // Sums over the unknowns, per channel, each row in Float and the rows in Double.
        func dot(_ a: UnsafeMutablePointer<SIMD4<Float>>, _ c: UnsafeMutablePointer<SIMD4<Float>>) -> SIMD4<Double> {
            var total = SIMD4<Double>()
            for y in rows {
                var acc = SIMD4<Float>()
                for i in ((y + 1) * s + fine.lo[y])..<((y + 1) * s + fine.hi[y]) { acc += a[i] * c[i] }
                total += SIMD4<Double>(acc)
            }
            return total
        }
        let tolerance = SeamlessClone.relativeTolerance
        var rr = dot(r, r)
        let goal = rr * (tolerance * tolerance)
        if all(rr .<= goal) { return solution }
        // z = M r, and r . z.
        var rz = vcycle(0, dotWith: r)
        var beta = SIMD4<Float>()   // p is 0: the first direction is z
        for _ in 0..<SeamlessClone.maxSteps {
            // p = z + beta p, and q = A p a row behind it (it needs the rows either side), with p . q.
            var pq = SIMD4<Double>()
            for t in 0...fine.height {
                if t < fine.height, fine.lo[t] < fine.hi[t] {
                    let i = (t + 1) * s + fine.lo[t], n = fine.hi[t] - fine.lo[t]
                    let pp = p + i, pz = z + i
                    for k in 0..<n { pp[k] = pz[k] + beta * pp[k] }
                }
                if t > 0 { pq += SIMD4<Double>(fine.applyRow(t - 1, p, into: q)) }
            }
            let alpha = SIMD4<Float>((rz / pq).replacing(with: 0, where: .!(pq .> 0)))
            rr = SIMD4<Double>()
            for y in rows {
                var acc = SIMD4<Float>()
                let i = (y + 1) * s + fine.lo[y], n = fine.hi[y] - fine.lo[y]
                let px = x + i, pp = p + i, pr = r + i, pq = q + i
                for k in 0..<n {
                    px[k] += alpha * pp[k]
                    let ri = pr[k] - alpha * pq[k]
                    pr[k] = ri
                    acc += ri * ri
                }
                rr += SIMD4<Double>(acc)
            }
            if all(rr .<= goal) { break }
            let rzNext = vcycle(0, dotWith: r)
            beta = SIMD4<Float>((rzNext / rz).replacing(with: 0, where: .!(rz .> 0)))
            rz = rzNext
        }
        return solution
    }
}
