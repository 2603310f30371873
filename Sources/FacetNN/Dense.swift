/// Fully connected layer: y = x W + b over the flattened per-sample features.
import COpenBLAS

/// `y[N, cout] = x[N, cin] * W[cin, cout] + b`; any input whose samples hold `cin` elements is
/// accepted (it is read as flattened). Cost: 2 * N * cin * cout flops per pass (sgemm).
public final class Dense: Layer {
    /// Input features per sample (`cin`).
    public let inFeatures: Int
    /// Output features per sample (`cout`).
    public let outFeatures: Int
    /// The nonlinearity applied to the output in the same pass.
    public let activation: Activation
    /// `[cin, cout]`.
    public let weight: Parameter
    /// `[cout]`.
    public let bias: Parameter
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let preGradient = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])

    /// A layer of the given sizes; its parameters start at zero (see `initialize(using:)`).
    public init(inFeatures: Int, outFeatures: Int, activation: Activation = .identity) {
        precondition(inFeatures > 0 && outFeatures > 0, "Dense: bad sizes \(inFeatures) -> \(outFeatures)")
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.activation = activation
        weight = Parameter(shape: [inFeatures, outFeatures])
        bias = Parameter(shape: [outFeatures])
    }

    /// Glorot-uniform weights, zero bias.
    public func initialize(using generator: inout SeededGenerator) {
        weight.value.fillGlorotUniform(fanIn: inFeatures, fanOut: outFeatures, using: &generator)
        bias.value.fill(0)
    }

    /// `activation(x W + b)`, `[N, cout]`, owned by the layer until its next `forward`.
    public func forward(_ x: Tensor) -> Tensor {
        precondition(x.shape.count >= 2 && x.perSample == inFeatures,
                     "Dense(\(inFeatures)->\(outFeatures)): input shape \(x.shape) does not hold \(inFeatures) "
                     + "features per sample")
        input = x
        let n = x.batch
        output.resize(to: [n, outFeatures])
        gemm(CblasNoTrans, CblasNoTrans, Int32(n), Int32(outFeatures), Int32(inFeatures),
                    1, x.data, Int32(inFeatures), weight.value.data, Int32(outFeatures), 0, output.data,
                    Int32(outFeatures))
        addBiasActivate(output.data, rows: n, channels: outFeatures, bias: bias.value.data, activation)
        return output
    }

    /// dLoss/dInput (in the input's shape) from `dy` of the latest `forward`; sets the gradients of `weight` and
    /// `bias`.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Dense.backward called before forward") }
        output.expectSameShape(dy, "Dense(\(inFeatures)->\(outFeatures)).backward gradient")
        let n = Int32(x.batch), ci = Int32(inFeatures), co = Int32(outFeatures)
        preGradient.resize(to: dy.shape)
        activation.backward(dy: dy.data, y: output.data, out: preGradient.data, dy.count)
        columnSums(preGradient.data, rows: x.batch, channels: outFeatures, into: bias.gradient.data)
        gemm(CblasTrans, CblasNoTrans, ci, co, n, 1, x.data, ci, preGradient.data, co, 0, weight.gradient.data, co)
        inputGradient.resize(to: x.shape)
        gemm(CblasNoTrans, CblasTrans, n, ci, co, 1, preGradient.data, co, weight.value.data, co, 0, inputGradient.data,
             ci)
        return inputGradient
    }

    /// `weight` and `bias`.
    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }
}
