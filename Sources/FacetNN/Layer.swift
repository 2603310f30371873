/// The layer protocol, parameters, and the composite layers that make models trees of named layers.
import Foundation

/// A trainable tensor and the gradient of the loss with respect to it.
public final class Parameter: @unchecked Sendable {
    /// The current values, updated by the optimizer.
    public let value: Tensor
    /// Set by the owning layer's `backward` (overwritten, not accumulated).
    public let gradient: Tensor
    /// A parameter of `shape`, value and gradient zero.
    public init(shape: [Int]) {
        value = Tensor(shape: shape)
        gradient = Tensor(shape: shape)
    }

    /// Non-nil while the value is frozen for inference (`freeze()`): layers may then keep forms
    /// derived from it (Conv2D's Winograd-domain kernel) for as long as the token is the same.
    /// Nil (the default, and always in training) makes every layer derive them again per call.
    public private(set) var frozenToken: UInt64?

    /// Promises that `value` stays as it is until `thaw()` or `valueChanged()`: layers may cache
    /// what they derive from it. A new token each call, so freezing again drops those caches.
    public func freeze() { frozenToken = Parameter.nextToken() }

    /// Back to deriving everything from `value` on every call (training's behaviour).
    public func thaw() { frozenToken = nil }

    /// Says that `value` was written (an optimizer step, a checkpoint load): a frozen parameter
    /// takes a new token, so that no layer keeps a form derived from the old value.
    public func valueChanged() { if frozenToken != nil { freeze() } }

    private static let tokens = TokenCounter()
    private static func nextToken() -> UInt64 { tokens.next() }
}

/// A differentiable function of one tensor.
///
/// Contract: `forward` returns a tensor the layer owns, valid until its next `forward`; the layer
/// keeps a reference to its input (which must stay unchanged) for `backward`. `backward(dy)` takes
/// dLoss/dOutput of the latest forward, *sets* the gradients of the layer's parameters (a layer runs
/// once per step; Quick96 runs its shared encoder once on the src and dst batches stacked), and
/// returns dLoss/dInput, also owned by the layer.
public protocol Layer: AnyObject {
    func forward(_ x: Tensor) -> Tensor
    func backward(_ dy: Tensor) -> Tensor
    /// The parameters of this layer and its sublayers, with dotted paths relative to this layer
    /// (`down1.weight`), in a fixed order.
    var namedParameters: [(name: String, parameter: Parameter)] { get }
}

extension Layer {
    /// None: a layer without parameters need not declare them.
    public var namedParameters: [(name: String, parameter: Parameter)] { [] }
    /// `forward(x)`, so a layer reads as the function it is.
    public func callAsFunction(_ x: Tensor) -> Tensor { forward(x) }
}

/// An element-wise nonlinearity that a layer can apply to its own output in the same pass
/// (fusing saves one read and write of the activation per layer).
public enum Activation: Sendable, Equatable {
    case identity
    /// x for x > 0, slope * x otherwise (slope in (0, 1)).
    case leakyReLU(Float)
    case sigmoid

    /// Applies the activation in place to `count` values.
    func apply(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
        switch self {
        case .identity: return
        case .leakyReLU(let a):
            parallelRanges(count) { r in
                for i in r { let v = p[i]; p[i] = v > 0 ? v : v * a }
            }
        case .sigmoid:
            parallelRanges(count, grain: 4096) { r in
                for i in r { p[i] = 1 / (1 + expf(-p[i])) }
            }
        }
    }

    /// out = dy * f'(pre), expressed through the output y = f(pre) (for leaky ReLU, y > 0 exactly
    /// when pre > 0). `out` may alias `dy`.
    func backward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, _ count: Int) {
        switch self {
        case .identity:
            if UnsafePointer(out) != dy { out.update(from: dy, count: count) }
        case .leakyReLU(let a):
            parallelRanges(count) { r in
                for i in r { out[i] = y[i] > 0 ? dy[i] : dy[i] * a }
            }
        case .sigmoid:
            parallelRanges(count) { r in
                for i in r { out[i] = dy[i] * y[i] * (1 - y[i]) }
            }
        }
    }
}

/// Layers run one after another; a parameter's path is `childName.parameterPath`.
public final class Sequential: Layer {
    /// The children in the order they run, with their names (the first part of their parameters' paths).
    public let layers: [(name: String, layer: any Layer)]

    /// Layers that run in the given order, each with its name.
    public init(_ layers: [(String, any Layer)]) {
        self.layers = layers.map { (name: $0.0, layer: $0.1) }
    }

    /// `x` through every layer in order.
    public func forward(_ x: Tensor) -> Tensor {
        var h = x
        for l in layers { h = l.layer.forward(h) }
        return h
    }

    /// `dy` back through every layer in reverse order, setting their parameters' gradients.
    public func backward(_ dy: Tensor) -> Tensor {
        var g = dy
        for l in layers.reversed() { g = l.layer.backward(g) }
        return g
    }

    /// Every child's parameters, prefixed with the child's name, in layer order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        layers.flatMap { l in l.layer.namedParameters.map { (name: "\(l.name).\($0.name)", parameter: $0.parameter) } }
    }

    /// The child called `name`.
    public subscript(name: String) -> (any Layer)? { layers.first { $0.name == name }?.layer }
}

/// `activation(x + body(x))`: the residual add. Parameter paths are the body's, unprefixed.
public final class Residual: Layer {
    /// The residual branch.
    public let body: any Layer
    /// The nonlinearity applied after the add.
    public let activation: Activation
    private let output = Tensor(shape: [0])
    private let sumGradient = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])

    /// `activation(x + body(x))`.
    public init(_ body: any Layer, activation: Activation = .identity) {
        self.body = body
        self.activation = activation
    }

    /// `activation(x + body(x))` (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        let y = body.forward(x)
        x.expectSameShape(y, "Residual: the body's output")
        output.resize(to: x.shape)
        let o = output.data, a = x.data, b = y.data
        parallelRanges(x.count) { r in for i in r { o[i] = a[i] + b[i] } }
        activation.apply(o, x.count)
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward`: through the activation, then the body's gradient plus the
    /// identity's; sets the body's parameters' gradients.
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "Residual.backward: the gradient")
        sumGradient.resize(to: dy.shape)
        activation.backward(dy: dy.data, y: output.data, out: sumGradient.data, dy.count)
        let db = body.backward(sumGradient)
        inputGradient.resize(to: dy.shape)
        let o = inputGradient.data, a = sumGradient.data, b = db.data
        parallelRanges(dy.count) { r in for i in r { o[i] = a[i] + b[i] } }
        return inputGradient
    }

    /// The body's parameters, unprefixed.
    public var namedParameters: [(name: String, parameter: Parameter)] { body.namedParameters }
}

/// `activation(pad(body(x)) + pad(shortcut(x)))`, each branch's NHWC output zero-extended at the
/// bottom, right and last channels to the larger height, width and channel count of the two: dlib's
/// `add_prev` (`tt::add` of tensors of different sizes), which its ResNets use where a strided block
/// meets its pooled shortcut. A nil shortcut is the identity. Parameter paths: `body.*`, `shortcut.*`.
public final class PaddedResidual: Layer {
    /// The main branch.
    public let body: any Layer
    /// The branch added to it (nil: the input itself).
    public let shortcut: (any Layer)?
    /// The nonlinearity applied after the add.
    public let activation: Activation
    private let output = Tensor(shape: [0])
    private let sumGradient = Tensor(shape: [0])
    private let branchGradient = Tensor(shape: [0])
    private let shortcutGradient = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    private var bodyShape: [Int] = []
    private var shortcutShape: [Int] = []

    /// `activation(pad(body(x)) + pad(shortcut(x)))`, a nil shortcut being the identity.
    public init(body: any Layer, shortcut: (any Layer)?, activation: Activation = .identity) {
        self.body = body
        self.shortcut = shortcut
        self.activation = activation
    }

    /// Adds `src` (NHWC `shape`) into the top-left corner of `dst` (NHWC `outShape`, at least as large).
    private static func addInto(_ dst: UnsafeMutablePointer<Float>, _ outShape: [Int], _ src: UnsafePointer<Float>,
                                _ shape: [Int]) {
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (oh, ow, oc) = (outShape[1], outShape[2], outShape[3])
        parallelRanges(n * h, grain: max(1, 8192 / max(1, w * c))) { rows in
            for row in rows {
                let b = row / h, y = row % h
                for x in 0..<w {
                    let d = dst + ((b * oh + y) * ow + x) * oc, s = src + ((b * h + y) * w + x) * c
                    for ch in 0..<c { d[ch] += s[ch] }
                }
            }
        }
    }

    /// The top-left `shape` corner of `src` (NHWC `fullShape`) into `dst`.
    private static func crop(_ src: UnsafePointer<Float>, _ fullShape: [Int], to dst: UnsafeMutablePointer<Float>,
                             _ shape: [Int]) {
        let (n, h, w, c) = (shape[0], shape[1], shape[2], shape[3])
        let (fh, fw, fc) = (fullShape[1], fullShape[2], fullShape[3])
        parallelRanges(n * h, grain: max(1, 8192 / max(1, w * c))) { rows in
            for row in rows {
                let b = row / h, y = row % h
                for x in 0..<w {
                    (dst + ((b * h + y) * w + x) * c).update(from: src + ((b * fh + y) * fw + x) * fc, count: c)
                }
            }
        }
    }

    /// Both branches on `x`, zero-extended to the larger shape, added, then the activation.
    public func forward(_ x: Tensor) -> Tensor {
        let a = body.forward(x)
        let b = shortcut?.forward(x) ?? x
        a.expectNHWC("PaddedResidual: the body's output")
        b.expectNHWC("PaddedResidual: the shortcut's output")
        precondition(a.shape[0] == b.shape[0], "PaddedResidual: batch sizes \(a.shape[0]) and \(b.shape[0]) differ")
        bodyShape = a.shape
        shortcutShape = b.shape
        let shape = zip(a.shape, b.shape).map { max($0, $1) }
        output.resize(to: shape)
        if a.shape == shape {
            output.data.update(from: a.data, count: a.count)
        } else {
            output.fill(0)
            PaddedResidual.addInto(output.data, shape, a.data, a.shape)
        }
        PaddedResidual.addInto(output.data, shape, b.data, b.shape)
        activation.apply(output.data, output.count)
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward`: the activation's gradient cropped to each branch's
    /// shape and back through it, summed; sets both branches' parameters' gradients.
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "PaddedResidual.backward gradient")
        sumGradient.resize(to: dy.shape)
        activation.backward(dy: dy.data, y: output.data, out: sumGradient.data, dy.count)
        let g: Tensor
        if bodyShape == dy.shape {
            g = sumGradient
        } else {
            branchGradient.resize(to: bodyShape)
            PaddedResidual.crop(sumGradient.data, dy.shape, to: branchGradient.data, bodyShape)
            g = branchGradient
        }
        let dxBody = body.backward(g)
        inputGradient.copy(from: dxBody)
        shortcutGradient.resize(to: shortcutShape)
        PaddedResidual.crop(sumGradient.data, dy.shape, to: shortcutGradient.data, shortcutShape)
        let dxShortcut = shortcut?.backward(shortcutGradient) ?? shortcutGradient
        inputGradient.expectSameShape(dxShortcut, "PaddedResidual: the shortcut's input gradient")
        let o = inputGradient.data, s = dxShortcut.data
        parallelRanges(inputGradient.count) { r in for i in r { o[i] += s[i] } }
        return inputGradient
    }

    /// The body's parameters under `body.`, then the shortcut's under `shortcut.`.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        body.namedParameters.map { (name: "body.\($0.name)", parameter: $0.parameter) }
            + (shortcut?.namedParameters.map { (name: "shortcut.\($0.name)", parameter: $0.parameter) } ?? [])
    }
}

/// Runs every branch on the same input and concatenates their NHWC outputs on channels, in
/// branch order. A parameter's path is `branchName.parameterPath`.
public final class ConcatChannels: Layer {
    /// The branches in output order, with their names (the first part of their parameters' paths).
    public let branches: [(name: String, layer: any Layer)]
    private let output = Tensor(shape: [0])
    private var branchGradients: [Tensor] = []
    private var branchChannels: [Int] = []
    private let inputGradient = Tensor(shape: [0])

    /// Branches that run on the same input, concatenated in the given order.
    public init(_ branches: [(String, any Layer)]) {
        precondition(!branches.isEmpty, "ConcatChannels: needs at least one branch")
        self.branches = branches.map { (name: $0.0, layer: $0.1) }
        branchGradients = branches.map { _ in Tensor(shape: [0]) }
    }

    /// Every branch's output on `x`, concatenated on channels (owned by the layer until its next `forward`).
    public func forward(_ x: Tensor) -> Tensor {
        let outs = branches.map { $0.layer.forward(x) }
        let (n, h, w, _) = outs[0].expectNHWC("ConcatChannels: branch '\(branches[0].name)'")
        for (i, o) in outs.enumerated() {
            o.expectNHWC(height: h, width: w, "ConcatChannels: branch '\(branches[i].name)'")
        }
        branchChannels = outs.map { $0.shape[3] }
        let total = branchChannels.reduce(0, +)
        output.resize(to: [n, h, w, total])
        let dst = output.data
        var offset = 0
        for (b, o) in outs.enumerated() {
            let c = branchChannels[b], src = o.data, off = offset
            parallelRanges(n * h * w, grain: 2048) { r in
                for p in r { (dst + p * total + off).update(from: src + p * c, count: c) }
            }
            offset += c
        }
        return output
    }

    /// dLoss/dInput from `dy` of the latest `forward`: each branch's channel slice back through it, summed;
    /// sets every branch's parameters' gradients.
    public func backward(_ dy: Tensor) -> Tensor {
        output.expectSameShape(dy, "ConcatChannels.backward: the gradient")
        let (n, h, w, total) = (dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3])
        var offset = 0
        for (b, branch) in branches.enumerated() {
            let c = branchChannels[b], g = branchGradients[b], off = offset
            g.resize(to: [n, h, w, c])
            let src = dy.data, dst = g.data
            parallelRanges(n * h * w, grain: 2048) { r in
                for p in r { (dst + p * c).update(from: src + p * total + off, count: c) }
            }
            offset += c
            let dx = branch.layer.backward(g)
            if b == 0 {
                inputGradient.copy(from: dx)
            } else {
                inputGradient.expectSameShape(dx, "ConcatChannels: input gradient of '\(branch.name)'")
                let o = inputGradient.data, s = dx.data
                parallelRanges(dx.count) { r in for i in r { o[i] += s[i] } }
            }
        }
        return inputGradient
    }

    /// Every branch's parameters, prefixed with the branch's name, in branch order.
    public var namedParameters: [(name: String, parameter: Parameter)] {
        branches.flatMap {
            b in b.layer.namedParameters.map { (name: "\(b.name).\($0.name)", parameter: $0.parameter) }
        }
    }
}

/// Hands out increasing numbers to any thread (the frozen-parameter tokens).
final class TokenCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var last: UInt64 = 0
    /// The next number, one more than the last handed out.
    func next() -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        last += 1
        return last
    }
}
