/// DeepFaceLab's SAEHD: the `df` and `liae` autoencoders of its `DeepFakeArchi` with the `-u`, `-d` and
/// `-t` variants, at any resolution and widths, and SAEHD's training loss.
import FacetCore

/// The network of an SAEHD model: DeepFaceLab's `resolution`, `archi`, `ae_dims`, `e_dims`, `d_dims` and
/// `d_mask_dims`, fixed when the model is created.
public struct SAEHDConfig: Sendable, Equatable, Codable {
    /// Face size in pixels: a multiple of 16, of 32 with `-d` or `-t` (DeepFaceLab's rounding).
    public var resolution: Int
    /// `df` or `liae`, optionally with `-` and any of `u`, `d`, `t` (e.g. `liae-ud`, DeepFaceLab's default).
    public var archi: String
    /// The bottleneck width (`ae_dims`).
    public var aeDims: Int
    /// The encoder width (`e_dims`): its downscales have 1, 2, 4, 8 (and with `-t` 8 again) times as many channels.
    public var eDims: Int
    /// The decoder width (`d_dims`).
    public var dDims: Int
    /// The mask decoder width (`d_mask_dims`).
    public var dMaskDims: Int
    /// The padding of the encoder's 5x5 stride-2 downscales: `.symmetric`, as DeepFaceLab's leras pads them (models
    /// made from 2026-12-07 on); nil is TensorFlow's SAME, one pixel later, which models made before keep.
    public var downscalePadding: ConvPadding?

    /// A configuration with each field given.
    public init(resolution: Int = 128, archi: String = "liae-ud", aeDims: Int = 256, eDims: Int = 64,
                dDims: Int = 64, dMaskDims: Int? = nil, downscalePadding: ConvPadding? = .symmetric) {
        self.resolution = resolution
        self.archi = archi
        self.aeDims = aeDims
        self.eDims = eDims
        self.dDims = dDims
        self.dMaskDims = dMaskDims ?? SAEHDConfig.defaultMaskDims(dDims: dDims)
        self.downscalePadding = downscalePadding
    }

    /// DeepFaceLab's defaults: 128 px, `liae-ud`, ae 256, e 64, d 64, d_mask 22.
    public static let deepFaceLab = SAEHDConfig()

    /// DeepFaceLab's default mask width for a decoder width: `d // 3`, rounded up to even.
    public static func defaultMaskDims(dDims: Int) -> Int {
        let m = dDims / 3
        return m + m % 2
    }

    /// The architecture family (`df` or `liae`), without the options.
    public var family: String { String(archi.split(separator: "-", maxSplits: 1).first ?? "") }
    /// The letters after the dash (`ud` for `liae-ud`).
    public var opts: String {
        let parts = archi.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 ? String(parts[1]) : ""
    }
    /// `liae` (two inters, one decoder) rather than `df` (one inter, two decoders).
    public var isLIAE: Bool { family == "liae" }
    /// `-u`: the encoder's output is pixel-normalised.
    public var pixelNorm: Bool { opts.contains("u") }
    /// `-d`: the decoders end with four convolutions and a depth-to-space, doubling the resolution (the dense
    /// bottleneck is half as wide).
    public var double: Bool { opts.contains("d") }
    /// `-t`: a fifth downscale and residual blocks in the encoder, a fourth upscale in the decoders, no upscale in
    /// the inter.
    public var deeper: Bool { opts.contains("t") }

    /// Side of the dense bottleneck's output: `resolution / 32` with `-d`, else `/ 16`.
    public var lowestDenseResolution: Int { resolution / (double ? 32 : 16) }
    /// Side of the encoder's output: `resolution / 32` with `-t`, else `/ 16`.
    public var encoderOutResolution: Int { resolution / (deeper ? 32 : 16) }
    /// Channels of the inter's output: `ae_dims` (`df`) or twice that (`liae`, whose decoder reads two of them).
    public var interOutDims: Int { isLIAE ? aeDims * 2 : aeDims }
    /// Channels of the code the decoder reads.
    public var decoderInDims: Int { isLIAE ? interOutDims * 2 : interOutDims }
    /// DSSIM windows of the image loss with their weights: `int(R / 11.6)` at 10 below 256 px, and from 256 px
    /// that window and `int(R / 23.2)` at 5 each (SAEHD's loss).
    public var dssimTerms: [(filterSize: Int, weight: Float)] {
        let r = Double(resolution)
        let wide = Int(r / 11.6), narrow = Int(r / 23.2)
        if resolution < 256 { return [(filterSize: wide, weight: Float(10))] }
        return [(filterSize: wide, weight: Float(5)), (filterSize: narrow, weight: Float(5))]
    }
    /// Sigma of the mask blur under the image loss: `max(1, R // 32)`.
    public var maskBlurSigma: Float { Float(max(1, resolution / 32)) }

    /// Throws one line when the configuration is not one DeepFaceLab's SAEHD builds.
    public func validate() throws {
        guard family == "df" || family == "liae" else {
            throw FacetError("SAEHD: archi '\(archi)' must be df or liae, optionally with -u, -d, -t (e.g. liae-ud)")
        }
        let parts = archi.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            guard !opts.isEmpty, opts.allSatisfy({ "udt".contains($0) }), Set(opts).count == opts.count else {
                throw FacetError("SAEHD: archi '\(archi)': the options after '-' are any of u, d, t, each once")
            }
        }
        let step = double || deeper ? 32 : 16
        guard resolution >= 32, resolution % step == 0 else {
            throw FacetError("SAEHD: resolution \(resolution) must be a multiple of \(step) for archi '\(archi)'")
        }
        guard aeDims > 0, eDims > 0, dDims > 0, dMaskDims > 0 else {
            throw FacetError("SAEHD: ae_dims, e_dims, d_dims and d_mask_dims must be positive")
        }
        guard dssimTerms.allSatisfy({ $0.filterSize >= 1 }) else {
            throw FacetError("SAEHD: resolution \(resolution) is too small for the DSSIM window")
        }
    }
}

/// One SAEHD decoder (DeepFakeArchi's `Decoder`): the image branch (upscales with residual blocks, then a 1x1
/// convolution to 3, or with `-d` four convolutions and a depth-to-space) and the mask branch (upscales, a 1x1
/// convolution to 1), both reading the code, both ending in a sigmoid.
/// Parameters: `up0`, `res0`, ... (`up3`, `res3` with `-t`), `out.conv0` ... `out.conv3` (`out` without `-d`),
/// `mask_up0` ..., `mask_out`.
public final class SAEHDDecoder {
    /// The image branch: the code to a `[N, R, R, 3]` face.
    public let image: Sequential
    /// The mask branch: the code to a `[N, R, R, 1]` mask.
    public let mask: Sequential
    let codeGradient = Tensor(shape: [0])

    init(_ c: SAEHDConfig) {
        let d = c.dDims, m = c.dMaskDims, cin = c.decoderInDims
        let widths = c.deeper ? [d * 8, d * 8, d * 4, d * 2] : [d * 8, d * 4, d * 2]
        var layers: [(String, any Layer)] = []
        var last = cin
        for (i, w) in widths.enumerated() {
            layers.append(("up\(i)", Upscale(last, w)))
            layers.append(("res\(i)", resBlock(w)))
            last = w
        }
        if c.double {
            layers.append(("out", ParallelConvs([
                ("conv0", Conv2D(inChannels: last, outChannels: 3, kernelSize: 1)),
                ("conv1", Conv2D(inChannels: last, outChannels: 3, kernelSize: 3)),
                ("conv2", Conv2D(inChannels: last, outChannels: 3, kernelSize: 3)),
                ("conv3", Conv2D(inChannels: last, outChannels: 3, kernelSize: 3)),
            ])))
            layers.append(("shuffle", DepthToSpace(blockSize: 2)))
            layers.append(("sigmoid", Sigmoid()))
        } else {
            layers.append(("out", Conv2D(inChannels: last, outChannels: 3, kernelSize: 1, activation: .sigmoid)))
        }
        image = Sequential(layers)

        var maskWidths = c.deeper ? [m * 8, m * 8, m * 4, m * 2] : [m * 8, m * 4, m * 2]
        if c.double { maskWidths.append(m) }
        var maskLayers: [(String, any Layer)] = []
        last = cin
        for (i, w) in maskWidths.enumerated() {
            maskLayers.append(("mask_up\(i)", Upscale(last, w)))
            last = w
        }
        maskLayers.append(("mask_out", Conv2D(inChannels: last, outChannels: 1, kernelSize: 1, activation: .sigmoid)))
        mask = Sequential(maskLayers)
    }
}

extension SAEHDDecoder: TwoBranchDecoder {}

/// DeepFakeArchi's `Encoder`: 5x5 stride-2 downscales (four of e, 2e, 4e, 8e; with `-t` a residual block after
/// the first, a fifth of 8e and a residual block after it), flattened, pixel-normalised with `-u`.
func saehdEncoder(_ c: SAEHDConfig) -> Sequential {
    let e = c.eDims, pad = c.downscalePadding ?? .same
    func down(_ cin: Int, _ cout: Int) -> Conv2D { downscale(cin, cout, padding: pad) }
    let first = down(3, e)
    first.computesInputGradient = false
    var layers: [(String, any Layer)]
    if c.deeper {
        layers = [("down1", first), ("res1", resBlock(e)), ("down2", down(e, e * 2)),
                  ("down3", down(e * 2, e * 4)), ("down4", down(e * 4, e * 8)),
                  ("down5", down(e * 8, e * 8)), ("res5", resBlock(e * 8))]
    } else {
        layers = [("down1", first), ("down2", down(e, e * 2)), ("down3", down(e * 2, e * 4)),
                  ("down4", down(e * 4, e * 8))]
    }
    let o = c.encoderOutResolution
    layers.append(("flatten", Reshape(to: [o * o * e * 8])))
    if c.pixelNorm { layers.append(("norm", PixelNorm())) }
    return Sequential(layers)
}

/// DeepFakeArchi's `Inter`: dense to `ae_dims`, dense to the lowest resolution, reshape, and (without `-t`) an
/// upscale. Parameters: `dense1.*`, `dense2.*`, `up.*`.
func saehdInter(_ c: SAEHDConfig) -> Sequential {
    let o = c.encoderOutResolution, low = c.lowestDenseResolution, out = c.interOutDims
    var layers: [(String, any Layer)] = [
        ("dense1", Dense(inFeatures: o * o * c.eDims * 8, outFeatures: c.aeDims)),
        ("dense2", Dense(inFeatures: c.aeDims, outFeatures: low * low * out)),
        ("reshape", Reshape(to: [low, low, out])),
    ]
    if !c.deeper { layers.append(("up", Upscale(out, out))) }
    return Sequential(layers)
}

/// The target processing SAEHD's loss options ask for: `blur_out_mask` (the background near the face blurred,
/// so the network does not learn it).
public struct SAEHDTargetOptions: Sendable, Equatable {
    /// DeepFaceLab's `blur_out_mask`: outside the mask, each target pixel is replaced by the blur (sigma R/128)
    /// of the background alone, normalised by how much background the blur saw.
    public var blurOutMask: Bool
    /// None.
    public init(blurOutMask: Bool = false) { self.blurOutMask = blurOutMask }
}

/// DeepFaceLab's SAEHD: `df` (shared encoder and inter, a decoder per role) or `liae` (shared encoder, the
/// shared `inter_AB` and the dst-only `inter_B`, one decoder reading both inters' codes), each with `-u`, `-d`,
/// `-t`. Loss per role and sample, as SAEHD's: the images under the target mask blurred with sigma `R/32`,
/// clipped at 0.5 and doubled (or the whole square without masked training), `10 * DSSIM` (5 + 5 at two windows
/// from 256 px) `+ 10 * MSE`, plus `300 * MAE` in the eyes-and-mouth mask with the priority, plus `10 * MSE` of the
/// predicted mask. AdaBelief lr 5e-5 by default (`defaultOptimizer`).
///
/// Parameter paths: `encoder.*`; `df`: `inter.*`, `decoder_src.*`, `decoder_dst.*`; `liae`: `inter_AB.*`,
/// `inter_B.*`, `decoder.*` (see `SAEHDDecoder`).
public final class SAEHD: SwapNetwork {
    /// The network it was built with.
    public let config: SAEHDConfig
    /// The shared encoder.
    public let encoder: Sequential
    /// `df`'s inter, or `liae`'s `inter_AB` (the code of both persons' faces).
    public let inter: Sequential
    /// `liae`'s `inter_B` (dst faces only); nil for `df`.
    public let interB: Sequential?
    /// The src decoder (`df`), or `liae`'s only decoder.
    public let decoderSrc: SAEHDDecoder
    /// The dst decoder (`df`); `liae`'s only decoder again.
    public let decoderDst: SAEHDDecoder
    /// The optimizer of `trainStep`.
    public let optimizer: any Optimizer
    /// Masked training and the eyes-and-mouth priority (see `LossOptions`).
    public var lossOptions = LossOptions()
    /// `blur_out_mask`.
    public var targetOptions = SAEHDTargetOptions()
    /// The discriminators of `gan_power` and `true_face_power` (none until the trainer attaches them).
    public lazy var discriminators = SAEHDDiscriminators(resolution: config.resolution,
                                                         maskBlurSigma: config.maskBlurSigma)

    let step = TwoDecoderStep()
    private let terms = ReconstructionTerms()
    private let blurs: [FaceRole: GaussianBlur]
    private let clipped: [FaceRole: Tensor] = [.src: Tensor(shape: [0]), .dst: Tensor(shape: [0])]
    private let dssims: [MaskedLoss]
    private let mse = MaskedLoss(MSELoss(scale: 10))
    private let maskMSE = MSELoss(scale: 10)
    private let blurOut: BlurOutMask
    // liae's step scratch.
    private let stacked = Tensor(shape: [0]), code = Tensor(shape: [0])
    private let imageGrad = Tensor(shape: [0]), maskGrad = Tensor(shape: [0])
    private let sideImageGrad = Tensor(shape: [0]), sideMaskGrad = Tensor(shape: [0])
    private let abGrad = Tensor(shape: [0]), bGrad = Tensor(shape: [0]), encoderGrad = Tensor(shape: [0])

    /// DeepFaceLab's SAEHD optimizer: AdaBelief lr 5e-5 (leras's betas 0.9, 0.999), no lr dropout.
    public static func defaultOptimizer(seed: UInt32 = 0) -> AdaBelief {
        AdaBelief(learningRate: 5e-5, seed: seed)
    }

    /// A freshly initialised model: Glorot-uniform kernels from `seed`, zero biases.
    public init(config: SAEHDConfig = .deepFaceLab, seed: UInt64 = 0, optimizer: (any Optimizer)? = nil) throws {
        try config.validate()
        self.config = config
        encoder = saehdEncoder(config)
        inter = saehdInter(config)
        interB = config.isLIAE ? saehdInter(config) : nil
        decoderSrc = SAEHDDecoder(config)
        decoderDst = config.isLIAE ? decoderSrc : SAEHDDecoder(config)
        self.optimizer = optimizer ?? SAEHD.defaultOptimizer(seed: UInt32(truncatingIfNeeded: seed))
        blurs = [.src: GaussianBlur(sigma: config.maskBlurSigma), .dst: GaussianBlur(sigma: config.maskBlurSigma)]
        dssims = config.dssimTerms.map {
            MaskedLoss(DSSIMLoss(filterSize: $0.filterSize, sigma: 1.5, scale: $0.weight))
        }
        blurOut = BlurOutMask(sigma: Float(config.resolution) / 128)
        var generator = SeededGenerator(seed: seed)
        for (_, p) in namedParameters { p.value.initializeGlorot(using: &generator) }
    }

    /// Side of the square faces it takes and returns.
    public var resolution: Int { config.resolution }

    /// Every parameter with its full path, in a fixed order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        if let interB {
            return prefixed("encoder", encoder.namedParameters) + prefixed("inter_AB", inter.namedParameters)
                + prefixed("inter_B", interB.namedParameters) + prefixed("decoder", decoderSrc.namedParameters)
        }
        return prefixed("encoder", encoder.namedParameters) + prefixed("inter", inter.namedParameters)
            + prefixed("decoder_src", decoderSrc.namedParameters) + prefixed("decoder_dst", decoderDst.namedParameters)
    }

    private func check(_ t: Tensor, channels: Int, _ what: String) {
        let r = config.resolution
        t.expectNHWC(channels: channels, height: r, width: r, "SAEHD(\(r) px) \(what)")
    }

    /// The code the chosen decoder reads for `faces` (owned by the model until its next call): `df`: the inter's
    /// output; `liae`: `inter_AB`'s output twice on channels for `.src` (the swap), `inter_B`'s then `inter_AB`'s
    /// for `.dst`.
    public func code(_ faces: Tensor, for role: FaceRole) -> Tensor {
        check(faces, channels: 3, "faces")
        let e = encoder.forward(faces)
        let ab = inter.forward(e)
        guard let interB else { return ab }
        let b = role == .dst ? interB.forward(e) : ab
        let (n, h, w, c) = (ab.shape[0], ab.shape[1], ab.shape[2], ab.shape[3])
        code.resize(to: [n, h, w, 2 * c])
        interleave(first: b.data, second: ab.data, into: code.data, pixels: n * h * w, channels: c)
        return code
    }

    /// Encodes `faces` and decodes them for `role`: for merge, dst faces with `.src`. Copies: image
    /// `[N, R, R, 3]` and mask `[N, R, R, 1]`, in (0, 1).
    public func predict(_ faces: Tensor, decoder role: FaceRole) -> (image: Tensor, mask: Tensor) {
        (role == .src ? decoderSrc : decoderDst).forwardCopies(code(faces, for: role))
    }

    /// Forward and backward without the update: per-sample losses of both roles; every parameter's `gradient`
    /// holds the gradient of their sum.
    public func computeGradients(src: TrainingBatch, dst: TrainingBatch) -> StepLosses {
        guard let interB else {
            let codes = HeldTensor()
            return step.run(src: src, dst: dst, model: "SAEHD", resolution: config.resolution,
                            encode: { codes.tensor = inter.forward(encoder.forward($0)); return codes.tensor! },
                            decoderSrc: decoderSrc, decoderDst: decoderDst,
                            loss: { role, batch, out, imageGrad, maskGrad in
                                sideLoss(role, batch, out, imageGrad, maskGrad)
                            },
                            encoderBackward: { g in
                                addTrueFaceGeneratorTerm(codes: codes.tensor!, srcCount: src.warped.batch,
                                                         codeGradient: g)
                                _ = encoder.backward(inter.backward(g))
                            })
        }
        return liaeGradients(src: src, dst: dst, interB: interB)
    }

    /// `liae`'s step: both batches stacked through the encoder and `inter_AB`, the dst part through `inter_B`,
    /// the codes (AB|AB for src, B|AB for dst) through the one decoder in one pass, then everything backward.
    private func liaeGradients(src: TrainingBatch, dst: TrainingBatch, interB: Sequential) -> StepLosses {
        let r = config.resolution
        for (b, role) in [(src, "src"), (dst, "dst")] {
            for (t, channels, what) in [(b.warped, 3, "warped"), (b.target, 3, "target"), (b.mask, 1, "mask")] {
                t.expectNHWC(channels: channels, height: r, width: r, "SAEHD(\(r) px) \(role) \(what) batch")
            }
            precondition(b.warped.batch == b.target.batch && b.target.batch == b.mask.batch,
                         "SAEHD.trainStep: \(role) warped, target and mask batches differ in size")
        }
        let bs = src.warped.batch, bd = dst.warped.batch, n = bs + bd
        stacked.resize(to: [n, r, r, 3])
        stacked.data.update(from: src.warped.data, count: src.warped.count)
        (stacked.data + src.warped.count).update(from: dst.warped.data, count: dst.warped.count)

        let e = encoder.forward(stacked)
        let ab = inter.forward(e)
        let b = interB.forward(e.batchSlice(bs..<n))
        let (h, w, c) = (ab.shape[1], ab.shape[2], ab.shape[3])
        let px = h * w
        code.resize(to: [n, h, w, 2 * c])
        interleave(first: ab.data, second: ab.data, into: code.data, pixels: bs * px, channels: c)
        interleave(first: b.data, second: ab.data + bs * px * c, into: code.data + bs * px * 2 * c,
                   pixels: bd * px, channels: c)

        let out = decoderSrc.forward(code)
        imageGrad.resize(to: out.image.shape)
        maskGrad.resize(to: out.mask.shape)
        var losses: [[Float]] = []
        for (role, batch, range) in [(FaceRole.src, src, 0..<bs), (.dst, dst, bs..<n)] {
            let o = (image: out.image.batchSlice(range), mask: out.mask.batchSlice(range))
            losses.append(sideLoss(role, batch, o, sideImageGrad, sideMaskGrad))
            let gi = imageGrad.batchSlice(range), gm = maskGrad.batchSlice(range)
            gi.data.update(from: sideImageGrad.data, count: gi.count)
            gm.data.update(from: sideMaskGrad.data, count: gm.count)
        }
        let dz = decoderSrc.backward(image: imageGrad, mask: maskGrad)
        // src rows read AB twice; dst rows read B then AB.
        abGrad.resize(to: ab.shape)
        bGrad.resize(to: b.shape)
        let z = dz.data, ga = abGrad.data, gb = bGrad.data
        parallelRanges(n * px, grain: 256) { rows in
            for p in rows {
                let zp = z + p * 2 * c, ap = ga + p * c
                if p < bs * px {
                    for k in 0..<c { ap[k] = zp[k] + zp[c + k] }
                } else {
                    let bp = gb + (p - bs * px) * c
                    for k in 0..<c { bp[k] = zp[k]; ap[k] = zp[c + k] }
                }
            }
        }
        encoderGrad.copy(from: inter.backward(abGrad))
        let fromB = interB.backward(bGrad)
        let o = encoderGrad.data + bs * encoderGrad.perSample, s = fromB.data
        parallelRanges(fromB.count) { rr in for i in rr { o[i] += s[i] } }
        _ = encoder.backward(encoderGrad)
        return StepLosses(src: losses[0], dst: losses[1])
    }

    /// The loss of one role and its gradients with respect to the decoder's image and mask (written, not added).
    private func sideLoss(_ role: FaceRole, _ batch: TrainingBatch, _ out: (image: Tensor, mask: Tensor),
                          _ imageGrad: Tensor?, _ maskGrad: Tensor?) -> [Float] {
        let blurred = blurs[role]!.forward(batch.mask)
        let m = clipped[role]!
        m.resize(to: blurred.shape)
        let s = blurred.data, d = m.data
        parallelRanges(m.count, grain: 8192) { r in for i in r { d[i] = min(max(s[i], 0), 0.5) * 2 } }
        let imageMask = terms.imageMask(m, options: lossOptions)
        let target = targetOptions.blurOutMask ? blurOut.apply(batch.target, mask: batch.mask) : batch.target
        var total = [Float](repeating: 0, count: out.image.batch)
        var first = true
        for loss in dssims + [mse] {
            loss.mask = imageMask
            let v = loss.evaluate(prediction: out.image, target: target, gradient: imageGrad, accumulate: !first)
            first = false
            for i in total.indices { total[i] += v[i] }
        }
        let v = maskMSE.evaluate(prediction: out.mask, target: batch.mask, gradient: maskGrad, accumulate: false)
        let em = terms.priorityLoss(batch, prediction: out.image, imageGrad: imageGrad, options: lossOptions)
        for i in total.indices { total[i] += v[i] + (em?[i] ?? 0) }
        addGANGeneratorTerm(role, prediction: out.image, target: target, lossMask: m, imageGrad: imageGrad)
        return total
    }

    /// The losses `trainStep` would report, without training (for held-out evaluation).
    public func evaluate(src: TrainingBatch, dst: TrainingBatch) -> StepLosses {
        var out: [[Float]] = []
        for (batch, role) in [(src, FaceRole.src), (dst, .dst)] {
            let o = (role == .src ? decoderSrc : decoderDst).forward(code(batch.warped, for: role))
            out.append(sideLoss(role, batch, o, nil, nil))
        }
        return StepLosses(src: out[0], dst: out[1])
    }
}

/// `out[p] = first[p] ++ second[p]` for every pixel `p` of `channels` channels each (a channel concat).
private func interleave(first: UnsafePointer<Float>, second: UnsafePointer<Float>,
                        into out: UnsafeMutablePointer<Float>, pixels: Int, channels c: Int) {
    parallelRanges(pixels, grain: 256) { r in
        for p in r {
            (out + p * 2 * c).update(from: first + p * c, count: c)
            (out + p * 2 * c + c).update(from: second + p * c, count: c)
        }
    }
}

/// SAEHD's `blur_out_mask` on a target batch: `t * m + blur(t * (1 - m)) / (1 - blur(m)) * (1 - m)`, a zero
/// denominator read as 1.
final class BlurOutMask {
    private let blurImage: GaussianBlur, blurMask: GaussianBlur
    private let background = Tensor(shape: [0]), output = Tensor(shape: [0])

    init(sigma: Float) {
        blurImage = GaussianBlur(sigma: sigma)
        blurMask = GaussianBlur(sigma: sigma)
    }

    /// The processed copy of `target` `[N, H, W, C]` under `mask` `[N, H, W, 1]` (owned by this object).
    func apply(_ target: Tensor, mask: Tensor) -> Tensor {
        let c = target.shape[3], pixels = mask.count
        background.resize(to: target.shape)
        let t = target.data, m = mask.data, bg = background.data
        parallelRanges(pixels, grain: 4096) { r in
            for p in r { for k in 0..<c { bg[p * c + k] = t[p * c + k] * (1 - m[p]) } }
        }
        let x = blurImage.forward(background).data, y = blurMask.forward(mask).data
        output.resize(to: target.shape)
        let o = output.data
        parallelRanges(pixels, grain: 4096) { r in
            for p in r {
                var den = 1 - y[p]
                if den == 0 { den = 1 }
                for k in 0..<c { o[p * c + k] = t[p * c + k] * m[p] + x[p * c + k] / den * (1 - m[p]) }
            }
        }
        return output
    }
}
