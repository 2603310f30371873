/// SAEHD's discriminators: DeepFaceLab's `find_archi` table, the layer shapes, every new layer's gradients and both
/// discriminators' losses against finite differences, and the whole generator step with GAN and true face on (the
/// adversarial gradient through the discriminator into the generator) against finite differences of its objective.
import XCTest
import FacetCore
@testable import FacetNN

final class SAEHDDiscriminatorTests: XCTestCase {
    override func invokeTest() { ConvPolicy.with({ $0.winogradMinimumTiles = 1 }) { super.invokeTest() } }

    var gen = SeededGenerator(seed: 31)

    /// `find_archi` of DeepFaceLab's `UNetPatchDiscriminator`, as its own Python code gives it (run on its source:
    /// core/leras/models/PatchDiscriminator.py at iperov/DeepFaceLab master).
    func testPatchArchitectureIsDeepFaceLabsFindArchi() {
        let expected: [Int: [Int]] = [  // patch size: the strides of the 3x3 convolutions
            3: [2], 4: [2], 5: [2], 6: [2, 2], 8: [2, 2], 10: [2, 1, 2], 12: [2, 1, 2], 14: [2, 2, 2], 16: [2, 2, 2],
            20: [2, 1, 2, 2], 24: [2, 2, 1, 2], 28: [2, 1, 2, 1, 2], 32: [2, 2, 2, 2], 40: [2, 2, 1, 2, 2],
            48: [2, 2, 2, 1, 2], 64: [2, 2, 2, 2, 2], 80: [2, 2, 2, 1, 2, 2], 100: [2, 1, 2, 2, 2, 1, 2],
            128: [2, 2, 2, 2, 2, 2], 200: [2, 2, 1, 2, 2, 2, 1, 2], 640: [2, 2, 2, 2, 2, 2, 1, 2, 2],
        ]
        for (patch, strides) in expected {
            let a = UNetPatchDiscriminator.architecture(patchSize: patch)
            XCTAssertEqual(a.map(\.stride), strides, "patch \(patch)")
            XCTAssertTrue(a.allSatisfy { $0.kernel == 3 }, "patch \(patch)")
        }
    }

    /// Shapes as leras builds them: level channels `min(dims * 2^(i + 1), 512)`, the transposed kernels `[k, k, out,
    /// in]` with the deepest first, the code discriminator's 4x4 first convolution and its 256, 512 channels.
    func testDiscriminatorShapes() {
        let d = UNetPatchDiscriminator(patchSize: 16, inChannels: 3, baseChannels: 16)
        let shapes = Dictionary(uniqueKeysWithValues: d.namedParameters.map { ($0.name, $0.parameter.value.shape) })
        XCTAssertEqual(d.namedParameters.map(\.name).prefix(4), ["in_conv.weight", "in_conv.bias", "convs.0.weight",
                                                                 "convs.0.bias"])
        XCTAssertEqual(shapes["in_conv.weight"], [1, 1, 3, 16])
        XCTAssertEqual(shapes["convs.0.weight"], [3, 3, 16, 32])
        XCTAssertEqual(shapes["convs.2.weight"], [3, 3, 64, 128])
        XCTAssertEqual(shapes["upconvs.0.weight"], [3, 3, 64, 128])
        XCTAssertEqual(shapes["upconvs.1.weight"], [3, 3, 32, 128])
        XCTAssertEqual(shapes["upconvs.2.weight"], [3, 3, 16, 64])
        XCTAssertEqual(shapes["out_conv.weight"], [1, 1, 32, 1])
        XCTAssertEqual(shapes["center_out.weight"], [1, 1, 128, 1])
        XCTAssertEqual(shapes["center_conv.weight"], [1, 1, 128, 128])
        XCTAssertEqual(d.namedParameters.count, 2 * 10)
        let wide = UNetPatchDiscriminator(patchSize: 640, inChannels: 3, baseChannels: 64)
        XCTAssertEqual(wide.namedParameters.first { $0.name == "convs.8.weight" }?.parameter.value.shape, [3, 3, 512, 512])

        var g = SeededGenerator(seed: 1)
        d.initialize(using: &g)
        let (center, out) = d.forward(randomTensor([2, 64, 64, 3], &gen, in: 0...1))
        XCTAssertEqual(center.shape, [2, 8, 8, 1])
        XCTAssertEqual(out.shape, [2, 64, 64, 1])

        let c = CodeDiscriminator(inChannels: 256, codeResolution: 8)
        let cs = Dictionary(uniqueKeysWithValues: c.namedParameters.map { ($0.name, $0.parameter.value.shape) })
        XCTAssertEqual(cs, ["convs.0.weight": [4, 4, 256, 256], "convs.0.bias": [256], "convs.1.weight": [3, 3, 256, 512],
                            "convs.1.bias": [512], "out_conv.weight": [1, 1, 512, 1], "out_conv.bias": [1]])
        c.initialize(using: &g)
        // leras pads 2 around the 4x4 kernel (8 -> 5) and 1 around the 3x3 (5 -> 3).
        XCTAssertEqual(c.forward(randomTensor([3, 8, 8, 256], &gen)).shape, [3, 3, 3, 1])
    }

    /// Every new layer against central differences, at odd and even sizes.
    func testLayerGradients() {
        for (k, s, h, w) in [(3, 2, 3, 4), (3, 1, 4, 3), (4, 2, 2, 3), (1, 1, 3, 3)] {
            // Entry by entry without the activation (exact for a linear map), then with it along the gradients.
            for activation in [Activation.identity, .leakyReLU(0.2)] {
                let t = Conv2DTranspose(inChannels: 5, outChannels: 4, kernelSize: k, stride: s, activation: activation)
                for (_, p) in t.namedParameters { for i in 0..<p.value.count { p.value[i] = gen.nextUnitFloat() - 0.5 } }
                let x = randomTensor([2, h, w, 5], &gen)
                XCTAssertEqual(t.forward(x).shape, [2, h * s, w * s, 4])
                if activation == .identity { checkLayerGradients(t, input: x) } else { checkCompositeGradients(t, input: x) }
            }
        }
        for (k, s) in [(3, 2), (4, 2), (3, 1)] {
            let c = lerasConv(6, 5, kernel: k, stride: s, activation: .identity)
            for (_, p) in c.namedParameters { for i in 0..<p.value.count { p.value[i] = gen.nextUnitFloat() - 0.5 } }
            let x = randomTensor([2, 5, 6, 6], &gen)
            // leras: pad k // 2 each side, then VALID.
            XCTAssertEqual(c.forward(x).shape, [2, (5 + 2 * (k / 2) - k) / s + 1, (6 + 2 * (k / 2) - k) / s + 1, 5])
            checkLayerGradients(c, input: x)
        }
    }

    /// The U-Net's input and weight gradients of `L = sum(r1 * center) + sum(r2 * out)` along their own directions,
    /// for a stride-1 level in the middle (patch 12) and the plain one (patch 8); the code discriminator likewise.
    func testDiscriminatorGradients() {
        for patch in [12, 8] {
            let d = UNetPatchDiscriminator(patchSize: patch, inChannels: 3, baseChannels: 4)
            var g = SeededGenerator(seed: 5)
            d.initialize(using: &g)
            for (_, p) in d.namedParameters where p.value.shape.count == 1 {
                for i in 0..<p.value.count { p.value[i] = 0.1 * (gen.nextUnitFloat() - 0.5) }
            }
            let x = randomTensor([2, 16, 16, 3], &gen)
            let (c0, o0) = d.forward(x)
            let r1 = randomTensor(c0.shape, &gen), r2 = randomTensor(o0.shape, &gen)
            let dx = d.backward(center: r1, out: r2).values
            let grads = d.namedParameters.map { $0.parameter.gradient.values }
            func loss() -> Double {
                let (c, o) = d.forward(x)
                var s = 0.0
                for i in 0..<c.count { s += Double(r1[i]) * Double(c[i]) }
                for i in 0..<o.count { s += Double(r2[i]) * Double(o[i]) }
                return s
            }
            XCTAssertEqual(directionalRatio(of: loss, wrt: x, gradient: dx, eps: 1e-3), 1, accuracy: 5e-2, "input")
            checkParameters(loss, d.namedParameters, grads, "patch \(patch)")
        }
        let c = CodeDiscriminator(inChannels: 6, codeResolution: 8, channels: 4)
        var g = SeededGenerator(seed: 6)
        c.initialize(using: &g)
        checkCompositeGradients(c.network, input: randomTensor([2, 8, 8, 6], &gen), eps: 1e-3)
    }

    /// Both discriminators' own losses (real against fake, leras's DLoss means) against finite differences along
    /// their weights' gradients, and the generator terms' gradients with respect to the prediction and the codes.
    func testDiscriminatorLossesAndGeneratorTerms() {
        let gan = SAEHDGAN(patchSize: 8, dims: 4, power: 0.7, seed: 3, makeOptimizer: { AdaBelief() })
        let target = randomTensor([2, 16, 16, 3], &gen, in: 0...1), prediction = randomTensor([2, 16, 16, 3], &gen, in: 0...1)
        let mask = randomTensor([2, 16, 16, 1], &gen, in: 0...1)
        for m in [mask, nil] {
            let loss = gan.discriminatorGradients(target: target, prediction: prediction, mask: m)
            XCTAssertGreaterThan(loss, 0)
            let params = gan.namedParameters, grads = params.map { $0.parameter.gradient.values }
            let f = { gan.discriminatorGradients(target: target, prediction: prediction, mask: m) }
            checkParameters(f, params, grads, "D loss, masked \(m != nil)")
            // The generator's terms: the adversarial one (through the discriminator) and, masked, the total
            // variation and the background term.
            let imageGrad = Tensor(shape: prediction.shape)
            let terms = gan.generatorTerm(prediction: prediction, target: target, mask: m, imageGrad: imageGrad)
            let direct = gan.generatorTerm(prediction: prediction, target: target, mask: m, imageGrad: nil)
            XCTAssertEqual(terms, direct)
            let g = { gan.generatorTerm(prediction: prediction, target: target, mask: m, imageGrad: nil).reduce(0, +) }
            XCTAssertEqual(directionalRatio(of: g, wrt: prediction, gradient: imageGrad.values, eps: 1e-3), 1,
                           accuracy: 1e-2, "generator term, masked \(m != nil)")
        }

        let tf = SAEHDTrueFace(channels: 6, codeResolution: 8, power: 0.3, seed: 4, makeOptimizer: { AdaBelief() })
        let codes = randomTensor([4, 8, 8, 6], &gen)
        _ = tf.discriminatorGradients(codes: codes, srcCount: 2)
        let params = tf.namedParameters, grads = params.map { $0.parameter.gradient.values }
        let f = { tf.discriminatorGradients(codes: codes, srcCount: 2) }
        checkParameters(f, params, grads, "code D loss")
        let src = codes.batchSlice(0..<2), codeGrad = Tensor(shape: src.shape)
        _ = tf.generatorTerm(codes: src, codeGrad: codeGrad)
        let g = { tf.generatorTerm(codes: src, codeGrad: nil).reduce(0, +) }
        XCTAssertEqual(directionalRatio(of: g, wrt: src, gradient: codeGrad.values, eps: 1e-3), 1, accuracy: 1e-2)
    }

    /// The whole generator step with `gan_power` (df-ud, liae-ud) and `true_face_power` (df-ud) on: `computeGradients`
    /// against central differences of `generatorObjective` (reconstruction + the terms through the discriminators)
    /// along chosen weights' gradients. The adversarial part is large enough that the reconstruction's gradient alone
    /// fails the same check.
    func testStepGradientsWithGANAndTrueFace() throws {
        let r = 64
        let names = ["df-ud": ["encoder.down1.weight", "inter.dense1.weight", "decoder_src.up0.weight",
                               "decoder_src.out.conv0.weight"],
                     "liae-ud": ["encoder.down4.weight", "inter_AB.dense2.weight", "decoder.up2.weight",
                                 "decoder.out.conv1.weight"]]
        for (archi, checked) in names.sorted(by: { $0.key < $1.key }) {
            gen = SeededGenerator(seed: 24)
            let model = try SAEHD(config: SAEHDTests.tiny(archi), seed: 3)
            model.targetOptions.blurOutMask = archi.hasPrefix("df")
            func batch() -> TrainingBatch {
                TrainingBatch(warped: randomTensor([2, r, r, 3], &gen, in: 0...1),
                              target: randomTensor([2, r, r, 3], &gen, in: 0...1), mask: ellipseMask(batch: 2, size: r))
            }
            let src = batch(), dst = batch()
            let plain = model.computeGradients(src: src, dst: dst)
            let plainGrads = model.namedParameters.map { $0.parameter.gradient.values }
            model.discriminators.gan = SAEHDGAN(patchSize: 8, dims: 4, power: 5, seed: 9, makeOptimizer: { AdaBelief() })
            if archi.hasPrefix("df") {
                model.discriminators.trueFace = SAEHDTrueFace(channels: 8, codeResolution: 4, power: 1, seed: 10,
                                                              makeOptimizer: { AdaBelief() })
            }
            let losses = model.computeGradients(src: src, dst: dst)
            // The reported losses stay the reconstruction's, as DeepFaceLab's src_loss and dst_loss.
            XCTAssertEqual(losses.src, plain.src, archi)
            XCTAssertEqual(losses.dst, plain.dst, archi)
            let params = model.namedParameters, grads = params.map { $0.parameter.gradient.values }
            let objective = { model.generatorObjective(src: src, dst: dst) }
            // The adversarial terms alone (what `generatorObjective` adds to the reconstruction's losses).
            let gan = try XCTUnwrap(model.discriminators.gan)
            let adversarial = { () -> Double in
                let p = model.predict(src.warped, decoder: .src).image
                var t = gan.generatorTerm(prediction: p, target: model.discriminatorTarget(src),
                                          mask: model.discriminatorLossMask(src.mask), imageGrad: nil).reduce(0, +)
                if let tf = model.discriminators.trueFace {
                    t += tf.generatorTerm(codes: model.code(src.warped, for: .src), codeGrad: nil).reduce(0, +)
                }
                return t
            }
            for name in checked {
                guard let k = params.firstIndex(where: { $0.name == name }) else { return XCTFail("\(archi): no \(name)") }
                let ratio = directionalRatio(of: objective, wrt: params[k].parameter.value, gradient: grads[k], eps: 1e-3)
                XCTAssertEqual(ratio, 1, accuracy: 5e-2, "\(archi): d/d(\(name))")
                // The adversarial part of the gradient (with the discriminators minus without) against the
                // adversarial terms' differences along it.
                let part = zip(grads[k], plainGrads[k]).map { $0 - $1 }
                let share = norm(part) / norm(grads[k])
                let along = derivativeRatio(of: adversarial, wrt: params[k].parameter.value, gradient: part,
                                            direction: part, eps: 1e-3)
                print("\(archi) \(name): ratio \(ratio); adversarial part \(share) of the gradient, ratio along it \(along)")
                XCTAssertGreaterThan(share, 0.02, "\(archi): \(name): the adversarial part is too small to test")
                XCTAssertEqual(along, 1, accuracy: 5e-2, "\(archi): d/d(\(name)) along the adversarial part")
            }
        }
    }

    /// Both discriminators' forward passes against DeepFaceLab's graphs as Tools/reference/dfl_discriminators.py writes
    /// them from its source (its own `find_archi`, leras's symmetric padding, TensorFlow's SAME `conv2d_transpose`),
    /// run by onnxruntime on the same weights: a stride-1 level (patch 12), three stride-2 levels (16), one (5).
    func testForwardMatchesDeepFaceLabsGraphInOnnxruntime() throws {
        for (patch, dims, size) in [(12, 4, 16), (16, 4, 32), (5, 3, 8)] {
            let d = UNetPatchDiscriminator(patchSize: patch, inChannels: 3, baseChannels: dims)
            var g = SeededGenerator(seed: UInt64(patch))
            d.initialize(using: &g)
            for (_, p) in d.namedParameters where p.value.shape.count == 1 {
                for i in 0..<p.value.count { p.value[i] = gen.nextUnitFloat() - 0.5 }
            }
            let x = randomTensor([2, size, size, 3], &gen, in: 0...1)
            let (center, out) = d.forward(x)
            let ref = try reference(["--kind", "unet", "--patch", "\(patch)", "--dims", "\(dims)"], d.namedParameters, x,
                                    outputs: ["center", "out"])
            assertClose(ref["center"]!, center, "patch \(patch) center")
            assertClose(ref["out"]!, out, "patch \(patch) out")
        }
        for codeRes in [8, 4, 16] {
            let c = CodeDiscriminator(inChannels: 6, codeResolution: codeRes, channels: 4)
            var g = SeededGenerator(seed: UInt64(codeRes))
            c.initialize(using: &g)
            let x = randomTensor([2, codeRes, codeRes, 6], &gen)
            let out = c.forward(x)
            let ref = try reference(["--kind", "code", "--code-res", "\(codeRes)", "--ch", "4", "--in-ch", "6"],
                                    c.namedParameters, x, outputs: ["out"])
            assertClose(ref["out"]!, out, "code \(codeRes)")
        }
    }

    /// The reference script's outputs for these weights and input.
    func reference(_ args: [String], _ params: [(name: String, parameter: Parameter)], _ x: Tensor,
                   outputs: [String]) throws -> [String: [Float]] {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("facet-dfl-d-\(getpid())").path
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir + "/w", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, p) in params {
            try Data(bytes: p.value.data, count: p.value.count * 4).write(to: URL(fileURLWithPath: "\(dir)/w/\(name).f32"))
        }
        try Data(bytes: x.data, count: x.count * 4).write(to: URL(fileURLWithPath: dir + "/x.f32"))
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", repo + "/Tools/reference/dfl_discriminators.py"] + args
            + ["--weights", dir + "/w", "--input", dir + "/x.f32", "--shape", x.shape.map(String.init).joined(separator: ","),
               "--out", dir + "/out"]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = Pipe()
        try p.run()
        let problems = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            XCTFail("dfl_discriminators.py failed (Tools/setup installs onnxruntime and onnx): \(problems)")
            throw FixtureError("reference failed")
        }
        var result: [String: [Float]] = [:]
        for o in outputs {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/out/\(o).f32"))
            result[o] = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        return result
    }

    /// Same size, not flat, largest difference within float rounding.
    func assertClose(_ expected: [Float], _ t: Tensor, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(expected.count, t.count, what, file: file, line: line)
        guard expected.count == t.count else { return }
        let v = t.values
        XCTAssertGreaterThan((v.max() ?? 0) - (v.min() ?? 0), 1e-3, "\(what): flat output", file: file, line: line)
        let worst = zip(expected, v).map { abs($0 - $1) }.max() ?? 0
        let scale = max(1, expected.map { abs($0) }.max() ?? 1)
        XCTAssertLessThan(worst / scale, 1e-5, "\(what): largest difference \(worst)", file: file, line: line)
    }

    /// Each kernel's gradient along its own direction, and the biases' together along theirs (one bias alone moves
    /// too little of the loss for float32 differences), within the composites' tolerance (5%).
    func checkParameters(_ f: () -> Double, _ params: [(name: String, parameter: Parameter)], _ grads: [[Float]],
                         _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        for (k, (name, p)) in params.enumerated() where p.value.shape.count > 1 {
            XCTAssertEqual(directionalRatio(of: f, wrt: p.value, gradient: grads[k], eps: 1e-3), 1, accuracy: 5e-2,
                           "\(what): \(name)", file: file, line: line)
        }
        let biases = params.indices.filter { params[$0].parameter.value.shape.count == 1 }
        let all = biases.flatMap { grads[$0] }
        let n = norm(all)
        guard n > 0 else { return XCTFail("\(what): zero bias gradients", file: file, line: line) }
        let bases = biases.map { params[$0].parameter.value.values }
        func shifted(_ s: Double) -> Double {
            for (j, k) in biases.enumerated() {
                let t = params[k].parameter.value
                for i in 0..<t.count { t[i] = bases[j][i] + Float(s * Double(grads[k][i]) / n) }
            }
            return f()
        }
        let numeric = (shifted(1e-3) - shifted(-1e-3)) / 2e-3
        _ = shifted(0)
        XCTAssertEqual(numeric / n, 1, accuracy: 5e-2, "\(what): the biases", file: file, line: line)
    }

    func norm(_ v: [Float]) -> Double { v.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot() }

    /// The derivative of `f` along `direction` by central differences over the same derivative from `gradient`
    /// (`gradient . direction / |direction|`): 1 when `gradient` is right in that direction.
    func derivativeRatio(of f: () -> Double, wrt t: Tensor, gradient g: [Float], direction d: [Float],
                         eps: Double) -> Double {
        let n = norm(d)
        let base = t.values
        func shifted(_ s: Double) -> Double {
            for i in 0..<t.count { t[i] = base[i] + Float(s * Double(d[i]) / n) }
            return f()
        }
        let numeric = (shifted(eps) - shifted(-eps)) / (2 * eps)
        for i in 0..<t.count { t[i] = base[i] }
        let analytic = zip(g, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } / n
        return numeric / analytic
    }
}
