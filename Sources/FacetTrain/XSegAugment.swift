/// The segmenter's augmentation: what lets twenty labelled faces teach it the many poses, lights and
/// occluders of a whole video. Geometry (rotation, scale, shift, flip, DeepFaceLab's random grid warp) is
/// applied identically to the face and its mask; colour (brightness, contrast, saturation, per-channel gain)
/// and blur only to the face.
import Foundation
import FacetCore
import FacetNN

/// Fills a segmenter batch from labelled samples, randomly transformed.
struct XSegAugmenter {
    let resolution: Int
    /// Rotation range, degrees either way.
    var rotation = 20.0
    /// Scale range, a share either way.
    var scale = 0.15
    /// Shift range, a share of the side either way.
    var shift = 0.08

    /// Writes sample `k` of the batch: face into `faces` ([B, R, R, 3], 0...1) and mask into `masks` ([B, R, R, 1]).
    func fill(faces: Tensor, masks: Tensor, index k: Int, sample: XSegSample, generator g: inout SeededGenerator) {
        let r = resolution, c = Double(r) / 2 - 0.5
        let angle = g.uniform(-1, 1) * rotation * .pi / 180
        let s = 1 + g.uniform(-1, 1) * scale
        let tx = g.uniform(-1, 1) * shift * Double(r), ty = g.uniform(-1, 1) * shift * Double(r)
        let cosA = cos(angle) * s, sinA = sin(angle) * s
        var srcToOut = Affine2D(a: cosA, b: -sinA, tx: c - cosA * c + sinA * c + tx,
                                c: sinA, d: cosA, ty: c - sinA * c - cosA * c + ty)
        if g.uniform(0, 1) < 0.5 {
            srcToOut = Affine2D(a: -1, b: 0, tx: 2 * c, c: 0, d: 1, ty: 0).concatenating(srcToOut)
        }
        let outToSrc = srcToOut.inverted ?? .identity
        let warp = g.uniform(0, 1) < 0.75 ? WarpField(resolution: r, generator: &g) : nil
        let px = r * r
        let face = faces.data + k * px * 3, mask = masks.data + k * px
        sampleImage(sample.image, size: resolution, into: face, channels: 3, outToSrc: outToSrc, warp: warp)
        sampleImage(sample.mask, size: resolution, into: mask, channels: 1, outToSrc: outToSrc, warp: warp)
        // Colour: brightness, contrast about the mean, saturation about the grey, and a gain per channel.
        let brightness = Float(g.uniform(-0.12, 0.12)), contrast = Float(g.uniform(0.7, 1.3))
        let saturation = Float(g.uniform(0.5, 1.5))
        let gains = (0..<3).map { _ in Float(g.uniform(0.9, 1.1)) }
        var mean: Float = 0
        for i in 0..<(px * 3) { mean += face[i] }
        mean /= Float(px * 3)
        for p in 0..<px {
            let o = face + p * 3
            let grey = 0.299 * o[0] + 0.587 * o[1] + 0.114 * o[2]
            for ch in 0..<3 {
                var v = grey + (o[ch] - grey) * saturation
                v = (v - mean) * contrast + mean + brightness
                o[ch] = min(1, max(0, v * gains[ch]))
            }
        }
        // A quarter of the faces blurred (sigma 0.5...1.5 px), as out-of-focus and motion-softened frames are.
        if g.uniform(0, 1) < 0.25 { blur(face, sigma: g.uniform(0.5, 1.5)) }
    }

    /// A separable Gaussian blur of an RGB face in place (edges replicated).
    private func blur(_ face: UnsafeMutablePointer<Float>, sigma: Double) {
        let r = resolution, radius = max(1, Int((2 * sigma).rounded(.up)))
        var taps = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
        let sum = taps.reduce(0, +)
        taps = taps.map { $0 / sum }
        var tmp = [Float](repeating: 0, count: r * r * 3)
        for pass in 0..<2 {
            for y in 0..<r {
                for x in 0..<r {
                    for ch in 0..<3 {
                        var v: Float = 0
                        for (t, k) in taps.enumerated() {
                            let d = t - radius
                            let sx = pass == 0 ? min(max(x + d, 0), r - 1) : x
                            let sy = pass == 1 ? min(max(y + d, 0), r - 1) : y
                            v += k * (pass == 0 ? face[(sy * r + sx) * 3 + ch] : tmp[(sy * r + sx) * 3 + ch])
                        }
                        if pass == 0 { tmp[(y * r + x) * 3 + ch] = v } else { face[(y * r + x) * 3 + ch] = v }
                    }
                }
            }
        }
    }
}
