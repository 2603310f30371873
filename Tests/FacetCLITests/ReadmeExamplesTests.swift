/// The README's first session, line by line, on the sample videos: each line must do what its comment
/// says. The lines are read from the README itself, so an edited example is a failing test until the
/// check below says what the new line does.
import XCTest
import Foundation

final class ReadmeExamplesTests: CLITestCase {
    /// The shell lines between `<!-- readme-examples -->` and the end of the next fenced block.
    func readmeLines() throws -> [String] {
        let readme = try String(contentsOf: Self.repo.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try XCTUnwrap(readme.range(of: "<!-- readme-examples -->\n```sh\n"))
        let end = try XCTUnwrap(readme.range(of: "\n```", range: start.upperBound..<readme.endIndex))
        return readme[start.upperBound..<end.lowerBound].split(separator: "\n").map { line in
            String(line.split(separator: "#", maxSplits: 1)[0]).trimmingCharacters(in: .whitespaces)
        }
    }

    /// Splits a shell line into words (double quotes only, as the README uses).
    func words(_ line: String) -> [String] {
        var out: [String] = [], word = "", quoted = false, has = false
        for ch in line {
            if ch == "\"" { quoted.toggle(); has = true } else if ch == " " && !quoted {
                if has { out.append(word) }
                word = ""; has = false
            } else { word.append(ch); has = true }
        }
        if has { out.append(word) }
        return out
    }

    func json(_ args: [String]) throws -> [[String: Any]] {
        let r = try facet(args + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    func testEveryReadmeExampleDoesWhatItSays() throws {
        let lines = try readmeLines()
        XCTAssertEqual(lines.count, 18, "a README line without a check here: \(lines)")
        let p = path("work.facet")
        func faces(_ extra: [String] = []) throws -> [[String: Any]] { try json(["faces", p, "--status", "all"] + extra) }
        var srcKept = 0
        var configsBefore = ""
        for line in lines {
            var args = Array(words(line).dropFirst())
            args = args.map {
                switch $0 {
                case "src.mp4": return Self.fixtures + "/video/src-d18.mp4"
                case "dst.mp4": return Self.fixtures + "/video/dst-d19.mp4"
                default: return $0
                }
            }
            // Training for minutes is the README's advice; here two iterations make a checkpoint.
            if let m = args.firstIndex(of: "--minutes") { args.replaceSubrange(m...(m + 1), with: ["--iterations", "2", "--batch", "2"]) }
            if args.first == "merge" && args.contains("--preview") { configsBefore = try facet(["merge-configs", p]).stdout }
            let r = try facet(args)
            XCTAssertEqual(r.status, 0, "\(line): \(r.stderr)")
            let rest = args.dropFirst(2).joined(separator: " ")
            switch (args[0], rest) {
            case ("init", _):
                XCTAssertTrue(r.stdout.hasPrefix("created"), r.stdout)
                XCTAssertTrue(FileManager.default.fileExists(atPath: p))
            case ("import", let a):
                let role = a.contains("src") ? "src" : "dst"
                XCTAssertTrue(r.stdout.contains("imported #") && r.stdout.contains(role), r.stdout)
            case ("extract", let a):
                let role = a.contains("src") ? "src" : "dst"
                XCTAssertGreaterThan(try json(["faces", p, "--role", role]).count, role == "src" ? 30 : 200, "\(role) faces")
                if role == "src" { srcKept = try json(["faces", p, "--role", "src"]).count }
            case ("faces", _):
                let shown = r.stdout.split(separator: "\n")
                XCTAssertEqual(shown.count, 11, "a header and 10 faces")
                XCTAssertTrue(shown[0].contains("sharpness"))
                let sharpness = try json(args).map { ($0["sharpness"] as! NSNumber).doubleValue }
                let all = try json(["faces", p, "--role", "src"]).map { ($0["sharpness"] as! NSNumber).doubleValue }.sorted()
                XCTAssertEqual(sharpness, Array(all.prefix(10)), "the 10 blurriest")
            case ("reject", _):
                let rejected = try faces(["--status", "rejected"])
                XCTAssertEqual(rejected.count, srcKept * 5 / 100)
                XCTAssertTrue(rejected.allSatisfy { $0["role"] as? String == "src" })
                let kept = try json(["faces", p, "--role", "src"]).map { ($0["sharpness"] as! NSNumber).doubleValue }
                let worst = rejected.map { ($0["sharpness"] as! NSNumber).doubleValue }
                XCTAssertLessThanOrEqual(worst.max()!, kept.min()!, "the rejected are the blurriest")
                XCTAssertTrue(r.stderr.contains("sharpness"), "the values that decided: \(r.stderr)")
            case ("duplicates", _):
                XCTAssertTrue(r.stdout.contains("would leave"), r.stdout)
                XCTAssertTrue(r.stderr.contains("nothing changed"), r.stderr)
                XCTAssertEqual(try faces(["--status", "rejected"]).count, srcKept * 5 / 100, "nothing changed")
            case ("sort", _):
                let o = try json(["orderings", p])
                XCTAssertEqual(o.first?["name"] as? String, "chain")
                XCTAssertEqual((o.first?["faces"] as? NSNumber)?.intValue, srcKept - srcKept * 5 / 100, "every kept src face, in order")
            case ("tag", _):
                let right = try json(["faces", p, "--role", "src", "--status", "all", "--where", "yaw > 0"]).map { ($0["id"] as! NSNumber).int64Value }
                XCTAssertFalse(right.isEmpty, "some src faces turn right")
                XCTAssertEqual(try json(["faces", p, "--status", "all", "--tag", "right"]).map { ($0["id"] as! NSNumber).int64Value }, right)
            case ("tags", _):
                XCTAssertTrue(r.stdout.contains("right"), r.stdout)
            case ("undo", _):
                XCTAssertEqual(try faces(["--tag", "right"]).count, 0, "the tagging is taken back")
            case ("redo", _):
                XCTAssertGreaterThan(try faces(["--tag", "right"]).count, 0, "and applied again")
            case ("train", _):
                XCTAssertTrue(r.stdout.contains("model 'demo' checkpoint #1"), r.stdout)
            case ("checkpoints", _):
                XCTAssertTrue(r.stdout.contains("model demo (tiny"), r.stdout)
                XCTAssertTrue(r.stdout.contains("optimizer state"), r.stdout)
            case ("merge", let a) where a.contains("--preview"):
                let png = try XCTUnwrap(FileManager.default.contents(atPath: path("frame.png")))
                XCTAssertEqual(png[16..<20].reduce(0) { $0 << 8 | Int($1) }, 960, "original | swap, each 480 wide")
                XCTAssertEqual(try facet(["merge-configs", p]).stdout, configsBefore, "a preview saves nothing")
            case ("merge", _):
                XCTAssertTrue(FileManager.default.fileExists(atPath: path("swapped.mp4")))
                XCTAssertTrue(r.stdout.contains("settings saved as 'last'"), r.stdout)
            case ("merge-configs", _):
                XCTAssertTrue(r.stdout.contains("last") && r.stdout.contains("learned-and-hull, erode 10, blur 20, color rct"), r.stdout)
            default:
                XCTFail("no check for the README line: \(line)")
            }
        }
    }
}
