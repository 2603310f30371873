/// Tracks on synthetic motion: the smoother has no lag and no drift, linking breaks at cuts and gaps.
import FacetCore
@testable import FacetVision
import Foundation
import XCTest

final class FaceTracksTests: XCTestCase {
    /// A fixed 68-point shape (outer eye corners 60 px apart), placed at `centre`.
    static func face(at centre: Point2, scale: Double = 1) -> Landmarks68 {
        var points = (0..<68).map { i in Point2(cos(Double(i) * 0.37) * 45 + Double(i % 7) * 2, sin(Double(i) * 0.53) * 55) }
        points[36] = Point2(-30, -10); points[45] = Point2(30, -10)
        return Landmarks68(points: points.map { Point2(centre.x + scale * $0.x, centre.y + scale * $0.y) })
    }

    static func noisy(_ l: Landmarks68, _ rng: inout SplitMix64, sigma: Double) -> Landmarks68 {
        func gauss() -> Double {
            let u = max(1e-12, Double.random(in: 0..<1, using: &rng)), v = Double.random(in: 0..<1, using: &rng)
            return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
        }
        return Landmarks68(points: l.points.map { Point2($0.x + sigma * gauss(), $0.y + sigma * gauss()) })
    }

    static func maxDistance(_ a: Landmarks68, _ b: Landmarks68) -> Double {
        zip(a.points, b.points).map { hypot($0.x - $1.x, $0.y - $1.y) }.max()!
    }

    /// A face moving at constant speed (and growing at a constant rate) comes out of the smoother
    /// exactly where it was: no lag at either end or in the middle, at any strength; frames the
    /// track missed are put on the same line.
    func testConstantSpeedIsNotDelayed() {
        let ordinals = Array(0..<40).filter { $0 != 17 && $0 != 18 }
        let truth = (0..<40).map { Self.face(at: Point2(100 + 3.5 * Double($0), 200 - 1.25 * Double($0)), scale: 1 + 0.004 * Double($0)) }
        for strength in [0.5, 1, 4, 20] {
            let out = TrackSmoother(strength: strength).smooth(ordinals: ordinals, landmarks: ordinals.map { truth[$0] })
            XCTAssertEqual(out.count, 40)
            for k in 0..<40 { XCTAssertLessThan(Self.maxDistance(out[k], truth[k]), 1e-5, "strength \(strength), frame \(k)") }
        }
    }

    /// Noisy landmarks around a head that sways: smoothing lowers the jitter (second difference) to
    /// well under half, brings the points closer to the true motion, and stays close to the raw
    /// points on average (no drift); strength 0 returns the raw points.
    func testSmoothingLowersJitterWithoutDrift() throws {
        var rng = SplitMix64(seed: 7)
        let truth = (0..<120).map { k in
            Self.face(at: Point2(240 + 30 * sin(Double(k) / 15), 240 + 12 * sin(Double(k) / 23)), scale: 1 + 0.1 * sin(Double(k) / 40))
        }
        let raw = truth.map { Self.noisy($0, &rng, sigma: 0.9) }   // 1.5% of the eye distance
        let ordinals = Array(0..<120)
        let smooth = TrackSmoother(strength: 1).smooth(ordinals: ordinals, landmarks: raw)
        let jRaw = try XCTUnwrap(landmarkJitter(ordinals: ordinals, landmarks: raw))
        let jSmooth = try XCTUnwrap(landmarkJitter(ordinals: ordinals, landmarks: smooth))
        XCTAssertLessThan(jSmooth, 0.4 * jRaw, "jitter \(jRaw) -> \(jSmooth)")
        let errRaw = zip(raw, truth).map { meanLandmarkDistance($0, $1) }.reduce(0, +) / 120
        let errSmooth = zip(smooth, truth).map { meanLandmarkDistance($0, $1) }.reduce(0, +) / 120
        XCTAssertLessThan(errSmooth, 0.7 * errRaw, "distance to the true motion \(errRaw) -> \(errSmooth) px")
        let drift = zip(smooth, raw).map { meanLandmarkDistance($0, $1) }
        XCTAssertLessThan(drift.reduce(0, +) / 120, 0.03 * 60, "mean distance to the raw points, px")
        XCTAssertLessThan(drift.max()!, 0.06 * 60, "largest distance to the raw points, px")
        XCTAssertEqual(TrackSmoother(strength: 0).smooth(ordinals: ordinals, landmarks: raw), raw)
        // Stronger smoothing: steadier still.
        let stronger = TrackSmoother(strength: 4).smooth(ordinals: ordinals, landmarks: raw)
        XCTAssertLessThan(try XCTUnwrap(landmarkJitter(ordinals: ordinals, landmarks: stronger)), jSmooth)
    }

    /// The jitter of a still face with one point moved by d in one frame: that point's second
    /// differences are d, 2d, d over three frames, so the mean over three triples of the 68-point
    /// mean is (4d / 3) / 68, in eye distances.
    func testJitterIsTheMeanSecondDifference() throws {
        var list = (0..<5).map { _ in Self.face(at: Point2(100, 100)) }
        list[2].points[10].x += 6
        let j = try XCTUnwrap(landmarkJitter(ordinals: [0, 1, 2, 3, 4], landmarks: list))
        XCTAssertEqual(j, (4.0 * 6 / 3) / 68 / 60, accuracy: 1e-12)
        XCTAssertNil(landmarkJitter(ordinals: [0, 2, 4], landmarks: [list[0], list[2], list[4]]), "no three consecutive frames")
    }

    func faceAt(_ ordinal: Int, _ centre: Point2, histogram: [Float]) -> TrackingFace {
        let l = Self.face(at: centre)
        return TrackingFace(ordinal: ordinal, box: landmarkBox(l), landmarks: l, histogram: histogram)
    }

    static func histogram(peak: Int) -> [Float] {
        var h = [Float](repeating: 0, count: 768)
        for c in 0..<3 { for i in 0..<256 { h[c * 256 + i] = Float(exp(-pow(Double(i - peak), 2) / 800)) } }
        for c in 0..<3 { let s = h[(c * 256)..<((c + 1) * 256)].reduce(0, +); for i in 0..<256 { h[c * 256 + i] /= s } }
        return h
    }

    /// Two faces side by side, one of which is missed for three frames: two tracks, the gap bridged;
    /// missed for six frames (more than maxGap): the track ends and a new one starts.
    func testLinkingFollowsEachFaceAcrossShortGaps() {
        let h = Self.histogram(peak: 120)
        var faces: [TrackingFace] = []
        for k in 0..<30 {
            faces.append(faceAt(k, Point2(120 + Double(k), 200), histogram: h))
            if !(10...12).contains(k) && !(20...25).contains(k) { faces.append(faceAt(k, Point2(360 - Double(k), 210), histogram: h)) }
        }
        let linked = linkFaces(faces)
        let spans = linked.tracks.map { t in (faces[t.first!].ordinal, faces[t.last!].ordinal, faces[t.first!].box.x < 240) }
        XCTAssertEqual(linked.tracks.count, 3, "\(spans)")
        XCTAssertTrue(spans.contains { $0 == (0, 29, true) })
        XCTAssertTrue(spans.contains { $0 == (0, 19, false) })
        XCTAssertTrue(spans.contains { $0 == (26, 29, false) })
        XCTAssertTrue(linked.cuts.isEmpty)
        for t in linked.tracks { XCTAssertEqual(Set(t.map { faces[$0].ordinal }).count, t.count, "one face per frame in a track") }
    }

    /// One place, one colour, but the person changes at frame 10 (descriptors 0.8 apart, as different
    /// people on the sample videos; one person's consecutive faces drift 0.02 a frame): two tracks. The
    /// same faces without descriptors, or with the person unchanged, make one.
    func testAnotherPersonInTheSamePlaceStartsATrack() {
        let h = Self.histogram(peak: 120)
        func descriptor(_ person: Int, _ k: Int) -> [Float] {
            var d = [Float](repeating: 0, count: 128)
            d[person] = 0.8 / Float(2).squareRoot()          // persons 0 and 1: 0.8 apart
            d[64] = 0.02 * Float(k)                           // a slow drift within one person
            return d
        }
        func faces(_ personAt: (Int) -> Int?) -> [TrackingFace] {
            (0..<20).map { k in
                var f = faceAt(k, Point2(200 + Double(k), 200), histogram: h)
                if let p = personAt(k) { f.embedding = descriptor(p, k) }
                return f
            }
        }
        let changed = linkFaces(faces { $0 < 10 ? 0 : 1 })
        XCTAssertEqual(changed.tracks.map(\.count), [10, 10])
        XCTAssertTrue(changed.cuts.isEmpty, "a person change is not a scene cut")
        XCTAssertEqual(linkFaces(faces { _ in 0 }).tracks.count, 1)
        XCTAssertEqual(linkFaces(faces { _ in nil }).tracks.count, 1)
        XCTAssertEqual(linkFaces(faces { $0 == 10 ? nil : ($0 < 10 ? 0 : 1) }).tracks.count, 1,
                       "a face without a descriptor links by geometry alone")
    }

    /// The same face in the same place, but the colours jump (another shot): a scene cut, and every
    /// open track ends there.
    func testHistogramJumpIsASceneCut() {
        var faces: [TrackingFace] = []
        for k in 0..<40 {
            faces.append(faceAt(k, Point2(200 + 0.3 * Double(k), 200), histogram: Self.histogram(peak: k < 20 ? 100 : 170)))
        }
        let linked = linkFaces(faces)
        XCTAssertEqual(linked.cuts, [20])
        XCTAssertEqual(linked.tracks.map(\.count), [20, 20])
        XCTAssertEqual(linked.endsAtCut, [true, false])
        XCTAssertGreaterThan(summedBhattacharyya(Self.histogram(peak: 100), Self.histogram(peak: 170)), 1)
        XCTAssertEqual(summedBhattacharyya(Self.histogram(peak: 100), Self.histogram(peak: 100)), 0, accuracy: 1e-6)
    }
}
