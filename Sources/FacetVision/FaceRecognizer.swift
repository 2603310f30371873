/// Face-recognition descriptors: dlib's ResNet (`dlib_face_recognition_resnet_model_v1.dat`) read
/// from dlib's own file and run on FacetNN, on dlib's own 150x150 face chip.
import FacetCore
import FacetNN
import Foundation

/// dlib's face-recognition network: 128 numbers per face, whose Euclidean distance is below 0.6
/// for two photos of the same person (dlib's threshold; 99.38% on LFW).
///
/// `descriptors(image:faces:)` cuts dlib's chip (`FaceChipDetails`, `extractFaceChip`) from the 68
/// landmarks and runs the network over all faces in batches on every core, so a face's descriptor
/// is the one dlib's `compute_face_descriptor(img, shape)` gives (within float rounding: L2 under
/// 0.01, measured by `FaceRecognizerTests`). The network's batch norms (dlib's `affine` layers) are
/// folded into the convolutions at load.
///
/// Thread-safe: calls may come from any thread; the network runs one batch at a time (each batch
/// uses all cores), chips are cut in parallel outside the lock.
public final class FaceRecognizer: @unchecked Sendable {
    /// The model's name as provenance records it.
    public static let modelName = "dlib_face_recognition_resnet_model_v1"
    /// Descriptor length.
    public static let dimensions = 128
    /// dlib's same-person threshold on `distance`.
    public static let samePersonThreshold: Float = 0.6
    /// Side of the face chip the network reads.
    public static let chipSize = FaceRecognizerArchitecture.inputSize
    /// Padding of the chip around the mean face, as a fraction of the face (dlib's default 0.25).
    public static let chipPadding = 0.25

    /// The file it was loaded from.
    public let path: String
    /// Lowercase hex SHA-256 of that file, for provenance.
    public let sha256: String
    /// Faces per network batch (memory grows linearly: about 6 MB of activations per face).
    public let batchSize: Int

    private let network: Sequential
    private let means: [Float]
    private let lock = NSLock()

    /// Loads the model from `path` (default: `ModelFiles.faceRecognizer()`). Throws a `FacetError`
    /// naming the file when it is missing, truncated, or not dlib's face-recognition network.
    public init(path: String? = nil, batchSize: Int = 16) throws {
        let path = try path ?? ModelFiles.faceRecognizer()
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        } catch {
            throw FacetError.file(path,
                                  "cannot read the face-recognition model (\(error.localizedDescription)); "
                                  + "run Tools/fetch-models")
        }
        let weights: FaceRecognizerWeights
        do {
            weights = try data.withUnsafeBytes { raw -> FaceRecognizerWeights in
                var reader = DlibReader(raw)
                return try FaceRecognizerArchitecture.parse(&reader)
            }
        } catch let problem as DlibFormatProblem {
            throw FacetError.file(path,
                                  "not dlib's face-recognition network (dlib_face_recognition_resnet_model_v1.dat): "
                                  + "\(problem.message)")
        }
        self.path = path
        self.sha256 = SHA256.hex(of: data)
        self.batchSize = max(1, batchSize)
        self.means = weights.channelMeans
        self.network = FaceRecognizer.buildNetwork(weights)
        for (_, p) in network.namedParameters { p.freeze() }
    }

    /// The descriptors of the faces with these 68 landmarks in `image`, one per face, in order.
    public func descriptors(image: Image, faces: [Landmarks68]) -> [[Float]] {
        descriptors(chips: FaceRecognizer.chips(image: image, faces: faces))
    }

    /// dlib's 150x150 chip of each face (what the network reads), cut in parallel.
    public static func chips(image: Image, faces: [Landmarks68]) -> [Image] {
        var chips = [Image](repeating: Image(width: 0, height: 0, channels: 3), count: faces.count)
        chips.withUnsafeMutableBufferPointer { buffer in
            // Each iteration writes its own slot only.
            let slots = Slots(buffer)
            DispatchQueue.concurrentPerform(iterations: faces.count) { i in
                slots.buffer[i] = extractFaceChip(from: image,
                                                  details: FaceChipDetails(landmarks: faces[i], size: chipSize,
                                                                           padding: chipPadding))
            }
        }
        return chips
    }

    /// The descriptors of chips already cut (`chips(image:faces:)`: 150x150 RGB), batched. Chips
    /// from many frames can go in one call, which keeps the batches full.
    public func descriptors(chips: [Image]) -> [[Float]] {
        for chip in chips {
            precondition(chip.width == FaceRecognizer.chipSize && chip.height == FaceRecognizer.chipSize
                         && chip.channels == 3,
                         "FaceRecognizer: a chip is \(chip.width)x\(chip.height)x\(chip.channels), "
                         + "expected \(FaceRecognizer.chipSize)x\(FaceRecognizer.chipSize)x3")
        }
        var out: [[Float]] = []
        out.reserveCapacity(chips.count)
        var start = 0
        while start < chips.count {
            let end = min(chips.count, start + batchSize)
            out += runBatch(Array(chips[start..<end]))
            start = end
        }
        return out
    }

    /// Euclidean distance of two descriptors (dlib's `length(a - b)`); below `samePersonThreshold`
    /// means the same person.
    public static func distance(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "FaceRecognizer.distance: lengths \(a.count) and \(b.count) differ")
        var s: Float = 0
        for i in 0..<a.count { let d = a[i] - b[i]; s += d * d }
        return s.squareRoot()
    }

    private func runBatch(_ chips: [Image]) -> [[Float]] {
        let side = FaceRecognizer.chipSize
        let input = Tensor(shape: [chips.count, side, side, 3])
        let plane = side * side * 3
        let (r, g, b) = (means[0], means[1], means[2])
        for (n, chip) in chips.enumerated() {
            let dst = input.data + n * plane
            chip.pixels.withUnsafeBufferPointer { src in
                for p in 0..<(side * side) {
                    dst[3 * p] = (Float(src[3 * p]) - r) / 256
                    dst[3 * p + 1] = (Float(src[3 * p + 1]) - g) / 256
                    dst[3 * p + 2] = (Float(src[3 * p + 2]) - b) / 256
                }
            }
        }
        lock.lock()
        defer { lock.unlock() }
        let y = network.forward(input)
        let d = FaceRecognizer.dimensions
        return (0..<chips.count).map { n in Array(UnsafeBufferPointer(start: y.data + n * d, count: d)) }
    }

    /// The FacetNN network of `FaceRecognizerArchitecture.layers` with the file's values; each
    /// affine folded into the conv before it (`w * gamma`, `b * gamma + beta`), relus fused.
    private static func buildNetwork(_ w: FaceRecognizerWeights) -> Sequential {
        var next = 0
        func conv(_ cin: Int, _ cout: Int, k: Int, stride: Int, relu: Bool) -> Conv2D {
            let i = next
            next += 1
            let c = Conv2D(inChannels: cin, outChannels: cout, kernelSize: k, stride: stride,
                           padding: stride == 1 ? .same : .valid,
                           activation: relu ? .leakyReLU(0) : .identity)
            let filters = w.convFilters[i], bias = w.convBiases[i], gamma = w.affineGamma[i], beta = w.affineBeta[i]
            let dst = c.weight.value.data
            for o in 0..<cout {
                for ci in 0..<cin {
                    for ky in 0..<k {
                        for kx in 0..<k {
                            dst[((ky * k + kx) * cin + ci) * cout + o] =
                                filters[((o * cin + ci) * k + ky) * k + kx] * gamma[o]
                        }
                    }
                }
                c.bias!.value[o] = bias[o] * gamma[o] + beta[o]
            }
            return c
        }
        var layers: [(String, any Layer)] = [("conv", conv(3, 32, k: 7, stride: 2, relu: true)),
                                             ("pool", Pool2D(.max, window: 3, stride: 2))]
        let plan: [(cin: Int, n: Int, down: Bool)] = [(32, 32, false), (32, 32, false), (32, 32, false),
                                                      (32, 64, true), (64, 64, false), (64, 64, false), (64, 64, false),
                                                      (64, 128, true), (128, 128, false), (128, 128, false),
                                                      (128, 256, true), (256, 256, false), (256, 256, false),
                                                      (256, 256, true)]
        for (i, b) in plan.enumerated() {
            let body = Sequential([("conv1", conv(b.cin, b.n, k: 3, stride: b.down ? 2 : 1, relu: true)),
                                   ("conv2", conv(b.n, b.n, k: 3, stride: 1, relu: false))])
            let block: any Layer = b.down
                ? PaddedResidual(body: body, shortcut: Pool2D(.average, window: 2, stride: 2),
                                 activation: .leakyReLU(0))
                : Residual(body, activation: .leakyReLU(0))
            layers.append(("block\(i)", block))
        }
        precondition(next == w.convFilters.count,
                     "FaceRecognizer: built \(next) convs for \(w.convFilters.count) in the file")
        let fc = Dense(inFeatures: 256, outFeatures: FaceRecognizer.dimensions)
        fc.weight.value.data.update(from: w.fcWeights, count: w.fcWeights.count)
        fc.bias.value.fill(0)   // fc_no_bias
        layers += [("average", GlobalAveragePool()), ("fc", fc)]
        return Sequential(layers)
    }
}

/// Disjoint slots of an array that concurrent iterations fill, one index each.
private struct Slots<T>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<T>
    init(_ buffer: UnsafeMutableBufferPointer<T>) { self.buffer = buffer }
}
