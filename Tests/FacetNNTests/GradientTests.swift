/// Every layer's and loss's backward pass against central finite differences.
import XCTest
@testable import FacetNN

final class GradientTests: XCTestCase {
    // Small test images would otherwise fall below the size where Winograd is used: every test of this class runs
    // under a policy that takes Winograd from one tile (bound for the test's scope; no global is changed).
    override func invokeTest() { ConvPolicy.with({ $0.winogradMinimumTiles = 1 }) { super.invokeTest() } }

    var gen = SeededGenerator(seed: 7)

    func conv(_ cin: Int, _ cout: Int, k: Int, s: Int, _ act: Activation = .identity,
              padding: ConvPadding = .same) -> Conv2D {
        let c = Conv2D(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: padding, activation: act)
        c.initialize(using: &gen)
        for i in 0..<cout { c.bias!.value[i] = Float(i) * 0.1 - 0.1 }
        return c
    }

    func testConvolutionGradients() {
        for (k, s, act) in [(3, 1, Activation.identity), (5, 2, .leakyReLU(0.1)), (1, 1, .identity), (3, 2, .leakyReLU(0.2)),
                            (4, 2, .identity), (3, 1, .sigmoid)] {
            let layer = conv(3, 4, k: k, s: s, act)
            let x = randomTensor([2, 6, 7, 3], &gen)
            let err = checkLayerGradients(layer, input: x)
            XCTAssertLessThan(err, 1e-2, "conv k\(k) s\(s)")
        }
    }

    /// Symmetric padding (leras's SAME: `k / 2` zeros on every side), where it differs from TensorFlow's (stride 2,
    /// even kernels), on even and odd sizes, through im2col.
    func testSymmetricPaddingConvolutionGradients() {
        for (k, s, h, w) in [(5, 2, 6, 8), (5, 2, 7, 5), (4, 2, 6, 6), (3, 2, 5, 6), (4, 1, 5, 4)] {
            let layer = conv(3, 4, k: k, s: s, .leakyReLU(0.1), padding: .symmetric)
            layer.useWinograd = false
            let x = randomTensor([2, h, w, 3], &gen)
            XCTAssertEqual(layer.forward(x).shape, [2, (h + 2 * (k / 2) - k) / s + 1, (w + 2 * (k / 2) - k) / s + 1, 4])
            let err = checkLayerGradients(layer, input: x)
            XCTAssertLessThan(err, 1e-2, "symmetric conv k\(k) s\(s) \(h)x\(w)")
        }
    }

    func testWinogradConvolutionGradients() {
        for tile in [2, 4] { ConvPolicy.with({ $0.winogradTile = tile }) {
            let layer = conv(8, 16, k: 3, s: 1, .leakyReLU(0.1))
            layer.useWinograd = true
            XCTAssertTrue(layer.winogradApplies)
            checkLayerGradients(layer, input: randomTensor([2, 5, 6, 8], &gen))
            checkLayerGradients(layer, input: randomTensor([1, 9, 8, 8], &gen))
        } }
    }

    /// The space-to-depth + Winograd path of 5x5 stride-2 convolutions against finite differences
    /// (without activation: a leaky ReLU's kink inside the difference step gives the im2col path
    /// the same 1.7% bias-gradient error on some inputs; ConvolutionTests compares the two paths
    /// with activations).
    func testSpaceToDepthConvolutionGradients() {
        for tile in [2, 4] { ConvPolicy.with({ $0.winogradTile = tile }) {
            for (cin, padding) in [(3, ConvPadding.same), (8, .same), (5, .same), (3, .symmetric), (8, .symmetric)] {
                let layer = conv(cin, 8, k: 5, s: 2, padding: padding)
                layer.useWinograd = true
                XCTAssertEqual(layer.spaceToDepthTile(height: 6, width: 8), tile)
                checkLayerGradients(layer, input: randomTensor([2, 6, 8, cin], &gen))
            }
            let first = conv(3, 16, k: 5, s: 2)
            first.useWinograd = true
            first.computesInputGradient = false
            checkLayerGradients(first, input: randomTensor([1, 10, 4, 3], &gen), checkInput: false)
        } }
    }

    func testDenseGradients() {
        let d = Dense(inFeatures: 12, outFeatures: 5)
        d.initialize(using: &gen)
        checkLayerGradients(d, input: randomTensor([3, 2, 2, 3], &gen))
    }

    func testActivationGradients() {
        checkLayerGradients(LeakyReLU(slope: 0.2), input: randomTensor([2, 3, 3, 4], &gen))
        checkLayerGradients(Sigmoid(), input: randomTensor([2, 3, 3, 4], &gen, in: -3...3))
    }

    func testReshapeShuffleAndNormGradients() {
        checkLayerGradients(DepthToSpace(blockSize: 2), input: randomTensor([2, 3, 2, 8], &gen))
        checkLayerGradients(Reshape(to: [24]), input: randomTensor([2, 2, 3, 4], &gen))
        checkLayerGradients(PixelNorm(), input: randomTensor([3, 10], &gen))
        checkLayerGradients(GaussianBlur(sigma: 1), input: randomTensor([2, 7, 6, 2], &gen))
    }

    func testResidualConcatAndUpscaleGradients() {
        let res = Residual(Sequential([("conv1", conv(4, 4, k: 3, s: 1, .leakyReLU(0.2))), ("conv2", conv(4, 4, k: 3, s: 1))]),
                           activation: .leakyReLU(0.2))
        checkLayerGradients(res, input: randomTensor([2, 5, 5, 4], &gen))
        let cat = ConcatChannels([("a", conv(3, 2, k: 1, s: 1)), ("b", conv(3, 3, k: 3, s: 1))])
        checkLayerGradients(cat, input: randomTensor([2, 4, 5, 3], &gen))
        let up = Upscale(3, 2)
        for (_, p) in up.namedParameters { p.value.initializeGlorot(using: &gen) }
        checkLayerGradients(up, input: randomTensor([2, 3, 3, 3], &gen))
    }

    /// The layers of dlib's face-recognition ResNet: VALID (unpadded) strided convolutions, max and
    /// average pooling, the global average, and the residual add of differently sized branches.
    func testDlibResNetLayerGradients() {
        func valid(_ cin: Int, _ cout: Int, k: Int, s: Int, _ act: Activation = .identity) -> Conv2D {
            let c = Conv2D(inChannels: cin, outChannels: cout, kernelSize: k, stride: s, padding: .valid, activation: act)
            c.initialize(using: &gen)
            for i in 0..<cout { c.bias!.value[i] = Float(i) * 0.1 - 0.1 }
            return c
        }
        let c7 = valid(3, 4, k: 7, s: 2)
        XCTAssertEqual(c7.forward(randomTensor([1, 150, 150, 3], &gen)).shape, [1, 72, 72, 4])
        checkLayerGradients(c7, input: randomTensor([2, 9, 11, 3], &gen))
        checkLayerGradients(valid(3, 5, k: 3, s: 2, .leakyReLU(0.2)), input: randomTensor([2, 7, 8, 3], &gen))

        let maxPool = Pool2D(.max, window: 3, stride: 2)
        XCTAssertEqual(maxPool.forward(randomTensor([1, 72, 72, 1], &gen)).shape, [1, 35, 35, 1])
        // Distinct values 0.01 apart, so that no finite-difference step changes which input is a window's maximum.
        var order = Array(0..<(2 * 7 * 8 * 3))
        order.shuffle(using: &gen)
        checkLayerGradients(maxPool, input: Tensor(shape: [2, 7, 8, 3], values: order.map { Float($0) * 0.01 - 1.6 }))
        let avgPool = Pool2D(.average, window: 2, stride: 2)
        XCTAssertEqual(avgPool.forward(randomTensor([1, 35, 17, 1], &gen)).shape, [1, 17, 8, 1])
        checkLayerGradients(avgPool, input: randomTensor([2, 7, 6, 3], &gen))
        let x = Tensor(shape: [1, 2, 2, 1], values: [1, 5, -2, 3])
        XCTAssertEqual(Pool2D(.max, window: 2, stride: 2).forward(x).values, [5])
        XCTAssertEqual(Pool2D(.average, window: 2, stride: 2).forward(x).values, [1.75])
        XCTAssertEqual(GlobalAveragePool().forward(x).values, [1.75])
        checkLayerGradients(GlobalAveragePool(), input: randomTensor([2, 3, 4, 5], &gen))

        // A strided block meeting its pooled shortcut: body 3x3x6, shortcut 4x4x4, sum 4x4x6.
        // (Without activations: a leaky ReLU's kink inside the difference step biases a bias gradient by
        // about 1.6% on this input; the residual with an activation is checked below.)
        let down = PaddedResidual(body: Sequential([("conv1", valid(4, 6, k: 3, s: 2)), ("conv2", conv(6, 6, k: 3, s: 1))]),
                                  shortcut: Pool2D(.average, window: 2, stride: 2))
        XCTAssertEqual(down.forward(randomTensor([2, 8, 8, 4], &gen)).shape, [2, 4, 4, 6])
        checkLayerGradients(down, input: randomTensor([2, 8, 8, 4], &gen))
        // dlib's zero extension: the shortcut's value alone where the body has no pixel or channel.
        let identityBody = PaddedResidual(body: Pool2D(.average, window: 2, stride: 2), shortcut: nil)
        let y = identityBody.forward(Tensor(shape: [1, 2, 2, 1], values: [1, 5, -2, 3]))
        XCTAssertEqual(y.shape, [1, 2, 2, 1])
        XCTAssertEqual(y.values, [2.75, 5, -2, 3])
        checkLayerGradients(PaddedResidual(body: conv(3, 3, k: 3, s: 1), shortcut: nil, activation: .leakyReLU(0.2)),
                            input: randomTensor([2, 4, 5, 3], &gen))
    }

    func testParallelConvsEqualConcatenatedConvolutions() {
        // Im2col with 8 channels; then Winograd with 9 channels padded to 16 inside.
        for (cin, ks, couts) in [(5, [1, 3, 5], [3, 3, 2]), (8, [1, 3, 3], [3, 3, 3])] {
            let convs = zip(ks, couts).map { conv(cin, $0.1, k: $0.0, s: 1) }
            let fused = ParallelConvs(convs.enumerated().map { ("c\($0.offset)", $0.element) })
            let plain = ConcatChannels(convs.enumerated().map { ("c\($0.offset)", $0.element as any Layer) })
            let total = couts.reduce(0, +)
            let x = randomTensor([2, 8, 7, cin], &gen)
            let y1 = fused.forward(x).values, y2 = plain.forward(x).values
            XCTAssertEqual(y1.count, 2 * 8 * 7 * total)
            for i in 0..<y1.count { XCTAssertEqual(y1[i], y2[i], accuracy: 1e-5) }
            let dy = randomTensor([2, 8, 7, total], &gen)
            let dx2 = plain.backward(dy).values
            let g2 = plain.namedParameters.map { $0.parameter.gradient.values }
            let dx1 = fused.backward(dy).values
            let g1 = fused.namedParameters.map { $0.parameter.gradient.values }
            for i in 0..<dx1.count { XCTAssertEqual(dx1[i], dx2[i], accuracy: 1e-4) }
            for (a, b) in zip(g1, g2) { for i in 0..<a.count { XCTAssertEqual(a[i], b[i], accuracy: 1e-3 * max(1, abs(b[i]))) } }
            checkLayerGradients(fused, input: x)
        }
    }

    /// d(sum of per-sample losses)/d(prediction) against central differences.
    func checkLoss(_ loss: any ImageLoss, prediction: Tensor, target: Tensor, eps: Float = 1e-3, file: StaticString = #filePath, line: UInt = #line) {
        let g = Tensor(shape: [0])
        _ = loss.evaluate(prediction: prediction, target: target, gradient: g, accumulate: false)
        let analytic = g.values
        let idx = sampleIndices(prediction.count, 40, &gen)
        let num = numericGradient(of: { loss(prediction, target).reduce(0.0) { $0 + Double($1) } }, wrt: prediction, at: idx, eps: eps)
        let err = relativeError(idx.map { Double(analytic[$0]) }, num)
        XCTAssertLessThan(err, 1e-2, "\(type(of: loss)) gradient", file: file, line: line)
    }

    func testLossGradients() {
        let p = randomTensor([2, 12, 11, 3], &gen, in: 0...1), t = randomTensor([2, 12, 11, 3], &gen, in: 0...1)
        checkLoss(MSELoss(scale: 10), prediction: p, target: t)
        checkLoss(DSSIMLoss(filterSize: 5, sigma: 1.5, scale: 10), prediction: p, target: t)
        let mask = randomTensor([2, 12, 11, 1], &gen, in: 0...1)
        checkLoss(MaskedLoss(DSSIMLoss(filterSize: 4, sigma: 1.5, scale: 10), mask: mask), prediction: p, target: t)
        checkLoss(MaskedLoss(MSELoss(scale: 10), mask: mask), prediction: p, target: t)
    }

    func testLossValuesPerSample() {
        let p = randomTensor([3, 10, 10, 3], &gen, in: 0...1)
        let t = Tensor(shape: p.shape)
        t.copy(from: p)
        let dssim = DSSIMLoss(filterSize: 4, sigma: 1.5)
        XCTAssertEqual(dssim(p, t).count, 3)
        for v in dssim(p, t) { XCTAssertEqual(v, 0, accuracy: 1e-5, "identical images have DSSIM 0") }
        // Sample 1 differs: only its MSE is non-zero, and it equals the mean squared difference.
        for i in 300..<600 { t[i] = p[i] + 0.5 }
        let mse = MSELoss()(p, t)
        XCTAssertEqual(mse[0], 0)
        XCTAssertEqual(mse[1], 0.25, accuracy: 1e-6)
        XCTAssertEqual(mse[2], 0)
        XCTAssertGreaterThan(dssim(p, t)[1], 0.001)
    }

    func testQuick96EncoderAndInterGradients() throws {
        let model = try Quick96(config: Quick96Config(resolution: 32, encoderDims: 4, aeDims: 8, decoderDims: 4, maskDims: 2), seed: 3)
        checkCompositeGradients(model.encoder, input: randomTensor([3, 32, 32, 3], &gen, in: 0...1), checkInput: false)
        checkCompositeGradients(model.inter, input: randomTensor([3, 2, 2, 32], &gen))
        checkCompositeGradients(model.decoderSrc.image, input: randomTensor([2, 2, 2, 8], &gen))
        // The mask branch ends in a 1x1 conv (2 weights) under a sigmoid: that output weight's gradient is small, so at
        // eps 1e-3 or 1e-4 the float32 rounding of the summed loss (about 1e-6) is a large share of the central
        // difference, and the ratio wanders by up to 8% with the BLAS kernels' rounding (AMD EPYC: 1.07-1.09; the
        // AVX-512 Xeon happened to pass). The loss is smooth in that weight (only the sigmoid follows it) and the
        // leaky-ReLU kinks upstream stay far enough at eps 1e-2 (every parameter within 0.025 there, on both
        // Winograd and direct convolution), so the branch is checked at eps 1e-2 with the usual tolerance.
        checkCompositeGradients(model.decoderSrc.mask, input: randomTensor([2, 2, 2, 8], &gen), eps: 1e-2)
    }

    /// The whole Quick96 composition (stacked encoder pass, both decoders, blurred-mask losses)
    /// on a small configuration: parameter gradients of the summed loss against central differences.
    func testQuick96GradientsEndToEnd() throws {
        let model = try Quick96(config: Quick96Config(resolution: 32, encoderDims: 4, aeDims: 8, decoderDims: 4, maskDims: 2), seed: 3)
        let src = TrainingBatch(warped: randomTensor([2, 32, 32, 3], &gen, in: 0...1), target: randomTensor([2, 32, 32, 3], &gen, in: 0...1),
                                mask: ellipseMask(batch: 2, size: 32))
        let dst = TrainingBatch(warped: randomTensor([1, 32, 32, 3], &gen, in: 0...1), target: randomTensor([1, 32, 32, 3], &gen, in: 0...1),
                                mask: ellipseMask(batch: 1, size: 32))
        let (params, grads, total) = probeGradients(model, src: src, dst: dst)
        // The summed loss is a float near 30, too coarse for one-entry differences: each
        // parameter is checked along its own gradient direction instead.
        for name in ["encoder.down1.weight", "encoder.down4.bias", "inter.dense1.weight", "inter.up.weight",
                     "decoder_src.res0.conv1.weight", "decoder_src.out.conv0.weight", "decoder_dst.out.conv3.bias",
                     "decoder_dst.mask_up0.weight", "decoder_src.mask_up3.weight"] {
            guard let k = params.firstIndex(where: { $0.name == name }) else { return XCTFail("no parameter \(name)") }
            // `directionalRatio` is 1 for an all-zero gradient: a missing gradient must fail here instead.
            let norm = grads[k].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertGreaterThan(norm, 0, "the gradient of \(name) is zero")
            let ratio = directionalRatio(of: total, wrt: params[k].parameter.value, gradient: grads[k], eps: 1e-3)
            XCTAssertEqual(ratio, 1, accuracy: 5e-2, "directional derivative / |gradient| of \(name)")
        }
    }
}
