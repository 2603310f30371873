/// A direct convolution for layers with very few output channels (H128's 5x5 image and mask
/// outputs: 3 and 1 channels at full resolution).
import Foundation

/// `Conv2D` with stride 1 and SAME padding computed directly instead of through im2col + GEMM:
/// with 1...8 output channels the GEMM is a thin matrix product that streams an im2col matrix of
/// `N*H*W x k*k*cin` floats (840 MB for H128's 5x5, 128-channel output at batch 4) through memory
/// three times a step, for a few hundred MFLOP of work. Here every output pixel is a dot product of
/// its input window with each kernel (vectorised over the input channels, which NHWC keeps
/// contiguous), and both gradients are gathered the same way, so nothing larger than the
/// layer's own tensors is ever written.
///
/// Same parameters, shapes and initialisation as `Conv2D`: kernel `[k, k, cin, cout]`, bias `[cout]`.
public final class NarrowConv2D: Layer {
    /// Input channels (`cin`).
    public let inChannels: Int
    /// Output channels (`cout`, a few).
    public let outChannels: Int
    /// Kernel side `k` (odd; SAME padding at stride 1).
    public let kernelSize: Int
    /// The nonlinearity applied to the output in the same pass.
    public let activation: Activation
    /// The kernel, `[k, k, cin, cout]` as `Conv2D`'s.
    public let weight: Parameter
    /// The bias, `[cout]`.
    public let bias: Parameter
    /// When false, `backward` returns an empty tensor (parameter gradients only).
    public var computesInputGradient = true

    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let preGradient = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    /// The kernel as `[cout, k, k, cin]`: each output channel's window weights contiguous.
    private var transposed: [Float] = []

    /// A layer of the given sizes (1...8 output channels; traps otherwise); its parameters start at zero.
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, activation: Activation = .identity) {
        precondition(inChannels > 0 && (1...8).contains(outChannels) && kernelSize > 0,
                     "NarrowConv2D: cin \(inChannels), cout \(outChannels) (1...8), k \(kernelSize)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.activation = activation
        weight = Parameter(shape: [kernelSize, kernelSize, inChannels, outChannels])
        bias = Parameter(shape: [outChannels])
    }

    /// Padding before the first pixel (TensorFlow's SAME at stride 1).
    private var pad: Int { (kernelSize - 1) / 2 }

    private func transposeWeights() {
        let k = kernelSize, ci = inChannels, co = outChannels
        transposed = [Float](repeating: 0, count: k * k * ci * co)
        let w = weight.value.data
        for t in 0..<(k * k) {
            for c in 0..<ci { for o in 0..<co { transposed[(o * k * k + t) * ci + c] = w[(t * ci + c) * co + o] } }
        }
    }

    /// The convolution of `x` (NHWC), activation applied (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, _) = x.expectNHWC(channels: inChannels,
                                        "NarrowConv2D(\(kernelSize)x\(kernelSize), "
                                        + "\(inChannels)->\(outChannels)) input")
        input = x
        transposeWeights()
        output.resize(to: [n, h, w, outChannels])
        let k = kernelSize, ci = inChannels, co = outChannels, p = pad
        let src = x.data, dst = output.data, b = bias.value.data
        transposed.withUnsafeBufferPointer { wt in
            let wp = wt.baseAddress!
            parallelRanges(n * h, grain: 1) { rows in
                for row in rows {
                    let nn = row / h, oy = row % h
                    for ox in 0..<w {
                        let o = dst + (row * w + ox) * co
                        let kxLo = max(0, p - ox), kxHi = min(k, w + p - ox)
                        for c in 0..<co {
                            // One vector accumulator over the whole window, reduced once.
                            var acc = SIMD8<Float>()
                            var tail: Float = 0
                            for ky in 0..<k {
                                let iy = oy + ky - p
                                if iy < 0 || iy >= h { continue }
                                for kx in kxLo..<kxHi {
                                    let xr = src + ((nn * h + iy) * w + ox + kx - p) * ci
                                    let wr = wp + ((c * k + ky) * k + kx) * ci
                                    var i = 0
                                    while i + 8 <= ci {
                                        acc.addProduct(UnsafeRawPointer(xr + i).loadUnaligned(as: SIMD8<Float>.self),
                                                       UnsafeRawPointer(wr + i).loadUnaligned(as: SIMD8<Float>.self))
                                        i += 8
                                    }
                                    while i < ci { tail += xr[i] * wr[i]; i += 1 }
                                }
                            }
                            o[c] = b[c] + acc.sum() + tail
                        }
                    }
                }
            }
        }
        activation.apply(dst, output.count)
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward` (empty without `computesInputGradient`); sets the
    /// gradients of `weight` and `bias`.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("NarrowConv2D.backward called before forward") }
        output.expectSameShape(dy,
                               "NarrowConv2D(\(kernelSize)x\(kernelSize), "
                               + "\(inChannels)->\(outChannels)).backward gradient")
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let k = kernelSize, ci = inChannels, co = outChannels, p = pad
        preGradient.resize(to: dy.shape)
        activation.backward(dy: dy.data, y: output.data, out: preGradient.data, dy.count)
        let g = preGradient.data, src = x.data
        columnSums(g, rows: n * h * w, channels: co, into: bias.gradient.data)

        // dW, as [cout, k, k, cin]: per-worker partial sums over the output rows, then reduced.
        let size = k * k * ci * co
        let workers = max(1, min(Engine.threads, n * h))
        let partial = UnsafeMutablePointer<Float>.allocate(capacity: workers * size)
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: workers * size)
        parallelFor(workers) { t in
            let acc = partial + t * size
            for row in (n * h * t / workers)..<(n * h * (t + 1) / workers) {
                let nn = row / h, oy = row % h
                for ox in 0..<w {
                    let gr = g + (row * w + ox) * co
                    for ky in 0..<k {
                        let iy = oy + ky - p
                        if iy < 0 || iy >= h { continue }
                        let kxLo = max(0, p - ox), kxHi = min(k, w + p - ox)
                        for kx in kxLo..<kxHi {
                            let xr = src + ((nn * h + iy) * w + ox + kx - p) * ci
                            for c in 0..<co { narrowAxpy(gr[c], xr, acc + ((c * k + ky) * k + kx) * ci, ci) }
                        }
                    }
                }
            }
        }
        let dw = weight.gradient.data
        for t in 0..<(k * k) {
            for c in 0..<ci {
                for o in 0..<co {
                    var s: Float = 0
                    for r in 0..<workers { s += partial[r * size + (o * k * k + t) * ci + c] }
                    dw[(t * ci + c) * co + o] = s
                }
            }
        }

        guard computesInputGradient else { inputGradient.resize(to: [0]); return inputGradient }
        // dX gathered per input pixel: out pixel (iy - ky + p, ix - kx + p) saw it through tap (ky, kx).
        inputGradient.resize(to: x.shape)
        let dx = inputGradient.data
        transposed.withUnsafeBufferPointer { wt in
            let wp = wt.baseAddress!
            parallelRanges(n * h, grain: 1) { rows in
                for row in rows {
                    let nn = row / h, iy = row % h
                    for ix in 0..<w {
                        let d = dx + (row * w + ix) * ci
                        let kxLo = max(0, ix + p - (w - 1)), kxHi = min(k, ix + p + 1)
                        // Eight input channels at a time, held in a register over the whole window.
                        var c0 = 0
                        while c0 < ci {
                            let lanes = min(8, ci - c0)
                            var acc = SIMD8<Float>()
                            for ky in 0..<k {
                                let oy = iy - ky + p
                                if oy < 0 || oy >= h { continue }
                                for kx in kxLo..<kxHi {
                                    let gr = g + ((nn * h + oy) * w + ix - kx + p) * co
                                    for c in 0..<co {
                                        let wr = wp + ((c * k + ky) * k + kx) * ci + c0
                                        if lanes == 8 {
                                            acc.addProduct(SIMD8<Float>(repeating: gr[c]),
                                                           UnsafeRawPointer(wr).loadUnaligned(as: SIMD8<Float>.self))
                                        } else {
                                            for l in 0..<lanes { acc[l] += gr[c] * wr[l] }
                                        }
                                    }
                                }
                            }
                            for l in 0..<lanes { d[c0 + l] = acc[l] }
                            c0 += 8
                        }
                    }
                }
            }
        }
        return inputGradient
    }

    /// `weight` and `bias`.
    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }
}

/// d[i] += s * v[i] over n floats.
@inline(__always)
func narrowAxpy(_ s: Float, _ v: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int) {
    let sv = SIMD8<Float>(repeating: s)
    var i = 0
    while i + 8 <= n {
        var dv = UnsafeRawPointer(d + i).loadUnaligned(as: SIMD8<Float>.self)
        dv.addProduct(sv, UnsafeRawPointer(v + i).loadUnaligned(as: SIMD8<Float>.self))
        UnsafeMutableRawPointer(d + i).storeBytes(of: dv, as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { d[i] += s * v[i]; i += 1 }
}
