/// SAEHD's options: what is fixed when the model is created and what a resumed run may change, as DeepFaceLab
/// asks them.
import Foundation
import FacetCore
import FacetNN
import FacetVision

/// The options of an SAEHD model beyond the common ones (stored under `saehd` in the model's options JSON).
public struct SAEHDOptions: Codable, Sendable, Equatable {
    /// Resolution, archi and widths: fixed at creation.
    public var network: SAEHDConfig
    /// The face type the model trains on and swaps: fixed at creation (DeepFaceLab's default `full`).
    public var faceType: FaceType
    /// DeepFaceLab's `blur_out_mask`: the background near the face blurred in the targets. Changeable on resume.
    public var blurOutMask: Bool
    /// DeepFaceLab's `clipgrad`: the gradients scaled to a global norm of at most 1. Changeable on resume.
    public var clipGradients: Bool
    /// `gan_power`, `gan_patch_size`, `gan_dims` and `true_face_power` (nil in models stored before them: DeepFaceLab's
    /// defaults, see `adversarial`). Changeable on resume.
    public var gan: SAEHDGANOptions?
    /// DeepFaceLab's `random_hsv_power` (0 to 0.3): each src input's random hue, saturation and value shift
    /// (`HSVShift`); nil (models made before the option) means 0, off. Changeable on resume.
    public var randomHsvPower: Double?

    /// DeepFaceLab's defaults unless given.
    public init(network: SAEHDConfig = .deepFaceLab, faceType: FaceType = .full, blurOutMask: Bool = false,
                clipGradients: Bool = false) {
        self.network = network
        self.faceType = faceType
        self.blurOutMask = blurOutMask
        self.clipGradients = clipGradients
        self.gan = SAEHDGANOptions(resolution: network.resolution)
    }

    /// `--preset cpu`: a network for two CPU cores (README "SAEHD"): liae-ud, 96 px, ae 128, e 32, d 32,
    /// d_mask 16 (DeepFaceLab's smallest mask width; its own Quick96 sizes are of this order).
    public static let cpuPreset = SAEHDConfig(resolution: 96, archi: "liae-ud", aeDims: 128, eDims: 32, dDims: 32,
                                              dMaskDims: 16)

    /// The learning-rate factor of DeepFaceLab's `lr_cos` at an iteration: with lr dropout SAEHD's optimizer
    /// multiplies the rate by `(cos(2 pi i / 500) + 1) / 2` (`lr_cos = 500`); 1 without lr dropout.
    public static func cosineFactor(iteration: Int, lrDropout: Double) -> Double {
        guard lrDropout < 1 else { return 1 }
        return (cos(Double(iteration) * 2 * Double.pi / 500) + 1) / 2
    }

    /// Checks the ranges DeepFaceLab's SAEHD allows (resolution 64 to 640, ae_dims 32 to 1024, the other widths
    /// 16 to 256 and even), then the network itself; one line naming the option.
    public func validate() throws {
        let n = network
        guard (64...640).contains(n.resolution) else {
            throw FacetError.setting("resolution", "must be 64 to 640 (DeepFaceLab's SAEHD range), got \(n.resolution)")
        }
        guard (32...1024).contains(n.aeDims) else {
            throw FacetError.setting("ae-dims", "must be 32 to 1024, got \(n.aeDims)")
        }
        for (name, v) in [("e-dims", n.eDims), ("d-dims", n.dDims), ("d-mask-dims", n.dMaskDims)] {
            guard (16...256).contains(v), v % 2 == 0 else {
                throw FacetError.setting(name, "must be even and 16 to 256, got \(v)")
            }
        }
        try n.validate()
        try adversarial.validate(network: n)
        try SAEHDOptions.checkHSVPower(randomHsvPower)
    }

    /// Throws one line when a `random_hsv_power` is outside DeepFaceLab's 0 to 0.3.
    static func checkHSVPower(_ power: Double?) throws {
        guard let power, !HSVShift.powerRange.contains(power) else { return }
        throw FacetError.setting("random-hsv-power", "must be 0 to 0.3 (DeepFaceLab's range), got \(power)")
    }

    /// Whether DeepFaceLab offers masked training as a choice for this face type (whole face and head); for the
    /// others it is always on.
    public var maskedTrainingIsChoice: Bool { faceType == .wholeFace || faceType == .head }
}

/// What a resumed SAEHD run changes, of the options DeepFaceLab asks again on resume (nil: unchanged).
public struct SAEHDResumeChanges: Sendable, Equatable {
    /// `masked_training` (whole face and head only).
    public var maskedTraining: Bool?
    /// `eyes_mouth_prio`.
    public var eyesMouthPriority: Bool?
    /// `uniform_yaw`.
    public var uniformPose: Bool?
    /// `ct_mode`; `.some(nil)` turns it off.
    public var colorTransfer: TrainingColorTransfer??
    /// `lr_dropout`: the probability that a weight is updated (1: off).
    public var lrDropout: Double?
    /// `blur_out_mask`.
    public var blurOutMask: Bool?
    /// `clipgrad`.
    public var clipGradients: Bool?
    /// `gan_power`, `gan_patch_size`, `gan_dims`, `true_face_power`.
    public var adversarial = SAEHDAdversarialChanges()
    /// `random_hsv_power` (0 turns it off).
    public var randomHsvPower: Double?

    /// Nothing changed.
    public init() {}

    /// Whether anything is asked to change.
    public var isEmpty: Bool { self == SAEHDResumeChanges() }

    /// `options` with the changes applied; throws one line for a change DeepFaceLab does not offer.
    func apply(to options: ModelOptions, model: String) throws -> ModelOptions {
        var o = options
        guard var s = o.saehd else {
            throw FacetError("model '\(model)' is a \(o.architecture.rawValue) model: masked training, priorities, "
                             + "pose sampling, colour transfer and lr dropout are fixed when it is created "
                             + "(an saehd model may change them on resume)")
        }
        if let m = maskedTraining {
            guard s.maskedTrainingIsChoice || m else {
                throw FacetError("model '\(model)': masked training is always on for \(s.faceType.rawValue) faces "
                                 + "(DeepFaceLab offers it for whole_face and head only)")
            }
            o.maskedTraining = m
        }
        if let e = eyesMouthPriority { o.eyesMouthPriority = e }
        if let u = uniformPose { o.uniformPose = u }
        if let c = colorTransfer { o.colorTransfer = c }
        if let p = lrDropout {
            guard p > 0, p <= 1 else { throw FacetError.setting("lr-dropout", "must be in (0, 1], got \(p)") }
            o.optimizer.lrDropout = p
        }
        if let b = blurOutMask { s.blurOutMask = b }
        if let c = clipGradients { s.clipGradients = c }
        try adversarial.apply(to: &s, pretrain: o.pretrain == true)
        if let p = randomHsvPower {
            try SAEHDOptions.checkHSVPower(p)
            s.randomHsvPower = p
        }
        o.saehd = s
        return o
    }
}

/// Scales every gradient by `maxNorm / norm` when their global L2 norm exceeds `maxNorm` (leras's `clipnorm`,
/// the norm over all of them at once). Returns the norm before clipping.
@discardableResult
func clipGradients(_ parameters: [(name: String, parameter: Parameter)], maxNorm: Double) -> Double {
    var sum = 0.0
    for (_, p) in parameters {
        let g = p.gradient.data
        var s = 0.0
        for i in 0..<p.gradient.count { s += Double(g[i]) * Double(g[i]) }
        sum += s
    }
    let norm = sum.squareRoot()
    guard norm > maxNorm else { return norm }
    let k = Float(maxNorm / norm)
    for (_, p) in parameters {
        let g = p.gradient.data
        for i in 0..<p.gradient.count { g[i] *= k }
    }
    return norm
}
