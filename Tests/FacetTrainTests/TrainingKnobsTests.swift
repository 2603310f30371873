/// The sampling and schedule knobs change what they should: uniform pose sampling flattens the sampled yaw histogram,
/// the learning rate follows its warm-up and decay, colour transfer moves a src face's colours to the dst's, and
/// without warp the encoder's input is the target.
import XCTest
import FacetCore
import FacetMerge
import FacetNN
import FacetStore
@testable import FacetTrain

final class TrainingKnobsTests: TrainTestCase {
    /// A mostly frontal set, as the sample videos are: 60 faces at yaw 0-9, 6 at 20-29, 3 at -30..-21, 2 at 40-49.
    func testUniformPoseSamplingFlattensTheYawHistogram() {
        let blank = Image(width: 1, height: 1, channels: 3), grey = Image(width: 1, height: 1, channels: 1)
        var faces: [FaceSample] = []
        for (count, yaw) in [(60, 4.0), (6, 25.0), (3, -25.0), (2, 45.0)] {
            for k in 0..<count {
                faces.append(FaceSample(faceId: Int64(faces.count), image: blank, mask: grey, eyesMouth: grey,
                                        yaw: yaw + Double(k % 5) * 0.5, pitch: 2))
            }
        }
        func histogram(_ s: RoleSamples) -> [Double: Int] {
            var h: [Double: Int] = [:]
            for it in 1...500 {
                for i in s.batchIndices(iteration: it, batchSize: 4) { h[(faces[i].yaw / 10).rounded(.down), default: 0] += 1 }
            }
            return h
        }
        let plain = histogram(RoleSamples(role: .src, train: faces, validation: [], seed: 3))
        let uniform = histogram(RoleSamples(role: .src, train: faces, validation: [], seed: 3, uniformPose: true))
        print("yaw bins (10 degrees) over 2000 draws: plain \(plain.sorted { $0.key < $1.key }), uniform \(uniform.sorted { $0.key < $1.key })")
        XCTAssertEqual(Set(uniform.keys), [0, 2, -3, 4])
        XCTAssertGreaterThan(Double(plain.values.max()!) / Double(plain.values.min()!), 20)
        XCTAssertLessThan(Double(uniform.values.max()!) / Double(uniform.values.min()!), 1.05, "every bin drawn equally often")
        // Within a bin every face is drawn: the 2 profiles at 45 degrees both, about equally.
        let s = RoleSamples(role: .src, train: faces, validation: [], seed: 3, uniformPose: true)
        var drawn: [Int: Int] = [:]
        for it in 1...500 { for i in s.batchIndices(iteration: it, batchSize: 4) where faces[i].yaw >= 40 { drawn[i, default: 0] += 1 } }
        XCTAssertEqual(drawn.count, 2)
        XCTAssertEqual(Double(drawn.values.min()!) / Double(drawn.values.max()!), 1, accuracy: 0.05)
        // Draws depend only on (seed, iteration): a second sampler draws the same.
        let again = RoleSamples(role: .src, train: faces, validation: [], seed: 3, uniformPose: true)
        XCTAssertEqual((1...50).flatMap { s.batchIndices(iteration: $0, batchSize: 4) },
                       (1...50).flatMap { again.batchIndices(iteration: $0, batchSize: 4) })
    }

    func testLearningRateFollowsWarmupAndDecay() throws {
        let s = LearningRateSchedule(warmupIterations: 10, decayIterations: 100, floor: 0.1)
        XCTAssertEqual(s.factor(iteration: 1), 0.1, accuracy: 1e-12)
        XCTAssertEqual(s.factor(iteration: 10), 1, accuracy: 1e-12)
        XCTAssertEqual(s.factor(iteration: 60), 0.55, accuracy: 1e-12)
        XCTAssertEqual(s.factor(iteration: 110), 0.1, accuracy: 1e-12)
        XCTAssertEqual(s.factor(iteration: 500), 0.1, accuracy: 1e-12)

        let p = try projectWithFaces(src: 6, dst: 6)
        var options = TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(3), seed: 3)
        options.knobs.schedule = LearningRateSchedule(warmupIterations: 4)
        options.optimizer = OptimizerOptions(kind: .adabelief, learningRate: 1e-4, lrDropout: 1)
        let trainer = try Trainer(project: p, options: options)
        XCTAssertTrue(trainer.network.optimizer is AdaBelief)
        trainer.step()
        XCTAssertEqual(trainer.network.optimizer.learningRate, Float(1e-4 * 0.25))
        trainer.step()
        XCTAssertEqual(trainer.network.optimizer.learningRate, Float(1e-4 * 0.5))
        try trainer.run()
        let stored = try ModelOptions.parse(try XCTUnwrap(try p.model(named: "tiny")).optionsJson, model: "tiny")
        XCTAssertEqual(stored.schedule, LearningRateSchedule(warmupIterations: 4))
        XCTAssertEqual(stored.optimizer.kind, .adabelief)
        // A resumed run follows the stored schedule and optimizer (its state included).
        let resumed = try Trainer(project: p, options: TrainOptions(name: "tiny", resume: true, stop: .iterations(4)))
        XCTAssertTrue(resumed.resumedOptimizerState)
        resumed.step()
        XCTAssertEqual(resumed.network.optimizer.learningRate, Float(1e-4))
    }

    func testColorTransferMovesSrcColoursToTheDst() throws {
        let p = try projectWithFaces(src: 2, dst: 2)
        let src = try FaceSample.load(try p.face(id: try p.faceIDs(matching: FaceQuery(role: .src)).first!), project: p, resolution: 64)
        let dst = try FaceSample.load(try p.face(id: try p.faceIDs(matching: FaceQuery(role: .dst)).first!), project: p, resolution: 64)
        func mean(_ s: FaceSample) -> [Double] {
            var m = [0.0, 0.0, 0.0], n = 0.0
            for i in 0..<(64 * 64) where s.mask.pixels[i] >= 128 {
                for c in 0..<3 { m[c] += Double(s.image.pixels[i * 3 + c]) }
                n += 1
            }
            return m.map { $0 / n }
        }
        let moved = src.colorTransferred(.rct, towards: dst)
        let before = zip(mean(src), mean(dst)).map { abs($0 - $1) }.max()!
        let after = zip(mean(moved), mean(dst)).map { abs($0 - $1) }.max()!
        print("largest channel mean difference to the dst face: before \(before), after rct \(after)")
        XCTAssertGreaterThan(before, 4)
        XCTAssertLessThan(after, 0.2 * before)
        XCTAssertEqual(moved.mask, src.mask)
    }

    func testNoWarpGivesTheTargetAsInput() throws {
        let p = try projectWithFaces(src: 2, dst: 2)
        let sample = try FaceSample.load(try p.face(id: try p.faceIDs(matching: FaceQuery(role: .src)).first!), project: p, resolution: 64)
        let augmenter = Augmenter(resolution: 64, options: AugmentationOptions())
        let batch = TrainingBatch(warped: Tensor(shape: [1, 64, 64, 3]), target: Tensor(shape: [1, 64, 64, 3]), mask: Tensor(shape: [1, 64, 64, 1]))
        var g = SeededGenerator(seed: 1)
        augmenter.fill(batch, index: 0, sample: sample, generator: &g, augment: true, warp: true)
        XCTAssertNotEqual(batch.warped.values, batch.target.values)
        augmenter.fill(batch, index: 0, sample: sample, generator: &g, augment: true, warp: false)
        XCTAssertEqual(batch.warped.values, batch.target.values)
    }
}
