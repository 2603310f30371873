/// Image losses with per-sample values and gradients: MSE, DSSIM, and their masked variants.
import Foundation

/// A loss comparing a prediction with a target of the same shape, one value per sample.
public protocol ImageLoss: AnyObject {
    /// Returns the loss of every sample and, when `gradient` is given, writes the gradient of the
    /// *sum* of those values with respect to `prediction` into it (resized to the prediction's
    /// shape), or adds it there when `accumulate` is true.
    func evaluate(prediction: Tensor, target: Tensor, gradient: Tensor?, accumulate: Bool) -> [Float]
}

extension ImageLoss {
    /// The per-sample loss values only.
    public func callAsFunction(_ prediction: Tensor, _ target: Tensor) -> [Float] {
        evaluate(prediction: prediction, target: target, gradient: nil, accumulate: false)
    }
}

/// Prepares a gradient buffer for writing (`accumulate == false`) or adding into.
func prepare(_ gradient: Tensor, like prediction: Tensor, accumulate: Bool) {
    if accumulate {
        prediction.expectSameShape(gradient, "loss gradient to accumulate into")
    } else {
        gradient.resize(to: prediction.shape)
        gradient.fill(0)
    }
}

/// The frame of the element-wise losses (MSE, MAE, the sigmoid cross-entropy): per sample `scale * mean(value)` over
/// its elements (summed in Double), and with `gradient` `k * slope` per element written (or added, with `accumulate`),
/// `k = slopeScale * scale / elements`; `term(prediction, target)` gives one element's value and slope.
@inline(__always)
func elementwiseLoss(_ name: String, prediction: Tensor, target: Tensor, gradient: Tensor?, accumulate: Bool,
                     scale: Float, slopeScale: Float = 1,
                     _ term: (_ prediction: Float, _ target: Float) -> (value: Float, slope: Float)) -> [Float] {
    prediction.expectSameShape(target, "\(name): the target")
    let n = prediction.batch, per = prediction.perSample
    if let gradient { prepare(gradient, like: prediction, accumulate: accumulate) }
    var out = [Float](repeating: 0, count: n)
    let p = prediction.data, t = target.data, g = gradient?.data
    let k = slopeScale * scale / Float(max(per, 1))
    out.withUnsafeMutableBufferPointer { o in
        let op = o.baseAddress!
        parallelFor(n) { s in
            var sum: Double = 0
            for i in (s * per)..<((s + 1) * per) {
                let (value, slope) = term(p[i], t[i])
                sum += Double(value)
                if let g { g[i] += k * slope }
            }
            op[s] = scale * Float(sum / Double(max(per, 1)))
        }
    }
    return out
}

/// `scale * mean((prediction - target)^2)` over each sample's elements.
public final class MSELoss: ImageLoss {
    /// The factor the mean is multiplied by.
    public let scale: Float
    /// An MSE loss multiplied by `scale`.
    public init(scale: Float = 1) { self.scale = scale }

    /// The per-sample `scale * mean((prediction - target)^2)`; with `gradient`, writes (or adds, with
    /// `accumulate`) the gradient of their sum with respect to `prediction`.
    public func evaluate(prediction: Tensor, target: Tensor, gradient: Tensor?, accumulate: Bool = false) -> [Float] {
        elementwiseLoss("MSELoss", prediction: prediction, target: target, gradient: gradient, accumulate: accumulate,
                        scale: scale, slopeScale: 2) { p, t in
            let d = p - t
            return (d * d, d)
        }
    }
}

/// Structural dissimilarity as leras computes it: `scale * mean_c((1 - SSIM_c) / 2)` per sample,
/// SSIM over a Gaussian window (VALID filtering), values in [0, 1] (c1 = 0.01^2, c2 = 0.03^2).
/// Quick96 uses filter size `int(resolution / 11.6)` and sigma 1.5.
public final class DSSIMLoss: ImageLoss {
    /// Side of the Gaussian window, in pixels.
    public let filterSize: Int
    /// The Gaussian window's standard deviation, in pixels.
    public let sigma: Float
    /// The factor the per-sample value is multiplied by.
    public let scale: Float
    /// Normalised 1-D window (leras's 2-D window is exactly their outer product).
    let taps: [Float]
    private let c1: Float = 0.0001, c2: Float = 0.0009
    private let muA = Tensor(shape: [0]), muB = Tensor(shape: [0]), sAB = Tensor(shape: [0]), sSq = Tensor(shape: [0])
    private let product = Tensor(shape: [0]), temp = Tensor(shape: [0])
    private let gMu = Tensor(shape: [0]), gAB = Tensor(shape: [0]), gSq = Tensor(shape: [0])
    private let back = Tensor(shape: [0])

    /// A DSSIM loss over a `filterSize` window of a Gaussian of `sigma`, multiplied by `scale`.
    public init(filterSize: Int, sigma: Float, scale: Float = 1) {
        precondition(filterSize >= 1 && sigma > 0, "DSSIMLoss: filter size must be >= 1 and sigma > 0")
        self.filterSize = filterSize
        self.sigma = sigma
        self.scale = scale
        let centre = Float(filterSize - 1) / 2
        let e = (0..<filterSize).map {
            i -> Float in let d = Float(i) - centre
            return expf(-0.5 * d * d / (sigma * sigma))
        }
        let sum = e.reduce(0, +)
        taps = e.map { $0 / sum }
    }

    /// VALID filtering of `[outer, length, inner]` along `length` (adjoint: the transpose, from
    /// `[outer, length - f + 1, inner]` back to `[outer, length, inner]`).
    private func filter1D(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, outer: Int, length: Int,
                          inner: Int, adjoint: Bool) {
        let f = taps.count, outLen = length - f + 1
        taps.withUnsafeBufferPointer { tb in
            let t = tb.baseAddress!
            parallelRanges(outer * (adjoint ? length : outLen), grain: max(1, 4096 / max(inner, 1))) { r in
                for idx in r {
                    if adjoint {
                        let o = idx / length, x = idx % length
                        let d = dst + idx * inner
                        for i in 0..<inner { d[i] = 0 }
                        for j in max(0, x - outLen + 1)...min(f - 1, x) {
                            let s = src + (o * outLen + x - j) * inner, k = t[j]
                            for i in 0..<inner { d[i] += k * s[i] }
                        }
                    } else {
                        let o = idx / outLen, x = idx % outLen
                        let d = dst + idx * inner
                        for i in 0..<inner { d[i] = 0 }
                        for j in 0..<f {
                            let s = src + (o * length + x + j) * inner, k = t[j]
                            for i in 0..<inner { d[i] += k * s[i] }
                        }
                    }
                }
            }
        }
    }

    /// 2-D VALID Gaussian filtering of an NHWC tensor's data into `out`.
    private func filter2D(_ src: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int, into out: Tensor) {
        let f = taps.count, oh = h - f + 1, ow = w - f + 1
        temp.resize(to: [n, oh, w, c])
        filter1D(src, temp.data, outer: n, length: h, inner: w * c, adjoint: false)
        out.resize(to: [n, oh, ow, c])
        filter1D(temp.data, out.data, outer: n * oh, length: w, inner: c, adjoint: false)
    }

    /// The adjoint of `filter2D`: `[n, oh, ow, c]` back to `[n, h, w, c]` in `back`.
    private func filter2DAdjoint(_ g: UnsafePointer<Float>, n: Int, h: Int, w: Int, c: Int) {
        let f = taps.count, oh = h - f + 1
        temp.resize(to: [n, oh, w, c])
        filter1D(g, temp.data, outer: n * oh, length: w, inner: c, adjoint: true)
        back.resize(to: [n, h, w, c])
        filter1D(temp.data, back.data, outer: n, length: h, inner: w * c, adjoint: true)
    }

    /// The per-sample DSSIM; with `gradient`, writes (or adds, with `accumulate`) the gradient of their sum
    /// with respect to `prediction`.
    public func evaluate(prediction: Tensor, target: Tensor, gradient: Tensor?, accumulate: Bool = false) -> [Float] {
        let (n, h, w, c) = prediction.expectNHWC("DSSIMLoss prediction")
        prediction.expectSameShape(target, "DSSIMLoss: the target")
        precondition(h >= filterSize && w >= filterSize,
                     "DSSIMLoss: image \(h)x\(w) is smaller than the \(filterSize)x\(filterSize) window")
        let a = target.data, b = prediction.data, count = prediction.count
        filter2D(a, n: n, h: h, w: w, c: c, into: muA)
        filter2D(b, n: n, h: h, w: w, c: c, into: muB)
        product.resize(to: prediction.shape)
        let pr = product.data
        parallelRanges(count) { r in for i in r { pr[i] = a[i] * b[i] } }
        filter2D(pr, n: n, h: h, w: w, c: c, into: sAB)
        parallelRanges(count) { r in for i in r { pr[i] = a[i] * a[i] + b[i] * b[i] } }
        filter2D(pr, n: n, h: h, w: w, c: c, into: sSq)

        let oh = h - filterSize + 1, ow = w - filterSize + 1, per = oh * ow * c
        // dLoss/dSSIM at each window position: loss = scale * mean_c(1 - mean_p ssim) / 2.
        let gScale = -scale / (2 * Float(oh * ow * c))
        let want = gradient != nil
        if want { gMu.resize(to: muA.shape); gAB.resize(to: muA.shape); gSq.resize(to: muA.shape) }
        let ma = muA.data, mb = muB.data, sab = sAB.data, ssq = sSq.data
        let gm = gMu.data, ga = gAB.data, gs = gSq.data
        let (c1, c2) = (self.c1, self.c2)
        var ssimSum = [Double](repeating: 0, count: n)
        ssimSum.withUnsafeMutableBufferPointer { sb in
            let sp = sb.baseAddress!
            parallelFor(n) { s in
                var acc: Double = 0
                for i in (s * per)..<((s + 1) * per) {
                    let mua = ma[i], mub = mb[i]
                    let n1 = 2 * mua * mub + c1, d1 = mua * mua + mub * mub + c1
                    let n2 = 2 * sab[i] - 2 * mua * mub + c2, d2 = ssq[i] - mua * mua - mub * mub + c2
                    let lum = n1 / d1, cs = n2 / d2
                    acc += Double(lum * cs)
                    if want {
                        let dLumdMuB = (2 * mua * d1 - n1 * 2 * mub) / (d1 * d1)
                        let dCsdMuB = (-2 * mua * d2 + 2 * mub * n2) / (d2 * d2)
                        gm[i] = gScale * (cs * dLumdMuB + lum * dCsdMuB)
                        ga[i] = gScale * lum * 2 / d2
                        gs[i] = -gScale * lum * n2 / (d2 * d2)
                    }
                }
                sp[s] = acc
            }
        }
        let values = ssimSum.map { scale * Float((1 - $0 / Double(per)) / 2) }
        guard let gradient else { return values }
        prepare(gradient, like: prediction, accumulate: accumulate)
        let g = gradient.data
        // d/db of the three filtered maps: mu_b = K*b, s_ab = K*(a b), s_sq = K*(a^2 + b^2).
        filter2DAdjoint(gm, n: n, h: h, w: w, c: c)
        var bk = back.data
        parallelRanges(count) { r in for i in r { g[i] += bk[i] } }
        filter2DAdjoint(ga, n: n, h: h, w: w, c: c)
        bk = back.data
        parallelRanges(count) { r in for i in r { g[i] += a[i] * bk[i] } }
        filter2DAdjoint(gs, n: n, h: h, w: w, c: c)
        bk = back.data
        parallelRanges(count) { r in for i in r { g[i] += 2 * b[i] * bk[i] } }
        return values
    }
}

/// `loss(prediction * mask, target * mask)`, the mask `[N, H, W, 1]` broadcast over channels
/// (how DeepFaceLab's masked training restricts the loss to the face).
public final class MaskedLoss: ImageLoss {
    /// The loss evaluated on the masked images.
    public let inner: any ImageLoss
    /// `[N, H, W, 1]`; set before `evaluate`.
    public var mask: Tensor?
    private let maskedPrediction = Tensor(shape: [0]), maskedTarget = Tensor(shape: [0])
    private let innerGradient = Tensor(shape: [0])

    /// `inner` restricted to `mask` (which can also be set later, before each `evaluate`).
    public init(_ inner: any ImageLoss, mask: Tensor? = nil) {
        self.inner = inner
        self.mask = mask
    }

    /// `inner` on `prediction * mask` and `target * mask`; with `gradient`, the gradient of their sum
    /// with respect to `prediction` (the inner gradient times the mask), written or added with `accumulate`.
    public func evaluate(prediction: Tensor, target: Tensor, gradient: Tensor?, accumulate: Bool = false) -> [Float] {
        guard let mask else { preconditionFailure("MaskedLoss: set `mask` before evaluating") }
        let (n, h, w, c) = prediction.expectNHWC("MaskedLoss prediction")
        mask.expectNHWC(channels: 1, height: h, width: w, "MaskedLoss mask")
        precondition(mask.batch == n, "MaskedLoss: mask batch \(mask.batch) != prediction batch \(n)")
        applyMask(prediction, mask, into: maskedPrediction)
        applyMask(target, mask, into: maskedTarget)
        let values = inner.evaluate(prediction: maskedPrediction, target: maskedTarget,
                                    gradient: gradient == nil ? nil : innerGradient, accumulate: false)
        guard let gradient else { return values }
        prepare(gradient, like: prediction, accumulate: accumulate)
        let g = gradient.data, ig = innerGradient.data, m = mask.data
        parallelRanges(n * h * w, grain: 4096) { r in
            for p in r { for ch in 0..<c { g[p * c + ch] += ig[p * c + ch] * m[p] } }
        }
        return values
    }
}

/// out = x * mask, mask `[N, H, W, 1]` broadcast over x's channels.
func applyMask(_ x: Tensor, _ mask: Tensor, into out: Tensor) {
    let c = x.shape[3], pixels = x.count / max(c, 1)
    out.resize(to: x.shape)
    let s = x.data, m = mask.data, o = out.data
    parallelRanges(pixels, grain: 4096) { r in
        for p in r { let mv = m[p]; for ch in 0..<c { o[p * c + ch] = s[p * c + ch] * mv } }
    }
}
