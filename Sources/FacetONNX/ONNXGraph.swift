/// Facet's networks as ONNX graphs: every layer mapped to standard ONNX operators (opset 12), the
/// weights stored as float32 initializers, written with the code swift-protobuf generated from
/// ONNX's own `onnx.proto` (`onnx.pb.swift`; Tools/gen-onnx-proto makes it again).
import Foundation
import FacetCore
import FacetNN
import SwiftProtobuf

/// The ONNX operator set the graphs use (the one DeepFaceLab's own `.dfm` export names, so that
/// DeepFaceLive's onnxruntime loads them), and the IR version that goes with it.
public enum ONNXVersions {
    /// `ai.onnx` opset 12.
    public static let opset: Int64 = 12
    /// IR version 7 (the IR of opset 12).
    public static let irVersion: Int64 = 7
}

/// The shape of one value inside the graph, batch left out: a feature map held NCHW (ONNX's
/// convolution layout) or a flat feature vector.
enum ValueShape: Equatable {
    case map(channels: Int, height: Int, width: Int)
    case flat(Int)
}

/// A named value of the graph and its per-sample shape.
struct GraphValue {
    var name: String
    var shape: ValueShape
}

/// Builds one ONNX graph: nodes in order, float32 initializers, unique names.
struct GraphBuilder {
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private var used: Set<String> = []

    /// A fresh value name from `hint`.
    mutating func fresh(_ hint: String) -> String {
        var name = hint, k = 1
        while used.contains(name) { k += 1; name = "\(hint)_\(k)" }
        used.insert(name)
        return name
    }

    /// Appends `op` on `inputs`; returns its one output's name (`output` when given, else fresh).
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto] = [], hint: String,
                       output: String? = nil) -> String {
        let out = output ?? fresh(hint)
        if output != nil { used.insert(out) }
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = fresh("\(hint)/\(op)")
        n.input = inputs
        n.output = [out]
        n.attribute = attributes
        nodes.append(n)
        return out
    }

    /// Appends `op` on `inputs` with `count` outputs (e.g. `Split`); returns their fresh names from `hint`.
    mutating func node(_ op: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto] = [], hint: String,
                       outputs count: Int) -> [String] {
        let outs = (0..<count).map { fresh("\(hint)_\($0)") }
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = fresh("\(hint)/\(op)")
        n.input = inputs
        n.output = outs
        n.attribute = attributes
        nodes.append(n)
        return outs
    }

    /// A float32 initializer (`raw_data`, little-endian).
    mutating func floats(_ hint: String, shape: [Int], _ values: [Float]) -> String {
        precondition(shape.reduce(1, *) == values.count,
                     "GraphBuilder.floats(\(hint)): \(values.count) values for shape \(shape)")
        var t = Onnx_TensorProto()
        t.name = fresh(hint)
        t.dims = shape.map(Int64.init)
        t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        var bytes = Data(count: values.count * 4)
        bytes.withUnsafeMutableBytes { raw in
            let p = raw.bindMemory(to: UInt32.self)
            for (i, v) in values.enumerated() { p[i] = v.bitPattern.littleEndian }
        }
        t.rawData = bytes
        initializers.append(t)
        return t.name
    }

    /// An int64 initializer (shapes for `Reshape`, indices for `Gather`).
    mutating func int64s(_ hint: String, _ values: [Int64]) -> String {
        var t = Onnx_TensorProto()
        t.name = fresh(hint)
        t.dims = [Int64(values.count)]
        t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        t.int64Data = values
        initializers.append(t)
        return t.name
    }
}

/// Attribute constructors.
enum Attr {
    static func int(_ name: String, _ v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(v); return a
    }
    static func float(_ name: String, _ v: Float) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = v; return a
    }
    static func ints(_ name: String, _ v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = v.map(Int64.init); return a
    }
    static func string(_ name: String, _ v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(v.utf8); return a
    }
}

/// Turns Facet layers into ONNX nodes. Feature maps travel NCHW inside the graph; where Facet
/// flattens or reshapes (its tensors are NHWC) the graph transposes to NHWC first, so the feature
/// order every dense layer sees is Facet's.
struct LayerLowering {
    var g = GraphBuilder()

    /// `value` through `layer`; throws for a layer with no ONNX form here.
    mutating func lower(_ layer: any Layer, _ x: GraphValue, path: String) throws -> GraphValue {
        switch layer {
        case let s as Sequential:
            var h = x
            for (name, l) in s.layers { h = try lower(l, h, path: path.isEmpty ? name : "\(path).\(name)") }
            return h
        case let c as Conv2D:
            return try conv(x, weight: c.weight.value, bias: c.bias?.value, k: c.kernelSize, stride: c.stride,
                            padding: c.padding, cout: c.outChannels, activation: c.activation, path: path)
        case let c as NarrowConv2D:
            return try conv(x, weight: c.weight.value, bias: c.bias.value, k: c.kernelSize, stride: 1, padding: .same,
                            cout: c.outChannels, activation: c.activation, path: path)
        case let u as Upscale:
            let h = try lower(u.conv, x, path: path + ".conv")
            return try depthToSpace(h, block: 2, path: path)
        case let d as DepthToSpace:
            return try depthToSpace(x, block: d.blockSize, path: path)
        case let r as Residual:
            let body = try lower(r.body, x, path: path)
            guard body.shape == x.shape else {
                throw FacetError("ONNX export: \(path): the residual body changes the shape")
            }
            let sum = g.node("Add", [x.name, body.name], hint: path + "/add")
            return activation(GraphValue(name: sum, shape: x.shape), r.activation, path: path)
        case let p as ParallelConvs:
            return try concat(p.branches.map { ($0.name, $0.conv as any Layer) }, x, path: path)
        case let c as ConcatChannels:
            return try concat(c.branches.map { ($0.name, $0.layer) }, x, path: path)
        case is Sigmoid:
            return activation(x, .sigmoid, path: path)
        case let l as LeakyReLU:
            return activation(x, .leakyReLU(l.slope), path: path)
        case let r as Reshape:
            return try reshape(x, to: r.sampleShape, path: path)
        case let n as PixelNorm:
            return pixelNorm(x, epsilon: n.epsilon, path: path)
        case let d as Dense:
            return try dense(d, x, path: path)
        default:
            throw FacetError("ONNX export: \(path) is a \(type(of: layer)), which has no ONNX form in Facet yet")
        }
    }

    mutating func activation(_ x: GraphValue, _ a: Activation, path: String) -> GraphValue {
        switch a {
        case .identity: return x
        case .sigmoid: return GraphValue(name: g.node("Sigmoid", [x.name], hint: path + "/sigmoid"), shape: x.shape)
        case .leakyReLU(let s):
            return GraphValue(name: g.node("LeakyRelu", [x.name], [Attr.float("alpha", s)], hint: path + "/lrelu"),
                              shape: x.shape)
        }
    }

    mutating func conv(_ x: GraphValue, weight: Tensor, bias: Tensor?, k: Int, stride: Int, padding: ConvPadding,
                       cout: Int, activation a: Activation, path: String) throws -> GraphValue {
        guard case .map(let cin, let h, let w) = x.shape else {
            throw FacetError("ONNX export: \(path): a convolution needs a feature map")
        }
        guard weight.shape == [k, k, cin, cout] else {
            throw FacetError("ONNX export: \(path): kernel \(weight.shape) does not fit \(cin) input channels")
        }
        // Facet's kernel [k, k, cin, cout] -> ONNX's [cout, cin, k, k].
        var kernel = [Float](repeating: 0, count: weight.count)
        let src = weight.data
        for ky in 0..<k { for kx in 0..<k { for ci in 0..<cin { for co in 0..<cout {
            kernel[((co * cin + ci) * k + ky) * k + kx] = src[((ky * k + kx) * cin + ci) * cout + co]
        } } } }
        var inputs = [x.name, g.floats(path + ".weight", shape: [cout, cin, k, k], kernel)]
        if let bias { inputs.append(g.floats(path + ".bias", shape: [cout], bias.values)) }
        let py = padding.axis(input: h, kernel: k, stride: stride),
            px = padding.axis(input: w, kernel: k, stride: stride)
        let y = g.node("Conv", inputs, [
            Attr.ints("kernel_shape", [k, k]), Attr.ints("strides", [stride, stride]),
            Attr.ints("pads", [py.before, px.before, py.after, px.after]), Attr.ints("dilations", [1, 1]),
            Attr.int("group", 1),
        ], hint: path)
        return activation(GraphValue(name: y, shape: .map(channels: cout, height: py.output, width: px.output)), a,
                          path: path)
    }

    /// Facet's (TensorFlow's) depth-to-space: out[y*b+i, x*b+j, c] = in[y, x, (i*b+j)*C + c], which is
    /// ONNX's `DepthToSpace` in its DCR mode (depth, column, row), not CRD.
    mutating func depthToSpace(_ x: GraphValue, block b: Int, path: String) throws -> GraphValue {
        guard case .map(let c, let h, let w) = x.shape, c % (b * b) == 0 else {
            throw FacetError("ONNX export: \(path): depth-to-space needs a feature map with a multiple of "
                             + "\(b * b) channels")
        }
        let y = g.node("DepthToSpace", [x.name], [Attr.int("blocksize", b), Attr.string("mode", "DCR")],
                       hint: path + "/d2s")
        return GraphValue(name: y, shape: .map(channels: c / (b * b), height: h * b, width: w * b))
    }

    mutating func concat(_ branches: [(String, any Layer)], _ x: GraphValue, path: String) throws -> GraphValue {
        var outs: [GraphValue] = []
        for (name, l) in branches { outs.append(try lower(l, x, path: "\(path).\(name)")) }
        return try concatenate(outs, axis: 1, path: path)
    }

    /// Values joined on `axis`: 1 (channels of feature maps of one size) or 0 (the batch, values of one shape).
    mutating func concatenate(_ values: [GraphValue], axis: Int, path: String) throws -> GraphValue {
        let shape: ValueShape
        switch axis {
        case 0:
            guard values.allSatisfy({ $0.shape == values[0].shape }) else {
                throw FacetError("ONNX export: \(path): values stacked on the batch differ in shape")
            }
            shape = values[0].shape
        case 1:
            guard case .map(_, let h, let w) = values[0].shape else {
                throw FacetError("ONNX export: \(path): a channel concatenation needs feature maps")
            }
            var total = 0
            for v in values {
                guard case .map(let c, h, w) = v.shape else {
                    throw FacetError("ONNX export: \(path): feature maps of different sizes")
                }
                total += c
            }
            shape = .map(channels: total, height: h, width: w)
        default:
            throw FacetError("ONNX export: \(path): no concatenation on axis \(axis)")
        }
        let y = g.node("Concat", values.map(\.name), [Attr.int("axis", axis)], hint: path + "/concat")
        return GraphValue(name: y, shape: shape)
    }

    /// Facet's flat order is NHWC's: a feature map goes to NHWC before it is flattened.
    mutating func flatten(_ x: GraphValue, path: String) -> GraphValue {
        switch x.shape {
        case .flat: return x
        case .map(let c, let h, let w):
            let t = g.node("Transpose", [x.name], [Attr.ints("perm", [0, 2, 3, 1])], hint: path + "/to_nhwc")
            let f = g.node("Reshape", [t, g.int64s(path + ".flat_shape", [-1, Int64(c * h * w)])],
                           hint: path + "/flatten")
            return GraphValue(name: f, shape: .flat(c * h * w))
        }
    }

    mutating func reshape(_ x: GraphValue, to sample: [Int], path: String) throws -> GraphValue {
        let flat = flatten(x, path: path)
        guard case .flat(let n) = flat.shape, sample.reduce(1, *) == n else {
            throw FacetError("ONNX export: \(path): cannot reshape \(x.shape) to \(sample)")
        }
        switch sample.count {
        case 1: return flat
        case 3:
            // Facet's [H, W, C] sample, back to NCHW for the convolutions that follow.
            let r = g.node("Reshape", [flat.name, g.int64s(path + ".shape", [-1] + sample.map(Int64.init))],
                           hint: path + "/reshape")
            let t = g.node("Transpose", [r], [Attr.ints("perm", [0, 3, 1, 2])], hint: path + "/to_nchw")
            return GraphValue(name: t, shape: .map(channels: sample[2], height: sample[0], width: sample[1]))
        default:
            throw FacetError("ONNX export: \(path): a reshape to \(sample) has no ONNX form in Facet yet")
        }
    }

    /// x / sqrt(mean(x^2 over features) + eps): over the flat vector, or a map's channels (axis 1
    /// either way, as Facet normalises its last, channel axis).
    mutating func pixelNorm(_ x: GraphValue, epsilon: Float, path: String) -> GraphValue {
        let sq = g.node("Mul", [x.name, x.name], hint: path + "/square")
        let mean = g.node("ReduceMean", [sq], [Attr.ints("axes", [1]), Attr.int("keepdims", 1)], hint: path + "/mean")
        let plus = g.node("Add", [mean, g.floats(path + ".epsilon", shape: [], [epsilon])], hint: path + "/plus_eps")
        let root = g.node("Sqrt", [plus], hint: path + "/sqrt")
        return GraphValue(name: g.node("Div", [x.name, root], hint: path + "/norm"), shape: x.shape)
    }

    mutating func dense(_ d: Dense, _ x: GraphValue, path: String) throws -> GraphValue {
        let flat = flatten(x, path: path)
        guard case .flat(let n) = flat.shape, n == d.inFeatures else {
            throw FacetError("ONNX export: \(path): \(x.shape) does not hold \(d.inFeatures) features")
        }
        let w = g.floats(path + ".weight", shape: [d.inFeatures, d.outFeatures], d.weight.value.values)
        let b = g.floats(path + ".bias", shape: [d.outFeatures], d.bias.value.values)
        let y = g.node("Gemm", [flat.name, w, b], [Attr.float("alpha", 1), Attr.float("beta", 1)], hint: path)
        return activation(GraphValue(name: y, shape: .flat(d.outFeatures)), d.activation, path: path)
    }
}
