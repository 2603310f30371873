/// `facet train --model saehd` as a user runs it: its options in the help with their defaults, a whole-face model
/// trained and merged, options changed on resume where DeepFaceLab allows it, one line and exit 1 where it does not.
import XCTest
import Foundation
import FacetStore

final class SAEHDCommandTests: CLITestCase {
    /// Tiny widths (DeepFaceLab's minimums) at its smallest resolution.
    static let tiny = ["--resolution", "64", "--ae-dims", "32", "--e-dims", "16", "--d-dims", "16", "--d-mask-dims", "16"]

    func testHelpListsTheOptionsWithTheirDefaults() throws {
        let h = try facet(["train", "--help"])
        XCTAssertEqual(h.status, 0)
        let text = h.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for option in ["--archi <archi> saehd: df or liae with any of -u, -d, -t (default liae-ud)",
                       "default 128)", "(default full)", "ae_dims, 32 to 1024 (default 256)", "e_dims, 16 to 256, even (default 64)",
                       "d_dims, 16 to 256, even (default 64)", "(default d_dims / 3, even: 22)", "--preset <preset>",
                       "--blur-out-mask", "--clip-gradients", "--random-hsv-power <random-hsv-power>",
                       "random_hsv_power; default 0, off", "rct, lct or none", "(none turns it off)"] {
            XCTAssertTrue(text.contains(option), "help lacks '\(option)'")
        }
    }

    func testBadOptionsAreOneLine() throws {
        let file = path("w.facet")
        try facet(["init", file])
        let r = try facet(["train", file, "--model", "tiny", "--archi", "df"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("are options of --model saehd"), r.stderr)
        let hsv = try facet(["train", file, "--model", "quick96", "--random-hsv-power", "0.1"])
        XCTAssertEqual(hsv.status, 2, hsv.stderr)
        XCTAssertTrue(hsv.stderr.contains("--random-hsv-power are options of --model saehd"), hsv.stderr)
        for (args, text) in [(["--archi", "dfx"], "must be df or liae"), (["--archi", "df-ud", "--resolution", "80"], "multiple of 32"),
                             (["--e-dims", "17"], "--e-dims must be even"), (["--resolution", "48"], "--resolution must be 64 to 640"),
                             (["--face-type", "chin"], "--face-type knows half (h)"), (["--preset", "gpu"], "--preset knows: cpu"),
                             (["--no-masked-training"], "always trains masked"),
                             (["--random-hsv-power", "0.4"], "--random-hsv-power must be 0 to 0.3 (DeepFaceLab's range)")] {
            assertFailsCleanly(try facet(["train", file, "--model", "saehd"] + args), mentioning: text)
        }
    }

    /// `--preset cpu` trains (a preset outside DeepFaceLab's ranges would be refused by the option checks).
    func testPresetCPUTrains() throws {
        let file = path("p.facet")
        try facet(["init", file])
        try addSampleFaces(file, role: .src, count: 3, size: 96, video: Self.fixtures + "/video/src-d18.mp4")
        try addSampleFaces(file, role: .dst, count: 3, size: 96, video: Self.fixtures + "/video/dst-d19.mp4")
        let r = try facet(["train", file, "--model", "saehd", "--preset", "cpu", "--batch", "1", "--iterations", "1",
                           "--no-score"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let options = try sqlite(file, "SELECT options_json FROM model WHERE name = 'saehd'")
        XCTAssertTrue(options.contains("\"network\":{\"ae_dims\":128,\"archi\":\"liae-ud\",\"d_dims\":32,\"d_mask_dims\":16,"
                                       + "\"downscale_padding\":\"symmetric\",\"e_dims\":32,\"resolution\":96}"), options)
    }

    func testWholeFaceModelTrainsResumesAndMerges() throws {
        let file = path("w.facet")
        try facet(["init", file])
        try addSampleFaces(file, role: .src, count: 6, size: 96, video: Self.fixtures + "/video/src-d18.mp4")
        try addSampleFaces(file, role: .dst, count: 6, size: 96, video: Self.fixtures + "/video/dst-d19.mp4")
        let train = try facet(["train", file, "--model", "saehd", "--archi", "df-ud", "--face-type", "wf", "--batch", "1",
                               "--iterations", "1", "--seed", "3", "--no-score"] + Self.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stderr.contains("training model 'saehd' (saehd, 64 px, batch 1)"), train.stderr)
        XCTAssertEqual(try sqlite(file, "SELECT face_type, resolution FROM model WHERE name = 'saehd'"), "whole_face|64")
        let options = try sqlite(file, "SELECT options_json FROM model WHERE name = 'saehd'")
        XCTAssertTrue(options.contains("\"network\":{\"ae_dims\":32,\"archi\":\"df-ud\",\"d_dims\":16,\"d_mask_dims\":16,"
                                       + "\"downscale_padding\":\"symmetric\",\"e_dims\":16,\"resolution\":64}"), options)
        XCTAssertTrue(options.contains("\"face_type\":\"whole_face\""), options)
        XCTAssertTrue(options.contains("\"kind\":\"adabelief\""), options)

        // Fixed at creation: one line, exit 1, nothing changed.
        let before = try sqlite(file, "SELECT options_json FROM model")
        assertFailsCleanly(try facet(["train", file, "--resume", "saehd", "--archi", "liae"]), mentioning: "fixed when a model is created")
        XCTAssertEqual(try sqlite(file, "SELECT options_json FROM model"), before)
        // Asked again on resume in DeepFaceLab: changed and stored (masked training too, for whole faces).
        XCTAssertEqual(try hsvPower(before), 0)
        XCTAssertFalse(before.contains("color_transfer"), before)
        let resumed = try facet(["train", file, "--resume", "saehd", "--iterations", "2", "--no-score", "--eyes-mouth-priority",
                                 "--no-masked-training", "--lr-dropout", "0.3", "--clip-gradients", "--color-transfer", "rct",
                                 "--random-hsv-power", "0.05"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let after = try sqlite(file, "SELECT options_json FROM model")
        for part in ["\"eyes_mouth_priority\":true", "\"masked_training\":false", "\"lr_dropout\":0.3", "\"clip_gradients\":true",
                     "\"color_transfer\":\"rct\""] {
            XCTAssertTrue(after.contains(part), after)
        }
        XCTAssertEqual(try hsvPower(after), 0.05)
        XCTAssertEqual(try sqlite(file, "SELECT max(iteration) FROM loss"), "2")
        // Colour transfer and the HSV shift turned off again on resume.
        assertFailsCleanly(try facet(["train", file, "--resume", "saehd", "--random-hsv-power", "0.31"]),
                           mentioning: "--random-hsv-power must be 0 to 0.3")
        XCTAssertEqual(try sqlite(file, "SELECT options_json FROM model"), after)
        let off = try facet(["train", file, "--resume", "saehd", "--iterations", "3", "--no-score", "--color-transfer", "none",
                             "--random-hsv-power", "0"])
        XCTAssertEqual(off.status, 0, off.stderr)
        let offOptions = try sqlite(file, "SELECT options_json FROM model")
        XCTAssertFalse(offOptions.contains("color_transfer"), offOptions)
        XCTAssertEqual(try hsvPower(offOptions), 0)
        XCTAssertTrue(offOptions.contains("\"eyes_mouth_priority\":true"), offOptions)

        let frame = try sqlite(file, "SELECT frame_index FROM faces WHERE role = 'dst' ORDER BY frame_index LIMIT 1")
        let merge = try facet(["merge", file, "--checkpoint", "latest", "--preview", frame, "--out", path("frame.png")])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("frame.png")))
    }

    /// The stored `random_hsv_power` of a model's options JSON.
    func hsvPower(_ json: String) throws -> Double? {
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return (o["saehd"] as? [String: Any])?["random_hsv_power"] as? Double
    }
}
