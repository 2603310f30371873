/// Seamless (Poisson) windows shared by the seamless tests and `Tools/bench seamless`: the inputs
/// `FaceCompositor.blend` hands to its solver on real frames and a synthetic one, and the former SOR solver.
import Foundation
import FacetCore
@_spi(Benchmarks) import FacetMerge

/// One `SeamlessClone.blend` input, as `FaceCompositor.blend` builds it.
public struct SeamlessWindow {
    /// The swapped face warped into the window, RGB interleaved, 0...255.
    public var source: [Float]
    /// The frame's pixels under the window, RGB interleaved, 0...255.
    public var target: [Float]
    /// The pixels the blend solves for (inside the mask); the others keep `target`.
    public var region: [Bool]
    /// Width of the window, in pixels.
    public var width: Int
    /// Height of the window, in pixels.
    public var height: Int
    /// What the window shows (frame, mask, swapper), for the messages of the tests and benchmarks.
    public var name: String

    /// A window of `width x height` pixels named `name`.
    public init(source: [Float], target: [Float], region: [Bool], width: Int, height: Int, name: String) {
        self.source = source; self.target = target; self.region = region; self.width = width; self.height = height
        self.name = name
    }
}

/// The solver `SeamlessClone.blend` used before multigrid: red-black SOR from c = 0, about
/// `factor` x side sweeps (1.2 in the merge), RGB interleaved, an index list and neighbour table.
/// Kept here as the baseline of the benchmark and the accuracy comparison.
public enum FormerSeamless {
    /// Blends `source` into `target` over `region` in place, with about `factor` x side SOR sweeps.
    public static func blend(source: inout [Float], target: [Float], region: [Bool], width: Int, height: Int,
                             factor: Double = 1.2) {
        let count = width * height
        var index = [Int32](repeating: -1, count: count)
        var pixels: [Int32] = []
        for p in 0..<count where region[p] { index[p] = Int32(pixels.count); pixels.append(Int32(p)) }
        let n = pixels.count
        guard n > 0 else { return }
        var neighbours = [Int32](repeating: -1, count: n * 4)
        var degree = [Float](repeating: 0, count: n)
        var fixed = [Float](repeating: 0, count: n * 3)
        var isRed = [Bool](repeating: false, count: n)
        for u in 0..<n {
            let p = Int(pixels[u]), x = p % width, y = p / width
            isRed[u] = (x + y) % 2 == 0
            let candidates = [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
            for (k, (qx, qy)) in candidates.enumerated() {
                guard qx >= 0, qy >= 0, qx < width, qy < height else { continue }
                degree[u] += 1
                let q = qy * width + qx
                if index[q] >= 0 {
                    neighbours[u * 4 + k] = index[q]
                } else {
                    for c in 0..<3 { fixed[u * 3 + c] += target[q * 3 + c] - source[q * 3 + c] }
                }
            }
        }
        var correction = [Float](repeating: 0, count: n * 3)
        let side = Double(max(width, height))
        let omega = Float(2 / (1 + sin(Double.pi / max(side, 2))))
        let sweeps = Int(factor * side) + 10
        correction.withUnsafeMutableBufferPointer { c in
            neighbours.withUnsafeBufferPointer { nb in
                fixed.withUnsafeBufferPointer { fx in
                    degree.withUnsafeBufferPointer { dg in
                        isRed.withUnsafeBufferPointer { red in
                            for _ in 0..<sweeps {
                                for colour in [true, false] {
                                    for u in 0..<n where red[u] == colour && dg[u] > 0 {
                                        var s0 = fx[u * 3], s1 = fx[u * 3 + 1], s2 = fx[u * 3 + 2]
                                        for k in 0..<4 {
                                            let v = Int(nb[u * 4 + k])
                                            if v >= 0 { s0 += c[v * 3]; s1 += c[v * 3 + 1]; s2 += c[v * 3 + 2] }
                                        }
                                        let inv = 1 / dg[u]
                                        c[u * 3] += omega * (s0 * inv - c[u * 3])
                                        c[u * 3 + 1] += omega * (s1 * inv - c[u * 3 + 1])
                                        c[u * 3 + 2] += omega * (s2 * inv - c[u * 3 + 2])
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        for u in 0..<n {
            let p = Int(pixels[u])
            for c in 0..<3 { source[p * 3 + c] = min(1, max(0, source[p * 3 + c] + correction[u * 3 + c])) }
        }
    }
}

/// Seamless-clone inputs from the sample video and synthetic windows, for the tests and the benchmark.
public enum SeamlessFixture {
    /// The window, source, target and region `FaceCompositor.blend` hands to `SeamlessClone.blend`
    /// for `face` of `frame` (the same steps, copied from it).
    public static func window(frame: Image, face: MergeFace, options: MergeOptions, swapper: any FaceSwapper,
                              name: String) throws -> SeamlessWindow? {
        let compositor = FaceCompositor(options: options, resolution: swapper.resolution)
        let aligned = compositor.alignedFace(from: frame, face: face)
        let swapped = try swapper.swap([aligned])[0]
        let res = compositor.resolution, sub = compositor.maskResolution
        let k = Double(sub) / Double(res)
        let mask = compositor.processedMask(face: face, learned: swapped.mask)
        let predicted = floats(swapped.face)
        let out = compositor.outputMatrix(face)
        let back = out.inverted!
        let corners = [Point2(0, 0), Point2(Double(res), 0), Point2(0, Double(res)),
                       Point2(Double(res), Double(res))].map(back.apply)
        let x0 = max(0, Int(corners.map(\.x).min()!.rounded(.down)) - 1)
        let y0 = max(0, Int(corners.map(\.y).min()!.rounded(.down)) - 1)
        let x1 = min(frame.width - 1, Int(corners.map(\.x).max()!.rounded(.up)) + 1)
        let y1 = min(frame.height - 1, Int(corners.map(\.y).max()!.rounded(.up)) + 1)
        let w = x1 - x0 + 1, h = y1 - y0 + 1
        var alpha = [Float](repeating: 0, count: w * h)
        var warped = [Float](repeating: 0, count: w * h * 3)
        var inside = [Bool](repeating: false, count: w * h)
        let maxCoord = Double(res - 1)
        predicted.withUnsafeBufferPointer { pf in
            mask.values.withUnsafeBufferPointer { mv in
                for ly in 0..<h {
                    let fy = Double(y0 + ly)
                    for lx in 0..<w {
                        let fx = Double(x0 + lx)
                        let u = out.a * fx + out.b * fy + out.tx, v = out.c * fx + out.d * fy + out.ty
                        let q = ly * w + lx
                        let within = u >= -0.5 && v >= -0.5 && u <= maxCoord + 0.5 && v <= maxCoord + 0.5
                        inside[q] = within
                        var a = sampleMask(mv, sub, u * k, v * k)
                        if a < 1 / 255 { a = 0 }
                        alpha[q] = min(1, a)
                        guard within else { continue }
                        let (r, g, b) = sampleRGB(pf, res, min(max(u, 0), maxCoord), min(max(v, 0), maxCoord))
                        warped[q * 3] = r; warped[q * 3 + 1] = g; warped[q * 3 + 2] = b
                    }
                }
            }
        }
        var threshold: Float = 0
        for i in 1..<10 where alpha.contains(where: { $0 > Float(i) / 10 }) { threshold = Float(i) / 10; break }
        guard threshold > 0 else { return nil }
        var target = [Float](repeating: 0, count: w * h * 3)
        var region = [Bool](repeating: false, count: w * h)
        for ly in 0..<h {
            for lx in 0..<w {
                let q = ly * w + lx, p = ((y0 + ly) * frame.width + x0 + lx) * 3
                for c in 0..<3 { target[q * 3 + c] = Float(frame.pixels[p + c]) / 255 }
                if !inside[q] { for c in 0..<3 { warped[q * 3 + c] = target[q * 3 + c] } }
                region[q] = alpha[q] > threshold && inside[q]
            }
        }
        return SeamlessWindow(source: warped, target: target, region: region, width: w, height: h, name: name)
    }

    /// Real windows: frames of the dst sample with the merge's usual settings and test swappers
    /// that change the face's content (so the membrane has work to do).
    public static func realWindows(frames: [Int] = [0, 15, 29]) throws -> [SeamlessWindow] {
        var list: [SeamlessWindow] = []
        for index in frames {
            let frame = try MergeFixture.frame(index), face = MergeFixture.face(index)
            let settings: [(String, MergeOptions, any FaceSwapper)] = [
                ("hull, shifted upside down, 64 px", MergeOptions(mode: .seamless, mask: .hull),
                 ShiftedSwapper(resolution: 64, upsideDown: true)),
                ("learned, erode 10 blur 20, red patch, 128 px",
                 MergeOptions(mode: .seamless, mask: .learned, erode: 10, blur: 20), RedPatchSwapper(resolution: 128)),
                // The settings of `Tools/bench merge` (and `Tools/bench compositor`), in seamless mode.
                ("learned-and-hull, erode 10 blur 20, shifted upside down, 64 px",
                 MergeOptions(mode: .seamless, mask: .learnedAndHull, erode: 10, blur: 20),
                 ShiftedSwapper(resolution: 64, upsideDown: true)),
            ]
            for (label, options, swapper) in settings {
                if let w = try window(frame: frame, face: face, options: options, swapper: swapper,
                                      name: "frame \(index), \(label)") { list.append(w) }
            }
        }
        return list
    }

    /// A synthetic window with an irregular region: two overlapping discs with a hole and a bay,
    /// touching the window's left and bottom edges (mirror border there), a separate blob, stray
    /// single pixels and a one-pixel-wide line; smooth plus noisy source and target.
    public static func synthetic(width: Int = 300, height: Int = 260) -> SeamlessWindow {
        var region = [Bool](repeating: false, count: width * height)
        var source = [Float](repeating: 0, count: width * height * 3), target = source
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func noise() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(seed >> 40) / Float(1 << 24) - 0.5
        }
        for y in 0..<height {
            for x in 0..<width {
                let fx = Double(x), fy = Double(y)
                func inDisc(_ cx: Double, _ cy: Double, _ r: Double) -> Bool {
                    (fx - cx) * (fx - cx) + (fy - cy) * (fy - cy) <= r * r
                }
                var inside = inDisc(110, 150, 105) || inDisc(190, 120, 80)
                if inDisc(130, 140, 25) { inside = false }                     // a hole
                if x > 150 && x < 260 && abs(y - 140) < 6 { inside = false }      // a bay
                if inDisc(262, 230, 20) { inside = true }                       // a separate blob
                if y == 20 && x > 30 && x < 200 { inside = true }               // a thin line
                if (x * 7 + y * 13) % 997 == 0 { inside = true }                // stray pixels
                region[y * width + x] = inside
                let q = (y * width + x) * 3
                for c in 0..<3 {
                    let phase = Double(c) * 1.3
                    source[q + c] = Float(0.5 + 0.3 * sin(fx / 23 + phase) * cos(fy / 31)) + 0.08 * noise()
                    target[q + c] = Float(0.45 + 0.35 * cos(fx / 41 - phase) * sin(fy / 17 + 0.4)) + 0.08 * noise()
                }
            }
        }
        return SeamlessWindow(source: source, target: target, region: region, width: width, height: height,
                              name: "synthetic \(width)x\(height)")
    }
}
