/// H128: the MAE mask loss and the whole composition against finite differences, its shapes,
/// fitting real faces with both image losses, and save/load.
import XCTest
import FacetCore
@testable import FacetNN

final class H128Tests: XCTestCase {
    // Small test images would otherwise fall below the size where Winograd is used: every test of this class runs
    // under a policy that takes Winograd from one tile (bound for the test's scope; no global is changed).
    override func invokeTest() { ConvPolicy.with({ $0.winogradMinimumTiles = 1 }) { super.invokeTest() } }

    var gen = SeededGenerator(seed: 12)

    /// 32 px, the same structure as H128 with narrow layers.
    static func small(pixelLoss: Bool = false) -> H128Config {
        H128Config(resolution: 32, encoderDims: 4, aeDims: 8, decoderDims: 8, pixelLoss: pixelLoss)
    }

    func testMAELossValuesAndGradient() {
        let p = randomTensor([2, 6, 5, 3], &gen, in: 0...1), t = randomTensor([2, 6, 5, 3], &gen, in: 0...1)
        let loss = MAELoss(scale: 3)
        let values = loss(p, t)
        for s in 0..<2 {
            var sum = 0.0
            for i in (s * 90)..<((s + 1) * 90) { sum += Double(abs(p[i] - t[i])) }
            XCTAssertEqual(Double(values[s]), 3 * sum / 90, accuracy: 1e-5)
        }
        // Central differences (no element is within eps of its target: |p - t| is continuous there).
        let g = Tensor(shape: [0])
        _ = loss.evaluate(prediction: p, target: t, gradient: g, accumulate: false)
        let idx = sampleIndices(p.count, 40, &gen).filter { abs(p[$0] - t[$0]) > 2e-3 }
        XCTAssertGreaterThan(idx.count, 30)
        let num = numericGradient(of: { loss(p, t).reduce(0.0) { $0 + Double($1) } }, wrt: p, at: idx, eps: 1e-3)
        XCTAssertLessThan(relativeError(idx.map { Double(g[$0]) }, num), 1e-2)
        // accumulate adds to what is there.
        let before = g.values
        _ = loss.evaluate(prediction: p, target: t, gradient: g, accumulate: true)
        for i in 0..<p.count { XCTAssertEqual(g[i], 2 * before[i], accuracy: 1e-7) }
    }

    /// The direct output convolution equals Conv2D (im2col + GEMM) on the same weights, outputs
    /// and all three gradients, at the image border too, and passes the finite-difference check.
    func testNarrowConvolutionMatchesConv2DAndItsGradients() {
        for (cin, cout, k, act) in [(16, 3, 5, Activation.sigmoid), (12, 1, 5, .sigmoid), (5, 2, 3, .identity), (9, 3, 4, .leakyReLU(0.1))] {
            let a = Conv2D(inChannels: cin, outChannels: cout, kernelSize: k, activation: act)
            a.useWinograd = false
            a.initialize(using: &gen)
            for i in 0..<cout { a.bias!.value[i] = Float(i) * 0.1 - 0.05 }
            let b = NarrowConv2D(inChannels: cin, outChannels: cout, kernelSize: k, activation: act)
            b.weight.value.copy(from: a.weight.value)
            b.bias.value.copy(from: a.bias!.value)
            let x = randomTensor([2, 9, 7, cin], &gen)
            let ya = a.forward(x).values, yb = b.forward(x).values
            for i in 0..<ya.count { XCTAssertEqual(ya[i], yb[i], accuracy: 1e-5, "cin \(cin) cout \(cout) k \(k): output \(i)") }
            let dy = randomTensor([2, 9, 7, cout], &gen)
            let dxa = a.backward(dy).values, dxb = b.backward(dy).values
            for i in 0..<dxa.count { XCTAssertEqual(dxa[i], dxb[i], accuracy: 1e-5, "input gradient \(i)") }
            let dwa = a.weight.gradient.values, dwb = b.weight.gradient.values
            for i in 0..<dwa.count { XCTAssertEqual(dwa[i], dwb[i], accuracy: 1e-4, "kernel gradient \(i)") }
            for i in 0..<cout { XCTAssertEqual(a.bias!.gradient[i], b.bias.gradient[i], accuracy: 1e-5, "bias gradient \(i)") }
            // Finite differences where the activation is smooth (leaky ReLU's kink makes them
            // unreliable; that case is covered by the equality with Conv2D above).
            if act != .leakyReLU(0.1) { checkLayerGradients(b, input: randomTensor([2, 6, 7, cin], &gen, in: 0...1)) }
        }
    }

    func testShapesAndParameterNames() throws {
        let c = H128Config(resolution: 64, encoderDims: 8, aeDims: 16, decoderDims: 16)
        let model = try H128(config: c, seed: 1)
        let shapes = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.parameter.value.shape) })
        XCTAssertEqual(shapes["encoder.down1.weight"], [5, 5, 3, 8])
        XCTAssertEqual(shapes["encoder.down4.weight"], [5, 5, 32, 64])
        XCTAssertEqual(shapes["encoder.dense1.weight"], [4 * 4 * 64, 16])
        XCTAssertEqual(shapes["encoder.dense2.weight"], [16, 4 * 4 * 16])
        XCTAssertEqual(shapes["encoder.up.weight"], [3, 3, 16, 64])
        XCTAssertEqual(shapes["decoder_src.up0.weight"], [3, 3, 16, 64])
        XCTAssertEqual(shapes["decoder_src.up2.weight"], [3, 3, 8, 16])
        XCTAssertEqual(shapes["decoder_dst.out.weight"], [5, 5, 4, 3])
        XCTAssertEqual(shapes["decoder_dst.mask_up1.weight"], [3, 3, 16, 32])
        XCTAssertEqual(shapes["decoder_src.mask_out.weight"], [5, 5, 4, 1])
        XCTAssertEqual(model.namedParameters.count, 2 * 7 + 2 * 2 * 2 * 4)
        XCTAssertTrue(model.optimizer is Adam)
        let adam = model.optimizer as! Adam
        XCTAssertEqual([adam.learningRate, adam.beta1, adam.beta2], [5e-5, 0.5, 0.999])
        // DeepFaceLab's sizes: the first dense layer of H128 is 8*8*1024 x 512.
        XCTAssertEqual(H128Config.h128.lowestDenseResolution * H128Config.h128.lowestDenseResolution * 8 * H128Config.h128.encoderDims, 65_536)
        XCTAssertEqual(H128Config.h128.dssimFilterSize, 11)
        XCTAssertEqual(H128Config.h128.maskBlurSigma, 4)
        XCTAssertEqual(H128Config.lighter.aeDims, 256)
        XCTAssertEqual(H128Config.lighter.decoderDims, 256)

        let faces = try fixtureFaces(["d18_f0.ppm", "d19_f0.ppm"], size: 64)
        let (image, mask) = model.predict(faces, decoder: .src)
        XCTAssertEqual(image.shape, [2, 64, 64, 3])
        XCTAssertEqual(mask.shape, [2, 64, 64, 1])
        XCTAssertTrue(image.values.allSatisfy { $0 > 0 && $0 < 1 })
        XCTAssertTrue(mask.values.allSatisfy { $0 > 0 && $0 < 1 })
        XCTAssertThrowsError(try H128(config: H128Config(resolution: 40, encoderDims: 4, aeDims: 8, decoderDims: 8)))
    }

    /// Encoder and both decoder branches as layers, then the whole training composition (stacked
    /// encoder pass, both decoders, blurred-mask DSSIM or MSE plus mask MAE) along each weight's
    /// gradient direction, for both image losses.
    ///
    /// The targets sit near the model's own outputs (image +-0.05 per element, mask +-0.05): the
    /// summed loss stays small, so float rounding of its value does not swamp the tiny mask-branch
    /// gradients (the MAE gradient is 1/(R*R) per pixel), and |mask - target| stays far from MAE's
    /// kink. The step along the gradient grows as its norm shrinks (3e-3 for the image branch and
    /// encoder, up to 3e-2 for the mask branch), so every change of the loss is well above rounding.
    func testGradientsEndToEnd() throws {
        let model = try H128(config: Self.small(), seed: 3)
        checkCompositeGradients(model.encoder, input: randomTensor([2, 32, 32, 3], &gen, in: 0...1), checkInput: false)
        checkCompositeGradients(model.decoderSrc.image, input: randomTensor([2, 4, 4, 8], &gen))
        checkCompositeGradients(model.decoderDst.mask, input: randomTensor([2, 4, 4, 8], &gen))

        for pixelLoss in [false, true] {
            let r = 64
            let model = try H128(config: H128Config(resolution: r, encoderDims: 4, aeDims: 8, decoderDims: 8, pixelLoss: pixelLoss), seed: 3)
            let src = TrainingBatch(warped: randomTensor([2, r, r, 3], &gen, in: 0...1), target: Tensor(shape: [2, r, r, 3]), mask: Tensor(shape: [2, r, r, 1]))
            let dst = TrainingBatch(warped: randomTensor([2, r, r, 3], &gen, in: 0...1), target: Tensor(shape: [2, r, r, 3]), mask: Tensor(shape: [2, r, r, 1]))
            for (b, role) in [(src, FaceRole.src), (dst, FaceRole.dst)] {
                let o = model.predict(b.warped, decoder: role)
                for i in 0..<b.target.count { b.target[i] = min(1, max(0, o.image[i] + (i % 2 == 0 ? 0.05 : -0.05))) }
                for i in 0..<b.mask.count { b.mask[i] = min(1, max(0, o.mask[i] + (i % 3 == 0 ? 0.05 : -0.05))) }
            }
            let (params, grads, total) = probeGradients(model, src: src, dst: dst)
            var checked = 0
            for (k, p) in params.enumerated() where p.name.hasSuffix(".weight") {
                let norm = grads[k].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                XCTAssertGreaterThan(norm, 0, p.name)
                let eps = min(3e-2, max(3e-3, 3e-6 / norm))
                let ratio = directionalRatio(of: total, wrt: p.parameter.value, gradient: grads[k], eps: eps)
                XCTAssertEqual(ratio, 1, accuracy: 5e-2, "pixel loss \(pixelLoss): directional derivative / |gradient| of \(p.name) (norm \(norm))")
                checked += 1
            }
            XCTAssertEqual(checked, 23)
        }
    }

    /// Both losses fit two real faces per role (inputs = targets) with Adam at a test-sized rate.
    func testFitsRealFacesWithEitherLoss() throws {
        let src = try fixtureFaces(["astronaut_a.ppm", "astronaut_b.ppm"], size: 32)
        let dst = try fixtureFaces(["d18_f0.ppm", "d19_f0.ppm"], size: 32)
        let mask = ellipseMask(batch: 2, size: 32)
        let s = TrainingBatch(warped: src, target: src, mask: mask), d = TrainingBatch(warped: dst, target: dst, mask: mask)
        for pixelLoss in [false, true] {
            let config = H128Config(resolution: 32, encoderDims: 8, aeDims: 32, decoderDims: 16, pixelLoss: pixelLoss)
            let model = try H128(config: config, seed: 42, optimizer: Adam(learningRate: 1e-3, beta1: 0.5, beta2: 0.999))
            let first = model.trainStep(src: s, dst: d)
            var last = first
            for _ in 1..<100 { last = model.trainStep(src: s, dst: d) }
            print("H128 small, pixel loss \(pixelLoss): first \(first.srcMean) / \(first.dstMean), after 100 steps \(last.srcMean) / \(last.dstMean)")
            XCTAssertLessThan(last.srcMean, 0.4 * first.srcMean, "pixel loss \(pixelLoss): src")
            XCTAssertLessThan(last.dstMean, 0.4 * first.dstMean, "pixel loss \(pixelLoss): dst")
            // The learned mask approaches the target: inside the ellipse high, outside low.
            let m = model.predict(dst, decoder: .dst).mask
            XCTAssertGreaterThan(m[(16 * 32 + 16)], 0.6)
            XCTAssertLessThan(m[(1 * 32 + 1)], 0.4)
        }
    }

    func testSaveAndLoadGiveIdenticalOutputsAndState() throws {
        let src = try fixtureFaces(["astronaut_a.ppm", "astronaut_b.ppm"], size: 32)
        let mask = ellipseMask(batch: 2, size: 32)
        let batch = TrainingBatch(warped: src, target: src, mask: mask)
        let a = try H128(config: Self.small(), seed: 1)
        for _ in 0..<3 { a.trainStep(src: batch, dst: batch) }
        let saved = a.exportTensors()
        XCTAssertTrue(saved.contains { $0.name == "optimizer.m.encoder.dense1.weight" })
        let b = try H128(config: Self.small(), seed: 2)
        XCTAssertNotEqual(b.predict(src, decoder: .src).image.values, a.predict(src, decoder: .src).image.values)
        try b.importTensors(saved)
        XCTAssertEqual(b.predict(src, decoder: .src).image.values, a.predict(src, decoder: .src).image.values)
        XCTAssertEqual(b.predict(src, decoder: .dst).mask.values, a.predict(src, decoder: .dst).mask.values)
        // The next step is the same too (Adam moments and step count came back).
        let la = a.trainStep(src: batch, dst: batch), lb = b.trainStep(src: batch, dst: batch)
        XCTAssertEqual(la.src, lb.src)
        XCTAssertEqual(a.exportTensors(), b.exportTensors())
        // A Quick96 checkpoint does not load into an H128.
        let q = try Quick96(config: Quick96Config(resolution: 32, encoderDims: 4, aeDims: 8, decoderDims: 4, maskDims: 2), seed: 1)
        XCTAssertThrowsError(try b.importTensors(q.exportTensors()))
    }
}
