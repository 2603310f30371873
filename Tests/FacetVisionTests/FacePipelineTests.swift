/// Tests of the whole face pipeline on real video: detection to signatures, and stable crops across frames.
import FacetCore
import FacetMedia
@testable import FacetVision
import Foundation
import XCTest

/// Faces of the sample videos followed from frame to frame with the shape predictor alone.
enum VideoFaces {
    /// The box MTCNN finds in frame 0 of each sample video (x, y, width, height), the starting point
    /// of tracking; `FacePipelineTests.testPipelineFindsTheVideoFace` checks the detector agrees.
    static let firstFrameBoxes: [String: [Double]] = [
        "src-d18.mp4": [126.1, 106.4, 225.1, 300.2],
        "dst-d19.mp4": [119.1, 94.7, 246.3, 323.6],
        "extra-d20.mp4": [153.6, 161.2, 186.7, 250.6],
    ]

    struct Face {
        var frame: Image
        var landmarks: Landmarks68
    }

    /// Landmarks of the face in the first `count` frames (every `step`-th) of a sample video: the
    /// adjusted detector box in frame 0, then each frame fitted in the box of the one before.
    static func track(_ video: String, count: Int, step: Int = 1) throws -> [Face] {
        let sp = try LandmarkTestData.predictor()
        let b = try XCTUnwrap(firstFrameBoxes[video])
        var box = shapePredictorRect(fromDetectorBox: b[0], y: b[1], width: b[2], height: b[3])
        let decoder = try VideoDecoder(path: LandmarkTestData.path("video/" + video))
        var faces: [Face] = []
        var index = 0
        while faces.count < count, let frame = try decoder.nextFrame() {
            defer { index += 1 }
            let landmarks = sp.landmarks(in: frame.image, box: box)
            box = sp.trackingBox(for: landmarks)
            if index % step == 0 { faces.append(Face(frame: frame.image, landmarks: landmarks)) }
        }
        return faces
    }
}

final class FacePipelineTests: XCTestCase {
    /// MTCNN + landmarks + alignment + signatures on a sample video frame (shrunk to 160 px so the
    /// detector is quick in debug builds): one face, where the video's face is, a proper crop.
    func testPipelineFindsTheVideoFace() throws {
        let sp = try LandmarkTestData.predictor()
        let detector: MTCNNDetector
        do { detector = try MTCNNDetector() } catch { throw modelMissing("MTCNN weights absent (\(error)): run Tools/fetch-models") }
        let pipeline = FacePipeline(detector: detector, shapePredictor: sp)
        let decoder = try VideoDecoder(path: LandmarkTestData.path("video/src-d18.mp4"))
        let frame = try XCTUnwrap(try decoder.nextFrame()).image
        let small = frame.resized(width: 160, height: 160, filter: .area)
        let faces = pipeline.faces(in: small, faceType: .full, size: 128, minFaceSize: 48, maxFaces: 2)
        XCTAssertEqual(faces.count, 1)
        let face = try XCTUnwrap(faces.first)
        XCTAssertEqual(face.faceIndex, 0)
        XCTAssertGreaterThan(face.score, 0.9)
        XCTAssertEqual(face.points5.count, 5)
        // The detector's box, at full scale, is the one tracking starts from.
        let expected = try XCTUnwrap(VideoFaces.firstFrameBoxes["src-d18.mp4"])
        XCTAssertEqual(face.box.x * 3, expected[0], accuracy: 12)
        XCTAssertEqual(face.box.y * 3, expected[1], accuracy: 12)
        XCTAssertEqual(face.box.width * 3, expected[2], accuracy: 15)
        // Landmarks sit in the box; the crop is the requested size; the matrix maps them into it.
        for p in face.landmarks.points {
            XCTAssertTrue(p.x > face.box.x - 10 && p.x < face.box.right + 10 && p.y > face.box.y - 10 && p.y < face.box.bottom + 10, "\(p)")
        }
        XCTAssertEqual(face.crop.width, 128); XCTAssertEqual(face.crop.height, 128)
        XCTAssertEqual(face.matrix, alignmentMatrix(landmarks: face.landmarks, faceType: .full, size: 128))
        for p in face.landmarksInFace.points { XCTAssertTrue(p.x > 0 && p.x < 128 && p.y > 0 && p.y < 128) }
        XCTAssertEqual(face.signatures.faceSize, face.landmarks.points.map(\.y).max()! - face.landmarks.points.map(\.y).min()!, accuracy: 40)
        XCTAssertEqual(face.signatures.histogram.count, 768)
        XCTAssertEqual(pipeline.faces(in: small, faceType: .full, size: 128, minFaceSize: 48, maxFaces: 0).count, 0)
    }

    /// The detector-free part of the pipeline on the astronaut with the `mtcnn` package's own
    /// detection: the crop and matrix are what alignment gives for the predicted landmarks.
    func testFaceFromADetection() throws {
        let sp = try LandmarkTestData.predictor()
        let detector: MTCNNDetector
        do { detector = try MTCNNDetector() } catch { throw modelMissing("MTCNN weights absent (\(error)): run Tools/fetch-models") }
        let pipeline = FacePipeline(detector: detector, shapePredictor: sp)
        let json = try LandmarkTestData.referenceJSON()
        let mtcnn = try XCTUnwrap(json["mtcnn_package_1_0_0"] as? [String: Any])
        let b = try XCTUnwrap(mtcnn["box"] as? [Double])
        let detection = DetectedFace(box: FaceBox(x: b[0], y: b[1], width: b[2], height: b[3]), score: 0.99, points5: [])
        let image = try LandmarkTestData.image("images/reference/astronaut.png")
        let face = pipeline.face(in: image, detection: detection, index: 3, faceType: .wholeFace, size: 192)
        XCTAssertEqual(face.faceIndex, 3)
        // Without five points the fit starts from the adjusted box (then refits and checks the mirror).
        XCTAssertEqual(face.landmarks, pipeline.fitter.fit(image: image, box: detection.box, points5: []).landmarks)
        let rect = shapePredictorRect(fromDetectorBox: b[0], y: b[1], width: b[2], height: b[3])
        XCTAssertLessThan(meanLandmarkError(face.landmarks, sp.landmarks(in: image, box: rect).points), 0.05, "near the first box fit")
        let aligned = alignedFace(image: image, landmarks: face.landmarks, faceType: .wholeFace, size: 192)
        XCTAssertEqual(face.crop, aligned.crop)
        XCTAssertEqual(face.matrix, aligned.matrix)
        XCTAssertEqual(face.signatures, faceSignatures(crop: aligned.crop, landmarksInFace: face.landmarksInFace, matrix: aligned.matrix))
    }

    /// "Aligned crops of the same face across consecutive video frames are stable": over 12
    /// consecutive frames of src-d18, the 68 points in a 256 px `full` crop move little from frame
    /// to frame (the face itself moves a little too).
    func testAlignedLandmarksAreStableAcrossFrames() throws {
        let faces = try VideoFaces.track("src-d18.mp4", count: 12)
        XCTAssertEqual(faces.count, 12)
        var previous: Landmarks68?
        var steps: [Double] = []
        for face in faces {
            let inFace = face.landmarks.transformed(by: alignmentMatrix(landmarks: face.landmarks, faceType: .full, size: 256))
            if let previous {
                steps.append(zip(inFace.points, previous.points).map { pointDistance($0, $1) }.reduce(0, +) / 68)
            }
            previous = inFace
        }
        let mean = steps.reduce(0, +) / Double(steps.count)
        print("face-space landmark motion between consecutive frames: mean \(mean) px, max \(steps.max()!) px (256 px crop)")
        XCTAssertLessThan(mean, 2.5)
        XCTAssertLessThan(steps.max()!, 5)
    }
}
