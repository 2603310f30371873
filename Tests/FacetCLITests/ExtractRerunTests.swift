/// Issue #4's crash case: `facet extract` killed mid-run, then run again, stores exactly the faces
/// an uninterrupted run stores: the same rows (boxes, scores, signatures, ids) and the same crops,
/// landmarks and matrices (compared through `facet export`'s files and manifest).
import XCTest
import Foundation
import FacetStore

final class ExtractRerunTests: ReliabilityTestCase {
    func testKilledExtractionRerunsToTheSameFaces() throws {
        let reference = try XCTUnwrap(Self.extracted), expected = try XCTUnwrap(Self.extractCounts)
        let file = try copy(try XCTUnwrap(Self.imported), to: "killed.facet")
        // Kill `extract src` once its first batch of frames is committed, well before its end.
        let run = try start(["extract", file, "--role", "src"] + Self.extractArgs)
        let deadline = Date().addingTimeInterval(120)
        var framesAtKill = 0
        while run.isRunning && Date() < deadline {
            framesAtKill = (try? counts(file).frames) ?? 0
            if framesAtKill > 0 { break }
            Thread.sleep(forTimeInterval: 0.005)
        }
        XCTAssertTrue(kill9(run), "extract was still running when killed")
        let afterKill = try counts(file)
        XCTAssertGreaterThan(afterKill.frames, 0, "the first batch was committed before the kill")
        XCTAssertLessThan(afterKill.frames, expected.frames, "the kill landed before the end")
        XCTAssertEqual(try problems(file), [], "the killed file is sound")

        for role in ["src", "dst"] {
            let r = try facet(["extract", file, "--role", role] + Self.extractArgs)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(try counts(file), expected)
        for role in ["src", "dst"] {
            let list = ["faces", "--role", role, "--status", "all", "--limit", "100000", "--json"]
            let mine = try facet([list[0], file] + list.dropFirst()), theirs = try facet([list[0], reference] + list.dropFirst())
            XCTAssertEqual(mine.status, 0, mine.stderr)
            XCTAssertFalse(mine.stdout.isEmpty)
            XCTAssertEqual(mine.stdout, theirs.stdout, "\(role): the same face rows as the uninterrupted run")

            // Crops, landmarks and matrices: the exported sets are byte-identical.
            let outMine = path("export-\(role)-killed"), outTheirs = path("export-\(role)-reference")
            for (project, out) in [(file, outMine), (reference, outTheirs)] {
                let r = try facet(["export", project, "--role", role, "--out", out, "--status", "all", "--format", "png"])
                XCTAssertEqual(r.status, 0, r.stderr)
            }
            let names = try FileManager.default.contentsOfDirectory(atPath: outMine).sorted()
            XCTAssertEqual(names, try FileManager.default.contentsOfDirectory(atPath: outTheirs).sorted())
            XCTAssertGreaterThan(names.count, 1, "\(role): faces and a manifest were exported")
            for name in names {
                XCTAssertEqual(FileManager.default.contents(atPath: outMine + "/" + name),
                               FileManager.default.contents(atPath: outTheirs + "/" + name), "\(role): \(name)")
            }
        }
    }
}
