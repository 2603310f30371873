/// Swap scores on real faces: dst-d19 faces (extracted for real, every tenth frame) merged by stand-in
/// models whose truth is known — the dst face itself, a steady src face, a blurred dst face — and judged
/// by `SwapScorer` on the merged frames. The scores must move the way each stand-in says they should.
import XCTest
import FacetCore
import FacetExtract
import FacetMedia
import FacetMerge
import FacetStore
import FacetTrain
import FacetVision
@testable import FacetSelect

/// Gives back each aligned dst face (optionally box-blurred `blur` times), with an all-white mask: the dst
/// person, at the model's resolution.
private struct DstFaceSwapper: FaceSwapper {
    let resolution: Int
    var blur = 0
    func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map { face in
            var f = face
            for _ in 0..<blur { f = boxBlurred(f) }
            return (f, Image(width: resolution, height: resolution, channels: 1, pixels: [UInt8](repeating: 255, count: resolution * resolution)))
        }
    }
}

/// The same src face for every input: the src person, with a frozen expression.
private struct SteadyFaceSwapper: FaceSwapper {
    let face: Image
    var resolution: Int { face.width }
    func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
        faces.map { _ in (face, Image(width: resolution, height: resolution, channels: 1, pixels: [UInt8](repeating: 255, count: resolution * resolution))) }
    }
}

/// A 3x3 box blur (edges clamped).
private func boxBlurred(_ im: Image) -> Image {
    var out = im
    let w = im.width, h = im.height, c = im.channels
    for y in 0..<h {
        for x in 0..<w {
            for k in 0..<c {
                var s = 0, n = 0
                for dy in -1...1 { for dx in -1...1 {
                    let yy = min(max(y + dy, 0), h - 1), xx = min(max(x + dx, 0), w - 1)
                    s += Int(im.pixels[(yy * w + xx) * c + k]); n += 1
                } }
                out.pixels[(y * w + x) * c + k] = UInt8(s / n)
            }
        }
    }
    return out
}

final class SwapScoreTests: XCTestCase {
    static let videos = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/video").path

    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "swap-score-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Descriptors of the faces `pipeline` finds on every `step`-th frame of a video.
    func descriptors(_ video: String, step: Int, pipeline: FacePipeline, recognizer: FaceRecognizer) throws -> [[Float]] {
        let d = try VideoDecoder(path: video)
        var out: [[Float]] = []
        while let f = try d.nextFrame() {
            guard f.index % step == 0 else { continue }
            let faces = pipeline.faces(in: f.image, minFaceSize: 40)
            out += recognizer.descriptors(image: f.image, faces: faces.map(\.landmarks))
        }
        return out
    }

    func mean(_ rows: [[Float]]) -> [Float] {
        (0..<128).map { j in rows.reduce(0) { $0 + $1[j] } / Float(rows.count) }
    }

    func testScoresMoveTheWayTheStandInsSay() throws {
        let pipeline = try FacePipeline(detector: MTCNNDetector(), shapePredictor: ShapePredictor(path: ModelFiles.shapePredictor()))
        let recognizer = try FaceRecognizer()
        let p = try Project.create(at: dir + "/score.facet")
        _ = try MediaImporter.importMedia(path: Self.videos + "/dst-d19.mp4", role: .dst, link: true, into: p)
        var o = ExtractionOptions(role: .dst)
        o.fps = 3
        _ = try Extractor(project: p, options: o).run { _ in }
        let ids = try p.faces(matching: FaceQuery(role: .dst)).map(\.id)
        XCTAssertGreaterThanOrEqual(ids.count, 20)
        let srcCentre = mean(try descriptors(Self.videos + "/src-d18.mp4", step: 20, pipeline: pipeline, recognizer: recognizer))
        let dstCentre = mean(try descriptors(Self.videos + "/dst-d19.mp4", step: 20, pipeline: pipeline, recognizer: recognizer))
        // A src face aligned at 64 px as the merge aligns faces: src-d18's first frame.
        let srcFrame = try XCTUnwrap(try VideoDecoder(path: Self.videos + "/src-d18.mp4").nextFrame()?.image)
        let srcFace = try XCTUnwrap(pipeline.faces(in: srcFrame, minFaceSize: 40).first)
        let steady = FaceCompositor(options: MergeOptions(), resolution: 64)
            .alignedFace(from: srcFrame, face: MergeFace(imageToFace: srcFace.matrix, cropSize: 256, landmarks: srcFace.landmarks))

        let scorer = SwapScorer(pipeline: pipeline, recognizer: recognizer)
        let options = MergeOptions(mask: .hull, blur: 10, smooth: 0)
        func score(_ s: any FaceSwapper) throws -> SwapScore {
            try scorer.score(project: p, swapper: s, faceType: nil, faceIDs: ids, options: options, srcCentre: srcCentre, dstCentre: dstCentre)
        }
        let own = try score(DstFaceSwapper(resolution: 64))
        let src = try score(SteadyFaceSwapper(face: steady))
        let blurred = try score(DstFaceSwapper(resolution: 64, blur: 3))
        for s in [own, src, blurred] { print("swap score: \(s)") }
        for s in [own, src, blurred] {
            XCTAssertEqual(s.faces, ids.count)
            XCTAssertLessThanOrEqual(s.missed, 2, "the merged face is found again")
        }
        // Identity: the dst's own face is never the src person; the steady src face always is.
        XCTAssertEqual(own.identitySrcShare, 0)
        XCTAssertLessThan(own.identityToDst, 0.45)
        XCTAssertGreaterThan(own.identityToSrc, 0.6)
        XCTAssertEqual(src.identitySrcShare, 1)
        XCTAssertLessThan(src.identityToSrc, src.identityToDst)
        // Expression: the dst's own face follows the dst's landmarks; a frozen src face does not.
        XCTAssertLessThan(own.eyesMouth, 0.05)
        XCTAssertGreaterThan(src.eyesMouth, own.eyesMouth)
        XCTAssertLessThan(own.landmarks, src.landmarks)
        // Movement: the dst's own face moves its eyes and mouth as the dst does; the steady src face stays still, so
        // it scores what a still face scores, whatever its shape.
        let ownMotion = try XCTUnwrap(own.eyesMouthMotion), srcMotion = try XCTUnwrap(src.eyesMouthMotion)
        let still = try XCTUnwrap(own.eyesMouthStill)
        XCTAssertEqual(try XCTUnwrap(src.eyesMouthStill), still, accuracy: 0.1 * still)
        XCTAssertLessThan(ownMotion, 0.5 * still)
        XCTAssertEqual(srcMotion, still, accuracy: 0.25 * still)
        // The mouth's state: the dst's own face opens it as the dst does, on average.
        XCTAssertEqual(try XCTUnwrap(own.mouthOpenBias), 0, accuracy: 0.02)
        // Detail: 64 px loses sharpness; blurring it loses more.
        XCTAssertLessThan(own.detail, 1)
        XCTAssertLessThan(blurred.detail, 0.8 * own.detail)
    }

    /// Detail is taken over the hull's spans, not the whole frame: on real frames and real landmarks (and a hull
    /// cut by the frame's edge) it is exactly the figure of a plain pass over the whole frame and the hull's mask
    /// (written here, OpenCV's definition: BT.601 grey, 4-neighbour Laplacian, border pixels left out).
    func testDetailOverTheHullsSpansIsTheWholeFramesFigure() throws {
        let pipeline = try FacePipeline(detector: MTCNNDetector(), shapePredictor: ShapePredictor(path: ModelFiles.shapePredictor()))
        let decoder = try VideoDecoder(path: Self.videos + "/dst-d19.mp4")
        func wholeFrame(_ image: Image, _ mask: Image) -> Double {
            let w = image.width, h = image.height
            let grey = (0..<(w * h)).map { i -> Float in
                0.299 * Float(image.pixels[3 * i]) + 0.587 * Float(image.pixels[3 * i + 1])
                    + 0.114 * Float(image.pixels[3 * i + 2])
            }
            var values: [Double] = []
            for y in 1..<(h - 1) {
                for x in 1..<(w - 1) where mask.pixels[y * w + x] != 0 {
                    let i = y * w + x
                    values.append(Double(grey[i - 1] + grey[i + 1] + grey[i - w] + grey[i + w] - 4 * grey[i]))
                }
            }
            let mean = values.reduce(0, +) / Double(values.count)
            return values.reduce(0) { $0 + $1 * $1 } / Double(values.count) - mean * mean
        }
        var checked = 0
        while let f = try decoder.nextFrame(), checked < 3 {
            guard f.index % 40 == 0, let face = pipeline.faces(in: f.image, minFaceSize: 40).first else { continue }
            let w = f.image.width, h = f.image.height
            let shifts: [(Double, Double)] = [(0, 0), (-face.landmarks.points.map(\.x).min()! - 20, 0),
                                              (0, Double(h) - face.landmarks.points.map(\.y).max()! + 15)]
            for (dx, dy) in shifts {
                let points = face.landmarks.points.map { Point2($0.x + dx, $0.y + dy) }
                let mask = hullMask(of: points, width: w, height: h)
                XCTAssertGreaterThan(mask.pixels.filter { $0 != 0 }.count, 500)
                let whole = wholeFrame(f.image, mask)
                let spanned = SwapScorer.laplacianVariance(f.image, spans: hullSpans(of: points, width: w, height: h))
                XCTAssertGreaterThan(whole, 0)
                XCTAssertEqual(spanned, whole, accuracy: 1e-9 * whole, "frame \(f.index), shifted \(dx), \(dy)")
            }
            checked += 1
        }
        XCTAssertEqual(checked, 3)
        XCTAssertTrue(hullSpans(of: [Point2(.nan, 1), Point2(2, 2), Point2(5, 9)], width: 20, height: 20).isEmpty)
    }

    /// The movement measure by its definition: a swap that is the dst moved by a constant offset (another person's
    /// shape, a placement off by a few pixels) moves exactly as the dst does (0); a swap that never moves scores the
    /// dst's own movement, which is `still`; a swap that moves as much but against the dst scores twice that.
    func testMovementIgnoresAConstantOffset() throws {
        var g = SystemRandomNumberGenerator()
        let dst = (0..<6).map { _ in (0..<32).map { _ in Point2(Double.random(in: 0...100, using: &g),
                                                                  Double.random(in: 0...100, using: &g)) } }
        let offset = (0..<32).map { _ in Point2(Double.random(in: -9...9, using: &g), Double.random(in: -9...9, using: &g)) }
        let shifted = dst.map { face in zip(face, offset).map { Point2($0.x + $1.x, $0.y + $1.y) } }
        let m = try XCTUnwrap(SwapScorer.movement(swap: shifted, dst: dst, unit: 10))
        XCTAssertEqual(m.motion, 0, accuracy: 1e-12)
        XCTAssertGreaterThan(m.still, 1)
        let frozen = try XCTUnwrap(SwapScorer.movement(swap: Array(repeating: offset, count: 6), dst: dst, unit: 10))
        XCTAssertEqual(frozen.motion, m.still, accuracy: 1e-12)
        XCTAssertEqual(frozen.still, m.still)
        // The still figure by hand: mean distance of each point to its mean over the faces, over the unit.
        var byHand = 0.0
        for p in 0..<32 {
            let cx = dst.reduce(0.0) { $0 + $1[p].x } / 6, cy = dst.reduce(0.0) { $0 + $1[p].y } / 6
            for face in dst { byHand += hypot(face[p].x - cx, face[p].y - cy) }
        }
        XCTAssertEqual(m.still, byHand / (6 * 32 * 10), accuracy: 1e-12)
        let mirrored = dst.map { face in face.map { Point2(200 - $0.x, 200 - $0.y) } }
        let against = try XCTUnwrap(SwapScorer.movement(swap: mirrored, dst: dst, unit: 10))
        XCTAssertEqual(against.motion, 2 * m.still, accuracy: 1e-9)
        XCTAssertNil(SwapScorer.movement(swap: Array(dst.prefix(2)), dst: Array(dst.prefix(2)), unit: 10))
    }

    /// The stored form: every metric back as it went in; a file made before scores has none.
    func testScoresAreStoredPerMetric() throws {
        let s = SwapScore(faces: 25, missed: 1, identitySrcShare: 0.96, identityToSrc: 0.41, identityToDst: 0.72, landmarks: 0.06,
                          eyesMouth: 0.07, mouthCorrelation: 0.5, detail: 0.31, seconds: 2, eyesMouthMotion: 0.04,
                          eyesMouthStill: 0.03, mouthOpenBias: 0.08)
        var back = try XCTUnwrap(SwapScore(stored: CheckpointScores(values: s.metrics, faces: s.faces)))
        back.seconds = s.seconds
        XCTAssertEqual(back, s)
        var noMouth = s
        noMouth.mouthCorrelation = nil
        XCTAssertNil(noMouth.metrics["mouth_correlation"])
        // A score stored before the movement measures reads back without them.
        var before = s.metrics
        before["eyes_mouth_motion"] = nil
        before["eyes_mouth_still"] = nil
        before["mouth_open_bias"] = nil
        let old = try XCTUnwrap(SwapScore(stored: CheckpointScores(values: before, faces: s.faces)))
        XCTAssertNil(old.eyesMouthMotion)
        XCTAssertNil(old.eyesMouthStill)
        XCTAssertNil(old.mouthOpenBias)
        XCTAssertEqual(old.eyesMouth, s.eyesMouth)
        XCTAssertNil(SwapScore(stored: CheckpointScores(values: ["detail": 1], faces: 3)))
    }

    func testCheckpointScoresJudgeTheModelsOwnSwapWithoutTheExpressionRestore() {
        // The merge's defaults restore the expression; a checkpoint's score leaves that out (it would hide the
        // model's own expression error), and keeps everything else of the defaults.
        XCTAssertGreaterThan(MergeOptions.recommended.expression, 0)
        for architecture in ["tiny", "quick96", "h128"] {
            var expected = MergeOptions.defaults(architecture: architecture)
            expected.expression = 0
            XCTAssertEqual(CheckpointScoring.mergeOptions(nil, architecture: architecture), expected, architecture)
        }
        // Settings given are scored as given, the restore included.
        var given = MergeOptions.recommended
        given.erode = 3
        XCTAssertEqual(CheckpointScoring.mergeOptions(given, architecture: "tiny"), given)
    }
}
