/// 2-D convolution (NHWC, SAME or VALID padding, stride, bias) as im2col + sgemm, with a fused activation.
import COpenBLAS
import Foundation

/// Output size and padding of a TensorFlow SAME convolution over one spatial axis.
@inline(__always)
func samePadding(input: Int, kernel: Int, stride: Int) -> (output: Int, before: Int) {
    let out = (input + stride - 1) / stride
    let total = max((out - 1) * stride + kernel - input, 0)
    return (out, total / 2)
}

/// Where a convolution's windows may go: TensorFlow's SAME (zero padding, `ceil(input / stride)`
/// outputs, the odd pixel of padding after), VALID (no padding, `(input - kernel) / stride + 1` outputs, windows
/// wholly inside; dlib's rule for every strided `con` layer), or symmetric: `kernel / 2` zeros on every side, then
/// VALID, `(input + 2 (kernel / 2) - kernel) / stride + 1` outputs. Symmetric is what DeepFaceLab's leras calls
/// SAME (`Conv2D(padding='SAME')`: `tf.pad` then a VALID convolution). At stride 1 with an odd kernel the first and
/// last are the same; a 5x5 stride-2 kernel on an even size reads one pixel earlier with symmetric padding (2
/// before, against TensorFlow's 1), for the same output size.
public enum ConvPadding: String, Sendable, Equatable, Codable {
    /// TensorFlow's SAME.
    case same
    /// No padding.
    case valid
    /// leras's SAME: `kernel / 2` zeros on every side.
    case symmetric

    /// One axis of `input` pixels under a `kernel`, `stride` convolution: its output size and the zeros before and
    /// after it (the convolution, its ONNX export and the tests take them from here).
    public func axis(input: Int, kernel: Int, stride: Int) -> (output: Int, before: Int, after: Int) {
        switch self {
        case .same:
            let (out, before) = samePadding(input: input, kernel: kernel, stride: stride)
            return (out, before, max((out - 1) * stride + kernel - input, 0) - before)
        case .valid:
            return ((input - kernel) / stride + 1, 0, 0)
        case .symmetric:
            let p = kernel / 2
            return ((input + 2 * p - kernel) / stride + 1, p, p)
        }
    }

    /// Whether this padding places a `kernel` x `kernel`, `stride` convolution's windows exactly as TensorFlow's
    /// SAME does (the Winograd and space-to-depth paths are written for it).
    func isTensorFlowSame(kernel: Int, stride: Int) -> Bool {
        self == .same || (self == .symmetric && stride == 1 && kernel % 2 == 1)
    }
}

/// Shapes of one convolution call.
struct ConvGeometry {
    let n, h, w, cin, oh, ow, k, s, padTop, padLeft, cout: Int
    var rows: Int { n * oh * ow }
    var depth: Int { k * k * cin }

    init(n: Int, h: Int, w: Int, cin: Int, k: Int, s: Int, cout: Int, padding: ConvPadding = .same) {
        (self.n, self.h, self.w, self.cin, self.k, self.s, self.cout) = (n, h, w, cin, k, s, cout)
        switch padding {
        case .same:
            break
        case .valid:
            precondition(h >= k && w >= k,
                         "Conv2D: a \(k)x\(k) VALID convolution needs an input of at least \(k)x\(k), got \(h)x\(w)")
        case .symmetric:
            let p = k / 2
            precondition(h + 2 * p >= k && w + 2 * p >= k,
                         "Conv2D: a \(k)x\(k) convolution padded \(p) needs an input of at least \(k - 2 * p), "
                             + "got \(h)x\(w)")
        }
        let y = padding.axis(input: h, kernel: k, stride: s), x = padding.axis(input: w, kernel: k, stride: s)
        (oh, padTop, ow, padLeft) = (y.output, y.before, x.output, x.before)
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
                    (dst + kxLo * cin).update(from: x + ((n * h + iy) * w + ix0 + kxLo) * cin,
                                              count: (kxHi - kxLo) * cin)
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
func addBiasActivate(_ y: UnsafeMutablePointer<Float>, rows: Int, channels: Int, bias: UnsafePointer<Float>?,
                     _ activation: Activation) {
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


// MARK: 5x5 stride-2 convolutions as 3x3 stride-1 convolutions on the space-to-depth input

/// Channels of the space-to-depth image of a `cin`-channel input: the four phases (py, px) of
/// each 2x2 block, `4 * cin`, padded with zero channels to a multiple of 8 (the Winograd kernels'
/// SIMD width).
@inline(__always)
func spaceToDepthChannels(_ cin: Int) -> Int { (4 * cin + 7) / 8 * 8 }

/// `out[n, Y, X, (py*2 + px)*cin + ci] = x[n, 2Y + py, 2X + px, ci]` (H and W even), the channels
/// past `4 * cin` zero. Each output pixel is two contiguous runs of `2 * cin` floats.
func spaceToDepth(_ x: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int, _ out: UnsafeMutablePointer<Float>) {
    let (h2, w2, cd) = (h / 2, w / 2, spaceToDepthChannels(cin))
    parallelRanges(n * h2 * w2, grain: max(64, 16_384 / cd)) { r in
        for p in r {
            let nn = p / (h2 * w2), rem = p % (h2 * w2), y = rem / w2, xx = rem % w2
            let d = out + p * cd
            for py in 0..<2 {
                (d + py * 2 * cin).update(from: x + ((nn * h + 2 * y + py) * w + 2 * xx) * cin, count: 2 * cin)
            }
            if cd > 4 * cin { (d + 4 * cin).update(repeating: 0, count: cd - 4 * cin) }
        }
    }
}

/// The adjoint of `spaceToDepth` (its inverse on the unpadded channels): dx from the gradient of
/// the space-to-depth image.
func depthToSpaceGradient(_ d: UnsafePointer<Float>, n: Int, h: Int, w: Int, cin: Int,
                          _ dx: UnsafeMutablePointer<Float>) {
    let (h2, w2, cd) = (h / 2, w / 2, spaceToDepthChannels(cin))
    parallelRanges(n * h2 * w2, grain: max(64, 16_384 / cd)) { r in
        for p in r {
            let nn = p / (h2 * w2), rem = p % (h2 * w2), y = rem / w2, xx = rem % w2
            for py in 0..<2 {
                (dx + ((nn * h + 2 * y + py) * w + 2 * xx) * cin).update(from: d + p * cd + py * 2 * cin,
                                                                         count: 2 * cin)
            }
        }
    }
}

/// Visits the taps of the 3x3 kernel on the space-to-depth input. Output pixel o's 5x5 window starts at input pixel
/// 2 o - `before` (`before`: 1 for TensorFlow's SAME padding of a 5x5 stride-2 kernel on an even size, 2 for the
/// symmetric one); the 3x3 tap ty of the space-to-depth convolution reads block o - 1 + ty, whose phase py is input
/// pixel 2 o - 2 + 2 ty + py, so 5x5 tap ky = 2 ty + py - 2 + `before` (the same for x).
/// `body(dst, src)`: offsets (in floats) of a `cin * cout` block in the `[3, 3, cd, cout]` kernel
/// and in the `[5, 5, cin, cout]` one, `src` nil where the 5x5 kernel has no tap (ky or kx outside 0...4).
@inline(__always)
func forEachSpaceToDepthTap(cin: Int, cout: Int, before: Int, _ body: (_ dst: Int, _ src: Int?) -> Void) {
    let cd = spaceToDepthChannels(cin)
    for ty in 0..<3 { for tx in 0..<3 { for py in 0..<2 { for px in 0..<2 {
        let ky = 2 * ty + py - 2 + before, kx = 2 * tx + px - 2 + before
        let dst = ((ty * 3 + tx) * cd + (py * 2 + px) * cin) * cout
        body(dst, (0..<5).contains(ky) && (0..<5).contains(kx) ? (ky * 5 + kx) * cin * cout : nil)
    } } } }
}

/// Layer-independent temporaries of the space-to-depth path (the input in that layout, its gradient, the 3x3 kernel
/// or its gradient), from the running code's `ScratchArena`, like `Scratch` (which the Winograd calls inside use).
enum SpaceToDepthScratch {
    /// Runs `body` with up to 3 buffers of at least `counts[i]` floats each (contents unspecified).
    static func with<R>(_ counts: [Int], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
        ScratchArena.current.withTensors(counts, body)
    }
}

/// A 2-D convolution with TensorFlow's SAME (default), VALID or symmetric (leras's SAME) padding: kernel
/// `[k, k, cin, cout]` (TF's HWIO layout), optional bias `[cout]`, and an activation fused into the output pass.
///
/// Forward and both gradients are single GEMMs (`gemm`, both cores) over the im2col matrix (built in a
/// shared scratch buffer); 3x3 stride-1 layers use Winograd F(4x4, 3x3) or F(2x2, 3x3) instead
/// (4x or 2.25x fewer multiplications in all three passes, see `Winograd.swift`), and 5x5 stride-2
/// layers on even sizes run as a 3x3 stride-1 Winograd convolution over the space-to-depth input
/// (`spaceToDepthTile`: with F(4x4) 2.8x fewer multiplications than the 5x5 GEMM).
/// Cost: 2 * N*OH*OW * k*k*cin*cout flops per pass.
public final class Conv2D: Layer {
    /// Input and output channels, kernel side, stride, and the activation fused into the output.
    public let inChannels: Int
    /// Output channels (`cout`).
    public let outChannels: Int
    /// Kernel side `k` (square kernels).
    public let kernelSize: Int
    /// Step between windows, in pixels, on both axes.
    public let stride: Int
    /// SAME (the default), VALID or symmetric; the Winograd path takes the layers padded as TensorFlow's SAME pads
    /// them (`isTensorFlowSame`), the space-to-depth path SAME and symmetric ones.
    public let padding: ConvPadding
    /// The nonlinearity applied to the output in the same pass.
    public let activation: Activation
    /// `[k, k, cin, cout]`.
    public let weight: Parameter
    /// `[cout]`, or nil for a convolution without bias.
    public let bias: Parameter?
    /// When false, `backward` computes only the parameter gradients and returns an empty tensor
    /// (for a model's first layer, whose input needs no gradient).
    public var computesInputGradient = true
    /// Uses Winograd (see `winogradTile`) where it applies: 3x3 kernel, stride 1, channel counts that are
    /// multiples of 8, no fused sigmoid. False forces im2col + GEMM; nil (the default) follows
    /// `ConvPolicy.current.winograd`.
    public var useWinograd: Bool?

    /// Whether Winograd is on for this layer: its own `useWinograd`, else the policy's.
    private var winogradOn: Bool { useWinograd ?? ConvPolicy.current.winograd }

    /// Whether this layer can take the Winograd path (shape and settings; see `usesWinograd`).
    public var winogradApplies: Bool {
        winogradOn && padding.isTensorFlowSame(kernel: kernelSize, stride: stride) && kernelSize == 3 && stride == 1
            && inChannels % 8 == 0 && outChannels % 8 == 0 && activation != .sigmoid
    }

    /// The Winograd output tile side for this call (4, 2), or nil for im2col. Measured on
    /// Quick96's layers, Winograd loses on small images (3x3 and 6x6: a few tiles per image make
    /// tiny GEMMs next to large kernel transforms) and wins from 12x12 up; F(4x4) (4x fewer
    /// multiplications) is used where it still gives `winogradMinimumTiles` tiles per image
    /// (24x24 and up), F(2x2) below.
    func winogradTile(_ g: ConvGeometry) -> Int? {
        guard winogradApplies else { return nil }
        let policy = ConvPolicy.current
        if let forced = policy.winogradTile { return forced }
        for m in [4, 2] where ((g.h + m - 1) / m) * ((g.w + m - 1) / m) >= policy.winogradMinimumTiles { return m }
        return nil
    }

    func usesWinograd(_ g: ConvGeometry) -> Bool { winogradTile(g) != nil }

    /// Whether this layer can take the space-to-depth path: a 5x5 stride-2 kernel is a 3x3
    /// stride-1 kernel over the input's 2x2 blocks (`4 * cin` channels, 25 of its 36 taps
    /// non-zero), which then runs as Winograd. Needs even input sizes (checked per call), output
    /// channels a multiple of 8, no fused sigmoid. Off with `useWinograd`.
    public var spaceToDepthApplies: Bool {
        winogradOn && padding != .valid && ConvPolicy.current.spaceToDepth && kernelSize == 5 && stride == 2
            && outChannels % 8 == 0 && activation != .sigmoid
    }

    /// This layer's choice of `ConvPolicy.keepsWinogradInput` (nil: the policy's). A model short of
    /// memory can turn it off for its largest layers only.
    public var keepsTransformedInput: Bool?

    /// The Winograd tile for the space-to-depth path (on the half-size image), or nil for im2col.
    func spaceToDepthTile(_ g: ConvGeometry) -> Int? {
        guard spaceToDepthApplies, g.h % 2 == 0, g.w % 2 == 0 else { return nil }
        let policy = ConvPolicy.current
        if let forced = policy.winogradTile { return forced }
        let (h, w) = (g.h / 2, g.w / 2)
        func tiles(_ m: Int) -> Int { ((h + m - 1) / m) * ((w + m - 1) / m) }
        if tiles(4) >= policy.spaceToDepthMinimumTiles { return 4 }
        if tiles(2) >= policy.winogradMinimumTiles { return 2 }
        return nil
    }

    /// The space-to-depth Winograd tile (4 or 2) for `height` x `width` inputs, nil for im2col.
    public func spaceToDepthTile(height: Int, width: Int) -> Int? {
        spaceToDepthTile(ConvGeometry(n: 1, h: height, w: width, cin: inChannels, k: kernelSize, s: stride,
                                      cout: outChannels))
    }

    /// The 3x3 stride-1 geometry over the space-to-depth image of `g`'s input.
    private func spaceToDepthGeometry(_ g: ConvGeometry) -> ConvGeometry {
        ConvGeometry(n: g.n, h: g.h / 2, w: g.w / 2, cin: spaceToDepthChannels(inChannels), k: 3, s: 1,
                     cout: outChannels)
    }

    /// The Winograd output tile side (4 or 2) for `height` x `width` inputs, nil for im2col.
    public func winogradTile(height: Int, width: Int) -> Int? {
        winogradTile(ConvGeometry(n: 1, h: height, w: width, cin: inChannels, k: kernelSize, s: stride,
                                  cout: outChannels))
    }

    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let preGradient = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    /// The kernel in the Winograd domain, from forward to backward (saves one transform a step).
    private let winogradWeights = Tensor(shape: [0])
    /// The input in the Winograd domain, from forward to backward when `keepsWinogradInput`.
    private let winogradInput = Tensor(shape: [0])
    private var hasWinogradInput = false
    /// What `winogradWeights` was transformed from while the kernel was frozen (see
    /// `Parameter.freeze`): the weight's token, the path (3x3 or space-to-depth) and tile, or nil.
    private var cachedWinogradWeights: (token: UInt64, spaceToDepth: Bool, tile: Int)?

    /// Whether `winogradWeights` already holds the frozen kernel transformed for this path and
    /// tile; when not, records that the call about to transform it leaves it so (a frozen kernel
    /// only). Unfrozen kernels are transformed on every call, as training needs.
    private func frozenWeightsReady(spaceToDepth: Bool, tile: Int) -> Bool {
        guard let token = weight.frozenToken else { cachedWinogradWeights = nil; return false }
        if let c = cachedWinogradWeights, c.token == token, c.spaceToDepth == spaceToDepth, c.tile == tile {
            return true
        }
        cachedWinogradWeights = (token, spaceToDepth, tile)
        return false
    }

    /// A convolution with zero weights (see `initialize`); `bias` false leaves the bias out; `padding` `.valid`
    /// for dlib-style unpadded layers.
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: ConvPadding = .same,
                bias: Bool = true, activation: Activation = .identity) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0,
                     "Conv2D: bad configuration cin \(inChannels) cout \(outChannels) k \(kernelSize) stride \(stride)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
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

    /// `y = act(conv(x) + b)` for NHWC `x`, on the path `ConvPolicy.current` and the shape choose.
    public func forward(_ x: Tensor) -> Tensor {
        let (n, h, w, _) = x.expectNHWC(channels: inChannels,
                                        "Conv2D(\(kernelSize)x\(kernelSize), \(inChannels)->\(outChannels)) input")
        let g = ConvGeometry(n: n, h: h, w: w, cin: inChannels, k: kernelSize, s: stride, cout: outChannels,
                             padding: padding)
        input = x
        output.resize(to: [n, g.oh, g.ow, outChannels])
        hasWinogradInput = false
        if let tile = winogradTile(g) {
            // Bias and activation are fused into the output transform.
            winogradWeights.resize(to: [(tile + 2) * (tile + 2), inChannels, outChannels])
            let ready = frozenWeightsReady(spaceToDepth: false, tile: tile)
            winogradForward(x.data, weight.value.data, bias: bias?.value.data, activation, g, tile: tile,
                            transformedWeights: winogradWeights.data, output.data,
                            savedInput: savedWinogradInput(g, tile),
                            weightsReady: ready)
            return output
        }
        if let tile = spaceToDepthTile(g) {
            let g3 = spaceToDepthGeometry(g), cin = inChannels, cout = outChannels
            winogradWeights.resize(to: [(tile + 2) * (tile + 2), g3.cin, cout])
            let ready = frozenWeightsReady(spaceToDepth: true, tile: tile)
            SpaceToDepthScratch.with([n * g3.h * g3.w * g3.cin, ready ? 0 : 9 * g3.cin * cout]) { b in
                spaceToDepth(x.data, n: n, h: h, w: w, cin: cin, b[0])
                let w5 = weight.value.data, w3 = b[1]
                if !ready {
                    forEachSpaceToDepthTap(cin: cin, cout: cout, before: g.padTop) { dst, src in
                        if let src {
                            (w3 + dst).update(from: w5 + src, count: cin * cout)
                        } else {
                            (w3 + dst).update(repeating: 0, count: cin * cout)
                        }
                    }
                    let pad = (g3.cin - 4 * cin) * cout
                    if pad > 0 {
                        for t in 0..<9 { (w3 + (t * g3.cin + 4 * cin) * cout).update(repeating: 0, count: pad) }
                    }
                }
                winogradForward(b[0], w3, bias: bias?.value.data, activation, g3, tile: tile,
                                transformedWeights: winogradWeights.data, output.data,
                                savedInput: savedWinogradInput(g3, tile),
                                weightsReady: ready)
            }
            return output
        }
        if kernelSize == 1 && stride == 1 {
            gemm(CblasNoTrans, CblasNoTrans, Int32(g.rows), Int32(outChannels), Int32(inChannels),
                        1, x.data, Int32(inChannels), weight.value.data, Int32(outChannels), 0, output.data,
                        Int32(outChannels))
        } else {
            Scratch.with([g.rows * g.depth]) { bufs in
                im2col(x.data, g, bufs[0])
                gemm(CblasNoTrans, CblasNoTrans, Int32(g.rows), Int32(outChannels), Int32(g.depth),
                            1, bufs[0], Int32(g.depth), weight.value.data, Int32(outChannels), 0, output.data,
                            Int32(outChannels))
            }
        }
        addBiasActivate(output.data, rows: g.rows, channels: outChannels, bias: bias?.value.data, activation)
        return output
    }

    /// The layer's buffer for the transformed input when `keepsWinogradInput`, else nil.
    private func savedWinogradInput(_ g: ConvGeometry, _ tile: Int) -> UnsafeMutablePointer<Float>? {
        guard keepsTransformedInput ?? ConvPolicy.current.keepsWinogradInput else { return nil }
        winogradInput.resize(to: [winogradInputSize(g, tile: tile)])
        hasWinogradInput = true
        return winogradInput.data
    }

    /// The parameter gradients (into `weight.gradient`, `bias.gradient`) and, when asked, the input gradient.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Conv2D.backward called before forward") }
        output.expectSameShape(dy,
                               "Conv2D(\(kernelSize)x\(kernelSize), \(inChannels)->\(outChannels)).backward gradient")
        let g = ConvGeometry(n: x.shape[0], h: x.shape[1], w: x.shape[2], cin: inChannels, k: kernelSize, s: stride,
                             cout: outChannels,
                             padding: padding)
        let winograd = winogradTile(g), s2dTile = winograd == nil ? spaceToDepthTile(g) : nil
        // The Winograd paths differentiate the activation and sum the bias gradient inside their
        // output-gradient transform; the others take one pass for each first.
        let fused = ConvPolicy.current.fusesWinogradBackward && (winograd != nil || s2dTile != nil)
        var slope: Float = 1
        if case .leakyReLU(let a) = activation { slope = a }
        let dPre: UnsafePointer<Float>
        if fused {
            dPre = UnsafePointer(dy.data)
        } else {
            preGradient.resize(to: dy.shape)
            activation.backward(dy: dy.data, y: output.data, out: preGradient.data, dy.count)
            dPre = UnsafePointer(preGradient.data)
            if let bias { columnSums(dPre, rows: g.rows, channels: outChannels, into: bias.gradient.data) }
        }
        let fusedY = fused ? UnsafePointer(output.data) : nil, fusedSlope: Float = fused ? slope : 1
        let fusedBias = fused ? bias?.gradient.data : nil
        if computesInputGradient { inputGradient.resize(to: x.shape) } else { inputGradient.resize(to: [0]) }
        let saved = hasWinogradInput ? UnsafePointer(winogradInput.data) : nil
        let m = Int32(g.rows), co = Int32(outChannels)
        if let tile = winograd {
            winogradBackward(x.data, transformedWeights: winogradWeights.data, dPre, g, tile: tile,
                             weight.gradient.data,
                             computesInputGradient ? inputGradient.data : nil, y: fusedY, slope: fusedSlope,
                             biasGradient: fusedBias,
                             savedInput: saved)
        } else if let tile = s2dTile {
            let g3 = spaceToDepthGeometry(g), cin = inChannels, cout = outChannels
            let size = g.n * g3.h * g3.w * g3.cin
            SpaceToDepthScratch.with([saved == nil ? size : 0, computesInputGradient ? size : 0,
                                      9 * g3.cin * cout]) { b in
                if saved == nil { spaceToDepth(x.data, n: g.n, h: g.h, w: g.w, cin: cin, b[0]) }
                winogradBackward(b[0], transformedWeights: winogradWeights.data, dPre, g3, tile: tile, b[2],
                                 computesInputGradient ? b[1] : nil, y: fusedY, slope: fusedSlope,
                                 biasGradient: fusedBias,
                                 savedInput: saved)
                let dw5 = weight.gradient.data, dw3 = b[2]
                forEachSpaceToDepthTap(cin: cin, cout: cout, before: g.padTop) { dst, src in
                    if let src { (dw5 + src).update(from: dw3 + dst, count: cin * cout) }
                }
                if computesInputGradient {
                    depthToSpaceGradient(b[1], n: g.n, h: g.h, w: g.w, cin: cin, inputGradient.data)
                }
            }
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

    /// `weight` and `bias` (when present), by name.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        var p: [(name: String, parameter: Parameter)] = [("weight", weight)]
        if let bias { p.append(("bias", bias)) }
        return p
    }
}
