/// Adam and AdaBelief share their state handling (`TwoMomentOptimizer`): the stored tensor names are the ones
/// checkpoints written before the two shared it hold, and such a state loads into the slot it came from.
import XCTest
import FacetCore
@testable import FacetNN

final class TwoMomentOptimizerTests: XCTestCase {
    /// Two parameters (a 3 x 5 matrix and a 7-vector) with seeded values and gradients.
    func parameters(_ gen: inout SeededGenerator) -> [(name: String, parameter: Parameter)] {
        [("layer.weight", [3, 5]), ("layer.bias", [7])].map { name, shape in
            let p = Parameter(shape: shape)
            for i in 0..<p.value.count { p.value[i] = gen.nextUnitFloat() - 0.5; p.gradient[i] = gen.nextUnitFloat() - 0.5 }
            return (name, p)
        }
    }

    /// The state as a checkpoint made before the refactor holds it, by name: first moment `m`, second moment `v`
    /// (Adam) or `s` (AdaBelief), the step counter as four 16-bit halves (step 2 + 65536 * 0, seed 7 + 65536 * 1).
    func oldState(second: String, _ params: [(name: String, parameter: Parameter)],
                  _ gen: inout SeededGenerator) -> [String: NamedTensor] {
        var out: [String: NamedTensor] = [:]
        for (name, p) in params {
            let n = p.value.count
            out["optimizer.m.\(name)"] = NamedTensor(name: "optimizer.m.\(name)", shape: p.value.shape,
                                                     data: (0..<n).map { _ in 0.2 * (gen.nextUnitFloat() - 0.5) })
            out["optimizer.\(second).\(name)"] = NamedTensor(name: "optimizer.\(second).\(name)", shape: p.value.shape,
                                                             data: (0..<n).map { _ in 0.01 + 0.05 * gen.nextUnitFloat() })
        }
        out["optimizer.iterations"] = NamedTensor(name: "optimizer.iterations", shape: [4], data: [2, 0, 7, 1])
        return out
    }

    func testStoredNamesAreUnchangedAndAnOldAdamStateLoadsIntoItsSlots() throws {
        var gen = SeededGenerator(seed: 21)
        let params = parameters(&gen)
        let adam = Adam(learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-7, lrDropout: 1, seed: 3)
        XCTAssertEqual(adam.stateShapes(for: params).map(\.name),
                       ["optimizer.m.layer.weight", "optimizer.v.layer.weight", "optimizer.m.layer.bias",
                        "optimizer.v.layer.bias", "optimizer.iterations"])
        XCTAssertEqual(adam.stateTensors(for: params).map(\.name), adam.stateShapes(for: params).map(\.name))
        let old = oldState(second: "v", params, &gen)
        let w0 = params.map { $0.parameter.value.values }, g = params.map { $0.parameter.gradient.values }
        // Through the checkpoint loader, as a stored checkpoint is read.
        let tensors = params.map { $0.parameter.value.named($0.name) } + old.values
        try Checkpoint.load(tensors, parameters: params, optimizer: adam)
        XCTAssertEqual(adam.iterations, 2)
        XCTAssertEqual(adam.seed, 7 + 65_536)
        adam.step(params)
        // Step 3 from the loaded moments, bias-corrected (t = 3), in Double.
        let c1 = 1 - pow(0.8, 3.0), c2 = 1 - pow(0.99, 3.0)
        for (k, (name, p)) in params.enumerated() {
            let m0 = old["optimizer.m.\(name)"]!.data, v0 = old["optimizer.v.\(name)"]!.data
            for i in 0..<p.value.count {
                let gi = Double(g[k][i])
                let m = 0.8 * Double(m0[i]) + 0.2 * gi, v = 0.99 * Double(v0[i]) + 0.01 * gi * gi
                let expected = Double(w0[k][i]) - 0.01 * (m / c1) / ((v / c2).squareRoot() + 1e-7)
                XCTAssertEqual(Double(p.value[i]), expected, accuracy: 2e-6, "\(name)[\(i)]")
            }
        }
        // An AdaBelief state is not an Adam one: one line naming what is missing, nothing loaded.
        let other = Adam()
        XCTAssertThrowsError(try other.loadState(oldState(second: "s", params, &gen), for: params)) { e in
            XCTAssertTrue("\(e)".contains("missing Adam state for 'layer.weight'"), "\(e)")
        }
    }

    func testAnOldAdaBeliefStateLoadsIntoItsSlots() throws {
        var gen = SeededGenerator(seed: 22)
        let params = parameters(&gen)
        let opt = AdaBelief(learningRate: 0.01, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, lrDropout: 0.5, seed: 3)
        XCTAssertEqual(opt.stateShapes(for: params).map(\.name),
                       ["optimizer.m.layer.weight", "optimizer.s.layer.weight", "optimizer.m.layer.bias",
                        "optimizer.s.layer.bias", "optimizer.iterations"])
        let old = oldState(second: "s", params, &gen)
        let w0 = params.map { $0.parameter.value.values }, g = params.map { $0.parameter.gradient.values }
        try Checkpoint.load(params.map { $0.parameter.value.named($0.name) } + old.values, parameters: params,
                            optimizer: opt)
        XCTAssertEqual(opt.iterations, 2)
        let keys = params.indices.map { opt.stream(parameterIndex: $0) }
        opt.step(params)
        var kept = 0, total = 0
        for (k, (name, p)) in params.enumerated() {
            let m0 = old["optimizer.m.\(name)"]!.data, s0 = old["optimizer.s.\(name)"]!.data
            for i in 0..<p.value.count {
                let gi = Double(g[k][i])
                let m = 0.8 * Double(m0[i]) + 0.2 * gi, s = 0.99 * Double(s0[i]) + 0.01 * (gi - m) * (gi - m)
                let keep = hash32(UInt32(i) &* 0x9E37_79B9 &+ keys[k]) < opt.keepThreshold
                kept += keep ? 1 : 0
                total += 1
                let expected = Double(w0[k][i]) - (keep ? 0.01 * m / (s.squareRoot() + 1e-6) : 0)
                XCTAssertEqual(Double(p.value[i]), expected, accuracy: 2e-6, "\(name)[\(i)]")
            }
        }
        XCTAssertTrue((4...18).contains(kept), "about half of \(total) weights updated, got \(kept)")
        XCTAssertEqual(opt.seed, 7 + 65_536, "the dropout masks follow the loaded seed")
    }
}
