/// Optimizers with per-parameter state: RMSprop, Adam (and AdaBelief, in its own file), with DeepFaceLab's lr dropout.
import Foundation
import FacetCore

/// Updates parameters from their gradients and keeps the state that update needs.
public protocol Optimizer: AnyObject {
    /// The step size now (a schedule or the training guard may change it between steps).
    var learningRate: Float { get set }
    /// One update of every parameter from its current `gradient`.
    func step(_ parameters: [(name: String, parameter: Parameter)])
    /// The optimizer's state for these parameters as named tensors (all names start with
    /// `optimizer.`), zeros for parameters not yet updated.
    func stateTensors(for parameters: [(name: String, parameter: Parameter)]) -> [NamedTensor]
    /// Restores state saved by `stateTensors`; `tensors` holds exactly the names that would
    /// export (the caller checks that), keyed by name.
    func loadState(_ tensors: [String: NamedTensor], for parameters: [(name: String, parameter: Parameter)]) throws
    /// The names `stateTensors` produces, with their shapes.
    func stateShapes(for parameters: [(name: String, parameter: Parameter)]) -> [(name: String, shape: [Int])]
}

/// The shared lr-dropout and bookkeeping of FacetNN's optimizers.
public class DropoutOptimizerBase {
    /// DeepFaceLab's `lr_dropout`: the probability that a weight is updated in a given step
    /// (Quick96 uses 0.3); 1 updates every weight.
    public let lrDropout: Float
    /// Steps taken; part of the saved state (with `seed`, it keys each step's dropout mask).
    public internal(set) var iterations: Int = 0
    /// Seeds the dropout masks: mask(step, parameter, element) is a hash, so a resumed run draws
    /// the same masks as an uninterrupted one.
    public internal(set) var seed: UInt32

    init(lrDropout: Float, seed: UInt32) {
        precondition(lrDropout > 0 && lrDropout <= 1, "optimizer: lr dropout must be in (0, 1], got \(lrDropout)")
        self.lrDropout = lrDropout
        self.seed = seed
    }

    /// The stream key of one (step, parameter) pair.
    func stream(parameterIndex: Int) -> UInt32 {
        hash32(seed ^ hash32(UInt32(truncatingIfNeeded: iterations) &* 0x9E37_79B9
                             ^ UInt32(truncatingIfNeeded: parameterIndex) &* 0x85EB_CA6B))
    }

    var keepThreshold: UInt32 { lrDropout >= 1 ? UInt32.max : UInt32(Double(lrDropout) * 4_294_967_296.0) }

    /// The step count and dropout seed, as `optimizer.iterations` `[4]`: floats hold integers
    /// exactly only up to 2^24, so each is split into 16-bit halves.
    var counterState: NamedTensor {
        NamedTensor(name: "optimizer.iterations", shape: [4],
                    data: [Float(iterations & 0xFFFF), Float(iterations >> 16), Float(seed & 0xFFFF),
                           Float(seed >> 16)])
    }

    func loadCounter(_ t: NamedTensor) throws {
        guard t.shape == [4], t.data.count == 4,
            t.data.allSatisfy({ $0 >= 0 && $0 < 65_536 && $0 == $0.rounded() }) else {
            throw FacetError("tensor 'optimizer.iterations': expected 4 integers below 65536, got shape \(t.shape); "
                             + "the checkpoint is corrupt")
        }
        iterations = Int(t.data[0]) | Int(t.data[1]) << 16
        seed = UInt32(t.data[2]) | UInt32(t.data[3]) << 16
    }
}

/// RMSprop as DeepFaceLab's leras implements it:
/// `a = rho a + (1 - rho) g^2; w -= lr g / (sqrt(a) + eps)`, each weight's update kept with
/// probability `lrDropout`. State: `optimizer.acc.<parameter>` and `optimizer.iterations`.
public final class RMSprop: DropoutOptimizerBase, Optimizer {
    /// The step size (`lr`).
    public var learningRate: Float
    /// Decay of the running mean of squared gradients.
    public let rho: Float
    /// Added to the root in the denominator, so a zero running mean stays finite.
    public let epsilon: Float
    private var accumulators: [String: Tensor] = [:]

    /// Defaults are Quick96's: lr 2e-4, rho 0.9, eps 1e-6, lr dropout 0.3.
    public init(learningRate: Float = 2e-4, rho: Float = 0.9, epsilon: Float = 1e-6, lrDropout: Float = 0.3,
                seed: UInt32 = 0) {
        self.learningRate = learningRate
        self.rho = rho
        self.epsilon = epsilon
        super.init(lrDropout: lrDropout, seed: seed)
    }

    private func accumulator(_ name: String, _ p: Parameter) -> Tensor {
        if let a = accumulators[name] { return a }
        let a = Tensor(shape: p.value.shape)
        accumulators[name] = a
        return a
    }

    /// One RMSprop update of every parameter from its current gradient, lr dropout applied.
    public func step(_ parameters: [(name: String, parameter: Parameter)]) {
        let (lr, rho, eps, threshold) = (learningRate, rho, epsilon, keepThreshold)
        for (index, (name, p)) in parameters.enumerated() {
            let acc = accumulator(name, p).data, w = p.value.data, g = p.gradient.data
            let key = stream(parameterIndex: index)
            // Written so LLVM vectorises it: no branch, and `rootOf` instead of squareRoot(),
            // which Swift lowers to scalar code.
            parallelRanges(p.value.count, grain: 32_768) { r in
                for i in r {
                    let gi = g[i]
                    let a = rho * acc[i] + (1 - rho) * gi * gi
                    acc[i] = a
                    let keep: Float = hash32(UInt32(truncatingIfNeeded: i) &* 0x9E37_79B9 &+ key) < threshold ? 1 : 0
                    w[i] -= keep * lr * gi / (rootOf(a) + eps)
                }
            }
        }
        for (_, p) in parameters { p.valueChanged() }
        iterations += 1
    }

    /// `optimizer.acc.<parameter>` for each parameter (its shape), then `optimizer.iterations` `[4]`.
    public func stateShapes(for parameters: [(name: String, parameter: Parameter)]) -> [(name: String, shape: [Int])] {
        parameters.map { (name: "optimizer.acc.\($0.name)",
                          shape: $0.parameter.value.shape) } + [(name: "optimizer.iterations", shape: [4])]
    }

    /// The running means and the step counter, as named tensors (zeros for parameters not yet updated).
    public func stateTensors(for parameters: [(name: String, parameter: Parameter)]) -> [NamedTensor] {
        parameters.map { accumulator($0.name, $0.parameter).named("optimizer.acc.\($0.name)") } + [counterState]
    }

    /// Restores what `stateTensors` saved; throws on a mismatch.
    public func loadState(_ tensors: [String: NamedTensor],
                          for parameters: [(name: String, parameter: Parameter)]) throws {
        for (name, p) in parameters {
            guard let t = tensors["optimizer.acc.\(name)"] else {
                throw FacetError("missing tensor 'optimizer.acc.\(name)'")
            }
            try accumulator(name, p).load(t)
        }
        guard let c = tensors["optimizer.iterations"] else { throw FacetError("missing tensor 'optimizer.iterations'") }
        try loadCounter(c)
    }
}

/// The state and update loop Adam and AdaBelief share: two moments per parameter (`optimizer.m.<parameter>` and
/// `optimizer.<second>.<parameter>`, the second's stored name given by the subclass so checkpoints keep their tensor
/// names), the step counter (`optimizer.iterations`), and the parallel update with `RMSprop`'s lr dropout. A
/// subclass gives the per-weight rule (`TwoMomentRule`).
public class TwoMomentOptimizer: DropoutOptimizerBase {
    /// The step size (`lr`).
    public var learningRate: Float
    /// The second moment's name in stored tensors: `v` (Adam), `s` (AdaBelief).
    public let secondMomentName: String
    /// The optimizer's name in error messages.
    let displayName: String
    private var moments: [String: (first: Tensor, second: Tensor)] = [:]

    init(learningRate: Float, secondMomentName: String, displayName: String, lrDropout: Float, seed: UInt32) {
        self.learningRate = learningRate
        self.secondMomentName = secondMomentName
        self.displayName = displayName
        super.init(lrDropout: lrDropout, seed: seed)
    }

    /// Both moments of one parameter (zeros until its first update).
    final func moments(_ name: String, _ p: Parameter) -> (first: Tensor, second: Tensor) {
        if let s = moments[name] { return s }
        let s = (first: Tensor(shape: p.value.shape), second: Tensor(shape: p.value.shape))
        moments[name] = s
        return s
    }

    /// One update of every parameter: `w -= rule(g, m, second, keep)` element by element, spread over the workers,
    /// `keep` the lr-dropout draw (1 or 0) keyed by (seed, step, parameter, element).
    final func update<Rule: TwoMomentRule>(_ parameters: [(name: String, parameter: Parameter)], rule: Rule) {
        let threshold = keepThreshold
        for (index, (name, p)) in parameters.enumerated() {
            let s = moments(name, p)
            let m = s.first.data, v = s.second.data, w = p.value.data, g = p.gradient.data
            let key = stream(parameterIndex: index)
            // Written so LLVM vectorises it: the rule inlines, no branch (see `RMSprop.step`).
            parallelRanges(p.value.count, grain: 32_768) { r in
                for i in r {
                    let keep: Float = hash32(UInt32(truncatingIfNeeded: i) &* 0x9E37_79B9 &+ key) < threshold ? 1 : 0
                    w[i] -= rule.delta(gradient: g[i], first: &m[i], second: &v[i], keep: keep)
                }
            }
        }
        for (_, p) in parameters { p.valueChanged() }
        iterations += 1
    }

    /// `optimizer.m.<parameter>` and `optimizer.<second>.<parameter>` for each parameter, then `optimizer.iterations`.
    public func stateShapes(for parameters: [(name: String, parameter: Parameter)]) -> [(name: String, shape: [Int])] {
        parameters.flatMap { [(name: "optimizer.m.\($0.name)", shape: $0.parameter.value.shape),
                              (name: "optimizer.\(secondMomentName).\($0.name)", shape: $0.parameter.value.shape)] }
            + [(name: "optimizer.iterations", shape: [4])]
    }

    /// Both moments and the step counter, as named tensors (zeros for parameters not yet updated).
    public func stateTensors(for parameters: [(name: String, parameter: Parameter)]) -> [NamedTensor] {
        parameters.flatMap { (name, p) -> [NamedTensor] in
            let s = moments(name, p)
            return [s.first.named("optimizer.m.\(name)"), s.second.named("optimizer.\(secondMomentName).\(name)")]
        } + [counterState]
    }

    /// Restores what `stateTensors` saved; throws on a mismatch.
    public func loadState(_ tensors: [String: NamedTensor],
                          for parameters: [(name: String, parameter: Parameter)]) throws {
        for (name, p) in parameters {
            let s = moments(name, p)
            let second = "optimizer.\(secondMomentName).\(name)"
            guard let m = tensors["optimizer.m.\(name)"], let v = tensors[second] else {
                throw FacetError("missing \(displayName) state for '\(name)'")
            }
            try s.first.load(m)
            try s.second.load(v)
        }
        guard let c = tensors["optimizer.iterations"] else { throw FacetError("missing tensor 'optimizer.iterations'") }
        try loadCounter(c)
    }
}

/// One weight's update of a `TwoMomentOptimizer`: updates both moments in place and returns what to subtract from
/// the weight (`keep` is 1, or 0 when lr dropout skips the weight this step).
protocol TwoMomentRule {
    /// The weight's decrement; `first` and `second` are updated in place.
    func delta(gradient g: Float, first m: inout Float, second v: inout Float, keep: Float) -> Float
}

/// Adam with bias correction: `m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
/// w -= lr * m_hat / (sqrt(v_hat) + eps)`, with the same lr dropout as `RMSprop`.
/// State: `optimizer.m.<parameter>`, `optimizer.v.<parameter>`, `optimizer.iterations`.
public final class Adam: TwoMomentOptimizer, Optimizer {
    /// Decay of the running mean of gradients (`m`).
    public let beta1: Float
    /// Decay of the running mean of squared gradients (`v`).
    public let beta2: Float
    /// Added to the root in the denominator, so a zero `v` stays finite.
    public let epsilon: Float

    /// An Adam optimizer; the defaults are Adam's usual ones (Keras's epsilon).
    public init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7,
                lrDropout: Float = 1, seed: UInt32 = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        super.init(learningRate: learningRate, secondMomentName: "v", displayName: "Adam", lrDropout: lrDropout,
                   seed: seed)
    }

    /// Adam's rule, the bias corrections folded into the step size and epsilon.
    struct Rule: TwoMomentRule {
        let b1: Float, b2: Float, lrT: Float, epsT: Float
        @inline(__always)
        func delta(gradient gi: Float, first m: inout Float, second v: inout Float, keep: Float) -> Float {
            let mi = b1 * m + (1 - b1) * gi, vi = b2 * v + (1 - b2) * gi * gi
            m = mi
            v = vi
            return keep * lrT * mi / (rootOf(vi) + epsT)
        }
    }

    /// One Adam update of every parameter from its current gradient, lr dropout applied.
    public func step(_ parameters: [(name: String, parameter: Parameter)]) {
        let t = Double(iterations + 1)
        let c1 = Float(1 - pow(Double(beta1), t)), c2 = Float(1 - pow(Double(beta2), t))
        update(parameters, rule: Rule(b1: beta1, b2: beta2, lrT: learningRate * c2.squareRoot() / c1,
                                      epsT: epsilon * c2.squareRoot()))
    }
}

/// Saving and loading a parameter tree plus optimizer state as one named-tensor list.
public enum Checkpoint {
    /// Parameters (by path) followed by the optimizer's state.
    public static func export(parameters: [(name: String, parameter: Parameter)],
                              optimizer: (any Optimizer)?) -> [NamedTensor] {
        parameters.map { $0.parameter.value.named($0.name) } + (optimizer?.stateTensors(for: parameters) ?? [])
    }

    /// Loads `tensors` into the parameters and optimizer. The list must hold exactly the names
    /// `export` produces with the same shapes; otherwise nothing is changed and the error names
    /// the first problem (missing, unexpected, duplicated or mis-shaped tensor).
    public static func load(_ tensors: [NamedTensor], parameters: [(name: String, parameter: Parameter)],
                            optimizer: (any Optimizer)?) throws {
        var byName: [String: NamedTensor] = [:]
        for t in tensors {
            guard byName.updateValue(t, forKey: t.name) == nil else {
                throw FacetError("checkpoint holds tensor '\(t.name)' twice")
            }
        }
        let expected: [(name: String, shape: [Int])] = parameters.map {
            (name: $0.name, shape: $0.parameter.value.shape)
        }
            + (optimizer?.stateShapes(for: parameters) ?? [])
        for e in expected {
            guard let t = byName[e.name] else {
                throw FacetError("checkpoint lacks tensor '\(e.name)' (shape \(e.shape)); "
                                 + "it was saved by a different model or optimizer")
            }
            guard t.shape == e.shape else {
                throw FacetError("tensor '\(e.name)': saved shape \(t.shape) does not match the model's \(e.shape); "
                                 + "was it saved with other model options?")
            }
            guard t.data.count == e.shape.reduce(1, *) else {
                throw FacetError("tensor '\(e.name)': \(t.data.count) values for shape \(t.shape); "
                                 + "the checkpoint is corrupt")
            }
        }
        let known = Set(expected.map(\.name))
        if let extra = tensors.first(where: { !known.contains($0.name) }) {
            throw FacetError("checkpoint holds tensor '\(extra.name)' that this model does not have; "
                             + "it was saved by a different model or optimizer")
        }
        for (name, p) in parameters { try p.value.load(byName[name]!); p.valueChanged() }
        try optimizer?.loadState(byName, for: parameters)
    }
}

/// sqrt(x) for x >= 0 (relative error below 3e-7) from the bit-level reciprocal square-root
/// estimate and three Newton steps: plain arithmetic that vectorises, unlike `squareRoot()`.
@inline(__always)
func rootOf(_ x: Float) -> Float {
    let y = x + 1e-30
    var r = Float(bitPattern: 0x5F37_5A86 &- (y.bitPattern >> 1))
    r = r * (1.5 - 0.5 * y * r * r)
    r = r * (1.5 - 0.5 * y * r * r)
    r = r * (1.5 - 0.5 * y * r * r)
    return y * r
}
