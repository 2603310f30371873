/// Merging with the alignment smoothed over face tracks: the pasted face is steadier, measured by
/// refitting landmarks on the merged video (the benchmark beside it: `Tools/bench tracks`).
import XCTest
import FacetCore
import FacetExtract
import FacetMedia
import FacetStore
import FacetVision
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

final class TrackMergeTests: MergeTestCase {
    /// The fixture's 60 dst faces tracked (one track), merged with a steady face with and without
    /// smoothing: the stored smoothed alignment is used by default, and the pasted face shakes less
    /// with it (landmarks refitted on the output).
    func testSmoothedMergeIsSteadier() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"))
        let summary = try FaceTracker(project: p, pipeline: nil).run(role: .dst)
        XCTAssertEqual(summary.tracks, 1)
        let swapper = FixedFaceSwapper(face: try MergedJitter.sourceFace())
        var dst: [Int: Landmarks68] = [:]
        for r in MergeFixture.rows { dst[r.frame] = r.landmarks }
        let pipeline = try MergedJitter.pipeline()
        var results: [Double: MergedJitter] = [:]
        for smooth in [0.0, 1.0] {
            let out = path("smooth\(smooth).mp4")
            let stats = try MergeEngine.merge(project: p, media: media, swapper: swapper,
                                              options: MergeOptions(mask: .hull, blur: 10, crf: 12, preset: "ultrafast", smooth: smooth),
                                              output: out, frames: 0...59)
            XCTAssertEqual(stats.facesMerged, 60)
            XCTAssertEqual(stats.smoothedFaces, smooth > 0 ? 60 : 0)
            results[smooth] = try MergedJitter.measure(video: out, dst: dst, pipeline: pipeline)
        }
        let raw = try XCTUnwrap(results[0]), smooth = try XCTUnwrap(results[1])
        print("merged jitter over the dst's (60 frames): raw own \(raw.own) rel \(raw.relative); smoothed own \(smooth.own) rel \(smooth.relative)")
        XCTAssertGreaterThan(smooth.frames, 50)
        XCTAssertLessThan(smooth.own, 0.8 * raw.own, "the pasted face's own shake")
        // The stored smoothed alignment is what the merge used: a strength other than the stored one
        // is recomputed and differs; the stored strength recomputed gives the stored values.
        let ids = try p.faces(matching: FaceQuery(role: .dst)).map(\.id)
        let stored = try MergeEngine.smoothedAlignments(project: p, media: media, strength: 1, faceIDs: ids)
        let again = try MergeEngine.smoothedAlignments(project: p, media: media, strength: 1, faceIDs: ids, recompute: true)
        for id in ids {
            XCTAssertEqual(stored[id]?.landmarks.packed, again[id]?.landmarks.packed)
            let a = try XCTUnwrap(stored[id]?.matrix.values), b = try XCTUnwrap(again[id]?.matrix.values)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x))) }
        }
        let stronger = try MergeEngine.smoothedAlignments(project: p, media: media, strength: 4, faceIDs: ids)
        XCTAssertEqual(stronger.count, 60)
        XCTAssertNotEqual(stronger[ids[30]]?.landmarks, stored[ids[30]]?.landmarks)
    }
}
