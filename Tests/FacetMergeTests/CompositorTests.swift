/// The compositor on real frames and faces of the dst sample video: what changes, what must not, and each option's effect.
import XCTest
import FacetCore
import FacetMedia
@_spi(Benchmarks) @testable import FacetMerge
import FacetTestSupport

final class CompositorTests: MergeTestCase {
    static let frame0 = try! MergeFixture.frame(0)
    let res = 64

    func merged(_ options: MergeOptions, swapper: (any FaceSwapper)? = nil, frame: Image = CompositorTests.frame0) throws -> (Image, BlendRegion) {
        var image = frame
        let swapper = swapper ?? ShiftedSwapper(resolution: res)
        let regions = try FaceCompositor(options: options, resolution: swapper.resolution)
            .merge(frame: &image, faces: [MergeFixture.face(0)], swapper: swapper)
        XCTAssertEqual(regions.count, 1)
        return (image, regions[0])
    }

    /// Outside the blended region every byte is the decoded frame's; inside, the face changed.
    /// (The face is turned upside down as well as shifted in colour: hist-match and seamless
    /// remove a plain colour shift by design.)
    func testOnlyTheBlendedRegionChanges() throws {
        for mode in MergeMode.allCases {
            let (image, region) = try merged(MergeOptions(mode: mode, mask: .learned, erode: 10, blur: 20), swapper: ShiftedSwapper(resolution: res, upsideDown: true))
            look(image, "frame0-\(mode.rawValue)")
            var changedInside = 0, inside = 0
            for y in 0..<image.height {
                for x in 0..<image.width {
                    let a = region.alpha(atX: x, y: y)
                    let p = (y * image.width + x) * 3
                    if a == 0 {
                        XCTAssertEqual(image.pixels[p..<(p + 3)], Self.frame0.pixels[p..<(p + 3)], "\(mode) pixel \(x),\(y) outside the blend changed")
                        if image.pixels[p..<(p + 3)] != Self.frame0.pixels[p..<(p + 3)] { return }
                    } else if a > 0.9 {
                        inside += 1
                        if abs(Int(image.pixels[p]) - Int(Self.frame0.pixels[p])) > 20 || abs(Int(image.pixels[p + 2]) - Int(Self.frame0.pixels[p + 2])) > 20 { changedInside += 1 }
                    }
                }
            }
            // The face of this video is about 250 pixels across: thousands of pixels blend fully.
            XCTAssertGreaterThan(inside, 10_000, "\(mode)")
            let changedShare = [MergeMode.overlay, .raw].contains(mode) ? 0.9 : 0.25
            XCTAssertGreaterThan(Double(changedInside) / Double(inside), changedShare, "\(mode)")
        }
    }

    /// The region sits on the face: the landmarks' centre is fully blended, the frame corners are not.
    func testRegionCoversTheFace() throws {
        let (_, region) = try merged(MergeOptions(mask: .hull))
        let lm = MergeFixture.face(0).landmarks.points
        let cx = lm.map(\.x).reduce(0, +) / 68, cy = lm.map(\.y).reduce(0, +) / 68
        XCTAssertEqual(region.alpha(atX: Int(cx), y: Int(cy)), 1, accuracy: 1e-6)
        XCTAssertEqual(region.alpha(atX: 2, y: 2), 0)
        // The hull mask reaches the jaw (landmark 8, the chin) but not far past it.
        XCTAssertGreaterThan(region.alpha(atX: Int(lm[8].x), y: Int(lm[8].y) - 4), 0.5)
        XCTAssertEqual(region.alpha(atX: Int(lm[8].x), y: Int(lm[8].y) + 12), 0)
    }

    /// The model's input, warped at 3x the model resolution and area-resized, is the face that
    /// training reads (the 256 px stored crop area-resized) within resampling: closer on average
    /// than the crops' own JPEG coding. At 96 px (3x = 288 > 256) it is that crop path exactly.
    func testAlignedFaceIsTheStoredCropPathWithinResampling() throws {
        for index in [0, 30] {
            let frame = try MergeFixture.frame(index), face = MergeFixture.face(index)
            let crop = frame.warped(by: face.imageToFace, width: 256, height: 256)
            for res in [64, 96] {
                let viaCrop = crop.resized(width: res, height: res, filter: .area)
                let aligned = FaceCompositor(options: MergeOptions(), resolution: res).alignedFace(from: frame, face: face)
                let jpeg = try JPEGCodec.decode(try JPEGCodec.encode(crop, quality: 90)).resized(width: res, height: res, filter: .area)
                func difference(_ a: Image) -> (mean: Double, max: Int) {
                    var total = 0, largest = 0
                    for i in a.pixels.indices {
                        let d = abs(Int(a.pixels[i]) - Int(viaCrop.pixels[i]))
                        total += d; largest = max(largest, d)
                    }
                    return (Double(total) / Double(a.pixels.count), largest)
                }
                let ours = difference(aligned), coded = difference(jpeg)
                if res == 96 {
                    XCTAssertEqual(aligned.pixels, viaCrop.pixels, "frame \(index): at 96 px the crop path itself")
                } else {
                    XCTAssertGreaterThan(ours.mean, 0, "frame \(index): 192 px sampling is not the 256 px path")
                    XCTAssertLessThan(ours.mean, coded.mean, "frame \(index) at \(res) px: \(ours) vs JPEG \(coded)")
                    XCTAssertLessThanOrEqual(ours.max, 12, "frame \(index) at \(res) px")
                }
            }
        }
    }

    /// The identity model with a hull mask gives back (nearly) the frame: resampling only.
    func testIdentitySwapIsNearlyInvisible() throws {
        let (image, region) = try merged(MergeOptions(mask: .hull, blur: 10), swapper: IdentitySwapper(resolution: 256))
        var diff = 0.0, n = 0.0
        for y in 0..<image.height {
            for x in 0..<image.width where region.alpha(atX: x, y: y) > 0.99 {
                for c in 0..<3 { diff += abs(Double(image[x, y, c]) - Double(Self.frame0[x, y, c])) }
                n += 3
            }
        }
        XCTAssertGreaterThan(n, 30_000)
        XCTAssertLessThan(diff / n, 4, "identity merge should only blur slightly")
    }

    /// `--color rct` (and the others) bring the shifted face's mean colour back towards the destination's.
    func testColourTransferMovesTheFaceTowardsTheDestination() throws {
        let (plain, region) = try merged(MergeOptions(mask: .hull))
        let inFace = { (x: Int, y: Int) in region.alpha(atX: x, y: y) > 0.99 }
        let original = meanColour(Self.frame0, where: inFace)
        let shifted = meanColour(plain, where: inFace)
        let before = zip(shifted, original).map { abs($0 - $1) }.reduce(0, +)
        XCTAssertGreaterThan(before, 80, "the test swapper shifts red and blue")
        for color in [ColorTransfer.rct, .lct, .histMatch, .idt] {
            let (image, _) = try merged(MergeOptions(mask: .hull, color: color))
            look(image, "frame0-color-\(color.rawValue)")
            let after = zip(meanColour(image, where: inFace), original).map { abs($0 - $1) }.reduce(0, +)
            // idt moves 1/20 of the way per rotation, 20 rotations (DeepFaceLab's relaxation): about 2/3.
            XCTAssertLessThan(after, before * (color == .idt ? 0.45 : 0.25), "\(color): mean colour distance \(after) vs \(before) without transfer")
        }
        // hist-match mode does the same through the mode.
        let (hm, _) = try merged(MergeOptions(mode: .histMatch, mask: .hull))
        let after = zip(meanColour(hm, where: inFace), original).map { abs($0 - $1) }.reduce(0, +)
        XCTAssertLessThan(after, before * 0.25)
    }

    /// Erosion by an ellipse of N pixels shrinks a disk's radius by N/2; dilation grows it.
    func testErodeAndDilateChangeTheRadiusByHalfTheAmount() {
        func disk(radius: Double) -> Plane {
            var p = Plane(width: 256, height: 256)
            for y in 0..<256 { for x in 0..<256 where hypot(Double(x) - 128, Double(y) - 128) <= radius { p.values[y * 256 + x] = 1 } }
            return p
        }
        func radius(_ p: Plane) -> Double { (Double(p.values.filter { $0 > 0.5 }.count) / Double.pi).squareRoot() }
        var eroded = disk(radius: 70)
        MaskOps.process(&eroded, erode: 30, blur: 0)
        XCTAssertEqual(radius(eroded), 55, accuracy: 1.5)
        var dilated = disk(radius: 70)
        MaskOps.process(&dilated, erode: -30, blur: 0)
        XCTAssertEqual(radius(dilated), 85, accuracy: 1.5)
        // Still a disk: the centre row's extent equals the column's.
        let row = (0..<256).filter { eroded.values[128 * 256 + $0] > 0.5 }.count
        let column = (0..<256).filter { eroded.values[$0 * 256 + 128] > 0.5 }.count
        XCTAssertEqual(row, column)
    }

    /// Blur N turns the edge into a ramp about N pixels wide, centred on it, and fades to 0 before
    /// the square's border.
    func testBlurMakesARampOfTheGivenWidth() {
        var p = Plane(width: 256, height: 256)
        for y in 0..<256 { for x in 0..<128 { p.values[y * 256 + x] = 1 } }
        MaskOps.process(&p, erode: 0, blur: 41)
        let row = (0..<256).map { p.values[128 * 256 + $0] }
        XCTAssertEqual(row[127], 0.5, accuracy: 0.05)
        XCTAssertEqual(row[80], 1, accuracy: 0.01)
        XCTAssertEqual(row[176], 0, accuracy: 0.01)
        // sigma = 0.3 ((41 - 1) / 2 - 1) + 0.8 = 6.5 (OpenCV's rule): 1 sigma in, ~84%; 1 sigma out, ~16%.
        XCTAssertEqual(row[121], 0.84, accuracy: 0.05)
        XCTAssertEqual(row[134], 0.16, accuracy: 0.05)
        // The border strip of blur / 2 pixels is cleared before blurring, so the edge fades to 0.
        XCTAssertLessThan(p.values[128 * 256], 0.6)
        XCTAssertEqual(p.values[128 * 256 + 5], 0, accuracy: 0.2)
        // Monotone ramp.
        for x in 60..<200 { XCTAssertGreaterThanOrEqual(row[x] + 1e-5, row[x + 1]) }
    }

    /// On a real face, erode shrinks and blur softens the blended region as asked.
    func testErodeAndBlurOnTheFace() throws {
        func area(_ r: BlendRegion, above t: Float) -> Int { r.alpha.filter { $0 > t }.count }
        let (_, base) = try merged(MergeOptions(mask: .hull))
        let (_, eroded) = try merged(MergeOptions(mask: .hull, erode: 40))
        let (_, dilated) = try merged(MergeOptions(mask: .hull, erode: -40))
        let (_, blurred) = try merged(MergeOptions(mask: .hull, blur: 60))
        XCTAssertLessThan(area(eroded, above: 0), area(base, above: 0) * 9 / 10)
        XCTAssertGreaterThan(area(dilated, above: 0), area(base, above: 0) * 11 / 10)
        let soft = { (r: BlendRegion) in r.alpha.filter { $0 > 0.02 && $0 < 0.98 }.count }
        XCTAssertGreaterThan(soft(blurred), soft(base) * 5)
    }

    /// Face scale +20 pastes the face smaller, -20 larger.
    func testFaceScale() throws {
        let (_, base) = try merged(MergeOptions(mode: .raw))
        let (_, smaller) = try merged(MergeOptions(mode: .raw, faceScale: 20))
        let (_, larger) = try merged(MergeOptions(mode: .raw, faceScale: -20))
        let count = { (r: BlendRegion) in Double(r.alpha.filter { $0 > 0.5 }.count) }
        XCTAssertEqual(count(smaller) / count(base), 1 / (1.2 * 1.2), accuracy: 0.05)
        XCTAssertEqual(count(larger) / count(base), min(1 / (0.8 * 0.8), 480.0 * 480 / count(base)), accuracy: 0.08)
    }

    /// Raw pastes the whole predicted square: alpha 1 over it, whatever the mask.
    func testRawPastesTheSquare() throws {
        let (_, region) = try merged(MergeOptions(mode: .raw, mask: .hull, erode: 100, blur: 100))
        let face = MergeFixture.face(0)
        let toFrame = FaceCompositor(options: MergeOptions(), resolution: res).faceMatrix(face).inverted!
        // The square's centre and a point near its corner are both fully pasted.
        for p in [Point2(32, 32), Point2(3, 3), Point2(60, 60)] {
            let q = toFrame.apply(p)
            guard q.x >= 0, q.y >= 0, q.x < 480, q.y < 480 else { continue }
            XCTAssertEqual(region.alpha(atX: Int(q.x.rounded()), y: Int(q.y.rounded())), 1, "at face point \(p)")
        }
    }

    /// Seamless: the result meets the destination at the mask's edge (no visible seam) while the
    /// inside keeps the source's detail.
    func testSeamlessMeetsTheFrameAtTheEdge() throws {
        let options = MergeOptions(mode: .seamless, mask: .hull)
        let (seamless, region) = try merged(options)
        let (overlay, _) = try merged(MergeOptions(mask: .hull))
        // Just inside the edge, seamless is close to the frame; the overlay is not.
        var seamlessGap = 0.0, overlayGap = 0.0, n = 0.0
        for y in 1..<479 {
            for x in 1..<479 where region.alpha(atX: x, y: y) > 0.5 && region.alpha(atX: x - 1, y: y) == 0 {
                for c in 0..<3 {
                    seamlessGap += abs(Double(seamless[x, y, c]) - Double(Self.frame0[x - 1, y, c]))
                    overlayGap += abs(Double(overlay[x, y, c]) - Double(Self.frame0[x - 1, y, c]))
                }
                n += 3
            }
        }
        XCTAssertGreaterThan(n, 50)
        XCTAssertLessThan(seamlessGap / n, overlayGap / n * 0.5, "seamless \(seamlessGap / n) vs overlay \(overlayGap / n) at the edge")
    }

    /// Seamless with colour transfer, in DeepFaceLab's order: Poisson blend first, then rct on the
    /// result. The swapped face has a red patch in its middle; the Poisson blend keeps it (it keeps
    /// the face's gradients) and ties the edge to the frame, so only a transfer after the blend can
    /// bring the face's colour back to the destination's (rct on the predicted face first would be
    /// partly undone by the blend).
    func testSeamlessTransfersColourAfterTheBlend() throws {
        let swapper = RedPatchSwapper(resolution: res)
        let (plain, region) = try merged(MergeOptions(mode: .seamless, mask: .hull), swapper: swapper)
        let (rct, _) = try merged(MergeOptions(mode: .seamless, mask: .hull, color: .rct), swapper: swapper)
        look(plain, "frame0-seamless-redpatch"); look(rct, "frame0-seamless-redpatch-rct")
        let inFace = { (x: Int, y: Int) in region.alpha(atX: x, y: y) > 0.99 }
        let target = meanColour(Self.frame0, where: inFace)
        let before = zip(meanColour(plain, where: inFace), target).map { abs($0 - $1) }.reduce(0, +)
        let after = zip(meanColour(rct, where: inFace), target).map { abs($0 - $1) }.reduce(0, +)
        // The other order, for comparison: rct on the predicted face, then the Poisson blend.
        let compositor = FaceCompositor(options: MergeOptions(mode: .seamless, mask: .hull), resolution: res)
        let mask = compositor.processedMask(face: MergeFixture.face(0), learned: Image(width: res, height: res, channels: 1))
        let step = compositor.maskResolution / res
        let area = (0..<(res * res)).map { mask.values[($0 / res * step) * compositor.maskResolution + $0 % res * step] > 0 }
        let (first, _) = try merged(MergeOptions(mode: .seamless, mask: .hull), swapper: TransferFirst(inner: swapper, area: area))
        let transferFirst = zip(meanColour(first, where: inFace), target).map { abs($0 - $1) }.reduce(0, +)
        XCTAssertGreaterThan(before, 8, "the red patch survives the Poisson blend")
        XCTAssertLessThan(after, before * 0.3, "seamless + rct: mean colour distance \(after), without rct \(before)")
        XCTAssertLessThan(after, transferFirst * 0.5, "rct after the blend \(after), before it \(transferFirst) (without: \(before))")
        XCTAssertLessThan(after, 6)
        // Outside the blend, still the frame's bytes.
        for (x, y) in [(2, 2), (470, 10), (5, 470)] { XCTAssertEqual(region.alpha(atX: x, y: y), 0); XCTAssertEqual(rct[x, y, 0], Self.frame0[x, y, 0]) }
    }

    /// Applies rct to the inner swapper's faces (towards the aligned destination face it is given),
    /// as a merge that transfers colour before blending would.
    struct TransferFirst: FaceSwapper {
        let inner: RedPatchSwapper
        let area: [Bool]
        var resolution: Int { inner.resolution }
        func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] {
            try zip(faces, inner.swap(faces)).map { dst, out in
                var f = floats(out.face), face = out.face
                ColorTransferOps.apply(.rct, to: &f, reference: floats(dst), mask: area)
                for i in f.indices { face.pixels[i] = UInt8(min(255, max(0, f[i] * 255 + 0.5))) }
                return (face, out.mask)
            }
        }
    }

    /// The model's output must have the model's size.
    func testWrongSizedModelOutputIsRefused() {
        var image = Self.frame0
        XCTAssertThrowsError(try FaceCompositor(options: MergeOptions(), resolution: res)
            .merge(frame: &image, faces: [MergeFixture.face(0)], swapper: WrongSizeSwapper(resolution: res))) { error in
            XCTAssertTrue("\(error)".contains("expected 64x64"), "\(error)")
        }
        XCTAssertEqual(image, Self.frame0)
    }

    func testOptionsRoundTripThroughJSON() throws {
        let o = MergeOptions(mode: .seamless, mask: .learnedAndHull, erode: 12, blur: 30, faceScale: -5, color: .idt, crf: 20, preset: "fast")
        XCTAssertEqual(try MergeOptions(json: o.json), o)
        XCTAssertTrue(o.json.contains("\"face_scale\":-5"), o.json)
        XCTAssertEqual(try MergeOptions(json: "{\"mode\":\"raw\"}").mode, .raw)
        XCTAssertThrowsError(try MergeOptions(json: "{\"mode\":\"sideways\"}"))
        XCTAssertThrowsError(try MergeOptions(erode: 500).validate())
        XCTAssertThrowsError(try MergeOptions(preset: "warp").validate())
    }
}
