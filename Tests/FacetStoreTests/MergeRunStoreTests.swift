/// Merge runs in the project file (schema 13): a file of the previous version is upgraded and records runs; a
/// run stopped before its end stays unfinished with the scores saved so far; an unknown run is one line.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class MergeRunStoreTests: StoreTestCase {
    func testOldProjectUpgradesAndRecordsRuns() throws {
        let file = path("old.facet")
        try FileManager.default.copyItem(atPath: Self.fixtures + "/projects/schema2-extra-d20.facet", toPath: file)
        let p = try Project(path: file)
        XCTAssertEqual(try p.schemaVersion(), ProjectSchema.currentVersion)
        XCTAssertEqual(try p.mergeRuns(), [])
        let media = try XCTUnwrap(p.media().first)
        // A run killed after its first scores: unfinished, its frames so far kept.
        let stopped = try p.startMergeRun(mediaId: media.id!, checkpointId: nil, output: "/tmp/a.mp4", settingsJSON: "{}", frames: 0...9)
        try p.storeMergeFrameScores(runId: stopped.id, [0: ["landmarks": 0.05, "detail": .nan], 1: ["landmarks": 0.07]],
                                    counts: MergeRunCounts(frames: 2, framesWithFaces: 2, facesMerged: 2, framesScored: 2))
        let again = try p.startMergeRun(mediaId: media.id!, checkpointId: nil, output: "/tmp/b.mp4", settingsJSON: "{}", frames: 0...9)
        try p.finishMergeRun(id: again.id, counts: MergeRunCounts(frames: 10, framesWithFaces: 9, facesMerged: 9, framesScored: 9),
                             seconds: 1.5, notes: "")
        let runs = try p.mergeRuns()
        XCTAssertEqual(runs.map(\.finished), [false, true])
        XCTAssertEqual(runs[0].frames, 2)
        XCTAssertEqual(try p.mergeFrameScores(runId: stopped.id), [0: ["landmarks": 0.05], 1: ["landmarks": 0.07]], "NaN left out")
        XCTAssertEqual(runs[1].framesWithFaces, 9)
        XCTAssertThrowsError(try p.mergeRun(id: 42)) { XCTAssertTrue("\($0)".contains("has no merge run 42 (runs: 1, 2)"), "\($0)") }
    }
}
