/// What changes over a model's iterations: the learning rate's warm-up and decay, and when the random warp stops.
import Foundation
import FacetCore

/// The learning rate as a factor of the optimizer's over the model's iterations: a linear warm-up, then a cosine
/// decay to a floor. Fixed when a model is created (stored in its options), so a resumed run follows the same curve.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    /// Iterations of linear warm-up: iteration i (1-based) trains at i / warmup of the rate (0: none).
    public var warmupIterations: Int
    /// Iterations of cosine decay after the warm-up, from the full rate down to `floor` of it (0: none).
    public var decayIterations: Int
    /// The share of the rate left after the decay.
    public var floor: Double

    /// No warm-up, no decay unless asked.
    public init(warmupIterations: Int = 0, decayIterations: Int = 0, floor: Double = 0.1) {
        self.warmupIterations = warmupIterations
        self.decayIterations = decayIterations
        self.floor = floor
    }

    /// The factor on the learning rate for training iteration `iteration` (1-based).
    public func factor(iteration: Int) -> Double {
        if warmupIterations > 0, iteration <= warmupIterations {
            return Double(max(iteration, 1)) / Double(warmupIterations)
        }
        guard decayIterations > 0 else { return 1 }
        let t = min(1, Double(iteration - warmupIterations) / Double(decayIterations))
        return floor + (1 - floor) * (1 + cos(.pi * t)) / 2
    }

    /// Checks the numbers, naming the option.
    func validate() throws {
        guard warmupIterations >= 0 else {
            throw FacetError.setting("lr-warmup", "must be 0 or more, got \(warmupIterations)")
        }
        guard decayIterations >= 0 else {
            throw FacetError.setting("lr-decay", "must be 0 or more, got \(decayIterations)")
        }
        guard floor > 0, floor <= 1 else { throw FacetError.setting("lr-floor", "must be in (0, 1], got \(floor)") }
    }
}

/// A new model's training knobs as `facet train` sets them; nil leaves the default (`TrainingKnobs.defaults`).
public struct TrainingKnobs: Sendable, Equatable {
    /// `ModelOptions.maskedTraining`.
    public var maskedTraining: Bool?
    /// `ModelOptions.eyesMouthPriority`.
    public var eyesMouthPriority: Bool?
    /// `ModelOptions.uniformPose`.
    public var uniformPose: Bool?
    /// `ModelOptions.schedule`.
    public var schedule: LearningRateSchedule?
    /// `ModelOptions.colorTransfer`.
    public var colorTransfer: TrainingColorTransfer?
    /// `ModelOptions.trainingMask`.
    public var trainingMask: TrainingMask?

    /// Nothing set.
    public init() {}

    /// What a new model gets for each knob left nil: measured with `Tools/bench quality` (README, "Training knobs").
    public static let defaults = TrainingKnobs()

    /// Writes the set knobs (else the defaults) into a new model's options.
    func apply(to options: inout ModelOptions) {
        let d = TrainingKnobs.defaults
        options.maskedTraining = maskedTraining ?? d.maskedTraining
        options.eyesMouthPriority = eyesMouthPriority ?? d.eyesMouthPriority
        options.uniformPose = uniformPose ?? d.uniformPose
        options.schedule = schedule ?? d.schedule
        options.colorTransfer = colorTransfer ?? d.colorTransfer
        options.trainingMask = trainingMask ?? d.trainingMask
    }
}
