/// `facet train --model saehd` with DeepFaceLab's GAN and true-face options, as a user runs them: listed with their
/// defaults in the help, turned on when resuming a trained model (stored in the model row) and merged, bad values one
/// line, exit 1 and the project file unchanged.
import XCTest
import Foundation
import FacetStore

final class SAEHDGANCommandTests: CLITestCase {
    func testHelpListsTheOptionsWithTheirDefaults() throws {
        let h = try facet(["train", "--help"])
        XCTAssertEqual(h.status, 0)
        let text = h.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for option in ["--gan-power <gan-power> saehd: GAN power, 0 to 5 (default 0: off;",
                       "--gan-patch-size <gan-patch-size> saehd: the GAN discriminator's patch size, 3 to 640 (default "
                           + "resolution / 8)",
                       "--gan-dims <gan-dims> saehd: the GAN discriminator's width gan_dims, 4 to 512 (default 16)",
                       "--true-face-power <true-face-power> saehd, df archis: 'true face' power, 0 to 1 (default 0: off;"] {
            XCTAssertTrue(text.contains(option), "help lacks '\(option)'")
        }
    }

    func testTurnedOnWhenResumingThenMergedAndBadValuesRefused() throws {
        let file = path("g.facet")
        try facet(["init", file])
        let refused = try facet(["train", file, "--model", "tiny", "--gan-power", "0.1"])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("are options of --model saehd"), refused.stderr)
        try addSampleFaces(file, role: .src, count: 6, size: 96, video: Self.fixtures + "/video/src-d18.mp4")
        try addSampleFaces(file, role: .dst, count: 6, size: 96, video: Self.fixtures + "/video/dst-d19.mp4")
        let empty = snapshot(file)
        for (args, text) in [(["--archi", "liae-ud", "--true-face-power", "0.01"], "--true-face-power is for df archis only"),
                             (["--gan-power", "9"], "--gan-power must be 0 to 5"),
                             (["--gan-patch-size", "16"], "give them with --gan-power above 0"),
                             (["--gan-power", "0.1", "--gan-dims", "2"], "--gan-dims must be 4 to 512")] {
            assertFailsCleanly(try facet(["train", file, "--model", "saehd"] + SAEHDCommandTests.tiny + args), mentioning: text)
        }
        XCTAssertEqual(snapshot(file).0, empty.0)

        let train = try facet(["train", file, "--model", "saehd", "--archi", "df-ud", "--batch", "1", "--iterations", "1",
                               "--seed", "3", "--no-score"] + SAEHDCommandTests.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        let created = try sqlite(file, "SELECT options_json FROM model")
        XCTAssertTrue(created.contains("\"gan\":{\"gan_dims\":16,\"gan_patch_size\":8,\"gan_power\":0,\"true_face_power\":0}"),
                      created)
        let before = try sqlite(file, "SELECT options_json, (SELECT count(*) FROM checkpoint) FROM model")
        assertFailsCleanly(try facet(["train", file, "--resume", "saehd", "--gan-patch-size", "12"]),
                           mentioning: "give them with --gan-power above 0")
        XCTAssertEqual(try sqlite(file, "SELECT options_json, (SELECT count(*) FROM checkpoint) FROM model"), before)

        let resumed = try facet(["train", file, "--resume", "saehd", "--iterations", "2", "--no-score", "--gan-power", "0.1",
                                 "--gan-dims", "4", "--true-face-power", "0.01"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let after = try sqlite(file, "SELECT options_json FROM model")
        XCTAssertTrue(after.contains("\"gan\":{\"gan_dims\":4,\"gan_patch_size\":8,\"gan_power\":0.1,\"true_face_power\":0.01}"),
                      after)
        XCTAssertEqual(try sqlite(file, "SELECT count(*) FROM checkpoint_tensor WHERE name LIKE 'D_src.%'"), "16")
        XCTAssertEqual(try sqlite(file, "SELECT count(*) FROM checkpoint_tensor WHERE name = 'code_discriminator.out_conv.weight'"),
                       "1")

        let frame = try sqlite(file, "SELECT frame_index FROM faces WHERE role = 'dst' ORDER BY frame_index LIMIT 1")
        let merge = try facet(["merge", file, "--checkpoint", "latest", "--preview", frame, "--out", path("frame.png")])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("frame.png")))
    }
}
