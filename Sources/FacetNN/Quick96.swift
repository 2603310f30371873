/// DeepFaceLab's Quick96 autoencoder (shared encoder + inter, one decoder per role) and its
/// training step, parametrised so a tiny variant is the same code.
import FacetCore

/// conv 3x3 (cin -> 4*cout) + leaky ReLU 0.1 + depth-to-space 2: doubles the resolution.
/// Parameters: `weight`, `bias` (the convolution's).
public final class Upscale: Layer {
    /// The convolution before the shuffle (its parameters are the layer's).
    public let conv: Conv2D
    private let shuffle = DepthToSpace(blockSize: 2)
    /// An upscale from `cin` to `cout` channels.
    public init(_ cin: Int, _ cout: Int) {
        conv = Conv2D(inChannels: cin, outChannels: cout * 4, kernelSize: 3, activation: .leakyReLU(0.1))
    }
    /// `x` at twice the resolution, `cout` channels.
    public func forward(_ x: Tensor) -> Tensor { shuffle.forward(conv.forward(x)) }
    /// dLoss/dInput from `dy` of the latest `forward`; sets the convolution's gradients.
    public func backward(_ dy: Tensor) -> Tensor { conv.backward(shuffle.backward(dy)) }
    /// The convolution's `weight` and `bias`.
    public var namedParameters: [(name: String, parameter: Parameter)] { conv.namedParameters }
}

/// conv 5x5 stride 2 + leaky ReLU 0.1: halves the resolution. Parameters: `weight`, `bias`. `padding`: TensorFlow's
/// SAME (DeepFaceLab 1's Keras models, H128) or symmetric (DeepFaceLab 2's leras models, Quick96 and SAEHD).
public func downscale(_ cin: Int, _ cout: Int, padding: ConvPadding = .same) -> Conv2D {
    Conv2D(inChannels: cin, outChannels: cout, kernelSize: 5, stride: 2, padding: padding, activation: .leakyReLU(0.1))
}

/// `lrelu(x + conv2(lrelu(conv1(x), 0.2)), 0.2)`. Parameters: `conv1.*`, `conv2.*`.
public func resBlock(_ c: Int) -> Residual {
    Residual(Sequential([
        ("conv1", Conv2D(inChannels: c, outChannels: c, kernelSize: 3, activation: .leakyReLU(0.2))),
        ("conv2", Conv2D(inChannels: c, outChannels: c, kernelSize: 3)),
    ]), activation: .leakyReLU(0.2))
}

/// Sizes of a Quick96-family model. Widths follow DeepFaceLab's DeepFakeArchi with opts "ud".
public struct Quick96Config: Sendable, Equatable, Codable {
    /// Face size in pixels; a multiple of 32.
    public var resolution: Int
    /// Encoder width (`e_dims`): its four convolutions have 1, 2, 4, 8 times this many channels.
    public var encoderDims: Int
    /// Bottleneck width (`ae_dims`).
    public var aeDims: Int
    /// Decoder width (`d_dims`).
    public var decoderDims: Int
    /// Mask decoder width (`d_mask_dims`).
    public var maskDims: Int
    /// The padding of the encoder's 5x5 stride-2 downscales: `.symmetric` as DeepFaceLab's leras pads them (Quick96
    /// models made from 2026-12-07 on, and every imported one); nil is TensorFlow's SAME, one pixel later, which
    /// the models made before (and the `tiny` demo model) keep, so their trained weights read what they learned on.
    public var downscalePadding: ConvPadding?

    /// A configuration with each width given.
    public init(resolution: Int, encoderDims: Int, aeDims: Int, decoderDims: Int, maskDims: Int,
                downscalePadding: ConvPadding? = nil) {
        self.resolution = resolution
        self.encoderDims = encoderDims
        self.aeDims = aeDims
        self.decoderDims = decoderDims
        self.maskDims = maskDims
        self.downscalePadding = downscalePadding
    }

    /// DeepFaceLab's Quick96: 96 px, e 64, ae 128, d 64, mask 16 (38.3 M parameters), padded as leras pads.
    public static let quick96 = Quick96Config(resolution: 96, encoderDims: 64, aeDims: 128, decoderDims: 64,
                                              maskDims: 16, downscalePadding: .symmetric)
    /// A demo-sized model that visibly trains in minutes on two cores: 64 px, e 32, ae 64, d 32, mask 8.
    public static let tiny = Quick96Config(resolution: 64, encoderDims: 32, aeDims: 64, decoderDims: 32, maskDims: 8)

    /// Spatial size of the dense bottleneck (3 for 96 px).
    public var lowestDenseResolution: Int { resolution / 32 }
    /// DSSIM window of the loss, as leras sizes it: `int(resolution / 11.6)`.
    public var dssimFilterSize: Int { Int(Double(resolution) / 11.6) }

    func validate() throws {
        guard resolution >= 32, resolution % 32 == 0 else {
            throw FacetError("Quick96: resolution \(resolution) must be a positive multiple of 32")
        }
        guard encoderDims > 0, aeDims > 0, decoderDims > 0, maskDims > 0 else {
            throw FacetError("Quick96: every width must be positive")
        }
    }
}

/// Which decoder: the source face's or the destination face's.
public enum FaceRole: String, Sendable, CaseIterable {
    case src, dst
}

/// One decoder: the image branch and the mask branch both read the same code.
/// Parameters: `up0`, `res0`, ..., `out.conv0` ... `out.conv3`, `mask_up0` ... `mask_up3`, `mask_out`.
public final class Quick96Decoder {
    /// The image branch: the code to a `[N, R, R, 3]` face.
    public let image: Sequential
    /// The mask branch: the code to a `[N, R, R, 1]` mask.
    public let mask: Sequential
    let codeGradient = Tensor(shape: [0])

    init(_ c: Quick96Config) {
        let d = c.decoderDims, m = c.maskDims
        image = Sequential([
            ("up0", Upscale(c.aeDims, d * 8)), ("res0", resBlock(d * 8)),
            ("up1", Upscale(d * 8, d * 4)), ("res1", resBlock(d * 4)),
            ("up2", Upscale(d * 4, d * 2)), ("res2", resBlock(d * 2)),
            ("out", ParallelConvs([
                ("conv0", Conv2D(inChannels: d * 2, outChannels: 3, kernelSize: 1)),
                ("conv1", Conv2D(inChannels: d * 2, outChannels: 3, kernelSize: 3)),
                ("conv2", Conv2D(inChannels: d * 2, outChannels: 3, kernelSize: 3)),
                ("conv3", Conv2D(inChannels: d * 2, outChannels: 3, kernelSize: 3)),
            ])),
            ("shuffle", DepthToSpace(blockSize: 2)),
            ("sigmoid", Sigmoid()),
        ])
        mask = Sequential([
            ("mask_up0", Upscale(c.aeDims, m * 8)), ("mask_up1", Upscale(m * 8, m * 4)),
            ("mask_up2", Upscale(m * 4, m * 2)), ("mask_up3", Upscale(m * 2, m)),
            ("mask_out", Conv2D(inChannels: m, outChannels: 1, kernelSize: 1, activation: .sigmoid)),
        ])
    }
}

/// One role's training inputs, images in [0, 1]: the augmented (warped) face `[B, R, R, 3]` the
/// encoder sees, the unwarped target `[B, R, R, 3]`, and its face mask `[B, R, R, 1]`.
public struct TrainingBatch {
    /// The augmented (warped) faces `[B, R, R, 3]` the encoder sees.
    public var warped: Tensor
    /// The unwarped faces `[B, R, R, 3]` the decoder should produce.
    public var target: Tensor
    /// The face masks `[B, R, R, 1]` of the targets.
    public var mask: Tensor
    /// The eyes-and-mouth mask `[B, R, R, 1]` the priority term weighs (nil: no priority term).
    public var priority: Tensor?
    /// A batch; `priority` only when the eyes-and-mouth term is wanted.
    public init(warped: Tensor, target: Tensor, mask: Tensor, priority: Tensor? = nil) {
        self.warped = warped
        self.target = target
        self.mask = mask
        self.priority = priority
    }
}

/// Per-sample losses of one training step (before the update), per role.
public struct StepLosses: Sendable {
    /// The src batch's per-sample losses.
    public var src: [Float]
    /// The dst batch's per-sample losses.
    public var dst: [Float]
    /// Losses of both roles.
    public init(src: [Float], dst: [Float]) {
        self.src = src
        self.dst = dst
    }
    /// Mean of the src losses (0 for an empty batch).
    public var srcMean: Float { src.reduce(0, +) / Float(max(src.count, 1)) }
    /// Mean of the dst losses (0 for an empty batch).
    public var dstMean: Float { dst.reduce(0, +) / Float(max(dst.count, 1)) }
}

/// DeepFaceLab's Quick96 (or a smaller variant with the same structure): a shared encoder and
/// inter, and a decoder (image + mask) per role, trained with masked DSSIM + MSE + mask MSE and
/// RMSprop with lr dropout, exactly as `bench/bench_quick96_tf.py` spells out.
///
/// Parameter paths: `encoder.down1.weight` ... `encoder.down4.*`, `inter.dense1.*`,
/// `inter.dense2.*`, `inter.up.*`, `decoder_src.*`, `decoder_dst.*` (see `Quick96Decoder`).
///
/// Usage:
/// ```
/// let model = try Quick96(config: .quick96, seed: 1)
/// let losses = model.trainStep(src: srcBatch, dst: dstBatch)     // forward, backward, update
/// let (face, mask) = model.predict(dstFaces, decoder: .src)      // the swap, for merge
/// let tensors = model.exportTensors()                            // weights + optimizer state
/// try model.importTensors(tensors)
/// ```
/// Not thread-safe: one thread drives a model at a time.
public final class Quick96 {
    /// The sizes it was built with.
    public let config: Quick96Config
    /// The shared encoder: four downscales.
    public let encoder: Sequential
    /// The shared inter: two dense layers and an upscale, to the code both decoders read.
    public let inter: Sequential
    /// The decoder of the src person (the one merge uses).
    public let decoderSrc: Quick96Decoder
    /// The decoder of the dst person.
    public let decoderDst: Quick96Decoder
    /// The optimizer of `trainStep` (RMSprop lr 2e-4, lr dropout 0.3 by default).
    public let optimizer: any Optimizer

    let step = TwoDecoderStep()
    /// Masked training and the eyes-and-mouth priority (see `LossOptions`).
    public var lossOptions = LossOptions()
    private let terms = ReconstructionTerms()
    private let blurSrc = GaussianBlur(sigma: 3), blurDst = GaussianBlur(sigma: 3)
    private let dssim: MaskedLoss, mse: MaskedLoss
    private let maskMSE = MSELoss(scale: 10)

    /// A freshly initialised model: Glorot-uniform kernels from `seed`, zero biases.
    public init(config: Quick96Config = .quick96, seed: UInt64 = 0, optimizer: (any Optimizer)? = nil) throws {
        try config.validate()
        self.config = config
        let e = config.encoderDims, low = config.lowestDenseResolution, r16 = config.resolution / 16
        let pad = config.downscalePadding ?? .same
        let first = downscale(3, e, padding: pad)
        first.computesInputGradient = false
        encoder = Sequential([
            ("down1", first), ("down2", downscale(e, e * 2, padding: pad)),
            ("down3", downscale(e * 2, e * 4, padding: pad)), ("down4", downscale(e * 4, e * 8, padding: pad)),
            ("flatten", Reshape(to: [r16 * r16 * e * 8])), ("norm", PixelNorm()),
        ])
        inter = Sequential([
            ("dense1", Dense(inFeatures: r16 * r16 * e * 8, outFeatures: config.aeDims)),
            ("dense2", Dense(inFeatures: config.aeDims, outFeatures: low * low * config.aeDims)),
            ("reshape", Reshape(to: [low, low, config.aeDims])),
            ("up", Upscale(config.aeDims, config.aeDims)),
        ])
        decoderSrc = Quick96Decoder(config)
        decoderDst = Quick96Decoder(config)
        self.optimizer = optimizer ?? RMSprop(seed: UInt32(truncatingIfNeeded: seed))
        dssim = MaskedLoss(DSSIMLoss(filterSize: config.dssimFilterSize, sigma: 1.5, scale: 10))
        mse = MaskedLoss(MSELoss(scale: 10))
        var generator = SeededGenerator(seed: seed)
        for (_, p) in namedParameters { p.value.initializeGlorot(using: &generator) }
    }

    /// Every parameter with its full path, in a fixed order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        return prefixed("encoder", encoder.namedParameters) + prefixed("inter", inter.namedParameters)
            + prefixed("decoder_src", decoderSrc.namedParameters) + prefixed("decoder_dst", decoderDst.namedParameters)
    }

    private func check(_ t: Tensor, channels: Int, _ what: String) {
        let r = config.resolution
        t.expectNHWC(channels: channels, height: r, width: r, "Quick96(\(r) px) \(what)")
    }

    /// The code `[N, R/16, R/16, aeDims]` of faces `[N, R, R, 3]` (owned by the model until its
    /// next call).
    public func encode(_ faces: Tensor) -> Tensor {
        check(faces, channels: 3, "faces")
        return inter.forward(encoder.forward(faces))
    }

    /// Encodes `faces` and decodes them with the chosen decoder: for merge, dst faces through the
    /// src decoder. Returns copies: image `[N, R, R, 3]` and mask `[N, R, R, 1]`, in (0, 1).
    public func predict(_ faces: Tensor, decoder role: FaceRole) -> (image: Tensor, mask: Tensor) {
        (role == .src ? decoderSrc : decoderDst).forwardCopies(encode(faces))
    }

    /// Forward and backward of one training iteration (DeepFaceLab's `src_dst_train`) without the
    /// update: both batches through the shared encoder and inter (stacked into one batch: the same
    /// math, one pass), each through its own decoder, per-sample losses `10*DSSIM + 10*MSE` on the
    /// images masked by the blurred target mask plus `10*MSE` on the mask; afterwards every
    /// parameter's `gradient` holds d(sum of all per-sample losses)/d(parameter). `trainStep`
    /// (from `SwapNetwork`) adds one optimizer step over all weights and returns these losses.
    public func computeGradients(src: TrainingBatch, dst: TrainingBatch) -> StepLosses {
        step.run(src: src, dst: dst, model: "Quick96", resolution: config.resolution, encode: encode,
                 decoderSrc: decoderSrc, decoderDst: decoderDst,
                 loss: { role, batch, out, imageGrad, maskGrad in
                     sideLoss(batch, out, role == .src ? blurSrc : blurDst, imageGrad, maskGrad)
                 },
                 encoderBackward: { _ = encoder.backward(inter.backward($0)) })
    }

    /// The per-sample loss of one role and its gradients with respect to the decoder's outputs.
    private func sideLoss(_ batch: TrainingBatch, _ out: (image: Tensor, mask: Tensor), _ blur: GaussianBlur,
                          _ imageGrad: Tensor, _ maskGrad: Tensor) -> [Float] {
        let blurred = terms.imageMask(blur.forward(batch.mask), options: lossOptions)
        dssim.mask = blurred
        mse.mask = blurred
        let a = dssim.evaluate(prediction: out.image, target: batch.target, gradient: imageGrad, accumulate: false)
        let b = mse.evaluate(prediction: out.image, target: batch.target, gradient: imageGrad, accumulate: true)
        let c = maskMSE.evaluate(prediction: out.mask, target: batch.mask, gradient: maskGrad, accumulate: false)
        let e = terms.priorityLoss(batch, prediction: out.image, imageGrad: imageGrad, options: lossOptions)
        return (0..<a.count).map { a[$0] + b[$0] + c[$0] + (e?[$0] ?? 0) }
    }

    /// The losses `trainStep` would report, without training (for held-out evaluation).
    public func evaluate(src: TrainingBatch, dst: TrainingBatch) -> StepLosses {
        var out: [[Float]] = []
        for (batch, decoder, blur) in [(src, decoderSrc, blurSrc), (dst, decoderDst, blurDst)] {
            let o = decoder.forward(encode(batch.warped))
            let blurred = terms.imageMask(blur.forward(batch.mask), options: lossOptions)
            dssim.mask = blurred
            mse.mask = blurred
            let a = dssim(o.image, batch.target), b = mse(o.image, batch.target), c = maskMSE(o.mask, batch.mask)
            let e = terms.priorityLoss(batch, prediction: o.image, imageGrad: nil, options: lossOptions)
            out.append((0..<a.count).map { a[$0] + b[$0] + c[$0] + (e?[$0] ?? 0) })
        }
        return StepLosses(src: out[0], dst: out[1])
    }
}

extension Tensor {
    /// Glorot-uniform for kernels (`[k, k, cin, cout]` or `[cin, cout]`), zeros for biases.
    public func initializeGlorot(using generator: inout SeededGenerator) {
        switch shape.count {
        case 4: fillGlorotUniform(fanIn: shape[0] * shape[1] * shape[2], fanOut: shape[0] * shape[1] * shape[3],
                                  using: &generator)
        case 2: fillGlorotUniform(fanIn: shape[0], fanOut: shape[1], using: &generator)
        default: fill(0)
        }
    }
}
