/// RMSprop and Adam against their formulas written out element by element.
import XCTest
@testable import FacetNN

final class OptimizerTests: XCTestCase {
    func testRootOfIsSquareRoot() {
        for x: Float in [0, 1e-12, 1e-6, 0.25, 1, 2, 1234.5, 3e7] {
            XCTAssertEqual(rootOf(x), x.squareRoot(), accuracy: max(3e-7 * x.squareRoot(), 1e-14), "sqrt(\(x))")
        }
    }

    /// A parameter of 37 floats: vector blocks and a scalar tail.
    func parameter(_ gen: inout SeededGenerator) -> Parameter {
        let p = Parameter(shape: [37])
        for i in 0..<37 { p.value[i] = gen.nextUnitFloat() - 0.5; p.gradient[i] = gen.nextUnitFloat() - 0.5 }
        return p
    }

    func testRMSpropMatchesFormulaWithLrDropout() {
        var gen = SeededGenerator(seed: 3)
        let p = parameter(&gen)
        let w0 = p.value.values, g = p.gradient.values
        let opt = RMSprop(learningRate: 0.01, rho: 0.9, epsilon: 1e-6, lrDropout: 0.3, seed: 77)
        let key = opt.stream(parameterIndex: 0)
        opt.step([("w", p)])
        var kept = 0
        for i in 0..<37 {
            let a = 0.1 * g[i] * g[i]
            let keep = hash32(UInt32(i) &* 0x9E37_79B9 &+ key) < opt.keepThreshold
            kept += keep ? 1 : 0
            let expected = keep ? w0[i] - 0.01 * g[i] / (a.squareRoot() + 1e-6) : w0[i]
            XCTAssertEqual(p.value[i], expected, accuracy: 1e-6, "element \(i)")
        }
        XCTAssertTrue((3...20).contains(kept), "about 30% of 37 weights updated, got \(kept)")
        XCTAssertEqual(opt.iterations, 1)
        let state = opt.stateTensors(for: [("w", p)])
        XCTAssertEqual(state.map(\.name), ["optimizer.acc.w", "optimizer.iterations"])
        for i in 0..<37 { XCTAssertEqual(state[0].data[i], 0.1 * g[i] * g[i], accuracy: 1e-7) }
    }

    func testAdamMatchesFormula() {
        var gen = SeededGenerator(seed: 4)
        let p = parameter(&gen)
        let w0 = p.value.values, g = p.gradient.values
        let opt = Adam(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7)
        opt.step([("w", p)])
        for i in 0..<37 {
            // First step: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps).
            let expected = w0[i] - 0.01 * g[i] / (abs(g[i]) + 1e-7)
            XCTAssertEqual(p.value[i], expected, accuracy: 1e-5, "element \(i)")
        }
    }
}
