/// The trainable architectures and the options stored with a model (its `options_json`).
import Foundation
import FacetCore
import FacetNN
import FacetVision

/// The models `facet train --model` knows.
public enum TrainArchitecture: String, Codable, Sendable, CaseIterable {
    /// DeepFaceLab's Quick96: 96 px, RMSprop 2e-4 with lr dropout 0.3, batch 4.
    case quick96
    /// A demo-sized model (64 px) that shows a recognisable face in minutes on two cores.
    case tiny
    /// DeepFaceLab's classic H128: half face, 128 px, learned mask, Adam 5e-5 (beta1 0.5), batch 4.
    case h128
    /// DeepFaceLab's SAEHD: df or liae (-u, -d, -t), 64 to 640 px, any face type, AdaBelief 5e-5, batch 4
    /// (`SAEHDOptions`).
    case saehd

    /// The network sizes a new model of this architecture gets.
    /// For `h128` the same numbers as its `H128Config.h128` (resolution, encoder, dense and
    /// decoder widths; the mask branch has the decoder's widths): the H128 network itself is
    /// `ModelOptions.h128`.
    public var network: Quick96Config {
        switch self {
        case .quick96: return .quick96
        case .tiny: return TrainArchitecture.tinyNetwork
        case .h128: return TrainArchitecture.mirror(.h128)
        case .saehd: return TrainArchitecture.mirror(.deepFaceLab)
        }
    }

    /// An SAEHD configuration's sizes in the `network` field's form.
    static func mirror(_ c: SAEHDConfig) -> Quick96Config {
        Quick96Config(resolution: c.resolution, encoderDims: c.eDims, aeDims: c.aeDims, decoderDims: c.dDims,
                      maskDims: c.dMaskDims)
    }

    /// An H128 configuration's sizes in the `network` field's form.
    static func mirror(_ c: H128Config) -> Quick96Config {
        Quick96Config(resolution: c.resolution, encoderDims: c.encoderDims, aeDims: c.aeDims,
                      decoderDims: c.decoderDims, maskDims: c.decoderDims)
    }

    /// The aligned face type the model trains on and swaps: H128 takes half faces (the trainer and
    /// the merge re-align stored faces of a wider type from their landmarks), the others the
    /// stored crops as they are.
    public var faceType: String {
        switch self {
        case .h128: return "half"
        case .quick96, .tiny, .saehd: return "full"
        }
    }

    /// The demo network: FacetNN's `.tiny` structure at 64 px with encoder and decoder widths 24
    /// instead of 32 (5.8 M parameters instead of 9.2 M). Measured on two busy cores at batch 8:
    /// 1.75 it/s against 0.72 for `.tiny`, which left the preview at a blurred mean face after 12
    /// minutes; the faster one gets several times more iterations into the same minutes.
    public static let tinyNetwork = Quick96Config(resolution: 64, encoderDims: 24, aeDims: 64, decoderDims: 24,
                                                  maskDims: 8)

    /// DeepFaceLab fixes Quick96's batch at 4 per device; tiny is cheap enough for 8.
    public var defaultBatchSize: Int {
        switch self {
        case .quick96, .h128, .saehd: return 4
        case .tiny: return 8
        }
    }

    /// The optimizer of `kind` a new model of this architecture gets when it names that kind without a learning
    /// rate: its own optimizer as `defaultOptimizer`; otherwise RMSprop as Quick96's, Adam as tiny's (h128's
    /// betas kept), AdaBelief at `adaBeliefLearningRate`.
    public func defaultOptimizer(kind: OptimizerOptions.Kind) -> OptimizerOptions {
        let own = defaultOptimizer
        if kind == own.kind { return own }
        // SAEHD keeps DeepFaceLab's rate (5e-5) and lr dropout with whichever optimizer is asked for.
        if self == .saehd {
            return OptimizerOptions(kind: kind, learningRate: own.learningRate, lrDropout: own.lrDropout)
        }
        switch kind {
        case .rmsprop: return TrainArchitecture.quick96.defaultOptimizer
        case .adam: return TrainArchitecture.tiny.defaultOptimizer
        case .adabelief:
            return OptimizerOptions(kind: .adabelief, learningRate: adaBeliefLearningRate, lrDropout: own.lrDropout)
        }
    }

    /// AdaBelief's step size: its second moment (the gradient's spread about its mean) is smaller than Adam's (the
    /// gradient's square), so its steps at Adam's rate are larger. SAEHD trains with AdaBelief at 5e-5; tiny's
    /// rate is measured (README, "Training knobs"): AdaBelief at tiny's Adam rate of 5e-4 left the swap at 0% src.
    public var adaBeliefLearningRate: Double {
        switch self {
        case .tiny: return 1.5e-4
        case .quick96, .h128, .saehd: return 5e-5
        }
    }

    /// Quick96 keeps DeepFaceLab's optimizer; tiny uses Adam at 5e-4 without lr dropout, which
    /// shows a face several times sooner (RMSprop at 2e-4 with 70% of updates dropped is slow on purpose).
    public var defaultOptimizer: OptimizerOptions {
        switch self {
        case .quick96: return OptimizerOptions(kind: .rmsprop, learningRate: 2e-4, lrDropout: 0.3)
        case .tiny: return OptimizerOptions(kind: .adam, learningRate: 5e-4, lrDropout: 1)
        case .h128: return OptimizerOptions(kind: .adam, learningRate: 5e-5, lrDropout: 1, beta1: 0.5, beta2: 0.999)
        case .saehd: return OptimizerOptions(kind: .adabelief, learningRate: 5e-5, lrDropout: 1)
        }
    }
}

/// Which optimizer trains a model, with what learning rate and lr dropout.
public struct OptimizerOptions: Codable, Sendable, Equatable {
    /// RMSprop, Adam or AdaBelief (DeepFaceLab's leras variants).
    public enum Kind: String, Codable, Sendable, CaseIterable { case rmsprop, adam, adabelief }
    /// Which optimizer.
    public var kind: Kind
    /// The step size.
    public var learningRate: Double
    /// DeepFaceLab's `lr_dropout`: the probability that a weight is updated in a step (1 = always).
    public var lrDropout: Double
    /// Adam's moment decays (nil: 0.9 and 0.999; H128 uses 0.5 and 0.999).
    public var beta1: Double?
    /// Adam's second-moment decay (nil: 0.999).
    public var beta2: Double?
    /// Options with each field given.
    public init(kind: Kind, learningRate: Double, lrDropout: Double, beta1: Double? = nil, beta2: Double? = nil) {
        self.kind = kind; self.learningRate = learningRate; self.lrDropout = lrDropout
        self.beta1 = beta1; self.beta2 = beta2
    }

    /// A fresh optimizer; `seed` keys its lr-dropout masks.
    func make(seed: UInt64) throws -> any Optimizer {
        guard learningRate > 0, learningRate.isFinite else {
            throw FacetError("the learning rate must be positive, got \(learningRate)")
        }
        guard lrDropout > 0, lrDropout <= 1 else { throw FacetError("lr dropout must be in (0, 1], got \(lrDropout)") }
        let s = UInt32(truncatingIfNeeded: seed)
        switch kind {
        case .rmsprop: return RMSprop(learningRate: Float(learningRate), lrDropout: Float(lrDropout), seed: s)
        case .adam:
            let b1 = beta1 ?? 0.9, b2 = beta2 ?? 0.999
            guard (0..<1).contains(b1), (0..<1).contains(b2) else {
                throw FacetError("Adam's beta1 and beta2 must be in [0, 1), got \(b1) and \(b2)")
            }
            return Adam(learningRate: Float(learningRate), beta1: Float(b1), beta2: Float(b2),
                        lrDropout: Float(lrDropout), seed: s)
        case .adabelief:
            let b1 = beta1 ?? 0.9, b2 = beta2 ?? 0.999
            guard (0..<1).contains(b1), (0..<1).contains(b2) else {
                throw FacetError("AdaBelief's beta1 and beta2 must be in [0, 1), got \(b1) and \(b2)")
            }
            return AdaBelief(learningRate: Float(learningRate), beta1: Float(b1), beta2: Float(b2),
                             lrDropout: Float(lrDropout), seed: s)
        }
    }
}

/// The augmentation applied to the encoder's input (warp) and to input and target alike (the rest).
public struct AugmentationOptions: Codable, Sendable, Equatable {
    /// DeepFaceLab's random grid warp of the input face.
    public var randomWarp: Bool = true
    /// Probability of a horizontal flip.
    public var flipProbability: Double = 0.5
    /// Maximum rotation, degrees (uniform in +-).
    public var rotationDegrees: Double = 10
    /// Maximum relative scale change (uniform in +-).
    public var scale: Double = 0.05
    /// Maximum shift as a fraction of the face size (uniform in +-, each axis).
    public var shift: Double = 0.05
    /// The defaults: half the faces flipped, rotations up to 10 degrees, scales and shifts up to 5%.
    public init() {}
}

/// The face mask a swap model trains with: where its loss counts and what its mask decoder learns.
public enum TrainingMask: String, Codable, Sendable, CaseIterable {
    /// The convex hull of the 68 landmarks (DeepFaceLab's full-face mask without XSeg).
    case hull
    /// The segmenter's stored mask of each face (`facet xseg apply`): what covers the face is left out.
    case xseg
}

/// Everything about a model fixed at creation, stored as JSON in `model.options_json`.
public struct ModelOptions: Codable, Sendable, Equatable {
    /// Bumped when the meaning of a field changes.
    public var formatVersion: Int = 1
    /// The network family and preset.
    public var architecture: TrainArchitecture
    /// The network's sizes (kept here so a later change of the preset does not change the model).
    public var network: Quick96Config
    /// The H128 network (widths, `lighter`, `pixel_loss`) of an `h128` model; nil for the others.
    public var h128: H128Config?
    /// The optimizer and its settings.
    public var optimizer: OptimizerOptions
    /// Faces per role in each training step.
    public var batchSize: Int
    /// The random flips, rotations, scales and shifts applied to training faces.
    public var augmentation: AugmentationOptions
    /// Share of each role's kept faces held out for the validation loss (at most `maxValidationFaces`).
    public var validationFraction: Double = 0.1
    /// The most faces per role held out for the validation loss.
    public var maxValidationFaces: Int = 32
    /// Train only on these persons' faces (`train --person`), by role name: "src" / "dst" to a
    /// person id. Fixed at creation, so a resumed run keeps to the same persons.
    public var persons: [String: Int64]?
    /// The image loss only inside the face mask (DeepFaceLab's `masked_training`); nil (models made before the
    /// option) means true.
    public var maskedTraining: Bool?
    /// Extra loss weight on the eyes and mouth from the landmarks (`eyes_mouth_prio`); nil means false.
    public var eyesMouthPriority: Bool?
    /// Faces drawn evenly over yaw x pitch bins of their stored pose (`uniform_yaw`); nil means false.
    public var uniformPose: Bool?
    /// The learning rate's warm-up and decay; nil means constant.
    public var schedule: LearningRateSchedule?
    /// Colour transfer of each src training face towards a random dst face (`ct_mode`); nil means none.
    public var colorTransfer: TrainingColorTransfer?
    /// Parts kept fixed in training (`--freeze encoder` of a warm start); nil means none.
    public var frozen: [String]?
    /// The network, face type and SAEHD-only options of a `saehd` model; nil for the others.
    public var saehd: SAEHDOptions?
    /// A generic model (`facet pretrain`): both decoders train on every kept face of the project, any role or
    /// person; nil means false.
    public var pretrain: Bool?
    /// Which face mask the masked loss and the mask decoder learn (`train --mask`); nil means the landmark hull.
    public var trainingMask: TrainingMask?

    /// The loss knobs the network trains with.
    public var lossOptions: LossOptions {
        LossOptions(masked: maskedTraining ?? true,
                    eyesMouthWeight: (eyesMouthPriority ?? false) ? LossOptions.deepFaceLabEyesMouthWeight : 0)
    }

    /// `h128` sets the network of an `h128` model (default `H128Config.h128`); other
    /// architectures ignore it.
    public init(architecture: TrainArchitecture, batchSize: Int? = nil, optimizer: OptimizerOptions? = nil,
                augmentation: AugmentationOptions = AugmentationOptions(), h128: H128Config? = nil,
                saehd: SAEHDOptions? = nil) {
        self.architecture = architecture
        self.network = architecture.network
        if architecture == .h128 {
            let c = h128 ?? .h128
            self.h128 = c
            self.network = TrainArchitecture.mirror(c)
        }
        if architecture == .saehd {
            let o = saehd ?? SAEHDOptions()
            self.saehd = o
            self.network = TrainArchitecture.mirror(o.network)
        }
        self.optimizer = optimizer ?? architecture.defaultOptimizer
        self.batchSize = batchSize ?? architecture.defaultBatchSize
        self.augmentation = augmentation
    }

    /// Side of the model's square faces, in pixels.
    public var resolution: Int { saehd?.network.resolution ?? h128?.resolution ?? network.resolution }

    /// The face type this model's faces are aligned as (see `TrainArchitecture.faceType`; SAEHD's is its option).
    public var faceType: String { saehd?.faceType.rawValue ?? architecture.faceType }
    /// The face type stored faces are re-aligned to before training (`half` for H128, SAEHD's face type); nil:
    /// the stored crops as they are.
    public var realignedFaceType: FaceType? {
        if let saehd { return saehd.faceType }
        return architecture == .h128 ? .half : nil
    }

    /// A freshly initialised network of these options, weights from `seed`, optimizer lr-dropout
    /// masks from `optimizerSeed`.
    public func makeNetwork(seed: UInt64, optimizerSeed: UInt64) throws -> any SwapNetwork {
        let optimizer = try self.optimizer.make(seed: optimizerSeed)
        try schedule?.validate()
        let made: any SwapNetwork
        switch architecture {
        case .quick96, .tiny:
            made = try Quick96(config: network, seed: seed, optimizer: optimizer)
        case .h128:
            guard let h128 else {
                throw FacetError("an h128 model's options lack its network ('h128'); the model row is damaged")
            }
            made = try H128(config: h128, seed: seed, optimizer: optimizer)
        case .saehd:
            guard let saehd else {
                throw FacetError("an saehd model's options lack its network ('saehd'); the model row is damaged")
            }
            let net = try SAEHD(config: saehd.network, seed: seed, optimizer: optimizer)
            net.targetOptions = SAEHDTargetOptions(blurOutMask: saehd.blurOutMask)
            try saehd.attachDiscriminators(to: net, optimizer: self.optimizer, seed: seed, pretrain: pretrain == true)
            made = net
        }
        made.lossOptions = lossOptions
        return made
    }

    /// The JSON the model row stores (sorted snake_case keys, so it diffs and greps well).
    public func json() throws -> String {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }

    /// Reads a model row's options, saying which model is unreadable and why.
    public static func parse(_ json: String, model: String) throws -> ModelOptions {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try d.decode(ModelOptions.self, from: Data(json.utf8))
        } catch {
            throw FacetError("model '\(model)': its stored options are not ones this build understands "
                             + "(\(describeDecoding(error))); was it made by a newer Facet?")
        }
    }
}

/// One line for a JSON decoding failure.
func describeDecoding(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let k, _): return "missing '\(k.stringValue)'"
    case DecodingError.dataCorrupted(let c): return c.debugDescription
    case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
        return "bad value at '\(c.codingPath.map(\.stringValue).joined(separator: "."))'"
    default: return "\(error)"
    }
}
