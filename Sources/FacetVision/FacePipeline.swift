/// Detection, 68 landmarks, alignment and signatures for one image: what extraction does per frame.
import Foundation
import FacetCore

/// One face found in an image, aligned and scored.
public struct ExtractedFace: Sendable {
    /// Position among the faces of its image, best detector score first.
    public var faceIndex: Int
    public var score: Double
    public var box: FaceBox
    public var points5: [Point2]
    /// In image coordinates.
    public var landmarks: Landmarks68
    /// Image -> aligned crop.
    public var matrix: Affine2D
    public var crop: Image
    public var signatures: FaceSignatures
}

/// MTCNN + dlib's shape predictor + alignment + signatures. Thread-safe: `faces(in:...)` may run
/// on several frames at once.
public final class FacePipeline: @unchecked Sendable {
    public let detector: MTCNNDetector
    public let shapePredictor: ShapePredictor

    public init(detector: MTCNNDetector, shapePredictor: ShapePredictor) {
        self.detector = detector
        self.shapePredictor = shapePredictor
    }

    /// Every face in `image` with at least `minFaceSize` pixels, best first (at most `maxFaces`).
    public func faces(in image: Image, faceType: FaceType, size: Int, minFaceSize: Int, maxFaces: Int?) -> [ExtractedFace] {
        var found = detector.detect(image, minFaceSize: minFaceSize)
        if let maxFaces { found = Array(found.prefix(maxFaces)) }
        return found.enumerated().map { index, d in
            let rect = shapePredictorRect(fromDetectorBox: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height)
            let landmarks = shapePredictor.landmarks(in: image, box: rect)
            let (crop, matrix) = alignedFace(image: image, landmarks: landmarks, faceType: faceType, size: size)
            let inFace = landmarks.transformed(by: matrix)
            let signatures = faceSignatures(crop: crop, landmarksInFace: inFace, landmarksInFrame: landmarks)
            return ExtractedFace(faceIndex: index, score: d.score, box: d.box, points5: d.points5, landmarks: landmarks,
                                 matrix: matrix, crop: crop, signatures: signatures)
        }
    }
}
