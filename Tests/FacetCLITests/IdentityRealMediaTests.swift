/// Identity on real video, end to end with the network's own descriptors: the three sample videos
/// (three different people) give exactly three persons with no face misplaced; `similar --by identity`
/// finds a face's own person; an older project is upgraded and `facet embed` fills it; a video of two
/// people side by side merged with `--person` leaves the other person's half as it was.
import XCTest
import Foundation
import FacetCore
import FacetStore

final class IdentityRealMediaTests: CLITestCase {
    nonisolated(unsafe) static var threeTemplate: String?
    nonisolated(unsafe) static var pairTemplate: String?

    /// The side-by-side dst video the pair template imports (kept for comparing frames).
    static let sideVideo = NSTemporaryDirectory() + "facet-identity-pair-\(getpid()).mp4"

    override class func tearDown() {
        removeTemplate(&threeTemplate)
        removeTemplate(&pairTemplate)
        try? FileManager.default.removeItem(atPath: sideVideo)
        super.tearDown()
    }

    static let videos = ["src-d18.mp4", "dst-d19.mp4", "extra-d20.mp4"]

    func json(_ args: [String]) throws -> [[String: Any]] {
        let r = try facet(args + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]], r.stdout)
    }

    func int(_ v: Any?) -> Int64 { (v as? NSNumber)?.int64Value ?? -1 }

    /// The three sample videos as src media, extracted at 3 frames/s with descriptors.
    func threePeople() throws -> String {
        let project = path("three.facet")
        try copyTemplate(&Self.threeTemplate, name: "identity-three", to: project) { t in
            XCTAssertEqual(try facet(["init", t]).status, 0)
            for v in Self.videos { XCTAssertEqual(try facet(["import", t, "--role", "src", Self.fixtures + "/video/" + v]).status, 0) }
            let r = try facet(["extract", t, "--role", "src", "--fps", "3", "--size", "96"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertFalse(r.stderr.contains("warning"), r.stderr)
        }
        return project
    }

    func testThreeVideosAreThreePersonsAndNoFaceIsMisplaced() throws {
        let project = try threePeople()
        let people = try json(["people", project])
        XCTAssertEqual(people.count, 3, "\(people)")
        // Every face of a person comes from one video, and every video's faces are one person's.
        var videoOfPerson: [Int64: Set<Int64>] = [:]
        let faces = try json(["faces", project, "--status", "all"])
        XCTAssertGreaterThan(faces.count, 50)
        for f in faces {
            let person = int(f["person"])
            XCTAssertGreaterThan(person, 0, "face \(int(f["id"])) has no person")
            videoOfPerson[person, default: []].insert(int(f["media_id"]))
        }
        XCTAssertEqual(videoOfPerson.count, 3)
        XCTAssertTrue(videoOfPerson.values.allSatisfy { $0.count == 1 }, "\(videoOfPerson)")
        XCTAssertEqual(Set(videoOfPerson.values.map { $0.first! }).count, 3)

        // similar --by identity: the 10 nearest faces of a face are its own person's, under 0.6.
        let personOf = Dictionary(uniqueKeysWithValues: faces.map { (int($0["id"]), int($0["person"])) })
        for probe in [faces.first!, faces[faces.count / 2], faces.last!] {
            let id = int(probe["id"])
            let near = try json(["similar", project, "\(id)", "--k", "10"])
            XCTAssertEqual(near.count, 10)
            for n in near {
                XCTAssertEqual(personOf[int(n["id"])], personOf[id], "face \(int(n["id"])) near \(id)")
                XCTAssertLessThan((n["distance"] as! NSNumber).doubleValue, 0.6)
            }
        }
        // Descriptors in `detect --json` are the ones extraction stored (same pipeline), to float16.
        let d = try facet(["detect", Self.fixtures + "/images/reference/astronaut.png", "--json"])
        XCTAssertEqual(d.status, 0, d.stderr)
        let detected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual((detected.first?["embedding"] as? [NSNumber])?.count, 128)
    }

    func testOlderProjectIsUpgradedAndEmbedFillsIt() throws {
        let project = path("old.facet")
        try FileManager.default.copyItem(atPath: Self.fixtures + "/projects/schema2-extra-d20.facet", toPath: project)
        assertFailsCleanly(try facet(["people", project]), mentioning: "facet embed")
        let r = try facet(["embed", project])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("embed: 5 faces described (0 already had a descriptor)"), r.stderr)
        let again = try facet(["embed", project])
        XCTAssertTrue(again.stderr.contains("embed: 0 faces described (5 already had a descriptor)"), again.stderr)
        let people = try json(["people", project])
        XCTAssertEqual(people.count, 1)
        XCTAssertEqual(int(people[0]["faces"]), 5)
        XCTAssertEqual(try facet(["info", project]).status, 0)
    }

    /// A model file that is truncated or is not dlib's network: one line naming it, nothing written.
    func testDamagedRecognizerModelIsOneLineAndNothingWritten() throws {
        let project = path("old.facet")
        try FileManager.default.copyItem(atPath: Self.fixtures + "/projects/schema2-extra-d20.facet", toPath: project)
        let before = FileManager.default.contents(atPath: project)
        let real = Self.repo.appendingPathComponent("Models/dlib_face_recognition_resnet_model_v1.dat").path
        let bytes = try Data(contentsOf: URL(fileURLWithPath: real))
        let shapePredictor = try Data(contentsOf: URL(fileURLWithPath: "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"))
        for (name, content) in [("truncated", bytes.prefix(bytes.count / 3)), ("other", shapePredictor.prefix(4_000_000))] {
            let models = path(name)
            try FileManager.default.createDirectory(atPath: models, withIntermediateDirectories: true)
            let file = models + "/dlib_face_recognition_resnet_model_v1.dat"
            try Data(content).write(to: URL(fileURLWithPath: file))
            let r = try facet(["embed", project], environment: ["FACET_MODELS": models])
            assertFailsCleanly(r, mentioning: file)
            XCTAssertEqual(FileManager.default.contents(atPath: project), before, "the project is untouched")
            XCTAssertFalse(FileManager.default.fileExists(atPath: project + "-wal"))
        }
        assertFailsCleanly(try facet(["faces", project, "--person", "7"]), mentioning: "facet people")
    }

    /// `facet` with extra environment variables.
    func facet(_ args: [String], environment: [String: String]) throws -> CommandResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.facetBinary)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = path(".out-\(UUID().uuidString)"), err = path(".err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: out, contents: nil)
        FileManager.default.createFile(atPath: err, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus, stdout: String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self),
                             stderr: String(decoding: FileManager.default.contents(atPath: err) ?? Data(), as: UTF8.self))
    }

    /// dst: dst-d19 (left) and extra-d20 (right) side by side, 24 frames; src: src-d18 at 4 frames/s;
    /// `tiny` trained a few iterations (the swap only has to change the face).
    func pairProject() throws -> String {
        let project = path("pair.facet")
        try copyTemplate(&Self.pairTemplate, name: "identity-pair", to: project) { t in
            let side = Self.sideVideo
            let ff = Process()
            ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            ff.arguments = ["-loglevel", "error", "-y", "-i", Self.fixtures + "/video/dst-d19.mp4", "-i", Self.fixtures + "/video/extra-d20.mp4",
                            "-filter_complex", "[0:v][1:v]hstack=inputs=2,fps=25", "-frames:v", "24", "-an", "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", side]
            try ff.run(); ff.waitUntilExit()
            XCTAssertEqual(ff.terminationStatus, 0)
            XCTAssertEqual(try facet(["init", t]).status, 0)
            XCTAssertEqual(try facet(["import", t, "--role", "dst", side]).status, 0)
            XCTAssertEqual(try facet(["import", t, "--role", "src", Self.fixtures + "/video/src-d18.mp4"]).status, 0)
            for args in [["extract", t, "--role", "dst", "--size", "96"], ["extract", t, "--role", "src", "--fps", "4", "--size", "96"],
                         ["people", t], ["train", t, "--model", "tiny", "--iterations", "6", "--batch", "4"]] {
                let r = try facet(args)
                XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            }
        }
        return project
    }

    func testMergeOnePersonLeavesTheOtherHalfAsItWas() throws {
        let project = try pairProject()
        let people = try json(["people", project, "--role", "dst", "--list"])
        XCTAssertEqual(people.count, 2, "\(people)")
        // The person on the left half (dst-d19): its faces' boxes are in x < 480.
        let left = try XCTUnwrap(people.first { p in
            (try? json(["faces", project, "--person", "\(int(p["id"]))"]))?.allSatisfy { (($0["box"] as! [NSNumber])[0].doubleValue) < 480 } ?? false
        })
        let out = path("one.mp4")
        let r = try facet(["merge", project, "--checkpoint", "latest", "--out", out, "--crf", "14", "--person", "\(int(left["id"]))",
                               "--dfl-defaults"])  // a hard-edged paste: 6 iterations of tiny under the soft defaults barely change the half
        XCTAssertEqual(r.status, 0, r.stderr)
        let input = try rgbFrames(of: Self.sideVideo), output = try rgbFrames(of: out)
        XCTAssertEqual(input.count, output.count)
        XCTAssertEqual(output.count, 24)
        var changedFrames = 0, worstOther = 99.0, bestChosen = 0.0
        for (a, b) in zip(input, output) {
            let other = psnr(a, b, columns: 480..<960), chosen = psnr(a, b, columns: 0..<480)
            worstOther = min(worstOther, other); bestChosen = max(bestChosen, chosen)
            XCTAssertGreaterThanOrEqual(other, 40, "the other person's half is re-encoded, not changed")
            if chosen < 35 { changedFrames += 1 }
        }
        print("merge --person: the other half's PSNR at least \(worstOther) dB; the swapped half's at most \(bestChosen) dB")
        XCTAssertGreaterThan(changedFrames, 20, "the chosen person's half is swapped")
        // Without --person: the one with the most faces is swapped, and the command says so.
        let d = try facet(["merge", project, "--checkpoint", "latest", "--out", path("default.mp4")])
        XCTAssertEqual(d.status, 0, d.stderr)
        XCTAssertTrue(d.stderr.contains("shows 2 persons; swapping"), d.stderr)
        assertFailsCleanly(try facet(["merge", project, "--checkpoint", "latest", "--out", path("x.mp4"), "--person", "nobody"]), mentioning: "has no dst person 'nobody'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.mp4")))
    }

    /// `train --person :P` trains on that dst person's faces only: the model's stored split (train and
    /// held-out) is exactly P's kept faces, all on P's half of the frame, while the template's model
    /// trained without --person holds both halves' faces; src, not named, keeps all its faces.
    func testTrainPersonSplitsOnlyThatPersonsFaces() throws {
        let project = try pairProject()
        let people = try json(["people", project, "--role", "dst", "--list"])
        XCTAssertEqual(people.count, 2, "\(people)")
        func left(_ f: [String: Any]) -> Bool { ((f["box"] as! [NSNumber])[0].doubleValue) < 480 }
        let leftPerson = try XCTUnwrap(people.first { p in (try? json(["faces", project, "--person", "\(int(p["id"]))"]))?.allSatisfy(left) ?? false })
        let chosen = Set(try json(["faces", project, "--person", "\(int(leftPerson["id"]))"]).map { int($0["id"]) })
        let allDst = try json(["faces", project, "--role", "dst"])
        let allSrc = Set(try json(["faces", project, "--role", "src"]).map { int($0["id"]) })
        XCTAssertGreaterThan(chosen.count, 10)
        XCTAssertLessThan(chosen.count, allDst.count, "the other person has faces too")

        let r = try facet(["train", project, "--model", "tiny", "--name", "left-only", "--iterations", "1", "--batch", "4",
                           "--person", ":\(int(leftPerson["id"]))"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let p = try Project(path: project, mode: .readOnly)
        defer { try? p.close() }
        let only = try p.modelFaces(modelId: try XCTUnwrap(try p.model(named: "left-only")).id!)
        let dstUsed = Set((only.train[.dst] ?? []) + (only.validation[.dst] ?? []))
        XCTAssertEqual(dstUsed, chosen, "the dst split is the chosen person's faces, all of them")
        XCTAssertFalse((only.train[.dst] ?? []).isEmpty)
        XCTAssertEqual(Set((only.train[.src] ?? []) + (only.validation[.src] ?? [])), allSrc, "src: no person named, every kept face")
        // The template's model, trained without --person, holds faces of both halves.
        let both = try p.modelFaces(modelId: try XCTUnwrap(try p.model(named: "tiny")).id!)
        let bothDst = Set((both.train[.dst] ?? []) + (both.validation[.dst] ?? []))
        XCTAssertEqual(bothDst, Set(allDst.map { int($0["id"]) }))
        XCTAssertTrue(allDst.contains { !left($0) && bothDst.contains(int($0["id"])) })
    }

    /// Every frame of `video` as RGB24 bytes (ffmpeg), 960x480.
    func rgbFrames(of video: String) throws -> [[UInt8]] {
        let raw = path(UUID().uuidString + ".rgb")
        let ff = Process()
        ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ff.arguments = ["-loglevel", "error", "-y", "-i", video, "-f", "rawvideo", "-pix_fmt", "rgb24", raw]
        try ff.run(); ff.waitUntilExit()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        let frame = 960 * 480 * 3
        return stride(from: 0, to: bytes.count - frame + 1, by: frame).map { Array(bytes[$0..<($0 + frame)]) }
    }

    /// PSNR (dB) of two 960x480 RGB frames over `columns`.
    func psnr(_ a: [UInt8], _ b: [UInt8], columns: Range<Int>) -> Double {
        var se = 0.0, n = 0
        for y in 0..<480 {
            for x in columns {
                for c in 0..<3 {
                    let i = (y * 960 + x) * 3 + c
                    let d = Double(a[i]) - Double(b[i])
                    se += d * d; n += 1
                }
            }
        }
        let mse = se / Double(n)
        return mse == 0 ? 99 : 10 * log10(255 * 255 / mse)
    }
}
