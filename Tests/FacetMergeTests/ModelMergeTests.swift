/// End to end with a real checkpoint: a `tiny` model trained a few iterations on the sample faces swaps the dst video.
import XCTest
import FacetCore
import FacetMedia
import FacetStore
import FacetTrain
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

final class ModelMergeTests: MergeTestCase {
    /// The whole video through the model: frame count, size, rate, audio and tag as the destination's.
    func testMergeWithATinyCheckpoint() throws {
        let (p, media) = try MergeFixture.trainedCopy(at: path("work.facet"))
        let swapper = try CheckpointSwapper(project: p, checkpoint: "latest")
        XCTAssertEqual(swapper.resolution, 64)
        XCTAssertEqual(swapper.faceType, "full")
        let out = path("swapped.mp4")
        let stats = try MergeEngine.merge(project: p, media: media, swapper: swapper,
                                          options: MergeOptions(mask: .learnedAndHull, erode: 5, blur: 20, color: .rct, preset: "ultrafast"),
                                          output: out, faceType: swapper.faceType)
        XCTAssertEqual(stats.frames, 250)
        XCTAssertEqual(stats.facesMerged, 60)
        XCTAssertEqual(try probe(out, ["-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]), "250")
        XCTAssertEqual(try probe(out, ["-select_streams", "v:0", "-show_entries", "stream=width,height,r_frame_rate", "-of", "csv=p=0"]), "480,480,30/1")
        XCTAssertEqual(try probe(out, ["-select_streams", "a:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0"]), "aac")
        XCTAssertTrue(try probe(out, ["-show_entries", "format_tags=comment", "-of", "csv=p=0"]).contains("synthetic media"))
    }

    /// Before encoding: outside the blend the frame's bytes, inside the model's face; rct brings
    /// the face's mean colour towards the destination's.
    func testPreviewWithTheModel() throws {
        let (p, media) = try MergeFixture.trainedCopy(at: path("work.facet"))
        let swapper = try CheckpointSwapper(project: p, checkpoint: "best")
        let original = try MergeFixture.frame(20)
        let (plain, regions) = try MergeEngine.preview(project: p, media: media, frame: 20, swapper: swapper, options: MergeOptions(mask: .hull))
        look(plain, "model-frame20")
        let region = try XCTUnwrap(regions.first)
        var changed = 0, inside = 0
        for y in 0..<480 {
            for x in 0..<480 {
                let a = region.alpha(atX: x, y: y)
                if a == 0 {
                    XCTAssertEqual(plain[x, y, 0], original[x, y, 0]); XCTAssertEqual(plain[x, y, 2], original[x, y, 2])
                } else if a > 0.99 {
                    inside += 1
                    if (0..<3).contains(where: { abs(Int(plain[x, y, $0]) - Int(original[x, y, $0])) > 3 }) { changed += 1 }
                }
            }
        }
        XCTAssertGreaterThan(inside, 20_000)
        XCTAssertGreaterThan(Double(changed) / Double(inside), 0.5, "a model trained 6 iterations does not reproduce the face")
        let (rct, _) = try MergeEngine.preview(project: p, media: media, frame: 20, swapper: swapper, options: MergeOptions(mask: .hull, color: .rct))
        look(rct, "model-frame20-rct")
        let inFace = { (x: Int, y: Int) in region.alpha(atX: x, y: y) > 0.99 }
        let target = meanColour(original, where: inFace)
        let before = zip(meanColour(plain, where: inFace), target).map { abs($0 - $1) }.reduce(0, +)
        let after = zip(meanColour(rct, where: inFace), target).map { abs($0 - $1) }.reduce(0, +)
        XCTAssertLessThan(after, before * 0.5, "rct: mean colour distance \(after), without \(before)")
        XCTAssertLessThan(after, 6)
    }

    /// A checkpoint whose weights do not fit its model's resolution: a clear error, nothing written.
    func testCheckpointOfAnotherResolutionIsRefused() throws {
        let file = path("work.facet")
        let (p, _) = try MergeFixture.trainedCopy(at: file)
        try p.close()
        let sql = "UPDATE model SET resolution = 96, options_json = replace(options_json, '\"resolution\":64', '\"resolution\":96');"
        let tool = Process()
        tool.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        tool.arguments = [file, sql]
        try tool.run(); tool.waitUntilExit()
        let reopened = try Project(path: file)
        XCTAssertThrowsError(try CheckpointSwapper(project: reopened, checkpoint: "latest")) { e in
            XCTAssertTrue("\(e)".contains("is [") && "\(e)".contains("there and"), "\(e)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".mp4") }, [])
    }
}
