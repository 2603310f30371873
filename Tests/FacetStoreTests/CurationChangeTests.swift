/// Reject, restore, tag and undo round trips, saved orderings, and bad input that must change nothing.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class CurationChangeTests: StoreTestCase {
    func statuses(_ p: Project) throws -> [Int64: FaceStatus] {
        Dictionary(uniqueKeysWithValues: try p.faces(matching: FaceQuery()).map { ($0.id, $0.status) })
    }

    func changeCount(_ p: Project) throws -> Int {
        try DatabaseQueue(path: p.path).read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM curation_change") ?? 0 }
    }

    /// Redo applies again, in reverse order of the undos, what undo reverted (tags too); a new change ends it.
    func testRedoFollowsUndoUntilANewChange() throws {
        let p = try projectWithFaces(10)
        _ = try p.setStatus(.rejected, faceIDs: [1, 2], command: "reject 1 2")
        _ = try p.setTag("side", on: [3, 4], command: "tag side 3 4")
        XCTAssertNil(try p.redoLastUndo().redone, "nothing undone yet")
        _ = try p.undoLastChange()
        _ = try p.undoLastChange()
        XCTAssertEqual(try p.faces(matching: FaceQuery(status: .rejected)).count, 0)
        XCTAssertEqual(try p.redoLastUndo().redone?.changeId, 1)
        XCTAssertEqual(try p.faces(matching: FaceQuery(status: .rejected)).map(\.id), [1, 2])
        XCTAssertEqual(try p.redoLastUndo().redone?.changeId, 2)
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(tag: "side")), [3, 4])
        XCTAssertEqual(try p.tagCounts(), [TagCount(tag: "side", faces: 2, src: 2, dst: 0, kept: 2)])
        _ = try p.undoLastChange()
        _ = try p.setStatus(.rejected, faceIDs: [5], command: "reject 5")
        let blocked = try p.redoLastUndo()
        XCTAssertNil(blocked.redone)
        XCTAssertEqual(blocked.blockedBy, 3)
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(tag: "side")), [], "nothing redone")
    }

    /// A tag that reads as face ids (`tag PROJECT 12 13`) is refused and changes nothing.
    func testNumericTagIsRefused() throws {
        let p = try projectWithFaces(5)
        for bad in ["12", "3-5"] {
            XCTAssertThrowsError(try p.setTag(bad, on: [1], command: "tag")) { e in
                XCTAssertTrue("\(e)".contains("not a number"), "\(e)")
            }
        }
        XCTAssertEqual(try p.tagCounts(), [])
        XCTAssertNoThrow(try p.setTag("v2", on: [1], command: "tag v2 1"))
    }

    func testRejectRestoreAndUndoRoundTrip() throws {
        let p = try projectWithFaces(30)
        let before = try statuses(p)
        let r = try p.setStatus(.rejected, faceIDs: [3, 5, 7, 5], command: "reject 3 5 7")
        XCTAssertEqual(r.changed, [3, 5, 7])
        XCTAssertEqual(r.unchanged, 0)
        XCTAssertNotNil(r.changeId)
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(status: .rejected)), 3)
        // Rejecting never deletes: the rows, crops and histograms are all still there.
        XCTAssertEqual(try p.countFaces(matching: FaceQuery()), 30)
        XCTAssertNotNil(try p.faceCrop(id: 5))
        XCTAssertEqual(try p.histograms(faceIDs: [5]).count, 1)

        // Rejecting again changes nothing and records nothing.
        let again = try p.setStatus(.rejected, faceIDs: [3, 5], command: "reject 3 5")
        XCTAssertEqual(again.changed, [])
        XCTAssertEqual(again.unchanged, 2)
        XCTAssertNil(again.changeId)

        let restored = try p.setStatus(.kept, faceIDs: [5, 9], command: "restore 5 9")
        XCTAssertEqual(restored.changed, [5])
        XCTAssertEqual(try p.faces(matching: FaceQuery(status: .rejected)).map(\.id), [3, 7])

        // Undo walks back: first the restore, then the reject.
        let u1 = try XCTUnwrap(try p.undoLastChange())
        XCTAssertEqual(u1.command, "restore 5 9")
        XCTAssertEqual(u1.faces, [5])
        XCTAssertEqual(try p.faces(matching: FaceQuery(status: .rejected)).map(\.id), [3, 5, 7])
        let u2 = try XCTUnwrap(try p.undoLastChange())
        XCTAssertEqual(u2.command, "reject 3 5 7")
        XCTAssertEqual(try statuses(p), before)
        XCTAssertNil(try p.undoLastChange())
        XCTAssertEqual(try p.curationHistory().map(\.undoneAt).allSatisfy { $0 != nil }, true)
    }

    func testTagAndUntagRoundTrip() throws {
        let p = try projectWithFaces(20)
        let r = try p.setTag("final", on: [1, 2, 3], command: "tag final 1 2 3")
        XCTAssertEqual(r.changed, [1, 2, 3])
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(tag: "final")), [1, 2, 3])
        XCTAssertEqual(try p.tags(faceIDs: [1, 4]), [1: ["final"]])
        let again = try p.setTag("final", on: [2, 3, 4], command: "tag final 2 3 4")
        XCTAssertEqual(again.changed, [4])
        let removed = try p.setTag("final", on: [1, 4, 5], remove: true, command: "untag")
        XCTAssertEqual(removed.changed, [1, 4])
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(tag: "final")), [2, 3])
        _ = try p.undoLastChange()
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(tag: "final")), [1, 2, 3, 4])
        _ = try p.undoLastChange()
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(tag: "final")), [1, 2, 3])
        _ = try p.undoLastChange()
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(tag: "final")), [])
        XCTAssertThrowsError(try p.setTag("a,b", on: [1], command: "tag")) { e in XCTAssertTrue("\(e)".contains("without commas"), "\(e)") }
    }
}
