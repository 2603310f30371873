/// `facet merge` records a run with per-frame scores; `facet merges` lists runs and a run's worst frames. On the
/// trained fixture project (the dst sample's real faces, a `tiny` model trained a few iterations), a few frames.
import XCTest
import FacetCore
import FacetMedia
import FacetStore
import FacetTestSupport

final class MergeRunsCLITests: CLITestCase {
    /// A merge of 10 frames scores each (no descriptors stored: identity absent with one note, not an error), the
    /// run is listed (text and JSON) with its worst frames; an unknown run is one line, exit 1; --no-score records
    /// the run without scores.
    func testMergeRecordsAScoredRunAndMergesListsIt() throws {
        let project = path("p.facet")
        _ = try MergeFixture.trainedCopy(at: project)
        let m = try facet(["merge", project, "--checkpoint", "latest", "--out", path("o.mp4"), "--frames", "0..9",
                           "--preset", "ultrafast"])
        XCTAssertEqual(m.status, 0, m.stderr)
        XCTAssertEqual(m.stderr.components(separatedBy: "identity not scored").count, 2, m.stderr)
        XCTAssertTrue(m.stdout.contains("run 1: 10 frames scored"), m.stdout)
        let list = try facet(["merges", project, "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let runs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.count, 1)
        let run = try XCTUnwrap(runs[0]["run"] as? [String: Any])
        XCTAssertEqual(run["frames"] as? Int, 10)
        XCTAssertEqual(run["frames_scored"] as? Int, 10)
        XCTAssertNotNil(run["finished_at"] as? String)
        let summary = try XCTUnwrap(runs[0]["summary"] as? [String: Double])
        XCTAssertNotNil(summary["landmarks"]); XCTAssertNotNil(summary["detail"]); XCTAssertNotNil(summary["jitter"])
        XCTAssertNil(summary["identity_to_src"])
        let worst = try facet(["merges", project, "1", "--worst", "3"])
        XCTAssertEqual(worst.status, 0, worst.stderr)
        XCTAssertEqual(worst.stdout.split(separator: "\n").filter { $0.hasPrefix("frame ") }.count, 3, worst.stdout)
        let worstJSON = try facet(["merges", project, "1", "--worst", "2", "--json"])
        let w = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(worstJSON.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((w["worst"] as? [Any])?.count, 2)

        let before = snapshot(project)
        assertFailsCleanly(try facet(["merges", project, "7", "--worst", "3"]), mentioning: "has no merge run 7")
        XCTAssertEqual(snapshot(project).0, before.0, "merges only reads")

        let plain = try facet(["merge", project, "--checkpoint", "latest", "--out", path("o2.mp4"), "--frames", "0..4",
                               "--preset", "ultrafast", "--no-score"])
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let p = try Project(path: project, mode: .readOnly)
        let stored = try p.mergeRuns()
        XCTAssertEqual(stored.count, 2)
        XCTAssertEqual(stored[1].framesScored, 0)
        XCTAssertTrue(stored[1].finished)
        XCTAssertTrue(try p.mergeFrameScores(runId: stored[1].id).isEmpty)
        try p.close()
    }

    /// --config-for and --skip in one render: the ranges are stored with the run and the skipped frames are not
    /// scored; overlapping ranges, a range past the video and an unknown configuration are one line, exit 1,
    /// with the project and the output folder as they were.
    func testConfigForAndSkip() throws {
        let project = path("p.facet")
        _ = try MergeFixture.trainedCopy(at: project)
        let base = ["merge", project, "--checkpoint", "latest", "--preset", "ultrafast", "--frames", "0..9"]
        let first = try facet(base + ["--out", path("a.mp4"), "--save-config", "soft", "--blur", "40", "--no-score"])
        XCTAssertEqual(first.status, 0, first.stderr)
        // What a refusal must leave as it was: the runs and the saved settings (opening the file read-write
        // rewrites its header, so the bytes are not the measure).
        func stored() throws -> String {
            let p = try Project(path: project, mode: .readOnly)
            defer { try? p.close() }
            return "\(try p.mergeRuns()) \(try p.mergeConfigs())"
        }
        let before = try stored()
        for (args, text) in [(["--config-for", "2..4=soft", "--skip", "4..5"], "overlap"),
                             (["--skip", "240..400"], "outside dst video"),
                             (["--config-for", "1..2=nope"], "has no merge configuration 'nope'")] {
            assertFailsCleanly(try facet(base + ["--out", path("b.mp4")] + args), mentioning: text)
            XCTAssertEqual(try stored(), before, "\(args)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("b.mp4")))
        }
        let r = try facet(base + ["--out", path("c.mp4"), "--config-for", "2..4=soft", "--skip", "6..7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let p = try Project(path: project, mode: .readOnly)
        let run = try XCTUnwrap(p.mergeRuns().last)
        XCTAssertTrue(run.settingsJSON.contains("\"config\":\"soft\""), run.settingsJSON)
        XCTAssertEqual(run.frames, 10)
        XCTAssertEqual(run.facesMerged, 8)
        let scores = try p.mergeFrameScores(runId: run.id)
        XCTAssertEqual(Set(scores.keys).intersection([6, 7]), [])
        XCTAssertNotNil(scores[3]?["landmarks"])
        try p.close()

        // A preview shows its frame as the render makes it: a --config-for frame with that range's settings (as
        // --from-config gives them), a --skip frame unswapped, any other frame with the run's own settings.
        let ranges = ["--config-for", "2..4=soft", "--skip", "6..7"]
        func preview(_ frame: Int, _ extra: [String], _ name: String) throws -> (Image, Image) {
            let out = path(name)
            let r = try facet(["merge", project, "--checkpoint", "latest", "--preview", "\(frame)", "--out", out] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let both = try ImageFile.read(path: out)
            let w = both.width / 2
            return (both.cropped(x: 0, y: 0, width: w, height: both.height),
                    both.cropped(x: w, y: 0, width: w, height: both.height))
        }
        let inRange = try preview(3, ranges, "p3.png"), asSaved = try preview(3, ["--from-config", "soft"], "s3.png")
        let plain3 = try preview(3, [], "q3.png")
        XCTAssertEqual(inRange.1, asSaved.1, "frame 3 takes the settings saved as 'soft'")
        XCTAssertNotEqual(inRange.1, plain3.1, "blur 40 against the default changes the frame")
        let skipped = try preview(6, ranges, "p6.png")
        XCTAssertEqual(skipped.1, skipped.0, "a skipped frame is shown unswapped")
        XCTAssertEqual(try preview(8, ranges, "p8.png").1, try preview(8, [], "q8.png").1)
        assertFailsCleanly(try facet(["merge", project, "--checkpoint", "latest", "--preview", "3", "--out",
                                      path("x.png"), "--config-for", "1..2=nope"]),
                           mentioning: "has no merge configuration 'nope'")
    }
}
