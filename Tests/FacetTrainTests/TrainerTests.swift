/// Training on real faces from the sample videos: the loss falls, every iteration and checkpoint
/// lands in the project file, a resume continues exactly, bad input fails before any work.
import XCTest
import FacetCore
import FacetMedia
import FacetNN
import FacetStore
import FacetVision
import GRDB
@testable import FacetTrain

final class TrainerTests: TrainTestCase {
    /// A short tiny run: Adam on 12 faces per role, batch 4, 24 iterations, seed 7.
    func testShortTinyRunLowersTheLossAndStoresLossesAndACheckpoint() throws {
        let p = try projectWithFaces(src: 14, dst: 14)
        let trainer = try Trainer(project: p, options: TrainOptions(architecture: .tiny, batchSize: 4, stop: .iterations(24), seed: 7))
        XCTAssertEqual(trainer.faceCounts.validation[.src], 1)
        XCTAssertEqual(trainer.faceCounts.train[.src], 13)
        let result = try trainer.run()
        XCTAssertFalse(result.interrupted)
        XCTAssertEqual(result.iterationsThisRun, 24)

        let model = try XCTUnwrap(try p.model(named: "tiny"))
        XCTAssertEqual(model.architecture, "tiny")
        XCTAssertEqual(model.resolution, 64)
        let stored = try ModelOptions.parse(model.optionsJson, model: "tiny")
        XCTAssertEqual(stored.network, TrainArchitecture.tinyNetwork)
        XCTAssertEqual(stored.optimizer.kind, .adam)

        let losses = try p.losses(modelId: model.id!)
        XCTAssertEqual(losses.map(\.iteration), Array(1...24))
        XCTAssertTrue(losses.allSatisfy { $0.lossSrc.isFinite && $0.lossDst.isFinite && $0.seconds > 0 })
        XCTAssertEqual(losses.map(\.seconds), losses.map(\.seconds).sorted(), "training time only grows")
        // Measured with seed 7: the first four iterations average 3.04, the last four 1.14.
        func mean(_ rows: ArraySlice<LossRow>) -> Double { rows.reduce(0) { $0 + ($1.lossSrc + $1.lossDst) / 2 } / Double(rows.count) }
        let first = mean(losses.prefix(4)), last = mean(losses.suffix(4))
        print("tiny, seed 7: mean loss of iterations 1-4 \(first), 21-24 \(last)")
        XCTAssertLessThan(last, 0.6 * first, "mean loss of iterations 21-24 (\(last)) vs 1-4 (\(first))")

        let checkpoints = try p.checkpoints(modelId: model.id!)
        XCTAssertEqual(checkpoints.map(\.iteration), [24])
        let c = try XCTUnwrap(checkpoints.first)
        XCTAssertNotNil(c.valLossSrc)
        XCTAssertNotNil(c.valLossDst)
        XCTAssertEqual(try XCTUnwrap(c.valLoss), (c.valLossSrc! + c.valLossDst!) / 2, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(c.lossSrc), losses.suffix(24).reduce(0) { $0 + $1.lossSrc } / 24, accuracy: 1e-6)

        // Tensors: every weight and the Adam state, named as FacetNN names them, with shapes.
        let infos = try p.checkpointTensorInfos(checkpointId: c.id)
        let parameters = trainer.network.namedParameters
        XCTAssertEqual(Set(infos.filter { $0.kind == .weight }.map(\.name)), Set(parameters.map(\.name)))
        XCTAssertEqual(infos.filter { $0.kind == .optimizer }.count, 2 * parameters.count + 1)
        XCTAssertEqual(infos.first { $0.name == "encoder.down1.weight" }?.shape, [5, 5, 3, 24])
        XCTAssertEqual(c.bytes, Int64(infos.reduce(0) { $0 + $1.byteCount }))
        XCTAssertEqual(c.bytes, Int64(3 * 4 * trainer.network.parameterCount + 16))

        // The preview grid: 4 rows of 5 faces of 64 px with 1 px gaps.
        let png = try XCTUnwrap(try p.preview(checkpointId: c.id))
        let grid = try PNGCodec.decode(png)
        XCTAssertEqual(grid.width, 5 * 64 + 6)
        XCTAssertEqual(grid.height, 4 * 64 + 5)
    }

    /// 3 + 3 iterations with a save between give exactly the losses and weights of 6 in one run:
    /// the resume continues the numbering, the sampling, the augmentation and the optimizer.
    func testResumeContinuesNumberingAndMatchesAnUninterruptedRun() throws {
        let a = try projectWithFaces(src: 8, dst: 8, name: "a.facet")
        let b = try projectWithFaces(src: 8, dst: 8, name: "b.facet")
        let options = TrainOptions(architecture: .tiny, name: "demo", batchSize: 2, stop: .iterations(6), seed: 3)
        let straight = try Trainer(project: a, options: options)
        try straight.run()

        var firstHalf = options
        firstHalf.stop = .iterations(3)
        try Trainer(project: b, options: firstHalf).run()
        let resumed = try Trainer(project: b, options: TrainOptions(name: "demo", resume: true, stop: .iterations(6)))
        XCTAssertEqual(resumed.iteration, 3)
        XCTAssertTrue(resumed.resumedOptimizerState)
        try resumed.run()

        let model = try XCTUnwrap(try b.model(named: "demo"))
        let lossesB = try b.losses(modelId: model.id!)
        let lossesA = try a.losses(modelId: try XCTUnwrap(try a.model(named: "demo")).id!)
        XCTAssertEqual(lossesB.map(\.iteration), Array(1...6), "one continuous curve")
        XCTAssertEqual(lossesB.map(\.lossSrc), lossesA.map(\.lossSrc))
        XCTAssertEqual(lossesB.map(\.lossDst), lossesA.map(\.lossDst))
        let checkpoints = try b.checkpoints(modelId: model.id!)
        XCTAssertEqual(checkpoints.map(\.iteration), [3, 6])
        XCTAssertGreaterThan(checkpoints[1].trainSeconds, checkpoints[0].trainSeconds)
        // Only the newest checkpoint keeps optimizer state; both keep their weights.
        XCTAssertEqual(try b.checkpointTensorInfos(checkpointId: checkpoints[0].id).filter { $0.kind == .optimizer }.count, 0)
        XCTAssertGreaterThan(try b.checkpointTensorInfos(checkpointId: checkpoints[1].id).filter { $0.kind == .optimizer }.count, 0)

        let wa = straight.network.exportTensors(), wb = resumed.network.exportTensors()
        XCTAssertEqual(wa, wb, "weights and optimizer state after 6 iterations")

        // Resuming a model already at its target does nothing and saves nothing.
        let again = try Trainer(project: b, options: TrainOptions(name: "demo", resume: true, stop: .iterations(6))).run()
        XCTAssertEqual(again.iterationsThisRun, 0)
        XCTAssertEqual(again.checkpoint.id, checkpoints[1].id)
        XCTAssertEqual(try b.checkpoints(modelId: model.id!).count, 2)
    }

    /// Merge's entry point: the latest (or best) checkpoint's weights give the trained network's swap.
    func testLoadModelSwapsFacesLikeTheTrainedNetwork() throws {
        let p = try projectWithFaces(src: 6, dst: 6)
        let trainer = try Trainer(project: p, options: TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(2), seed: 5))
        let result = try trainer.run()
        let loaded = try loadModel(project: p, checkpoint: "best")
        XCTAssertEqual(loaded.checkpoint.id, result.checkpoint.id)
        XCTAssertEqual(loaded.resolution, 64)
        XCTAssertEqual(loaded.faceType, "full")
        XCTAssertEqual(loaded.network.exportTensors().filter { !$0.name.hasPrefix("optimizer.") },
                       trainer.network.exportTensors().filter { !$0.name.hasPrefix("optimizer.") })

        let crop = try JPEGCodec.decode(try p.faceCrop(id: try p.faceIDs(matching: FaceQuery(role: .dst)).first!).data)
        let (face, mask) = loaded.swapFace(crop)
        XCTAssertEqual([face.width, face.height, face.channels], [256, 256, 3])
        XCTAssertEqual([mask.width, mask.height, mask.channels], [256, 256, 1])
        let small = loaded.swapFace(crop, outputSize: 64)
        let input = Tensor(shape: [1, 64, 64, 3])
        let resized = crop.resized(width: 64, height: 64, filter: .area)
        for i in 0..<input.count { input[i] = Float(resized.pixels[i]) / 255 }
        let expected = tensorImage(trainer.network.predict(input, decoder: .src).image, index: 0, channels: 3)
        XCTAssertEqual(small.face, expected, "the swap is the src decoder's output for the dst face")
    }

    func testMissingOrTooFewFacesFailBeforeAnyWork() throws {
        let noDst = try projectWithFaces(src: 4, dst: 0, name: "nodst.facet")
        XCTAssertThrowsError(try Trainer(project: noDst, options: TrainOptions(architecture: .tiny, batchSize: 2))) { e in
            XCTAssertTrue("\(e)".contains("no kept dst faces"), "\(e)")
        }
        XCTAssertEqual(try noDst.models().count, 0, "nothing written")

        let few = try projectWithFaces(src: 5, dst: 3, name: "few.facet")
        XCTAssertThrowsError(try Trainer(project: few, options: TrainOptions(architecture: .tiny, batchSize: 4))) { e in
            XCTAssertTrue("\(e)".contains("has 3 dst faces to train on, fewer than a batch of 4"), "\(e)")
        }
        XCTAssertEqual(try few.models().count, 0)

        XCTAssertThrowsError(try Trainer(project: few, options: TrainOptions(name: "nothere", resume: true))) { e in
            XCTAssertTrue("\(e)".contains("has no model named 'nothere'"), "\(e)")
        }
    }

    /// A model whose stored network no longer matches what this build makes from its options
    /// (here: options edited to other widths) is refused with the tensor that differs.
    func testResumeOfAMismatchedArchitectureIsAClearError() throws {
        let p = try projectWithFaces(src: 4, dst: 4)
        try Trainer(project: p, options: TrainOptions(architecture: .tiny, batchSize: 2, stop: .iterations(1), seed: 1)).run()
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        var options = try ModelOptions.parse(model.optionsJson, model: "tiny")
        options.network.encoderDims = 16
        let queue = try DatabaseQueue(path: p.path)
        try queue.write { db in try db.execute(sql: "UPDATE model SET options_json = ? WHERE id = ?", arguments: [try options.json(), model.id!]) }
        try queue.close()
        XCTAssertThrowsError(try Trainer(project: p, options: TrainOptions(name: "tiny", resume: true, stop: .iterations(2)))) { e in
            XCTAssertTrue("\(e)".contains("does not match the tiny network of this build: weight 'encoder.down1.weight' is [5, 5, 3, 24] there and [5, 5, 3, 16] here"), "\(e)")
        }
        XCTAssertThrowsError(try Trainer(project: p, options: TrainOptions(architecture: .quick96, name: "tiny", resume: true))) { e in
            XCTAssertTrue("\(e)".contains("is a tiny model, not quick96"), "\(e)")
        }
        XCTAssertThrowsError(try Trainer(project: p, options: TrainOptions(architecture: .tiny, batchSize: 2))) { e in
            XCTAssertTrue("\(e)".contains("already has a model named 'tiny'"), "\(e)")
        }
    }

    func testHullMaskCoversTheLandmarkPolygon() {
        // A square from (8, 8) to (24, 24) with extra inner points: inside full, outside empty, edges half.
        let square = [Point2(8, 8), Point2(24, 8), Point2(24, 24), Point2(8, 24), Point2(16, 16), Point2(12, 20)]
        XCTAssertEqual(convexHull(square).count, 4)
        let m = hullMask(landmarksInFace: square, size: 32)
        XCTAssertEqual(m[16, 16, 0], 255)
        XCTAssertEqual(m[9, 23, 0], 255)
        XCTAssertEqual(m[4, 16, 0], 0)
        XCTAssertEqual(m[27, 27, 0], 0)
        XCTAssertEqual(Int(m[8, 16, 0]), 128, accuracy: 1, "the edge runs through pixel centres: half covered")
        let area = m.pixels.reduce(0) { $0 + Double($1) / 255 }
        XCTAssertEqual(area, 256, accuracy: 0.5)
    }
}
