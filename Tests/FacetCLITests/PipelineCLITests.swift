/// The pipeline as a user runs it, on 40-frame cuts of the sample videos: `facet demo` end to end, `facet merge` writing
/// a video (with a saved configuration and overrides), and `facet extract`'s options.
import XCTest
import Foundation
import FacetStore

final class PipelineCLITests: CLITestCase {
    /// Folder of the two 40-frame clips (src-d18.mp4, dst-d19.mp4 with its audio), cut once per run with ffmpeg.
    nonisolated(unsafe) static var clips: String?
    /// The demo's work folder (project and outputs), made once per run and shared by the tests that read it.
    nonisolated(unsafe) static var demo: (dir: String, result: CommandResult)?

    override class func tearDown() {
        for d in [clips, demo?.dir].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: d) }
        clips = nil; demo = nil
        super.tearDown()
    }

    /// Runs a tool (ffmpeg, ffprobe) and returns its stdout; a missing tool or a failure fails the test.
    func tool(_ name: String, _ args: [String]) throws -> String {
        let path = "/usr/bin/" + name
        guard FileManager.default.isExecutableFile(atPath: path) else { throw FacetTestFailure("\(path) is not installed (apt-get install ffmpeg)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw FacetTestFailure("\(name) \(args.joined(separator: " ")) failed") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func clipsFolder() throws -> String {
        if let c = Self.clips { return c }
        let dir = NSTemporaryDirectory() + "facet-cli-clips-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for name in ["src-d18", "dst-d19"] {
            _ = try tool("ffmpeg", ["-v", "error", "-y", "-i", Self.fixtures + "/video/\(name).mp4", "-frames:v", "40",
                                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-c:a", "aac", "-shortest", dir + "/\(name).mp4"])
        }
        Self.clips = dir
        return dir
    }

    /// Frames of the first video stream, counted by decoding (ffprobe).
    func frameCount(_ video: String) throws -> Int {
        Int(try tool("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames",
                                 "-of", "csv=p=0", video])) ?? -1
    }

    /// Width and height of a PNG from its IHDR chunk, nil when the file is not a PNG.
    func pngSize(_ file: String) -> (Int, Int)? {
        guard let d = FileManager.default.contents(atPath: file), d.count > 24,
              d.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { return nil }
        func be32(_ o: Int) -> Int { d[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }

    func demoRun() throws -> (dir: String, result: CommandResult) {
        if let d = Self.demo { return d }
        let dir = NSTemporaryDirectory() + "facet-cli-demo-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        let r = try facet(["demo", "--workdir", dir, "--minutes", "0.05", "--videos", try clipsFolder(), "--seed", "3"])
        Self.demo = (dir, r)
        return (dir, r)
    }

    /// `facet demo` on the short clips: every stage runs and every output is there and sane: the swapped video has the
    /// destination's frames, size and audio and the synthetic-media tag, the side-by-side is twice as wide, the plot and
    /// preview are PNGs, and the project holds both roles' faces with their descriptors, the src curation and the trained model.
    func testDemoRunsEveryStageAndWritesSaneOutputs() throws {
        let (dir, r) = try demoRun()
        XCTAssertEqual(r.status, 0, r.stderr)
        for n in 1...7 { XCTAssertTrue(r.stdout.contains("[\(n)/7]"), "stage \(n) missing: \(r.stdout)") }
        let swapped = dir + "/swapped.mp4", side = dir + "/side_by_side.mp4"
        XCTAssertEqual(try frameCount(swapped), 40)
        XCTAssertEqual(try tool("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", swapped]), "480,480")
        XCTAssertEqual(try tool("ffprobe", ["-v", "error", "-select_streams", "a:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0", swapped]), "aac")
        XCTAssertTrue(try tool("ffprobe", ["-v", "error", "-show_entries", "format_tags=comment", "-of", "csv=p=0", swapped]).contains("synthetic"))
        XCTAssertEqual(try frameCount(side), 40)
        XCTAssertEqual(try tool("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", side]), "960,480")
        XCTAssertEqual(pngSize(dir + "/loss.png").map { [$0.0, $0.1] }, [1200, 720])
        let preview = try XCTUnwrap(pngSize(dir + "/preview.png"), "preview.png is not a PNG")
        XCTAssertGreaterThan(preview.0, 64)

        let p = try Project(path: dir + "/demo.facet", mode: .readOnly)
        let dstFaces = try p.countFaces(matching: FaceQuery(role: .dst))
        let src = try p.countFaces(matching: FaceQuery(role: .src)), srcRejected = try p.countFaces(matching: FaceQuery(role: .src, status: .rejected))
        XCTAssertTrue((36...40).contains(dstFaces), "\(dstFaces) dst faces in 40 frames of one face")
        XCTAssertTrue((36...40).contains(src), "\(src) src faces in 40 frames of one face")
        XCTAssertEqual(srcRejected, src / 20, "the blurriest 5% of the src faces rejected")
        XCTAssertEqual(try p.countFaces(matching: FaceQuery(role: .dst, status: .rejected)), 0, "no dst face rejected")
        // Face descriptors stored at extraction, as `facet extract` stores them (Tools/test fetches the recogniser).
        let described = try p.embeddingCounts(role: nil)
        XCTAssertEqual(described.withDescriptor, described.faces, "every face has a descriptor")
        XCTAssertEqual(described.faces, src + dstFaces)
        let model = try p.requireModel(named: "demo")
        XCTAssertEqual(model.architecture, "tiny")
        let checkpoints = try p.checkpoints(modelId: model.id!)
        XCTAssertFalse(checkpoints.isEmpty)
        // The last checkpoint scored as `facet train` scores it, and the merge recorded as a scored run, as
        // `facet merge` records it: the demo shows both and the project keeps them.
        let last = try XCTUnwrap(checkpoints.max { $0.iteration < $1.iteration })
        let stored = try XCTUnwrap(p.scores(checkpointIds: [last.id])[last.id], "the demo's checkpoint was not scored")
        XCTAssertNotNil(stored.values["identity_src_share"])
        XCTAssertTrue(r.stdout.contains("swap score of #\(last.id): src "), r.stdout)
        let run = try XCTUnwrap(p.mergeRuns().last)
        XCTAssertEqual(run.frames, 40)
        XCTAssertGreaterThan(run.framesScored, 30)
        XCTAssertTrue(try p.mergeFrameScores(runId: run.id).values.contains { $0["identity_to_src"] != nil })
        XCTAssertTrue(r.stdout.contains("run \(run.id): \(run.framesScored) frames scored"), r.stdout)
    }

    /// `facet merge` writes a video from the command line: a range of frames with explicit settings saved under a name,
    /// then the same settings from `--from-config` with two overrides, saved under another; each output has the frames
    /// asked for, the tag, and differs where the settings differ.
    func testMergeWritesAVideoAndReusesASavedConfigWithOverrides() throws {
        let (dir, r) = try demoRun()
        XCTAssertEqual(r.status, 0, r.stderr)
        let project = path("m.facet")
        try FileManager.default.copyItem(atPath: dir + "/demo.facet", toPath: project)
        let first = path("first.mp4"), second = path("second.mp4")
        let a = try facet(["merge", project, "--checkpoint", "latest", "--out", first, "--frames", "5..14", "--mask", "hull",
                           "--erode", "7", "--blur", "12", "--color", "lct", "--preset", "ultrafast", "--config", "mine"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("saved as 'mine'"), a.stdout)
        let b = try facet(["merge", project, "--checkpoint", "latest", "--out", second, "--from-config", "mine", "--blur", "30",
                           "--color", "rct", "--config", "tuned"])
        XCTAssertEqual(b.status, 0, b.stderr)
        for file in [first, second] {
            XCTAssertTrue(try tool("ffprobe", ["-v", "error", "-show_entries", "format_tags=comment", "-of", "csv=p=0", file]).contains("synthetic"))
        }
        XCTAssertEqual(try frameCount(first), 10, "--frames 5..14")
        XCTAssertEqual(try frameCount(second), 40, "the whole clip")

        let p = try Project(path: project, mode: .readOnly)
        func options(_ name: String) throws -> [String: Any] {
            let c = try XCTUnwrap(try p.mergeConfig(named: name), "no config '\(name)'")
            return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(c.optionsJSON.utf8)) as? [String: Any])
        }
        let mine = try options("mine"), tuned = try options("tuned")
        XCTAssertEqual(mine["mask"] as? String, "hull"); XCTAssertEqual(mine["erode"] as? Int, 7)
        XCTAssertEqual(mine["blur"] as? Int, 12); XCTAssertEqual(mine["color"] as? String, "lct")
        XCTAssertEqual(mine["preset"] as? String, "ultrafast")
        // From the saved config: mask, erode, preset; from the command line: blur and colour.
        XCTAssertEqual(tuned["mask"] as? String, "hull"); XCTAssertEqual(tuned["erode"] as? Int, 7)
        XCTAssertEqual(tuned["preset"] as? String, "ultrafast")
        XCTAssertEqual(tuned["blur"] as? Int, 30); XCTAssertEqual(tuned["color"] as? String, "rct")

        // An unknown saved name is one clear line, and no output is written.
        let missing = try facet(["merge", project, "--checkpoint", "latest", "--out", path("none.mp4"), "--from-config", "nope"])
        assertFailsCleanly(missing, mentioning: "nope")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("none.mp4")))
    }

    /// `facet extract`'s options change what is stored: `--max-faces`, `--png`, `--size`, `--face-type`, `--jpeg-quality`
    /// and `--min-face` (no stored box under it), each checked on the stored rows and crops of the dst clip at 10 fps.
    /// (`--min-face` larger than the face does not drop it: MTCNN's first pyramid level still finds it and the later
    /// stages regress its box; the option sets where the pyramid starts, it is not a filter.)
    func testExtractOptionsShapeTheStoredFaces() throws {
        let clip = try clipsFolder() + "/dst-d19.mp4"
        func extracted(_ name: String, _ options: [String]) throws -> Project {
            let file = path(name)
            XCTAssertEqual(try facet(["init", file]).status, 0)
            let i = try facet(["import", file, "--role", "dst", clip])
            XCTAssertEqual(i.status, 0, i.stderr)
            let e = try facet(["extract", file, "--role", "dst", "--fps", "10"] + options)
            XCTAssertEqual(e.status, 0, e.stderr)
            return try Project(path: file, mode: .readOnly)
        }
        let png = try extracted("png.facet", ["--png", "--size", "128", "--face-type", "half", "--max-faces", "1", "--min-face", "60"])
        let faces = try png.faces(matching: FaceQuery(role: .dst))
        XCTAssertGreaterThanOrEqual(faces.count, 12, "one face in each of the 14 sampled frames, or nearly")
        XCTAssertEqual(Set(faces.map(\.frameIndex)).count, faces.count, "--max-faces 1: one face per frame")
        for f in faces {
            XCTAssertEqual(f.faceType, "half"); XCTAssertEqual(f.cropSize, 128)
            XCTAssertGreaterThanOrEqual(max(f.boxW, f.boxH), 60, "--min-face 60")
            let crop = try png.faceCrop(id: f.id)
            XCTAssertEqual(crop.format, "png")
            XCTAssertEqual(pngSizeOf(crop.data).map { [$0.0, $0.1] }, [128, 128])
        }

        let low = try extracted("q40.facet", ["--jpeg-quality", "40"]), high = try extracted("q95.facet", [])
        let lowFaces = try low.faces(matching: FaceQuery(role: .dst)), highFaces = try high.faces(matching: FaceQuery(role: .dst))
        XCTAssertEqual(lowFaces.count, highFaces.count)
        XCTAssertEqual(lowFaces.first?.faceType, "full"); XCTAssertEqual(lowFaces.first?.cropSize, 256)
        var lowBytes = 0, highBytes = 0
        for (l, h) in zip(lowFaces, highFaces) {
            let lc = try low.faceCrop(id: l.id), hc = try high.faceCrop(id: h.id)
            XCTAssertEqual(lc.format, "jpeg"); XCTAssertEqual(hc.format, "jpeg")
            XCTAssertEqual(lc.data.prefix(3), Data([0xFF, 0xD8, 0xFF]))
            lowBytes += lc.data.count; highBytes += hc.data.count
        }
        XCTAssertLessThan(Double(lowBytes), 0.6 * Double(highBytes), "quality 40 crops are much smaller than quality 95 ones")

    }

    /// Width and height of PNG bytes from the IHDR chunk.
    func pngSizeOf(_ d: Data) -> (Int, Int)? {
        guard d.count > 24, d.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { return nil }
        let b = [UInt8](d.prefix(24))
        func be32(_ o: Int) -> Int { b[o..<(o + 4)].reduce(0) { $0 << 8 | Int($1) } }
        return (be32(16), be32(20))
    }
}
