/// The `hist` chain computed from float32 bounds: float32 Gram products (OpenBLAS sgemm) of coarse
/// square-root histograms give a lower bound of every pair's distance; each step of the chain
/// rescores only the faces that bound cannot rule out, first with float32 bounds of the full
/// histograms, then, for the rare near-ties, with the exact double distance.
import Foundation
import Dispatch
import COpenBLAS

/// The greedy chain over bounds. Same order as the definition (see `HistogramChain.order`): the
/// bounds only decide which faces are compared exactly; the choice at each step is the first
/// position with the smallest exact `histogramDistance`.
///
/// Why the bounds hold:
/// - For each channel the definition's `bc * norm` is the Bhattacharyya coefficient of the
///   channel normalised to sum 1, `BC = sum_k sqrt(p_k q_k)`. Merging bins in pairs can only raise
///   it (Cauchy-Schwarz: `sqrt(p1 q1) + sqrt(p2 q2) <= sqrt((p1 + p2)(q1 + q2))`), so the distance of
///   the coarse (128-bin) histograms is a lower bound of the true one.
/// - A float32 dot product of K non-negative terms summing to at most 1 is within
///   `K u / (1 - K u)` (u = 2^-24: 1.53e-5 for K = 256, 7.6e-6 for K = 128) of the exact one, plus
///   about 2u for rounding the roots; `delta` = 2e-5 covers both with room for the roundings of
///   `1 - bc`, the square roots and the sum of three channels.
/// - Histograms with negative or non-finite bins, or a channel summing to less than 1e-3 (where
///   the definition's normalisation switches off), are not bounded this way: `order` returns nil
///   and the caller uses the double-precision chain.
enum BoundedHistogramChain {
    /// How often each stage decided a step (for tests and benchmarks).
    struct Stats: Equatable {
        /// Steps where the coarse bound left one face.
        var byCoarseBound = 0
        /// Steps decided by float32 bounds of the full histograms, and faces rescored that way.
        var byFineBound = 0, fineRescored = 0
        /// Steps decided by exact distances, and exact distances computed.
        var byExactDistance = 0, exactComputed = 0
    }

    /// Slack on every float32 Bhattacharyya coefficient (see above).
    static let delta: Float = 2e-5
    /// Bins merged per coarse bin.
    static let group = 2
    static let coarseBins = 256 / group
    /// Rows and columns per block of the bound matrix.
    static let tile = 256

    /// Row indices in chain order for `n` histograms of 768 bins each (row-major in `h`), or nil
    /// when some histogram is irregular (see above). Memory: n^2 floats (100 MB at 5,000 faces).
    /// Cost: 3 sgemm of 128-deep products over n^2 / 2 pairs, then per step one pass over a row and
    /// a float32 rescoring of the few faces within reach of the smallest bound.
    static func order(_ h: UnsafePointer<Float>, count n: Int) -> [Int]? {
        var stats = Stats()
        return order(h, count: n, stats: &stats)
    }

    static func order(_ h: UnsafePointer<Float>, count n: Int, stats: inout Stats) -> [Int]? {
        guard n > 2 else { return Array(0..<n) }
        // Square-root histograms, each channel normalised to sum 1: full (768) and coarse (3 x 128).
        let fine = UnsafeMutablePointer<Float>.allocate(capacity: n * 768)
        let coarse = UnsafeMutablePointer<Float>.allocate(capacity: n * 3 * coarseBins)
        defer { fine.deallocate(); coarse.deallocate() }
        let regular = UnsafeMutablePointer<Bool>.allocate(capacity: n)
        defer { regular.deallocate() }
        let hb = UncheckedBox(h), fb = UncheckedBox(fine), cb = UncheckedBox(coarse), rb = UncheckedBox(regular)
        concurrentChunks(n, grain: 512) { rows in
            for i in rows {
                rb.value[i] = fillRoots(hb.value + i * 768, fb.value + i * 768, cb.value + i * 3 * coarseBins)
            }
        }
        guard UnsafeBufferPointer(start: regular, count: n).allSatisfy({ $0 }) else { return nil }

        // The lower-bound matrix, both triangles, from blocks of the upper one.
        let lower = UnsafeMutablePointer<Float>.allocate(capacity: n * n)
        defer { lower.deallocate() }
        fillLowerBounds(coarse, count: n, into: lower)

        // The chain. `penalty[j]` is +inf once j is placed, so one pass over row `cur` sees only the
        // unplaced faces; `perm` holds the order so far, `pos` each face's current position.
        var perm = Array(0..<n), pos = Array(0..<n)
        var penalty = [Float](repeating: 0, count: n)
        var candidates: [Int] = []
        candidates.reserveCapacity(256)
        var bounds: [(Int, Float, Float)] = []
        perm.withUnsafeMutableBufferPointer { perm in
            pos.withUnsafeMutableBufferPointer { pos in
                penalty.withUnsafeMutableBufferPointer { pen in
                    let p = pen.baseAddress!
                    for i in 0..<(n - 1) {
                        let cur = perm[i]
                        p[cur] = .infinity
                        let row = UnsafePointer(lower + cur * n)
                        let first = argminBound(row, p, n)
                        // Every face whose lower bound is at most an upper bound of `first` may be nearest.
                        let reach = fineBounds(fine, cur, first).upper
                        collect(row, p, n, reach, excluding: first, into: &candidates)
                        var chosen = first
                        if candidates.isEmpty { stats.byCoarseBound += 1 } else {
                            stats.fineRescored += candidates.count + 1
                            bounds.removeAll(keepingCapacity: true)
                            var minUpper = Float.infinity
                            for j in [first] + candidates {
                                let b = fineBounds(fine, cur, j)
                                bounds.append((j, b.lower, b.upper))
                                minUpper = min(minUpper, b.upper)
                            }
                            let close = bounds.filter { $0.1 <= minUpper }
                            if close.count == 1 {
                                chosen = close[0].0
                                stats.byFineBound += 1
                            } else {
                                stats.byExactDistance += 1
                                stats.exactComputed += close.count
                                // Near-tie: the exact distances decide; equal ones go to the earlier position.
                                var best = Double.infinity, bestPos = Int.max
                                for (j, _, _) in close {
                                    let d = histogramDistance(h + cur * 768, h + j * 768)
                                    if d < best || (d == best && pos[j] < bestPos) {
                                        best = d
                                        bestPos = pos[j]
                                        chosen = j
                                    }
                                }
                            }
                        }
                        // Swap the chosen face into position i + 1.
                        let from = pos[chosen], displaced = perm[i + 1]
                        perm[i + 1] = chosen; pos[chosen] = i + 1
                        perm[from] = displaced; pos[displaced] = from
                    }
                }
            }
        }
        return perm
    }

    /// Fills the full (768) and coarse (3 x 128) square-root histograms of one face, each channel
    /// normalised to sum 1 (an all-zero channel stays zero, as the definition scores it: distance 1).
    /// False when the histogram is irregular.
    static func fillRoots(_ h: UnsafePointer<Float>, _ fine: UnsafeMutablePointer<Float>,
                          _ coarse: UnsafeMutablePointer<Float>) -> Bool {
        var ok = true
        for c in 0..<3 {
            let (inv, regular) = HistogramRoots.channelScale(h, channel: c)
            if !regular { ok = false }
            for k in (c * 256)..<(c * 256 + 256) { fine[k] = Float((Double(max(h[k], 0)) * inv).squareRoot()) }
            HistogramRoots.fillCoarse(h, channel: c, group: group, scale: inv, into: coarse)
        }
        return ok
    }

    /// `lower[i * n + j]`: a lower bound of the distance of faces i and j, for every pair. Blocks of
    /// the upper triangle on every core (each one sgemm per channel, single-threaded OpenBLAS so the
    /// two workers do not fight over its threads), each written as rows and, mirrored, as columns.
    static func fillLowerBounds(_ coarse: UnsafePointer<Float>, count n: Int, into lower: UnsafeMutablePointer<Float>) {
        let t = tile, blocks = (n + t - 1) / t
        var pairs: [(Int, Int)] = []
        for a in 0..<blocks { for b in a..<blocks { pairs.append((a, b)) } }
        let blasThreads = openblas_get_num_threads()
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(blasThreads) }
        let cb = UncheckedBox(coarse), lb = UncheckedBox(lower), pb = UncheckedBox(pairs)
        let kb = coarseBins, ld = Int32(3 * coarseBins)
        DispatchQueue.concurrentPerform(iterations: pairs.count) { q in
            let (a, b) = pb.value[q]
            let r0 = a * t, c0 = b * t
            let rows = min(t, n - r0), cols = min(t, n - c0), plane = rows * cols
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 4 * plane)
            defer { scratch.deallocate() }
            for c in 0..<3 {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(cols), Int32(kb), 1,
                            cb.value + r0 * 3 * kb + c * kb, ld, cb.value + c0 * 3 * kb + c * kb, ld, 0,
                            scratch + c * plane, Int32(cols))
            }
            let s0 = scratch, s1 = scratch + plane, s2 = scratch + 2 * plane, d = scratch + 3 * plane
            let top = 1 - delta
            for k in 0..<plane {
                let x0 = top - s0[k], x1 = top - s1[k], x2 = top - s2[k]
                d[k] = (x0 > 0 ? x0 : 0).squareRoot() + (x1 > 0 ? x1 : 0).squareRoot() + (x2 > 0 ? x2 : 0).squareRoot()
            }
            let out = lb.value
            for r in 0..<rows { (out + (r0 + r) * n + c0).update(from: d + r * cols, count: cols) }
            guard a != b else { return }
            // The mirror block, in 32 x 32 pieces so both sides stay in cache.
            var kb0 = 0
            while kb0 < cols {
                let kb1 = min(kb0 + 32, cols)
                var rb0 = 0
                while rb0 < rows {
                    let rb1 = min(rb0 + 32, rows)
                    for k in kb0..<kb1 {
                        let dst = out + (c0 + k) * n + r0
                        for r in rb0..<rb1 { dst[r] = d[r * cols + k] }
                    }
                    rb0 = rb1
                }
                kb0 = kb1
            }
        }
    }

    /// The first index of the smallest `row[j] + penalty[j]`.
    static func argminBound(_ row: UnsafePointer<Float>, _ penalty: UnsafePointer<Float>, _ n: Int) -> Int {
        let rv = UnsafeRawPointer(row), pv = UnsafeRawPointer(penalty)
        var m = SIMD8<Float>(repeating: .infinity)
        var j = 0
        while j + 8 <= n {
            let v = rv.loadUnaligned(fromByteOffset: j * 4,
                                     as: SIMD8<Float>.self) + pv.loadUnaligned(fromByteOffset: j * 4,
                                                                               as: SIMD8<Float>.self)
            m = m.replacing(with: v, where: v .< m)
            j += 8
        }
        var best = m.min()
        while j < n { best = min(best, row[j] + penalty[j]); j += 1 }
        j = 0
        let target = SIMD8<Float>(repeating: best)
        while j + 8 <= n {
            let v = rv.loadUnaligned(fromByteOffset: j * 4,
                                     as: SIMD8<Float>.self) + pv.loadUnaligned(fromByteOffset: j * 4,
                                                                               as: SIMD8<Float>.self)
            if any(v .== target) { break }
            j += 8
        }
        while j < n - 1 && row[j] + penalty[j] != best { j += 1 }
        return j
    }

    /// Every index but `excluding` with `row[j] + penalty[j] <= reach`, in index order.
    static func collect(_ row: UnsafePointer<Float>, _ penalty: UnsafePointer<Float>, _ n: Int, _ reach: Float,
                        excluding: Int, into out: inout [Int]) {
        out.removeAll(keepingCapacity: true)
        let rv = UnsafeRawPointer(row), pv = UnsafeRawPointer(penalty)
        let limit = SIMD8<Float>(repeating: reach)
        var j = 0
        while j + 8 <= n {
            let v = rv.loadUnaligned(fromByteOffset: j * 4,
                                     as: SIMD8<Float>.self) + pv.loadUnaligned(fromByteOffset: j * 4,
                                                                               as: SIMD8<Float>.self)
            if any(v .<= limit) {
                for k in 0..<8 where v[k] <= reach && j + k != excluding { out.append(j + k) }
            }
            j += 8
        }
        while j < n {
            if row[j] + penalty[j] <= reach && j != excluding { out.append(j) }
            j += 1
        }
    }

    /// Bounds of the exact distance of faces i and j from float32 dot products of their full
    /// square-root histograms.
    @inline(__always)
    static func fineBounds(_ roots: UnsafePointer<Float>, _ i: Int, _ j: Int) -> (lower: Float, upper: Float) {
        let a = UnsafeRawPointer(roots + i * 768), b = UnsafeRawPointer(roots + j * 768)
        var lo: Float = 0, hi: Float = 0
        for c in 0..<3 {
            var s0 = SIMD8<Float>(), s1 = SIMD8<Float>()
            var k = c * 256
            while k < c * 256 + 256 {
                s0 += a.loadUnaligned(fromByteOffset: k * 4,
                                      as: SIMD8<Float>.self) * b.loadUnaligned(fromByteOffset: k * 4,
                                                                               as: SIMD8<Float>.self)
                s1 += a.loadUnaligned(fromByteOffset: k * 4 + 32,
                                      as: SIMD8<Float>.self) * b.loadUnaligned(fromByteOffset: k * 4 + 32,
                                                                               as: SIMD8<Float>.self)
                k += 16
            }
            let bc = (s0 + s1).sum()
            let x = 1 - bc
            lo += max(x - delta, 0).squareRoot()
            hi += max(x + delta, 0).squareRoot()
        }
        return (lo * (1 - 4 * Float.ulpOfOne), hi * (1 + 4 * Float.ulpOfOne))
    }
}

/// Square-root histograms under the Bhattacharyya bounds, shared by the `hist` chain and
/// `SimilarityIndex` (which merge 2 and 4 bins per coarse bin).
enum HistogramRoots {
    /// `1 / sum` of channel `c` of a 768-bin histogram (0 when the sum is 0 or not finite), and
    /// whether the channel is regular: every bin finite and non-negative, the sum 0 or at least 1e-3.
    @inline(__always)
    static func channelScale(_ h: UnsafePointer<Float>, channel c: Int) -> (scale: Double, regular: Bool) {
        var ok = true
        var s = 0.0
        for k in (c * 256)..<(c * 256 + 256) {
            let v = h[k]
            if !(v >= 0) || !v.isFinite { ok = false }
            s += Double(v)
        }
        if s != 0 && !(s >= 1e-3 && s.isFinite) { ok = false }
        return (s > 0 && s.isFinite ? 1 / s : 0, ok)
    }

    /// The coarse roots of channel `c`: `sqrt(scale * sum of group bins)` (negative bins as 0),
    /// `256 / group` of them at `coarse + c * 256 / group`.
    @inline(__always)
    static func fillCoarse(_ h: UnsafePointer<Float>, channel c: Int, group: Int, scale inv: Double,
                           into coarse: UnsafeMutablePointer<Float>) {
        let coarseBins = 256 / group
        for g in 0..<coarseBins {
            var t = 0.0
            for k in 0..<group { t += Double(max(h[c * 256 + g * group + k], 0)) }
            coarse[c * coarseBins + g] = Float((t * inv).squareRoot())
        }
    }
}
