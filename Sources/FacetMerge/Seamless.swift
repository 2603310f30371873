/// Poisson blending of the warped face into the frame, as cv2.seamlessClone's NORMAL_CLONE does.
import Foundation

enum SeamlessClone {
    /// Solves, over the pixels of `region` (a `width x height` window, row-major), for colours whose
    /// Laplacian equals `source`'s and which meet `target` on the region's border. Writes the result
    /// into `source` inside the region (interleaved RGB floats, 0...1 after clamping).
    ///
    /// It solves for the correction `c = result - source`: harmonic inside, `target - source` on the
    /// border; so the result is the source plus a smooth membrane. Red-black SOR from c = 0 with the
    /// optimal relaxation for the window's size. Cost: about 1.2 x max(width, height) sweeps over
    /// the region's pixels.
    static func blend(source: inout [Float], target: [Float], region: [Bool], width: Int, height: Int) {
        let count = width * height
        precondition(source.count == count * 3 && target.count == count * 3 && region.count == count, "seamless: size mismatch")
        // Unknowns: region pixels. Each gets its neighbours' slots (-1 = fixed border value).
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
                // Off the window: no neighbour (the window is the frame's edge or the region's margin).
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
        let sweeps = Int(1.2 * side) + 10
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
