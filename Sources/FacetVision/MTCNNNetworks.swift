/// MTCNN's three networks (P-Net, R-Net, O-Net): their layers, weights and per-call buffers.
import FacetCore

/// Floats enough for a few hundred KB of im2col rows: a chunk that stays in L2 while sgemm reads it.
private let im2colChunkFloats = 1 << 16

/// Loads a conv (or dense, as 1x1) layer `net.name` and its PReLU `net.prelu`, checking shapes.
private func loadLayer(_ file: SafeTensorsFile, _ net: String, _ name: String, prelu: String?,
                       kh: Int, kw: Int, cin: Int, cout: Int, dense: Bool = false) throws -> ConvLayer {
    let shape = dense ? [cin, cout] : [kh, kw, cin, cout]
    let weight = try file.floats("\(net).\(name).weight", shape: shape)
    let bias = try file.floats("\(net).\(name).bias", shape: [cout])
    let alpha = try prelu.map { try file.floats("\(net).\($0).alpha", shape: [cout]) }
    return ConvLayer(kh: kh, kw: kw, cin: cin, cout: cout, weight: WeightBuffer(weight),
                     bias: WeightBuffer(bias), alpha: alpha.map(WeightBuffer.init))
}

/// The output heads (face/not-face logits, box regression, and for O-Net the points) as one layer,
/// so a single sgemm computes them all: columns are cls (2), box (4), then pts (10).
private func loadHeads(_ file: SafeTensorsFile, _ net: String, cin: Int, heads: [(String, Int)], conv: Bool) throws -> ConvLayer {
    let total = heads.reduce(0) { $0 + $1.1 }
    var weight = [Float](repeating: 0, count: cin * total)
    var bias: [Float] = []
    var column = 0
    for (name, count) in heads {
        let w = try file.floats("\(net).\(name).weight", shape: conv ? [1, 1, cin, count] : [cin, count])
        for k in 0..<cin {
            for j in 0..<count { weight[k * total + column + j] = w[k * count + j] }
        }
        bias += try file.floats("\(net).\(name).bias", shape: [count])
        column += count
    }
    return ConvLayer(kh: 1, kw: 1, cin: cin, cout: total, weight: WeightBuffer(weight), bias: WeightBuffer(bias), alpha: nil)
}

/// Float buffers owned by one `detect` call and freed with it.
final class Buffers {
    private var blocks: [UnsafeMutablePointer<Float>] = []

    func make(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        blocks.append(p)
        return p
    }

    deinit { for p in blocks { p.deallocate() } }
}

/// P-Net: fully convolutional, 12x12 receptive field at stride 2; run once per pyramid level.
struct PNet {
    let conv1: ConvLayer, conv2: ConvLayer, conv3: ConvLayer, heads: ConvLayer
    let pool = MaxPool(size: 2, stride: 2, same: true)

    init(_ file: SafeTensorsFile) throws {
        conv1 = try loadLayer(file, "pnet", "conv1", prelu: "prelu1", kh: 3, kw: 3, cin: 3, cout: 10)
        conv2 = try loadLayer(file, "pnet", "conv2", prelu: "prelu2", kh: 3, kw: 3, cin: 10, cout: 16)
        conv3 = try loadLayer(file, "pnet", "conv3", prelu: "prelu3", kh: 3, kw: 3, cin: 16, cout: 32)
        heads = try loadHeads(file, "pnet", cin: 32, heads: [("cls", 2), ("box", 4)], conv: true)
    }

    /// Buffers for levels up to `rows x cols` (rows along x: the input is transposed), resampled
    /// from a source `sourceRows` pixels high.
    final class Workspace {
        let buffers = Buffers()
        let input: UnsafeMutablePointer<Float>
        let resample: UnsafeMutablePointer<Float>
        let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
        let heads: UnsafeMutablePointer<Float>
        let scratch: UnsafeMutablePointer<Float>
        let scratchCount: Int

        init(rows: Int, cols: Int, sourceRows: Int) {
            input = buffers.make(rows * cols * 3)
            resample = buffers.make((sourceRows + 1) * rows * 3)
            // conv1 output is the largest map; pooled and later maps fit in its size too.
            a = buffers.make(rows * cols * 10)
            b = buffers.make(((rows + 1) / 2) * ((cols + 1) / 2) * 32)
            heads = buffers.make(((rows + 1) / 2) * ((cols + 1) / 2) * 6)
            scratchCount = max(im2colChunkFloats, cols * 16 * 9)
            scratch = buffers.make(scratchCount)
        }

    }

    /// Runs on `ws.input` (`rows x cols x 3`); the heads land in `ws.heads`. Returns the output map size.
    func forward(_ ws: Workspace, rows: Int, cols: Int) -> (rows: Int, cols: Int) {
        conv1.forward(ws.input, n: 1, h: rows, w: cols, into: ws.a, scratch: ws.scratch, scratchCount: ws.scratchCount)
        let (ph, pw) = pool.forward(ws.a, n: 1, h: rows - 2, w: cols - 2, c: 10, into: ws.b)
        conv2.forward(ws.b, n: 1, h: ph, w: pw, into: ws.a, scratch: ws.scratch, scratchCount: ws.scratchCount)
        conv3.forward(ws.a, n: 1, h: ph - 2, w: pw - 2, into: ws.b, scratch: ws.scratch, scratchCount: ws.scratchCount)
        heads.forward(ws.b, n: 1, h: ph - 4, w: pw - 4, into: ws.heads, scratch: ws.scratch, scratchCount: ws.scratchCount)
        return (ph - 4, pw - 4)
    }
}

/// Buffers for a batch of crops through R-Net or O-Net: two ping-pong maps and im2col scratch.
final class CropWorkspace {
    let buffers = Buffers()
    let input: UnsafeMutablePointer<Float>
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    let scratchCount = im2colChunkFloats

    init(batch: Int, inputFloats: Int, largestMap: Int, secondMap: Int) {
        input = buffers.make(batch * inputFloats)
        a = buffers.make(batch * largestMap)
        b = buffers.make(batch * secondMap)
        scratch = buffers.make(scratchCount)
    }

}

/// A network run on fixed-size crops in batches.
protocol CropNetwork {
    /// Floats per crop in the result: cls logits (2), box regression (4), and for O-Net points (10).
    var outputCount: Int { get }
    func makeWorkspace(batch: Int) -> CropWorkspace
    /// Runs `n` crops from `ws.input`; returns `n x outputCount` floats inside `ws`.
    func forward(_ ws: CropWorkspace, n: Int) -> UnsafePointer<Float>
}

/// R-Net: 24x24 crops, rejects most of P-Net's proposals and refines the rest.
struct RNet: CropNetwork {
    let conv1: ConvLayer, conv2: ConvLayer, conv3: ConvLayer, fc1: ConvLayer, heads: ConvLayer
    let pool1 = MaxPool(size: 3, stride: 2, same: true)
    let pool2 = MaxPool(size: 3, stride: 2, same: false)
    let outputCount = 6

    init(_ file: SafeTensorsFile) throws {
        conv1 = try loadLayer(file, "rnet", "conv1", prelu: "prelu1", kh: 3, kw: 3, cin: 3, cout: 28)
        conv2 = try loadLayer(file, "rnet", "conv2", prelu: "prelu2", kh: 3, kw: 3, cin: 28, cout: 48)
        conv3 = try loadLayer(file, "rnet", "conv3", prelu: "prelu3", kh: 2, kw: 2, cin: 48, cout: 64)
        fc1 = try loadLayer(file, "rnet", "fc1", prelu: "prelu4", kh: 1, kw: 1, cin: 576, cout: 128, dense: true)
        heads = try loadHeads(file, "rnet", cin: 128, heads: [("cls", 2), ("box", 4)], conv: false)
    }

    func makeWorkspace(batch: Int) -> CropWorkspace {
        CropWorkspace(batch: batch, inputFloats: 24 * 24 * 3, largestMap: 22 * 22 * 28, secondMap: 11 * 11 * 28)
    }

    func forward(_ ws: CropWorkspace, n: Int) -> UnsafePointer<Float> {
        let s = ws.scratch, sc = ws.scratchCount
        conv1.forward(ws.input, n: n, h: 24, w: 24, into: ws.a, scratch: s, scratchCount: sc)   // 22x22x28
        pool1.forward(ws.a, n: n, h: 22, w: 22, c: 28, into: ws.b)                                // 11x11x28
        conv2.forward(ws.b, n: n, h: 11, w: 11, into: ws.a, scratch: s, scratchCount: sc)        // 9x9x48
        pool2.forward(ws.a, n: n, h: 9, w: 9, c: 48, into: ws.b)                                  // 4x4x48
        conv3.forward(ws.b, n: n, h: 4, w: 4, into: ws.a, scratch: s, scratchCount: sc)          // 3x3x64
        // Flattening a [x][y][c] map row-major is the order the dense layer was trained on.
        fc1.forward(ws.a, n: n, h: 1, w: 1, into: ws.b, scratch: s, scratchCount: sc)            // 128
        heads.forward(ws.b, n: n, h: 1, w: 1, into: ws.a, scratch: s, scratchCount: sc)          // 6
        return UnsafePointer(ws.a)
    }
}

/// O-Net: 48x48 crops, the final score, box and five points.
struct ONet: CropNetwork {
    let conv1: ConvLayer, conv2: ConvLayer, conv3: ConvLayer, conv4: ConvLayer, fc1: ConvLayer, heads: ConvLayer
    let pool1 = MaxPool(size: 3, stride: 2, same: true)
    let pool2 = MaxPool(size: 3, stride: 2, same: false)
    let pool3 = MaxPool(size: 2, stride: 2, same: true)
    let outputCount = 16

    init(_ file: SafeTensorsFile) throws {
        conv1 = try loadLayer(file, "onet", "conv1", prelu: "prelu1", kh: 3, kw: 3, cin: 3, cout: 32)
        conv2 = try loadLayer(file, "onet", "conv2", prelu: "prelu2", kh: 3, kw: 3, cin: 32, cout: 64)
        conv3 = try loadLayer(file, "onet", "conv3", prelu: "prelu3", kh: 3, kw: 3, cin: 64, cout: 64)
        conv4 = try loadLayer(file, "onet", "conv4", prelu: "prelu4", kh: 2, kw: 2, cin: 64, cout: 128)
        fc1 = try loadLayer(file, "onet", "fc1", prelu: "prelu5", kh: 1, kw: 1, cin: 1152, cout: 256, dense: true)
        heads = try loadHeads(file, "onet", cin: 256, heads: [("cls", 2), ("box", 4), ("pts", 10)], conv: false)
    }

    func makeWorkspace(batch: Int) -> CropWorkspace {
        CropWorkspace(batch: batch, inputFloats: 48 * 48 * 3, largestMap: 46 * 46 * 32, secondMap: 23 * 23 * 32)
    }

    func forward(_ ws: CropWorkspace, n: Int) -> UnsafePointer<Float> {
        let s = ws.scratch, sc = ws.scratchCount
        conv1.forward(ws.input, n: n, h: 48, w: 48, into: ws.a, scratch: s, scratchCount: sc)   // 46x46x32
        pool1.forward(ws.a, n: n, h: 46, w: 46, c: 32, into: ws.b)                                // 23x23x32
        conv2.forward(ws.b, n: n, h: 23, w: 23, into: ws.a, scratch: s, scratchCount: sc)        // 21x21x64
        pool2.forward(ws.a, n: n, h: 21, w: 21, c: 64, into: ws.b)                                // 10x10x64
        conv3.forward(ws.b, n: n, h: 10, w: 10, into: ws.a, scratch: s, scratchCount: sc)        // 8x8x64
        pool3.forward(ws.a, n: n, h: 8, w: 8, c: 64, into: ws.b)                                  // 4x4x64
        conv4.forward(ws.b, n: n, h: 4, w: 4, into: ws.a, scratch: s, scratchCount: sc)          // 3x3x128
        fc1.forward(ws.a, n: n, h: 1, w: 1, into: ws.b, scratch: s, scratchCount: sc)            // 256
        heads.forward(ws.b, n: n, h: 1, w: 1, into: ws.a, scratch: s, scratchCount: sc)          // 16
        return UnsafePointer(ws.a)
    }
}
