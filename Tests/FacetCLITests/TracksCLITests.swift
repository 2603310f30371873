/// `facet tracks` as a user runs it: the tracks extraction built, the frames still without a face, a
/// rebuild at another strength, and bad input.
import XCTest
import Foundation
import FacetStore

final class TracksCLITests: ReliabilityTestCase {
    func testTracksGapsAndRebuild() throws {
        let file = try copy(try XCTUnwrap(Self.extracted), to: "tracks.facet")
        let r = try facet(["tracks", file, "--role", "dst", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let tracks = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        // dst-d19 at 3 fps: frames 0, 10, ..., 240, one person: one track over all 25.
        XCTAssertEqual(tracks.count, 1, r.stdout)
        let t = try XCTUnwrap(tracks.first)
        XCTAssertEqual(t["first_frame"] as? Int, 0)
        XCTAssertEqual(t["last_frame"] as? Int, 240)
        XCTAssertEqual(t["faces"] as? Int, 25)
        XCTAssertEqual(t["gaps"] as? Int, 0)
        let raw = try XCTUnwrap(t["jitter_raw"] as? Double), smooth = try XCTUnwrap(t["jitter_smoothed"] as? Double)
        XCTAssertLessThan(smooth, raw)
        let faces = try facet(["faces", file, "--role", "dst", "--json", "--limit", "1"])
        let face = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(faces.stdout.utf8)) as? [[String: Any]])?.first)
        XCTAssertEqual(face["track"] as? Int, t["track"] as? Int)
        XCTAssertNil(t["person"] as? Int, "no person before `facet people`")

        // After `facet people`, each track names the person its faces belong to.
        let people = try facet(["people", file, "--role", "dst", "--json"])
        XCTAssertEqual(people.status, 0, people.stderr)
        let persons = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(people.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(persons.count, 1, people.stdout)
        let named = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(try facet(["tracks", file, "--role", "dst", "--json"]).stdout.utf8)) as? [[String: Any]])?.first)
        XCTAssertEqual(named["person"] as? Int, persons.first?["id"] as? Int)
        XCTAssertNotNil(named["person"] as? Int)

        // Only every tenth frame was looked at: the nine between each are without a face.
        let g = try facet(["tracks", file, "--role", "dst", "--gaps", "--json"])
        XCTAssertEqual(g.status, 0, g.stderr)
        let gaps = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(g.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(gaps.count, 25)
        XCTAssertEqual(gaps.first?["first"] as? Int, 1)
        XCTAssertEqual(gaps.first?["last"] as? Int, 9)
        XCTAssertEqual(gaps.last?["last"] as? Int, 249)

        // Rebuilt without smoothing: the smoothed alignment is the raw one.
        let again = try facet(["tracks", file, "--role", "dst", "--recompute", "--smooth", "0", "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("tracks dst: 1 tracks"), again.stderr)
        let rebuilt = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [[String: Any]])?.first)
        XCTAssertEqual(rebuilt["jitter_smoothed"] as? Double, rebuilt["jitter_raw"] as? Double)
        XCTAssertEqual(rebuilt["smoothing"] as? Double, 0)

        XCTAssertEqual(try facet(["tracks", file, "--role", "dst", "--smooth", "-1"]).status, 2)
        assertFailsCleanly(try facet(["tracks", path("missing.facet"), "--role", "dst"]), mentioning: "no such file")
        XCTAssertEqual(try problems(file), [])
    }
}
