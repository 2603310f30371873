/// Parameter-free layers: activations, depth-to-space, reshape, pixel norm, Gaussian blur.
import Foundation

/// Leaky ReLU: x for x > 0, slope * x otherwise.
public final class LeakyReLU: Layer {
    /// The factor applied to negative inputs, in (0, 1).
    public let slope: Float
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    /// A leaky ReLU with `slope` for negative inputs.
    public init(slope: Float) { self.slope = slope }

    /// x where positive, `slope` * x elsewhere (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        output.copy(from: x)
        Activation.leakyReLU(slope).apply(output.data, output.count)
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward`: `dy`, times `slope` where the input was not positive.
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "LeakyReLU.backward gradient")
        inputGradient.resize(to: dy.shape)
        Activation.leakyReLU(slope).backward(dy: dy.data, y: output.data, out: inputGradient.data, dy.count)
        return inputGradient
    }
}

/// The logistic function 1 / (1 + e^-x).
public final class Sigmoid: Layer {
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    /// The layer (it has no parameters).
    public init() {}

    /// 1 / (1 + e^-x) element-wise (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        output.copy(from: x)
        Activation.sigmoid.apply(output.data, output.count)
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward`: `dy * y * (1 - y)`, y the output.
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "Sigmoid.backward gradient")
        inputGradient.resize(to: dy.shape)
        Activation.sigmoid.backward(dy: dy.data, y: output.data, out: inputGradient.data, dy.count)
        return inputGradient
    }
}

/// Pixel shuffle in TensorFlow's `depth_to_space` order: `[N, H, W, b*b*C] -> [N, H*b, W*b, C]`,
/// out[n, y*b+i, x*b+j, c] = in[n, y, x, (i*b + j)*C + c].
public final class DepthToSpace: Layer {
    /// The block side `b`: each axis grows `b` times, channels shrink `b * b` times.
    public let blockSize: Int
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    /// A pixel shuffle with block side `blockSize`.
    public init(blockSize: Int) {
        precondition(blockSize >= 1, "DepthToSpace: block size must be at least 1")
        self.blockSize = blockSize
    }

    /// Copies between the two layouts: each (pixel, i) moves b*C contiguous floats.
    private func shuffle(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int,
                         c: Int, toSpace: Bool) {
        let b = blockSize, run = b * c
        parallelRanges(n * h * w, grain: 512) { r in
            for p in r {
                let nn = p / (h * w), rem = p % (h * w), y = rem / w, x = rem % w
                for i in 0..<b {
                    let deep = src + p * b * run + i * run
                    let wide = (nn * h * b + y * b + i) * (w * b) + x * b
                    if toSpace { (dst + wide * c).update(from: deep, count: run) }
                    else { (dst + p * b * run + i * run).update(from: src + wide * c, count: run) }
                }
            }
        }
    }

    /// `[N, H, W, b*b*C]` rearranged to `[N, H*b, W*b, C]` (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, cd) = x.expectNHWC("DepthToSpace(\(blockSize)) input")
        precondition(cd % (blockSize * blockSize) == 0,
                     "DepthToSpace(\(blockSize)): \(cd) channels are not a multiple of \(blockSize * blockSize)")
        let c = cd / (blockSize * blockSize)
        output.resize(to: [n, h * blockSize, w * blockSize, c])
        shuffle(x.data, output.data, n: n, h: h, w: w, c: c, toSpace: true)
        return output
    }

    /// The gradient rearranged back: `[N, H*b, W*b, C]` to `[N, H, W, b*b*C]`.
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "DepthToSpace.backward gradient")
        let (n, h, w, c) = (dy.shape[0], dy.shape[1] / blockSize, dy.shape[2] / blockSize, dy.shape[3])
        inputGradient.resize(to: [n, h, w, c * blockSize * blockSize])
        shuffle(dy.data, inputGradient.data, n: n, h: h, w: w, c: c, toSpace: false)
        return inputGradient
    }
}

/// Gives each sample a new shape (a view: no copy). `Reshape([-1])`-style flattening is
/// `Reshape(to: [features])`.
public final class Reshape: Layer {
    /// The shape each sample takes (the batch axis is kept).
    public let sampleShape: [Int]
    private var inputShape: [Int] = []
    /// A reshape of each sample to `sampleShape`.
    public init(to sampleShape: [Int]) { self.sampleShape = sampleShape }

    /// `x` viewed as `[N] + sampleShape` (no copy).
    public func forward(_ x: Tensor) -> Tensor {
        let per = sampleShape.reduce(1, *)
        precondition(x.shape.count >= 1 && x.perSample == per,
                     "Reshape: input shape \(x.shape) cannot become [N] + \(sampleShape)")
        inputShape = x.shape
        return x.reshaped([x.batch] + sampleShape)
    }

    /// `dy` viewed in the latest input's shape.
    public func backward(_ dy: Tensor) -> Tensor { dy.reshaped(inputShape) }
}

/// Pixel normalisation over the last axis: x * rsqrt(mean(x^2) + epsilon).
public final class PixelNorm: Layer {
    /// Added to the mean square before the root, so an all-zero pixel stays finite.
    public let epsilon: Float
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    private var scales: [Float] = []
    /// A pixel norm with `epsilon`.
    public init(epsilon: Float = 1e-6) { self.epsilon = epsilon }

    /// Each pixel's channels scaled by rsqrt(mean(x^2) + epsilon) (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        precondition(!x.shape.isEmpty, "PixelNorm: input needs at least one axis")
        input = x
        output.resize(to: x.shape)
        let c = x.shape.last!, rows = c == 0 ? 0 : x.count / c
        scales = [Float](repeating: 0, count: rows)
        let src = x.data, dst = output.data, eps = epsilon
        scales.withUnsafeMutableBufferPointer { sc in
            let sp = sc.baseAddress!
            parallelRanges(rows, grain: max(1, 8192 / max(c, 1))) { r in
                for row in r {
                    let a = src + row * c, o = dst + row * c
                    var ss: Float = 0
                    for i in 0..<c { ss += a[i] * a[i] }
                    let s = 1 / (ss / Float(c) + eps).squareRoot()
                    sp[row] = s
                    for i in 0..<c { o[i] = a[i] * s }
                }
            }
        }
        return output
    }

    /// dx = s * dy - x * s^3 / C * sum(dy * x), per row.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("PixelNorm.backward called before forward") }
        output.expectSameShape(dy, "PixelNorm.backward gradient")
        inputGradient.resize(to: x.shape)
        let c = x.shape.last!, rows = c == 0 ? 0 : x.count / c
        let src = x.data, g = dy.data, dst = inputGradient.data
        scales.withUnsafeBufferPointer { sc in
            let sp = sc.baseAddress!
            parallelRanges(rows, grain: max(1, 8192 / max(c, 1))) { r in
                for row in r {
                    let a = src + row * c, d = g + row * c, o = dst + row * c
                    var dot: Float = 0
                    for i in 0..<c { dot += a[i] * d[i] }
                    let s = sp[row], k = s * s * s * dot / Float(c)
                    for i in 0..<c { o[i] = s * d[i] - a[i] * k }
                }
            }
        }
        return inputGradient
    }
}

/// A fixed Gaussian blur of every channel with zero padding (output size = input size), as
/// leras's `gaussian_blur` does for masks. The kernel is symmetric and separable, so the pass is
/// two 1-D filters and the backward pass is the same blur applied to the gradient.
public final class GaussianBlur: Layer {
    /// The Gaussian's standard deviation, in pixels.
    public let sigma: Float
    /// Normalised 1-D taps (the 2-D kernel is their outer product).
    public let taps: [Float]
    private let output = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    private let temp = Tensor(shape: [0])

    /// leras's sizing: `max(3, int(4 * sigma))` taps, made odd (sigma 3 gives 13 taps).
    public convenience init(sigma: Float) {
        var size = max(3, Int(4 * sigma))
        if size % 2 == 0 { size += 1 }
        self.init(kernelSize: size, sigma: sigma)
    }

    /// A blur with `kernelSize` taps (odd) of a Gaussian of `sigma`.
    public init(kernelSize: Int, sigma: Float) {
        precondition(kernelSize % 2 == 1 && sigma > 0, "GaussianBlur: the kernel size must be odd and sigma positive")
        self.sigma = sigma
        let mid = Float(kernelSize / 2)
        var t = (0..<kernelSize).map { i -> Float in let d = Float(i) - mid; return expf(-d * d / (2 * sigma * sigma)) }
        let sum = t.reduce(0, +)
        t = t.map { $0 / sum }
        taps = t
    }

    func blur(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, n: Int, h: Int, w: Int, c: Int) {
        temp.resize(to: [n, h, w, c])
        let tmp = temp.data, r = taps.count / 2
        taps.withUnsafeBufferPointer { tb in
            let k = tb.baseAddress!
            // Horizontal pass, then vertical; each output row is independent.
            parallelRanges(n * h, grain: 8) { rows in
                for row in rows {
                    let s = src + row * w * c, o = tmp + row * w * c
                    for x in 0..<w {
                        let oo = o + x * c
                        for ch in 0..<c { oo[ch] = 0 }
                        for t in max(0, r - x)..<min(2 * r + 1, w - x + r) {
                            let ss = s + (x + t - r) * c, kt = k[t]
                            for ch in 0..<c { oo[ch] += kt * ss[ch] }
                        }
                    }
                }
            }
            parallelRanges(n * h, grain: 8) { rows in
                for row in rows {
                    let nn = row / h, y = row % h, o = dst + row * w * c
                    for i in 0..<(w * c) { o[i] = 0 }
                    for t in max(0, r - y)..<min(2 * r + 1, h - y + r) {
                        let ss = tmp + (nn * h + y + t - r) * w * c, kt = k[t]
                        for i in 0..<(w * c) { o[i] += kt * ss[i] }
                    }
                }
            }
        }
    }

    /// Every channel of `x` blurred, the same shape (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = x.expectNHWC("GaussianBlur input")
        output.resize(to: x.shape)
        blur(x.data, output.data, n: n, h: h, w: w, c: c)
        return output
    }

    /// The same blur applied to `dy` (the kernel is symmetric, so the blur is its own adjoint).
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "GaussianBlur.backward gradient")
        inputGradient.resize(to: dy.shape)
        blur(dy.data, inputGradient.data, n: dy.shape[0], h: dy.shape[1], w: dy.shape[2], c: dy.shape[3])
        return inputGradient
    }
}
