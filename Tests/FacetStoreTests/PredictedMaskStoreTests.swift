/// Predicted masks in the project file (schema 17): a file of an older version is upgraded and stores masks; a
/// stored mask reads back with its checkpoint and label revision; the states say which faces `xseg apply` must redo.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class PredictedMaskStoreTests: StoreTestCase {
    func testOldProjectUpgradesAndStoresPredictedMasks() throws {
        let file = path("old.facet")
        try FileManager.default.copyItem(atPath: Self.fixtures + "/projects/schema2-extra-d20.facet", toPath: file)
        let p = try Project(path: file)
        XCTAssertEqual(try p.schemaVersion(), ProjectSchema.currentVersion)
        let ids = try p.faceIDs(matching: FaceQuery())
        XCTAssertGreaterThanOrEqual(ids.count, 2)
        XCTAssertNil(try p.predictedMask(faceID: ids[0]))
        XCTAssertEqual(try p.predictedMaskCount(), 0)
        let png = Data([0x89, 0x50, 0x4E, 0x47, 1, 2, 3])
        try p.storePredictedMasks([
            PredictedMask(faceId: ids[0], checkpointId: nil, labelRevision: "", size: 64, png: png),
            PredictedMask(faceId: ids[1], checkpointId: nil, labelRevision: "7", size: 64, png: png),
        ])
        let m = try XCTUnwrap(try p.predictedMask(faceID: ids[0]))
        XCTAssertEqual(m.png, png)
        XCTAssertEqual(m.size, 64)
        XCTAssertEqual(try p.predictedMaskStates()[ids[1]], PredictedMaskState(checkpointId: nil, labelRevision: "7"))
        // Replaced, not added.
        try p.storePredictedMasks([PredictedMask(faceId: ids[1], checkpointId: nil, labelRevision: "8", size: 32,
                                                 png: Data([9]))])
        XCTAssertEqual(try p.predictedMaskCount(), 2)
        XCTAssertEqual(try p.predictedMask(faceID: ids[1])?.labelRevision, "8")
        XCTAssertEqual(try p.predictedMaskCount(role: .src) + (try p.predictedMaskCount(role: .dst)), 2)
        // A face that is gone takes its mask with it; a mask of a face that does not exist is refused.
        XCTAssertThrowsError(try p.storePredictedMasks([PredictedMask(faceId: 999_999, checkpointId: nil,
                                                                      labelRevision: "", size: 8, png: png)]))
        XCTAssertEqual(try p.predictedMaskCount(), 2)
    }
}
