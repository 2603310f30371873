/// AdaBelief, as DeepFaceLab's leras implements it (SAEHD's `adabelief` option).
import Foundation
import FacetCore

/// AdaBelief without bias correction, as leras has it: `m = b1 m + (1 - b1) g; s = b2 s + (1 - b2) (g - m)^2;
/// w -= lr m / (sqrt(s) + eps)` (the step uses the new `m`), each weight's update kept with probability `lrDropout`.
/// The second moment tracks the gradient's deviation from its mean (the "belief"), so steps are large where the
/// gradient is consistent and small where it is noisy. State: `optimizer.m.<parameter>`, `optimizer.s.<parameter>`,
/// `optimizer.iterations`.
public final class AdaBelief: DropoutOptimizerBase, Optimizer {
    /// The step size.
    public var learningRate: Float
    /// Decay of the gradient's mean.
    public let beta1: Float
    /// Decay of the gradient's squared deviation.
    public let beta2: Float
    /// Added to the root of the deviation (leras: float32's resolution, 1e-6).
    public let epsilon: Float
    private var moments: [String: (m: Tensor, s: Tensor)] = [:]

    /// leras's defaults: lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-6, no lr dropout.
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-6,
                lrDropout: Float = 1, seed: UInt32 = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        super.init(lrDropout: lrDropout, seed: seed)
    }

    private func state(_ name: String, _ p: Parameter) -> (m: Tensor, s: Tensor) {
        if let s = moments[name] { return s }
        let s = (m: Tensor(shape: p.value.shape), s: Tensor(shape: p.value.shape))
        moments[name] = s
        return s
    }

    /// One update of every parameter.
    public func step(_ parameters: [(name: String, parameter: Parameter)]) {
        let (lr, b1, b2, eps, threshold) = (learningRate, beta1, beta2, epsilon, keepThreshold)
        for (index, (name, p)) in parameters.enumerated() {
            let st = state(name, p)
            let m = st.m.data, s = st.s.data, w = p.value.data, g = p.gradient.data
            let key = stream(parameterIndex: index)
            parallelRanges(p.value.count, grain: 32_768) { r in
                for i in r {
                    let gi = g[i]
                    let mi = b1 * m[i] + (1 - b1) * gi
                    let d = gi - mi
                    let si = b2 * s[i] + (1 - b2) * d * d
                    m[i] = mi
                    s[i] = si
                    let keep: Float = hash32(UInt32(truncatingIfNeeded: i) &* 0x9E37_79B9 &+ key) < threshold ? 1 : 0
                    w[i] -= keep * lr * mi / (rootOf(si) + eps)
                }
            }
        }
        for (_, p) in parameters { p.valueChanged() }
        iterations += 1
    }

    /// The names and shapes of the state.
    public func stateShapes(for parameters: [(name: String, parameter: Parameter)]) -> [(name: String, shape: [Int])] {
        parameters.flatMap { [(name: "optimizer.m.\($0.name)", shape: $0.parameter.value.shape),
                              (name: "optimizer.s.\($0.name)", shape: $0.parameter.value.shape)] }
            + [(name: "optimizer.iterations", shape: [4])]
    }

    /// The state as named tensors.
    public func stateTensors(for parameters: [(name: String, parameter: Parameter)]) -> [NamedTensor] {
        parameters.flatMap { (name, p) -> [NamedTensor] in
            let st = state(name, p)
            return [st.m.named("optimizer.m.\(name)"), st.s.named("optimizer.s.\(name)")]
        } + [counterState]
    }

    /// Restores the state `stateTensors` produced.
    public func loadState(_ tensors: [String: NamedTensor],
                          for parameters: [(name: String, parameter: Parameter)]) throws {
        for (name, p) in parameters {
            let st = state(name, p)
            guard let m = tensors["optimizer.m.\(name)"], let s = tensors["optimizer.s.\(name)"] else {
                throw FacetError("missing AdaBelief state for '\(name)'")
            }
            try st.m.load(m)
            try st.s.load(s)
        }
        guard let c = tensors["optimizer.iterations"] else { throw FacetError("missing tensor 'optimizer.iterations'") }
        try loadCounter(c)
    }
}
