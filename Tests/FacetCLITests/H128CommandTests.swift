/// `facet train --model h128` and `facet merge` with its checkpoint, as the tutorial runs them:
/// real faces from `facet extract`, the lighter H128 for one iteration, a seamless merge by default.
import XCTest
import Foundation

final class H128CommandTests: CLITestCase {
    func testOptionsOfOtherModelsAreUsageErrors() throws {
        try facet(["init", path("w.facet")])
        for args in [["--model", "tiny", "--lighter"], ["--model", "quick96", "--pixel-loss"], ["--resume", "h128", "--lighter"]] {
            let r = try facet(["train", path("w.facet")] + args)
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("--lighter and --pixel-loss are options of --model h128"), r.stderr)
        }
        let r = try facet(["train", path("w.facet"), "--model", "h128", "--lighter"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("has no kept src faces"), r.stderr)
    }

    func testTrainLighterH128ThenMergeIsSeamlessByDefault() throws {
        let file = path("w.facet")
        try facet(["init", file])
        for (role, video) in [("src", "src-d18.mp4"), ("dst", "dst-d19.mp4")] {
            XCTAssertEqual(try facet(["import", file, "--role", role, Self.fixtures + "/video/" + video, "--link"]).status, 0)
            let r = try facet(["extract", file, "--role", role, "--fps", "1"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        let train = try facet(["train", file, "--model", "h128", "--lighter", "--pixel-loss", "--batch", "1", "--iterations", "1", "--seed", "3"])
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stderr.contains("training model 'h128' (h128, 128 px, batch 1)"), train.stderr)
        XCTAssertTrue(train.stdout.contains("model 'h128' checkpoint #1 at iteration 1"), train.stdout)
        XCTAssertEqual(try sqlite(file, "SELECT face_type, resolution FROM model WHERE name = 'h128'"), "half|128")
        let options = try sqlite(file, "SELECT options_json FROM model WHERE name = 'h128'")
        XCTAssertTrue(options.contains("\"h128\":{\"ae_dims\":256,\"decoder_dims\":256,\"encoder_dims\":128,\"pixel_loss\":true,\"resolution\":128}"), options)
        XCTAssertTrue(options.contains("\"beta1\":0.5"), options)
        XCTAssertEqual(try sqlite(file, "SELECT count(*) FROM loss"), "1")

        let frame = try sqlite(file, "SELECT frame_index FROM faces WHERE role = 'dst' ORDER BY frame_index LIMIT 1")
        let merge = try facet(["merge", file, "--checkpoint", "latest", "--preview", frame, "--out", path("frame.png"), "--save-config", "last"])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("frame.png")))
        // A preview saves its settings only when asked (--save-config): the h128 default is seamless.
        XCTAssertTrue(try sqlite(file, "SELECT options_json FROM merge_config WHERE name = 'last'").contains("\"mode\":\"seamless\""))
        // A mode given on the command line wins.
        XCTAssertEqual(try facet(["merge", file, "--checkpoint", "latest", "--preview", frame, "--mode", "overlay", "--out", path("frame2.png"), "--save-config", "last"]).status, 0)
        XCTAssertTrue(try sqlite(file, "SELECT options_json FROM merge_config WHERE name = 'last'").contains("\"mode\":\"overlay\""))
    }
}
