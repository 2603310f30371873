/// The expression restore: its spline and warp by their definitions, and on real faces (the src sample's face moved
/// onto the dst sample's landmarks, judged by dlib's predictor fitted again on the result).
import XCTest
import FacetCore
import FacetTestSupport
import FacetVision
@_spi(Benchmarks) @testable import FacetMerge

final class ExpressionRestorerTests: XCTestCase {
    /// dlib's predictor, loaded once for the whole run by the restorer's own cache.
    func predictor() throws -> ShapePredictor { try ExpressionRestorer.defaultPredictor() }

    /// Mean distance over `points` of two 68-point sets, in `b`'s eye distances.
    func distance(_ a: [Point2], _ b: [Point2], _ points: [Int]) -> Double {
        let unit = hypot(b[45].x - b[36].x, b[45].y - b[36].y)
        return points.map { hypot(a[$0].x - b[$0].x, a[$0].y - b[$0].y) }.reduce(0, +) / (Double(points.count) * unit)
    }

    /// The dst sample's face of `frame` as the merge gives it to a model of `res` pixels, and its landmarks there.
    func dstFace(_ frame: Int, _ res: Int) throws -> (image: Image, points: [Point2], face: MergeFace) {
        let c = FaceCompositor(options: MergeOptions(), resolution: res)
        let face = MergeFixture.face(frame)
        return (c.alignedFace(from: try MergeFixture.frame(frame), face: face),
                face.landmarks.transformed(by: c.faceMatrix(face)).points, face)
    }

    func testSplineReproducesAffineMapsAndPassesThroughItsPoints() throws {
        var rng = SystemRandomNumberGenerator()
        let points = (0..<40).map { _ in Point2(Double.random(in: 0...63, using: &rng), Double.random(in: 0...63, using: &rng)) }
        // Values from an affine map: the spline is that map everywhere (its bending part is zero).
        func affine(_ p: Point2) -> Point2 { Point2(0.3 + 0.02 * p.x - 0.05 * p.y, -1.5 + 0.04 * p.x + 0.01 * p.y) }
        let flat = try XCTUnwrap(ThinPlateSpline(points: points, values: points.map(affine), scale: 64))
        for _ in 0..<50 {
            let p = Point2(Double.random(in: -5...70, using: &rng), Double.random(in: -5...70, using: &rng))
            let v = flat.value(at: p), w = affine(p)
            XCTAssertEqual(v.x, w.x, accuracy: 1e-6); XCTAssertEqual(v.y, w.y, accuracy: 1e-6)
        }
        // Any values: met at the points (with the regulariser all but off; the merge's 1e-6 misses them by
        // thousandths of a pixel).
        let values = points.map { _ in Point2(Double.random(in: -3...3, using: &rng), Double.random(in: -3...3, using: &rng)) }
        let bent = try XCTUnwrap(ThinPlateSpline(points: points, values: values, scale: 64, lambda: 1e-12))
        for (p, v) in zip(points, values) {
            XCTAssertEqual(bent.value(at: p).x, v.x, accuracy: 1e-3); XCTAssertEqual(bent.value(at: p).y, v.y, accuracy: 1e-3)
        }
        // Two points at one place (closed lips) still solve.
        XCTAssertNotNil(ThinPlateSpline(points: points + [points[0]], values: values + [values[0]], scale: 64))
    }

    func testWarpReadsWhereTheSplineSays() throws {
        // A constant move of +3 px across: every output pixel is the input 3 px to its right (clamped at the edge).
        let corners = [Point2(0, 0), Point2(31, 0), Point2(0, 31), Point2(31, 31)]
        let spline = try XCTUnwrap(ThinPlateSpline(points: corners, values: corners.map { _ in Point2(3, 0) }, scale: 32))
        let field = WarpField(spline: spline, size: 32)
        var image = Image(width: 32, height: 32, channels: 3)
        for y in 0..<32 { for x in 0..<32 { for c in 0..<3 { image[x, y, c] = UInt8(x * 7 + c) } } }
        let out = field.warp(image)
        for y in 0..<32 {
            for x in 0..<32 { XCTAssertEqual(out[x, y, 1], image[min(x + 3, 31), y, 1], "at \(x),\(y)") }
        }
    }

    func testFitsReadAGreyEnlargementWithPixelCentresKept() {
        // Two RGB pixels, grey 0 and 200 ((r + g + b) / 3), four times wider: output x reads (x + 0.5) / 4 - 0.5.
        let image = Image(width: 2, height: 1, channels: 3, pixels: [0, 0, 0, 150, 200, 250])
        let big = ExpressionRestorer.enlargedGrey(image, factor: 4)
        XCTAssertEqual(big.width, 8); XCTAssertEqual(big.height, 4); XCTAssertEqual(big.channels, 1)
        XCTAssertEqual(Array(big.pixels[0..<8]), [0, 0, 25, 75, 125, 175, 200, 200])
        XCTAssertEqual(Array(big.pixels[24..<32]), Array(big.pixels[0..<8]), "rows of a one-row image are alike")
    }

    func testSrcFaceTakesTheDstsEyesMouthAndJaw() throws {
        let p = try predictor()
        let res = 128
        let src = try MergeFixture.sourceFace(resolution: res)
        let dst = try dstFace(30, res)
        let mask = Image(width: res, height: res, channels: 1, pixels: [UInt8](repeating: 255, count: res * res))
        let moved = ExpressionRestorer.moved.sorted(), still = Array(17..<36)
        let before = ExpressionRestorer(predictor: p, strength: 1).fits(swapped: src, aligned: dst.image,
                                                                         dstPoints: dst.points)
        let apart = distance(before.swapped, before.dst, moved)
        XCTAssertGreaterThan(apart, 0.04, "the two people's faces should differ to begin with")
        var last = apart
        for strength in [0.5, 1.0] {
            let r = ExpressionRestorer(predictor: p, strength: strength)
            let out = r.restore(face: src, mask: mask, aligned: dst.image, dstPoints: dst.points)
            XCTAssertEqual(out.mask.width, res); XCTAssertEqual(out.mask.channels, 1)
            let after = r.fits(swapped: out.face, aligned: dst.image, dstPoints: dst.points)
            let now = distance(after.swapped, after.dst, moved)
            // Fitted again, the moved points lie nearer the dst's, the more so the stronger.
            XCTAssertLessThan(now, last, "strength \(strength): \(now) against \(last) before")
            if strength == 1 { XCTAssertLessThan(now, 0.5 * apart, "strength 1: \(now) against \(apart)") }
            // The brows and nose stay the src's (their refit moves far less than the moved points did).
            let drift = distance(after.swapped, before.swapped, still)
            XCTAssertLessThan(drift, 0.5 * apart, "strength \(strength): brows and nose moved \(drift)")
            last = now
        }
        // Strength 0 is the model's face, byte for byte.
        let none = ExpressionRestorer(predictor: p, strength: 0)
            .restore(face: src, mask: mask, aligned: dst.image, dstPoints: dst.points)
        XCTAssertEqual(none.face, src); XCTAssertEqual(none.mask, mask)
    }

    func testTheMergeRestoresInsideTheFaceOnlyAndTheFrameFollowsTheDst() throws {
        // A "model" that returns the src sample's face whatever it is given: a real other person's face to paste.
        struct SourceFaceSwapper: FaceSwapper {
            let face: Image
            var resolution: Int { face.width }
            func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
                let n = face.width * face.height
                return faces.map { _ in
                    (face, Image(width: face.width, height: face.height, channels: 1,
                                 pixels: [UInt8](repeating: 255, count: n)))
                }
            }
        }
        let dir = NSTemporaryDirectory() + "facet-expression-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (p, media) = try MergeFixture.makeProject(at: dir + "/e.facet")
        let swapper = SourceFaceSwapper(face: try MergeFixture.sourceFace(resolution: 96))
        var off = MergeOptions.recommended
        off.expression = 0
        XCTAssertEqual(MergeOptions.recommended.expression, 1, "the restore is on by default")
        let frame = 30
        let plain = try MergeEngine.previewWithOriginal(project: p, media: media, frame: frame, swapper: swapper,
                                                        options: off)
        let restored = try MergeEngine.previewWithOriginal(project: p, media: media, frame: frame, swapper: swapper,
                                                           options: .recommended)
        XCTAssertNotEqual(plain.merged, restored.merged)
        // Outside the blend (alpha 0) the frame keeps its bytes.
        let region = try XCTUnwrap(restored.regions.first)
        var outside = 0
        for y in 0..<restored.original.height {
            for x in 0..<restored.original.width where region.alpha(atX: x, y: y) == 0 {
                for c in 0..<3 { XCTAssertEqual(restored.merged[x, y, c], restored.original[x, y, c]) }
                outside += 1
            }
        }
        XCTAssertGreaterThan(outside, 100_000)
        // Fitted again on the merged frames, as the merge's scores do, the moved points lie nearer the dst's.
        let pr = try predictor()
        let box = pr.trackingBox(for: MergeFixture.face(frame).landmarks)
        let dst = pr.landmarks(in: restored.original, box: box).points
        let moved = ExpressionRestorer.moved.sorted()
        let before = distance(pr.landmarks(in: plain.merged, box: box).points, dst, moved)
        let after = distance(pr.landmarks(in: restored.merged, box: box).points, dst, moved)
        XCTAssertLessThan(after, 0.6 * before, "restored \(after) against \(before) without")
    }

    func testMovesTooLargeToTrustAreRefused() throws {
        let d = MergeFixture.face(0).landmarks.points
        let unit = hypot(d[45].x - d[36].x, d[45].y - d[36].y)
        // Every point half an eye distance away: a failed fit, not an expression.
        let far = d.map { Point2($0.x + 0.5 * unit, $0.y) }
        XCTAssertNil(ExpressionRestorer.displacement(swapped: far, dst: d, strength: 1, size: 512))
        XCTAssertNil(ExpressionRestorer.displacement(swapped: d, dst: d, strength: 1, size: 512), "nothing to move")
        let near = d.map { Point2($0.x + 0.1 * unit, $0.y) }
        XCTAssertNotNil(ExpressionRestorer.displacement(swapped: near, dst: d, strength: 1, size: 512))
    }

    func testAMoveThatWouldFoldTheFaceIsTakenShorter() throws {
        // The dst sample's face at 64 px, and a "swap" whose mouth is turned upside down: its upper lip where the dst
        // has the lower one. Moved all the way, the map folds over itself (the lips would twist through each other).
        let dst = try dstFace(30, 64).points
        var swap = dst
        let centreY = (48..<68).map { dst[$0].y }.reduce(0, +) / 20
        for i in 48..<68 { swap[i] = Point2(dst[i].x, 2 * centreY - dst[i].y) }
        // Its eyes sit a pixel higher than the dst's: a move that folds nothing.
        for i in 36..<48 { swap[i].y -= 1 }
        let full = try XCTUnwrap(ExpressionRestorer.map(swapped: swap, targets: dst, size: 64))
        XCTAssertLessThan(full.smallestAreaRatio, ExpressionRestorer.smallestAreaRatio, "the full move should fold")
        let guarded = try XCTUnwrap(ExpressionRestorer.displacement(swapped: swap, dst: dst, strength: 1, size: 64))
        XCTAssertGreaterThanOrEqual(guarded.field.smallestAreaRatio, ExpressionRestorer.smallestAreaRatio)
        // Only the points near the fold move a shorter way: the mouth; the eyes, far from it, take their whole move.
        for i in 36..<48 {
            XCTAssertEqual(guarded.targets[i].y, dst[i].y, accuracy: 1e-9, "eye point \(i)")
        }
        let mouthShare = (48..<68).map { i in
            abs(guarded.targets[i].y - swap[i].y) / max(1e-9, abs(dst[i].y - swap[i].y))
        }.filter(\.isFinite).max() ?? 1
        XCTAssertLessThan(mouthShare, 0.75, "the mouth should move at most 0.7 of the way")
        // A shift without folds is a ratio of 1 everywhere, and is taken whole.
        let shift = try XCTUnwrap(ThinPlateSpline(points: [Point2(0, 0), Point2(63, 0), Point2(0, 63)],
                                                  values: [Point2(2, 1), Point2(2, 1), Point2(2, 1)], scale: 64))
        XCTAssertEqual(WarpField(spline: shift, size: 64).smallestAreaRatio, 1, accuracy: 1e-4)
    }

    func testTheIdentityCheckTakesTheLargestShareThatKeepsTheSrcPerson() throws {
        // The src sample's face given the dst sample's shape and expression, judged by dlib's face recogniser
        // against the two sample persons' mean descriptors.
        let p = try predictor()
        let recognizer = try FaceRecognizer()
        let centres = try MergeFixture.identityCentres(recognizer: recognizer)
        let check = IdentityCheck(recognizer: recognizer, srcCentre: centres.src, dstCentre: centres.dst)
        let res = 128
        let src = try MergeFixture.sourceFace(resolution: res)
        let dst = try dstFace(30, res)
        let mask = Image(width: res, height: res, channels: 1, pixels: [UInt8](repeating: 255, count: res * res))
        let r = ExpressionRestorer(predictor: p, strength: 1)
        let f = r.fits(swapped: src, aligned: dst.image, dstPoints: dst.points)
        let raw = (0..<68).map { Point2(f.dst[$0].x - f.swapped[$0].x, f.dst[$0].y - f.swapped[$0].y) }
        let before = try XCTUnwrap(check.margin(face: src, points: f.swapped))
        XCTAssertGreaterThan(before, 0.05, "the src sample's face should be the src person")
        func margin(_ k: Double) throws -> Double {
            let d = (0..<68).map { Point2(f.swapped[$0].x + k * raw[$0].x, f.swapped[$0].y + k * raw[$0].y) }
            let m = try XCTUnwrap(ExpressionRestorer.displacement(swapped: f.swapped, dst: d, strength: 1, size: res))
            return try XCTUnwrap(check.margin(face: m.field.warp(src), points: m.targets))
        }
        // Taking the dst's shape costs identity.
        let whole = try margin(1)
        XCTAssertLessThan(whole, before, "the dst's shape should take the face nearer the dst person")
        // Without a track, the whole move is the shape; the share chosen is the largest tried that keeps `kept` of
        // the margin, and the next larger one does not.
        for kept in [0.5, 0.9, 0.99] {
            let share = r.shapeShare(check, face: src, mask: mask, aligned: dst.image, swapped: f.swapped,
                                     moves: raw, shape: raw, tracked: nil, kept: kept)
            if share > 0 { XCTAssertGreaterThanOrEqual(try margin(share), kept * before, "kept \(kept)") }
            if let larger = ExpressionRestorer.shares.last(where: { $0 > share }) {
                XCTAssertLessThan(try margin(larger), kept * before, "kept \(kept): \(larger) would do")
            }
            if kept == 0.99 { XCTAssertLessThan(share, 1, "keeping 99% of the margin leaves some shape behind") }
        }
    }

    func testSmootherAveragesEachFaceOverItsFrames() {
        let s = ExpressionSmoother(keep: 0.5, forgetAfter: 2)
        let a = MergeFixture.face(0).landmarks.points, b = a.map { Point2($0.x + 200, $0.y) }
        let one = [Point2](repeating: Point2(2, 0), count: 68), three = [Point2](repeating: Point2(0, 4), count: 68)
        XCTAssertEqual(s.smoothed(moves: one, at: a)[40], Point2(2, 0), "a new face keeps its own moves")
        XCTAssertEqual(s.smoothed(moves: three, at: b)[40], Point2(0, 4), "another face elsewhere is its own")
        XCTAssertEqual(s.smoothed(moves: three, at: a)[40], Point2(1, 2), "half before, half now")
        // Not seen for more than two calls: forgotten.
        _ = s.smoothed(moves: one, at: b); _ = s.smoothed(moves: one, at: b); _ = s.smoothed(moves: one, at: b)
        XCTAssertEqual(s.smoothed(moves: three, at: a)[40], Point2(0, 4))
    }

    func testEachFacesShapeShareIsKeptAndForgotten() {
        let s = ExpressionSmoother(keep: 0.5, forgetAfter: 2)
        let a = MergeFixture.face(0).landmarks.points, b = a.map { Point2($0.x + 200, $0.y) }
        let none = [Point2](repeating: Point2(0, 0), count: 68)
        _ = s.smoothed(moves: none, at: a)
        XCTAssertNil(s.share(at: a), "a face not judged yet has no share")
        s.setShare(0.9, aim: 0.5, judged: true, at: a)
        XCTAssertEqual(s.share(at: a)?.share, 0.9); XCTAssertEqual(s.share(at: a)?.aim, 0.5)
        XCTAssertEqual(s.share(at: a)?.age, 1)
        s.setShare(0.85, aim: 0.5, judged: false, at: a)
        XCTAssertEqual(s.share(at: a)?.age, 2, "frames since the judgement")
        XCTAssertNil(s.share(at: b), "another face elsewhere is its own")
        // Not seen for more than two calls: forgotten.
        for _ in 0..<3 { _ = s.smoothed(moves: none, at: b) }
        XCTAssertNil(s.share(at: a))
        // The long average the shape is taken from.
        XCTAssertEqual(s.shapes?.keep, ExpressionSmoother.shapeKeep)
        XCTAssertNil(ExpressionSmoother(shapes: false).shapes)
    }

    func testSettingIsCheckedAndOldSettingsRenderAsBefore() throws {
        XCTAssertThrowsError(try MergeOptions(expression: 1.5).validate()) { e in
            XCTAssertTrue("\(e)".contains("expression") && "\(e)".contains("0...1"), "\(e)")
        }
        // Without a predictor given, the usual one is loaded (once).
        let own = try FaceCompositor(options: MergeOptions(expression: 0.5), resolution: 64, predictor: nil)
        XCTAssertTrue(own.restorer?.predictor === (try ExpressionRestorer.defaultPredictor()))
        XCTAssertEqual(own.restorer?.strength, 0.5)
        XCTAssertNil(try FaceCompositor(options: MergeOptions(), resolution: 64, predictor: nil).restorer)
        // Settings saved before the option existed have no key: they render without it.
        var old = MergeOptions.recommended
        old.expression = 0.8
        let json = old.json.replacingOccurrences(of: "\"expression\":0.8,", with: "")
        XCTAssertFalse(json.contains("expression"), json)
        XCTAssertEqual(try MergeOptions(json: json).expression, 0)
        XCTAssertEqual(try MergeOptions(json: old.json).expression, 0.8)
    }
}
