/// A strict reader for dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`):
/// dlib's DNN serialization of exactly the network of dlib's `examples/dnn_face_recognition_ex.cpp`.
import Foundation

/// One layer of the network in forward order, as `FaceRecognizerWeights` lists them.
enum FaceNetLayer: Equatable {
    /// dlib's `con`: `filters` OIHW (`[out][in][ky][kx]`), `bias` per output, VALID padding when
    /// `stride != 1` and `kernel / 2` otherwise (dlib's default padding rule).
    case conv(inChannels: Int, outChannels: Int, kernel: Int, stride: Int)
    /// dlib's `affine` (batch norm folded at training's end): `gamma * x + beta` per channel.
    case affine(channels: Int)
    case relu
    case maxPool(window: Int, stride: Int)
    case avgPool(window: Int, stride: Int)
    /// `tag1` / `tag2`: marks the input of a residual block / the output of its body.
    case tag(Int)
    /// `skip1`: continues from the `tag1` output (the strided block's shortcut).
    case skip
    /// `add_prev1` / `add_prev2`: adds the output of that tag (zero-extended to the larger size).
    case addPrev(Int)
    case avgPoolEverything
    /// `fc_no_bias`: weights `[inputs][outputs]`.
    case fcNoBias(inputs: Int, outputs: Int)
}

/// The parsed file: the input's channel means, and every conv / affine / fc layer's values in
/// forward order.
struct FaceRecognizerWeights {
    /// dlib's `input_rgb_image_sized<150>` means, subtracted from R, G, B before dividing by 256.
    var channelMeans: [Float] = []
    /// Per conv layer, in forward order: filters OIHW, then biases.
    var convFilters: [[Float]] = []
    var convBiases: [[Float]] = []
    /// Per affine layer, in forward order (each follows a conv); `disabled` affines are stored as 1 and 0.
    var affineGamma: [[Float]] = []
    var affineBeta: [[Float]] = []
    /// `[256][128]`.
    var fcWeights: [Float] = []
    /// loss_metric's margin and distance threshold (0.04 and 0.6 in dlib's model).
    var lossMargin: Float = 0.1
    var lossDistanceThreshold: Float = 0.75
}

enum FaceRecognizerArchitecture {
    /// The chip side the network was trained on.
    static let inputSize = 150

    /// The layers of `anet_type` in forward order (innermost first), tags and skips included:
    /// a 7x7/2 conv stem with max pooling, 14 residual blocks (`ares` keeps the size, `ares_down`
    /// halves it with a strided conv whose shortcut is a 2x2 average pool), global average, fc 128.
    static let layers: [FaceNetLayer] = {
        var l: [FaceNetLayer] = [.conv(inChannels: 3, outChannels: 32, kernel: 7, stride: 2), .affine(channels: 32),
                                 .relu,
                                 .maxPool(window: 3, stride: 2)]
        func block(_ cin: Int, _ n: Int, stride: Int) -> [FaceNetLayer] {
            [.conv(inChannels: cin, outChannels: n, kernel: 3, stride: stride), .affine(channels: n), .relu,
             .conv(inChannels: n, outChannels: n, kernel: 3, stride: 1), .affine(channels: n)]
        }
        func ares(_ n: Int) { l += [.tag(1)] + block(n, n, stride: 1) + [.addPrev(1), .relu] }
        func aresDown(_ cin: Int, _ n: Int) {
            l += [.tag(1)] + block(cin, n, stride: 2) + [.tag(2), .skip, .avgPool(window: 2, stride: 2), .addPrev(2),
                                                         .relu]
        }
        for _ in 0..<3 { ares(32) }                       // alevel4
        aresDown(32, 64); for _ in 0..<3 { ares(64) }     // alevel3
        aresDown(64, 128); for _ in 0..<2 { ares(128) }   // alevel2
        aresDown(128, 256); for _ in 0..<2 { ares(256) }  // alevel1
        aresDown(256, 256)                                // alevel0
        l += [.avgPoolEverything, .fcNoBias(inputs: 256, outputs: 128)]
        return l
    }()

    /// Parses the whole file: the loss, the chain of layer headers from the outermost (fc) down to
    /// the input layer, then each layer's details from the innermost (the first conv) outwards.
    /// Nothing may follow.
    static func parse(_ r: inout DlibReader) throws(DlibFormatProblem) -> FaceRecognizerWeights {
        var weights = FaceRecognizerWeights()
        try r.expect("the loss layer's version", 1)
        let loss = try r.tag("the loss layer", oneOf: ["loss_metric_", "loss_metric_2"])
        if loss == "loss_metric_2" {
            weights.lossMargin = try r.float("the loss margin")
            weights.lossDistanceThreshold = try r.float("the loss distance threshold")
        }
        // Headers, outermost first: an add_layer writes its version then its subnetwork; a tag or
        // skip layer version 1 and its subnetwork. The innermost layer (the first conv) is the
        // add_layer over the input, read below.
        var versions: [Int64] = []   // of the add_layers above the first conv, outermost first
        for (i, layer) in layers.reversed().dropLast().enumerated() {
            let what = "the version of layer \(i) (\(describe(layer)))"
            switch layer {
            case .tag, .skip:
                try r.expect(what, 1)
            default:
                let at = r.offset
                let v = try r.int(what)
                guard v == 1 || v == 2 else {
                    throw DlibFormatProblem(message: "\(what) is \(v) at byte \(at), expected 1 or 2")
                }
                versions.append(v)
            }
        }
        let at = r.offset
        let inputVersion = try r.int("the version of the first conv's add_layer")
        guard inputVersion == 2 || inputVersion == 3 else {
            throw DlibFormatProblem(message: "the version of the first conv's add_layer is \(inputVersion) at byte "
                                             + "\(at), expected 2 or 3")
        }
        try r.tag("the input layer", oneOf: ["input_rgb_image_sized"])
        weights.channelMeans = [try r.float("the red mean"), try r.float("the green mean"),
                                try r.float("the blue mean")]
        try r.expect("the input rows", Int64(inputSize))
        try r.expect("the input columns", Int64(inputSize))

        // Details, innermost first, of the add_layers only (tags and skips have none).
        let addLayers = layers.filter {
            if case .tag = $0 { return false }
            if case .skip = $0 { return false }
            return true
        }
        let innermostFirst = [inputVersion] + versions.reversed()
        for (i, layer) in addLayers.enumerated() {
            let name = "layer \(i) (\(describe(layer)))"
            try parseDetails(layer, name: name, into: &weights, &r)
            _ = try r.bool("\(name)'s setup flag")
            _ = try r.bool("\(name)'s gradient flag")
            _ = try r.bool("\(name)'s output flag")
            try skipTensor("\(name)'s input gradient", &r)
            try skipTensor("\(name)'s cached output", &r)
            if i == 0 {
                try skipTensor("\(name)'s final gradient", &r)
                if innermostFirst[0] == 3 { try r.expect("the sample expansion factor", 1) }
            } else if innermostFirst[i] == 2 {
                try skipTensor("\(name)'s parameter gradient", &r)
            }
        }
        guard r.atEnd else {
            throw DlibFormatProblem(message: "unexpected bytes after the network at byte \(r.offset)")
        }
        return weights
    }

    static func describe(_ layer: FaceNetLayer) -> String {
        switch layer {
        case let .conv(cin, cout, k, s): return "con \(k)x\(k)/\(s) \(cin)->\(cout)"
        case let .affine(c): return "affine \(c)"
        case .relu: return "relu"
        case let .maxPool(w, s): return "max_pool \(w)x\(w)/\(s)"
        case let .avgPool(w, s): return "avg_pool \(w)x\(w)/\(s)"
        case let .tag(t): return "tag\(t)"
        case .skip: return "skip1"
        case let .addPrev(t): return "add_prev\(t)"
        case .avgPoolEverything: return "avg_pool_everything"
        case let .fcNoBias(i, o): return "fc_no_bias \(i)->\(o)"
        }
    }

    /// Largest tensor any layer state may hold (the biggest activation of a 150x150 batch of 64
    /// is about 10 million floats); a corrupt size beyond the file fails as truncated first.
    static let maxTensorElements = 1 << 28

    /// A tensor's 4 dimensions (each bounded); returns the element count.
    private static func tensorSize(_ what: String, _ r: inout DlibReader) throws(DlibFormatProblem) -> (dims: [Int],
                                                                                                        count: Int) {
        var dims: [Int] = []
        var count = 1
        for d in ["samples", "channels", "rows", "columns"] {
            let v = try r.count("\(what): \(d)", in: 0...maxTensorElements)
            dims.append(v)
            count = count.multipliedReportingOverflow(by: v).overflow ? Int.max : count * v
        }
        guard count <= maxTensorElements else {
            throw DlibFormatProblem(message: "\(what) has \(dims) elements, more than any layer of this network")
        }
        return (dims, count)
    }

    /// A `resizable_tensor` (version 2, 4 dimensions, raw float32 values) whose values are skipped.
    private static func skipTensor(_ what: String, _ r: inout DlibReader) throws(DlibFormatProblem) {
        try r.expect("\(what)'s version", 2)
        let (_, count) = try tensorSize(what, &r)
        guard count <= r.remaining / 4 else { throw r.truncated(what) }
        try r.skip(4 * count, what)
    }

    /// A `resizable_tensor` that must hold exactly `expected` floats, read.
    private static func readTensor(_ what: String, expected: Int,
                                   _ r: inout DlibReader) throws(DlibFormatProblem) -> [Float] {
        try r.expect("\(what)'s version", 2)
        let (dims, count) = try tensorSize(what, &r)
        guard count == expected else {
            throw DlibFormatProblem(message: "\(what) has \(count) values "
                                             + "(\(dims.map(String.init).joined(separator: "x"))), "
                                               + "expected \(expected)")
        }
        return try r.rawFloats(what, count: count)
    }

    /// An `alias_tensor` (version 1 and 4 dimensions) that must have the dimensions `expected`.
    private static func expectAlias(_ what: String, _ expected: [Int],
                                    _ r: inout DlibReader) throws(DlibFormatProblem) {
        try r.expect("\(what)'s version", 1)
        var dims: [Int] = []
        for _ in 0..<4 { dims.append(Int(try r.int(what))) }
        guard dims == expected else {
            throw DlibFormatProblem(message: "\(what) is \(dims.map(String.init).joined(separator: "x")), "
                                             + "expected \(expected.map(String.init).joined(separator: "x"))")
        }
    }

    /// The four learning-rate and weight-decay multipliers (doubles) every layer with parameters keeps.
    private static func skipMultipliers(_ what: String, _ r: inout DlibReader) throws(DlibFormatProblem) {
        for _ in 0..<4 { _ = try r.double("\(what)'s learning-rate multipliers") }
    }

    /// One layer's `details`: its tag, the values dlib checks against the network type, and its parameters.
    private static func parseDetails(_ layer: FaceNetLayer, name: String, into w: inout FaceRecognizerWeights,
                                     _ r: inout DlibReader) throws(DlibFormatProblem) {
        switch layer {
        case let .conv(cin, cout, k, s):
            let version = try r.tag("\(name)'s type", oneOf: ["con_4", "con_5", "con_6"])
            let filterCount = cout * cin * k * k
            let params = try readTensor("\(name)'s parameters", expected: filterCount + cout, &r)
            let pad = s == 1 ? k / 2 : 0
            for (what, value) in [("filter count", cout), ("rows", k), ("columns", k), ("vertical stride", s),
                                  ("horizontal stride", s), ("vertical padding", pad), ("horizontal padding", pad)] {
                try r.expect("\(name)'s \(what)", Int64(value))
            }
            try expectAlias("\(name)'s filters", [cout, cin, k, k], &r)
            try expectAlias("\(name)'s biases", [1, cout, 1, 1], &r)
            try skipMultipliers(name, &r)
            var useBias = true
            if version != "con_4" { useBias = try r.bool("\(name)'s bias flag") }
            if version == "con_6", try r.bool("\(name)'s fused-relu flag") {
                throw DlibFormatProblem(message: "\(name) has a fused relu, "
                                                 + "which dlib's face-recognition network does not")
            }
            w.convFilters.append(Array(params[0..<filterCount]))
            w.convBiases.append(useBias ? Array(params[filterCount...]) : [Float](repeating: 0, count: cout))
        case let .affine(c):
            let version = try r.tag("\(name)'s type", oneOf: ["affine_", "affine_2", "bn_con2"])
            guard version != "bn_con2" else {
                throw DlibFormatProblem(message: "\(name) is a batch-norm layer (a training snapshot); "
                                                 + "Facet reads the inference network, "
                                                   + "whose batch norms are affine layers")
            }
            let params = try readTensor("\(name)'s parameters", expected: 2 * c, &r)
            try expectAlias("\(name)'s gamma", [1, c, 1, 1], &r)
            try expectAlias("\(name)'s beta", [1, c, 1, 1], &r)
            try r.expect("\(name)'s mode (0: per channel)", 0)
            var disabled = false
            if version == "affine_2" { disabled = try r.bool("\(name)'s disabled flag") }
            w.affineGamma.append(disabled ? [Float](repeating: 1, count: c) : Array(params[0..<c]))
            w.affineBeta.append(disabled ? [Float](repeating: 0, count: c) : Array(params[c...]))
        case .relu:
            let version = try r.tag("\(name)'s type", oneOf: ["relu_", "relu_2"])
            if version == "relu_2", try r.bool("\(name)'s disabled flag") {
                throw DlibFormatProblem(message: "\(name) is a disabled relu, "
                                                 + "which dlib's face-recognition network does not have")
            }
        case let .maxPool(win, s), let .avgPool(win, s):
            let isMax: Bool
            if case .maxPool = layer { isMax = true } else { isMax = false }
            try r.tag("\(name)'s type", oneOf: [isMax ? "max_pool_2" : "avg_pool_2"])
            for (what, value) in [("rows", win), ("columns", win), ("vertical stride", s), ("horizontal stride", s),
                                  ("vertical padding", 0), ("horizontal padding", 0)] {
                try r.expect("\(name)'s \(what)", Int64(value))
            }
        case .avgPoolEverything:
            try r.tag("\(name)'s type", oneOf: ["avg_pool_2"])
            for (what, value) in [("rows", 0), ("columns", 0), ("vertical stride", 1), ("horizontal stride", 1),
                                  ("vertical padding", 0), ("horizontal padding", 0)] {
                try r.expect("\(name)'s \(what)", Int64(value))
            }
        case .addPrev:
            try r.tag("\(name)'s type", oneOf: ["add_prev_"])
        case let .fcNoBias(inputs, outputs):
            let version = try r.tag("\(name)'s type", oneOf: ["fc_2", "fc_3"])
            try r.expect("\(name)'s output count", Int64(outputs))
            try r.expect("\(name)'s input count", Int64(inputs))
            w.fcWeights = try readTensor("\(name)'s parameters", expected: inputs * outputs, &r)
            try expectAlias("\(name)'s weights", [inputs, outputs, 1, 1], &r)
            try expectAlias("\(name)'s biases", [0, 0, 0, 0], &r)
            try r.expect("\(name)'s bias mode (1: no bias)", 1)
            try skipMultipliers(name, &r)
            if version == "fc_3" { _ = try r.bool("\(name)'s bias flag") }
        case .tag, .skip:
            preconditionFailure("tags and skips have no details")
        }
    }
}
