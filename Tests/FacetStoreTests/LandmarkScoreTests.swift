/// Schema 6's `face.landmark_score`: a project of the schema before opens, is upgraded, keeps its
/// faces (unscored, NULL) and their orders, takes scored faces beside them, and sorts by the score.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class LandmarkScoreTests: StoreTestCase {
    func testProjectOfTheSchemaBeforeIsUpgradedAndSortsByLandmarkScore() throws {
        let file = path("v5.facet")
        let before = ProjectSchema.migrations.filter { $0.version < 6 }
        XCTAssertFalse(before.isEmpty)
        let old = try Project.create(at: file, migrations: before)
        let media = try addMedia(old)
        let run = try old.beginExtraction(ExtractionProvenance(role: .src, detector: "test", detectorSHA256: "0", landmarker: "test", landmarkerSHA256: "0", optionsJSON: "{}"))
        try old.storeFrames((0..<20).map { ExtractedFrame(mediaId: media, frameIndex: $0, pts: Double($0) / 30, faces: [sampleFace($0)]) },
                            extractionId: run, role: .src)
        let oldColumns = try old.read { db in try db.columns(in: "face").map(\.name) }
        XCTAssertFalse(oldColumns.contains("landmark_score"), "the file is of the schema before")
        let blurOrder = try old.faceIDs(matching: FaceQuery(role: .src, sort: [FaceSort(.blur)]))
        try old.close()

        let p = try Project(path: file)
        XCTAssertEqual(try p.schemaVersion(), ProjectSchema.currentVersion)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(role: .src)), 20)
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(role: .src, sort: [FaceSort(.blur)])), blurOrder)
        XCTAssertNil(try p.face(id: 1).landmarkScore, "faces extracted before schema 6 are not scored")
        // New faces beside the old ones, with scores 0.05, 0.35, 0.65, 0.95 in frame order 20...23.
        var scored: [ExtractedFrame] = []
        for (i, s) in [0.05, 0.35, 0.65, 0.95].enumerated() {
            var f = sampleFace(20 + i)
            f.landmarkScore = s
            scored.append(ExtractedFrame(mediaId: media, frameIndex: 20 + i, pts: Double(20 + i) / 30, faces: [f]))
        }
        try p.storeFrames(scored, extractionId: run, role: .src)
        XCTAssertEqual(try p.face(id: 21).landmarkScore, 0.05)
        // The worst first: unscored faces (NULL) sort before every score, then 0.05 ... 0.95.
        let worst = try p.faceIDs(matching: FaceQuery(role: .src, sort: [FaceSort(.landmarkScore)]))
        XCTAssertEqual(Array(worst.suffix(4)), [21, 22, 23, 24])
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(role: .src, sort: [FaceSort(.landmarkScore, descending: true)])), worst.reversed())
        XCTAssertEqual(FaceField(name: "landmark_score"), .landmarkScore)
        // Filtering by the score is a query like any other signature.
        var low = FaceQuery(role: .src)
        low.ranges = [(field: .landmarkScore, min: nil, max: 0.5)]
        XCTAssertEqual(try p.faceIDs(matching: low), [21, 22])
        let plan = try p.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT id FROM face WHERE role = 'src' AND status = 'kept' ORDER BY landmark_score")
                .map { $0["detail"] as String }.joined(separator: " | ")
        }
        XCTAssertTrue(plan.contains("face_status_landmark_score"), plan)
    }
}
