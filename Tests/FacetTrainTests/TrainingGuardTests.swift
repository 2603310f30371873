/// The collapse guard on real faces: an injected NaN gradient is skipped with the last good state restored, an injected
/// loss spike rolls back to the last checkpoint with half the learning rate, repeated events stop the run with one
/// line, and a checkpoint with non-finite weights is never saved (and is found in older files by the scan).
import XCTest
import FacetCore
import FacetNN
import FacetStore
@testable import FacetTrain

final class TrainingGuardTests: TrainTestCase {
    func testNaNGradientIsSkippedAndTheLastGoodStateRestored() throws {
        let p = try projectWithFaces(src: 6, dst: 6)
        var options = TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(6), seed: 3)
        options.guardSettings.snapshotEvery = 1
        let trainer = try Trainer(project: p, options: options, hooks: TrainerTestHooks(nonFiniteGradientAt: [3]))
        trainer.step()
        trainer.step()
        let good = trainer.network.exportTensors()
        trainer.step()
        XCTAssertEqual(trainer.iteration, 3)
        XCTAssertEqual(trainer.network.exportTensors(), good, "iteration 3 skipped: weights and optimizer state of 2")
        trainer.step()
        XCTAssertNotEqual(trainer.network.exportTensors(), good, "iteration 4 trains again")
        let result = try trainer.run()
        XCTAssertEqual(result.checkpoint.iteration, 6)
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        XCTAssertEqual(try p.losses(modelId: model.id!).map(\.iteration), [1, 2, 4, 5, 6], "no row for the skipped step")
        // The event was queued by step() and is stored by run().
        let events = try p.trainingEvents(modelId: model.id!)
        XCTAssertEqual(events.map(\.kind), [.nonFinite])
        XCTAssertEqual(events.first?.iteration, 3)
        XCTAssertTrue(events.first?.detail.contains("gradient is non-finite: step skipped; weights and optimizer state of iteration 2 restored") ?? false,
                      events.first?.detail ?? "")
        XCTAssertEqual(try scanNonFiniteCheckpoints(project: p), [])
    }

    func testSpikeRollsBackToTheLastCheckpointWithHalfTheLearningRate() throws {
        let p = try projectWithFaces(src: 6, dst: 6)
        var options = TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(12), seed: 5)
        options.guardSettings.minimumHistory = 4
        options.guardSettings.spikeSteps = 2
        let trainer = try Trainer(project: p, options: options, hooks: TrainerTestHooks(lossSpike: 8...9))
        for _ in 0..<5 { trainer.step() }
        let c5 = try trainer.saveCheckpoint()
        let at5 = trainer.network.exportTensors()
        var events: [TrainingEvent] = []
        try trainer.run(progress: { progress in if let e = progress.event { events.append(e) } })
        XCTAssertEqual(events.map(\.kind), [.spike])
        let e = try XCTUnwrap(events.first)
        XCTAssertEqual(e.iteration, 9, "two steps above 3x the median: iterations 8 and 9")
        XCTAssertEqual(e.checkpointId, c5.id)
        XCTAssertEqual(e.learningRateScale, 0.5)
        XCTAssertTrue(e.detail.contains("rolled back to checkpoint #\(c5.id) (iteration 5), learning rate now 0.00025"), e.detail)
        XCTAssertEqual(trainer.network.optimizer.learningRate, Float(5e-4 * 0.5))
        XCTAssertNotEqual(trainer.network.exportTensors(), at5)

        let model = try XCTUnwrap(try p.model(named: "tiny"))
        let losses = try p.losses(modelId: model.id!)
        XCTAssertEqual(losses.map(\.iteration), Array(1...12), "iterations 6-9 redone after the rollback")
        let median = losses.prefix(7).map { ($0.lossSrc + $0.lossDst) / 2 }.sorted()[3]
        XCTAssertTrue(losses.allSatisfy { ($0.lossSrc + $0.lossDst) / 2 < 3 * median }, "the spiked rows are gone")
        XCTAssertEqual(try p.trainingEvents(modelId: model.id!), events)

        // A resumed run keeps the cut learning rate.
        let resumed = try Trainer(project: p, options: TrainOptions(name: "tiny", resume: true, stop: .iterations(12)))
        XCTAssertEqual(resumed.network.optimizer.learningRate, Float(5e-4 * 0.5))
    }

    func testRepeatedNonFiniteStepsStopTheRunWithOneLine() throws {
        let p = try projectWithFaces(src: 6, dst: 6)
        var options = TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(20), seed: 3)
        options.guardSettings.maxNonFinite = 3
        let trainer = try Trainer(project: p, options: options, hooks: TrainerTestHooks(nonFiniteGradientAt: [2, 4, 5]))
        XCTAssertThrowsError(try trainer.run()) { error in
            let text = "\(error)"
            XCTAssertEqual(text, "model 'tiny': training stopped at iteration 5: the loss or gradients became non-finite 3 times at "
                           + "learning rate 0.0005: train a new model with a lower --learning-rate (try 10x lower) (no checkpoint was saved)")
        }
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        XCTAssertEqual(try p.trainingEvents(modelId: model.id!).map(\.kind), [.nonFinite, .nonFinite, .nonFinite, .stopped])
        XCTAssertEqual(try p.checkpoints(modelId: model.id!).count, 0)
        XCTAssertEqual(try p.losses(modelId: model.id!).map(\.iteration), [1, 3])
    }

    func testNonFiniteWeightsAreNeverSavedAndTheScanFindsThemInOlderFiles() throws {
        let p = try projectWithFaces(src: 6, dst: 6)
        let trainer = try Trainer(project: p, options: TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(2), seed: 3))
        let good = try trainer.run().checkpoint
        let w = trainer.network.namedParameters[3]
        w.parameter.value.data[7] = .infinity
        XCTAssertThrowsError(try trainer.saveCheckpoint()) { error in
            XCTAssertEqual("\(error)", "model 'tiny': weight '\(w.name)' is non-finite at iteration 2; no checkpoint saved")
        }
        XCTAssertEqual(try p.checkpoints().map(\.id), [good.id])

        // What an older build could have saved: written past the trainer, straight into the store.
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        w.parameter.value.data[8] = .nan
        let bad = try p.saveCheckpoint(NewCheckpoint(modelId: model.id!, iteration: 3, lossSrc: nil, lossDst: nil, valLossSrc: nil,
                                                     valLossDst: nil, trainSeconds: 1, rngState: nil)) { writer in
            try CheckpointIO.write(trainer.network, to: writer)
        }
        XCTAssertEqual(try scanNonFiniteCheckpoints(project: p),
                       [NonFiniteTensor(checkpointId: bad.id, model: "tiny", iteration: 3, tensor: w.name, count: 2)])
    }

    func testFiniteCheckSeesNaNAndInfinityAnywhere() {
        let t = Tensor(shape: [1037])
        for i in 0..<t.count { t[i] = Float(i) * 1e30 - 5e32 }
        XCTAssertTrue(TrainingGuard.allFinite(t.data, count: t.count))
        for (i, v) in [(0, Float.nan), (500, .infinity), (1036, -.infinity), (1000, -Float.nan)] {
            let saved = t[i]
            t[i] = v
            XCTAssertFalse(TrainingGuard.allFinite(t.data, count: t.count), "\(v) at \(i)")
            t[i] = saved
        }
        t[3] = .greatestFiniteMagnitude
        t[4] = -.greatestFiniteMagnitude
        XCTAssertTrue(TrainingGuard.allFinite(t.data, count: t.count))
    }
}
