/// `facet train` as a user runs it: train, resume, a kill -9 in the middle of a save, bad input.
import XCTest
import Foundation
import FacetCore
import FacetStore

final class TrainCommandTests: CLITestCase {
    /// A project with `count` faces per role: frames of the sample videos at 5 fps, cropped around
    /// the face to 256 px JPEGs by the system ffmpeg (this target links no image codec), stored as
    /// extracted faces with an ellipse of landmarks.
    func projectWithFaces(_ count: Int, roles: [Role] = [.src, .dst]) throws -> String {
        let file = path("p.facet")
        let p = try Project.create(at: file)
        let scale = 256.0 / 300.0
        let matrix = Affine2D(a: scale, b: 0, tx: -90 * scale, c: 0, d: scale, ty: -60 * scale)
        let inverse = matrix.inverted!
        let landmarks = Landmarks68(points: (0..<68).map { i in
            let t = Double(i) / 68 * 2 * .pi
            return inverse.apply(Point2(128 + 72 * cos(t), 140 + 92 * sin(t)))
        })
        for role in roles {
            let video = Self.fixtures + (role == .src ? "/video/src-d18.mp4" : "/video/dst-d19.mp4")
            let out = path("crops-\(role.rawValue)")
            try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            let ff = Process()
            ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            ff.arguments = ["-v", "error", "-i", video, "-vf", "fps=5,crop=300:300:90:60,scale=256:256:flags=area",
                            "-frames:v", "\(count)", "-q:v", "3", out + "/%03d.jpg"]
            try ff.run()
            ff.waitUntilExit()
            XCTAssertEqual(ff.terminationStatus, 0, "ffmpeg")
            let media = try p.importMedia(MediaRecord(role: role, name: "\(role.rawValue).mp4", kind: .video, storage: .linked, path: video,
                                                      sha256: UUID().uuidString, byteSize: 1, container: "mp4", codec: "h264", width: 480,
                                                      height: 480, fps: 25, frameCount: 250, duration: 10, hasAudio: false)) { nil }
            let run = try p.beginExtraction(ExtractionProvenance(role: role, detector: "fixed-crop", detectorSHA256: "0", landmarker: "ellipse",
                                                                 landmarkerSHA256: "0", optionsJSON: "{}"))
            let frames = try (1...count).map { i in
                let jpeg = try XCTUnwrap(FileManager.default.contents(atPath: out + String(format: "/%03d.jpg", i)))
                return ExtractedFrame(mediaId: media.id!, frameIndex: (i - 1) * 5, pts: Double(i - 1) / 5, faces: [
                    NewFace(faceIndex: 0, score: 0.99, box: (120, 100, 240, 280), points5: [], landmarks: landmarks, matrix: matrix,
                            faceType: "full", cropSize: 256, cropFormat: "jpeg", crop: jpeg, histogram: [Float](repeating: 1.0 / 256, count: 768),
                            blur: 10, motionBlur: 10, yaw: 0, pitch: 0, roll: 0, brightness: 128, hue: 20, faceSize: 240),
                ])
            }
            try p.storeFrames(frames, extractionId: run, role: role)
        }
        try p.close()
        return file
    }

    func testTrainThenResumeContinuesTheCurve() throws {
        let file = try projectWithFaces(5)
        let first = try facet(["train", file, "--model", "tiny", "--batch", "2", "--iterations", "2", "--seed", "4"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("model 'tiny' checkpoint #1 at iteration 2"), first.stdout)
        XCTAssertTrue(first.stderr.contains("training model 'tiny' (tiny, 64 px, batch 2)"), first.stderr)

        let second = try facet(["train", file, "--resume", "tiny", "--iterations", "3"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("resuming model 'tiny'"), second.stderr)
        XCTAssertTrue(second.stdout.contains("at iteration 3"), second.stdout)

        let p = try Project(path: file, mode: .readOnly)
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        XCTAssertEqual(try p.losses(modelId: model.id!).map(\.iteration), [1, 2, 3])
        XCTAssertEqual(try p.checkpoints(modelId: model.id!).map(\.iteration), [2, 3])
        XCTAssertEqual(try p.checkpoint(resolving: "latest").iteration, 3)
    }

    /// The process is SIGKILLed halfway through writing the tensors of its second checkpoint
    /// (crash injection inside the save's transaction): the project opens, the first checkpoint is
    /// whole, no part of the second exists, and a resume carries on from the first.
    func testKillDuringASaveLeavesThePreviousCheckpointLoadable() throws {
        let file = try projectWithFaces(5)
        setenv("FACET_TEST_KILL_DURING_SAVE", "2", 1)
        let killed = try facet(["train", file, "--model", "tiny", "--batch", "2", "--iterations", "4", "--seed", "4", "--save-every-minutes", "0.0001"])
        unsetenv("FACET_TEST_KILL_DURING_SAVE")
        XCTAssertEqual(killed.status, SIGKILL, "killed by its own SIGKILL: \(killed.stderr)")

        let p = try Project(path: file)
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        let checkpoints = try p.checkpoints(modelId: model.id!)
        XCTAssertEqual(checkpoints.map(\.iteration), [1], "the first save committed, the second left nothing")
        let infos = try p.checkpointTensorInfos(checkpointId: checkpoints[0].id)
        XCTAssertEqual(infos.filter { $0.kind == .weight }.count * 3 + 1, infos.count, "weights and the full Adam state")
        XCTAssertNotNil(try p.preview(checkpointId: checkpoints[0].id))
        XCTAssertEqual(try p.losses(modelId: model.id!).map(\.iteration), [1])
        try p.close()

        let resumed = try facet(["train", file, "--resume", "tiny", "--iterations", "3", "--save-every-minutes", "10"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("from checkpoint #1 at iteration 1"), resumed.stderr)
        let q = try Project(path: file, mode: .readOnly)
        XCTAssertEqual(try q.losses(modelId: model.id!).map(\.iteration), [1, 2, 3])
        XCTAssertEqual(try q.checkpoints(modelId: model.id!).map(\.iteration), [1, 3])
    }

    /// Ctrl-C (SIGINT) during an open-ended run: the loop stops between iterations, saves a
    /// checkpoint holding every iteration it trained, and exits 0.
    func testInterruptSavesAndExitsCleanly() throws {
        let file = try projectWithFaces(5)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.facetBinary)
        process.arguments = ["train", file, "--model", "tiny", "--batch", "2", "--seed", "2"]
        let out = path("train.out")
        FileManager.default.createFile(atPath: out, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait for the first batched loss write (every 2 s of training), then interrupt.
        let deadline = Date().addingTimeInterval(300)
        var trained = 0
        while trained == 0 && process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
            if let p = try? Project(path: file, mode: .readOnly), let m = try? p.model(named: "tiny") {
                trained = (try? p.losses(modelId: m.id!).count) ?? 0
                try? p.close()
            }
        }
        XCTAssertGreaterThan(trained, 0, "training wrote losses before the interrupt")
        process.interrupt()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        let stdout = String(decoding: FileManager.default.contents(atPath: out) ?? Data(), as: UTF8.self)
        XCTAssertTrue(stdout.hasPrefix("interrupted: model 'tiny' checkpoint #1 at iteration "), stdout)

        let p = try Project(path: file, mode: .readOnly)
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        let losses = try p.losses(modelId: model.id!)
        let checkpoint = try p.checkpoint(resolving: "latest")
        XCTAssertGreaterThanOrEqual(losses.count, trained)
        XCTAssertEqual(losses.map(\.iteration), Array(1...checkpoint.iteration), "every trained iteration is in the curve")
    }

    /// An absurd learning rate: the guard skips the non-finite steps, stops the run with one line saying what to
    /// change, and no checkpoint is saved (today's build died with "NOT NULL constraint failed: loss.loss_src").
    func testAbsurdLearningRateStopsWithOneLineAndNoNonFiniteCheckpoint() throws {
        let file = try projectWithFaces(4)
        let r = try facet(["train", file, "--model", "tiny", "--batch", "2", "--iterations", "60", "--learning-rate", "1000"])
        XCTAssertEqual(r.status, 1, r.stderr)
        let last = String(r.stderr.split(separator: "\n").last ?? "")
        XCTAssertTrue(last.contains("training stopped at iteration") && last.contains("learning rate 1000: train a new model with a lower --learning-rate"),
                      r.stderr)
        XCTAssertFalse(r.stderr.contains("NOT NULL"), r.stderr)
        XCTAssertTrue(r.stderr.contains("guard: non-finite step at iteration"), r.stderr)
        let scan = try facet(["checkpoints", file, "--scan"])
        XCTAssertEqual(scan.status, 0, scan.stderr)
        XCTAssertTrue(scan.stdout.contains("with non-finite weights"), scan.stdout)
        XCTAssertFalse(scan.stdout.contains("holds"), scan.stdout)
        let p = try Project(path: file, mode: .readOnly)
        let model = try XCTUnwrap(try p.model(named: "tiny"))
        XCTAssertEqual(try p.trainingEvents(modelId: model.id!).last?.kind, .stopped)
        XCTAssertTrue(try p.losses(modelId: model.id!).allSatisfy { $0.lossSrc.isFinite && $0.lossDst.isFinite })
    }

    func testBadInputIsOneClearLine() throws {
        let file = try projectWithFaces(3, roles: [.src])
        assertFailsCleanly(try facet(["train", file, "--model", "tiny", "--batch", "2"]), mentioning: "has no kept dst faces")
        assertFailsCleanly(try facet(["train", file, "--resume", "nope"]), mentioning: "has no model named 'nope'")
        // Nothing written (SQLite may still touch the header when it closes the file).
        let p = try Project(path: file, mode: .readOnly)
        XCTAssertEqual(try p.models().count, 0)
        XCTAssertEqual(try p.checkpoints().count, 0)

        XCTAssertEqual(try facet(["train", file]).status, 2)
        XCTAssertEqual(try facet(["train", file, "--model", "tiny", "--resume", "x"]).status, 2)
        XCTAssertEqual(try facet(["train", file, "--model", "tiny", "--iterations", "5", "--minutes", "1"]).status, 2)
        XCTAssertEqual(try facet(["train", file, "--model", "big"]).status, 2)
    }
}
