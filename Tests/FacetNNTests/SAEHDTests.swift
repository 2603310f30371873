/// SAEHD: DeepFaceLab's sizes and options, every archi variant's gradients against finite differences, the
/// liae code routing, and fitting real faces.
import XCTest
import FacetCore
@testable import FacetNN

final class SAEHDTests: XCTestCase {
    override func invokeTest() { ConvPolicy.with({ $0.winogradMinimumTiles = 1 }) { super.invokeTest() } }

    var gen = SeededGenerator(seed: 24)

    static let archis = ["df", "df-u", "df-d", "df-t", "df-ud", "df-udt", "liae", "liae-u", "liae-d", "liae-t",
                         "liae-ud", "liae-udt"]

    /// 64 px with narrow layers.
    static func tiny(_ archi: String) -> SAEHDConfig {
        SAEHDConfig(resolution: 64, archi: archi, aeDims: 8, eDims: 4, dDims: 4, dMaskDims: 2)
    }

    func testDeepFaceLabDefaultsAndRefusals() throws {
        let d = SAEHDConfig.deepFaceLab
        XCTAssertEqual([d.resolution, d.aeDims, d.eDims, d.dDims, d.dMaskDims], [128, 256, 64, 64, 22])
        XCTAssertEqual(d.archi, "liae-ud")
        XCTAssertEqual(SAEHDConfig.defaultMaskDims(dDims: 96), 32)
        XCTAssertEqual(SAEHDConfig.defaultMaskDims(dDims: 48), 16)
        // liae-ud at 128: the dense bottleneck is 4x4, inter_AB's code 8x8 with 512 channels, the decoder reads 1024.
        XCTAssertEqual(d.lowestDenseResolution, 4)
        XCTAssertEqual(d.decoderInDims, 1024)
        XCTAssertEqual(d.dssimTerms.map(\.filterSize), [11])
        XCTAssertEqual(d.dssimTerms.map(\.weight), [10])
        XCTAssertEqual(d.maskBlurSigma, 4)
        let big = SAEHDConfig(resolution: 256)
        XCTAssertEqual(big.dssimTerms.map(\.filterSize), [22, 11])
        XCTAssertEqual(big.dssimTerms.map(\.weight), [5, 5])
        XCTAssertEqual(SAEHDConfig(resolution: 64).dssimTerms.map(\.filterSize), [5])
        XCTAssertEqual(SAEHDConfig(resolution: 160, archi: "df").lowestDenseResolution, 10)

        for (bad, what) in [(SAEHDConfig(archi: "dfl"), "must be df or liae"), (SAEHDConfig(archi: "liae-x"), "any of u"),
                            (SAEHDConfig(archi: "liae-"), "any of u"), (SAEHDConfig(archi: "df-uu"), "each once"),
                            (SAEHDConfig(resolution: 80, archi: "df-d"), "multiple of 32"),
                            (SAEHDConfig(resolution: 72, archi: "df"), "multiple of 16"),
                            (SAEHDConfig(aeDims: 0), "positive")] {
            XCTAssertThrowsError(try bad.validate(), bad.archi) { e in
                XCTAssertTrue("\(e)".contains(what), "\(e)")
            }
        }
        XCTAssertNoThrow(try SAEHDConfig(resolution: 80, archi: "df-u").validate())
    }

    /// Parameter shapes of DeepFaceLab's default liae-ud at 128 px, layer for layer as DeepFakeArchi builds them,
    /// and the total, which `Tools/bench saehd`'s TensorFlow graph (written from DeepFaceLab's source) also reports.
    func testDefaultLIAEUDShapes() throws {
        let model = try SAEHD(config: .deepFaceLab, seed: 1)
        let shapes = Dictionary(uniqueKeysWithValues: model.namedParameters.map { ($0.name, $0.parameter.value.shape) })
        XCTAssertEqual(shapes["encoder.down1.weight"], [5, 5, 3, 64])
        XCTAssertEqual(shapes["encoder.down4.weight"], [5, 5, 256, 512])
        XCTAssertEqual(shapes["inter_AB.dense1.weight"], [8 * 8 * 512, 256])
        XCTAssertEqual(shapes["inter_B.dense2.weight"], [256, 4 * 4 * 512])
        XCTAssertEqual(shapes["inter_AB.up.weight"], [3, 3, 512, 2048])
        XCTAssertEqual(shapes["decoder.up0.weight"], [3, 3, 1024, 2048])
        XCTAssertEqual(shapes["decoder.res0.conv1.weight"], [3, 3, 512, 512])
        XCTAssertEqual(shapes["decoder.up2.weight"], [3, 3, 256, 512])
        XCTAssertEqual(shapes["decoder.out.conv0.weight"], [1, 1, 128, 3])
        XCTAssertEqual(shapes["decoder.out.conv3.weight"], [3, 3, 128, 3])
        XCTAssertEqual(shapes["decoder.mask_up0.weight"], [3, 3, 1024, 704])
        XCTAssertEqual(shapes["decoder.mask_up3.weight"], [3, 3, 44, 88])
        XCTAssertEqual(shapes["decoder.mask_out.weight"], [1, 1, 22, 1])
        XCTAssertNil(shapes["decoder_src.up0.weight"])
        XCTAssertEqual(model.parameterCount, Self.tensorFlowParameterCount)
        XCTAssertTrue(model.optimizer is AdaBelief)
        XCTAssertEqual((model.optimizer as! AdaBelief).learningRate, 5e-5)
    }

    /// Trainable floats of DeepFaceLab's SAEHD liae-ud 128 (ae 256, e 64, d 64, d_mask 22) as TensorFlow counts
    /// them in `Tools/bench/saehd_tf.py --count` (the graph written from DeepFaceLab's source).
    static let tensorFlowParameterCount = 82_376_555

    /// Every variant's encoder, inter(s) and decoder branches as composite layers (L = sum(r * output), summed in
    /// double precision) against central differences along each parameter's gradient and the input's.
    func testLayerGradientsForEveryArchi() throws {
        for archi in Self.archis {
            let c = Self.tiny(archi), model = try SAEHD(config: c, seed: 3)
            let o = c.encoderOutResolution, low = c.lowestDenseResolution, code = c.deeper ? low : 2 * low
            checkCompositeGradients(model.encoder, input: randomTensor([2, 64, 64, 3], &gen, in: 0...1), checkInput: false)
            checkCompositeGradients(model.inter, input: randomTensor([2, o * o * c.eDims * 8], &gen))
            if let b = model.interB { checkCompositeGradients(b, input: randomTensor([2, o * o * c.eDims * 8], &gen)) }
            checkCompositeGradients(model.decoderSrc.image, input: randomTensor([2, code, code, c.decoderInDims], &gen))
            // The mask branch's small gradients need a larger step than 1e-4 (see GradientTests' Quick96 mask
            // branch), and its last upscale's bias a smaller one than 1e-2 (a bias step moves every pixel of a
            // channel, so 1e-2 carries many across the leaky ReLU's kink).
            checkCompositeGradients(model.decoderDst.mask, input: randomTensor([2, code, code, c.decoderInDims], &gen),
                                    eps: 1e-3)
            let out = model.predict(randomTensor([1, 64, 64, 3], &gen, in: 0...1), decoder: .dst)
            XCTAssertEqual(out.image.shape, [1, 64, 64, 3], archi)
            XCTAssertEqual(out.mask.shape, [1, 64, 64, 1], archi)
        }
    }

    /// The whole training step of both families (the stacked encoder pass; df's two decoders; liae's inter_AB on
    /// both batches, inter_B on dst, the AB|AB and B|AB codes through one decoder and their gradients split back;
    /// DSSIM + MSE under the clipped blurred mask, the mask MSE, the eyes-and-mouth term, blur-out-mask targets)
    /// against central differences of the summed loss along chosen weights' gradients.
    func testStepGradientsEndToEnd() throws {
        let r = 64
        let names = ["df-ud": ["encoder.down1.weight", "encoder.down4.weight", "inter.dense1.weight", "inter.up.weight",
                               "decoder_src.up0.weight", "decoder_src.res0.conv1.weight", "decoder_dst.out.conv0.weight",
                               "decoder_dst.mask_up0.weight"],
                     "liae-ud": ["encoder.down1.weight", "encoder.down4.weight", "inter_AB.dense1.weight",
                                 "inter_AB.up.weight", "inter_B.dense1.weight", "inter_B.up.weight", "decoder.up0.weight",
                                 "decoder.res0.conv1.weight", "decoder.out.conv0.weight", "decoder.mask_up0.weight"]]
        // A fixed order and a fresh generator per archi: the same inputs in every run (a dictionary's order changes
        // from process to process).
        for (archi, checked) in names.sorted(by: { $0.key < $1.key }) {
            gen = SeededGenerator(seed: 24)
            let model = try SAEHD(config: Self.tiny(archi), seed: 3)
            model.lossOptions = LossOptions(masked: true, eyesMouthWeight: 3)
            model.targetOptions.blurOutMask = archi.hasPrefix("liae")
            func batch() -> TrainingBatch {
                TrainingBatch(warped: randomTensor([2, r, r, 3], &gen, in: 0...1), target: Tensor(shape: [2, r, r, 3]),
                              mask: Tensor(shape: [2, r, r, 1]), priority: ellipseMask(batch: 2, size: r))
            }
            let src = batch(), dst = batch()
            for (b, role) in [(src, FaceRole.src), (dst, FaceRole.dst)] {
                let o = model.predict(b.warped, decoder: role)
                for i in 0..<b.target.count { b.target[i] = min(1, max(0, o.image[i] + (i % 2 == 0 ? 0.05 : -0.05))) }
                for i in 0..<b.mask.count { b.mask[i] = min(1, max(0, o.mask[i] + (i % 3 == 0 ? 0.05 : -0.05))) }
            }
            // The losses of the step are those of `evaluate` (the same forward).
            let stepLosses = model.computeGradients(src: src, dst: dst), evaluated = model.evaluate(src: src, dst: dst)
            for (a, b) in zip(stepLosses.src + stepLosses.dst, evaluated.src + evaluated.dst) {
                XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), archi)
            }
            let (params, grads, total) = probeGradients(model, src: src, dst: dst)
            for name in checked {
                guard let k = params.firstIndex(where: { $0.name == name }) else { return XCTFail("\(archi): no \(name)") }
                let norm = grads[k].reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                XCTAssertGreaterThan(norm, 0, "\(archi): \(name)")
                let ratio = directionalRatio(of: total, wrt: params[k].parameter.value, gradient: grads[k], eps: 1e-3)
                XCTAssertEqual(ratio, 1, accuracy: 5e-2, "\(archi): d/d(\(name)) (norm \(norm))")
            }
        }
    }

    /// liae's swap reads only inter_AB (both halves of the code), so inter_B's weights change the dst
    /// reconstruction but not the swap; df's swap reads only the src decoder.
    func testCodeRouting() throws {
        let faces = try fixtureFaces(["d18_f0.ppm", "d19_f0.ppm"], size: 64)
        let liae = try SAEHD(config: Self.tiny("liae-ud"), seed: 5)
        let swap = liae.predict(faces, decoder: .src).image.values, rec = liae.predict(faces, decoder: .dst).image.values
        XCTAssertNotEqual(swap, rec)
        for (_, p) in liae.interB!.namedParameters { for i in 0..<p.value.count { p.value[i] *= 1.5 } ; p.valueChanged() }
        XCTAssertEqual(liae.predict(faces, decoder: .src).image.values, swap)
        XCTAssertNotEqual(liae.predict(faces, decoder: .dst).image.values, rec)

        let df = try SAEHD(config: Self.tiny("df-ud"), seed: 5)
        let s = df.predict(faces, decoder: .src).image.values
        for (_, p) in df.decoderDst.image.namedParameters { for i in 0..<p.value.count { p.value[i] *= 1.5 } ; p.valueChanged() }
        XCTAssertEqual(df.predict(faces, decoder: .src).image.values, s)
    }

    /// Both families fit two real faces per role (inputs = targets) at a test-sized learning rate.
    func testFitsRealFaces() throws {
        let src = try fixtureFaces(["astronaut_a.ppm", "astronaut_b.ppm"], size: 64)
        let dst = try fixtureFaces(["d18_f0.ppm", "d19_f0.ppm"], size: 64)
        let mask = ellipseMask(batch: 2, size: 64)
        let s = TrainingBatch(warped: src, target: src, mask: mask), d = TrainingBatch(warped: dst, target: dst, mask: mask)
        for archi in ["df-ud", "liae-ud"] {
            let config = SAEHDConfig(resolution: 64, archi: archi, aeDims: 32, eDims: 8, dDims: 8, dMaskDims: 4)
            let model = try SAEHD(config: config, seed: 42, optimizer: AdaBelief(learningRate: 1e-3))
            let first = model.trainStep(src: s, dst: d)
            var last = first
            for _ in 1..<60 { last = model.trainStep(src: s, dst: d) }
            print("SAEHD \(archi) 64 px: first \(first.srcMean) / \(first.dstMean), after 60 steps \(last.srcMean) / \(last.dstMean)")
            XCTAssertLessThan(last.srcMean, 0.5 * first.srcMean, "\(archi): src")
            XCTAssertLessThan(last.dstMean, 0.5 * first.dstMean, "\(archi): dst")
        }
    }
}
