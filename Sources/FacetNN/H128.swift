/// DeepFaceLab's classic H128 autoencoder (half face, 128 px, a learned mask) and its training
/// step, parametrised so the `lighter` option and small test variants are the same code.
import FacetCore

/// Sizes and loss of an H128-family model. DeepFaceLab's H128: 128 px, encoder 128, 256, 512,
/// 1024; dense 512; decoders 512, 256, 128. `lighter`: dense 256, decoders 256, 128, 64.
public struct H128Config: Sendable, Equatable, Codable {
    /// Face size in pixels; a multiple of 16 (the encoder halves it four times).
    public var resolution: Int
    /// Width of the first downscale; the four have 1, 2, 4, 8 times this many channels.
    public var encoderDims: Int
    /// The bottleneck: dense width, the `R/16 x R/16 x aeDims` code and the encoder's upscale.
    public var aeDims: Int
    /// Width of each decoder's first upscale; the next two halve it (image and mask branch alike).
    public var decoderDims: Int
    /// 50 x MSE under the blurred mask instead of 10 x DSSIM (DeepFaceLab's `pixel_loss`).
    public var pixelLoss: Bool

    /// A configuration with each size given.
    public init(resolution: Int, encoderDims: Int, aeDims: Int, decoderDims: Int, pixelLoss: Bool = false) {
        self.resolution = resolution
        self.encoderDims = encoderDims
        self.aeDims = aeDims
        self.decoderDims = decoderDims
        self.pixelLoss = pixelLoss
    }

    /// DeepFaceLab's H128 (about 137 M parameters, 33.5 M of them in the first dense layer).
    public static let h128 = H128Config(resolution: 128, encoderDims: 128, aeDims: 512, decoderDims: 512)
    /// H128 with DeepFaceLab's `lighter` option (about 56 M parameters).
    public static let lighter = H128Config(resolution: 128, encoderDims: 128, aeDims: 256, decoderDims: 256)

    /// Spatial size of the dense bottleneck (8 for 128 px).
    public var lowestDenseResolution: Int { resolution / 16 }
    /// DSSIM window, as leras and DeepFaceLab's `DSSIMMaskLoss` size it: `int(resolution / 11.6)`.
    public var dssimFilterSize: Int { Int(Double(resolution) / 11.6) }
    /// Sigma of the mask blur under the image loss: `max(1, resolution // 32)` (4 at 128 px).
    public var maskBlurSigma: Float { Float(max(1, resolution / 32)) }

    func validate() throws {
        guard resolution >= 16, resolution % 16 == 0 else {
            throw FacetError("H128: resolution \(resolution) must be a positive multiple of 16")
        }
        guard encoderDims > 0, aeDims > 0, decoderDims >= 4, decoderDims % 4 == 0 else {
            throw FacetError("H128: widths must be positive and the decoder width a multiple of 4")
        }
        guard Int(Double(resolution) / 11.6) >= 1 else {
            throw FacetError("H128: resolution \(resolution) is too small for the DSSIM window")
        }
    }
}

/// One H128 decoder: the image branch (upscale d, d/2, d/4, conv 5x5 to 3, sigmoid) and the mask
/// branch (the same widths, conv 5x5 to 1, sigmoid), both reading the code. The two output
/// convolutions are `NarrowConv2D` (direct; im2col + GEMM made them 40% of a step).
/// Parameters: `up0` ... `up2`, `out`, `mask_up0` ... `mask_up2`, `mask_out`.
public final class H128Decoder {
    /// The image branch: the code to a `[N, R, R, 3]` face.
    public let image: Sequential
    /// The mask branch: the code to a `[N, R, R, 1]` mask.
    public let mask: Sequential
    let codeGradient = Tensor(shape: [0])

    init(_ c: H128Config) {
        let d = c.decoderDims
        image = Sequential([
            ("up0", Upscale(c.aeDims, d)), ("up1", Upscale(d, d / 2)), ("up2", Upscale(d / 2, d / 4)),
            ("out", NarrowConv2D(inChannels: d / 4, outChannels: 3, kernelSize: 5, activation: .sigmoid)),
        ])
        mask = Sequential([
            ("mask_up0", Upscale(c.aeDims, d)), ("mask_up1", Upscale(d, d / 2)), ("mask_up2", Upscale(d / 2, d / 4)),
            ("mask_out", NarrowConv2D(inChannels: d / 4, outChannels: 1, kernelSize: 5, activation: .sigmoid)),
        ])
    }
}

/// DeepFaceLab's H128: a shared encoder (four 5x5 stride-2 downscales, dense, dense, reshape,
/// upscale) and a decoder per role with an image and a mask branch. Loss per role and sample:
/// `10 * DSSIM` of the image masked by the target mask blurred with sigma `R/32` (or with
/// `pixelLoss`, `50 * MSE` under that mask), plus the mean absolute error of the predicted mask;
/// Adam lr 5e-5, beta1 0.5, beta2 0.999 (DeepFaceLab's `Model_H128`).
///
/// Parameter paths: `encoder.down1.*` ... `encoder.down4.*`, `encoder.dense1.*`,
/// `encoder.dense2.*`, `encoder.up.*`, `decoder_src.*`, `decoder_dst.*` (see `H128Decoder`).
public final class H128: SwapNetwork {
    /// The sizes and loss it was built with.
    public let config: H128Config
    /// The shared encoder: faces to the code both decoders read.
    public let encoder: Sequential
    /// The decoder of the src person (the one merge uses).
    public let decoderSrc: H128Decoder
    /// The decoder of the dst person.
    public let decoderDst: H128Decoder
    /// The optimizer of `trainStep` (Adam lr 5e-5, beta1 0.5 by default).
    public let optimizer: any Optimizer

    let step = TwoDecoderStep()
    /// Masked training and the eyes-and-mouth priority (see `LossOptions`).
    public var lossOptions = LossOptions()
    private let terms = ReconstructionTerms()
    private let blurSrc: GaussianBlur, blurDst: GaussianBlur
    private let imageLoss: MaskedLoss
    private let maskLoss = MAELoss()

    /// DeepFaceLab's H128 optimizer: Adam lr 5e-5, beta1 0.5, beta2 0.999.
    public static func defaultOptimizer(seed: UInt32 = 0) -> Adam {
        Adam(learningRate: 5e-5, beta1: 0.5, beta2: 0.999, seed: seed)
    }

    /// A freshly initialised model: Glorot-uniform kernels from `seed`, zero biases.
    public init(config: H128Config = .h128, seed: UInt64 = 0, optimizer: (any Optimizer)? = nil) throws {
        try config.validate()
        self.config = config
        let e = config.encoderDims, ae = config.aeDims, low = config.lowestDenseResolution
        let first = downscale(3, e)
        first.computesInputGradient = false
        encoder = Sequential([
            ("down1", first), ("down2", downscale(e, e * 2)), ("down3", downscale(e * 2, e * 4)), ("down4",
                                                                                                   downscale(e * 4,
                                                                                                             e * 8)),
            ("flatten", Reshape(to: [low * low * e * 8])),
            ("dense1", Dense(inFeatures: low * low * e * 8, outFeatures: ae)),
            ("dense2", Dense(inFeatures: ae, outFeatures: low * low * ae)),
            ("reshape", Reshape(to: [low, low, ae])),
            ("up", Upscale(ae, ae)),
        ])
        decoderSrc = H128Decoder(config)
        decoderDst = H128Decoder(config)
        self.optimizer = optimizer ?? H128.defaultOptimizer(seed: UInt32(truncatingIfNeeded: seed))
        blurSrc = GaussianBlur(sigma: config.maskBlurSigma)
        blurDst = GaussianBlur(sigma: config.maskBlurSigma)
        imageLoss = config.pixelLoss ? MaskedLoss(MSELoss(scale: 50))
                                     : MaskedLoss(DSSIMLoss(filterSize: config.dssimFilterSize, sigma: 1.5, scale: 10))
        var generator = SeededGenerator(seed: seed)
        for (_, p) in namedParameters { p.value.initializeGlorot(using: &generator) }
    }

    /// Side of the square faces it takes and returns (`config.resolution`).
    public var resolution: Int { config.resolution }

    /// Every parameter with its full path (`encoder.*`, `decoder_src.*`, `decoder_dst.*`), in a fixed order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        return prefixed("encoder", encoder.namedParameters)
            + prefixed("decoder_src", decoderSrc.namedParameters) + prefixed("decoder_dst", decoderDst.namedParameters)
    }

    private func check(_ t: Tensor, channels: Int, _ what: String) {
        let r = config.resolution
        t.expectNHWC(channels: channels, height: r, width: r, "H128(\(r) px) \(what)")
    }

    /// The code `[N, R/8, R/8, aeDims]` of faces `[N, R, R, 3]` (owned by the model).
    public func encode(_ faces: Tensor) -> Tensor {
        check(faces, channels: 3, "faces")
        return encoder.forward(faces)
    }

    /// Encodes `faces` and decodes them with the chosen decoder (for merge, dst faces through the src
    /// decoder); copies of the image `[N, R, R, 3]` and mask `[N, R, R, 1]`, in (0, 1).
    public func predict(_ faces: Tensor, decoder role: FaceRole) -> (image: Tensor, mask: Tensor) {
        (role == .src ? decoderSrc : decoderDst).forwardCopies(encode(faces))
    }

    /// Both batches through the shared encoder stacked into one pass, each through its decoder,
    /// the per-sample losses and the gradient of their sum in every parameter's `gradient`.
    public func computeGradients(src: TrainingBatch, dst: TrainingBatch) -> StepLosses {
        step.run(src: src, dst: dst, model: "H128", resolution: config.resolution, encode: encode,
                 decoderSrc: decoderSrc, decoderDst: decoderDst,
                 loss: { role, batch, out, imageGrad, maskGrad in
                     sideLoss(batch, out, role == .src ? blurSrc : blurDst, imageGrad, maskGrad)
                 },
                 encoderBackward: { _ = encoder.backward($0) })
    }

    private func sideLoss(_ batch: TrainingBatch, _ out: (image: Tensor, mask: Tensor), _ blur: GaussianBlur,
                          _ imageGrad: Tensor, _ maskGrad: Tensor) -> [Float] {
        imageLoss.mask = terms.imageMask(blur.forward(batch.mask), options: lossOptions)
        let a = imageLoss.evaluate(prediction: out.image, target: batch.target, gradient: imageGrad, accumulate: false)
        let b = maskLoss.evaluate(prediction: out.mask, target: batch.mask, gradient: maskGrad, accumulate: false)
        let e = terms.priorityLoss(batch, prediction: out.image, imageGrad: imageGrad, options: lossOptions)
        return (0..<a.count).map { a[$0] + b[$0] + (e?[$0] ?? 0) }
    }

    /// The losses `trainStep` would report, without training (for held-out evaluation).
    public func evaluate(src: TrainingBatch, dst: TrainingBatch) -> StepLosses {
        var out: [[Float]] = []
        for (batch, decoder, blur) in [(src, decoderSrc, blurSrc), (dst, decoderDst, blurDst)] {
            let o = decoder.forward(encode(batch.warped))
            imageLoss.mask = terms.imageMask(blur.forward(batch.mask), options: lossOptions)
            let a = imageLoss(o.image, batch.target), b = maskLoss(o.mask, batch.mask)
            let e = terms.priorityLoss(batch, prediction: o.image, imageGrad: nil, options: lossOptions)
            out.append((0..<a.count).map { a[$0] + b[$0] + (e?[$0] ?? 0) })
        }
        return StepLosses(src: out[0], dst: out[1])
    }
}
