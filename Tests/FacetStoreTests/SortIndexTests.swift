/// Schema 2's (role, status, column) indexes: an older file gains them when opened, keeps its faces
/// and orders, and sorts of one role and status then walk one index without reading face rows.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class SortIndexTests: StoreTestCase {
    static let sortable: [FaceField] = [.blur, .motionBlur, .yaw, .pitch, .roll, .faceSize, .brightness, .hue, .score]

    func testVersion1FileGainsTheIndexesAndKeepsItsOrders() throws {
        let file = path("v1.facet")
        let v1 = Array(ProjectSchema.migrations.prefix(1))
        let old = try Project.create(at: file, migrations: v1)
        let media = try addMedia(old)
        let run = try old.beginExtraction(ExtractionProvenance(role: .src, detector: "test", detectorSHA256: "0", landmarker: "test", landmarkerSHA256: "0", optionsJSON: "{}"))
        try old.storeFrames((0..<80).map { ExtractedFrame(mediaId: media, frameIndex: $0, pts: Double($0) / 30, faces: [sampleFace($0)]) },
                            extractionId: run, role: .src)
        _ = try old.setStatus(.rejected, faceIDs: [3, 9, 27, 44, 70], command: "test")
        var before: [String: [Int64]] = [:]
        for f in Self.sortable {
            for desc in [false, true] {
                before["\(f)\(desc)"] = try old.faceIDs(matching: FaceQuery(role: .src, status: .kept, sort: [FaceSort(f, descending: desc)]))
            }
        }
        XCTAssertEqual(try old.schemaVersion(), 1)
        try old.close()

        let p = try Project(path: file)
        XCTAssertEqual(try p.schemaVersion(), ProjectSchema.currentVersion)
        XCTAssertGreaterThanOrEqual(ProjectSchema.currentVersion, 2)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(role: .src, status: .kept)), 75)
        for f in Self.sortable {
            for desc in [false, true] {
                let q = FaceQuery(role: .src, status: .kept, sort: [FaceSort(f, descending: desc)])
                XCTAssertEqual(try p.faceIDs(matching: q), before["\(f)\(desc)"], "\(desc ? "-" : "")\(f.rawValue)")
                // The plan: one covering index walk, no temporary sort.
                let (w, args) = q.whereClause()
                let plan = try p.read { db in
                    try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT face.id FROM face WHERE \(w) ORDER BY \(q.orderClause())", arguments: args)
                        .map { $0["detail"] as String }.joined(separator: " | ")
                }
                XCTAssertTrue(plan.contains("COVERING INDEX face_status_"), "\(f): \(plan)")
                XCTAssertFalse(plan.contains("TEMP B-TREE"), "\(f): \(plan)")
            }
        }
        // -FIELD is the exact reverse of FIELD, ties included (media_id ties every face here).
        let up = try p.faceIDs(matching: FaceQuery(role: .src, sort: [FaceSort(.mediaId)]))
        let down = try p.faceIDs(matching: FaceQuery(role: .src, sort: [FaceSort(.mediaId, descending: true)]))
        XCTAssertEqual(up, Array(down.reversed()))
        XCTAssertEqual(up, up.sorted())
    }
}
