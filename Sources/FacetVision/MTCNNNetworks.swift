/// MTCNN's three networks (P-Net, R-Net, O-Net): their layers, weights and per-call buffers.
import FacetCore
import Foundation

/// Loads conv layer `net.name` (Keras `[kh, kw, cin, cout]`) and its PReLU `net.prelu`, checking shapes.
private func loadConv(_ file: SafeTensorsFile, _ net: String, _ name: String, prelu: String?,
                      kh: Int, kw: Int, cin: Int, cout: Int) throws -> ConvLayer {
    let weight = try file.floats("\(net).\(name).weight", shape: [kh, kw, cin, cout])
    let bias = try file.floats("\(net).\(name).bias", shape: [cout])
    let alpha = try prelu.map { try file.floats("\(net).\($0).alpha", shape: [cout]) }
    return ConvLayer(kh: kh, kw: kw, cin: cin, cout: cout, weight: weight, bias: bias, alpha: alpha)
}

/// Loads dense layer `net.name` (`[in, out]`, the same matrix as a 1x1 convolution's) and its
/// PReLU `net.prelu`, checking shapes.
private func loadDense(_ file: SafeTensorsFile, _ net: String, _ name: String, prelu: String?,
                       inputs: Int, outputs: Int) throws -> ConvLayer {
    let weight = try file.floats("\(net).\(name).weight", shape: [inputs, outputs])
    let bias = try file.floats("\(net).\(name).bias", shape: [outputs])
    let alpha = try prelu.map { try file.floats("\(net).\($0).alpha", shape: [outputs]) }
    return ConvLayer(kh: 1, kw: 1, cin: inputs, cout: outputs, weight: weight, bias: bias, alpha: alpha)
}

/// The output heads (face/not-face logits, box regression, and for O-Net the points) side by side,
/// so one pass computes them all: columns are cls (2), box (4), then pts (10).
private func loadHeads(_ file: SafeTensorsFile, _ net: String, cin: Int, heads: [(String, Int)],
                       conv: Bool) throws -> (weight: [Float], bias: [Float], count: Int) {
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
    return (weight, bias, total)
}

/// Float buffers owned by one `detect` call (or one of its threads) and freed with it.
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
struct PNet: Sendable {
    let conv1: ConvLayer, conv2: ConvLayer, conv3: ConvLayer, heads: ConvLayer
    let pool = MaxPool(size: 2, stride: 2, same: true)

    init(_ file: SafeTensorsFile) throws {
        conv1 = try loadConv(file, "pnet", "conv1", prelu: "prelu1", kh: 3, kw: 3, cin: 3, cout: 10)
        conv2 = try loadConv(file, "pnet", "conv2", prelu: "prelu2", kh: 3, kw: 3, cin: 10, cout: 16)
        conv3 = try loadConv(file, "pnet", "conv3", prelu: "prelu3", kh: 3, kw: 3, cin: 16, cout: 32)
        let h = try loadHeads(file, "pnet", cin: 32, heads: [("cls", 2), ("box", 4)], conv: true)
        heads = ConvLayer(kh: 1, kw: 1, cin: 32, cout: h.count, weight: h.weight, bias: h.bias, alpha: nil)
    }

    /// Buffers for levels up to `rows x cols` (rows along x: the input is transposed) resampled from
    /// a source `sourceWidth` pixels wide.
    final class Workspace {
        let buffers = Buffers()
        let input: UnsafeMutablePointer<Float>
        let resample: UnsafeMutablePointer<Float>
        let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
        let heads: UnsafeMutablePointer<Float>

        /// The largest level and source width these buffers hold.
        let rows: Int, cols: Int, sourceWidth: Int

        init(rows: Int, cols: Int, sourceWidth: Int) {
            self.rows = rows; self.cols = cols; self.sourceWidth = sourceWidth
            input = buffers.make(rows * cols * 3)
            resample = buffers.make(sourceWidth * 3)
            // conv1's output is the largest map; conv2's fits in the same buffer.
            a = buffers.make(rows * cols * 10)
            b = buffers.make(((rows + 1) / 2) * ((cols + 1) / 2) * 32)
            heads = buffers.make(((rows + 1) / 2) * ((cols + 1) / 2) * 6)
        }
    }

    /// Runs on `ws.input` (`rows x cols x 3`); the heads land in `ws.heads`. Returns the output map size.
    func forward(_ ws: Workspace, rows: Int, cols: Int) -> (rows: Int, cols: Int) {
        conv1.forward(ws.input, n: 1, h: rows, w: cols, into: ws.a)
        let (ph, pw) = pool.forward(ws.a, n: 1, h: rows - 2, w: cols - 2, c: 10, into: ws.b)
        conv2.forward(ws.b, n: 1, h: ph, w: pw, into: ws.a)
        conv3.forward(ws.a, n: 1, h: ph - 2, w: pw - 2, into: ws.b)
        heads.forward(ws.b, n: 1, h: ph - 4, w: pw - 4, into: ws.heads)
        return (ph - 4, pw - 4)
    }
}

/// Buffers kept between `detect` calls, so a stream of frames reuses memory instead of paging in
/// fresh megabytes for every one. Each buffer set is used by one thread at a time: taken, then given back.
final class WorkspacePool<Workspace: AnyObject>: @unchecked Sendable {
    private var free: [Workspace] = []
    private let lock = NSLock()
    /// At most this many idle sets are kept (two threads per call, a few calls at once).
    private let limit = 8

    /// An idle set for which `fits` holds, or a new one from `make`.
    func take(where fits: (Workspace) -> Bool, make: () -> Workspace) -> Workspace {
        lock.lock()
        if let index = free.firstIndex(where: fits) {
            let found = free.remove(at: index)
            lock.unlock()
            return found
        }
        lock.unlock()
        return make()
    }

    func give(_ workspace: Workspace) {
        lock.lock()
        if free.count < limit { free.append(workspace) }
        lock.unlock()
    }
}

/// Buffers for a batch of crops through R-Net or O-Net: the crops and two ping-pong maps.
final class CropWorkspace {
    let buffers = Buffers()
    let input: UnsafeMutablePointer<Float>
    let a: UnsafeMutablePointer<Float>, b: UnsafeMutablePointer<Float>
    let resample: UnsafeMutablePointer<Float>
    let resampleCount: Int

    init(batch: Int, inputFloats: Int, largestMap: Int, secondMap: Int, resampleCount: Int) {
        input = buffers.make(batch * inputFloats)
        a = buffers.make(batch * largestMap)
        b = buffers.make(batch * secondMap)
        self.resampleCount = resampleCount
        resample = buffers.make(resampleCount)
    }
}

/// A network run on fixed-size crops in batches.
protocol CropNetwork: Sendable {
    /// Side of the square crops it reads.
    var size: Int { get }
    /// Floats per crop in the result: cls logits (2), box regression (4), and for O-Net points (10).
    var outputCount: Int { get }
    func makeWorkspace(batch: Int, resampleCount: Int) -> CropWorkspace
    /// Runs `n` crops from `ws.input`; returns `n x outputCount` floats inside `ws`.
    func forward(_ ws: CropWorkspace, n: Int) -> UnsafePointer<Float>
}

/// R-Net: 24x24 crops, rejects most of P-Net's proposals and refines the rest.
struct RNet: CropNetwork {
    let conv1: ConvLayer, conv2: ConvLayer, conv3: ConvLayer, fc1: ConvLayer, heads: ConvLayer
    let pool1 = MaxPool(size: 3, stride: 2, same: true)
    let pool2 = MaxPool(size: 3, stride: 2, same: false)
    let size = 24
    let outputCount = 6

    init(_ file: SafeTensorsFile) throws {
        conv1 = try loadConv(file, "rnet", "conv1", prelu: "prelu1", kh: 3, kw: 3, cin: 3, cout: 28)
        conv2 = try loadConv(file, "rnet", "conv2", prelu: "prelu2", kh: 3, kw: 3, cin: 28, cout: 48)
        conv3 = try loadConv(file, "rnet", "conv3", prelu: "prelu3", kh: 2, kw: 2, cin: 48, cout: 64)
        fc1 = try loadDense(file, "rnet", "fc1", prelu: "prelu4", inputs: 576, outputs: 128)
        let h = try loadHeads(file, "rnet", cin: 128, heads: [("cls", 2), ("box", 4)], conv: false)
        heads = ConvLayer(kh: 1, kw: 1, cin: 128, cout: h.count, weight: h.weight, bias: h.bias, alpha: nil)
    }

    func makeWorkspace(batch: Int, resampleCount: Int) -> CropWorkspace {
        CropWorkspace(batch: batch, inputFloats: 24 * 24 * 3, largestMap: 22 * 22 * 28, secondMap: 11 * 11 * 28,
                      resampleCount: resampleCount)
    }

    func forward(_ ws: CropWorkspace, n: Int) -> UnsafePointer<Float> {
        conv1.forward(ws.input, n: n, h: 24, w: 24, into: ws.a)     // 22x22x28
        pool1.forward(ws.a, n: n, h: 22, w: 22, c: 28, into: ws.b)  // 11x11x28
        conv2.forward(ws.b, n: n, h: 11, w: 11, into: ws.a)         // 9x9x48
        pool2.forward(ws.a, n: n, h: 9, w: 9, c: 48, into: ws.b)    // 4x4x48
        conv3.forward(ws.b, n: n, h: 4, w: 4, into: ws.a)           // 3x3x64
        // Flattening a [x][y][c] map row-major is the order the dense layer was trained on.
        fc1.dense(ws.a, n: n, into: ws.b)                         // 128
        heads.dense(ws.b, n: n, into: ws.a)                       // 6
        return UnsafePointer(ws.a)
    }
}

/// O-Net: 48x48 crops, the final score, box and five points.
struct ONet: CropNetwork {
    let conv1: ConvLayer, conv2: ConvLayer, conv3: ConvLayer, conv4: ConvLayer, fc1: ConvLayer, heads: ConvLayer
    let pool1 = MaxPool(size: 3, stride: 2, same: true)
    let pool2 = MaxPool(size: 3, stride: 2, same: false)
    let pool3 = MaxPool(size: 2, stride: 2, same: true)
    let size = 48
    let outputCount = 16

    init(_ file: SafeTensorsFile) throws {
        conv1 = try loadConv(file, "onet", "conv1", prelu: "prelu1", kh: 3, kw: 3, cin: 3, cout: 32)
        conv2 = try loadConv(file, "onet", "conv2", prelu: "prelu2", kh: 3, kw: 3, cin: 32, cout: 64)
        conv3 = try loadConv(file, "onet", "conv3", prelu: "prelu3", kh: 3, kw: 3, cin: 64, cout: 64)
        conv4 = try loadConv(file, "onet", "conv4", prelu: "prelu4", kh: 2, kw: 2, cin: 64, cout: 128)
        fc1 = try loadDense(file, "onet", "fc1", prelu: "prelu5", inputs: 1152, outputs: 256)
        let h = try loadHeads(file, "onet", cin: 256, heads: [("cls", 2), ("box", 4), ("pts", 10)], conv: false)
        heads = ConvLayer(kh: 1, kw: 1, cin: 256, cout: h.count, weight: h.weight, bias: h.bias, alpha: nil)
    }

    func makeWorkspace(batch: Int, resampleCount: Int) -> CropWorkspace {
        CropWorkspace(batch: batch, inputFloats: 48 * 48 * 3, largestMap: 46 * 46 * 32, secondMap: 23 * 23 * 32,
                      resampleCount: resampleCount)
    }

    func forward(_ ws: CropWorkspace, n: Int) -> UnsafePointer<Float> {
        conv1.forward(ws.input, n: n, h: 48, w: 48, into: ws.a)     // 46x46x32
        pool1.forward(ws.a, n: n, h: 46, w: 46, c: 32, into: ws.b)  // 23x23x32
        conv2.forward(ws.b, n: n, h: 23, w: 23, into: ws.a)         // 21x21x64
        pool2.forward(ws.a, n: n, h: 21, w: 21, c: 64, into: ws.b)  // 10x10x64
        conv3.forward(ws.b, n: n, h: 10, w: 10, into: ws.a)         // 8x8x64
        pool3.forward(ws.a, n: n, h: 8, w: 8, c: 64, into: ws.b)    // 4x4x64
        conv4.forward(ws.b, n: n, h: 4, w: 4, into: ws.a)           // 3x3x128
        fc1.dense(ws.a, n: n, into: ws.b)                         // 256
        heads.dense(ws.b, n: n, into: ws.a)                       // 16
        return UnsafePointer(ws.a)
    }
}
