/// Issue #26, "a newcomer's first hour": each trap a new user fell into, run as that user would on a
/// demo-like project (both sample videos imported and extracted, a `tiny` model trained briefly).
import XCTest
import Foundation

final class NewcomerCLITests: TemplateProjectTestCase {
    override class var projectName: String { "demo.facet" }
    override class var templateName: String { "newcomer" }

    /// The demo's steps at 5 frames per second and 64 px crops, with two iterations of `tiny`.
    override func makeTemplate(_ t: String) throws {
        XCTAssertEqual(try facet(["init", t]).status, 0)
        for (role, video) in [("src", "src-d18.mp4"), ("dst", "dst-d19.mp4")] {
            let i = try facet(["import", t, "--role", role, Self.fixtures + "/video/" + video])
            XCTAssertEqual(i.status, 0, i.stderr)
            let x = try facet(["extract", t, "--role", role, "--fps", "5", "--size", "64"])
            XCTAssertEqual(x.status, 0, x.stderr)
        }
        let tr = try facet(["train", t, "--model", "tiny", "--name", "demo", "--batch", "2", "--iterations", "2", "--seed", "1"])
        XCTAssertEqual(tr.status, 0, tr.stderr)
    }

    func rejected() throws -> [Int64] { try ids(["faces", project, "--status", "rejected"]) }

    /// Kept faces of a role by sharpness, lowest first: (id, sharpness).
    func bySharpness(_ role: String) throws -> [(Int64, Double)] {
        try rows(["faces", project, "--role", role, "--sort", "sharpness"]).map {
            (($0["id"] as! NSNumber).int64Value, ($0["sharpness"] as! NSNumber).doubleValue)
        }
    }

    // MARK: "Worst" rejects the best faces

    func testWorstBySharpnessRejectsTheBlurriestWhateverTheSignAndPrintsTheValues() throws {
        let order = try bySharpness("src")
        XCTAssertGreaterThan(order.count, 20)
        let blurriest3 = Set(order.prefix(3).map(\.0))
        for sort in ["sharpness", "blur", "-blur"] {
            let r = try facet(["reject", project, "--role", "src", "--sort", sort, "--worst", "3"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(Set(try rejected()), blurriest3, "--sort \(sort) --worst 3 must take the 3 blurriest")
            // The values that decided: the chosen faces' sharpness, beside the range of all kept src faces.
            XCTAssertTrue(r.stderr.contains("lowest sharpness"), r.stderr)
            XCTAssertTrue(r.stderr.contains(String(format: "%.3g", order[0].1)), "the lowest value is printed: \(r.stderr)")
            XCTAssertEqual(try facet(["undo", project]).status, 0)
        }
    }

    func testBlurriestByShareAsTheDemoDoes() throws {
        let order = try bySharpness("src")
        let r = try facet(["reject", project, "--role", "src", "--blurriest", "10%"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let n = order.count / 10
        XCTAssertGreaterThan(n, 0)
        XCTAssertEqual(Set(try rejected()), Set(order.prefix(n).map(\.0)))
        XCTAssertTrue(r.stdout.hasPrefix("rejected \(n) faces"), r.stdout)
        XCTAssertEqual(try facet(["reject", project, "--role", "src", "--blurriest", "150%"]).status, 2, "a share is at most 100%")
    }

    // MARK: The README's own example would wipe the set

    func testSharpnessBelowRefusesDstFacesAndMostOfTheSetUnlessTold() throws {
        // The old README line: every face of both roles is under 20.
        let old = try facet(["reject", project, "--blur-below", "20"])
        assertFailsCleanly(old, mentioning: "dst")
        XCTAssertTrue(old.stderr.contains("--role src"), old.stderr)
        XCTAssertEqual(try rejected(), [])
        XCTAssertEqual(try facet(["undo", project]).stdout, "nothing to undo\n", "refused: no change recorded")
        // With --role src it would still take more than half: refused, with the scale printed.
        let most = try facet(["reject", project, "--role", "src", "--sharpness-below", "20"])
        assertFailsCleanly(most, mentioning: "--yes")
        XCTAssertTrue(most.stderr.contains("range"), most.stderr)
        XCTAssertEqual(try rejected(), [])
        // A value inside the range takes what it says; the old name still works, with a note.
        let order = try bySharpness("src")
        let cut = order[4].1
        let r = try facet(["reject", project, "--role", "src", "--blur-below", "\(cut)"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("--sharpness-below"), r.stderr)
        XCTAssertEqual(Set(try rejected()), Set(order.filter { $0.1 < cut }.map(\.0)))
        // --role dst says so explicitly and goes ahead.
        let dst = try facet(["reject", project, "--role", "dst", "--blurriest", "1"])
        XCTAssertEqual(dst.status, 0, dst.stderr)
    }

    // MARK: duplicates

    func testDuplicatesSaysWhatWouldBeLeftAndThatNothingChanged() throws {
        let kept = try ids(["faces", project]).count
        let r = try facet(["duplicates", project])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("would leave"), r.stdout)
        XCTAssertTrue(r.stdout.contains("histogram distance"), "what the numbers mean: \(r.stdout)")
        XCTAssertTrue(r.stderr.contains("nothing changed"), r.stderr)
        XCTAssertEqual(try ids(["faces", project]).count, kept)
        // Rejecting without --role would take dst faces: refused unless said.
        let loose = try facet(["duplicates", project, "--threshold", "2.5", "--reject"])
        assertFailsCleanly(loose, mentioning: "dst")
        XCTAssertEqual(try rejected(), [])
    }

    // MARK: ids as printed, redo

    func testEveryIdFormThePrintsAreAcceptedAndRedoFollowsUndo() throws {
        var r = try facet(["reject", project, "3-5", "9,11"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("rejected 5 faces: 3-5, 9, 11"), r.stdout)
        // What the tool printed goes back in as it is.
        r = try facet(["restore", project, "3-5, 9, 11"])
        XCTAssertTrue(r.stdout.hasPrefix("restored 5 faces"), r.stdout)
        XCTAssertEqual(try rejected(), [])
        XCTAssertEqual(try facet(["undo", project]).status, 0)
        XCTAssertEqual(try rejected(), [3, 4, 5, 9, 11])
        r = try facet(["undo", project])
        XCTAssertEqual(try rejected(), [])
        r = try facet(["redo", project])
        XCTAssertTrue(r.stdout.hasPrefix("redid change 1"), r.stdout)
        XCTAssertEqual(try rejected(), [3, 4, 5, 9, 11])
        r = try facet(["redo", project])
        XCTAssertTrue(r.stdout.hasPrefix("redid change 2"), r.stdout)
        XCTAssertEqual(try rejected(), [])
        XCTAssertEqual(try facet(["redo", project]).stdout, "nothing to redo\n")
        // A new change after an undo ends the redo.
        _ = try facet(["undo", project])
        _ = try facet(["reject", project, "7"])
        XCTAssertTrue(try facet(["redo", project]).stdout.hasPrefix("nothing to redo: change 3 was made"))
        XCTAssertEqual(try facet(["reject", project, "4-2"]).status, 2, "a backwards range is a usage error")
        XCTAssertEqual(try facet(["reject", project, "x1"]).status, 2)
    }

    func testRestoreOfAFaceNeverRejectedSaysSo() throws {
        let r = try facet(["restore", project, "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "nothing to change: the face is not rejected (it is kept)\n")
    }

    // MARK: tags

    func testTagsAreListedShownAndNotMistypedAsIds() throws {
        let numeric = try facet(["tag", project, "12", "13"])
        assertFailsCleanly(numeric, mentioning: "not a number")
        XCTAssertEqual(try facet(["tags", project]).stdout, "no face tags yet (facet tag PROJECT TAG IDS... adds one)\n")
        XCTAssertEqual(try facet(["tag", project, "frontal", "3-5"]).status, 0)
        let list = try facet(["tags", project])
        XCTAssertTrue(list.stdout.contains("frontal"), list.stdout)
        let counts = try rows(["tags", project])
        XCTAssertEqual(counts.first?["tag"] as? String, "frontal")
        XCTAssertEqual((counts.first?["faces"] as? NSNumber)?.intValue, 3)
        let face = try rows(["faces", project, "--where", "id = 4"]).first!
        XCTAssertEqual(face["tags"] as? [String], ["frontal"])
        XCTAssertTrue(try facet(["info", project]).stdout.contains("frontal: 3 faces"))
    }

    // MARK: merge previews and saved settings

    func testPreviewKeepsSavedSettingsShowsBothAndConfigsAreListed() throws {
        var r = try facet(["merge", project, "--checkpoint", "demo:best", "--frames", "0..4", "--out", path("a.mp4"), "--save-config", "mine"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let before = try facet(["merge-configs", project, "--json"]).stdout
        XCTAssertTrue(before.contains("\"mine\""), before)
        r = try facet(["merge", project, "--checkpoint", "latest", "--preview", "0", "--out", path("p.png"), "--erode", "40"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try facet(["merge-configs", project, "--json"]).stdout, before, "a preview saves nothing")
        // The preview is the original frame beside the merged one: twice the video's width.
        let png = try XCTUnwrap(FileManager.default.contents(atPath: path("p.png")))
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 960)
        let unknown = try facet(["merge", project, "--checkpoint", "latest", "--from-config", "demo", "--out", path("b.mp4")])
        assertFailsCleanly(unknown, mentioning: "saved: mine")
        let listed = try facet(["merge-configs", project])
        XCTAssertTrue(listed.stdout.contains("mine") && listed.stdout.contains("learned-and-hull"), listed.stdout)
        XCTAssertTrue(listed.stdout.contains("expression 1.0"), "the restore is on by default: \(listed.stdout)")
        let tooMuch = try facet(["merge", project, "--checkpoint", "latest", "--expression", "2", "--out", path("c.mp4")])
        assertFailsCleanly(tooMuch, mentioning: "--expression must be 0...1")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("c.mp4")))
        // The old option name still saves, with a note.
        let second = try XCTUnwrap(try rows(["faces", project, "--role", "dst"]).dropFirst().first?["frame_index"] as? NSNumber)
        r = try facet(["merge", project, "--checkpoint", "latest", "--preview", "\(second)", "--out", path("q.png"), "--config", "old"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("--save-config"), r.stderr)
        XCTAssertTrue(try facet(["merge-configs", project]).stdout.contains("old"))
    }

    // MARK: typos

    func testTyposGetTheNearestValidValue() throws {
        var r = try facet(["sort", project, "--sort", "blurr"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("did you mean sharpness?"), r.stderr)
        XCTAssertFalse(r.stderr.contains("see below"), r.stderr)
        r = try facet(["faces", project, "--sort", "-yawn"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("did you mean -yaw?"), r.stderr)
        r = try facet(["sort", project, "--sort", "best"])
        XCTAssertTrue(r.stderr.contains("best:N"), r.stderr)
        r = try facet(["sort", project, "--sort", "-ordering:mine"])
        XCTAssertTrue(r.stderr.contains("cannot be reversed"), r.stderr)
        r = try facet(["reject", project, "--where", "blur < "])
        assertFailsCleanly(r, mentioning: "incomplete")
        XCTAssertFalse(r.stderr.contains("\")\""), "no parenthesis the user never typed: \(r.stderr)")
    }

    // MARK: what a sort shows and saves

    func testSortShowsItsColumnSortsRolesApartAndSavesTheWholeOrder() throws {
        let hue = try facet(["faces", project, "--role", "src", "--sort", "hue", "--limit", "3"])
        XCTAssertTrue(hue.stdout.split(separator: "\n")[0].contains("hue"), hue.stdout)
        let size = try facet(["sort", project, "--role", "src", "--sort", "-face_size", "--limit", "3"])
        XCTAssertTrue(size.stdout.split(separator: "\n")[0].contains("face_size"), size.stdout)
        // Without --role: the src order, then the dst order, never interleaved.
        let both = try rows(["sort", project, "--sort", "hist"])
        let roles = both.map { $0["role"] as! String }
        XCTAssertEqual(roles, roles.sorted { $0 == "src" && $1 == "dst" })
        XCTAssertEqual(Set(roles), ["src", "dst"])
        let srcCount = try ids(["faces", project, "--role", "src"]).count
        let s = try facet(["sort", project, "--role", "src", "--sort", "sharpness", "--limit", "3", "--save", "top"])
        XCTAssertEqual(s.stdout.split(separator: "\n").count, 4, "a header and three faces")
        XCTAssertTrue(s.stderr.contains("of \(srcCount) faces (the whole order"), s.stderr)
        XCTAssertEqual(try ids(["sort", project, "--sort", "ordering:top"]).count, srcCount)
    }

    // MARK: smaller ones

    func testDetectSaysNoFaceForAFacelessImage() throws {
        let images = Self.fixtures + "/images/"
        let r = try facet(["detect", images + "noface/coffee.png", images + "faces/2008_001009.jpg"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("coffee.png: no face"), r.stdout)
        XCTAssertTrue(r.stdout.contains("2008_001009.jpg face 0"), r.stdout)
    }

    func testCheckpointSizesAreExplained() throws {
        let r = try facet(["checkpoints", project])
        XCTAssertTrue(r.stdout.contains("optimizer state"), r.stdout)
    }

    func testSubcommandsAreGroupedInWorkflowOrder() throws {
        let help = try facet(["--help"]).stdout
        let order = ["init", "extract", "reject", "train", "merge"].map { help.range(of: "\n  \($0) ")?.lowerBound }
        XCTAssertFalse(order.contains(nil), help)
        XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), help)
        for group in ["START", "EXTRACT", "CURATE FACES", "TRAIN AND CHOOSE A MODEL", "MERGE"] {
            XCTAssertTrue(help.contains(group), "group \(group): \(help)")
        }
    }
}
