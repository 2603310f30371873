/// `facet init`, `info`, `faces` and `--help`, run as a user runs them, including every bad file.
import XCTest
import Foundation
import FacetStore

final class ProjectCommandTests: CLITestCase {
    /// Every subcommand, in the order `facet --help` lists them (grouped by workflow step), with the
    /// one line it is described by: a golden copy, so a command added, dropped or reworded shows here.
    static let goldenHelp: [(String, String)] = [
        ("init", "Create an empty project file."),
        ("import", "Import a video or a folder of images as src or dst."),
        ("import-faces", "Import a folder of aligned face images (PNG/JPEG) as faces, signatures computed: landmarks from "
            + "DeepFaceLab's APP15 block when a file has one (kept as they are, with its source frame, rect, matrix, polygons "
            + "and mask), found on the image otherwise."),
        ("info", "Summarise a project: media, faces, models, checkpoints."),
        ("demo", "Run the whole pipeline on the sample videos: import, extract, curate, train, merge."),
        ("extract", "Find, align and score every face in the role's videos."),
        ("detect", "Find faces and 68 landmarks in images (no project needed)."),
        ("faces", "List faces: filter, sort by any signature, page."),
        ("tracks", "List a role's face tracks (first and last frame, faces, filled faces, gaps, jitter before and after smoothing)."),
        ("sort", "Order faces by a stored signature, histogram chain, dissimilarity or best-N; print, save or tag the order."),
        ("similar", "The faces nearest to a face: by identity (the same person first) or by colour histogram."),
        ("embed", "Compute the face-recognition descriptor of every face stored without one (projects made before identity)."),
        ("people", "Cluster each role's faces into persons by identity (stored), and list or name them."),
        ("duplicates", "Find near-identical faces (e.g. consecutive frames of a still shot); keep the sharpest of each group."),
        ("reject", "Mark faces rejected (never deletes; undoable)."),
        ("restore", "Mark rejected faces kept again (undoable)."),
        ("tag", "Tag faces (or with --remove, untag them); undoable."),
        ("tags", "List face tags with how many faces carry each."),
        ("mask", "Import or export hand-drawn mask labels (include/exclude polygons per face), or write each face's mask as a PNG."),
        ("undo", "Undo the last reject, restore, tag or mask labels change (facet redo applies it again)."),
        ("redo", "Apply again the change the last undo reverted."),
        ("orderings", "List saved orderings (from `facet sort --save`)."),
        ("export", "Write the curated faces to a folder: images named in sort order, plus manifest.jsonl."),
        ("serve", "Browse, sort and reject faces in a gallery in the browser (reads the project live)."),
        ("train", "Train a face-swap model on the kept src and dst faces (Ctrl-C saves and stops)."),
        ("pretrain", "Train a generic model on every kept face of several projects (both decoders on all faces), for "
            + "facet train --init-from."),
        ("xseg", "Train the occlusion segmenter on the labelled faces (xseg train) and store a mask for every face "
            + "(xseg apply)."),
        ("checkpoints", "List checkpoints: losses (smoothed), held-out loss, tags, size; per model best, latest and where the loss curve is heading."),
        ("score", "Score a checkpoint's swaps: held-out dst faces swapped as merge would, judged by identity, expression and detail; stored."),
        ("tag-checkpoint", "Tag a checkpoint (or with --remove, untag it); a tag resolves like best and latest wherever a checkpoint is expected."),
        ("compare", "Evaluate two checkpoints now on the same held-out faces, beside their stored losses and swap "
            + "scores; --out writes their swaps side by side."),
        ("plot", "Plot loss curves (raw, smoothed, held-out points, convergence fit) of one or more models to a PNG or SVG."),
        ("prune", "Drop the weights of all but the best, latest and tagged checkpoints; their losses and previews stay."),
        ("export-model", "Write a checkpoint for other tools: its weights as safetensors, or its swap graph as ONNX or DeepFaceLive's DFM."),
        ("import-model", "Bring a DeepFaceLab Quick96 model folder in as a Facet quick96 model with one checkpoint (its weights, its iteration count)."),
        ("merge", "Swap the destination video's faces with a checkpoint and write an H.264 mp4 with its audio (DeepFaceLab's convert)."),
        ("merge-configs", "List saved merge settings (facet merge --from-config NAME starts from one)."),
        ("merges", "List the project's merge runs, or with RUN --worst N a run's worst frames and why."),
    ]

    func testHelpListsEveryCommandWithItsGoldenLine() throws {
        let r = try facet(["--help"])
        XCTAssertEqual(r.status, 0)
        // The listed commands, in order: "  NAME   abstract" lines of the subcommand sections.
        let listed = r.stdout.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first else { return nil }
            return String(name)
        }.filter { !$0.hasPrefix("-") && $0.allSatisfy { $0.isLowercase || $0 == "-" } }
        XCTAssertEqual(listed, Self.goldenHelp.map(\.0), r.stdout)
        for (name, line) in Self.goldenHelp {
            let h = try facet([name, "--help"])
            XCTAssertEqual(h.status, 0, name)
            // The OVERVIEW paragraph, unwrapped.
            let overview = h.stdout.components(separatedBy: "\n\n")[0].replacingOccurrences(of: "OVERVIEW: ", with: "")
                .split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
            XCTAssertEqual(overview, line, name)
            XCTAssertTrue(h.stdout.contains("USAGE: facet \(name)"), "\(name): \(h.stdout)")
        }
    }

    func testInitInfoFacesOnAFreshProject() throws {
        XCTAssertEqual(try facet(["init", "w.facet"]).status, 0)
        let info = try facet(["info", "w.facet", "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["schema_version"] as? Int, ProjectSchema.currentVersion)
        XCTAssertGreaterThanOrEqual(ProjectSchema.currentVersion, 2)
        XCTAssertEqual((obj["media"] as? [Any])?.count, 0)
        let faces = try facet(["faces", "w.facet", "--json", "--sort", "-blur", "--where", "blur > 1"])
        XCTAssertEqual(faces.status, 0, faces.stderr)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(faces.stdout.utf8)) as? [Any])?.count, 0)
        let again = try facet(["init", "w.facet"])
        assertFailsCleanly(again, mentioning: "already exists")
        XCTAssertEqual(try facet(["init", "w.facet", "--force"]).status, 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("w.facet-wal")), "no WAL left after a clean exit")
    }

    func testBadProjectFilesFailWithOneLineAndStayUnchanged() throws {
        try Data("not a project".utf8).write(to: URL(fileURLWithPath: path("text.facet")))
        try FileManager.default.createDirectory(atPath: path("adir"), withIntermediateDirectories: false)
        // An SQLite file that is not Facet's, made by the sqlite3 shell if present, else by facet's own format check.
        let other = path("other.db")
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = [other, "CREATE TABLE t(x); INSERT INTO t VALUES (1);"]
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3") { try sqlite.run(); sqlite.waitUntilExit() }
        var cases: [(String, String)] = [("missing.facet", "no such file"), ("adir", "is a directory"), ("text.facet", "not an SQLite database")]
        if FileManager.default.fileExists(atPath: other) { cases.append(("other.db", "not a Facet project")) }
        for (name, text) in cases {
            for cmd in [["info", name], ["faces", name], ["info", name, "--json"]] {
                let before = snapshot(path(name))
                assertFailsCleanly(try facet(cmd), mentioning: text)
                let after = snapshot(path(name))
                XCTAssertEqual(after.0, before.0, "\(name) changed")
                XCTAssertEqual(after.1, before.1, "files appeared beside \(name)")
            }
        }
    }

    func testUsageErrorsExitWith2() throws {
        XCTAssertEqual(try facet(["init", "w.facet"]).status, 0)
        XCTAssertEqual(try facet(["faces", "w.facet", "--sort", "nonsense"]).status, 2)
        XCTAssertEqual(try facet(["faces", "w.facet", "--status", "maybe"]).status, 2)
        XCTAssertEqual(try facet(["no-such-command"]).status, 2)
    }

    func testWriteThroughWhereIsRefused() throws {
        XCTAssertEqual(try facet(["init", "w.facet"]).status, 0)
        let before = snapshot(path("w.facet"))
        assertFailsCleanly(try facet(["faces", "w.facet", "--where", "1); DROP TABLE face; --"]), mentioning: "--where")
        XCTAssertEqual(snapshot(path("w.facet")).0, before.0)
    }
}
