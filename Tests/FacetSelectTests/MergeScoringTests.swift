/// The merge's per-frame scores on real frames: the dst sample's faces (extracted for real) merged with stand-in
/// models whose truth is known, scored as the merge runs and stored as a run. A frame given the wrong face must
/// rank worst; the smoothed alignment must store less jitter than the raw one.
import XCTest
import FacetCore
import FacetExtract
import FacetMedia
import FacetMerge
import FacetStore
import FacetTestSupport
import FacetVision
@testable import FacetSelect

/// The same face for every input (all-white mask), except the `wrongAt`-th face handed to it, which gets the
/// input itself back: the dst person (an identity swap) on that one frame.
private final class OneWrongFaceSwapper: FaceSwapper, @unchecked Sendable {
    let face: Image
    let wrongAt: Int?
    private var seen = 0
    init(face: Image, wrongAt: Int?) { self.face = face; self.wrongAt = wrongAt }
    var resolution: Int { face.width }
    func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        let mask = Image(width: resolution, height: resolution, channels: 1, pixels: [UInt8](repeating: 255, count: resolution * resolution))
        return faces.map { f in
            defer { seen += 1 }
            return (seen == wrongAt ? f : face, mask)
        }
    }
}

final class MergeScoringTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "merge-scoring-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// 24 frames merged with a steady src face, frame 13 with the dst face itself (the wrong person): scored
    /// with identity on every frame, frame 13 ranks worst of the run; the run is stored finished, one row per
    /// frame and metric, and the identity says src on the others and dst on frame 13.
    func testWrongFaceFrameRanksWorst() throws {
        let (p, media) = try MergeFixture.makeProject(at: dir + "/p.facet", source: true)
        let recognizer = try FaceRecognizer()
        let centres = try MergeFixture.identityCentres(recognizer: recognizer)
        let setup = MergeScoringSetup(predictor: try ShapePredictor(path: ModelFiles.shapePredictor()),
                                      identity: IdentityCheck(recognizer: recognizer, srcCentre: centres.src,
                                                              dstCentre: centres.dst),
                                      identityEvery: 1)
        let swapper = OneWrongFaceSwapper(face: try MergeFixture.sourceFace(), wrongAt: 13)
        let r = try MergeRuns.merge(project: p, media: media, swapper: swapper, checkpointId: nil,
                                    options: MergeOptions(mask: .hull, blur: 10, crf: 12, preset: "ultrafast", smooth: 0),
                                    output: dir + "/out.mp4", frames: 0...23, scoring: setup)
        XCTAssertTrue(r.run.finished)
        XCTAssertEqual(r.run.frames, 24)
        XCTAssertEqual(r.run.framesScored, 24)
        let scores = try p.mergeFrameScores(runId: r.run.id)
        XCTAssertEqual(scores.count, 24)
        for f in 0..<24 {
            let v = try XCTUnwrap(scores[f])
            let toSrc = try XCTUnwrap(v[MergeMetric.identityToSrc]), toDst = try XCTUnwrap(v[MergeMetric.identityToDst])
            if f == 13 { XCTAssertLessThan(toDst, toSrc, "frame 13 shows the dst person") } else { XCTAssertLessThan(toSrc, toDst, "frame \(f)") }
            XCTAssertNotNil(v[MergeMetric.landmarks]); XCTAssertNotNil(v[MergeMetric.detail])
            if f > 0 && f < 23 { XCTAssertNotNil(v[MergeMetric.jitter], "frame \(f)") }
        }
        let worst = MergeRuns.worstFrames(scores, count: 3)
        print("worst frames: \(worst.map { "\($0.frame) \($0.metric) \($0.value) (\($0.spread))" })")
        XCTAssertEqual(worst.first?.frame, 13)
        XCTAssertTrue(["identity", MergeMetric.jitter].contains(worst.first?.metric ?? ""))
        // The identity measure alone flags frame 13 too.
        let identityOnly = scores.mapValues { $0.filter { $0.key.hasPrefix("identity") } }
        XCTAssertEqual(MergeRuns.worstFrames(identityOnly, count: 1).first?.frame, 13)
    }

    /// The fixture's 60 dst faces tracked, merged with a steady src face with the raw alignment and smoothed:
    /// the stored per-frame jitter (the pasted face's second difference against the head) is lower smoothed.
    /// Without descriptors identity is absent, the rest is stored.
    func testStoredJitterIsLowerWithSmoothing() throws {
        let (p, media) = try MergeFixture.makeProject(at: dir + "/p.facet")
        XCTAssertEqual(try FaceTracker(project: p, pipeline: nil).run(role: .dst).tracks, 1)
        let setup = MergeScoringSetup(predictor: try ShapePredictor(path: ModelFiles.shapePredictor()), identity: nil)
        let swapper = OneWrongFaceSwapper(face: try MergeFixture.sourceFace(), wrongAt: nil)
        var jitter: [Double: (rel: Double, ratio: Double)] = [:]
        for smooth in [0.0, 1.0] {
            let r = try MergeRuns.merge(project: p, media: media, swapper: swapper, checkpointId: nil,
                                        options: MergeOptions(mask: .hull, blur: 10, crf: 12, preset: "ultrafast", smooth: smooth),
                                        output: dir + "/s\(smooth).mp4", frames: 0...59, scoring: setup)
            let scores = try p.mergeFrameScores(runId: r.run.id)
            XCTAssertEqual(scores.count, 60)
            XCTAssertNil(scores.values.first { $0[MergeMetric.identityToSrc] != nil }, "no identity without descriptors")
            let s = MergeRuns.summary(scores)
            jitter[smooth] = (try XCTUnwrap(s[MergeMetric.jitter]), try XCTUnwrap(s["jitter_ratio"]))
        }
        let raw = try XCTUnwrap(jitter[0]), smoothed = try XCTUnwrap(jitter[1])
        print("stored jitter: raw \(raw.rel) (\(raw.ratio)x the dst's own), smoothed \(smoothed.rel) (\(smoothed.ratio)x)")
        XCTAssertLessThan(smoothed.rel, 0.8 * raw.rel)
        XCTAssertEqual(try p.mergeRuns().count, 2)
    }
}
