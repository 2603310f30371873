/// MTCNN face detection (Zhang et al. 2016): P-Net over an image pyramid, then R-Net and O-Net, in Swift.
import FacetCore
import Foundation

/// A face box in image pixel coordinates (x right, y down).
public struct FaceBox: Sendable, Equatable {
    /// Left edge, in pixels.
    public var x: Double
    /// Top edge, in pixels.
    public var y: Double
    /// Width, in pixels.
    public var width: Double
    /// Height, in pixels.
    public var height: Double

    /// A box with its top-left corner at (`x`, `y`).
    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }

    /// Right edge (`x + width`).
    public var right: Double { x + width }
    /// Bottom edge (`y + height`).
    public var bottom: Double { y + height }
    /// The box's centre.
    public var center: Point2 { Point2(x + width / 2, y + height / 2) }

    /// Intersection over union with `other` (0 when either is empty).
    public func iou(_ other: FaceBox) -> Double {
        let w = min(right, other.right) - max(x, other.x), h = min(bottom, other.bottom) - max(y, other.y)
        guard w > 0, h > 0 else { return 0 }
        let inter = w * h
        return inter / (width * height + other.width * other.height - inter)
    }
}

/// One face MTCNN found.
public struct DetectedFace: Sendable {
    /// The face's box (O-Net's regression applied), in pixels.
    public var box: FaceBox
    /// O-Net's face probability, 0...1.
    public var score: Double
    /// Left eye, right eye, nose, mouth left, mouth right (left and right as seen in the image).
    public var points5: [Point2]

    /// A detection with each field given.
    public init(box: FaceBox, score: Double, points5: [Point2]) {
        self.box = box; self.score = score; self.points5 = points5
    }
}

/// The MTCNN detector over the weights Tools/fetch-models converts from the `mtcnn` 0.1.1 package.
/// Follows that package's pipeline (itself David Sandberg's port of the original MATLAB code), box
/// conventions included, so its results match what users of the Python package see.
///
/// `detect` allocates its own buffers per call and only reads the weights, so one detector can serve
/// several threads at once. Within a call it spreads the pyramid levels and crop batches over
/// `threads` threads (the whole work is split in two nearly equal halves, so more than two gain little).
public final class MTCNNDetector: @unchecked Sendable {
    private let pnet: PNet
    private let rnet: RNet
    private let onet: ONet
    /// Pyramid step between P-Net scales.
    public let scaleFactor = 0.709
    /// Threads one `detect` call uses; 1 when the caller already runs several detections at once.
    public let threads: Int
    private let pyramidBuffers = WorkspacePool<PNet.Workspace>()
    private let rnetBuffers = WorkspacePool<CropWorkspace>()
    private let onetBuffers = WorkspacePool<CropWorkspace>()

    /// Loads the three networks from the safetensors file at `weightsPath`; throws naming it when a
    /// tensor is missing or has the wrong shape.
    public init(weightsPath: String, threads: Int = min(2, ProcessInfo.processInfo.activeProcessorCount)) throws {
        let file = try SafeTensorsFile(path: weightsPath)
        pnet = try PNet(file)
        rnet = try RNet(file)
        onet = try ONet(file)
        self.threads = max(1, threads)
    }

    /// Finds the weights with `ModelFiles.mtcnnWeights()`.
    public convenience init(threads: Int = min(2, ProcessInfo.processInfo.activeProcessorCount)) throws {
        try self.init(weightsPath: ModelFiles.mtcnnWeights(), threads: threads)
    }

    /// Faces in `image` (grey, RGB or RGBA), best score first, boxes clipped to the image.
    /// `minFaceSize` is the smallest face side in pixels looked for (it sets the pyramid's first
    /// scale, 12 / minFaceSize); `thresholds` are the P-Net, R-Net and O-Net score cut-offs.
    public func detect(_ image: Image, minFaceSize: Int = 20,
                       thresholds: (Float, Float, Float) = (0.6, 0.7, 0.7)) -> [DetectedFace] {
        let rgb = image.channels == 3 ? image : image.rgb()
        guard rgb.width > 0, rgb.height > 0, minFaceSize > 0 else { return [] }
        return rgb.pixels.withUnsafeBufferPointer { pixels in
            let source = SourceImage(pixels: pixels.baseAddress!, width: rgb.width, height: rgb.height)
            var boxes = proposals(source, minFaceSize: minFaceSize, threshold: Double(thresholds.0))
            if boxes.isEmpty { return [] }
            boxes = refine(source, boxes, threshold: Double(thresholds.1))
            if boxes.isEmpty { return [] }
            boxes = output(source, boxes, threshold: Double(thresholds.2))
            let w = Double(rgb.width), h = Double(rgb.height)
            return boxes.map { c in
                let x1 = min(max(c.x1, 0), w), y1 = min(max(c.y1, 0), h)
                let x2 = min(max(c.x2, 0), w), y2 = min(max(c.y2, 0), h)
                let points = (0..<5).map { Point2(c.points[$0], c.points[$0 + 5]) }
                return DetectedFace(box: FaceBox(x: x1, y: y1, width: x2 - x1, height: y2 - y1), score: c.score,
                                    points5: points)
            }.sorted { $0.score > $1.score }
        }
    }

    /// The pyramid scales: 12 / minFaceSize, shrinking by `scaleFactor` while the short side stays >= 12.
    func pyramidScales(width: Int, height: Int, minFaceSize: Int) -> [Double] {
        let m = 12.0 / Double(minFaceSize)
        var minLayer = Double(min(width, height)) * m
        var scales: [Double] = []
        var scale = m
        while minLayer >= 12 {
            scales.append(scale)
            scale *= scaleFactor
            minLayer *= scaleFactor
        }
        return scales
    }

    // MARK: Stage 1: P-Net proposals over the pyramid

    private func proposals(_ source: SourceImage, minFaceSize: Int, threshold: Double) -> [Candidate] {
        let scales = pyramidScales(width: source.width, height: source.height, minFaceSize: minFaceSize)
        if scales.isEmpty { return [] }
        let sizes = scales.map { scale in
            (Int((Double(source.width) * scale).rounded(.up)), Int((Double(source.height) * scale).rounded(.up)))
        }
        // Deal the levels to threads by area, largest first: level 0 is about half the work, so two
        // threads split it nearly evenly.
        var groups = [[Int]](repeating: [], count: min(threads, scales.count))
        var load = [Int](repeating: 0, count: groups.count)
        for level in scales.indices {
            let t = load.indices.min { load[$0] < load[$1] }!
            groups[t].append(level)
            load[t] += sizes[level].0 * sizes[level].1
        }
        // A P-Net score passes when its logit difference does: no exp for the many cells that fail.
        let logitThreshold = threshold >= 1 ? Double.infinity
            : threshold <= 0 ? -Double.infinity : log(threshold / (1 - threshold))
        let perLevel = ResultSlots<[Candidate]>(count: scales.count)
        let pnet = self.pnet, levelGroups = groups, pool = pyramidBuffers
        parallel(levelGroups.count) { g in
            let (maxRows, maxCols) = sizes[levelGroups[g][0]]
            // Buffers for this thread's largest level, reused by its smaller ones and by later calls.
            let workspace = pool.take(where: {
                                          $0.rows >= maxRows && $0.cols >= maxCols && $0.sourceWidth >= source.width
                                      },
                                      make: { PNet.Workspace(rows: maxRows, cols: maxCols, sourceWidth: source.width) })
            defer { pool.give(workspace) }
            for level in levelGroups[g] {
                let scale = scales[level], (ws, hs) = sizes[level]
                let taps = AxisTaps.pair(sourceWidth: source.width, sourceHeight: source.height, width: ws, height: hs)
                resampleToNetworkInput(source.pixels, imageWidth: source.width, imageHeight: source.height,
                                       originX: 0, originY: 0, windowWidth: source.width, windowHeight: source.height,
                                       width: ws, height: hs, taps: taps, into: workspace.input,
                                       rowScratch: workspace.resample)
                // The input is transposed: rows run along x, columns along y.
                let (rows, cols) = pnet.forward(workspace, rows: ws, cols: hs)
                var found: [Candidate] = []
                let out = workspace.heads
                for i in 0..<rows {
                    for j in 0..<cols {
                        let o = out + (i * cols + j) * 6
                        let logit = Double(o[1]) - Double(o[0])
                        guard logit >= logitThreshold else { continue }
                        // A 12x12 cell at stride 2, in the 1-based coordinates of the original code.
                        let x1 = ((2 * Double(i) + 1) / scale).rounded(.towardZero)
                        let y1 = ((2 * Double(j) + 1) / scale).rounded(.towardZero)
                        let x2 = ((2 * Double(i) + 12) / scale).rounded(.towardZero)
                        let y2 = ((2 * Double(j) + 12) / scale).rounded(.towardZero)
                        found.append(Candidate(x1: x1, y1: y1, x2: x2, y2: y2, score: 1 / (1 + exp(-logit)),
                                               reg: SIMD4(Double(o[2]), Double(o[3]), Double(o[4]), Double(o[5]))))
                    }
                }
                perLevel.set(level, nonMaximumSuppression(found, threshold: 0.5, byMinimum: false))
            }
        }
        let all = nonMaximumSuppression(perLevel.values.flatMap { $0 ?? [] }, threshold: 0.7, byMinimum: false)
        return all.map { c in
            // Stage 1 regresses against the cell's width without the +1 the later stages use.
            let w = c.x2 - c.x1, h = c.y2 - c.y1
            var r = Candidate(x1: c.x1 + c.reg[0] * w, y1: c.y1 + c.reg[1] * h,
                              x2: c.x2 + c.reg[2] * w, y2: c.y2 + c.reg[3] * h, score: c.score)
            r.square()
            r.truncate()
            return r
        }
    }

    // MARK: Stage 2: R-Net on 24x24 crops

    private func refine(_ source: SourceImage, _ boxes: [Candidate], threshold: Double) -> [Candidate] {
        let results = runOnCrops(source, boxes, network: rnet, buffers: rnetBuffers)
        var kept: [Candidate] = []
        for (c, o) in zip(boxes, results) {
            let score = 1 / (1 + exp(Double(o[0]) - Double(o[1])))
            guard score > threshold else { continue }
            var k = c
            k.score = score
            k.reg = SIMD4(Double(o[2]), Double(o[3]), Double(o[4]), Double(o[5]))
            kept.append(k)
        }
        return nonMaximumSuppression(kept, threshold: 0.7, byMinimum: false).map { c in
            var r = c
            r.regress()
            r.square()
            return r
        }
    }

    // MARK: Stage 3: O-Net on 48x48 crops, with the five points

    private func output(_ source: SourceImage, _ boxes: [Candidate], threshold: Double) -> [Candidate] {
        let truncated = boxes.map { c -> Candidate in var t = c; t.truncate(); return t }
        let results = runOnCrops(source, truncated, network: onet, buffers: onetBuffers)
        var kept: [Candidate] = []
        for (c, o) in zip(truncated, results) {
            let score = 1 / (1 + exp(Double(o[0]) - Double(o[1])))
            guard score > threshold else { continue }
            var k = c
            k.score = score
            k.reg = SIMD4(Double(o[2]), Double(o[3]), Double(o[4]), Double(o[5]))
            // Points are fractions of the (inclusive) box; -1 turns the 1-based box corner 0-based.
            let w = c.x2 - c.x1 + 1, h = c.y2 - c.y1 + 1
            k.points = (0..<5).map { w * Double(o[6 + $0]) + c.x1 - 1 }
                + (0..<5).map { h * Double(o[11 + $0]) + c.y1 - 1 }
            k.regress()
            kept.append(k)
        }
        return nonMaximumSuppression(kept, threshold: 0.7, byMinimum: true)
    }

    /// Crops every box (integer corners, 1-based inclusive; outside the image reads black), resamples
    /// it to the network's input size, and runs the network over them in batches spread over the
    /// threads. One row of `outputCount` floats per box.
    private func runOnCrops<Net: CropNetwork>(_ source: SourceImage, _ boxes: [Candidate], network: Net,
                                              buffers: WorkspacePool<CropWorkspace>) -> [[Float]] {
        let batch = 32, size = network.size
        let inputFloats = size * size * 3
        let batches = (boxes.count + batch - 1) / batch
        let maxWindow = boxes.reduce(1) { max($0, Int($1.x2 - $1.x1) + 1) }
        let results = ResultSlots<[Float]>(count: boxes.count)
        let workers = min(threads, batches)
        parallel(workers) { worker in
            let workspace = buffers.take(where: { $0.resampleCount >= maxWindow * 3 },
                                         make: { network.makeWorkspace(batch: batch, resampleCount: maxWindow * 3) })
            defer { buffers.give(workspace) }
            for index in stride(from: worker, to: batches, by: workers) {
                let start = index * batch, n = min(batch, boxes.count - start)
                for b in 0..<n {
                    let c = boxes[start + b]
                    let windowW = max(1, Int(c.x2 - c.x1) + 1), windowH = max(1, Int(c.y2 - c.y1) + 1)
                    let taps = AxisTaps.pair(sourceWidth: windowW, sourceHeight: windowH, width: size, height: size)
                    resampleToNetworkInput(source.pixels, imageWidth: source.width, imageHeight: source.height,
                                           originX: Int(c.x1) - 1, originY: Int(c.y1) - 1,
                                           windowWidth: windowW, windowHeight: windowH, width: size, height: size,
                                           taps: taps, into: workspace.input + b * inputFloats,
                                           rowScratch: workspace.resample)
                }
                let out = network.forward(workspace, n: n)
                for b in 0..<n {
                    results.set(start + b,
                                Array(UnsafeBufferPointer(start: out + b * network.outputCount,
                                                          count: network.outputCount)))
                }
            }
        }
        return results.values.map { $0! }
    }
}

/// Runs `body(0..<count)` on `count` threads (inline when 1) and returns when all are done.
private func parallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    if count <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: count, execute: body)
}

/// Slots the threads of one call fill, each index by exactly one thread.
final class ResultSlots<Value>: @unchecked Sendable {
    private(set) var values: [Value?]
    private let lock = NSLock()

    init(count: Int) { values = [Value?](repeating: nil, count: count) }

    func set(_ index: Int, _ value: Value) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }
}

/// The RGB pixels `detect` reads, valid for the duration of the call (its threads only read them).
struct SourceImage: @unchecked Sendable {
    let pixels: UnsafePointer<UInt8>
    let width: Int
    let height: Int
}

/// A box between stages: corners (x1, y1, x2, y2) in the original code's conventions, score,
/// the regression the last network gave, and O-Net's points (5 x, then 5 y).
struct Candidate {
    var x1: Double, y1: Double, x2: Double, y2: Double
    var score: Double
    var reg = SIMD4<Double>()
    var points: [Double] = []

    /// Applies the regression, offsets in units of the inclusive box size.
    mutating func regress() {
        let w = x2 - x1 + 1, h = y2 - y1 + 1
        x1 += reg[0] * w; y1 += reg[1] * h; x2 += reg[2] * w; y2 += reg[3] * h
    }

    /// Grows the shorter side about the centre to make the box square.
    mutating func square() {
        let w = x2 - x1, h = y2 - y1, side = max(w, h)
        x1 += w * 0.5 - side * 0.5
        y1 += h * 0.5 - side * 0.5
        x2 = x1 + side
        y2 = y1 + side
    }

    /// Truncates the corners towards zero, as the original code does before cropping.
    mutating func truncate() {
        x1.round(.towardZero); y1.round(.towardZero); x2.round(.towardZero); y2.round(.towardZero)
    }
}

/// Greedy non-maximum suppression: keep the best box, drop those overlapping it by more than
/// `threshold` (intersection over union, or over the smaller box with `byMinimum`), repeat.
/// Areas count whole pixels (+1), as in the original code. O(n^2) in the worst case.
func nonMaximumSuppression(_ boxes: [Candidate], threshold: Double, byMinimum: Bool) -> [Candidate] {
    if boxes.count < 2 { return boxes }
    let order = boxes.indices.sorted { boxes[$0].score > boxes[$1].score }
    var suppressed = [Bool](repeating: false, count: boxes.count)
    var kept: [Candidate] = []
    for (rank, i) in order.enumerated() where !suppressed[i] {
        let a = boxes[i]
        kept.append(a)
        let areaA = (a.x2 - a.x1 + 1) * (a.y2 - a.y1 + 1)
        for j in order[(rank + 1)...] where !suppressed[j] {
            let b = boxes[j]
            let w = max(0, min(a.x2, b.x2) - max(a.x1, b.x1) + 1)
            let h = max(0, min(a.y2, b.y2) - max(a.y1, b.y1) + 1)
            let inter = w * h
            let areaB = (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1)
            let overlap = byMinimum ? inter / min(areaA, areaB) : inter / (areaA + areaB - inter)
            if overlap > threshold { suppressed[j] = true }
        }
    }
    return kept
}
