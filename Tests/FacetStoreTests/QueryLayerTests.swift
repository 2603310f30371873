/// The query layer: every sort field, filters, paging, and the read-only SQL expression.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class QueryLayerTests: StoreTestCase {
    func testEverySortFieldOrdersAscendingAndDescending() throws {
        let p = try projectWithFaces(60)
        let all = try p.faces(matching: FaceQuery())
        XCTAssertEqual(all.count, 60)
        for field in FaceField.allCases {
            for desc in [false, true] {
                let got = try p.faces(matching: FaceQuery(sort: [FaceSort(field, descending: desc)]))
                let key: (FaceRecord) -> Double = { f in
                    switch field {
                    case .id: Double(f.id)
                    case .mediaId: Double(f.mediaId)
                    case .frameIndex: Double(f.frameIndex)
                    case .faceIndex: Double(f.faceIndex)
                    case .pts: f.pts
                    case .score: f.score
                    case .blur: f.blur
                    case .motionBlur: f.motionBlur
                    case .yaw: f.yaw
                    case .pitch: f.pitch
                    case .roll: f.roll
                    case .brightness: f.brightness
                    case .hue: f.hue
                    case .faceSize: f.faceSize
                    case .landmarkScore: f.landmarkScore ?? -.infinity   // SQLite sorts NULL first
                    }
                }
                // Expected: order by key, ties by id in the same direction (so -FIELD is the exact
                // reverse of FIELD), computed here independently.
                let expected = all.sorted { a, b in
                    let ka = key(a), kb = key(b)
                    if ka != kb { return desc ? ka > kb : ka < kb }
                    return desc ? a.id > b.id : a.id < b.id
                }.map(\.id)
                XCTAssertEqual(got.map(\.id), expected, "sort \(desc ? "-" : "")\(field.rawValue)")
            }
        }
    }

    func testFiltersRangesPagingAndCount() throws {
        let p = try projectWithFaces(60)
        var q = FaceQuery(sort: [FaceSort(.blur, descending: true)])
        q.ranges = [(.blur, 20, 80)]
        let inRange = try p.faces(matching: q)
        XCTAssertFalse(inRange.isEmpty)
        XCTAssertTrue(inRange.allSatisfy { (20...80).contains($0.blur) })
        XCTAssertEqual(try p.countFaces(matching: q), inRange.count)
        q.limit = 5; q.offset = 3
        XCTAssertEqual(try p.faces(matching: q).map(\.id), Array(inRange.map(\.id)[3..<8]))
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(role: .dst)), 0)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(role: .src, status: .kept)), 60)
        let secondFaces = try p.faces(matching: FaceQuery(whereSQL: "face_index = 1"))
        XCTAssertEqual(secondFaces.count, 5)
        XCTAssertTrue(secondFaces.allSatisfy { $0.faceIndex == 1 })
    }

    func testSQLExpressionFilterMatchesSwiftFilter() throws {
        let p = try projectWithFaces(60)
        let all = try p.faces(matching: FaceQuery())
        let got = try p.faces(matching: FaceQuery(whereSQL: "blur < 40 AND yaw > -5 OR frame_index IN (1, 2)"))
        let expected = all.filter { ($0.blur < 40 && $0.yaw > -5) || [1, 2].contains($0.frameIndex) }.map(\.id)
        XCTAssertEqual(got.map(\.id), expected)
        XCTAssertFalse(expected.isEmpty)
    }

    func testSQLExpressionCannotWrite() throws {
        let p = try projectWithFaces(20)
        let attempts = [
            "1); DELETE FROM face; --",
            "1; UPDATE face SET status = 'rejected'",
            "id IN (SELECT id FROM face) ); DROP TABLE face; SELECT (1",
        ]
        for expr in attempts {
            XCTAssertThrowsError(try p.faces(matching: FaceQuery(whereSQL: expr)), expr) { error in
                XCTAssertEqual((error as? FacetError)?.setting, "where", "about the where expression (the CLI words it --where): \(error)")
            }
        }
        XCTAssertThrowsError(try p.faces(matching: FaceQuery(whereSQL: "no_such_column > 1"))) { XCTAssertTrue("\($0)".contains("no such column")) }
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(status: .kept)), 20)
        try p.reader.read { db in XCTAssertEqual(try String.fetchOne(db, sql: "PRAGMA integrity_check"), "ok") }
    }

    func testTagsAreVisibleToExpressions() throws {
        let p = try projectWithFaces(10)
        try p.writer.write { db in try db.execute(sql: "INSERT INTO face_tag(face_id, tag) VALUES (2, 'good'), (3, 'good'), (3, 'eyes-closed')") }
        XCTAssertEqual(try p.faces(matching: FaceQuery(tag: "good")).map(\.id), [2, 3])
        XCTAssertEqual(try p.faces(matching: FaceQuery(whereSQL: "tags LIKE '%eyes-closed%'")).map(\.id), [3])
    }

    func testRerunOfAStoredFrameAddsNoDuplicates() throws {
        let p = try projectWithFaces(10)
        let media = try p.media()[0].id!
        let run = try p.beginExtraction(ExtractionProvenance(role: .src, detector: "t", detectorSHA256: "0", landmarker: "t", landmarkerSHA256: "0", optionsJSON: "{}"))
        try p.storeFrames([ExtractedFrame(mediaId: media, frameIndex: 0, pts: 0, faces: [sampleFace(99)]),
                           ExtractedFrame(mediaId: media, frameIndex: 500, pts: 16.6, faces: [])], extractionId: run, role: .src)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery()), 10)
        XCTAssertEqual(try p.processedFrames(mediaId: media).count, 11)
        let face = try p.faces(matching: FaceQuery(limit: 1))[0]
        XCTAssertEqual(face.landmarks68, sampleFace(0).landmarks)
        XCTAssertEqual(face.imageToFace, sampleFace(0).matrix)
        XCTAssertEqual(try p.faceCrop(id: face.id).data, sampleFace(0).crop)
        XCTAssertEqual(try p.histograms(faceIDs: [face.id])[face.id], sampleFace(0).histogram)
    }
}
