/// Model selection as a user runs it: `facet checkpoints`, `tag-checkpoint`, `compare`, `plot`, `prune` and `export-model` on a project with two short `tiny` runs (and one quick96 checkpoint), through the built binary.
import XCTest
import Foundation
import FacetStore

final class SelectionCLITests: CLITestCase {
    var project: String { path("s.facet") }

    /// Made once for the class with the CLI: 24 sample faces per role (64 px crops of the sample
    /// videos), model `a` (batch 4) and `b` (batch 6), both seed 1, checkpoints at iterations 4, 8
    /// and 12 (three runs each: a new one and two resumes), and model `q` (quick96, 96 px), one
    /// iteration.
    nonisolated(unsafe) static var template: String?

    override class func tearDown() {
        removeTemplate(&template)
        super.tearDown()
    }

    override func setUpWithError() throws {
        try super.setUpWithError()
        try copyTemplate(&Self.template, name: "selection", to: project) { t in
            try run(["init", t])
            try addSampleFaces(t, role: .src, count: 24, size: 64, video: Self.fixtures + "/video/src-d18.mp4")
            try addSampleFaces(t, role: .dst, count: 24, size: 64, video: Self.fixtures + "/video/dst-d19.mp4")
            for (name, batch) in [("a", "4"), ("b", "6")] {
                try run(["train", t, "--model", "tiny", "--name", name, "--batch", batch, "--iterations", "4", "--seed", "1"])
                try run(["train", t, "--resume", name, "--iterations", "8"])
                try run(["train", t, "--resume", name, "--iterations", "12"])
            }
            try run(["train", t, "--model", "quick96", "--name", "q", "--batch", "2", "--iterations", "1", "--seed", "1"])
        }
    }

    /// Runs a command that must succeed.
    @discardableResult
    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CommandResult {
        let r = try facet(args)
        XCTAssertEqual(r.status, 0, "facet \(args.joined(separator: " ")): \(r.stderr)", file: file, line: line)
        return r
    }

    func json(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try run(args + ["--json"], file: file, line: line)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.stdout, file: file, line: line)
    }

    func int(_ v: Any?) -> Int64 { (v as? NSNumber)?.int64Value ?? -1 }
    func double(_ v: Any?) -> Double? { (v as? NSNumber)?.doubleValue }

    /// The checkpoints of `model` from `facet checkpoints --json`.
    func checkpoints(_ model: String) throws -> [[String: Any]] {
        let all = try json(["checkpoints", project])["checkpoints"] as! [[String: Any]]
        return all.filter { $0["model"] as? String == model }
    }

    /// Width, height and RGB pixels of a PNG, decoded by the system ffmpeg (this target links no image codec).
    func decodePNG(_ file: String) throws -> (width: Int, height: Int, rgb: [UInt8]) {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: file), file)
        XCTAssertEqual(Array(data.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature")
        func be32(_ o: Int) -> Int { data[o...(o + 3)].reduce(0) { $0 << 8 | Int($1) } }
        let (w, h) = (be32(16), be32(20))
        let raw = path("decoded-\(UUID().uuidString).rgb")
        let ff = Process()
        ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ff.arguments = ["-v", "error", "-i", file, "-f", "rawvideo", "-pix_fmt", "rgb24", raw]
        try ff.run()
        ff.waitUntilExit()
        XCTAssertEqual(ff.terminationStatus, 0, "ffmpeg decodes \(file)")
        let rgb = [UInt8](try XCTUnwrap(FileManager.default.contents(atPath: raw)))
        XCTAssertEqual(rgb.count, w * h * 3)
        return (w, h, rgb)
    }

    /// Distinct colours in RGB pixels.
    func colours(_ rgb: [UInt8]) -> Int {
        var seen = Set<Int>()
        for i in stride(from: 0, to: rgb.count - 2, by: 3) {
            let r = Int(rgb[i]), g = Int(rgb[i + 1]), b = Int(rgb[i + 2])
            seen.insert(r << 16 | g << 8 | b)
        }
        return seen.count
    }

    /// Pixels of exactly colour `c`.
    func pixels(_ rgb: [UInt8], _ c: (UInt8, UInt8, UInt8)) -> Int {
        var n = 0
        for i in stride(from: 0, to: rgb.count - 2, by: 3) where rgb[i] == c.0 && rgb[i + 1] == c.1 && rgb[i + 2] == c.2 { n += 1 }
        return n
    }

    func testCheckpointsJSONOrderAliasesAndTags() throws {
        let listing = try json(["checkpoints", project])
        let models = listing["models"] as! [[String: Any]]
        XCTAssertEqual(models.map { $0["name"] as! String }, ["a", "b", "q"])
        let all = listing["checkpoints"] as! [[String: Any]]
        XCTAssertEqual(all.map { $0["model"] as! String }, ["a", "a", "a", "b", "b", "b", "q"])
        XCTAssertEqual(all.map { int($0["iteration"]) }, [4, 8, 12, 4, 8, 12, 1])
        for key in ["id", "model", "iteration", "created_at", "loss_src", "loss_dst", "val_loss", "tags", "bytes", "aliases"] {
            XCTAssertTrue(all.allSatisfy { $0[key] != nil }, "every checkpoint has \(key)")
        }
        for m in models where m["name"] as! String != "q" {
            let name = m["name"] as! String
            let mine = all.filter { $0["model"] as? String == name }
            // best: the lowest held-out loss; latest: the highest iteration.
            let best = mine.min { double($0["val_loss"])! < double($1["val_loss"])! }!
            XCTAssertEqual(int(m["best"]), int(best["id"]))
            XCTAssertEqual(int(m["latest"]), int(mine.last!["id"]))
            XCTAssertEqual(mine.filter { ($0["aliases"] as! [String]).contains("best") }.map { int($0["id"]) }, [int(best["id"])])
            XCTAssertTrue(mine.allSatisfy { int($0["bytes"]) > 100_000 && double($0["loss_src"])! > 0 && double($0["loss_dst"])! > 0 })
            // 12 stored iterations are enough for the convergence fit.
            let fit = try XCTUnwrap(m["convergence"] as? [String: Any], "\(name) has a fit")
            XCTAssertNotNil(double(fit["floor"])); XCTAssertNotNil(fit["flattened"] as? Bool)
            XCTAssertEqual(int(fit["last_iteration"]), 12)

            // The aliases resolve wherever a checkpoint is expected: MODEL:best, and --model.
            let e1 = try run(["export-model", project, "\(name):best", "--out", path("\(name)-best.safetensors")])
            XCTAssertTrue(e1.stdout.contains("(checkpoint #\(int(best["id"])), \(name), iteration"), e1.stdout)
            let e2 = try run(["export-model", project, "latest", "--model", name, "--out", path("\(name)-latest.safetensors")])
            XCTAssertTrue(e2.stdout.contains("(checkpoint #\(int(mine.last!["id"])), \(name), iteration 12)"), e2.stdout)
        }
        let text = try run(["checkpoints", project, "--model", "a"]).stdout
        XCTAssertTrue(text.contains("model a (tiny, 64 px): 3 checkpoints, 12 iterations"), text)
        // A fit line: a floor, or (a pure power law so far, as short runs often are) none yet.
        XCTAssertTrue(text.contains("convergence: floor ") || text.contains("convergence: no floor in sight yet"), text)
        XCTAssertFalse(text.contains("model b"), text)

        // A user tag resolves like an alias; removing it makes it unknown again.
        let first = int(all[0]["id"])
        try run(["tag-checkpoint", project, "\(first)", "keeper"])
        XCTAssertEqual(try checkpoints("a")[0]["tags"] as? [String], ["keeper"])
        let tagged = try run(["export-model", project, "a:keeper", "--out", path("keeper.safetensors")])
        XCTAssertTrue(tagged.stdout.contains("(checkpoint #\(first), a, iteration 4)"), tagged.stdout)
        try run(["tag-checkpoint", project, "a:keeper", "keeper", "--remove"])
        assertFailsCleanly(try facet(["export-model", project, "a:keeper", "--out", path("k2.safetensors")]), mentioning: "has no checkpoint 'keeper'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("k2.safetensors")))
        assertFailsCleanly(try facet(["export-model", project, "a:keeper", "--format", "onnx", "--out", path("k2.onnx")]), mentioning: "has no checkpoint 'keeper'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("k2.onnx")))
        // The swap graph as DeepFaceLive's DFM (onnxruntime checks it in FacetSelectTests.ONNXExportTests).
        let dfm = try run(["export-model", project, "a:best", "--format", "dfm", "--out", path("a.dfm")])
        XCTAssertTrue(dfm.stdout.contains("dfm tiny 64 px") && dfm.stdout.contains("in in_face:0, out out_face_mask:0, out_celeb_face:0, out_celeb_face_mask:0"),
                      dfm.stdout)

        // Bad references: one clear line, exit 1, nothing changed. (tag-checkpoint opens the file
        // for writing, and closing it may fold the write-ahead log into the file, so the check is
        // on what the project holds: every checkpoint with its tags, sizes and losses.)
        let before = try run(["checkpoints", project, "--json"]).stdout
        assertFailsCleanly(try facet(["tag-checkpoint", project, "a:latest", "best"]), mentioning: "cannot be a checkpoint tag")
        assertFailsCleanly(try facet(["tag-checkpoint", project, "best", "x"]), mentioning: "has 3 models")
        assertFailsCleanly(try facet(["tag-checkpoint", project, "4242", "x"]), mentioning: "has no checkpoint 4242")
        assertFailsCleanly(try facet(["checkpoints", project, "--model", "nosuch"]), mentioning: "has no model named 'nosuch'")
        XCTAssertEqual(try run(["checkpoints", project, "--json"]).stdout, before)
    }

    func testCompareEvaluatesBothOnTheSameFacesAndRefusesWhatDoesNotCompare() throws {
        let out = path("compare.png")
        let c = try json(["compare", project, "a:latest", "b:latest", "--out", out])
        let a = c["a"] as! [String: Any], b = c["b"] as! [String: Any]
        XCTAssertEqual(a["model"] as? String, "a"); XCTAssertEqual(b["model"] as? String, "b")
        XCTAssertEqual(int(a["iteration"]), 12); XCTAssertEqual(int(b["iteration"]), 12)
        XCTAssertEqual(c["face_source"] as? String, "held out by both models")
        let srcFaces = c["src_faces"] as! [NSNumber], dstFaces = c["dst_faces"] as! [NSNumber]
        XCTAssertFalse(srcFaces.isEmpty); XCTAssertFalse(dstFaces.isEmpty)
        // Both models (seed 1) hold out these very faces, so evaluating now gives back the held-out
        // loss each trainer stored: one definition of the loss, the same faces.
        for side in [a, b] {
            let now = side["evaluated"] as! [String: Any], stored = side["stored_val_loss"] as! [String: Any]
            for role in ["src", "dst", "mean"] {
                let s = try XCTUnwrap(double(stored[role])), n = try XCTUnwrap(double(now[role]))
                XCTAssertEqual(n, s, accuracy: 1e-5 * s, "\(side["model"]!) \(role)")
            }
        }
        let better = c["better"] as! String
        let ma = double((a["evaluated"] as! [String: Any])["mean"])!, mb = double((b["evaluated"] as! [String: Any])["mean"])!
        XCTAssertEqual(better, ma < mb ? "a" : "b")
        let png = try decodePNG(out)
        let rows = min(4, max(srcFaces.count, dstFaces.count))
        XCTAssertEqual(png.width, 6 * 128 + 7 * 4 + 8)
        XCTAssertEqual(png.height, 64 + rows * 128 + (rows + 1) * 4)
        XCTAssertGreaterThan(colours(png.rgb), 1000, "faces, not a blank image")

        // The text form names both and says which is lower.
        let text = try run(["compare", project, "a:best", "b:best", "--faces", "2"]).stdout
        XCTAssertTrue(text.contains("evaluated on the same 2 src and 2 dst faces (held out by both models)"), text)
        XCTAssertTrue(text.contains("on these faces\n"), text)
        // Then both stored swap scores: none here (these faces have no descriptors), each saying how to get one.
        let swapLines = text.components(separatedBy: "swap scores (stored")[1].split(separator: "\n")
        XCTAssertTrue(swapLines.contains { $0.hasPrefix("A ") && $0.contains("not scored (facet score PROJECT") }, text)
        XCTAssertTrue(swapLines.contains { $0.hasPrefix("B ") && $0.contains("not scored (facet score PROJECT") }, text)

        // Unknown checkpoints, checkpoints of different architectures: one line, exit 1, nothing written.
        let before = snapshot(project)
        assertFailsCleanly(try facet(["compare", project, "a:latest", "4242"]), mentioning: "has no checkpoint 4242")
        assertFailsCleanly(try facet(["compare", project, "a:latest", "a:nosuch"]), mentioning: "has no checkpoint 'nosuch'")
        assertFailsCleanly(try facet(["compare", project, "nosuch:best", "a:best"]), mentioning: "has no model named 'nosuch'")
        let q = try checkpoints("q")[0]
        let arch = try facet(["compare", project, "a:latest", "\(int(q["id"]))", "--out", path("no.png")])
        assertFailsCleanly(arch, mentioning: "do not compare")
        XCTAssertTrue(arch.stderr.contains("tiny model (64 px") && arch.stderr.contains("quick96 model (96 px"), arch.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("no.png")))
        XCTAssertEqual(try facet(["compare", project, "a:latest", "b:latest", "--out", path("x.jpg")]).status, 2, "usage error")
        XCTAssertEqual(snapshot(project).0, before.0)
    }

    func testPlotWritesAReadablePNGAndSVG() throws {
        let out = path("loss.png")
        XCTAssertEqual(try run(["plot", project, "--model", "a", "--model", "b", "--out", out, "--width", "900", "--height", "500"]).stdout, "wrote \(out)\n")
        let png = try decodePNG(out)
        XCTAssertEqual(png.width, 900); XCTAssertEqual(png.height, 500)
        XCTAssertLessThan(pixels(png.rgb, (255, 255, 255)), 900 * 500 * 985 / 1000, "not blank")
        XCTAssertGreaterThan(pixels(png.rgb, (31, 119, 180)), 200, "model a's colour")
        XCTAssertGreaterThan(pixels(png.rgb, (230, 110, 0)), 200, "model b's colour")
        let logOut = path("loss-log.png")
        try run(["plot", project, "--log", "--out", logOut])
        let log = try decodePNG(logOut)
        XCTAssertEqual(log.width, 1200); XCTAssertEqual(log.height, 720)

        let svg = path("loss.svg")
        try run(["plot", project, "--model", "b", "--out", svg])
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("<svg"), String(text.prefix(80)))
        XCTAssertTrue(text.contains("<polyline")); XCTAssertTrue(text.contains(">b src, mean of 1<")); XCTAssertFalse(text.contains(">a src"))

        assertFailsCleanly(try facet(["plot", project, "--model", "nosuch", "--out", path("n.png")]), mentioning: "has no model named 'nosuch'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("n.png")))
        XCTAssertEqual(try facet(["plot", project, "--out", path("n.txt")]).status, 2)
        XCTAssertEqual(try facet(["plot", project, "--out", path("n.png"), "--width", "10"]).status, 2)
    }

    func testPruneKeepsBestLatestAndTaggedAndTheyStillLoad() throws {
        let before = try json(["checkpoints", project])
        let all = before["checkpoints"] as! [[String: Any]]
        let models = before["models"] as! [[String: Any]]
        // Tag one of b's that is neither best nor latest, if there is one: tagged checkpoints stay.
        let extra = all.first { $0["model"] as? String == "b" && ($0["aliases"] as! [String]).isEmpty }
        if let t = extra { try run(["tag-checkpoint", project, "\(int(t["id"]))", "keep"]) }
        var keep = Set(models.flatMap { [int($0["best"]), int($0["latest"])] })
        if let t = extra { keep.insert(int(t["id"])) }
        let expectedPruned = Set(all.map { int($0["id"]) }).subtracting(keep)
        XCTAssertFalse(expectedPruned.isEmpty)

        let dry = try json(["prune", project, "--keep-best", "1", "--keep-latest", "1", "--dry-run"])
        XCTAssertEqual(Set((dry["pruned"] as! [NSNumber]).map(\.int64Value)), expectedPruned)
        let afterDry = try json(["checkpoints", project])["checkpoints"] as! [[String: Any]]
        XCTAssertTrue(afterDry.allSatisfy { $0["pruned"] as? Bool == false }, "a dry run changes nothing")

        let r = try json(["prune", project, "--keep-best", "1", "--keep-latest", "1", "--vacuum"])
        XCTAssertEqual(Set((r["pruned"] as! [NSNumber]).map(\.int64Value)), expectedPruned)
        XCTAssertEqual(Set((r["kept"] as! [[String: Any]]).map { int($0["id"]) }), keep)
        let freed = int(r["tensor_bytes_freed"])
        XCTAssertEqual(freed, all.filter { expectedPruned.contains(int($0["id"])) }.reduce(0) { $0 + int($1["bytes"]) })
        XCTAssertLessThan(int(r["file_bytes_after"]), int(r["file_bytes_before"]) - freed / 2, "vacuum gives the space back")

        let after = try json(["checkpoints", project])["checkpoints"] as! [[String: Any]]
        XCTAssertEqual(after.map { int($0["id"]) }, all.map { int($0["id"]) }, "every row stays")
        for c in after {
            let id = int(c["id"])
            if expectedPruned.contains(id) {
                XCTAssertEqual(c["pruned"] as? Bool, true); XCTAssertEqual(int(c["bytes"]), 0)
                XCTAssertEqual(double(c["val_loss"]), double(all.first { int($0["id"]) == id }!["val_loss"]), "losses stay")
                assertFailsCleanly(try facet(["export-model", project, "\(id)", "--out", path("p.safetensors")]), mentioning: "was pruned")
            } else {
                XCTAssertEqual(c["pruned"] as? Bool, false)
            }
        }
        // What was kept still loads: both tiny models' best and latest evaluate and swap faces.
        for m in ["a", "b"] {
            let c = try json(["compare", project, "\(m):best", "\(m):latest", "--faces", "2"])
            XCTAssertNotNil(double(((c["a"] as! [String: Any])["evaluated"] as! [String: Any])["mean"]))
        }
        // Pruning again finds nothing more.
        let again = try json(["prune", project, "--keep-best", "1", "--keep-latest", "1"])
        XCTAssertEqual((again["pruned"] as! [NSNumber]).count, 0)
        XCTAssertEqual(Set((again["already_pruned"] as! [NSNumber]).map(\.int64Value)), expectedPruned)
        XCTAssertEqual(try facet(["prune", project, "--keep-best", "1", "--keep-latest", "0"]).status, 2, "training resumes from the latest")
    }

    func testExportModelWritesSafetensorsOtherToolsRead() throws {
        let out = path("a.safetensors")
        let r = try run(["export-model", project, "a:latest", "--out", out])
        let latest = try checkpoints("a").last!
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(out): "), r.stdout)
        let data = try XCTUnwrap(FileManager.default.contents(atPath: out))
        let n = Int(data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        XCTAssertEqual(n % 8, 0, "header padded to 8 bytes")
        let header = try XCTUnwrap(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as? [String: Any])
        let meta = try XCTUnwrap(header["__metadata__"] as? [String: String])
        XCTAssertEqual(meta["model"], "a"); XCTAssertEqual(meta["architecture"], "tiny"); XCTAssertEqual(meta["iteration"], "12")
        let tensors = header.filter { $0.key != "__metadata__" }.mapValues { $0 as! [String: Any] }
        XCTAssertGreaterThan(tensors.count, 10)
        // Every tensor F32, its byte range the product of its shape times 4, the ranges tiling the data exactly.
        var ranges: [(Int, Int)] = []
        for (name, t) in tensors {
            XCTAssertEqual(t["dtype"] as? String, "F32", name)
            let shape = (t["shape"] as! [NSNumber]).map(\.intValue), offsets = (t["data_offsets"] as! [NSNumber]).map(\.intValue)
            XCTAssertEqual(offsets[1] - offsets[0], shape.reduce(1, *) * 4, name)
            ranges.append((offsets[0], offsets[1]))
        }
        ranges.sort { $0.0 < $1.0 }
        XCTAssertEqual(ranges.first?.0, 0)
        for k in 1..<ranges.count { XCTAssertEqual(ranges[k].0, ranges[k - 1].1) }
        XCTAssertEqual(data.count, 8 + n + ranges.last!.1)
        XCTAssertLessThanOrEqual(Int64(ranges.last!.1), int(latest["bytes"]), "the weights, a part of what the checkpoint stores")
        // Weights, not zeros: the trained values made it out.
        let floats = data.subdata(in: (8 + n)..<data.count).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        XCTAssertGreaterThan(Set(floats.prefix(100_000)).count, 1000)
        XCTAssertTrue(floats.allSatisfy(\.isFinite))

        // Unknown checkpoint or an unwritable path: one line, no file.
        assertFailsCleanly(try facet(["export-model", project, "nope", "--model", "a", "--out", path("n.safetensors")]), mentioning: "has no checkpoint 'nope'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("n.safetensors")))
        assertFailsCleanly(try facet(["export-model", project, "a:latest", "--out", path("no/such/dir/m.safetensors")]), mentioning: "m.safetensors")
        XCTAssertEqual(try facet(["export-model", project, "a:latest"]).status, 2, "--out is required")
    }
}
