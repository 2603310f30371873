/// Training samples: kept faces read from the store once, decoded and resized to the model's
/// resolution with their landmark-hull masks, then drawn and augmented into batches.
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore
import FacetVision

/// One face at the model's resolution: RGB and its hull mask, 8-bit (a quarter of float memory).
public struct FaceSample: Sendable {
    /// The face's id.
    public var faceId: Int64
    /// The aligned face at the model's resolution, RGB.
    public var image: Image
    /// Its landmark hull mask at the same size, one channel.
    public var mask: Image
    /// The eyes-and-mouth mask (`eyesMouthMask`), for the priority term.
    public var eyesMouth: Image
    /// Head pose from the store, degrees (uniform pose sampling bins by it).
    public var yaw: Double = 0, pitch: Double = 0
}

extension FaceSample {
    /// Decodes a stored face crop, resizes it to `resolution` (area filter) and builds the mask
    /// from its landmarks mapped into the crop. With `faceType` (H128 trains on `half` faces), a
    /// face stored as another type is re-aligned from its crop (see below).
    /// With `xseg` (the face's stored segmenter mask, any size, over the whole crop), the mask is that instead of
    /// the landmark hull.
    static func load(_ face: FaceRecord, project: Project, resolution: Int,
                     alignAs faceType: FaceType? = nil, xseg: Image? = nil) throws -> FaceSample {
        let crop = try project.faceCrop(id: face.id)
        let full: Image
        do {
            full = crop.format == "png" ? try PNGCodec.decode(crop.data) : try JPEGCodec.decode(crop.data)
        } catch {
            throw FacetError.file(project.path,
                                  "face \(face.id): its aligned crop cannot be decoded (\(error)); "
                                  + "reject it with facet reject and train again")
        }
        guard let landmarks = face.landmarks68 else {
            throw FacetError.file(project.path,
                                  "face \(face.id): its landmarks are unreadable; reject it and train again")
        }
        if let faceType, face.faceType != faceType.rawValue {
            // Re-aligned from the stored crop rather than the source frame (no video decode): the
            // stored matrix takes the frame to the crop, DeepFaceLab's matrix for `faceType` from
            // the landmarks takes the frame to the wanted face, so crop -> face is the second after
            // the inverse of the first. Every type Facet stores is at least as wide as `half` about
            // the same centre, so the stored crop covers a half face (a 256 px full crop holds it
            // in about 160 px, enough for 128).
            let k = Double(full.width > 0 ? full.width : face.cropSize) / Double(face.cropSize)
            let cropFromFrame = Affine2D(a: k, b: 0, tx: 0, c: 0, d: k, ty: 0).concatenating(face.imageToFace)
            guard let frameFromCrop = cropFromFrame.inverted else {
                throw FacetError.file(project.path,
                                      "face \(face.id): its stored matrix is singular; reject it and train again")
            }
            let toFace = alignmentMatrix(landmarks: landmarks, faceType: faceType, size: resolution)
            let image = full.rgb().warped(by: toFace.concatenating(frameFromCrop), width: resolution,
                                          height: resolution, border: .replicate)
            let points = landmarks.points.map { toFace.apply($0) }
            let mask = xseg.map {
                $0.grey().resized(width: full.width, height: full.height)
                    .warped(by: toFace.concatenating(frameFromCrop), width: resolution, height: resolution,
                            border: .constant(0))
            } ?? hullMask(landmarksInFace: points, size: resolution)
            return FaceSample(faceId: face.id, image: image, mask: mask,
                              eyesMouth: eyesMouthMask(landmarksInFace: points, size: resolution),
                              yaw: face.yaw, pitch: face.pitch)
        }
        let image = full.rgb().resized(width: resolution, height: resolution, filter: .area)
        // Frame -> crop (crop_size px) -> model resolution, pixel centres kept where the resize put them.
        let s = Double(resolution) / Double(full.width > 0 ? full.width : face.cropSize)
        let m = face.imageToFace
        let points = landmarks.points.map { p -> Point2 in
            let q = m.apply(p)
            return Point2((q.x + 0.5) * s - 0.5, (q.y + 0.5) * s - 0.5)
        }
        let mask = xseg.map { $0.grey().resized(width: resolution, height: resolution) }
            ?? hullMask(landmarksInFace: points, size: resolution)
        return FaceSample(faceId: face.id, image: image, mask: mask,
                          eyesMouth: eyesMouthMask(landmarksInFace: points, size: resolution),
                          yaw: face.yaw, pitch: face.pitch)
    }
}

/// The kept faces of one role, split into a training and a held-out part.
final class RoleSamples {
    let role: Role
    let train: [FaceSample]
    let validation: [FaceSample]
    private let seed: UInt64
    private var permutationEpoch = -1
    private var permutation: [Int] = []
    /// Set for uniform pose sampling (nil: the plain per-epoch shuffle).
    let poseBins: PoseBins?

    init(role: Role, train: [FaceSample], validation: [FaceSample], seed: UInt64, uniformPose: Bool = false) {
        self.role = role
        self.train = train
        self.validation = validation
        self.seed = seed
        poseBins = uniformPose ? PoseBins(poses: train.map { (yaw: $0.yaw, pitch: $0.pitch) }) : nil
    }

    /// The training samples of `iteration`'s batch: consecutive slots of a per-epoch shuffle, so
    /// every face is seen once per epoch and the draw depends only on (seed, iteration), which is
    /// what lets a resumed run draw exactly what an uninterrupted one would.
    func batchIndices(iteration: Int, batchSize: Int) -> [Int] {
        if let poseBins {
            let key = mix(seed, UInt64(role == .src ? 1 : 2))
            return (0..<batchSize).map { poseBins.sample(slot: iteration * batchSize + $0, seed: key) }
        }
        let n = train.count
        return (0..<batchSize).map { j in
            let slot = iteration * batchSize + j
            let epoch = slot / n
            if epoch != permutationEpoch {
                var g = SeededGenerator(seed: mix(seed, UInt64(role == .src ? 1 : 2), UInt64(epoch), 0x5A3F))
                permutation = Array(0..<n)
                permutation.shuffle(using: &g)
                permutationEpoch = epoch
            }
            return permutation[slot % n]
        }
    }
}

/// A well-mixed 64-bit key from several values (SplitMix64 finaliser over a running hash).
func mix(_ values: UInt64...) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15
    for v in values {
        h ^= v &+ 0x9E37_79B9_7F4A_7C15 &+ (h << 6) &+ (h >> 2)
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
    }
    return h
}

/// Fills `TrainingBatch` tensors from samples, with DeepFaceLab's augmentation.
struct Augmenter {
    let resolution: Int
    let options: AugmentationOptions

    /// Writes sample `k` of a batch: the warped input, the target and its mask, all under the same
    /// flip / rotation / scale / shift; only the input gets the grid warp.
    func fill(_ batch: TrainingBatch, index k: Int, sample: FaceSample, generator g: inout SeededGenerator,
              augment: Bool, warp warpAllowed: Bool = true) {
        let r = resolution
        var outToSrc = Affine2D.identity
        var warp: WarpField? = nil
        if augment {
            let c = Double(r) / 2 - 0.5
            let angle = (g.uniform(-1, 1) * options.rotationDegrees) * .pi / 180
            let scale = 1 + g.uniform(-1, 1) * options.scale
            let tx = g.uniform(-1, 1) * options.shift * Double(r), ty = g.uniform(-1, 1) * options.shift * Double(r)
            let flip = g.uniform(0, 1) < options.flipProbability
            // Source -> output: about the centre, rotate and scale, then shift, then flip.
            let cosA = cos(angle) * scale, sinA = sin(angle) * scale
            var srcToOut = Affine2D(a: cosA, b: -sinA, tx: c - cosA * c + sinA * c + tx,
                                    c: sinA, d: cosA, ty: c - sinA * c - cosA * c + ty)
            if flip { srcToOut = Affine2D(a: -1, b: 0, tx: 2 * c, c: 0, d: 1, ty: 0).concatenating(srcToOut) }
            outToSrc = srcToOut.inverted ?? .identity
            if options.randomWarp && warpAllowed { warp = WarpField(resolution: r, generator: &g) }
        }
        let px = r * r
        sampleImage(sample.image, size: resolution, into: batch.warped.data + k * px * 3, channels: 3,
                    outToSrc: outToSrc, warp: warp)
        sampleImage(sample.image, size: resolution, into: batch.target.data + k * px * 3, channels: 3,
                    outToSrc: outToSrc, warp: nil)
        sampleImage(sample.mask, size: resolution, into: batch.mask.data + k * px, channels: 1,
                    outToSrc: outToSrc, warp: nil)
        if let priority = batch.priority {
            sampleImage(sample.eyesMouth, size: resolution, into: priority.data + k * px, channels: 1,
                        outToSrc: outToSrc, warp: nil)
        }
    }

}

/// DeepFaceLab's random warp (`gen_warp_params`): a coarse grid (cells of R/2, R/4 or R/8) whose
/// inner nodes move by a normal offset of 0.24 cell, interpolated bilinearly over the face.
struct WarpField {
    let cell: Double
    let nodes: Int
    private var dx: [Double], dy: [Double]

    init(resolution r: Int, generator g: inout SeededGenerator) {
        let divisor = [2, 4, 8][Int(g.next() % 3)]
        cell = Double(r) / Double(divisor)
        nodes = divisor + 1
        dx = [Double](repeating: 0, count: nodes * nodes)
        dy = dx
        let sd = 0.24 * cell
        for j in 1..<(nodes - 1) {
            for i in 1..<(nodes - 1) {
                dx[j * nodes + i] = g.normal() * sd
                dy[j * nodes + i] = g.normal() * sd
            }
        }
    }

    /// The offset at output pixel (x, y).
    func displacement(_ x: Int, _ y: Int) -> (x: Double, y: Double) {
        let u = min(Double(x) / cell, Double(nodes - 1) - 1e-9), v = min(Double(y) / cell, Double(nodes - 1) - 1e-9)
        let i = Int(u), j = Int(v)
        let a = u - Double(i), b = v - Double(j)
        let i00 = j * nodes + i, i01 = i00 + 1, i10 = i00 + nodes, i11 = i10 + 1
        func lerp(_ t: [Double]) -> Double {
            let top = t[i00] + a * (t[i01] - t[i00]), bottom = t[i10] + a * (t[i11] - t[i10])
            return top + b * (bottom - top)
        }
        return (lerp(dx), lerp(dy))
    }
}

extension SeededGenerator {
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }
    /// Standard normal (Box-Muller).
    mutating func normal() -> Double {
        let u1 = max(uniform(0, 1), 1e-300), u2 = uniform(0, 1)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}

/// Bilinear samples of `image` at `outToSrc(p + warp(p))` for every output pixel p, scaled to
/// [0, 1], edges replicated (as DeepFaceLab's BORDER_REPLICATE), into an `r` x `r` output: the training batches'
/// and the segmenter's augmentation share it.
func sampleImage(_ image: Image, size r: Int, into out: UnsafeMutablePointer<Float>, channels c: Int,
                 outToSrc m: Affine2D, warp: WarpField?) {
    let w = image.width, h = image.height
    image.pixels.withUnsafeBufferPointer { src in
        for y in 0..<r {
            for x in 0..<r {
                var qx = Double(x), qy = Double(y)
                if let warp { let d = warp.displacement(x, y); qx += d.x; qy += d.y }
                let sx = m.a * qx + m.b * qy + m.tx, sy = m.c * qx + m.d * qy + m.ty
                let fx = min(max(sx, 0), Double(w - 1)), fy = min(max(sy, 0), Double(h - 1))
                let x0 = min(Int(fx), w - 2 < 0 ? 0 : w - 2), y0 = min(Int(fy), h - 2 < 0 ? 0 : h - 2)
                let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                let ax = Float(fx - Double(x0)), ay = Float(fy - Double(y0))
                let o = out + (y * r + x) * c
                for k in 0..<c {
                    let p00 = Float(src[(y0 * w + x0) * c + k]), p01 = Float(src[(y0 * w + x1) * c + k])
                    let p10 = Float(src[(y1 * w + x0) * c + k]), p11 = Float(src[(y1 * w + x1) * c + k])
                    let top = p00 + ax * (p01 - p00), bottom = p10 + ax * (p11 - p10)
                    o[k] = (top + ay * (bottom - top)) * (1 / 255)
                }
            }
        }
    }
}
