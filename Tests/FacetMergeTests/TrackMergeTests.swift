/// Merging with the alignment smoothed over face tracks: the pasted face is steadier, measured by
/// refitting landmarks on the merged video. (`Tools/bench tracks` measures the same from outside Facet, with
/// dlib's own landmarks, on a trained checkpoint.)
import XCTest
import FacetCore
import FacetExtract
import FacetMedia
import FacetStore
import FacetVision
@testable import FacetMerge

/// Returns the same face for every input (a real face, aligned at the model resolution once) with
/// an all-white mask: a perfectly steady model, so the pasted face moves exactly as the alignment does.
struct FixedFaceSwapper: FaceSwapper {
    let face: Image
    var resolution: Int { face.width }
    func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map { _ in (face, Image(width: resolution, height: resolution, channels: 1, pixels: [UInt8](repeating: 255, count: resolution * resolution))) }
    }
}

/// How much a merged face moves against the destination's, from landmarks refitted on every frame.
struct MergedJitter {
    /// Mean |second difference| of the output's landmarks over the dst's own (the pasted face's own shake).
    var own: Double
    /// Mean |second difference of output minus dst| over the dst's own (the face moving against the head).
    var relative: Double
    var frames: Int

    /// Refits the 68 points on each frame of `video` (the face nearest the dst's) and compares them
    /// with `dst` (frame index to landmarks, the dst's own fit), over every three consecutive frames
    /// both have. Points are in eye distances of the dst face.
    static func measure(video: String, dst: [Int: Landmarks68], pipeline: FacePipeline) throws -> MergedJitter {
        let decoder = try VideoDecoder(path: video)
        var out: [Int: Landmarks68] = [:]
        while let f = try decoder.nextFrame() {
            guard let d = dst[f.index] else { continue }
            let found = pipeline.faces(in: f.image, minFaceSize: 40)
            if let best = found.min(by: { meanLandmarkDistance($0.landmarks, d) < meanLandmarkDistance($1.landmarks, d) }) { out[f.index] = best.landmarks }
        }
        var own = 0.0, rel = 0.0, base = 0.0, n = 0
        for t in dst.keys.sorted() {
            guard let d0 = dst[t - 1], let d1 = dst[t], let d2 = dst[t + 1], let o0 = out[t - 1], let o1 = out[t], let o2 = out[t + 1] else { continue }
            let unit = eyeDistance(d1)
            var so = 0.0, sr = 0.0, sd = 0.0
            for p in 0..<68 {
                func second(_ a: Landmarks68, _ b: Landmarks68, _ c: Landmarks68) -> Point2 {
                    Point2(c.points[p].x - 2 * b.points[p].x + a.points[p].x, c.points[p].y - 2 * b.points[p].y + a.points[p].y)
                }
                let o = second(o0, o1, o2), d = second(d0, d1, d2)
                so += hypot(o.x, o.y); sd += hypot(d.x, d.y); sr += hypot(o.x - d.x, o.y - d.y)
            }
            own += so / unit; rel += sr / unit; base += sd / unit; n += 1
        }
        return MergedJitter(own: own / max(base, 1e-12), relative: rel / max(base, 1e-12), frames: n)
    }
}

final class TrackMergeTests: MergeTestCase {
    static func pipeline() throws -> FacePipeline {
        try FacePipeline(detector: MTCNNDetector(), shapePredictor: ShapePredictor(path: ModelFiles.shapePredictor()))
    }

    /// A src face (frame 0 of src-d18) aligned at 64 px: what a perfectly steady model would return.
    static func sourceFace(resolution: Int = 64) throws -> Image {
        let row = MergeFixture.srcRows[0]
        let d = try VideoDecoder(path: MergeFixture.srcVideo)
        var frame: Image?
        while let f = try d.nextFrame() { if f.index == row.frame { frame = f.image; break } }
        let image = try XCTUnwrap(frame)
        return FaceCompositor(options: MergeOptions(), resolution: resolution)
            .alignedFace(from: image, face: MergeFace(imageToFace: row.matrix, cropSize: 256, landmarks: row.landmarks))
    }

    /// The fixture's 60 dst faces tracked (one track), merged with a steady face with and without
    /// smoothing: the stored smoothed alignment is used by default, and the pasted face shakes less
    /// with it (landmarks refitted on the output).
    func testSmoothedMergeIsSteadier() throws {
        let (p, media) = try MergeFixture.makeProject(at: path("work.facet"))
        let summary = try FaceTracker(project: p, pipeline: nil).run(role: .dst)
        XCTAssertEqual(summary.tracks, 1)
        let swapper = FixedFaceSwapper(face: try Self.sourceFace())
        var dst: [Int: Landmarks68] = [:]
        for r in MergeFixture.rows { dst[r.frame] = r.landmarks }
        let pipeline = try Self.pipeline()
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
