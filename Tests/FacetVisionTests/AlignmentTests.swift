/// Tests of face alignment against DeepFaceLab's matrices, the mean-face constants, and the crops.
import FacetCore
import FacetMedia
@testable import FacetVision
import Foundation
import XCTest

final class AlignmentTests: XCTestCase {
    /// dlib's integer landmarks for the astronaut's square box, the input of the reference matrices.
    private func referenceLandmarks() throws -> (Landmarks68, [String: Any]) {
        let json = try LandmarkTestData.referenceJSON()
        let alignment = try XCTUnwrap(json["alignment"] as? [String: Any])
        let box = try XCTUnwrap(alignment["landmarks_case_box"] as? [Double])
        let c = try XCTUnwrap(LandmarkTestData.astronautCases().first {
            $0.box == FaceRect(left: box[0], top: box[1], right: box[2], bottom: box[3])
        })
        return (Landmarks68(points: c.points), alignment)
    }

    /// The four matrices DeepFaceLab computes for the astronaut at 256 px, to 1e-4 relative.
    func testMatricesMatchDeepFaceLab() throws {
        let (landmarks, alignment) = try referenceLandmarks()
        XCTAssertEqual(alignment["output_size"] as? Int, 256)
        let matrices = try XCTUnwrap(alignment["matrices"] as? [String: [[Double]]])
        XCTAssertEqual(Set(matrices.keys), ["half", "mid_full", "full", "whole_face"])
        for (name, rows) in matrices {
            let type = try XCTUnwrap(FaceType(rawValue: name))
            let m = alignmentMatrix(landmarks: landmarks, faceType: type, size: 256)
            let expected = rows[0] + rows[1]
            for (v, e) in zip(m.values, expected) {
                XCTAssertEqual(v, e, accuracy: 1e-4 * max(1, abs(e)), "\(name): \(m.values) vs \(expected)")
            }
        }
    }

    /// The constants in code are the ones of Tests/Fixtures/alignment/mean_face.json.
    func testMeanFaceConstantsMatchTheFixture() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: LandmarkTestData.path("alignment/mean_face.json")))
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(json["landmark_indices"] as? [Int], meanFaceLandmarkIndices)
        let points = try XCTUnwrap(json["mean_face_unit_square"] as? [[Double]])
        XCTAssertEqual(points.count, meanFaceUnitSquare.count)
        for (p, q) in zip(points, meanFaceUnitSquare) {
            XCTAssertEqual(p[0], q.x, accuracy: 1e-12)
            XCTAssertEqual(p[1], q.y, accuracy: 1e-12)
        }
        let paddings = try XCTUnwrap(json["face_type_padding"] as? [String: Double])
        XCTAssertEqual(paddings.count, FaceType.allCases.count)
        for type in FaceType.allCases { XCTAssertEqual(paddings[type.rawValue], type.padding, "\(type)") }
    }

    /// Alignment is a similarity: it commutes with moving, rotating and scaling the frame, and the
    /// output size only scales the matrix.
    func testAlignmentFollowsTheFace() throws {
        let (landmarks, _) = try referenceLandmarks()
        let angle = 0.3, scale = 1.7
        let move = Affine2D(a: scale * cos(angle), b: -scale * sin(angle), tx: 40,
                            c: scale * sin(angle), d: scale * cos(angle), ty: -25)
        for type in FaceType.allCases {
            let m = alignmentMatrix(landmarks: landmarks, faceType: type, size: 256)
            let moved = alignmentMatrix(landmarks: landmarks.transformed(by: move), faceType: type, size: 256)
            // Same face-space landmarks either way.
            let a = landmarks.transformed(by: m), b = landmarks.transformed(by: moved.concatenating(move))
            for (p, q) in zip(a.points, b.points) {
                XCTAssertEqual(p.x, q.x, accuracy: 1e-6, "\(type)"); XCTAssertEqual(p.y, q.y, accuracy: 1e-6, "\(type)")
            }
            let m128 = alignmentMatrix(landmarks: landmarks, faceType: type, size: 128)
            for (v, w) in zip(m128.values, m.values) { XCTAssertEqual(v * 2, w, accuracy: 1e-9) }
            XCTAssertEqual(m.a, m.d, accuracy: 1e-9); XCTAssertEqual(m.b, -m.c, accuracy: 1e-9)
        }
    }

    /// Wider face types show more around the face; in a `full` crop the mean-face points land where
    /// the mean face puts them (the unit square inset by the padding).
    func testFaceTypesNestAndLandmarksLandOnTheMeanFace() throws {
        let (landmarks, _) = try referenceLandmarks()
        let scales = FaceType.allCases.map { alignmentMatrix(landmarks: landmarks, faceType: $0, size: 256).scale }
        XCTAssertEqual(scales, scales.sorted(by: >), "half is the tightest, head the widest")
        let m = alignmentMatrix(landmarks: landmarks, faceType: .full, size: 256)
        let inset = 256 * FaceType.full.padding / (1 + 2 * FaceType.full.padding)
        let side = 256 / (1 + 2 * FaceType.full.padding)
        var total = 0.0
        for (i, index) in meanFaceLandmarkIndices.enumerated() {
            let p = m.apply(landmarks.points[index])
            let q = Point2(inset + side * meanFaceUnitSquare[i].x, inset + side * meanFaceUnitSquare[i].y)
            total += pointDistance(p, q)
        }
        // The astronaut is turned a little, so the fit leaves residuals of a few pixels; a wrong
        // padding or centre puts the points tens of pixels off.
        XCTAssertLessThan(total / Double(meanFaceLandmarkIndices.count), 12, "mean distance to the mean face in a 256 px crop")
    }

    /// The `head` type moves the square up by half a side from where `full` centres it, and sideways
    /// against the yaw: mirroring the face mirrors that shift.
    func testHeadFollowsTheYaw() throws {
        let (landmarks, _) = try referenceLandmarks()
        func shift(_ lm: Landmarks68) throws -> Point2 {
            let head = try XCTUnwrap(alignmentMatrix(landmarks: lm, faceType: .head, size: 256).inverted).apply(Point2(128, 128))
            let full = try XCTUnwrap(alignmentMatrix(landmarks: lm, faceType: .full, size: 256).inverted).apply(Point2(128, 128))
            return Point2(head.x - full.x, head.y - full.y)
        }
        let d = try shift(landmarks)
        let dm = try shift(mirroredLandmarks(landmarks, width: 512))
        XCTAssertEqual(d.x, -dm.x, accuracy: 0.05)
        XCTAssertEqual(d.y, dm.y, accuracy: 0.05)
        XCTAssertGreaterThan(abs(d.x), 0.5, "the astronaut's slight turn moves the head crop sideways")
        // Up towards the top of the head by about half the mean face's side (~90 px here).
        XCTAssertLessThan(d.y, -30)
    }

    /// Our crop of the astronaut reproduces DeepFaceLab's `full` crop (astronaut_full_256.png, made
    /// with the reference matrix): same geometry, pixel values within interpolation differences.
    func testFullCropMatchesTheReferenceCrop() throws {
        let (landmarks, _) = try referenceLandmarks()
        let image = try LandmarkTestData.image("images/reference/astronaut.png")
        let (crop, matrix) = alignedFace(image: image, landmarks: landmarks, faceType: .full, size: 256)
        XCTAssertEqual(crop.width, 256); XCTAssertEqual(crop.height, 256); XCTAssertEqual(crop.channels, 3)
        XCTAssertEqual(matrix, alignmentMatrix(landmarks: landmarks, faceType: .full, size: 256))
        let reference = try LandmarkTestData.image("images/reference/astronaut_full_256.png").rgb()
        XCTAssertEqual(reference.width, 256)
        var sum = 0.0
        for (a, b) in zip(crop.pixels, reference.pixels) { sum += abs(Double(a) - Double(b)) }
        let mad = sum / Double(crop.pixels.count)
        print("astronaut full crop vs DeepFaceLab's: mean absolute difference \(mad) levels")
        // A shifted or scaled crop differs by tens of levels on this image.
        XCTAssertLessThan(mad, 4, "mean absolute difference to DeepFaceLab's crop")
        if let dir = ProcessInfo.processInfo.environment["FACET_TEST_OUTPUT"] {
            try ImageFile.write(crop, path: dir + "/astronaut_full_256_facet.png")
        }
    }

    func testBicubicWarpIdentityAndBorders() {
        var image = Image(width: 8, height: 6, channels: 3)
        for i in image.pixels.indices { image.pixels[i] = UInt8((i * 37) % 251) }
        XCTAssertEqual(image.warpedBicubic(by: .identity, width: 8, height: 6), image, "integer positions copy the source")
        let shifted = image.warpedBicubic(by: Affine2D(a: 1, b: 0, tx: 100, c: 0, d: 1, ty: 0), width: 8, height: 6)
        XCTAssertTrue(shifted.pixels.allSatisfy { $0 == 0 }, "outside the source is black")
        // A constant image stays constant inside (the weights sum to 1).
        let flat = Image(width: 10, height: 10, channels: 1, pixels: [UInt8](repeating: 200, count: 100))
        let rotated = flat.warpedBicubic(by: Affine2D(a: 0.9, b: 0.2, tx: 0.3, c: -0.2, d: 0.9, ty: 1.1), width: 5, height: 5)
        XCTAssertEqual(rotated[2, 2, 0], 200)
    }
}

/// The landmarks of the face mirrored left-right in a frame `width` pixels wide, renumbered so each
/// point keeps its meaning (the left eye's corner becomes the right eye's).
func mirroredLandmarks(_ lm: Landmarks68, width: Double) -> Landmarks68 {
    let pairs = [(0, 16), (1, 15), (2, 14), (3, 13), (4, 12), (5, 11), (6, 10), (7, 9),
                 (17, 26), (18, 25), (19, 24), (20, 23), (21, 22),
                 (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46),
                 (31, 35), (32, 34), (50, 52), (49, 53), (48, 54), (59, 55), (58, 56),
                 (67, 65), (60, 64), (61, 63)]
    var points = lm.points.map { Point2(width - $0.x, $0.y) }
    for (a, b) in pairs { points.swapAt(a, b) }
    return Landmarks68(points: points)
}
