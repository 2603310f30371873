/// Mask labels in the project: stored as given, undone and redone through the curation history, revisions that
/// mark changed faces, the labelled filter, bad input that changes nothing, and a project from before labels.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class MaskLabelStoreTests: StoreTestCase {
    let include = MaskPolygon(kind: .include, points: [Point2(4, 4), Point2(60, 5.5), Point2(58.25, 62), Point2(6, 59)])
    let exclude = MaskPolygon(kind: .exclude, points: [Point2(20, 30), Point2(44, 30), Point2(32, 64)])

    func testLabelsAreStoredUndoneAndRedone() throws {
        let p = try projectWithFaces(12)
        XCTAssertEqual(try p.maskLabelRevision(), 0)
        let s1 = try p.setMaskPolygons(faceID: 3, polygons: [include, exclude], command: "mask 3")
        XCTAssertEqual(s1.changed, [3])
        XCTAssertEqual(try p.maskPolygons(faceIDs: [3, 4]), [3: [include, exclude]])
        XCTAssertEqual(try p.labelledFaceIDs(), [3])
        XCTAssertEqual(try p.labelledFaceIDs(role: .dst), [])
        XCTAssertEqual(try p.faceIDs(matching: { var q = FaceQuery(); q.labelled = true; return q }()), [3])
        XCTAssertEqual(try p.countFaces(matching: { var q = FaceQuery(); q.labelled = false; return q }()), 11)
        let r1 = try XCTUnwrap(try p.maskLabelRevisions(faceIDs: [3])[3])

        // The same polygons again change nothing and record nothing.
        XCTAssertNil(try p.setMaskPolygons(faceID: 3, polygons: [include, exclude], command: "mask 3").changeId)
        // Several faces in one change: 3 loses its exclude polygon, 5 is labelled.
        let s2 = try p.setMaskPolygons([(3, [include]), (5, [exclude, include])], command: "mask --import")
        XCTAssertEqual(s2.changed, [3, 5])
        XCTAssertEqual(try p.labelledFaceIDs(), [3, 5])
        let revs = try p.maskLabelRevisions(faceIDs: [3, 5])
        XCTAssertGreaterThan(try XCTUnwrap(revs[3]), r1, "a changed face gets a newer revision")
        XCTAssertEqual(try p.curationHistory(limit: 1).first?.faces, 2)

        let u = try XCTUnwrap(try p.undoLastChange())
        XCTAssertEqual(u.command, "mask --import")
        XCTAssertEqual(Set(u.faces), [3, 5])
        XCTAssertEqual(try p.maskPolygons(faceIDs: [3, 5]), [3: [include, exclude]])
        XCTAssertEqual(try p.labelledFaceIDs(), [3])
        let afterUndo = try p.maskLabelRevisions(faceIDs: [3, 5])
        XCTAssertGreaterThan(try XCTUnwrap(afterUndo[3]), try XCTUnwrap(revs[3]), "undo is a change of labels too")
        XCTAssertNotNil(afterUndo[5], "a face that had labels keeps its revision after they are cleared")
        _ = try p.undoLastChange()
        XCTAssertEqual(try p.maskPolygons(faceIDs: [3, 5]), [:])
        XCTAssertEqual(try p.labelledFaceIDs(), [])
        XCTAssertEqual(try p.redoLastUndo().redone?.command, "mask 3")
        XCTAssertEqual(try p.maskPolygons(faceIDs: [3]), [3: [include, exclude]])
        // Clearing is a change like any other.
        XCTAssertEqual(try p.setMaskPolygons(faceID: 3, polygons: [], command: "clear").changed, [3])
        XCTAssertEqual(try p.labelledFaceIDs(), [])
        // A labels change and a reject undo in turn, each its own.
        _ = try p.setStatus(.rejected, faceIDs: [3], command: "reject 3")
        _ = try p.undoLastChange()
        XCTAssertEqual(try p.labelledFaceIDs(), [])
        _ = try p.undoLastChange()
        XCTAssertEqual(try p.maskPolygons(faceIDs: [3]), [3: [include, exclude]])
    }

    /// Corners are stored as float32, so what is read back is exactly what an export writes and an import reads.
    func testCornersAreStoredAsFloat32() throws {
        let p = try projectWithFaces(2)
        let fine = MaskPolygon(kind: .include, points: [Point2(1.1, 2.2), Point2(33.333333333, 3), Point2(5, 63.9)])
        try p.setMaskPolygons(faceID: 1, polygons: [fine], command: "mask 1")
        let back = try XCTUnwrap(try p.maskPolygons(faceIDs: [1])[1]?.first)
        XCTAssertEqual(back, fine.stored)
        XCTAssertEqual(back.points[0].x, Double(Float(1.1)))
        XCTAssertNil(try p.setMaskPolygons(faceID: 1, polygons: [fine], command: "again").changeId)
    }

    func testBadLabelsChangeNothing() throws {
        let p = try projectWithFaces(5)
        try p.setMaskPolygons(faceID: 2, polygons: [include], command: "mask 2")
        try p.close()
        let before = snapshot(path("faces.facet"))
        let q = try Project(path: path("faces.facet"))
        let outside = MaskPolygon(kind: .include, points: [Point2(1, 1), Point2(64.5, 1), Point2(3, 9)])
        let two = MaskPolygon(kind: .exclude, points: [Point2(1, 1), Point2(5, 1)])
        let cases: [([(faceID: Int64, polygons: [MaskPolygon])], String)] = [
            ([(1, [include]), (99, [include])], "line 2: face 99 is not in "),
            ([(1, [include]), (3, [include, outside])],
             "line 2: face 3, polygon 2 point [64.5, 1] lies outside the 64x64 crop"),
            ([(4, [two])], "line 1: face 4, polygon 1 has 2 points; a polygon needs at least 3"),
            ([(4, [include]), (4, [])], "line 2: face 4 is listed twice (also at line 1)"),
        ]
        for (labels, expected) in cases {
            XCTAssertThrowsError(try q.setMaskPolygons(labels, command: "bad", origin: { "line \($0 + 1)" })) { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
            }
        }
        XCTAssertEqual(try q.maskPolygons(faceIDs: [1, 2, 3, 4]), [2: [include]])
        XCTAssertEqual(try q.curationHistory().count, 1)
        try q.close()
        XCTAssertEqual(snapshot(path("faces.facet")).bytes, before.bytes, "the project file is as it was")
    }

    /// A project made before labels (schema 15) opens, is upgraded, keeps its faces, and takes labels.
    func testProjectFromBeforeLabelsIsUpgraded() throws {
        let v15 = Array(ProjectSchema.migrations.prefix { $0.version <= 15 })
        let file = path("v15.facet")
        let old = try Project.create(at: file, migrations: v15)
        let media = try addMedia(old)
        let run = try old.beginExtraction(ExtractionProvenance(role: .src, detector: "test", detectorSHA256: "0",
                                                               landmarker: "test", landmarkerSHA256: "0",
                                                               optionsJSON: "{}"))
        try old.storeFrames([ExtractedFrame(mediaId: media, frameIndex: 0, pts: 0, faces: [sampleFace(1)])],
                            extractionId: run, role: .src)
        _ = try old.setStatus(.rejected, faceIDs: [1], command: "reject 1")
        XCTAssertEqual(try old.schemaVersion(), 15)
        XCTAssertEqual(try old.labelledFaceIDs(), [], "no labels table yet: no labelled faces")
        try old.close()
        let p = try Project(path: file)
        XCTAssertGreaterThanOrEqual(try p.schemaVersion(), 16)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(status: .rejected)), 1)
        try p.setMaskPolygons(faceID: 1, polygons: [include], command: "mask 1")
        XCTAssertEqual(try p.labelledFaceIDs(status: .rejected), [1])
        XCTAssertEqual(try p.undoLastChange()?.command, "mask 1")
        XCTAssertEqual(try p.undoLastChange()?.command, "reject 1", "the older change undoes after the new one")
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(status: .rejected)), 0)
    }
}
