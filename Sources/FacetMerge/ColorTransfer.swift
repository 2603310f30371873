/// Colour transfer of the predicted face towards the destination face: DeepFaceLab's rct, lct, hist-match and idt.
import FacetCore
import Foundation

/// Interleaved RGB floats in 0...1 (`count = pixels * 3`); `mask[i]` marks the pixels whose
/// colours count. Every function changes `face` in place from statistics of both inside the mask,
/// and applies the result to every pixel.
enum ColorTransferOps {
    static func apply(_ kind: ColorTransfer, to face: inout [Float], reference: [Float], mask: [Bool]) {
        guard mask.contains(true) else { return }
        switch kind {
        case .none: return
        case .rct: reinhard(&face, reference: reference, mask: mask)
        case .lct: linear(&face, reference: reference, mask: mask)
        case .histMatch: histogramMatch(&face, reference: reference, mask: mask)
        case .idt: iterativeDistribution(&face, reference: reference, mask: mask)
        }
    }

    // MARK: rct

    /// Reinhard et al. 2001 as DeepFaceLab's `reinhard_color_transfer`: in L*a*b*, shift and scale
    /// each channel so its mean and standard deviation inside the mask become the reference's;
    /// L clipped to 0...100, a and b to -127...127. (DeepFaceLab averages the zeroed outside pixels
    /// in as well; here the statistics are the mask's own.)
    static func reinhard(_ face: inout [Float], reference: [Float], mask: [Bool]) {
        var lab = toLab(face), refLab = toLab(reference)
        let (m1, s1) = meanStd(lab, mask: mask), (m2, s2) = meanStd(refLab, mask: mask)
        let limits: [(Float, Float)] = [(0, 100), (-127, 127), (-127, 127)]
        lab.withUnsafeMutableBufferPointer { v in
            for i in 0..<(v.count / 3) {
                for c in 0..<3 {
                    let scale = s1[c] > 1e-6 ? s2[c] / s1[c] : 1
                    v[i * 3 + c] = min(limits[c].1, max(limits[c].0, (v[i * 3 + c] - m1[c]) * scale + m2[c]))
                }
            }
        }
        refLab = []
        face = fromLab(lab)
    }

    static func meanStd(_ v: [Float], mask: [Bool]) -> ([Float], [Float]) {
        var sum = [Double](repeating: 0, count: 3), sq = [Double](repeating: 0, count: 3)
        var n = 0.0
        for i in mask.indices where mask[i] {
            for c in 0..<3 { let x = Double(v[i * 3 + c]); sum[c] += x; sq[c] += x * x }
            n += 1
        }
        let mean = sum.map { $0 / max(n, 1) }
        let std = (0..<3).map { c in (max(0, sq[c] / max(n, 1) - mean[c] * mean[c])).squareRoot() }
        return (mean.map(Float.init), std.map(Float.init))
    }

    /// sRGB (0...1) to CIE L*a*b* (D65), as OpenCV's float RGB2Lab.
    static func toLab(_ rgb: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: rgb.count)
        // Colours that are whole bytes / 255 (every decoded or predicted face) take their linear
        // value from a table of the same formula; others are computed.
        func linear(_ c: Float) -> Float {
            let k = Int(c * 255 + 0.5)
            if k >= 0 && k < 256 && Float(k) / 255 == c { return linearOfByte[k] }
            return linearValue(c)
        }
        func f(_ t: Float) -> Float { t > 0.008856 ? cubeRoot(t) : 7.787 * t + 16.0 / 116.0 }
        rgb.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<(s.count / 3) {
                    let r = linear(s[i * 3]), g = linear(s[i * 3 + 1]), b = linear(s[i * 3 + 2])
                    let x = (0.412453 * r + 0.357580 * g + 0.180423 * b) / 0.950456
                    let y = 0.212671 * r + 0.715160 * g + 0.072169 * b
                    let z = (0.019334 * r + 0.119193 * g + 0.950227 * b) / 1.088754
                    let fx = f(x), fy = f(y), fz = f(z)
                    o[i * 3] = y > 0.008856 ? 116 * fy - 16 : 903.3 * y
                    o[i * 3 + 1] = 500 * (fx - fy)
                    o[i * 3 + 2] = 200 * (fy - fz)
                }
            }
        }
        return out
    }

    static func linearValue(_ c: Float) -> Float { c <= 0.04045 ? c / 12.92 : powf((c + 0.055) / 1.055, 2.4) }

    /// linearValue of every byte / 255.
    static let linearOfByte: [Float] = (0..<256).map { linearValue(Float($0) / 255) }

    /// The cube root of a positive float, correctly rounded but for rare last-bit ties: a bit-trick
    /// first guess refined by three Newton steps in double precision (faster than cbrtf, and within
    /// its last bit).
    @inline(__always)
    static func cubeRoot(_ t: Float) -> Float {
        let x = Double(t)
        var y = Double(Float(bitPattern: t.bitPattern / 3 + 709_921_077))
        // Newton's step y - (y^3 - x) / (3 y^2), written with one division.
        y = (2 * y + x / (y * y)) * (1.0 / 3)
        y = (2 * y + x / (y * y)) * (1.0 / 3)
        y = (2 * y + x / (y * y)) * (1.0 / 3)
        return Float(y)
    }

    static func fromLab(_ lab: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: lab.count)
        func finv(_ t: Float) -> Float { t > 0.206893 ? t * t * t : (t - 16.0 / 116.0) / 7.787 }
        func gamma(_ c: Float) -> Float { c <= 0.0031308 ? 12.92 * c : 1.055 * powf(max(c, 0), 1 / 2.4) - 0.055 }
        lab.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<(s.count / 3) {
                    let l = s[i * 3], a = s[i * 3 + 1], b = s[i * 3 + 2]
                    let fy = (l + 16) / 116
                    let y = l > 8 ? fy * fy * fy : l / 903.3
                    let x = finv(fy + a / 500) * 0.950456, z = finv(fy - b / 200) * 1.088754
                    let r = 3.240479 * x - 1.537150 * y - 0.498535 * z
                    let g = -0.969256 * x + 1.875992 * y + 0.041556 * z
                    let bl = 0.055648 * x - 0.204043 * y + 1.057311 * z
                    o[i * 3] = min(1, max(0, gamma(r)))
                    o[i * 3 + 1] = min(1, max(0, gamma(g)))
                    o[i * 3 + 2] = min(1, max(0, gamma(bl)))
                }
            }
        }
        return out
    }

    // MARK: lct

    /// DeepFaceLab's `linear_color_transfer` (PCA mode): x' = Qs Qt^-1 (x - mt) + ms with Q the
    /// symmetric square root of each colour covariance (+1e-5 I), clipped to 0...1.
    static func linear(_ face: inout [Float], reference: [Float], mask: [Bool]) {
        let (mt, ct) = meanCovariance(face, mask: mask), (ms, cs) = meanCovariance(reference, mask: mask)
        let qt = symmetricSqrt(ct), qs = symmetricSqrt(cs)
        guard let qtInv = invert3(qt) else { return }
        let m = multiply3(qs, qtInv)
        face.withUnsafeMutableBufferPointer { v in
            for i in 0..<(v.count / 3) {
                let d = (Double(v[i * 3]) - mt[0], Double(v[i * 3 + 1]) - mt[1], Double(v[i * 3 + 2]) - mt[2])
                for r in 0..<3 {
                    let x = m[r * 3] * d.0 + m[r * 3 + 1] * d.1 + m[r * 3 + 2] * d.2 + ms[r]
                    v[i * 3 + r] = Float(min(1, max(0, x)))
                }
            }
        }
    }

    static func meanCovariance(_ v: [Float], mask: [Bool]) -> ([Double], [Double]) {
        var mean = [Double](repeating: 0, count: 3), n = 0.0
        for i in mask.indices where mask[i] { for c in 0..<3 { mean[c] += Double(v[i * 3 + c]) }; n += 1 }
        mean = mean.map { $0 / max(n, 1) }
        var cov = [Double](repeating: 0, count: 9)
        for i in mask.indices where mask[i] {
            let d = (0..<3).map { Double(v[i * 3 + $0]) - mean[$0] }
            for r in 0..<3 { for c in 0..<3 { cov[r * 3 + c] += d[r] * d[c] } }
        }
        for k in 0..<9 { cov[k] = cov[k] / max(n, 1) + (k % 4 == 0 ? 1e-5 : 0) }
        return (mean, cov)
    }

    /// V sqrt(D) V^T of a symmetric 3x3 matrix, by Jacobi rotations.
    static func symmetricSqrt(_ a: [Double]) -> [Double] {
        let (values, vectors) = jacobiEigen(a)
        var out = [Double](repeating: 0, count: 9)
        for r in 0..<3 {
            for c in 0..<3 {
                var s = 0.0
                for k in 0..<3 { s += vectors[r * 3 + k] * max(values[k], 0).squareRoot() * vectors[c * 3 + k] }
                out[r * 3 + c] = s
            }
        }
        return out
    }

    /// Eigenvalues and eigenvectors (columns) of a symmetric 3x3 matrix.
    static func jacobiEigen(_ m: [Double]) -> ([Double], [Double]) {
        var a = m
        var v: [Double] = [1, 0, 0, 0, 1, 0, 0, 0, 1]
        for _ in 0..<50 {
            var off = 0.0
            for (p, q) in [(0, 1), (0, 2), (1, 2)] { off += a[p * 3 + q] * a[p * 3 + q] }
            if off < 1e-30 { break }
            for (p, q) in [(0, 1), (0, 2), (1, 2)] where abs(a[p * 3 + q]) > 1e-300 {
                let theta = (a[q * 3 + q] - a[p * 3 + p]) / (2 * a[p * 3 + q])
                let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                let c = 1 / (t * t + 1).squareRoot(), s = t * c
                for k in 0..<3 {
                    let akp = a[k * 3 + p], akq = a[k * 3 + q]
                    a[k * 3 + p] = c * akp - s * akq
                    a[k * 3 + q] = s * akp + c * akq
                }
                for k in 0..<3 {
                    let apk = a[p * 3 + k], aqk = a[q * 3 + k]
                    a[p * 3 + k] = c * apk - s * aqk
                    a[q * 3 + k] = s * apk + c * aqk
                }
                for k in 0..<3 {
                    let vkp = v[k * 3 + p], vkq = v[k * 3 + q]
                    v[k * 3 + p] = c * vkp - s * vkq
                    v[k * 3 + q] = s * vkp + c * vkq
                }
            }
        }
        return ([a[0], a[4], a[8]], v)
    }

    static func multiply3(_ a: [Double], _ b: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: 9)
        for r in 0..<3 { for c in 0..<3 { for k in 0..<3 { out[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c] } } }
        return out
    }

    static func invert3(_ m: [Double]) -> [Double]? {
        let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6])
        guard abs(det) > 1e-18 else { return nil }
        let inv: [Double] = [
            m[4] * m[8] - m[5] * m[7], m[2] * m[7] - m[1] * m[8], m[1] * m[5] - m[2] * m[4],
            m[5] * m[6] - m[3] * m[8], m[0] * m[8] - m[2] * m[6], m[2] * m[3] - m[0] * m[5],
            m[3] * m[7] - m[4] * m[6], m[1] * m[6] - m[0] * m[7], m[0] * m[4] - m[1] * m[3],
        ]
        return inv.map { $0 / det }
    }

    // MARK: hist-match

    /// Per-channel histogram matching (DeepFaceLab's `color_hist_match` with threshold 255): each
    /// of 256 levels moves to the reference level at the same quantile inside the mask.
    static func histogramMatch(_ face: inout [Float], reference: [Float], mask: [Bool]) {
        for c in 0..<3 {
            var hs = [Double](repeating: 0, count: 256), ht = [Double](repeating: 0, count: 256)
            for i in mask.indices where mask[i] {
                hs[level(face[i * 3 + c])] += 1
                ht[level(reference[i * 3 + c])] += 1
            }
            let cs = cumulative(hs), ct = cumulative(ht)
            // Reference levels present, with their quantiles (np.unique + cumsum).
            var tq: [Double] = [], tv: [Double] = []
            for l in 0..<256 where ht[l] > 0 { tq.append(ct[l]); tv.append(Double(l)) }
            var map = [Float](repeating: 0, count: 256)
            for l in 0..<256 { map[l] = Float(interpolate(cs[l], tq, tv) / 255) }
            for i in 0..<(face.count / 3) { face[i * 3 + c] = map[level(face[i * 3 + c])] }
        }
    }

    @inline(__always) static func level(_ v: Float) -> Int { Int(min(255, max(0, v * 255 + 0.5))) }

    static func cumulative(_ h: [Double]) -> [Double] {
        var out = h, acc = 0.0
        for i in h.indices { acc += h[i]; out[i] = acc }
        let total = max(acc, 1)
        return out.map { $0 / total }
    }

    /// np.interp: piecewise linear through (xp, fp), xp non-decreasing; clamped at the ends.
    static func interpolate(_ x: Double, _ xp: [Double], _ fp: [Double]) -> Double {
        guard let first = xp.first, let last = xp.last else { return x }
        if x <= first { return fp[0] }
        if x >= last { return fp[fp.count - 1] }
        var lo = 0, hi = xp.count - 1
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if xp[mid] <= x { lo = mid } else { hi = mid }
        }
        let span = xp[hi] - xp[lo]
        return span > 0 ? fp[lo] + (x - xp[lo]) / span * (fp[hi] - fp[lo]) : fp[hi]
    }

    // MARK: idt

    /// Pitié et al.'s iterative distribution transfer as DeepFaceLab's `color_transfer_idt`
    /// (256 bins, 20 rotations, relaxation 1/20): along each axis of a random rotation, match the
    /// 1-D histograms and move the colours a step towards the match. The rotations come from a fixed
    /// seed, so a merge is reproducible.
    static func iterativeDistribution(_ face: inout [Float], reference: [Float], mask: [Bool], bins: Int = 256,
                                      rotations: Int = 20) {
        let n = face.count / 3
        var d0 = face.map(Double.init)
        let d1 = reference.map(Double.init)
        var rng = SplitMix64(seed: 0x1D7)
        let relaxation = 1.0 / Double(rotations)
        var p0 = [Double](repeating: 0, count: n), p1 = [Double](repeating: 0, count: n)
        var delta = [Double](repeating: 0, count: n * 3)
        for _ in 0..<rotations {
            let r = randomRotation(&rng)
            for i in 0..<(n * 3) { delta[i] = 0 }
            for axis in 0..<3 {
                let ra = (r[axis * 3], r[axis * 3 + 1], r[axis * 3 + 2])
                var lo = Double.infinity, hi = -Double.infinity
                for i in 0..<n {
                    p0[i] = ra.0 * d0[i * 3] + ra.1 * d0[i * 3 + 1] + ra.2 * d0[i * 3 + 2]
                    p1[i] = ra.0 * d1[i * 3] + ra.1 * d1[i * 3 + 1] + ra.2 * d1[i * 3 + 2]
                    if mask[i] { lo = min(lo, p0[i], p1[i]); hi = max(hi, p0[i], p1[i]) }
                }
                guard hi > lo else { continue }
                let width = (hi - lo) / Double(bins)
                var h0 = [Double](repeating: 0, count: bins), h1 = h0
                for i in 0..<n where mask[i] {
                    h0[min(bins - 1, Int((p0[i] - lo) / width))] += 1
                    h1[min(bins - 1, Int((p1[i] - lo) / width))] += 1
                }
                let c0 = cumulative(h0), c1 = cumulative(h1)
                let edges = (1...bins).map { lo + Double($0) * width }
                let f = c0.map { interpolate($0, c1, edges) }
                for i in 0..<n {
                    // The matched position of this projection, minus where it is: a move along the axis.
                    let moved = interpolate(p0[i], edges, f) - p0[i]
                    // Back to RGB with R^T (R is orthonormal).
                    delta[i * 3] += ra.0 * moved; delta[i * 3 + 1] += ra.1 * moved; delta[i * 3 + 2] += ra.2 * moved
                }
            }
            for i in 0..<(n * 3) { d0[i] += relaxation * delta[i] }
        }
        for i in 0..<(n * 3) { face[i] = Float(min(1, max(0, d0[i]))) }
    }

    /// A random 3x3 rotation (det +1): Gram-Schmidt of Gaussian columns.
    static func randomRotation(_ rng: inout SplitMix64) -> [Double] {
        func gaussian() -> Double {
            let u = max(rng.unit(), 1e-12), v = rng.unit()
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        var rows = (0..<3).map { _ in (0..<3).map { _ in gaussian() } }
        for i in 0..<3 {
            for j in 0..<i {
                let dot = zip(rows[i], rows[j]).map(*).reduce(0, +)
                rows[i] = zip(rows[i], rows[j]).map { $0 - dot * $1 }
            }
            let norm = rows[i].map { $0 * $0 }.reduce(0, +).squareRoot()
            rows[i] = rows[i].map { $0 / max(norm, 1e-12) }
        }
        let m = rows.flatMap { $0 }
        let det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6])
            + m[2] * (m[3] * m[7] - m[4] * m[6])
        return det < 0 ? [m[0], m[1], m[2], m[3], m[4], m[5], -m[6], -m[7], -m[8]] : m
    }
}

/// Colour transfer for other modules (training's `ct_mode`): `face` (interleaved RGB floats in 0...1) moved towards
/// `reference`'s colours by `kind`, statistics taken inside `mask`.
public func transferColors(_ kind: ColorTransfer, face: inout [Float], reference: [Float], mask: [Bool]) {
    ColorTransferOps.apply(kind, to: &face, reference: reference, mask: mask)
}
