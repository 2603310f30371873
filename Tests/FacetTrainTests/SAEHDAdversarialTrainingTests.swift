/// SAEHD's `gan_power` and `true_face_power` in the trainer: turned on later in a run (DeepFaceLab's usual workflow),
/// the discriminators' weights and optimizer state made then, saved in checkpoints and resumed bit-exactly; kept while
/// GAN is off; made afresh when the patch size changes; a model trained with them merges; bad values refused in one
/// line with the model row unchanged.
import XCTest
import FacetCore
import FacetNN
import FacetStore
import FacetMedia
@testable import FacetTrain

final class SAEHDAdversarialTrainingTests: TrainTestCase {
    static func tiny(_ archi: String, gan: SAEHDGANOptions? = nil) -> SAEHDOptions {
        var o = SAEHDOptions(network: SAEHDConfig(resolution: 64, archi: archi, aeDims: 32, eDims: 16, dDims: 16,
                                                  dMaskDims: 16))
        if let gan { o.gan = gan }
        return o
    }

    func options(_ archi: String, stop: Int, gan: SAEHDGANOptions? = nil) -> TrainOptions {
        var o = TrainOptions(architecture: .saehd, name: "s", batchSize: 2, stop: .iterations(stop), seed: 7)
        o.saehd = Self.tiny(archi, gan: gan)
        return o
    }

    func resume(_ stop: Int, _ changes: SAEHDAdversarialChanges = SAEHDAdversarialChanges()) -> TrainOptions {
        var o = TrainOptions(name: "s", resume: true, stop: .iterations(stop))
        o.resumeChanges.adversarial = changes
        return o
    }

    /// The stored tensors of a model's latest checkpoint, by name.
    func latestTensors(_ p: Project) throws -> [String: StoredTensorInfo] {
        let m = try XCTUnwrap(try p.model(named: "s"))
        let c = try XCTUnwrap(try p.checkpoints(modelId: m.id!).last)
        return Dictionary(uniqueKeysWithValues: try p.checkpointTensorInfos(checkpointId: c.id).map { ($0.name, $0) })
    }

    func counter(_ p: Project, _ name: String) throws -> Int {
        let m = try XCTUnwrap(try p.model(named: "s"))
        let c = try XCTUnwrap(try p.checkpoints(modelId: m.id!).last)
        let t = try XCTUnwrap(try p.checkpointTensors(checkpointId: c.id, names: [name])[name]).floats
        return Int(t[0]) | Int(t[1]) << 16
    }

    /// GAN turned on at iteration 2 of a liae-ud model: 2 + 2 iterations in one resumed run give exactly the losses,
    /// weights, optimizer states and discriminator of 2 + 1 + 1 with a save between; the discriminator and its
    /// optimizer appear in the checkpoints from then on and step once per iteration; and GAN changes the training.
    func testGANTurnedOnLaterResumesBitExactly() throws {
        let on = SAEHDAdversarialChanges(ganPower: 0.5, ganPatchSize: 8, ganDims: 4)
        let a = try projectWithFaces(src: 6, dst: 6, name: "a.facet")
        try Trainer(project: a, options: options("liae-ud", stop: 2)).run()
        XCTAssertNil(try latestTensors(a)["D_src.in_conv.weight"])
        let straight = try Trainer(project: a, options: resume(4, on))
        XCTAssertNotNil((straight.network as! SAEHD).discriminators.gan)
        try straight.run()

        let b = try projectWithFaces(src: 6, dst: 6, name: "b.facet")
        try Trainer(project: b, options: options("liae-ud", stop: 2)).run()
        try Trainer(project: b, options: resume(3, on)).run()
        let stored = try latestTensors(b)
        XCTAssertEqual(stored["D_src.in_conv.weight"]?.kind, .weight)
        XCTAssertEqual(stored["D_src.in_conv.weight"]?.shape, [1, 1, 3, 4])
        XCTAssertEqual(stored["D_src_opt.m.D_src.convs.0.weight"]?.kind, .optimizer)
        XCTAssertEqual(stored["D_src_opt.config"]?.shape, [2])
        XCTAssertEqual(try counter(b, "D_src_opt.iterations"), 1)
        let resumed = try Trainer(project: b, options: resume(4))
        XCTAssertEqual(resumed.options.saehd?.adversarial.ganPower, 0.5)
        try resumed.run()
        XCTAssertEqual(try counter(b, "D_src_opt.iterations"), 2)
        XCTAssertEqual(try counter(b, "optimizer.iterations"), 4)

        let la = try a.losses(modelId: try XCTUnwrap(try a.model(named: "s")).id!)
        let lb = try b.losses(modelId: try XCTUnwrap(try b.model(named: "s")).id!)
        XCTAssertEqual(lb.map(\.iteration), [1, 2, 3, 4])
        XCTAssertEqual(lb.map(\.lossSrc), la.map(\.lossSrc))
        XCTAssertEqual(lb.map(\.lossDst), la.map(\.lossDst))
        let ta = straight.network.exportTensors(), tb = resumed.network.exportTensors()
        XCTAssertEqual(ta.map(\.name), tb.map(\.name))
        XCTAssertTrue(ta.contains { $0.name == "D_src.out_conv.weight" })
        XCTAssertEqual(ta, tb)

        // The same model without GAN trains differently from iteration 3 on (the adversarial term is in the step).
        let c = try projectWithFaces(src: 6, dst: 6, name: "c.facet")
        try Trainer(project: c, options: options("liae-ud", stop: 2)).run()
        let plain = try Trainer(project: c, options: resume(4))
        try plain.run()
        let lc = try c.losses(modelId: try XCTUnwrap(try c.model(named: "s")).id!)
        XCTAssertEqual(lc.prefix(3).map(\.lossSrc), la.prefix(3).map(\.lossSrc))
        XCTAssertNotEqual(lc[3].lossSrc, la[3].lossSrc)
    }

    /// A df-ud model with GAN and true face from the start: 2 iterations give the same state as 1 + 1, both
    /// discriminators are stored, and the latest checkpoint swaps dst faces for merge as the trained network does.
    func testTrueFaceAndGANTrainResumeAndMerge() throws {
        let gan = SAEHDGANOptions(resolution: 64, ganPower: 0.1, ganDims: 4, trueFacePower: 0.01)
        let a = try projectWithFaces(src: 6, dst: 6, name: "a.facet")
        let straight = try Trainer(project: a, options: options("df-ud", stop: 2, gan: gan))
        XCTAssertNotNil((straight.network as! SAEHD).discriminators.trueFace)
        try straight.run()
        let b = try projectWithFaces(src: 6, dst: 6, name: "b.facet")
        try Trainer(project: b, options: options("df-ud", stop: 1, gan: gan)).run()
        let resumed = try Trainer(project: b, options: resume(2))
        try resumed.run()
        XCTAssertEqual(straight.network.exportTensors(), resumed.network.exportTensors())
        let stored = try latestTensors(b)
        // DeepFaceLab's CodeDiscriminator on the 64 px df-ud code (4x4x32): one 4x4 convolution to 256, then 1x1.
        XCTAssertEqual(stored["code_discriminator.convs.0.weight"]?.shape, [4, 4, 32, 256])
        XCTAssertEqual(stored["code_discriminator.out_conv.weight"]?.shape, [1, 1, 256, 1])
        XCTAssertEqual(try counter(b, "D_code_opt.iterations"), 2)
        XCTAssertEqual(try counter(b, "D_src_opt.iterations"), 2)
        let options = try ModelOptions.parse(try XCTUnwrap(try b.model(named: "s")).optionsJson, model: "s")
        XCTAssertEqual(options.saehd?.gan, gan)

        let crop = try JPEGCodec.decode(try XCTUnwrap(Self.crops(perRole: 6).first { $0.role == .dst }).jpeg)
        let loaded = try loadModel(project: b, checkpoint: "latest")
        let swap = loaded.swapFace(crop, outputSize: 64)
        let input = Tensor(shape: [1, 64, 64, 3])
        let resized = crop.resized(width: 64, height: 64, filter: .area)
        for i in 0..<input.count { input[i] = Float(resized.pixels[i]) / 255 }
        let face = tensorImage(resumed.network.predict(input, decoder: .src).image, index: 0, channels: 3)
        XCTAssertLessThanOrEqual(zip(swap.face.pixels, face.pixels).map { abs(Int($0) - Int($1)) }.max()!, 1)
    }

    /// GAN turned off keeps the discriminator's tensors in later checkpoints unchanged (DeepFaceLab leaves GAN.npy in
    /// the model folder), and turned on again carries on from them; a new patch size starts a fresh discriminator
    /// (DeepFaceLab's `gan_model_changed`).
    func testDiscriminatorKeptWhileOffAndFreshForANewPatchSize() throws {
        let p = try projectWithFaces(src: 4, dst: 4)
        try Trainer(project: p, options: options("liae-ud", stop: 1, gan: SAEHDGANOptions(resolution: 64, ganPower: 0.2,
                                                                                          ganDims: 4))).run()
        func discriminator() throws -> [Float] {
            let m = try XCTUnwrap(try p.model(named: "s"))
            let c = try XCTUnwrap(try p.checkpoints(modelId: m.id!).last)
            let stored = try p.checkpointTensors(checkpointId: c.id, names: ["D_src.convs.0.weight"])
            return try XCTUnwrap(stored["D_src.convs.0.weight"]).floats
        }
        let trained = try discriminator()
        let off = try Trainer(project: p, options: resume(2, SAEHDAdversarialChanges(ganPower: 0)))
        XCTAssertNil((off.network as! SAEHD).discriminators.gan)
        XCTAssertFalse((off.network as! SAEHD).discriminators.dormant.isEmpty)
        try off.run()
        XCTAssertEqual(try discriminator(), trained)
        XCTAssertEqual(try counter(p, "D_src_opt.iterations"), 1)
        try Trainer(project: p, options: resume(3, SAEHDAdversarialChanges(ganPower: 0.2))).run()
        XCTAssertEqual(try counter(p, "D_src_opt.iterations"), 2)
        XCTAssertNotEqual(try discriminator(), trained)

        let fresh = try Trainer(project: p, options: resume(4, SAEHDAdversarialChanges(ganPatchSize: 6)))
        XCTAssertEqual((fresh.network as! SAEHD).discriminators.gan?.patchSize, 6)
        try fresh.run()
        XCTAssertEqual(try counter(p, "D_src_opt.iterations"), 1)
        // patch 6 and 8 make the same layers: only the stored config tells the new discriminator from the old.
        XCTAssertEqual(try latestTensors(p)["D_src.convs.0.weight"]?.shape, [3, 3, 4, 8])
    }

    /// Values DeepFaceLab does not offer: one line naming the option, and the model row as it was.
    func testBadValuesAreRefusedInOneLine() throws {
        for (gan, archi, text) in [
            (SAEHDGANOptions(resolution: 64, ganPower: 6), "df", "gan-power must be 0 to 5"),
            (SAEHDGANOptions(resolution: 64, ganPower: 0.1, ganPatchSize: 2), "df", "gan-patch-size must be 3 to 640"),
            (SAEHDGANOptions(resolution: 64, ganPower: 0.1, ganDims: 600), "df", "gan-dims must be 4 to 512"),
            (SAEHDGANOptions(resolution: 64, trueFacePower: 1.5), "df", "true-face-power must be 0 to 1"),
            (SAEHDGANOptions(resolution: 64, trueFacePower: 0.01), "liae-ud", "is for df archis only"),
            (SAEHDGANOptions(resolution: 64, ganPower: 0.1, ganPatchSize: 640), "df", "does not divide the resolution 64"),
        ] {
            XCTAssertThrowsError(try Self.tiny(archi, gan: gan).validate(), text) { e in
                XCTAssertTrue("\(e)".contains(text), "\(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
        }
        let p = try projectWithFaces(src: 4, dst: 4)
        try Trainer(project: p, options: options("liae-ud", stop: 1)).run()
        let before = try XCTUnwrap(try p.model(named: "s")).optionsJson
        for (changes, text) in [(SAEHDAdversarialChanges(trueFacePower: 0.01), "is for df archis only"),
                                (SAEHDAdversarialChanges(ganPatchSize: 16), "give them with --gan-power above 0"),
                                (SAEHDAdversarialChanges(ganPower: -1), "gan-power must be 0 to 5")] {
            XCTAssertThrowsError(try Trainer(project: p, options: resume(2, changes))) { e in
                XCTAssertTrue("\(e)".contains(text), "\(e)")
            }
        }
        XCTAssertEqual(try XCTUnwrap(try p.model(named: "s")).optionsJson, before)
        XCTAssertEqual(try p.checkpoints().count, 1)
    }
}
