/// The training tables through the store API: models and splits, losses, checkpoints saved in one
/// transaction, `best` / `latest` / tag / id resolution, pruning.
import XCTest
import FacetCore
import GRDB
@testable import FacetStore

final class TrainingStoreTests: StoreTestCase {
    func newModel(_ p: Project, name: String = "m", faces: [Int64] = []) throws -> ModelRecord {
        try p.createModel(ModelRecord(name: name, architecture: "tiny", resolution: 64, faceType: "full", optionsJson: "{}", seed: 1),
                          split: ModelFaceSplit(train: [.src: Array(faces.dropFirst())], validation: [.src: Array(faces.prefix(1))]))
    }

    /// A checkpoint with two small tensors whose values depend on `iteration`.
    @discardableResult
    func save(_ p: Project, model: ModelRecord, iteration: Int, valLoss: Double?, losses: [LossRow] = []) throws -> CheckpointRecord {
        try p.saveCheckpoint(NewCheckpoint(modelId: model.id!, iteration: iteration, lossSrc: 1, lossDst: 2, valLossSrc: valLoss, valLossDst: valLoss,
                                           trainSeconds: Double(iteration), rngState: Data([1, 2])),
                             losses: losses, previews: ["grid": Data([0x89, 0x50])]) { w in
            try w.write(name: "encoder.w", kind: .weight, shape: [2, 3], values: (0..<6).map { Float($0 + iteration) })
            try w.write(name: "optimizer.acc.encoder.w", kind: .optimizer, shape: [2, 3], values: [Float](repeating: 0.5, count: 6))
        }
    }

    func testModelSplitAndDuplicateNames() throws {
        let p = try projectWithFaces(5)
        let ids = try p.faceIDs(matching: FaceQuery(role: .src))
        let m = try newModel(p, faces: ids)
        let split = try p.modelFaces(modelId: m.id!)
        XCTAssertEqual(split.validation[.src], [ids[0]])
        XCTAssertEqual(split.train[.src], Array(ids.dropFirst()))
        XCTAssertThrowsError(try newModel(p)) { XCTAssertTrue("\($0)".contains("already has a model named 'm'"), "\($0)") }
        XCTAssertEqual(try p.requireModel(named: "m").id, m.id)
        XCTAssertThrowsError(try p.requireModel(named: "x")) { XCTAssertTrue("\($0)".contains("has no model named 'x' (models: m)"), "\($0)") }
    }

    func testCheckpointRoundTripAndResolution() throws {
        let p = try Project.create(at: path("t.facet"))
        let m = try newModel(p)
        let c1 = try save(p, model: m, iteration: 10, valLoss: 0.5, losses: (1...10).map { LossRow(iteration: $0, lossSrc: 1, lossDst: 1, seconds: Double($0)) })
        let c2 = try save(p, model: m, iteration: 20, valLoss: 0.3)
        let c3 = try save(p, model: m, iteration: 30, valLoss: 0.4)
        XCTAssertEqual(try p.losses(modelId: m.id!).count, 10)
        XCTAssertEqual(c3.modelName, "m")
        XCTAssertEqual(c3.valLoss, 0.4)
        XCTAssertEqual(c3.bytes, 48)

        XCTAssertEqual(try p.checkpoint(resolving: "latest").id, c3.id)
        XCTAssertEqual(try p.checkpoint(resolving: "best").id, c2.id)
        XCTAssertEqual(try p.checkpoint(resolving: String(c1.id)).id, c1.id)
        try p.tagCheckpoint(id: c1.id, tag: "keep")
        XCTAssertEqual(try p.checkpoint(resolving: "keep", model: "m").id, c1.id)
        XCTAssertEqual(try p.checkpoint(id: c1.id).tags, "keep")
        XCTAssertThrowsError(try p.checkpoint(resolving: "nosuch")) { XCTAssertTrue("\($0)".contains("has no checkpoint 'nosuch'"), "\($0)") }

        // Tensors stream back with their shapes and values; only the newest keeps optimizer state.
        var seen: [StoredTensor] = []
        try p.forEachCheckpointTensor(checkpointId: c3.id) { seen.append($0) }
        XCTAssertEqual(seen.map(\.name), ["encoder.w", "optimizer.acc.encoder.w"])
        XCTAssertEqual(seen[0].shape, [2, 3])
        XCTAssertEqual(seen[0].floats, (30..<36).map(Float.init))
        XCTAssertEqual(try p.checkpointTensorInfos(checkpointId: c1.id).map(\.name), ["encoder.w"])
        XCTAssertEqual(try p.checkpointTensors(checkpointId: c3.id, names: ["optimizer.acc.encoder.w", "missing"]).keys.sorted(), ["optimizer.acc.encoder.w"])
        XCTAssertEqual(try p.preview(checkpointId: c3.id), Data([0x89, 0x50]))
        XCTAssertEqual(try p.checkpointRNGState(id: c3.id), Data([1, 2]))

        // A pruned checkpoint keeps its row but is no longer `best`.
        try p.pruneCheckpointTensors(id: c2.id)
        XCTAssertTrue(try p.checkpoint(id: c2.id).tensorsPruned)
        XCTAssertEqual(try p.checkpoint(resolving: "best").id, c3.id)

        // With two models, a name is needed.
        _ = try newModel(p, name: "other")
        XCTAssertThrowsError(try p.checkpoint(resolving: "latest")) { XCTAssertTrue("\($0)".contains("name one with --model"), "\($0)") }
        XCTAssertThrowsError(try p.checkpoint(resolving: "latest", model: "other")) { XCTAssertTrue("\($0)".contains("has no checkpoint with weights yet"), "\($0)") }
    }

    /// A failure while writing tensors rolls the whole save back: no row, no tensors, no losses,
    /// and the previous checkpoint keeps its optimizer state.
    func testAFailedSaveLeavesNothingAndThePreviousCheckpointWhole() throws {
        let p = try Project.create(at: path("t.facet"))
        let m = try newModel(p)
        let c1 = try save(p, model: m, iteration: 5, valLoss: 1)
        struct Boom: Error {}
        XCTAssertThrowsError(try p.saveCheckpoint(NewCheckpoint(modelId: m.id!, iteration: 9, lossSrc: nil, lossDst: nil, valLossSrc: nil, valLossDst: nil,
                                                                trainSeconds: 9, rngState: nil),
                                                  losses: [LossRow(iteration: 6, lossSrc: 1, lossDst: 1, seconds: 6)]) { w in
            try w.write(name: "encoder.w", kind: .weight, shape: [2, 3], values: [Float](repeating: 1, count: 6))
            throw Boom()
        })
        XCTAssertEqual(try p.checkpoints(modelId: m.id!).map(\.id), [c1.id])
        XCTAssertEqual(try p.checkpointTensorInfos(checkpointId: c1.id).count, 2)
        XCTAssertEqual(try p.losses(modelId: m.id!).count, 0)
        // A tensor whose bytes do not fill its shape is refused the same way.
        XCTAssertThrowsError(try p.saveCheckpoint(NewCheckpoint(modelId: m.id!, iteration: 9, lossSrc: nil, lossDst: nil, valLossSrc: nil, valLossDst: nil,
                                                                trainSeconds: 9, rngState: nil)) { w in
            try w.write(name: "encoder.w", kind: .weight, shape: [2, 4], values: [1, 2, 3])
        }) { XCTAssertTrue("\($0)".contains("12 bytes for shape [2, 4]"), "\($0)") }
        XCTAssertEqual(try p.checkpoints(modelId: m.id!).count, 1)
    }

    func testLossesAppendReplaceAndDiscard() throws {
        let p = try Project.create(at: path("t.facet"))
        let m = try newModel(p)
        try p.appendLosses(modelId: m.id!, (1...10).map { LossRow(iteration: $0, lossSrc: Double($0), lossDst: 0, seconds: Double($0)) })
        try p.discardLosses(modelId: m.id!, after: 6)
        try p.appendLosses(modelId: m.id!, [LossRow(iteration: 6, lossSrc: 60, lossDst: 0, seconds: 6), LossRow(iteration: 7, lossSrc: 70, lossDst: 0, seconds: 7)])
        let rows = try p.losses(modelId: m.id!)
        XCTAssertEqual(rows.map(\.iteration), Array(1...7))
        XCTAssertEqual(rows.map(\.lossSrc), [1, 2, 3, 4, 5, 60, 70])
        XCTAssertEqual(try p.losses(modelId: m.id!, iterations: 2...6, every: 2).map(\.iteration), [2, 4, 6])
    }
}
