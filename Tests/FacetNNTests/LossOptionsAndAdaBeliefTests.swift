/// The training-loss knobs (masked training, eyes-and-mouth priority) against central differences and their meaning,
/// and AdaBelief against its formula written out element by element (leras's, without bias correction).
import XCTest
@testable import FacetNN

final class LossOptionsAndAdaBeliefTests: XCTestCase {
    var gen = SeededGenerator(seed: 19)

    func testAdaBeliefMatchesFormulaOverThreeStepsWithLrDropout() {
        let p = Parameter(shape: [37])
        for i in 0..<37 { p.value[i] = gen.nextUnitFloat() - 0.5 }
        let opt = AdaBelief(learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-6, lrDropout: 0.5, seed: 5)
        var w = p.value.values.map(Double.init), m = [Double](repeating: 0, count: 37), s = m
        var kept = 0
        for step in 0..<3 {
            for i in 0..<37 { p.gradient[i] = gen.nextUnitFloat() - 0.5 }
            let g = p.gradient.values.map(Double.init)
            let key = opt.stream(parameterIndex: 0)
            opt.step([("w", p)])
            for i in 0..<37 {
                m[i] = 0.9 * m[i] + 0.1 * g[i]
                s[i] = 0.999 * s[i] + 0.001 * (g[i] - m[i]) * (g[i] - m[i])
                let keep = hash32(UInt32(i) &* 0x9E37_79B9 &+ key) < opt.keepThreshold
                kept += keep ? 1 : 0
                if keep { w[i] -= 0.01 * m[i] / (s[i].squareRoot() + 1e-6) }
                XCTAssertEqual(Double(p.value[i]), w[i], accuracy: 2e-5, "step \(step) element \(i)")
            }
        }
        XCTAssertTrue((25...85).contains(kept), "about half of 3 x 37 updates kept, got \(kept)")
        XCTAssertEqual(opt.iterations, 3)
        // State round trip: a fresh optimizer loaded with the state takes the same next step.
        let state = opt.stateTensors(for: [("w", p)])
        XCTAssertEqual(state.map(\.name), ["optimizer.m.w", "optimizer.s.w", "optimizer.iterations"])
        for i in 0..<37 { XCTAssertEqual(Double(state[1].data[i]), s[i], accuracy: 1e-7) }
        let q = Parameter(shape: [37])
        q.value.copy(from: p.value)
        q.gradient.copy(from: p.gradient)
        let other = AdaBelief(learningRate: 0.01, lrDropout: 0.5, seed: 99)
        XCTAssertNoThrow(try other.loadState(Dictionary(uniqueKeysWithValues: state.map { ($0.name, $0) }), for: [("w", q)]))
        opt.step([("w", p)])
        other.step([("w", q)])
        XCTAssertEqual(p.value.values, q.value.values)
    }

    func smallModel(_ options: LossOptions) throws -> Quick96 {
        let model = try Quick96(config: Quick96Config(resolution: 32, encoderDims: 4, aeDims: 8, decoderDims: 4, maskDims: 2), seed: 3)
        model.lossOptions = options
        return model
    }

    /// The eyes-and-mouth term and the unmasked loss through the whole model: each parameter's gradient against
    /// the derivative along it (central differences), as the Quick96 end-to-end check.
    func testPriorityAndUnmaskedLossGradientsEndToEnd() throws {
        let model = try smallModel(LossOptions(masked: false, eyesMouthWeight: 300))
        let em = ellipseMask(batch: 2, size: 32)
        // A smaller region than the face: the mask shrunk towards its centre row.
        for i in 0..<em.count where (i / 32) % 32 < 12 || (i / 32) % 32 > 20 { em[i] = 0 }
        let src = TrainingBatch(warped: randomTensor([2, 32, 32, 3], &gen, in: 0...1), target: randomTensor([2, 32, 32, 3], &gen, in: 0...1),
                                mask: ellipseMask(batch: 2, size: 32), priority: em)
        let dst = TrainingBatch(warped: randomTensor([1, 32, 32, 3], &gen, in: 0...1), target: randomTensor([1, 32, 32, 3], &gen, in: 0...1),
                                mask: ellipseMask(batch: 1, size: 32))
        let (params, grads, total) = probeGradients(model, src: src, dst: dst)
        for name in ["encoder.down1.weight", "inter.dense1.weight", "decoder_src.out.conv0.weight", "decoder_src.res0.conv1.weight",
                     "decoder_dst.out.conv3.bias"] {
            guard let k = params.firstIndex(where: { $0.name == name }) else { return XCTFail("no parameter \(name)") }
            let norm = grads[k].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertGreaterThan(norm, 0, "the gradient of \(name) is zero")
            let ratio = directionalRatio(of: total, wrt: params[k].parameter.value, gradient: grads[k], eps: 1e-3)
            XCTAssertEqual(ratio, 1, accuracy: 5e-2, "directional derivative / |gradient| of \(name)")
        }
    }

    /// Masked, the loss ignores the target outside the mask; unmasked it does not. The priority term adds
    /// 300 x mean |target - prediction| inside its mask, exactly.
    func testMaskedLossIgnoresTheOutsideAndPriorityAddsItsTerm() throws {
        let target = randomTensor([1, 32, 32, 3], &gen, in: 0...1), warped = randomTensor([1, 32, 32, 3], &gen, in: 0...1)
        // A small face (6 x 6 in the middle), so most of the square lies outside its blurred mask.
        let mask = Tensor(shape: [1, 32, 32, 1])
        for y in 13..<19 { for x in 13..<19 { mask[y * 32 + x] = 1 } }
        let changed = Tensor(shape: target.shape)
        changed.copy(from: target)
        // Outside the blurred mask the loss sees (Quick96 blurs the hull mask with sigma 3).
        let blurred = GaussianBlur(sigma: 3).forward(mask)
        var outside = 0
        for p in 0..<(32 * 32) where blurred[p] < 1e-6 { outside += 1; for c in 0..<3 { changed[p * 3 + c] = 0 } }
        XCTAssertGreaterThan(outside, 100)
        func loss(_ options: LossOptions, _ t: Tensor, priority: Tensor? = nil) throws -> Float {
            let model = try smallModel(options)
            let b = TrainingBatch(warped: warped, target: t, mask: mask, priority: priority)
            return model.evaluate(src: b, dst: b).src[0]
        }
        XCTAssertEqual(try loss(LossOptions(), target), try loss(LossOptions(), changed), accuracy: 1e-5,
                       "masked: the outside does not count")
        XCTAssertGreaterThan(abs(try loss(LossOptions(masked: false), target) - loss(LossOptions(masked: false), changed)), 0.1)

        let em = Tensor(shape: [1, 32, 32, 1])
        for p in 0..<(32 * 32) where (p / 32) > 10 && (p / 32) < 16 { em[p] = 1 }
        let model = try smallModel(LossOptions())
        let prediction = model.predict(warped, decoder: .src).image
        var mae = 0.0
        for p in 0..<(32 * 32) { for c in 0..<3 { mae += Double(em[p]) * abs(Double(prediction[p * 3 + c] - target[p * 3 + c])) } }
        mae /= Double(32 * 32 * 3)
        let with = try loss(LossOptions(eyesMouthWeight: 300), target, priority: em), without = try loss(LossOptions(), target)
        XCTAssertEqual(Double(with - without), 300 * mae, accuracy: 1e-3 * 300 * mae)
    }
}
