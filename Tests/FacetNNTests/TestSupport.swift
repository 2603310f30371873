/// Shared helpers of FacetNN's tests: random tensors, finite-difference checks, fixture faces.
import Foundation
import XCTest
@testable import FacetNN

func randomTensor(_ shape: [Int], _ gen: inout SeededGenerator, in range: ClosedRange<Float> = -1...1) -> Tensor {
    let t = Tensor(shape: shape)
    for i in 0..<t.count { t[i] = range.lowerBound + (range.upperBound - range.lowerBound) * gen.nextUnitFloat() }
    return t
}

/// ||a - b|| / max(||a||, ||b||): the agreement of an analytic and a numeric gradient.
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    var d = 0.0, na = 0.0, nb = 0.0
    for i in 0..<a.count { d += (a[i] - b[i]) * (a[i] - b[i]); na += a[i] * a[i]; nb += b[i] * b[i] }
    return d.squareRoot() / max(na.squareRoot(), nb.squareRoot(), 1e-12)
}

/// Up to `count` distinct indices of `0..<n`, spread by a fixed generator.
func sampleIndices(_ n: Int, _ count: Int, _ gen: inout SeededGenerator) -> [Int] {
    if n <= count { return Array(0..<n) }
    var s = Set<Int>()
    while s.count < count { s.insert(Int(gen.next() % UInt64(n))) }
    return s.sorted()
}

/// Central differences of `f` with respect to the sampled entries of `t`.
func numericGradient(of f: () -> Double, wrt t: Tensor, at indices: [Int], eps: Float) -> [Double] {
    indices.map { i in
        let keep = t[i]
        t[i] = keep + eps
        let up = f()
        t[i] = keep - eps
        let down = f()
        t[i] = keep
        return (up - down) / Double(2 * eps)
    }
}

/// The derivative of `f` along the unit vector g/|g| (by central differences) divided by |g|:
/// 1 when `g` is the gradient of `f` with respect to `t`. Used for composites, whose many float
/// outputs make one-entry differences too noisy; moving all entries at once gives a large, clean
/// change of `f`.
func directionalRatio(of f: () -> Double, wrt t: Tensor, gradient g: [Float], eps: Double) -> Double {
    let norm = g.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    if norm == 0 { return 1 }
    let base = t.values
    func shifted(_ s: Double) -> Double {
        for i in 0..<t.count { t[i] = base[i] + Float(s * Double(g[i]) / norm) }
        return f()
    }
    let numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
    for i in 0..<t.count { t[i] = base[i] }
    return numeric / norm
}

/// One forward and backward of `layer` at `x` with a random output gradient `r` (drawn from
/// `gen`): the input gradient, the parameters with their gradients, and `L = sum(r * layer(x))`
/// (a fresh forward each call), whose gradients those are.
func probeGradients(_ layer: any Layer, _ x: Tensor, _ gen: inout SeededGenerator)
    -> (dx: [Float], params: [(name: String, parameter: Parameter)], grads: [[Float]], loss: () -> Double) {
    let y = layer.forward(x)
    let r = randomTensor(y.shape, &gen)
    let rv = r.values
    let dx = layer.backward(r).values
    let params = layer.namedParameters
    let grads = params.map { $0.parameter.gradient.values }
    func loss() -> Double {
        let out = layer.forward(x)
        var s = 0.0
        for i in 0..<out.count { s += Double(rv[i]) * Double(out[i]) }
        return s
    }
    return (dx, params, grads, loss)
}

/// `computeGradients` of `model` on the two batches: its parameters with their gradients, and the
/// summed per-sample loss (`evaluate`, a fresh forward each call) whose gradients those are.
func probeGradients(_ model: any SwapNetwork, src: TrainingBatch, dst: TrainingBatch)
    -> (params: [(name: String, parameter: Parameter)], grads: [[Float]], total: () -> Double) {
    _ = model.computeGradients(src: src, dst: dst)
    let params = model.namedParameters
    let grads = params.map { $0.parameter.gradient.values }
    func total() -> Double {
        let l = model.evaluate(src: src, dst: dst)
        return (l.src + l.dst).reduce(0.0) { $0 + Double($1) }
    }
    return (params, grads, total)
}

/// Checks a composite layer's input and parameter gradients along their own directions.
func checkCompositeGradients(_ layer: any Layer, input x: Tensor, checkInput: Bool = true, eps: Double = 1e-4,
                             tolerance: Double = 5e-2, file: StaticString = #filePath, line: UInt = #line) {
    var gen = SeededGenerator(seed: 98)
    let (dx, params, grads, loss) = probeGradients(layer, x, &gen)
    if checkInput {
        XCTAssertEqual(directionalRatio(of: loss, wrt: x, gradient: dx, eps: eps), 1, accuracy: tolerance,
                       "\(type(of: layer)) input gradient", file: file, line: line)
    }
    for (k, (name, p)) in params.enumerated() {
        XCTAssertEqual(directionalRatio(of: loss, wrt: p.value, gradient: grads[k], eps: eps), 1, accuracy: tolerance,
                       "\(type(of: layer)) gradient of \(name)", file: file, line: line)
    }
}

/// Checks a layer's input gradient and every parameter gradient against central differences of
/// L = sum(r * layer(x)) for a fixed random r. Returns the worst relative error seen.
@discardableResult
func checkLayerGradients(_ layer: any Layer, input x: Tensor, eps: Float = 1e-3, samples: Int = 24, checkInput: Bool = true,
                         tolerance: Double = 1e-2, file: StaticString = #filePath, line: UInt = #line) -> Double {
    var gen = SeededGenerator(seed: 99)
    let (dx, params, paramGrads, loss) = probeGradients(layer, x, &gen)
    var worst = 0.0
    if checkInput {
        let idx = sampleIndices(x.count, samples, &gen)
        let num = numericGradient(of: loss, wrt: x, at: idx, eps: eps)
        let err = relativeError(idx.map { Double(dx[$0]) }, num)
        XCTAssertLessThan(err, tolerance, "\(type(of: layer)) input gradient", file: file, line: line)
        worst = max(worst, err)
    }
    for (k, (name, p)) in params.enumerated() {
        let idx = sampleIndices(p.value.count, samples, &gen)
        let num = numericGradient(of: loss, wrt: p.value, at: idx, eps: eps)
        let err = relativeError(idx.map { Double(paramGrads[k][$0]) }, num)
        XCTAssertLessThan(err, tolerance, "\(type(of: layer)) gradient of \(name)", file: file, line: line)
        worst = max(worst, err)
    }
    return worst
}

/// Reads a binary PPM (P6, maxval 255) into `[1, H, W, 3]` floats in [0, 1].
func readPPM(_ url: URL) throws -> Tensor {
    let bytes = [UInt8](try Data(contentsOf: url))
    var pos = 0
    func token() -> String {
        while pos < bytes.count, bytes[pos] == 0x23 || bytes[pos] <= 0x20 {
            if bytes[pos] == 0x23 { while pos < bytes.count, bytes[pos] != 0x0A { pos += 1 } } else { pos += 1 }
        }
        let start = pos
        while pos < bytes.count, bytes[pos] > 0x20 { pos += 1 }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }
    guard token() == "P6", let w = Int(token()), let h = Int(token()), token() == "255" else {
        throw FixtureError("not a P6 PPM with maxval 255: \(url.path)")
    }
    pos += 1
    guard bytes.count - pos == w * h * 3 else { throw FixtureError("truncated PPM \(url.path)") }
    return Tensor(shape: [1, h, w, 3], values: bytes[pos...].map { Float($0) / 255 })
}

let fixturesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Fixtures/nn")

/// The fixture faces, box-downscaled from 64 px to `size`, stacked into one batch.
func fixtureFaces(_ names: [String], size: Int) throws -> Tensor {
    let out = Tensor(shape: [names.count, size, size, 3])
    for (n, name) in names.enumerated() {
        let img = try readPPM(fixturesDirectory.appendingPathComponent(name))
        let f = img.shape[1] / size
        for y in 0..<size { for x in 0..<size { for c in 0..<3 {
            var s: Float = 0
            for dy in 0..<f { for dx in 0..<f { s += img[((y * f + dy) * img.shape[2] + x * f + dx) * 3 + c] } }
            out[((n * size + y) * size + x) * 3 + c] = s / Float(f * f)
        } } }
    }
    return out
}

/// The bench script's face mask: an ellipse covering the face, `[n, size, size, 1]`.
func ellipseMask(batch n: Int, size: Int) -> Tensor {
    let m = Tensor(shape: [n, size, size, 1])
    let s = Float(size) / 96
    for b in 0..<n { for y in 0..<size { for x in 0..<size {
        let u = (Float(x) - 48 * s) / (34 * s), v = (Float(y) - 52 * s) / (42 * s)
        m[(b * size + y) * size + x] = u * u + v * v <= 1 ? 1 : 0
    } } }
    return m
}

/// A fixture that is damaged (truncated, wrong format): the test that reads it fails, it does not skip.
struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
