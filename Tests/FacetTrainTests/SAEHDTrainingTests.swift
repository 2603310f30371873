/// SAEHD in the trainer: every archi variant at 64 px trains, saves, resumes bit-exactly and swaps for merge;
/// the options DeepFaceLab lets a resumed run change are stored, the others refused; liae without random warp
/// leaves inter_AB alone; gradient clipping.
import XCTest
import FacetCore
import FacetNN
import FacetStore
import FacetMedia
import FacetVision
@testable import FacetTrain

final class SAEHDTrainingTests: TrainTestCase {
    /// DeepFaceLab's smallest widths at its smallest resolution.
    static func tiny(_ archi: String, faceType: FaceType = .full) -> SAEHDOptions {
        SAEHDOptions(network: SAEHDConfig(resolution: 64, archi: archi, aeDims: 32, eDims: 16, dDims: 16, dMaskDims: 16),
                     faceType: faceType)
    }

    func options(_ archi: String, stop: Int, faceType: FaceType = .full) -> TrainOptions {
        var o = TrainOptions(architecture: .saehd, name: "s", batchSize: 2, stop: .iterations(stop), seed: 7)
        o.saehd = Self.tiny(archi, faceType: faceType)
        return o
    }

    /// 1 + 1 iterations with a save between give exactly the losses, weights and AdaBelief state of 2 in one run,
    /// and the latest checkpoint swaps dst faces as the trained network's src decoder does. Each family plain and
    /// with each of -u, -d, -t once (the three letters share no code path that a combination would add).
    func testEveryArchiTrainsResumesBitExactlyAndSwaps() throws {
        let crop = try JPEGCodec.decode(try XCTUnwrap(Self.crops(perRole: 6).first { $0.role == .dst }).jpeg)
        for archi in ["df", "df-ud", "df-t", "liae", "liae-ud", "liae-t"] {
            let a = try projectWithFaces(src: 6, dst: 6, name: "\(archi)-a.facet")
            let b = try projectWithFaces(src: 6, dst: 6, name: "\(archi)-b.facet")
            let straight = try Trainer(project: a, options: options(archi, stop: 2))
            try straight.run()
            try Trainer(project: b, options: options(archi, stop: 1)).run()
            let resumed = try Trainer(project: b, options: TrainOptions(name: "s", resume: true, stop: .iterations(2)))
            XCTAssertEqual(resumed.iteration, 1, archi)
            XCTAssertTrue(resumed.resumedOptimizerState, archi)
            try resumed.run()
            let la = try a.losses(modelId: try XCTUnwrap(try a.model(named: "s")).id!)
            let lb = try b.losses(modelId: try XCTUnwrap(try b.model(named: "s")).id!)
            XCTAssertEqual(lb.map(\.iteration), [1, 2], archi)
            XCTAssertEqual(lb.map(\.lossSrc), la.map(\.lossSrc), archi)
            XCTAssertEqual(lb.map(\.lossDst), la.map(\.lossDst), archi)
            XCTAssertTrue(la.allSatisfy { $0.lossSrc.isFinite && $0.lossSrc > 0 }, archi)
            XCTAssertEqual(straight.network.exportTensors(), resumed.network.exportTensors(), archi)

            // The model row: SAEHD, 64 px, full face, its options.
            let m = try XCTUnwrap(try b.model(named: "s"))
            XCTAssertEqual([m.architecture, m.faceType], ["saehd", "full"], archi)
            let stored = try ModelOptions.parse(m.optionsJson, model: "s")
            XCTAssertEqual(stored.saehd, Self.tiny(archi), archi)
            XCTAssertEqual(stored.optimizer.kind, .adabelief)
            XCTAssertTrue(m.optionsJson.contains("\"archi\":\"\(archi)\""), m.optionsJson)

            // Merge's entry point gives the src decoder's output for the dst face (its frozen Winograd kernels may
            // round a pixel the other way).
            let loaded = try loadModel(project: b, checkpoint: "latest")
            let swap = loaded.swapFace(crop, outputSize: 64)
            let input = Tensor(shape: [1, 64, 64, 3])
            let resized = crop.resized(width: 64, height: 64, filter: .area)
            for i in 0..<input.count { input[i] = Float(resized.pixels[i]) / 255 }
            let expected = resumed.network.predict(input, decoder: .src)
            let face = tensorImage(expected.image, index: 0, channels: 3), mask = tensorImage(expected.mask, index: 0, channels: 1)
            XCTAssertLessThanOrEqual(zip(swap.face.pixels, face.pixels).map { abs(Int($0) - Int($1)) }.max()!, 1, archi)
            XCTAssertLessThanOrEqual(zip(swap.mask.pixels, mask.pixels).map { abs(Int($0) - Int($1)) }.max()!, 1, archi)
            XCTAssertEqual(swap.face.pixels.count, 64 * 64 * 3)
        }
    }

    /// A whole-face model re-aligns the stored full-face crops as whole faces (wider: the face is smaller in it).
    func testWholeFaceModelTrainsOnRealignedFaces() throws {
        let p = try projectWithFaces(src: 4, dst: 4)
        let t = try Trainer(project: p, options: options("liae-ud", stop: 1, faceType: .wholeFace))
        XCTAssertEqual(t.options.realignedFaceType, .wholeFace)
        XCTAssertEqual(t.model.faceType, "whole_face")
        let full = try Trainer(project: try projectWithFaces(src: 4, dst: 4, name: "f.facet"), options: options("liae-ud", stop: 1))
        // The hull mask covers less of a whole-face crop than of a full-face one.
        func coverage(_ s: FaceSample) -> Double { Double(s.mask.pixels.reduce(0) { $0 + Int($1) }) / Double(s.mask.pixels.count * 255) }
        XCTAssertLessThan(coverage(t.src.train[0]), 0.9 * coverage(full.src.train[0]))
        try t.run()
    }

    /// The options DeepFaceLab asks again on resume change and are stored; a non-SAEHD model refuses them, and
    /// masked training stays on for full faces.
    func testResumeChangesAreStoredOrRefused() throws {
        let p = try projectWithFaces(src: 4, dst: 4)
        try Trainer(project: p, options: options("df-ud", stop: 1)).run()
        var resume = TrainOptions(name: "s", resume: true, stop: .iterations(2))
        resume.resumeChanges.eyesMouthPriority = true
        resume.resumeChanges.lrDropout = 0.3
        resume.resumeChanges.clipGradients = true
        resume.resumeChanges.blurOutMask = true
        let t = try Trainer(project: p, options: resume)
        XCTAssertEqual(t.options.eyesMouthPriority, true)
        XCTAssertEqual(t.options.optimizer.lrDropout, 0.3)
        XCTAssertEqual((t.network as! SAEHD).targetOptions.blurOutMask, true)
        XCTAssertEqual((t.network.optimizer as! AdaBelief).lrDropout, 0.3)
        try t.run()
        let stored = try ModelOptions.parse(try XCTUnwrap(try p.model(named: "s")).optionsJson, model: "s")
        XCTAssertEqual(stored.eyesMouthPriority, true)
        XCTAssertEqual(stored.saehd?.clipGradients, true)
        XCTAssertEqual(stored.saehd?.network, Self.tiny("df-ud").network)

        var masked = TrainOptions(name: "s", resume: true, stop: .iterations(3))
        masked.resumeChanges.maskedTraining = false
        XCTAssertThrowsError(try Trainer(project: p, options: masked)) { e in
            XCTAssertTrue("\(e)".contains("masked training is always on for full faces"), "\(e)")
        }
        try Trainer(project: p, options: TrainOptions(architecture: .tiny, name: "t", batchSize: 2, stop: .iterations(1))).run()
        var tiny = TrainOptions(name: "t", resume: true, stop: .iterations(2))
        tiny.resumeChanges.uniformPose = true
        XCTAssertThrowsError(try Trainer(project: p, options: tiny)) { e in
            XCTAssertTrue("\(e)".contains("is a tiny model"), "\(e)")
        }
    }

    /// Without the random warp a liae model's step leaves inter_AB as it is and trains the rest (DeepFaceLab's
    /// `src_dst_trainable_weights`).
    func testLIAEWithoutWarpLeavesInterABAlone() throws {
        let p = try projectWithFaces(src: 4, dst: 4)
        var o = options("liae-ud", stop: 1)
        o.noWarp = true
        let t = try Trainer(project: p, options: o)
        func weights(_ prefix: String) -> [Float] {
            t.network.namedParameters.filter { $0.name.hasPrefix(prefix) }.flatMap { $0.parameter.value.values }
        }
        let ab = weights("inter_AB."), b = weights("inter_B."), dec = weights("decoder.")
        t.step()
        XCTAssertEqual(weights("inter_AB."), ab)
        XCTAssertNotEqual(weights("inter_B."), b)
        XCTAssertNotEqual(weights("decoder."), dec)
    }

    func testGradientClippingScalesToTheGlobalNorm() {
        let a = Parameter(shape: [2]), b = Parameter(shape: [1])
        a.gradient.copy(from: Tensor(shape: [2], values: [3, 0]))
        b.gradient.copy(from: Tensor(shape: [1], values: [4]))
        XCTAssertEqual(clipGradients([("a", a), ("b", b)], maxNorm: 1), 5, accuracy: 1e-9)
        XCTAssertEqual(a.gradient.values[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(b.gradient.values[0], 0.8, accuracy: 1e-6)
        XCTAssertEqual(clipGradients([("a", a), ("b", b)], maxNorm: 2), 1, accuracy: 1e-6)
        XCTAssertEqual(b.gradient.values[0], 0.8, accuracy: 1e-6, "below the limit nothing changes")
        XCTAssertEqual(SAEHDOptions.cosineFactor(iteration: 250, lrDropout: 0.3), 0, accuracy: 1e-12)
        XCTAssertEqual(SAEHDOptions.cosineFactor(iteration: 500, lrDropout: 0.3), 1, accuracy: 1e-12)
        XCTAssertEqual(SAEHDOptions.cosineFactor(iteration: 250, lrDropout: 1), 1)
    }
}
