/// Per-range settings in one render (`MergePlan`: `--config-for`, `--skip`): skipped frames reach the encoder
/// exactly as decoded, a segment's frames are merged by its own swapper and settings, and ranges that overlap
/// or leave the video are refused before anything is written.
import XCTest
import FacetCore
import FacetMedia
import FacetStore
import FacetTestSupport
@_spi(Benchmarks) @testable import FacetMerge

/// Keeps every frame the merge hands to the encoder, beside the decoded one.
private final class FrameRecorder: MergeFrameObserver {
    var frames: [Int: (original: Image, merged: Image, faces: Int)] = [:]
    func observe(frame: Int, original: Image, merged: Image, faces: [MergeFace]) throws {
        frames[frame] = (original, merged, faces.count)
    }
}

final class MergePlanTests: MergeTestCase {
    /// Frames 0-11 of the dst sample: 3..5 skipped, 8..9 merged by a second swapper (colours shifted) with the
    /// hull mask, the rest by the identity swapper. Skipped frames are byte for byte the decoder's frames (read
    /// again by a fresh decoder), with no face merged; the segment's frames differ from what the run's own
    /// setting makes of them; the others are merged.
    func testSkipPassesDecodedFramesAndSegmentsUseTheirOwnSettings() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("w.facet"))
        let options = MergeOptions(mask: .hull, blur: 10, color: .none, crf: 12, preset: "ultrafast", smooth: 0)
        let plan = MergePlan(segments: [MergeSegment(frames: 8...9, options: options, swapper: ShiftedSwapper(resolution: 64),
                                                     faceType: nil, name: "shifted")],
                             skip: [3...5])
        let recorder = FrameRecorder()
        let stats = try MergeEngine.merge(project: p, media: media, swapper: RedPatchSwapper(resolution: 64), options: options,
                                          output: path("o.mp4"), frames: 0...11, observer: recorder, plan: plan)
        XCTAssertEqual(stats.frames, 12)
        XCTAssertEqual(stats.framesWithFaces, 9)
        let decoder = try VideoDecoder(path: MergeFixture.dstVideo)
        while let f = try decoder.nextFrame(), f.index < 12 {
            let r = try XCTUnwrap(recorder.frames[f.index])
            XCTAssertEqual(r.original.pixels, f.image.pixels, "frame \(f.index) as decoded")
            if (3...5).contains(f.index) {
                XCTAssertEqual(r.faces, 0)
                XCTAssertEqual(r.merged.pixels, f.image.pixels, "skipped frame \(f.index) is byte-identical to the decode")
            } else {
                XCTAssertEqual(r.faces, 1)
                XCTAssertNotEqual(r.merged.pixels, f.image.pixels, "frame \(f.index) is merged")
            }
        }
        // The segment's frames as the run's own setting would make them: not what the segment made.
        var own = try MergeFixture.frame(8)
        _ = try FaceCompositor(options: options, resolution: 64).merge(frame: &own, faces: [MergeFixture.face(8)],
                                                                       swapper: RedPatchSwapper(resolution: 64))
        var shifted = try MergeFixture.frame(8)
        _ = try FaceCompositor(options: options, resolution: 64).merge(frame: &shifted, faces: [MergeFixture.face(8)],
                                                                       swapper: ShiftedSwapper(resolution: 64))
        XCTAssertEqual(recorder.frames[8]?.merged.pixels, shifted.pixels)
        XCTAssertNotEqual(recorder.frames[8]?.merged.pixels, own.pixels)
    }

    /// Overlapping ranges, a range past the video's end: refused in one line before the output exists.
    func testOverlappingOrOutsideRangesAreRefusedWithNothingWritten() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("w.facet"))
        let options = MergeOptions(crf: 12, preset: "ultrafast")
        let seg = { (r: ClosedRange<Int>) in
            MergeSegment(frames: r, options: options, swapper: IdentitySwapper(resolution: 64), faceType: nil, name: "x")
        }
        let cases: [(MergePlan, String)] = [
            (MergePlan(segments: [seg(10...20)], skip: [20...25]), "overlap"),
            (MergePlan(segments: [seg(0...5), seg(5...5)]), "overlap"),
            (MergePlan(skip: [0...media.frameCount]), "outside"),
        ]
        for (plan, text) in cases {
            XCTAssertThrowsError(try MergeEngine.merge(project: p, media: media, swapper: IdentitySwapper(resolution: 64),
                                                       options: options, output: path("o.mp4"), plan: plan)) { e in
                XCTAssertTrue("\(e)".contains(text), "\(e)")
                XCTAssertFalse("\(e)".contains("\n"))
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("o.mp4")))
        }
    }

    /// The ranges users type: A..B, A...B, A, with =NAME; anything else is a one-line error.
    func testFrameRangeSpecParsing() throws {
        XCTAssertEqual(try FrameRangeSpec.parse("120..180=tight", named: true), FrameRangeSpec(frames: 120...180, name: "tight"))
        XCTAssertEqual(try FrameRangeSpec.parse("3...4", named: false), FrameRangeSpec(frames: 3...4))
        XCTAssertEqual(try FrameRangeSpec.parse("7", named: false), FrameRangeSpec(frames: 7...7))
        for bad in ["", "5..3", "-1..2", "1..2..3", "a..b", "300..320=", "1..999999999"] {
            XCTAssertThrowsError(try FrameRangeSpec.parse(bad, named: bad.contains("=")), bad)
        }
        XCTAssertThrowsError(try FrameRangeSpec.parse("1..2", named: true))
        XCTAssertNil(FrameRangeSpec.firstOverlap([0...4, 5...9, 10...10]))
        XCTAssertNotNil(FrameRangeSpec.firstOverlap([5...9, 0...5]))
    }
}
