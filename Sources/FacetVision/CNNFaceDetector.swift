/// dlib's CNN face detector (`mmod_human_face_detector.dat`, the network of dlib's
/// `examples/dnn_mmod_face_detection_ex.cpp`), read strictly and run on Facet's NN engine, with dlib's own
/// input (`input_rgb_image_pyramid<pyramid_down<6>>`: the image and its 5/6 pyramid tiled into one
/// picture, means 122.782/117.001/104.298 subtracted, divided by 256) and decoding (`loss_mmod_`: every
/// output above the threshold becomes its detector window mapped back through the tiled pyramid,
/// then non-max suppression by dlib's `test_box_overlap`).
import FacetCore
import FacetNN
import Foundation

/// One detection: dlib's integer rectangle (`left...right`, `top...bottom`, inclusive) and the
/// network's score (dlib's `mmod_rect.detection_confidence`; above 0 is a detection).
public struct CNNFaceDetection: Sendable, Equatable {
    /// Leftmost column of the rectangle (inclusive).
    public var left: Int
    /// Top row (inclusive).
    public var top: Int
    /// Rightmost column (inclusive).
    public var right: Int
    /// Bottom row (inclusive).
    public var bottom: Int
    /// The network's score at the detection (dlib's `detection_confidence`).
    public var confidence: Double

    /// dlib's rectangle as a box (dlib's width is `right - left + 1`).
    public var box: FaceBox { FaceBox(x: Double(left), y: Double(top), width: Double(right - left + 1),
        height: Double(bottom - top + 1)) }
}

/// The parsed file: the loss options, the input layer's settings, and the 7 convolutions with the
/// affine layers after the first 6.
struct MMODWeights {
    struct Window: Equatable { var width: Int; var height: Int; var label: String }
    var windows: [Window] = []
    var nmsIoU = 0.0
    var nmsCovered = 0.0
    var useBoundingBoxRegression = false
    var means: [Float] = []
    var pyramidPadding = 10
    var pyramidOuterPadding = 11
    var convFilters: [[Float]] = []   // OIHW
    var convBiases: [[Float]] = []
    var affineGamma: [[Float]] = []
    var affineBeta: [[Float]] = []
}

enum MMODArchitecture {
    /// The convolutions in forward order: (in, out, kernel, stride, padding); an affine and a relu
    /// follow every one but the last.
    static let convs: [(cin: Int, cout: Int, k: Int, stride: Int, pad: Int)] = [
        (3, 16, 5, 2, 0), (16, 32, 5, 2, 0), (32, 32, 5, 2, 0),   // downsampler: con5d 16, 32, 32
        (32, 45, 5, 1, 2), (45, 45, 5, 1, 2), (45, 45, 5, 1, 2),  // rcon5 x 3
        (45, 1, 9, 1, 4),                                         // con<1,9,9,1,1>
    ]

    enum Layer { case conv(Int), affine(Int), relu }
    /// Forward order, innermost first.
    static let layers: [Layer] = {
        var l: [Layer] = []
        for i in 0..<convs.count {
            l.append(.conv(i))
            if i < convs.count - 1 { l += [.affine(i), .relu] }
        }
        return l
    }()

    static func describe(_ layer: Layer) -> String {
        switch layer {
        case let .conv(i): let c = convs[i]; return "con \(c.k)x\(c.k)/\(c.stride) \(c.cin)->\(c.cout)"
        case let .affine(i): return "affine \(convs[i].cout)"
        case .relu: return "relu"
        }
    }

    static let maxTensorElements = 1 << 26

    /// The whole file: `loss_mmod_` with its options, the add_layer headers (outermost first) down to
    /// the input pyramid, then every layer's details innermost first. Nothing may follow.
    static func parse(_ r: inout DlibReader) throws(DlibFormatProblem) -> MMODWeights {
        var w = MMODWeights()
        try r.expect("the loss layer's version", 1)
        try r.tag("the loss layer", oneOf: ["loss_mmod_"])
        let at = r.offset
        let optionsVersion = try r.int("the mmod options' version")
        guard (1...4).contains(optionsVersion) else {
            throw DlibFormatProblem(message: "the mmod options' version is \(optionsVersion) at byte \(at), "
                                             + "expected 1 to 4")
        }
        if optionsVersion == 1 {
            let width = try r.count("the detector window's width", in: 1...4096)
            let height = try r.count("the detector window's height", in: 1...4096)
            w.windows = [.init(width: width, height: height, label: "")]
        } else {
            let n = try r.count("the number of detector windows", in: 1...64)
            for i in 0..<n {
                let v = try r.count("detector window \(i)'s version", in: 1...2)
                let width = try r.count("detector window \(i)'s width", in: 1...4096)
                let height = try r.count("detector window \(i)'s height", in: 1...4096)
                let label = v == 2 ? try r.string("detector window \(i)'s label") : ""
                w.windows.append(.init(width: width, height: height, label: label))
            }
        }
        _ = try r.double("the loss per false alarm")
        _ = try r.double("the loss per missed target")
        _ = try r.double("the truth-match IoU threshold")
        w.nmsIoU = try r.double("the non-max suppression IoU threshold")
        w.nmsCovered = try r.double("the non-max suppression covered threshold")
        guard w.nmsIoU.isFinite, w.nmsCovered.isFinite else {
            throw DlibFormatProblem(message: "the non-max suppression thresholds are \(w.nmsIoU), "
                                             + "\(w.nmsCovered): not numbers")
        }
        _ = try r.double("the ignore IoU threshold")
        _ = try r.double("the ignore covered threshold")
        if optionsVersion >= 3 {
            let p = try r.count("the image-pyramid flag", in: 0...1)
            guard p == 1 else {
                throw DlibFormatProblem(message: "the detector does not assume an image pyramid, "
                                                 + "which dlib's face detector does")
            }
        }
        if optionsVersion >= 4 {
            w.useBoundingBoxRegression = try r.bool("the bounding-box regression flag")
            _ = try r.double("the bounding-box regression lambda")
            guard !w.useBoundingBoxRegression else {
                throw DlibFormatProblem(message: "the detector uses bounding-box regression, "
                                                 + "which dlib's face detector does not")
            }
        }
        guard w.windows.count == convs.last!.cout else {
            throw DlibFormatProblem(message: "the loss has \(w.windows.count) detector windows, "
                                             + "the network \(convs.last!.cout) output channel")
        }
        // Headers, outermost first, of every layer but the first conv (whose add_layer holds the input).
        var versions: [Int64] = []
        for (i, layer) in layers.reversed().dropLast().enumerated() {
            let what = "the version of layer \(i) (\(describe(layer)))"
            let at = r.offset
            let v = try r.int(what)
            guard v == 1 || v == 2 else {
                throw DlibFormatProblem(message: "\(what) is \(v) at byte \(at), expected 1 or 2")
            }
            versions.append(v)
        }
        let inputAt = r.offset
        let inputVersion = try r.int("the version of the first conv's add_layer")
        guard inputVersion == 2 || inputVersion == 3 else {
            throw DlibFormatProblem(message: "the version of the first conv's add_layer is \(inputVersion) at byte "
                                             + "\(inputAt), expected 2 or 3")
        }
        let input = try r.tag("the input layer", oneOf: ["input_rgb_image_pyramid", "input_rgb_image_pyramid2"])
        w.means = [try r.float("the red mean"), try r.float("the green mean"), try r.float("the blue mean")]
        guard w.means.allSatisfy({ $0.isFinite }) else {
            throw DlibFormatProblem(message: "the input means \(w.means) are not numbers")
        }
        if input == "input_rgb_image_pyramid2" {
            w.pyramidPadding = try r.count("the pyramid padding", in: 0...1000)
            w.pyramidOuterPadding = try r.count("the pyramid outer padding", in: 0...1000)
        }
        let innermostFirst = [inputVersion] + versions.reversed()
        for (i, layer) in layers.enumerated() {
            let name = "layer \(i) (\(describe(layer)))"
            try parseDetails(layer, name: name, into: &w, &r)
            _ = try r.bool("\(name)'s setup flag")
            _ = try r.bool("\(name)'s gradient flag")
            _ = try r.bool("\(name)'s output flag")
            try r.skipDlibTensor("\(name)'s input gradient", maxElements: maxTensorElements)
            try r.skipDlibTensor("\(name)'s cached output", maxElements: maxTensorElements)
            if i == 0 {
                try r.skipDlibTensor("\(name)'s final gradient", maxElements: maxTensorElements)
                if innermostFirst[0] == 3 { try r.expect("the sample expansion factor", 1) }
            } else if innermostFirst[i] == 2 {
                try r.skipDlibTensor("\(name)'s parameter gradient", maxElements: maxTensorElements)
            }
        }
        guard r.atEnd else {
            throw DlibFormatProblem(message: "unexpected bytes after the network at byte \(r.offset)")
        }
        return w
    }

    private static func parseDetails(_ layer: Layer, name: String, into w: inout MMODWeights,
        _ r: inout DlibReader) throws(DlibFormatProblem) {
        switch layer {
        case let .conv(i):
            let c = convs[i]
            let version = try r.tag("\(name)'s type", oneOf: ["con_4", "con_5", "con_6"])
            let filterCount = c.cout * c.cin * c.k * c.k
            let params = try r.readDlibTensor("\(name)'s parameters", expected: filterCount + c.cout,
                                              maxElements: maxTensorElements)
            for (what, value) in [("filter count", c.cout), ("rows", c.k), ("columns", c.k),
                                  ("vertical stride", c.stride),
                                  ("horizontal stride", c.stride), ("vertical padding", c.pad),
                                  ("horizontal padding", c.pad)] {
                try r.expect("\(name)'s \(what)", Int64(value))
            }
            try r.expectDlibAlias("\(name)'s filters", [c.cout, c.cin, c.k, c.k])
            try r.expectDlibAlias("\(name)'s biases", [1, c.cout, 1, 1])
            for _ in 0..<4 { _ = try r.double("\(name)'s learning-rate multipliers") }
            var useBias = true
            if version != "con_4" { useBias = try r.bool("\(name)'s bias flag") }
            if version == "con_6", try r.bool("\(name)'s fused-relu flag") {
                throw DlibFormatProblem(message: "\(name) has a fused relu, which dlib's face detector does not")
            }
            guard params.allSatisfy({ $0.isFinite }) else {
                throw DlibFormatProblem(message: "\(name)'s parameters are not all finite")
            }
            w.convFilters.append(Array(params[0..<filterCount]))
            w.convBiases.append(useBias ? Array(params[filterCount...]) : [Float](repeating: 0, count: c.cout))
        case let .affine(i):
            let n = convs[i].cout
            let version = try r.tag("\(name)'s type", oneOf: ["affine_", "affine_2", "bn_con2"])
            if version == "bn_con2" {
                // dlib's file keeps the batch norms as trained; dlib's affine_ is built from one
                // (layers.h, affine_(const bn_&)): gamma / sqrt(running variance + eps), and
                // beta - that * running mean, in float.
                let params = try r.readDlibTensor("\(name)'s parameters", expected: 2 * n,
                                                  maxElements: maxTensorElements)
                try r.expectDlibAlias("\(name)'s gamma", [1, n, 1, 1])
                try r.expectDlibAlias("\(name)'s beta", [1, n, 1, 1])
                try r.skipDlibTensor("\(name)'s batch means", maxElements: maxTensorElements)
                try r.skipDlibTensor("\(name)'s batch inverse deviations", maxElements: maxTensorElements)
                let runningMeans = try r.readDlibTensor("\(name)'s running means", expected: n,
                                                        maxElements: maxTensorElements)
                let runningVariances = try r.readDlibTensor("\(name)'s running variances", expected: n,
                                                            maxElements: maxTensorElements)
                _ = try r.int("\(name)'s update count")
                _ = try r.int("\(name)'s running-statistics window")
                for _ in 0..<4 { _ = try r.double("\(name)'s learning-rate multipliers") }
                let eps = try r.double("\(name)'s epsilon")
                var gamma = [Float](repeating: 0, count: n), beta = [Float](repeating: 0, count: n)
                for c in 0..<n {
                    gamma[c] = params[c] / (runningVariances[c] + Float(eps)).squareRoot()
                    beta[c] = params[n + c] - gamma[c] * runningMeans[c]
                }
                guard gamma.allSatisfy({ $0.isFinite }), beta.allSatisfy({ $0.isFinite }) else {
                    throw DlibFormatProblem(message: "\(name)'s batch-norm statistics give values that are not finite")
                }
                w.affineGamma.append(gamma)
                w.affineBeta.append(beta)
                return
            }
            let params = try r.readDlibTensor("\(name)'s parameters", expected: 2 * n, maxElements: maxTensorElements)
            try r.expectDlibAlias("\(name)'s gamma", [1, n, 1, 1])
            try r.expectDlibAlias("\(name)'s beta", [1, n, 1, 1])
            try r.expect("\(name)'s mode (0: per channel)", 0)
            var disabled = false
            if version == "affine_2" { disabled = try r.bool("\(name)'s disabled flag") }
            guard params.allSatisfy({ $0.isFinite }) else {
                throw DlibFormatProblem(message: "\(name)'s parameters are not all finite")
            }
            w.affineGamma.append(disabled ? [Float](repeating: 1, count: n) : Array(params[0..<n]))
            w.affineBeta.append(disabled ? [Float](repeating: 0, count: n) : Array(params[n...]))
        case .relu:
            let version = try r.tag("\(name)'s type", oneOf: ["relu_", "relu_2"])
            if version == "relu_2", try r.bool("\(name)'s disabled flag") {
                throw DlibFormatProblem(message: "\(name) is a disabled relu, which dlib's face detector does not have")
            }
        }
    }
}

extension DlibReader {
    /// A tensor's 4 dimensions (each bounded); returns them and the element count.
    mutating func dlibTensorSize(_ what: String, maxElements: Int) throws(DlibFormatProblem) -> (dims: [Int],
        count: Int) {
        var dims: [Int] = []
        var count = 1
        for d in ["samples", "channels", "rows", "columns"] {
            let v = try self.count("\(what): \(d)", in: 0...maxElements)
            dims.append(v)
            count = count.multipliedReportingOverflow(by: v).overflow ? Int.max : count * v
        }
        guard count <= maxElements else {
            throw DlibFormatProblem(message: "\(what) has \(dims) elements, more than any layer of this network")
        }
        return (dims, count)
    }

    /// A `resizable_tensor` (version 2) whose values are skipped.
    mutating func skipDlibTensor(_ what: String, maxElements: Int) throws(DlibFormatProblem) {
        try expect("\(what)'s version", 2)
        let (_, count) = try dlibTensorSize(what, maxElements: maxElements)
        guard count <= remaining / 4 else { throw truncated(what) }
        try skip(4 * count, what)
    }

    /// A `resizable_tensor` that must hold exactly `expected` floats, read.
    mutating func readDlibTensor(_ what: String, expected: Int, maxElements: Int) throws(DlibFormatProblem) -> [Float] {
        try expect("\(what)'s version", 2)
        let (dims, count) = try dlibTensorSize(what, maxElements: maxElements)
        guard count == expected else {
            throw DlibFormatProblem(message: "\(what) has \(count) values "
                                             + "(\(dims.map(String.init).joined(separator: "x"))), "
                                               + "expected \(expected)")
        }
        return try rawFloats(what, count: count)
    }

    /// An `alias_tensor` (version 1, 4 dimensions) that must be `expected`.
    mutating func expectDlibAlias(_ what: String, _ expected: [Int]) throws(DlibFormatProblem) {
        try expect("\(what)'s version", 1)
        var dims: [Int] = []
        for _ in 0..<4 { dims.append(Int(try int(what))) }
        guard dims == expected else {
            throw DlibFormatProblem(message: "\(what) is \(dims.map(String.init).joined(separator: "x")), "
                                             + "expected \(expected.map(String.init).joined(separator: "x"))")
        }
    }
}

/// dlib's tiled image pyramid for `pyramid_down<6>` (`dlib/image_transforms/image_pyramid.h`,
/// `compute_tiled_image_pyramid_details`): where each level sits in the tiled picture.
struct TiledPyramid: Equatable {
    /// One rectangle per level, dlib's inclusive coordinates.
    struct Rect: Equatable { var left: Int; var top: Int; var right: Int; var bottom: Int
        var width: Int { right - left + 1 }
        var height: Int { bottom - top + 1 }
    }
    var rects: [Rect]
    var rows: Int
    var columns: Int

    /// `find_pyramid_down_output_image_size` for pyramid_down<6>: floor(5/6 * n).
    static func down(_ n: Int) -> Int { Int((5.0 / 6.0 * Double(n)).rounded(.down)) }

    init(rows nr0: Int, columns nc0: Int, padding: Int, outerPadding: Int) {
        var sizes: [(w: Int, h: Int)] = [(nc0, nr0)]
        var nr = nr0, nc = nc0
        while true {
            nr = TiledPyramid.down(nr); nc = TiledPyramid.down(nc)
            if nr * nc == 0 || nr < 5 { break }
            sizes.append((nc, nr))
        }
        var totalHeight = 0
        for s in sizes { totalHeight += s.h + padding }
        totalHeight -= padding * 2
        var height = 0, prevWidth = 0
        for s in sizes {
            if s.w <= sizes[0].w - prevWidth - padding && (height - sizes[0].h) * 2 >= (totalHeight - sizes[0].h) {
                break
            }
            height += s.h + padding
            prevWidth = s.w
        }
        height -= padding
        let width = sizes[0].w
        rows = height + outerPadding * 2
        columns = width + outerPadding * 2
        var out: [Rect] = []
        var y = outerPadding
        var i = 0
        while y < height + outerPadding && i < sizes.count {
            out.append(Rect(left: outerPadding, top: y, right: outerPadding + sizes[i].w - 1,
                bottom: y + sizes[i].h - 1))
            y += sizes[i].h + padding
            i += 1
        }
        y -= padding
        while i < sizes.count {
            // p1 = (outer + width - 1, y - 1); the rect spans back by the level's size.
            let r = Rect(left: outerPadding + width - 1 - (sizes[i].w - 1), top: y - 1 - (sizes[i].h - 1),
                         right: outerPadding + width - 1, bottom: y - 1)
            let first = out[0]
            let intersects = max(first.left, r.left) <= min(first.right, r.right) && max(first.top,
                r.top) <= min(first.bottom, r.bottom)
            if intersects { break }
            out.append(r)
            y -= sizes[i].h + padding
            i += 1
        }
        rects = out
    }

    /// dlib's `tiled_pyramid_to_image` for a rectangle: the level whose rectangle holds (or lies
    /// nearest to) the rectangle's centre, then `point_up` (x * 6/5 + 0.3) once per level.
    func toImage(left: Double, top: Double, right: Double, bottom: Double) -> (Double, Double, Double, Double) {
        // dcenter, then dlib's conversion of a double point to an integer one: floor(v + 0.5).
        let cx = ((left + right) / 2 + 0.5).rounded(.down), cy = ((top + bottom) / 2 + 0.5).rounded(.down)
        var level = 0, best = Double.infinity
        for (i, r) in rects.enumerated() {
            if cx >= Double(r.left) && cx <= Double(r.right) && cy >= Double(r.top) && cy <= Double(r.bottom) {
                level = i
                break
            }
            let nx = min(max(cx, Double(r.left)), Double(r.right)), ny = min(max(cy, Double(r.top)), Double(r.bottom))
            let d = hypot(nx - cx, ny - cy)
            if d < best { best = d; level = i }
        }
        let ox = Double(rects[level].left), oy = Double(rects[level].top)
        var (l, t, rr, b) = (left - ox, top - oy, right - ox, bottom - oy)
        for _ in 0..<level {
            l = l * 6.0 / 5.0 + 0.3; t = t * 6.0 / 5.0 + 0.3; rr = rr * 6.0 / 5.0 + 0.3; b = b * 6.0 / 5.0 + 0.3
        }
        return (l, t, rr, b)
    }
}

/// dlib's CNN face detector (`mmod_human_face_detector.dat`) run on Facet's engine: the image pyramid, the network,
/// dlib's decoding and non-maximum suppression.
public final class CNNFaceDetector: @unchecked Sendable {
    /// The model's name, as provenance records it.
    public static let modelName = "mmod_human_face_detector"
    /// The model file read.
    public let path: String
    /// The model file's SHA-256.
    public let sha256: String
    /// The detector window (80x80 in dlib's model): faces much smaller than this are not found.
    public let windowWidth: Int
    /// The detector window's height.
    public let windowHeight: Int

    private let weights: MMODWeights
    private let network: Sequential
    private let lock = NSLock()

    /// Reads `path` (default: `ModelFiles.cnnFaceDetector()`); a damaged or different file throws one
    /// line naming it.
    public init(path: String? = nil) throws {
        let path = try path ?? ModelFiles.cnnFaceDetector()
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw FacetError.file(path,
                                  "cannot read the CNN face detector (\(error.localizedDescription)); "
                                  + "run Tools/fetch-models")
        }
        let weights: MMODWeights
        do {
            weights = try CNNFaceDetector.parse(data)
        } catch {
            throw FacetError.file(path, "not dlib's CNN face detector (mmod_human_face_detector.dat): \(error.message)")
        }
        self.path = path
        self.sha256 = SHA256.hex(of: data)
        self.weights = weights
        self.windowWidth = weights.windows[0].width
        self.windowHeight = weights.windows[0].height
        self.network = CNNFaceDetector.buildNetwork(weights)
        for (_, p) in network.namedParameters { p.freeze() }
    }

    /// The strict parse alone (the fuzz target's entry).
    static func parse(_ data: Data) throws(DlibFormatProblem) -> MMODWeights {
        let result = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Result<MMODWeights, DlibFormatProblem> in
            var reader = DlibReader(raw)
            do throws(DlibFormatProblem) {
                return .success(try MMODArchitecture.parse(&reader))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private static func buildNetwork(_ w: MMODWeights) -> Sequential {
        var layers: [(String, any Layer)] = []
        for (i, c) in MMODArchitecture.convs.enumerated() {
            let last = i == MMODArchitecture.convs.count - 1
            let conv = Conv2D(inChannels: c.cin, outChannels: c.cout, kernelSize: c.k, stride: c.stride,
                              padding: c.pad == 0 ? .valid : .same, activation: last ? .identity : .leakyReLU(0))
            let filters = w.convFilters[i], bias = w.convBiases[i]
            let gamma = last ? [Float](repeating: 1, count: c.cout) : w.affineGamma[i]
            let beta = last ? [Float](repeating: 0, count: c.cout) : w.affineBeta[i]
            let dst = conv.weight.value.data
            for o in 0..<c.cout {
                for ci in 0..<c.cin {
                    for ky in 0..<c.k {
                        for kx in 0..<c.k {
                            dst[((ky * c.k + kx) * c.cin + ci) * c.cout + o] =
                                filters[((o * c.cin + ci) * c.k + ky) * c.k + kx] * gamma[o]
                        }
                    }
                }
                conv.bias!.value[o] = bias[o] * gamma[o] + beta[o]
            }
            layers.append(("conv\(i)", conv))
        }
        return Sequential(layers)
    }

    /// dlib's input tensor for `image` (RGB or grey): the tiled pyramid, NHWC `[1, rows, columns, 3]`.
    func inputTensor(_ image: Image) -> (Tensor, TiledPyramid) {
        let pyramid = TiledPyramid(rows: image.height, columns: image.width, padding: weights.pyramidPadding,
                                   outerPadding: weights.pyramidOuterPadding)
        let nr = pyramid.rows, nc = pyramid.columns
        // Planar while building (dlib's layout), interleaved at the end.
        var planes = [Float](repeating: 0, count: 3 * nr * nc)
        let r0 = pyramid.rects[0]
        let ch = image.channels
        image.pixels.withUnsafeBufferPointer { px in
            for y in 0..<image.height {
                for x in 0..<image.width {
                    let s = (y * image.width + x) * ch
                    for k in 0..<3 {
                        let v = Float(px[s + (ch >= 3 ? k : 0)])
                        planes[k * nr * nc + (r0.top + y) * nc + r0.left + x] = (v - weights.means[k]) / 256
                    }
                }
            }
        }
        planes.withUnsafeMutableBufferPointer { p in
            for i in 1..<pyramid.rects.count {
                let s = pyramid.rects[i - 1], d = pyramid.rects[i]
                let xScale = Double(s.width - 1) / Double(max(d.width - 1, 1))
                let yScale = Double(s.height - 1) / Double(max(d.height - 1, 1))
                for k in 0..<3 {
                    let plane = p.baseAddress! + k * nr * nc
                    for r in 0..<d.height {
                        let y = Double(r) * yScale
                        let top = Int(y.rounded(.down))
                        let bottom = min(top + 1, s.height - 1)
                        let tb = Float(y - Double(top))
                        for c in 0..<d.width {
                            let x = Double(c) * xScale
                            let left = Int(x.rounded(.down))
                            let right = min(left + 1, s.width - 1)
                            let lr = Float(x - Double(left))
                            let rowT = plane + (s.top + top) * nc + s.left,
                                rowB = plane + (s.top + bottom) * nc + s.left
                            let v = (1 - tb) * ((1 - lr) * rowT[left] + lr * rowT[right])
                                + tb * ((1 - lr) * rowB[left] + lr * rowB[right])
                            plane[(d.top + r) * nc + d.left + c] = v
                        }
                    }
                }
            }
        }
        let t = Tensor(shape: [1, nr, nc, 3])
        for i in 0..<(nr * nc) {
            t.data[3 * i] = planes[i]
            t.data[3 * i + 1] = planes[nr * nc + i]
            t.data[3 * i + 2] = planes[2 * nr * nc + i]
        }
        return (t, pyramid)
    }

    /// The raw score map for `image` (`[rows, columns]` of the network's output) and the pyramid.
    func scoreMap(_ image: Image) -> (scores: [Float], rows: Int, columns: Int, pyramid: TiledPyramid) {
        let (input, pyramid) = inputTensor(image)
        lock.lock()
        defer { lock.unlock() }
        let y = network.forward(input)
        let rows = y.shape[1], columns = y.shape[2]
        return (Array(UnsafeBufferPointer(start: y.data, count: rows * columns)), rows, columns, pyramid)
    }

    /// Faces in `image`, best first, as dlib's `net(image)` returns them: scores above `threshold`
    /// (dlib: 0), non-max suppressed.
    public func detect(_ image: Image, threshold: Double = 0) -> [CNNFaceDetection] {
        guard image.width > 0, image.height > 0, image.channels >= 1 else { return [] }
        // The three unpadded 5x5 stride-2 convolutions need a tiled picture of at least 29 pixels a
        // side to give any output (dlib gives an empty one): tiny images have no face.
        let tiled = TiledPyramid(rows: image.height, columns: image.width, padding: weights.pyramidPadding,
                                 outerPadding: weights.pyramidOuterPadding)
        func outputSide(_ n: Int) -> Int {
            var x = n
            for _ in 0..<3 { guard x >= 5 else { return 0 }; x = (x - 5) / 2 + 1 }
            return x
        }
        guard outputSide(tiled.rows) >= 1, outputSide(tiled.columns) >= 1 else { return [] }
        let map = scoreMap(image)
        let window = weights.windows[0]
        var candidates: [CNNFaceDetection] = []
        for r in 0..<map.rows {
            for c in 0..<map.columns {
                let score = Double(map.scores[r * map.columns + c])
                guard score > threshold else { continue }
                // output_tensor_to_input_tensor: three stride-2 valid 5x5 convs, p -> 2p + 2 each.
                let px = Double(8 * c + 14), py = Double(8 * r + 14)
                let hw = Double(window.width - 1) / 2, hh = Double(window.height - 1) / 2
                let (l, t, rr, b) = map.pyramid.toImage(left: px - hw, top: py - hh, right: px + hw, bottom: py + hh)
                // drectangle -> rectangle: lround of each side.
                candidates.append(CNNFaceDetection(left: Int(l.rounded(.toNearestOrAwayFromZero)),
                                                   top: Int(t.rounded(.toNearestOrAwayFromZero)),
                                                   right: Int(rr.rounded(.toNearestOrAwayFromZero)),
                                                   bottom: Int(b.rounded(.toNearestOrAwayFromZero)),
                                                   confidence: score))
            }
        }
        candidates.sort { $0.confidence > $1.confidence }
        var kept: [CNNFaceDetection] = []
        for d in candidates where !kept.contains(where: { overlaps($0, d) }) { kept.append(d) }
        return kept
    }

    /// dlib's `test_box_overlap` on integer rectangles (areas count pixels, both ends included).
    private func overlaps(_ a: CNNFaceDetection, _ b: CNNFaceDetection) -> Bool {
        let il = max(a.left, b.left), it = max(a.top, b.top), ir = min(a.right, b.right), ib = min(a.bottom, b.bottom)
        guard ir >= il, ib >= it else { return false }
        let inner = Double((ir - il + 1) * (ib - it + 1))
        func area(_ l: Int, _ t: Int, _ r: Int, _ b: Int) -> Double { Double(max(0, r - l + 1) * max(0, b - t + 1)) }
        let outer = area(min(a.left, b.left), min(a.top, b.top), max(a.right, b.right), max(a.bottom, b.bottom))
        return inner / outer > weights.nmsIoU || inner / area(a.left, a.top, a.right, a.bottom) > weights.nmsCovered
            || inner / area(b.left, b.top, b.right, b.bottom) > weights.nmsCovered
    }
}
