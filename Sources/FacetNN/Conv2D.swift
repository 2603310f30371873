/// 2-D convolution (NHWC, SAME padding, stride, bias) as im2col + sgemm, with a fused activation.
import COpenBLAS
import Foundation

/// Output size and padding of a TensorFlow SAME convolution over one spatial axis.
@inline(__always)
func samePadding(input: Int, kernel: Int, stride: Int) -> (output: Int, before: Int) {
    let out = (input + stride - 1) / stride
    let total = max((out - 1) * stride + kernel - input, 0)
    return (out, total / 2)
}

/// Shapes of one convolution call.
struct ConvGeometry {
    let n, h, w, cin, oh, ow, k, s, padTop, padLeft, cout: Int
    var rows: Int { n * oh * ow }
    var depth: Int { k * k * cin }

    init(n: Int, h: Int, w: Int, cin: Int, k: Int, s: Int, cout: Int) {
        (self.n, self.h, self.w, self.cin, self.k, self.s, self.cout) = (n, h, w, cin, k, s, cout)
        (oh, padTop) = samePadding(input: h, kernel: k, stride: s)
        (ow, padLeft) = samePadding(input: w, kernel: k, stride: s)
    }
}

/// Writes the im2col matrix of `x`: one row per output pixel, `k*k*cin` columns in (ky, kx, ci)
/// order (the order of a `[k, k, cin, cout]` kernel), zeros where the window leaves the image.
func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, _ col: UnsafeMutablePointer<Float>) {
    let (h, w, cin, oh, ow, k, s) = (g.h, g.w, g.cin, g.oh, g.ow, g.k, g.s)
    let depth = g.depth, rowLen = k * cin
    parallelRanges(g.rows, grain: 256) { range in
        for m in range {
            let n = m / (oh * ow), rem = m % (oh * ow)
            let oy = rem / ow, ox = rem % ow
            let ix0 = ox * s - g.padLeft
            // The in-bounds kx range is the same for every ky: one contiguous copy per kernel row.
            let kxLo = max(0, -ix0), kxHi = min(k, w - ix0)
            var dst = col + m * depth
            for ky in 0..<k {
                let iy = oy * s - g.padTop + ky
                if iy < 0 || iy >= h || kxHi <= kxLo {
                    dst.update(repeating: 0, count: rowLen)
                } else {
                    if kxLo > 0 { dst.update(repeating: 0, count: kxLo * cin) }
                    (dst + kxLo * cin).update(from: x + ((n * h + iy) * w + ix0 + kxLo) * cin, count: (kxHi - kxLo) * cin)
                    if kxHi < k { (dst + kxHi * cin).update(repeating: 0, count: (k - kxHi) * cin) }
                }
                dst += rowLen
            }
        }
    }
}

/// The adjoint of `im2col`: dx[pixel] = sum of the column entries that copied that pixel.
/// Gathers per input pixel, so threads never write the same memory and dx needs no zeroing.
func col2im(_ col: UnsafePointer<Float>, _ g: ConvGeometry, _ dx: UnsafeMutablePointer<Float>) {
    let (h, w, cin, oh, ow, k, s) = (g.h, g.w, g.cin, g.oh, g.ow, g.k, g.s)
    let depth = g.depth
    parallelRanges(g.n * h * w, grain: 256) { range in
        for p in range {
            let n = p / (h * w), rem = p % (h * w)
            let iy = rem / w, ix = rem % w
            let d = dx + p * cin
            d.update(repeating: 0, count: cin)
            for ky in 0..<k {
                let ty = iy + g.padTop - ky
                if ty < 0 || ty % s != 0 { continue }
                let oy = ty / s
                if oy >= oh { continue }
                for kx in 0..<k {
                    let tx = ix + g.padLeft - kx
                    if tx < 0 || tx % s != 0 { continue }
                    let ox = tx / s
                    if ox >= ow { continue }
                    let src = col + ((n * oh + oy) * ow + ox) * depth + (ky * k + kx) * cin
                    for c in 0..<cin { d[c] += src[c] }
                }
            }
        }
    }
}

/// Adds `bias` to every row of an `[rows, channels]` matrix and applies `activation`, in one pass.
func addBiasActivate(_ y: UnsafeMutablePointer<Float>, rows: Int, channels: Int, bias: UnsafePointer<Float>?, _ activation: Activation) {
    parallelRanges(rows, grain: max(1, 16_384 / max(channels, 1))) { r in
        for m in r {
            let row = y + m * channels
            if let bias { for c in 0..<channels { row[c] += bias[c] } }
            switch activation {
            case .identity: break
            case .leakyReLU(let a): for c in 0..<channels { let v = row[c]; row[c] = v > 0 ? v : v * a }
            case .sigmoid: for c in 0..<channels { row[c] = 1 / (1 + expf(-row[c])) }
            }
        }
    }
}

/// Column sums of an `[rows, channels]` matrix into `out` (the bias gradient).
func columnSums(_ a: UnsafePointer<Float>, rows: Int, channels: Int, into out: UnsafeMutablePointer<Float>) {
    let workers = max(1, min(Engine.threads, rows / 64))
    let partial = UnsafeMutablePointer<Float>.allocate(capacity: workers * channels)
    defer { partial.deallocate() }
    partial.initialize(repeating: 0, count: workers * channels)
    parallelFor(workers) { t in
        let p = partial + t * channels
        for m in (rows * t / workers)..<(rows * (t + 1) / workers) {
            let row = a + m * channels
            for c in 0..<channels { p[c] += row[c] }
        }
    }
    for c in 0..<channels {
        var s: Float = 0
        for t in 0..<workers { s += partial[t * channels + c] }
        out[c] = s
    }
}

/// A 2-D convolution with TensorFlow's SAME padding: kernel `[k, k, cin, cout]` (TF's HWIO
/// layout), optional bias `[cout]`, and an activation fused into the output pass.
///
/// Forward and both gradients are single GEMMs (`gemm`, both cores) over the im2col matrix (built in a
/// shared scratch buffer); 3x3 stride-1 layers use Winograd F(4x4, 3x3) or F(2x2, 3x3) instead
/// (4x or 2.25x fewer multiplications in all three passes, see `Winograd.swift`). Cost: 2 * N*OH*OW * k*k*cin*cout flops per pass.
public final class Conv2D: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let activation: Activation
    /// `[k, k, cin, cout]`.
    public let weight: Parameter
    /// `[cout]`, or nil for a convolution without bias.
    public let bias: Parameter?
    /// When false, `backward` computes only the parameter gradients and returns an empty tensor
    /// (for a model's first layer, whose input needs no gradient).
    public var computesInputGradient = true
    /// Uses Winograd (see `winogradTile`) where it applies: 3x3 kernel, stride 1, channel counts that are
    /// multiples of 8, no fused sigmoid. Off forces im2col + GEMM. Defaults to
    /// `Conv2D.winogradByDefault`.
    public var useWinograd = Conv2D.winogradByDefault

    /// On in optimised builds. Off in debug builds, whose unoptimised SIMD code makes the
    /// Winograd transforms some 50x slower than im2col (tests turn it on where they check it).
    #if DEBUG
    nonisolated(unsafe) public static var winogradByDefault = false
    #else
    nonisolated(unsafe) public static var winogradByDefault = true
    #endif

    /// Whether this layer can take the Winograd path (shape and settings; see `usesWinograd`).
    public var winogradApplies: Bool {
        useWinograd && kernelSize == 3 && stride == 1 && inChannels % 8 == 0 && outChannels % 8 == 0 && activation != .sigmoid
    }

    /// The Winograd output tile side for this call (4, 2), or nil for im2col. Measured on
    /// Quick96's layers, Winograd loses on small images (3x3 and 6x6: a few tiles per image make
    /// tiny GEMMs next to large kernel transforms) and wins from 12x12 up; F(4x4) (4x fewer
    /// multiplications) is used where it still gives `winogradMinimumTiles` tiles per image
    /// (24x24 and up), F(2x2) below.
    func winogradTile(_ g: ConvGeometry) -> Int? {
        guard winogradApplies else { return nil }
        if let forced = Conv2D.winogradTileOverride { return forced }
        for m in [4, 2] where ((g.h + m - 1) / m) * ((g.w + m - 1) / m) >= Conv2D.winogradMinimumTiles { return m }
        return nil
    }

    func usesWinograd(_ g: ConvGeometry) -> Bool { winogradTile(g) != nil }

    /// The Winograd output tile side (4 or 2) for `height` x `width` inputs, nil for im2col.
    public func winogradTile(height: Int, width: Int) -> Int? {
        winogradTile(ConvGeometry(n: 1, h: height, w: width, cin: inChannels, k: kernelSize, s: stride, cout: outChannels))
    }

    /// Forces one tile size (tests cover both variants on small inputs).
    nonisolated(unsafe) static var winogradTileOverride: Int?

    /// 16 tiles = an 8x8 image (tests lower it to cover the path on tiny inputs).
    nonisolated(unsafe) static var winogradMinimumTiles = 16

    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let preGradient = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    /// The kernel in the Winograd domain, from forward to backward (saves one transform a step).
    private let winogradWeights = Tensor(shape: [0])

    public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, bias: Bool = true,
                activation: Activation = .identity) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0,
                     "Conv2D: bad configuration cin \(inChannels) cout \(outChannels) k \(kernelSize) stride \(stride)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.activation = activation
        weight = Parameter(shape: [kernelSize, kernelSize, inChannels, outChannels])
        self.bias = bias ? Parameter(shape: [outChannels]) : nil
    }

    /// Glorot-uniform kernel (fans include the receptive field, as Keras computes them), zero bias.
    public func initialize(using generator: inout SeededGenerator) {
        let field = kernelSize * kernelSize
        weight.value.fillGlorotUniform(fanIn: field * inChannels, fanOut: field * outChannels, using: &generator)
        bias?.value.fill(0)
    }

    public func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, _) = x.expectNHWC(channels: inChannels, "Conv2D(\(kernelSize)x\(kernelSize), \(inChannels)->\(outChannels)) input")
        let g = ConvGeometry(n: n, h: h, w: w, cin: inChannels, k: kernelSize, s: stride, cout: outChannels)
        input = x
        output.resize(to: [n, g.oh, g.ow, outChannels])
        if let tile = winogradTile(g) {
            // Bias and activation are fused into the output transform.
            winogradWeights.resize(to: [(tile + 2) * (tile + 2), inChannels, outChannels])
            winogradForward(x.data, weight.value.data, bias: bias?.value.data, activation, g, tile: tile,
                            transformedWeights: winogradWeights.data, output.data)
            return output
        }
        if kernelSize == 1 && stride == 1 {
            gemm(CblasNoTrans, CblasNoTrans, Int32(g.rows), Int32(outChannels), Int32(inChannels),
                        1, x.data, Int32(inChannels), weight.value.data, Int32(outChannels), 0, output.data, Int32(outChannels))
        } else {
            Scratch.with([g.rows * g.depth]) { bufs in
                im2col(x.data, g, bufs[0])
                gemm(CblasNoTrans, CblasNoTrans, Int32(g.rows), Int32(outChannels), Int32(g.depth),
                            1, bufs[0], Int32(g.depth), weight.value.data, Int32(outChannels), 0, output.data, Int32(outChannels))
            }
        }
        addBiasActivate(output.data, rows: g.rows, channels: outChannels, bias: bias?.value.data, activation)
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Conv2D.backward called before forward") }
        output.expectSameShape(dy, "Conv2D(\(kernelSize)x\(kernelSize), \(inChannels)->\(outChannels)).backward gradient")
        let g = ConvGeometry(n: x.shape[0], h: x.shape[1], w: x.shape[2], cin: inChannels, k: kernelSize, s: stride, cout: outChannels)
        preGradient.resize(to: dy.shape)
        activation.backward(dy: dy.data, y: output.data, out: preGradient.data, dy.count)
        let dPre = preGradient.data
        if let bias { columnSums(dPre, rows: g.rows, channels: outChannels, into: bias.gradient.data) }
        if computesInputGradient { inputGradient.resize(to: x.shape) } else { inputGradient.resize(to: [0]) }
        let m = Int32(g.rows), co = Int32(outChannels)
        if let tile = winogradTile(g) {
            winogradBackward(x.data, transformedWeights: winogradWeights.data, dPre, g, tile: tile, weight.gradient.data,
                             computesInputGradient ? inputGradient.data : nil)
        } else if kernelSize == 1 && stride == 1 {
            let ci = Int32(inChannels)
            gemm(CblasTrans, CblasNoTrans, ci, co, m, 1, x.data, ci, dPre, co, 0, weight.gradient.data, co)
            if computesInputGradient {
                gemm(CblasNoTrans, CblasTrans, m, ci, co, 1, dPre, co, weight.value.data, co, 0, inputGradient.data, ci)
            }
        } else {
            let kd = Int32(g.depth)
            Scratch.with([g.rows * g.depth]) { bufs in
                let col = bufs[0]
                im2col(x.data, g, col)
                gemm(CblasTrans, CblasNoTrans, kd, co, m, 1, col, kd, dPre, co, 0, weight.gradient.data, co)
                if computesInputGradient {
                    gemm(CblasNoTrans, CblasTrans, m, kd, co, 1, dPre, co, weight.value.data, co, 0, col, kd)
                    col2im(col, g, inputGradient.data)
                }
            }
        }
        return inputGradient
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        var p: [(name: String, parameter: Parameter)] = [("weight", weight)]
        if let bias { p.append(("bias", bias)) }
        return p
    }
}
