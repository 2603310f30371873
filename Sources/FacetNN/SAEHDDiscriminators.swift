/// SAEHD's discriminators as DeepFaceLab builds them: the U-Net patch discriminator of `gan_power` (leras's
/// `UNetPatchDiscriminator`, `D_src`) and the code discriminator of `true_face_power` (`CodeDiscriminator`), the
/// layers they need (leras's padded convolution, TensorFlow's SAME `conv2d_transpose`), their losses (means of
/// `sigmoid_cross_entropy_with_logits`) and the terms they add to the generator's loss.
import COpenBLAS
import Foundation
import FacetCore

/// TensorFlow's `conv2d_transpose` with SAME padding, as leras's `Conv2DTranspose` calls it: `[N, H, W, in]` to
/// `[N, H * stride, W * stride, out]`, the adjoint of a SAME convolution from the larger size with the same kernel
/// (TensorFlow's padding of that convolution: `max(k - stride, 0)` in all, the smaller half before). Kernel
/// `[k, k, out, in]` (TensorFlow's layout for the transpose), bias `[out]`, an activation fused into the output.
public final class Conv2DTranspose: Layer {
    /// Channels of the input.
    public let inChannels: Int
    /// Channels of the output.
    public let outChannels: Int
    /// The kernel's side.
    public let kernelSize: Int
    /// The upsampling factor.
    public let stride: Int
    /// Applied to the output.
    public let activation: Activation
    /// `[k, k, out, in]`.
    public let weight: Parameter
    /// `[out]`.
    public let bias: Parameter
    /// Whether `backward` computes the input gradient (the parameters' gradients always).
    public var computesInputGradient = true
    private var input: Tensor?
    private let output = Tensor(shape: [0]), preGradient = Tensor(shape: [0]), inputGradient = Tensor(shape: [0])

    /// A transposed convolution with zero weights.
    public init(inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int, activation: Activation = .identity) {
        precondition(inChannels > 0 && outChannels > 0 && kernelSize > 0 && stride > 0,
                     "Conv2DTranspose: bad configuration \(inChannels)->\(outChannels) k \(kernelSize) s \(stride)")
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.activation = activation
        weight = Parameter(shape: [kernelSize, kernelSize, outChannels, inChannels])
        bias = Parameter(shape: [outChannels])
    }

    /// The SAME convolution this layer is the adjoint of: from the output's size (`cin` = out) to the input's.
    private func geometry(_ x: Tensor) -> ConvGeometry {
        ConvGeometry(n: x.shape[0], h: x.shape[1] * stride, w: x.shape[2] * stride, cin: outChannels, k: kernelSize,
                     s: stride, cout: inChannels, padding: .same)
    }

    /// `act(conv_transpose(x) + b)` (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        x.expectNHWC(channels: inChannels,
                     "Conv2DTranspose(\(kernelSize)x\(kernelSize), \(inChannels)->\(outChannels)) input")
        input = x
        let g = geometry(x)
        output.resize(to: [g.n, g.h, g.w, outChannels])
        Scratch.with([g.rows * g.depth]) { b in
            // col [rows, k k out] = x [rows, in] W^T, W read as [k k out, in]; then summed back onto the pixels.
            gemm(CblasNoTrans, CblasTrans, Int32(g.rows), Int32(g.depth), Int32(inChannels), 1, x.data,
                 Int32(inChannels), weight.value.data, Int32(inChannels), 0, b[0], Int32(g.depth))
            col2im(b[0], g, output.data)
        }
        addBiasActivate(output.data, rows: g.n * g.h * g.w, channels: outChannels, bias: bias.value.data, activation)
        return output
    }

    /// Sets the kernel's and bias's gradients; returns dLoss/dInput (empty when `computesInputGradient` is off).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Conv2DTranspose.backward called before forward") }
        output.expectSameShape(dy, "Conv2DTranspose.backward gradient")
        let g = geometry(x)
        preGradient.resize(to: dy.shape)
        activation.backward(dy: dy.data, y: output.data, out: preGradient.data, dy.count)
        columnSums(preGradient.data, rows: g.n * g.h * g.w, channels: outChannels, into: bias.gradient.data)
        if computesInputGradient { inputGradient.resize(to: x.shape) } else { inputGradient.resize(to: [0]) }
        let rows = Int32(g.rows), depth = Int32(g.depth), cin = Int32(inChannels)
        Scratch.with([g.rows * g.depth]) { b in
            im2col(preGradient.data, g, b[0])
            gemm(CblasTrans, CblasNoTrans, depth, cin, rows, 1, b[0], depth, x.data, cin, 0, weight.gradient.data, cin)
            if computesInputGradient {
                gemm(CblasNoTrans, CblasNoTrans, rows, cin, depth, 1, b[0], depth, weight.value.data, cin, 0,
                     inputGradient.data, cin)
            }
        }
        return inputGradient
    }

    /// `weight` and `bias`.
    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }
}

/// leras's `Conv2D(padding='SAME')`: `k // 2` zeros on every side, then VALID (`Conv2D`'s `.symmetric`, which at
/// stride 1 with an odd kernel is TensorFlow's SAME and takes its faster paths).
func lerasConv(_ cin: Int, _ cout: Int, kernel: Int, stride: Int, activation: Activation) -> Conv2D {
    Conv2D(inChannels: cin, outChannels: cout, kernelSize: kernel, stride: stride, padding: .symmetric,
           activation: activation)
}

/// DeepFaceLab's `UNetPatchDiscriminator` (after "A U-Net Based Discriminator for GANs"): a 1x1 convolution to
/// `base` channels, then the 3x3 convolutions `find_archi` picks for the patch size (each doubling the channels, at
/// most 512), a 1x1 `center_out` logit map at the bottom, and back up through transposed convolutions, each
/// concatenated with the matching level's input, to a 1x1 `out_conv` logit map at the input's size. Leaky ReLU 0.2
/// after every convolution but the two outputs. Parameters: `in_conv`, `convs.i`, `upconvs.i` (leras's order:
/// `upconvs.0` is the deepest), `out_conv`, `center_out`, `center_conv`.
public final class UNetPatchDiscriminator {
    /// Kernel and stride of each downsampling convolution (`find_archi`).
    public let layers: [(kernel: Int, stride: Int)]
    /// Channels of the first level (`gan_dims`).
    public let baseChannels: Int
    let inConv: Conv2D
    let convs: [any Layer]
    let upconvs: [Conv2DTranspose]
    let centerOut: Conv2D, centerConv: Conv2D, outConv: Conv2D
    private var skips: [Tensor] = []
    private let concats: [Tensor]
    private let skipGradients: [Tensor], upGradients: [Tensor]
    private let levelGradient = Tensor(shape: [0])

    /// leras's `level_chs`: channels at level `i` (-1: after `in_conv`), `min(base * 2^(i + 1), 512)`.
    static func levelChannels(_ i: Int, base: Int) -> Int { min(base << (i + 1), 512) }

    /// A discriminator of `inChannels`-channel images with zero weights (see `initialize`).
    public init(patchSize: Int, inChannels: Int = 3, baseChannels: Int = 16) {
        let layers = UNetPatchDiscriminator.architecture(patchSize: patchSize)
        self.layers = layers
        self.baseChannels = baseChannels
        let ch = { UNetPatchDiscriminator.levelChannels($0, base: baseChannels) }
        inConv = Conv2D(inChannels: inChannels, outChannels: ch(-1), kernelSize: 1, activation: .leakyReLU(0.2))
        var convs: [any Layer] = [], upconvs: [Conv2DTranspose] = []
        for (i, (k, s)) in layers.enumerated() {
            convs.append(lerasConv(ch(i - 1), ch(i), kernel: k, stride: s, activation: .leakyReLU(0.2)))
            upconvs.insert(Conv2DTranspose(inChannels: ch(i) * (i != layers.count - 1 ? 2 : 1), outChannels: ch(i - 1),
                                           kernelSize: k, stride: s, activation: .leakyReLU(0.2)), at: 0)
        }
        self.convs = convs
        self.upconvs = upconvs
        let deepest = ch(layers.count - 1)
        outConv = Conv2D(inChannels: ch(-1) * 2, outChannels: 1, kernelSize: 1)
        centerOut = Conv2D(inChannels: deepest, outChannels: 1, kernelSize: 1)
        centerConv = Conv2D(inChannels: deepest, outChannels: deepest, kernelSize: 1, activation: .leakyReLU(0.2))
        concats = layers.map { _ in Tensor(shape: [0]) }
        skipGradients = layers.map { _ in Tensor(shape: [0]) }
        upGradients = layers.map { _ in Tensor(shape: [0]) }
    }

    /// leras's `find_archi`: of the stacks of 1 to 9 3x3 convolutions (the first of stride 2, the others 1 or 2), for
    /// each receptive field the one with fewest layers (then the most striding, then the first found), and of those
    /// fields the one nearest `patchSize` (the smaller on a tie).
    public static func architecture(patchSize: Int, maxLayers: Int = 9) -> [(kernel: Int, stride: Int)] {
        var best: [Int: (count: Int, strides: Int, layers: [(kernel: Int, stride: Int)])] = [:]
        for count in 1...maxLayers {
            var val = 1 << (count - 1)
            repeat {
                val -= 1
                var layers = [(kernel: 3, stride: 2)]
                var strides = 2
                for i in 0..<(count - 1) {
                    let s = 1 + (val & (1 << i) != 0 ? 1 : 0)
                    layers.append((kernel: 3, stride: s))
                    strides += s
                }
                var field = 0, total = 1
                for (i, l) in layers.enumerated() {
                    field = i == 0 ? l.kernel : field + (l.kernel - 1) * total
                    total *= l.stride
                }
                if let seen = best[field] {
                    if count < seen.count || (count == seen.count && strides > seen.strides) {
                        best[field] = (count, strides, layers)
                    }
                } else {
                    best[field] = (count, strides, layers)
                }
            } while val != 0
        }
        let fields = best.keys.sorted()
        var nearest = fields[0]
        for f in fields where abs(f - patchSize) < abs(nearest - patchSize) { nearest = f }
        return best[nearest]!.layers
    }

    /// The product of the strides: an input side must be a multiple of it for the way up to meet the way down.
    public var totalStride: Int { layers.reduce(1) { $0 * $1.stride } }

    /// Every weight with its path, in leras's order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        var p = prefixed("in_conv", inConv.namedParameters)
        for (i, c) in convs.enumerated() { p += prefixed("convs.\(i)", c.namedParameters) }
        for (i, u) in upconvs.enumerated() { p += prefixed("upconvs.\(i)", u.namedParameters) }
        return p + prefixed("out_conv", outConv.namedParameters) + prefixed("center_out", centerOut.namedParameters)
            + prefixed("center_conv", centerConv.namedParameters)
    }

    /// Glorot-uniform kernels (TensorFlow's default initializer, which leras keeps), zero biases, in parameter order.
    public func initialize(using generator: inout SeededGenerator) {
        for (_, p) in namedParameters { p.value.initializeGlorot(using: &generator) }
    }

    /// Whether `backward` returns the input gradient (the generator's step needs it, the discriminator's does not).
    public var computesInputGradient: Bool {
        get { inConv.computesInputGradient }
        set { inConv.computesInputGradient = newValue }
    }

    /// The two logit maps of `x` `[N, H, W, C]`: `center` `[N, H / stride, W / stride, 1]` and `out` `[N, H, W, 1]`
    /// (owned by the discriminator until its next `forward`).
    public func forward(_ x: Tensor) -> (center: Tensor, out: Tensor) {
        let (_, h, w, _) = x.expectNHWC("UNetPatchDiscriminator input")
        precondition(h % totalStride == 0 && w % totalStride == 0,
                     "UNetPatchDiscriminator: \(h)x\(w) is not a multiple of its total stride \(totalStride)")
        var t = inConv.forward(x)
        skips = []
        for conv in convs {
            skips.append(t)
            t = conv.forward(t)
        }
        let center = centerOut.forward(t)
        t = centerConv.forward(t)
        for (j, up) in upconvs.enumerated() {
            let u = up.forward(t), e = skips[skips.count - 1 - j]
            let (n, uh, uw, cu) = u.expectNHWC("UNetPatchDiscriminator upconv \(j)")
            let ce = e.shape[3]
            e.expectNHWC(height: uh, width: uw, "UNetPatchDiscriminator skip \(j)")
            let cat = concats[j]
            cat.resize(to: [n, uh, uw, ce + cu])
            let d = cat.data, es = e.data, us = u.data
            parallelRanges(n * uh * uw, grain: 1024) { r in
                for p in r {
                    (d + p * (ce + cu)).update(from: es + p * ce, count: ce)
                    (d + p * (ce + cu) + ce).update(from: us + p * cu, count: cu)
                }
            }
            t = cat
        }
        return (center, outConv.forward(t))
    }

    /// Sets every weight's gradient from the gradients of both logit maps of the latest `forward`; returns dLoss/dInput
    /// (owned by the discriminator; empty when `computesInputGradient` is off).
    public func backward(center dCenter: Tensor, out dOut: Tensor) -> Tensor {
        var g = outConv.backward(dOut)
        for j in upconvs.indices.reversed() {
            let (n, h, w, c) = g.expectNHWC("UNetPatchDiscriminator concat gradient")
            let ce = skips[skips.count - 1 - j].shape[3], cu = c - ce
            let sg = skipGradients[skips.count - 1 - j], ug = upGradients[j]
            sg.resize(to: [n, h, w, ce])
            ug.resize(to: [n, h, w, cu])
            let s = g.data, a = sg.data, b = ug.data
            parallelRanges(n * h * w, grain: 1024) { r in
                for p in r {
                    (a + p * ce).update(from: s + p * c, count: ce)
                    (b + p * cu).update(from: s + p * c + ce, count: cu)
                }
            }
            g = upconvs[j].backward(ug)
        }
        levelGradient.copy(from: centerConv.backward(g))
        add(centerOut.backward(dCenter), into: levelGradient)
        for i in convs.indices.reversed() {
            let d = convs[i].backward(levelGradient)
            levelGradient.copy(from: d)
            add(skipGradients[i], into: levelGradient)
        }
        return inConv.backward(levelGradient)
    }
}

/// `into += a` element by element (same shapes).
private func add(_ a: Tensor, into t: Tensor) {
    t.expectSameShape(a, "gradient sum")
    let o = t.data, s = a.data
    parallelRanges(t.count) { r in for i in r { o[i] += s[i] } }
}

/// DeepFaceLab's `CodeDiscriminator` on the inter's code (`true_face_power`): `1 + code_res // 8` leras convolutions
/// of stride 2 (the first 4x4, the others 3x3; `256 * min(2^i, 8)` channels, leaky ReLU 0.1), then a 1x1 convolution
/// to one logit map. Parameters: `convs.i`, `out_conv`.
public final class CodeDiscriminator {
    /// The convolutions in order.
    let network: Sequential
    private let convs: [any Layer]
    private let outConv: Conv2D

    /// A discriminator of `[N, codeResolution, codeResolution, inChannels]` codes with zero weights.
    public init(inChannels: Int, codeResolution: Int, channels: Int = 256) {
        var last = inChannels
        var convs: [any Layer] = []
        for i in 0..<(1 + codeResolution / 8) {
            let c = channels * min(1 << i, 8)
            convs.append(lerasConv(last, c, kernel: i == 0 ? 4 : 3, stride: 2, activation: .leakyReLU(0.1)))
            last = c
        }
        self.convs = convs
        outConv = Conv2D(inChannels: last, outChannels: 1, kernelSize: 1)
        var named: [(String, any Layer)] = convs.enumerated().map { ("convs.\($0.offset)", $0.element) }
        named.append(("out_conv", outConv))
        network = Sequential(named)
    }

    /// Every weight with its path.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        convs.enumerated().flatMap { prefixed("convs.\($0.offset)", $0.element.namedParameters) }
            + prefixed("out_conv", outConv.namedParameters)
    }

    /// Glorot-uniform kernels, zero biases, in parameter order.
    public func initialize(using generator: inout SeededGenerator) {
        for (_, p) in namedParameters { p.value.initializeGlorot(using: &generator) }
    }

    /// The logit map of `codes` (owned by the discriminator).
    public func forward(_ codes: Tensor) -> Tensor { network.forward(codes) }
    /// Sets the weights' gradients; dLoss/dCodes.
    public func backward(_ dy: Tensor) -> Tensor { network.backward(dy) }
}

/// leras's `DLoss` on samples `rows` of `logits`: each sample's mean over its logits of
/// `sigmoid_cross_entropy_with_logits(label, x) = max(x, 0) - x label + log(1 + exp(-|x|))`, times `scale`. With
/// `gradient` (shaped like `logits`), writes `scale * (sigmoid(x) - label) / count` into those rows.
func logitLoss(_ logits: Tensor, rows: Range<Int>, label: Float, scale: Float, gradient: Tensor?) -> [Double] {
    let per = logits.perSample
    let x = logits.data, g = gradient?.data
    return rows.map { b in
        var sum = 0.0
        for i in (b * per)..<((b + 1) * per) {
            let v = x[i]
            sum += Double(max(v, 0) - v * label + log1pf(expf(-abs(v))))
            if let g { g[i] = scale * (1 / (1 + expf(-v)) - label) / Float(per) }
        }
        return Double(scale) * sum / Double(per)
    }
}

/// A discriminator trained beside SAEHD: its weights under a name prefix, its own optimizer (same kind, rate and lr
/// dropout as the generator's, as DeepFaceLab makes `GAN_opt` and `D_code_opt`), and its fresh state from a seed.
public class SAEHDDiscriminatorPart {
    /// The weights' prefix in checkpoints (`D_src`, `code_discriminator`).
    public let prefix: String
    /// The optimizer state's prefix in checkpoints, replacing `optimizer` (`D_src_opt`, `D_code_opt`).
    public let optimizerPrefix: String
    /// The optimizer of the discriminator's own step (replaced by a fresh one on `reset`).
    public private(set) var optimizer: any Optimizer
    /// The weight of its term in the generator's loss (`gan_power`, `true_face_power`).
    public var power: Float
    private let makeOptimizer: () -> any Optimizer
    private let seed: UInt64

    init(prefix: String, optimizerPrefix: String, power: Float, seed: UInt64,
         makeOptimizer: @escaping () -> any Optimizer) {
        self.prefix = prefix
        self.optimizerPrefix = optimizerPrefix
        self.power = power
        self.seed = seed
        self.makeOptimizer = makeOptimizer
        optimizer = makeOptimizer()
    }

    /// The discriminator's own parameters (relative paths); subclasses give them.
    var ownParameters: [(name: String, parameter: Parameter)] { [] }

    /// Every weight under `prefix`: what its optimizer steps and the checkpoint stores.
    public var namedParameters: [(name: String, parameter: Parameter)] { prefixed(prefix, ownParameters) }

    /// Fresh weights from the seed (Glorot-uniform, zero biases) and a fresh optimizer: the state DeepFaceLab gives a
    /// discriminator it initialises.
    public func reset() {
        var g = SeededGenerator(seed: seed)
        for (_, p) in namedParameters {
            p.value.initializeGlorot(using: &g)
            p.valueChanged()
        }
        optimizer = makeOptimizer()
    }

    /// Extra tensors that say which discriminator the weights belong to (none by default).
    var configTensors: [NamedTensor] { [] }

    /// The weights (`isWeight`) and the optimizer state under `optimizerPrefix`, as checkpoints store them.
    func checkpointTensors() -> [(tensor: NamedTensor, isWeight: Bool)] {
        let params = namedParameters
        let weights = params.map { (tensor: $0.parameter.value.named($0.name), isWeight: true) }
        let state = optimizer.stateTensors(for: params).map {
            (tensor: NamedTensor(name: optimizerPrefix + String($0.name.dropFirst("optimizer".count)), shape: $0.shape,
                                 data: $0.data), isWeight: false)
        }
        return weights + state + configTensors.map { (tensor: $0, isWeight: false) }
    }

    /// Takes its weights and optimizer state from `stored` when they are all there with this discriminator's shapes
    /// and config (true), else resets (false); removes every tensor of its prefixes from `stored`.
    func load(from stored: inout [String: NamedTensor]) -> Bool {
        defer {
            for name in Array(stored.keys) where name.hasPrefix(prefix + ".") || name.hasPrefix(optimizerPrefix + ".") {
                stored[name] = nil
            }
        }
        let params = namedParameters
        let fits: (NamedTensor?, [Int]) -> Bool = { t, shape in
            guard let t else { return false }
            return t.shape == shape && t.data.count == shape.reduce(1, *)
        }
        for c in configTensors where stored[c.name]?.shape != c.shape || stored[c.name]?.data != c.data {
            reset()
            return false
        }
        guard params.allSatisfy({ fits(stored[$0.name], $0.parameter.value.shape) }) else {
            reset()
            return false
        }
        let fresh = makeOptimizer()
        var state: [String: NamedTensor] = [:]
        for s in fresh.stateShapes(for: params) {
            let name = optimizerPrefix + String(s.name.dropFirst("optimizer".count))
            guard let t = stored[name], fits(t, s.shape) else {
                reset()
                return false
            }
            state[s.name] = NamedTensor(name: s.name, shape: t.shape, data: t.data)
        }
        do {
            try fresh.loadState(state, for: params)
        } catch {
            reset()
            return false
        }
        for (name, p) in params {
            stored[name]!.data.withUnsafeBufferPointer {
                p.value.data.update(from: $0.baseAddress!, count: p.value.count)
            }
            p.valueChanged()
        }
        optimizer = fresh
        return true
    }
}

/// SAEHD's `gan_power`: the U-Net patch discriminator `D_src` on src faces (the target against the src decoder's
/// reconstruction, both under the loss mask with masked training), its loss, and the generator's adversarial term.
public final class SAEHDGAN: SAEHDDiscriminatorPart {
    /// `gan_patch_size`: the receptive field `find_archi` aims at.
    public let patchSize: Int
    /// `gan_dims`: the discriminator's first-level channels.
    public let dims: Int
    /// The discriminator.
    public let discriminator: UNetPatchDiscriminator
    private let fake = Tensor(shape: [0]), stacked = Tensor(shape: [0])
    private let centerGradient = Tensor(shape: [0]), outGradient = Tensor(shape: [0])

    /// A GAN of `power` with a discriminator for `patchSize` and `dims`, initialised from `seed`; `makeOptimizer`
    /// makes its optimizer (now and on every `reset`).
    public init(patchSize: Int, dims: Int, power: Float, seed: UInt64, makeOptimizer: @escaping () -> any Optimizer) {
        self.patchSize = patchSize
        self.dims = dims
        discriminator = UNetPatchDiscriminator(patchSize: patchSize, inChannels: 3, baseChannels: dims)
        super.init(prefix: "D_src", optimizerPrefix: "D_src_opt", power: power, seed: seed,
                   makeOptimizer: makeOptimizer)
        reset()
    }

    override var ownParameters: [(name: String, parameter: Parameter)] { discriminator.namedParameters }

    /// `D_src_opt.config` `[2]`: the patch size and dims its weights were made for (DeepFaceLab initialises the
    /// discriminator again when either changes, even where the shapes would fit).
    override var configTensors: [NamedTensor] {
        [NamedTensor(name: "D_src_opt.config", shape: [2], data: [Float(patchSize), Float(dims)])]
    }

    /// `prediction * mask` (the mask's one channel over the image's three) or the prediction itself.
    private func masked(_ image: Tensor, _ mask: Tensor?, into out: Tensor) -> Tensor {
        guard let mask else { return image }
        out.resize(to: image.shape)
        let c = image.shape[3], o = out.data, x = image.data, m = mask.data
        parallelRanges(mask.count, grain: 4096) { r in
            for p in r { for k in 0..<c { o[p * c + k] = x[p * c + k] * m[p] } }
        }
        return out
    }

    /// The generator's GAN terms per src sample: `gan_power * (DLoss(1, center) + DLoss(1, out))` of the
    /// discriminator on the (masked) prediction and, with masked training (`mask` given), `1e-6 * total_variation_mse`
    /// of the prediction plus `0.02 * mean((prediction - target)^2 (1 - mask)^2)` (the faint background term that
    /// keeps GAN's bright dots away). With `imageGrad`, adds their gradient with respect to the prediction into it.
    public func generatorTerm(prediction p: Tensor, target t: Tensor, mask: Tensor?, imageGrad: Tensor?) -> [Double] {
        let input = masked(p, mask, into: fake)
        discriminator.computesInputGradient = true
        let (center, out) = discriminator.forward(input)
        let n = p.batch
        centerGradient.resize(to: center.shape)
        outGradient.resize(to: out.shape)
        let g = imageGrad != nil
        let lc = logitLoss(center, rows: 0..<n, label: 1, scale: power, gradient: g ? centerGradient : nil)
        let lo = logitLoss(out, rows: 0..<n, label: 1, scale: power, gradient: g ? outGradient : nil)
        var total = (0..<n).map { lc[$0] + lo[$0] }
        if let imageGrad {
            imageGrad.expectSameShape(p, "SAEHDGAN: image gradient")
            let d = discriminator.backward(center: centerGradient, out: outGradient)
            let c = p.shape[3], gi = imageGrad.data, dd = d.data
            if let mask {
                let m = mask.data
                parallelRanges(mask.count, grain: 4096) { r in
                    for q in r { for k in 0..<c { gi[q * c + k] += dd[q * c + k] * m[q] } }
                }
            } else {
                parallelRanges(d.count) { r in for i in r { gi[i] += dd[i] } }
            }
        }
        guard let mask else { return total }
        let (_, h, w, c) = p.expectNHWC("SAEHDGAN prediction")
        let x = p.data, y = t.data, m = mask.data, gi = imageGrad?.data
        let anti: Float = 0.02 / Float(h * w * c), tv: Float = 1e-6
        for b in 0..<n {
            var sumTV = 0.0, sumAnti = 0.0
            let base = b * h * w * c
            for yy in 0..<h {
                for xx in 0..<w {
                    let q = base + (yy * w + xx) * c, mq = 1 - m[b * h * w + yy * w + xx]
                    for k in 0..<c {
                        let e = (x[q + k] - y[q + k]) * mq
                        sumAnti += Double(e * e)
                        if let gi { gi[q + k] += 2 * anti * e * mq }
                        if yy + 1 < h {
                            let dv = x[q + w * c + k] - x[q + k]
                            sumTV += Double(dv * dv)
                            if let gi { gi[q + w * c + k] += 2 * tv * dv; gi[q + k] -= 2 * tv * dv }
                        }
                        if xx + 1 < w {
                            let dv = x[q + c + k] - x[q + k]
                            sumTV += Double(dv * dv)
                            if let gi { gi[q + c + k] += 2 * tv * dv; gi[q + k] -= 2 * tv * dv }
                        }
                    }
                }
            }
            total[b] += Double(tv) * sumTV + Double(anti) * sumAnti
        }
        return total
    }

    /// The discriminator's loss, summed over the samples, and its weights' gradients:
    /// `(DLoss(1, D(real)) + DLoss(0, D(fake))) / 2` for the center map plus the same for the out map, `real` the
    /// (masked) target and `fake` the (masked) prediction of the updated generator.
    public func discriminatorGradients(target: Tensor, prediction: Tensor, mask: Tensor?) -> Double {
        let n = target.batch
        precondition(prediction.batch == n, "SAEHDGAN: target and prediction batches differ")
        stacked.resize(to: [2 * n] + Array(target.shape.dropFirst()))
        let real = masked(target, mask, into: fake)
        stacked.data.update(from: real.data, count: real.count)
        let predicted = masked(prediction, mask, into: fake)
        (stacked.data + real.count).update(from: predicted.data, count: predicted.count)
        discriminator.computesInputGradient = false
        let (center, out) = discriminator.forward(stacked)
        centerGradient.resize(to: center.shape)
        outGradient.resize(to: out.shape)
        var loss = 0.0
        for (rows, label) in [(0..<n, Float(1)), (n..<(2 * n), Float(0))] {
            loss += logitLoss(center, rows: rows, label: label, scale: 0.5, gradient: centerGradient).reduce(0, +)
            loss += logitLoss(out, rows: rows, label: label, scale: 0.5, gradient: outGradient).reduce(0, +)
        }
        _ = discriminator.backward(center: centerGradient, out: outGradient)
        discriminator.computesInputGradient = true
        return loss
    }
}

/// SAEHD's `true_face_power` (df only): the code discriminator telling the inter's codes of src faces (label 0) from
/// those of dst faces (label 1), and the generator's term `true_face_power * DLoss(1, D(src code))`, which pulls the
/// src codes towards the dst ones.
public final class SAEHDTrueFace: SAEHDDiscriminatorPart {
    /// The discriminator.
    public let discriminator: CodeDiscriminator
    private let gradient = Tensor(shape: [0])

    /// A code discriminator for `[N, codeResolution, codeResolution, channels]` codes, initialised from `seed`.
    public init(channels: Int, codeResolution: Int, power: Float, seed: UInt64,
                makeOptimizer: @escaping () -> any Optimizer) {
        discriminator = CodeDiscriminator(inChannels: channels, codeResolution: codeResolution)
        super.init(prefix: "code_discriminator", optimizerPrefix: "D_code_opt", power: power, seed: seed,
                   makeOptimizer: makeOptimizer)
        reset()
    }

    override var ownParameters: [(name: String, parameter: Parameter)] { discriminator.namedParameters }

    /// The generator's term per src sample; with `codeGrad` (shaped like `codes`), adds its gradient into it.
    public func generatorTerm(codes: Tensor, codeGrad: Tensor?) -> [Double] {
        let logits = discriminator.forward(codes)
        gradient.resize(to: logits.shape)
        let loss = logitLoss(logits, rows: 0..<codes.batch, label: 1, scale: power,
                             gradient: codeGrad == nil ? nil : gradient)
        if let codeGrad {
            codeGrad.expectSameShape(codes, "SAEHDTrueFace: code gradient")
            add(discriminator.backward(gradient), into: codeGrad)
        }
        return loss
    }

    /// The discriminator's loss `(DLoss(1, D(dst codes)) + DLoss(0, D(src codes))) / 2`, summed over the samples, and
    /// its weights' gradients; `codes` holds `srcCount` src codes, then the dst codes.
    public func discriminatorGradients(codes: Tensor, srcCount: Int) -> Double {
        let logits = discriminator.forward(codes)
        gradient.resize(to: logits.shape)
        let n = codes.batch
        let loss = logitLoss(logits, rows: 0..<srcCount, label: 0, scale: 0.5, gradient: gradient).reduce(0, +)
            + logitLoss(logits, rows: srcCount..<n, label: 1, scale: 0.5, gradient: gradient).reduce(0, +)
        _ = discriminator.backward(gradient)
        return loss
    }
}

/// The discriminators an SAEHD model trains beside its autoencoder, and those a checkpoint holds that are off in this
/// run (kept and saved again unchanged, as DeepFaceLab leaves `GAN.npy` in the model folder while GAN is off).
public final class SAEHDDiscriminators {
    /// `gan_power`'s discriminator; nil while GAN is off.
    public var gan: SAEHDGAN?
    /// `true_face_power`'s discriminator; nil while it is off.
    public var trueFace: SAEHDTrueFace?
    /// A checkpoint's discriminator tensors that no active discriminator took.
    public private(set) var dormant: [NamedTensor] = []
    let lossMaskBlur: GaussianBlur
    let blurOut: BlurOutMask
    let lossMask = Tensor(shape: [0]), codeInput = Tensor(shape: [0])

    init(resolution: Int, maskBlurSigma: Float) {
        lossMaskBlur = GaussianBlur(sigma: maskBlurSigma)
        blurOut = BlurOutMask(sigma: Float(resolution) / 128)
    }

    /// Whether a stored tensor belongs to a discriminator (weights or optimizer state).
    public static func owns(_ name: String) -> Bool {
        ["D_src.", "D_src_opt.", "code_discriminator.", "D_code_opt."].contains { name.hasPrefix($0) }
    }

    /// Whether any discriminator trains.
    public var isActive: Bool { gan != nil || trueFace != nil }

    /// Every discriminator tensor to store: the active ones' weights and optimizer state, then the dormant ones.
    public func checkpointTensors() -> [(tensor: NamedTensor, isWeight: Bool)] {
        let state = ["D_src_opt.", "D_code_opt."]
        return (gan?.checkpointTensors() ?? []) + (trueFace?.checkpointTensors() ?? [])
            + dormant.map { t in (tensor: t, isWeight: !state.contains { t.name.hasPrefix($0) }) }
    }

    /// Takes the discriminators' state from a checkpoint's tensors (those `owns` names): each active one loads its own
    /// when they fit, else starts afresh; the rest are kept as dormant.
    public func load(_ tensors: [NamedTensor]) {
        var stored = Dictionary(tensors.filter { SAEHDDiscriminators.owns($0.name) }.map { ($0.name, $0) },
                                uniquingKeysWith: { a, _ in a })
        if let gan { _ = gan.load(from: &stored) }
        if let trueFace { _ = trueFace.load(from: &stored) }
        dormant = stored.values.sorted { $0.name < $1.name }
    }
}

/// A network with parts trained beside it that are not part of the swap (SAEHD's discriminators): checkpoints store
/// their weights and optimizer state under their own names, and a resumed run takes them back.
public protocol AuxiliaryTensors: AnyObject {
    /// Their weights (`isWeight`) and optimizer state, as checkpoints store them.
    func auxiliaryTensors() -> [(tensor: NamedTensor, isWeight: Bool)]
    /// Whether a stored tensor is one of theirs.
    func ownsAuxiliaryTensor(named name: String) -> Bool
    /// Takes their state from a checkpoint's tensors of theirs (all of them; none when it has none).
    func loadAuxiliaryTensors(_ tensors: [NamedTensor])
}

extension SAEHD: AuxiliaryTensors {
    /// The discriminators' tensors (`SAEHDDiscriminators.checkpointTensors`).
    public func auxiliaryTensors() -> [(tensor: NamedTensor, isWeight: Bool)] { discriminators.checkpointTensors() }

    /// `D_src.*`, `D_src_opt.*`, `code_discriminator.*`, `D_code_opt.*`.
    public func ownsAuxiliaryTensor(named name: String) -> Bool { SAEHDDiscriminators.owns(name) }

    /// `SAEHDDiscriminators.load`.
    public func loadAuxiliaryTensors(_ tensors: [NamedTensor]) { discriminators.load(tensors) }

    /// The autoencoder's weights and optimizer state, then the discriminators' (what the training guard snapshots).
    public func exportTensors() -> [NamedTensor] {
        Checkpoint.export(parameters: namedParameters, optimizer: optimizer) + auxiliaryTensors().map(\.tensor)
    }

    /// Restores what `exportTensors` produced; throws (changing nothing) when the autoencoder's part does not fit.
    public func importTensors(_ tensors: [NamedTensor]) throws {
        let own = tensors.filter { !SAEHDDiscriminators.owns($0.name) }
        try Checkpoint.load(own, parameters: namedParameters, optimizer: optimizer)
        discriminators.load(tensors.filter { SAEHDDiscriminators.owns($0.name) })
    }

    /// SAEHD's loss mask of a batch: the mask blurred with sigma `R/32`, clipped at 0.5 and doubled (owned by the
    /// discriminators until the next call).
    func discriminatorLossMask(_ mask: Tensor) -> Tensor {
        let blurred = discriminators.lossMaskBlur.forward(mask), m = discriminators.lossMask
        m.resize(to: blurred.shape)
        let s = blurred.data, d = m.data
        parallelRanges(m.count, grain: 8192) { r in for i in r { d[i] = min(max(s[i], 0), 0.5) * 2 } }
        return m
    }

    /// The src targets as the loss sees them (`blur_out_mask` applied when on).
    func discriminatorTarget(_ batch: TrainingBatch) -> Tensor {
        targetOptions.blurOutMask ? discriminators.blurOut.apply(batch.target, mask: batch.mask) : batch.target
    }

    /// The GAN's generator terms, added to the src role's image gradient by the step's loss (nothing when GAN is off,
    /// for the dst role, or without a gradient to add to).
    func addGANGeneratorTerm(_ role: FaceRole, prediction: Tensor, target: Tensor, lossMask: Tensor,
                             imageGrad: Tensor?) {
        guard role == .src, let gan = discriminators.gan, let imageGrad else { return }
        _ = gan.generatorTerm(prediction: prediction, target: target, mask: lossOptions.masked ? lossMask : nil,
                              imageGrad: imageGrad)
    }

    /// The true-face generator term's gradient, added to the first `srcCount` rows (the src codes) of `codeGradient`
    /// (df's step; nothing when true face is off).
    func addTrueFaceGeneratorTerm(codes: Tensor, srcCount: Int, codeGradient: Tensor) {
        guard let trueFace = discriminators.trueFace else { return }
        _ = trueFace.generatorTerm(codes: codes.batchSlice(0..<srcCount),
                                   codeGrad: codeGradient.batchSlice(0..<srcCount))
    }

    /// DeepFaceLab's `D_train` and `D_src_dst_train`, run after the generator's update: the discriminators' gradients
    /// on what the updated generator makes of the same batches (the code discriminator on the src and dst codes, the
    /// patch discriminator on the src targets against the src reconstructions). Returns their losses (nil: off).
    public func computeDiscriminatorGradients(src: TrainingBatch,
                                              dst: TrainingBatch) -> (trueFace: Double?, gan: Double?) {
        var result: (trueFace: Double?, gan: Double?) = (nil, nil)
        if let trueFace = discriminators.trueFace {
            let r = config.resolution, bs = src.warped.batch, input = discriminators.codeInput
            input.resize(to: [bs + dst.warped.batch, r, r, 3])
            input.data.update(from: src.warped.data, count: src.warped.count)
            (input.data + src.warped.count).update(from: dst.warped.data, count: dst.warped.count)
            let codes = inter.forward(encoder.forward(input))
            result.trueFace = trueFace.discriminatorGradients(codes: codes, srcCount: bs)
        }
        if let gan = discriminators.gan {
            let prediction = decoderSrc.image.forward(code(src.warped, for: .src))
            let mask = lossOptions.masked ? discriminatorLossMask(src.mask) : nil
            result.gan = gan.discriminatorGradients(target: discriminatorTarget(src), prediction: prediction,
                                                    mask: mask)
        }
        return result
    }

    /// Everything the generator's step minimises on these batches, forward only: the summed reconstruction losses of
    /// `evaluate` plus the GAN's and true face's generator terms. `computeGradients` gives its gradient (tests check
    /// it against finite differences).
    public func generatorObjective(src: TrainingBatch, dst: TrainingBatch) -> Double {
        let l = evaluate(src: src, dst: dst)
        var total = (l.src + l.dst).reduce(0.0) { $0 + Double($1) }
        if let gan = discriminators.gan {
            let prediction = predict(src.warped, decoder: .src).image
            let mask = lossOptions.masked ? discriminatorLossMask(src.mask) : nil
            total += gan.generatorTerm(prediction: prediction, target: discriminatorTarget(src), mask: mask,
                                       imageGrad: nil).reduce(0, +)
        }
        if let trueFace = discriminators.trueFace {
            total += trueFace.generatorTerm(codes: code(src.warped, for: .src), codeGrad: nil).reduce(0, +)
        }
        return total
    }
}

/// A tensor reference a step's closures hand to each other (the df step's codes, for the true-face term).
final class HeldTensor {
    var tensor: Tensor?
}
