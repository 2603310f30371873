/// The seamless (Poisson) solver against a tightly converged reference, on real face windows of the dst sample and on a synthetic irregular region; its benchmark beside the former SOR solver is `Tools/bench seamless`.
import XCTest
import FacetCore
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

/// The exact answer, near enough: the same linear system in Double, Jacobi-preconditioned
/// conjugate gradients per channel until the residual is 1e-13 of the right-hand side.
/// Returns the blended window (clamped like the merge) in Double.
enum ReferenceSeamless {
    static func blend(source: [Float], target: [Float], region: [Bool], width: Int, height: Int) -> [Double] {
        var out = source.map(Double.init)
        let count = width * height
        var index = [Int](repeating: -1, count: count)
        var pixels: [Int] = []
        for p in 0..<count where region[p] {
            let x = p % width, y = p / width
            // A 1x1 window has nothing to solve, as in the solver.
            guard x > 0 || y > 0 || x < width - 1 || y < height - 1 else { continue }
            index[p] = pixels.count; pixels.append(p)
        }
        let n = pixels.count
        guard n > 0 else { return out }
        var neighbours = [[Int]](repeating: [], count: n)
        var degree = [Double](repeating: 0, count: n)
        var fixed = [[Double]](repeating: [0, 0, 0], count: n)
        for u in 0..<n {
            let p = pixels[u], x = p % width, y = p / width
            for (qx, qy) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] {
                guard qx >= 0, qy >= 0, qx < width, qy < height else { continue }
                degree[u] += 1
                let q = qy * width + qx
                if index[q] >= 0 { neighbours[u].append(index[q]) } else {
                    for c in 0..<3 { fixed[u][c] += Double(target[q * 3 + c]) - Double(source[q * 3 + c]) }
                }
            }
        }
        func apply(_ v: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: n)
            for u in 0..<n {
                var s = degree[u] * v[u]
                for w in neighbours[u] { s -= v[w] }
                out[u] = s
            }
            return out
        }
        func dot(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }
        for c in 0..<3 {
            let b = fixed.map { $0[c] }
            var x = [Double](repeating: 0, count: n), r = b
            let bb = dot(b, b)
            guard bb > 0 else { continue }
            var z = zip(r, degree).map { $0 / $1 }, p = z
            var rz = dot(r, z)
            for _ in 0..<(20 * n) {
                let q = apply(p)
                let alpha = rz / dot(p, q)
                for u in 0..<n { x[u] += alpha * p[u]; r[u] -= alpha * q[u] }
                if dot(r, r) <= bb * 1e-26 { break }
                z = zip(r, degree).map { $0 / $1 }
                let next = dot(r, z)
                let beta = next / rz
                rz = next
                for u in 0..<n { p[u] = z[u] + beta * p[u] }
            }
            let check = apply(x)
            let worst = (0..<n).map { abs(check[$0] - b[$0]) }.max() ?? 0
            precondition(worst < 1e-9, "reference did not converge: residual \(worst)")
            for u in 0..<n { out[pixels[u] * 3 + c] = min(1, max(0, out[pixels[u] * 3 + c] + x[u])) }
        }
        return out
    }
}

final class SeamlessTests: XCTestCase {
    struct Errors { var new: Double; var former: Double; var unknowns: Int }

    /// Max abs difference to the reference over the region, in 0...1 units, of the new solver and the former one.
    func errors(_ w: SeamlessWindow) -> Errors {
        let reference = ReferenceSeamless.blend(source: w.source, target: w.target, region: w.region, width: w.width, height: w.height)
        var new = w.source, former = w.source
        SeamlessClone.blend(source: &new, target: w.target, region: w.region, width: w.width, height: w.height)
        FormerSeamless.blend(source: &former, target: w.target, region: w.region, width: w.width, height: w.height)
        var e = Errors(new: 0, former: 0, unknowns: 0)
        for p in 0..<(w.width * w.height) {
            guard w.region[p] else {
                // Outside the region nothing changes.
                for c in 0..<3 { XCTAssertEqual(new[p * 3 + c], w.source[p * 3 + c]) }
                continue
            }
            e.unknowns += 1
            for c in 0..<3 {
                e.new = max(e.new, abs(Double(new[p * 3 + c]) - reference[p * 3 + c]))
                e.former = max(e.former, abs(Double(former[p * 3 + c]) - reference[p * 3 + c]))
            }
        }
        return e
    }

    func check(_ w: SeamlessWindow) {
        let e = errors(w)
        print(String(format: "seamless-accuracy: %@ (%dx%d, %d unknowns): max error vs reference new %.2e (%.4f grey levels), former SOR %.2e (%.4f grey levels)",
                     w.name, w.width, w.height, e.unknowns, e.new, e.new * 255, e.former, e.former * 255))
        XCTAssertGreaterThan(e.unknowns, 1000, w.name)
        XCTAssertLessThan(e.new, 0.02 / 255, "\(w.name): well under one grey level")
        XCTAssertLessThanOrEqual(e.new, max(e.former, 1e-6), "\(w.name): no worse than the former solver")
    }

    func testRealFaceWindowsMatchTheReference() throws {
        let windows = try SeamlessFixture.realWindows()
        XCTAssertEqual(windows.count, 9)
        for w in windows {
            XCTAssertGreaterThan(min(w.width, w.height), 200, "a face window of the 480x480 sample")
            check(w)
        }
    }

    func testSyntheticIrregularRegionMatchesTheReference() {
        check(SeamlessFixture.synthetic())
        // Odd sizes and a thin window: the coarse grids' edges.
        check(SeamlessFixture.synthetic(width: 301, height: 257))
    }

    /// Small and degenerate windows: nothing to solve, one pixel, a full window (no fixed border),
    /// a region along the edge only.
    func testDegenerateWindows() {
        for (w, h) in [(1, 1), (1, 5), (2, 2), (3, 1), (7, 9)] {
            let n = w * h
            let source = (0..<(n * 3)).map { Float($0 % 7) / 7 }, target = (0..<(n * 3)).map { Float($0 % 5) / 5 }
            for region in [[Bool](repeating: true, count: n), [Bool](repeating: false, count: n), (0..<n).map { $0 % 2 == 0 }, (0..<n).map { $0 % w == 0 }] {
                var new = source
                SeamlessClone.blend(source: &new, target: target, region: region, width: w, height: h)
                let reference = ReferenceSeamless.blend(source: source, target: target, region: region, width: w, height: h)
                for i in 0..<(n * 3) {
                    XCTAssertFalse(new[i].isNaN, "\(w)x\(h)")
                    XCTAssertEqual(Double(new[i]), reference[i], accuracy: 1e-5, "\(w)x\(h) value \(i)")
                }
            }
        }
    }
}
