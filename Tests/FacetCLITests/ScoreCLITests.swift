/// `facet score` as a user runs it: a project extracted without descriptors is refused with the command that
/// fixes it and left as it was; after `facet embed` the checkpoint is scored, stored, and shown by `checkpoints`.
import XCTest
import Foundation

final class ScoreCLITests: ReliabilityTestCase {
    func testScoreNeedsDescriptorsThenStoresAndShows() throws {
        let file = try copy(try XCTUnwrap(Self.imported), to: "score.facet")
        for role in ["src", "dst"] {
            let r = try facet(["extract", file, "--role", role, "--fps", "3", "--size", "96", "--no-embed"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let train = try facet(["train", file, "--model", "tiny", "--name", "t", "--iterations", "2"])
        XCTAssertEqual(train.status, 0, train.stderr)

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
}
