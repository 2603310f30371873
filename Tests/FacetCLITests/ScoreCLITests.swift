/// `facet score` as a user runs it: a project extracted without descriptors is refused with the command that
/// fixes it and left as it was; after `facet embed` the checkpoint is scored, stored, and shown by `checkpoints`.
import XCTest
import Foundation
import FacetStore

final class ScoreCLITests: ReliabilityTestCase {
    func testScoreNeedsDescriptorsThenStoresAndShows() throws {
        let file = try copy(try XCTUnwrap(Self.imported), to: "score.facet")
        for role in ["src", "dst"] {
            let r = try facet(["extract", file, "--role", role, "--fps", "3", "--size", "96", "--no-embed"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let train = try facet(["train", file, "--model", "tiny", "--name", "t", "--iterations", "2"])
        XCTAssertEqual(train.status, 0, train.stderr)
        // Training goes on without descriptors; the save is left unscored with one note saying what to run.
        let notes = train.stderr.split(separator: "\n").filter { $0.contains("not scored") }
        XCTAssertEqual(notes.count, 1, train.stderr)
        XCTAssertTrue(notes.first?.contains("facet embed") ?? false, train.stderr)
        XCTAssertEqual(try Project(path: file, mode: .readOnly).scores(), [:])

        // Bad input: no descriptors (one line naming `facet embed`), an unknown checkpoint; nothing written.
        for (args, text) in [(["latest"], "facet embed"), (["99"], "99")] {
            let before = snapshot(file)
            assertFailsCleanly(try facet(["score", file] + args), mentioning: text)
            XCTAssertEqual(before.0, snapshot(file).0, "\(text): the project file changed")
        }
        XCTAssertEqual(try facet(["score", file, "latest", "--faces", "0"]).status, 2)

        XCTAssertEqual(try facet(["embed", file]).status, 0)
        let r = try facet(["score", file, "latest", "--faces", "4", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let score = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let faces = try XCTUnwrap(score["faces"] as? Int)
        XCTAssertGreaterThan(faces, 0)
        XCTAssertLessThanOrEqual(faces, 4)
        let share = try XCTUnwrap(score["identity_src_share"] as? Double)
        XCTAssertTrue((0...1).contains(share))
        XCTAssertGreaterThan(try XCTUnwrap(score["detail"] as? Double), 0)

        // Stored with the checkpoint: `checkpoints --json` carries the same figures, the table prints them.
        let listing = try facet(["checkpoints", file, "--json"])
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listing.stdout.utf8)) as? [String: Any])
        let checkpoints = try XCTUnwrap(json["checkpoints"] as? [[String: Any]])
        let stored = try XCTUnwrap(checkpoints.compactMap { $0["swap_score"] as? [String: Any] }.first)
        XCTAssertEqual(stored["identity_src_share"] as? Double, share)
        XCTAssertEqual(stored["faces"] as? Int, faces)
        XCTAssertTrue(try facet(["checkpoints", file]).stdout.contains("swap scores"))
        XCTAssertEqual(try problems(file), [])
    }

    /// `facet train` scores each save as `facet score` would: the stored figures are exactly what `facet score`
    /// recomputes; a checkpoint after 2 iterations (its half-transparent mask leaves the dst showing) is the dst
    /// person more than one after 30; `--no-score` stores none. `--best-by swap` makes `best` (export-model's too)
    /// the highest combined swap score and `--best-by val_loss` takes it back; a bad value or model writes nothing.
    func testTrainScoresEachSaveAndBestFollowsTheChoice() throws {
        let file = try copy(try XCTUnwrap(Self.extracted), to: "train-score.facet")
        let first = try facet(["train", file, "--model", "tiny", "--name", "t", "--iterations", "2"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("scored 1 checkpoints"), first.stdout)
        XCTAssertFalse(first.stderr.contains("not scored"), first.stderr)
        let longer = try facet(["train", file, "--resume", "t", "--iterations", "30"])
        XCTAssertEqual(longer.status, 0, longer.stderr)
        let unscored = try facet(["train", file, "--resume", "t", "--iterations", "32", "--no-score"])
        XCTAssertEqual(unscored.status, 0, unscored.stderr)
        XCTAssertFalse(unscored.stdout.contains("scored"), unscored.stdout)

        var p = try Project(path: file, mode: .readOnly)
        let ids = try p.checkpoints().map(\.id)
        let stored = try p.scores()
        try p.close()
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(Set(stored.keys), Set(ids.prefix(2)), "the two runs with scoring scored their saves")
        let early = try XCTUnwrap(stored[ids[0]]), trained = try XCTUnwrap(stored[ids[1]])
        print("2 iterations: \(early.values); 30 iterations: \(trained.values)")
        for s in [early, trained] { XCTAssertEqual(s.values["missed"], 0, "every scored face found again: \(s.values)") }
        // Identity: after 2 iterations the swap is still the dst person; 30 iterations move it towards the src.
        XCTAssertLessThan(try XCTUnwrap(early.values["identity_to_dst"]), try XCTUnwrap(trained.values["identity_to_dst"]))
        XCTAssertGreaterThan(try XCTUnwrap(early.values["identity_to_src"]), try XCTUnwrap(trained.values["identity_to_src"]))
        XCTAssertLessThan(try XCTUnwrap(early.combined), try XCTUnwrap(trained.combined))

        // The stored score is what `facet score` recomputes (and stores again), figure for figure, bit for bit.
        let again = try facet(["score", file, String(ids[1]), "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["faces"] as? Int, trained.faces)
        // (Foundation's JSON reader may round the last digit.)
        for (metric, value) in trained.values {
            XCTAssertEqual(try XCTUnwrap(json[metric] as? Double, metric), value, accuracy: 1e-12 * max(1, abs(value)), metric)
        }
        p = try Project(path: file, mode: .readOnly)
        XCTAssertEqual(try p.scores(checkpointIds: [ids[1]])[ids[1]], trained)
        try p.close()

        // compare shows both stored scores side by side, and which is higher.
        let compared = try facet(["compare", file, String(ids[0]), String(ids[1]), "--faces", "2", "--json"])
        XCTAssertEqual(compared.status, 0, compared.stderr)
        let cj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(compared.stdout.utf8)) as? [String: Any])
        for (side, s) in [("a", early), ("b", trained)] {
            let o = try XCTUnwrap(cj[side] as? [String: Any])
            let score = try XCTUnwrap(o["swap_score"] as? [String: Any], side)
            XCTAssertEqual(try XCTUnwrap(score["identity_to_dst"] as? Double), s.values["identity_to_dst"]!, accuracy: 1e-12)
            XCTAssertEqual(try XCTUnwrap(o["swap"] as? Double), s.combined!, accuracy: 1e-12)
        }
        let comparedText = try facet(["compare", file, String(ids[0]), String(ids[1]), "--faces", "2"]).stdout
        XCTAssertTrue(comparedText.contains("B has the higher swap score"), comparedText)

        // best by swap score: the scored checkpoint with the highest combined score; export-model resolves it too.
        for (args, text) in [(["--best-by", "swap", "--model", "nope"], "nope")] {
            let before = snapshot(file)
            assertFailsCleanly(try facet(["checkpoints", file] + args), mentioning: text)
            XCTAssertEqual(before.0, snapshot(file).0, "the project file changed")
        }
        let before = snapshot(file)
        let bad = try facet(["checkpoints", file, "--best-by", "sharpest"])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("sharpest"), bad.stderr)
        XCTAssertEqual(before.0, snapshot(file).0, "the project file changed")
        func listing(_ extra: [String]) throws -> (bestBy: String?, best: Int64?) {
            let r = try facet(["checkpoints", file, "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            let model = try XCTUnwrap((obj["models"] as? [[String: Any]])?.first)
            return (model["best_by"] as? String, (model["best"] as? NSNumber)?.int64Value)
        }
        p = try Project(path: file, mode: .readOnly)
        let byLoss = try XCTUnwrap(p.checkpoints().filter { $0.valLoss != nil }.min { $0.valLoss! < $1.valLoss! }?.id)
        try p.close()
        let bySwap = early.combined! > trained.combined! ? ids[0] : ids[1]
        XCTAssertEqual(try listing([]).bestBy, "val_loss")
        XCTAssertEqual(try listing([]).best, byLoss)
        let swap = try listing(["--best-by", "swap"])
        XCTAssertEqual(swap.bestBy, "swap")
        XCTAssertEqual(swap.best, bySwap)
        XCTAssertEqual(try listing([]).best, bySwap, "stored with the model")
        let export = try facet(["export-model", file, "best", "--out", path("best.safetensors")])
        XCTAssertEqual(export.status, 0, export.stderr)
        XCTAssertTrue(export.stdout.contains("checkpoint #\(bySwap),"), export.stdout)
        XCTAssertEqual(try listing(["--best-by", "val_loss"]).best, byLoss)
        XCTAssertEqual(try problems(file), [])
    }
}
