/// AdaBelief, as DeepFaceLab's leras implements it (SAEHD's `adabelief` option).
import Foundation
import FacetCore

/// AdaBelief without bias correction, as leras has it: `m = b1 m + (1 - b1) g; s = b2 s + (1 - b2) (g - m)^2;
/// w -= lr m / (sqrt(s) + eps)` (the step uses the new `m`), each weight's update kept with probability `lrDropout`.
/// The second moment tracks the gradient's deviation from its mean (the "belief"), so steps are large where the
/// gradient is consistent and small where it is noisy. State (shared with Adam, `TwoMomentOptimizer`):
/// `optimizer.m.<parameter>`, `optimizer.s.<parameter>`, `optimizer.iterations`.
public final class AdaBelief: TwoMomentOptimizer, Optimizer {
    /// Decay of the gradient's mean.
    public let beta1: Float
    /// Decay of the gradient's squared deviation.
    public let beta2: Float
    /// Added to the root of the deviation (leras: float32's resolution, 1e-6).
    public let epsilon: Float

    /// leras's defaults: lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-6, no lr dropout.
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-6,
                lrDropout: Float = 1, seed: UInt32 = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        super.init(learningRate: learningRate, secondMomentName: "s", displayName: "AdaBelief", lrDropout: lrDropout,
                   seed: seed)
    }

    /// AdaBelief's rule.
    struct Rule: TwoMomentRule {
        let b1: Float, b2: Float, lr: Float, eps: Float
        @inline(__always)
        func delta(gradient gi: Float, first m: inout Float, second s: inout Float, keep: Float) -> Float {
            let mi = b1 * m + (1 - b1) * gi
            let d = gi - mi
            let si = b2 * s + (1 - b2) * d * d
            m = mi
            s = si
            return keep * lr * mi / (rootOf(si) + eps)
        }
    }

    /// One update of every parameter.
    public func step(_ parameters: [(name: String, parameter: Parameter)]) {
        update(parameters, rule: Rule(b1: beta1, b2: beta2, lr: learningRate, eps: epsilon))
    }
}
