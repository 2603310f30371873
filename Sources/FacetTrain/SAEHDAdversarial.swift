/// SAEHD's `gan_power` (`gan_patch_size`, `gan_dims`) and `true_face_power` in the trainer: the options, their checks
/// and changes on resume as DeepFaceLab asks them, the discriminators attached to the network, and their own steps
/// after the generator's.
import Foundation
import FacetCore
import FacetNN

/// DeepFaceLab's GAN and true-face options of an SAEHD model (stored under `saehd.gan`). All four are asked again when
/// DeepFaceLab resumes a model (the patch size and dims only while GAN is on), so all four may change on resume.
public struct SAEHDGANOptions: Codable, Sendable, Equatable {
    /// `gan_power`: the weight of the patch discriminator's term, 0 (off, the default) to 5; DeepFaceLab suggests 0.1
    /// once the face is trained (lr dropout on, random warp off).
    public var ganPower: Double
    /// `gan_patch_size`: the receptive field the discriminator aims at, 3 to 640 (default resolution / 8).
    public var ganPatchSize: Int
    /// `gan_dims`: the discriminator's first-level channels, 4 to 512 (default 16).
    public var ganDims: Int
    /// `true_face_power`: the weight of the code discriminator's term, 0 (off, the default) to 1; df archis only.
    public var trueFacePower: Double

    /// DeepFaceLab's defaults for a model of `resolution` unless given.
    public init(resolution: Int, ganPower: Double = 0, ganPatchSize: Int? = nil, ganDims: Int = 16,
                trueFacePower: Double = 0) {
        self.ganPower = ganPower
        self.ganPatchSize = ganPatchSize ?? resolution / 8
        self.ganDims = ganDims
        self.trueFacePower = trueFacePower
    }

    /// Checks DeepFaceLab's ranges (which it clamps silently; Facet refuses), true face on a liae archi (which
    /// DeepFaceLab never offers), and a patch size whose discriminator cannot take faces of this resolution (its
    /// strides must divide it, or the way up would not meet the way down: TensorFlow fails on it too). One line each.
    public func validate(network: SAEHDConfig) throws {
        guard ganPower >= 0, ganPower <= 5 else {
            throw FacetError.setting("gan-power", "must be 0 to 5 (DeepFaceLab's range), got \(ganPower)")
        }
        guard (3...640).contains(ganPatchSize) else {
            throw FacetError.setting("gan-patch-size", "must be 3 to 640, got \(ganPatchSize)")
        }
        guard (4...512).contains(ganDims) else {
            throw FacetError.setting("gan-dims", "must be 4 to 512, got \(ganDims)")
        }
        guard trueFacePower >= 0, trueFacePower <= 1 else {
            throw FacetError.setting("true-face-power", "must be 0 to 1 (DeepFaceLab's range), got \(trueFacePower)")
        }
        if trueFacePower > 0 && network.isLIAE {
            throw FacetError.setting("true-face-power", "is for df archis only (DeepFaceLab offers it for df, not for "
                                     + "'\(network.archi)')")
        }
        if ganPower > 0 {
            let stride = UNetPatchDiscriminator.architecture(patchSize: ganPatchSize).reduce(1) { $0 * $1.stride }
            guard network.resolution % stride == 0 else {
                throw FacetError.setting("gan-patch-size", "\(ganPatchSize) makes a discriminator of total stride "
                                         + "\(stride), which does not divide the resolution \(network.resolution); "
                                         + "take a smaller patch size (default \(network.resolution / 8))")
            }
        }
    }

    /// The side of the code the true-face discriminator reads: the inter's output, `resolution / 16` (`/ 32` with
    /// `-d`), doubled by its upscale unless `-t`.
    static func codeResolution(_ c: SAEHDConfig) -> Int {
        c.deeper ? c.lowestDenseResolution : 2 * c.lowestDenseResolution
    }
}

extension SAEHDOptions {
    /// The GAN and true-face options in force: the stored ones, or DeepFaceLab's defaults for a model stored before
    /// them.
    public var adversarial: SAEHDGANOptions { gan ?? SAEHDGANOptions(resolution: network.resolution) }

    /// Attaches the discriminators these options turn on to `net`, fresh from `seed` (a resumed run's checkpoint
    /// then gives them their trained state), each with its own optimizer made as the generator's. A generic
    /// (pretraining) model trains without them, as DeepFaceLab forces `gan_power` 0 in pretraining.
    func attachDiscriminators(to net: SAEHD, optimizer: OptimizerOptions, seed: UInt64, pretrain: Bool) throws {
        let a = adversarial
        guard !pretrain else { return }
        _ = try optimizer.make(seed: 0)   // throws here for a bad optimizer, so the closures below cannot
        if a.ganPower > 0 {
            let s = mix(seed, 0x4741_4E)
            net.discriminators.gan = SAEHDGAN(patchSize: a.ganPatchSize, dims: a.ganDims, power: Float(a.ganPower),
                                              seed: s, makeOptimizer: { try! optimizer.make(seed: mix(s, 1)) })
        }
        if a.trueFacePower > 0 {
            let s = mix(seed, 0x5446)
            net.discriminators.trueFace = SAEHDTrueFace(
                channels: network.aeDims, codeResolution: SAEHDGANOptions.codeResolution(network),
                power: Float(a.trueFacePower), seed: s, makeOptimizer: { try! optimizer.make(seed: mix(s, 1)) })
        }
    }
}

/// What a resumed SAEHD run changes of its GAN and true-face options (nil: unchanged).
public struct SAEHDAdversarialChanges: Sendable, Equatable {
    /// `gan_power`.
    public var ganPower: Double?
    /// `gan_patch_size` (DeepFaceLab asks it only while GAN is on; a new size makes a fresh discriminator).
    public var ganPatchSize: Int?
    /// `gan_dims` (likewise).
    public var ganDims: Int?
    /// `true_face_power`.
    public var trueFacePower: Double?

    /// The changes given.
    public init(ganPower: Double? = nil, ganPatchSize: Int? = nil, ganDims: Int? = nil, trueFacePower: Double? = nil) {
        self.ganPower = ganPower; self.ganPatchSize = ganPatchSize; self.ganDims = ganDims
        self.trueFacePower = trueFacePower
    }

    /// `options` with the changes applied and checked; throws one line for a change DeepFaceLab does not offer.
    func apply(to options: inout SAEHDOptions, pretrain: Bool) throws {
        var a = options.adversarial
        if let v = ganPower { a.ganPower = v }
        if let v = ganPatchSize { a.ganPatchSize = v }
        if let v = ganDims { a.ganDims = v }
        if let v = trueFacePower { a.trueFacePower = v }
        try SAEHDAdversarialChanges.checkShapeWithoutPower(a, patchSize: ganPatchSize, dims: ganDims)
        if pretrain && (a.ganPower > 0 || a.trueFacePower > 0) {
            throw FacetError("a generic (pretraining) model trains without GAN and true face (DeepFaceLab forces "
                             + "them off while pretraining); turn them on in the model trained from it (--init-from)")
        }
        try a.validate(network: options.network)
        if a != options.adversarial || options.gan != nil { options.gan = a }
    }

    /// Refuses a patch size or dims given for a GAN that stays off (DeepFaceLab asks them only while it is on).
    public static func checkShapeWithoutPower(_ a: SAEHDGANOptions, patchSize: Int?, dims: Int?) throws {
        if (patchSize != nil || dims != nil) && a.ganPower == 0 {
            throw FacetError.setting("gan-patch-size", "and --gan-dims shape the GAN's discriminator: give them with "
                                     + "--gan-power above 0")
        }
    }
}

extension Trainer {
    /// Whether the network trains discriminators after its own update (an SAEHD model with GAN or true face on).
    var trainsDiscriminators: Bool { (network as? SAEHD)?.discriminators.isActive == true }

    /// DeepFaceLab's discriminator steps, after the generator's: each active discriminator's gradients on what the
    /// updated generator makes of this iteration's batches, clipped like the generator's (`clipgrad`), then its own
    /// optimizer's step at the generator's base rate (with the guard's cuts and the schedule) and, under lr dropout,
    /// the 500-step cosine of its own step count, as leras's `lr_cos` runs per optimizer. A step whose gradients are
    /// not finite is skipped.
    func stepDiscriminators(src: TrainingBatch, dst: TrainingBatch, iteration: Int) {
        guard let s = network as? SAEHD, s.discriminators.isActive else { return }
        _ = s.computeDiscriminatorGradients(src: src, dst: dst)
        let schedule = options.schedule?.factor(iteration: iteration) ?? 1
        let rate = baseLearningRate * collapseGuard.learningRateScale * schedule
        var parts: [SAEHDDiscriminatorPart] = []
        if let t = s.discriminators.trueFace { parts.append(t) }
        if let g = s.discriminators.gan { parts.append(g) }
        for part in parts {
            let params = part.namedParameters
            guard params.allSatisfy({ TrainingGuard.allFinite($0.parameter.gradient.data,
                                                              count: $0.parameter.gradient.count) }) else { continue }
            if options.saehd?.clipGradients == true { clipGradients(params, maxNorm: 1) }
            let steps = (part.optimizer as? DropoutOptimizerBase)?.iterations ?? 0
            let cosine = SAEHDOptions.cosineFactor(iteration: steps, lrDropout: options.optimizer.lrDropout)
            part.optimizer.learningRate = Float(rate * cosine)
            part.optimizer.step(params)
        }
    }
}
