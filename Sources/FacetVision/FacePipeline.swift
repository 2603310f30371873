/// Detection, 68 landmarks, alignment and signatures for one image: what extraction does per frame.
import FacetCore
import Foundation

/// One face found in an image, aligned and scored.
public struct ExtractedFace: Sendable {
    /// Position among the faces of its image, best detector score first.
    public var faceIndex: Int
    /// MTCNN's confidence, 0...1.
    public var score: Double
    /// MTCNN's box in frame pixels.
    public var box: FaceBox
    /// MTCNN's five points (eyes, nose, mouth corners) in frame pixels.
    public var points5: [Point2]
    /// dlib's 68 points in frame pixels (sub-pixel; dlib itself rounds them).
    public var landmarks: Landmarks68
    /// Image-to-face matrix of the crop.
    public var matrix: Affine2D
    /// The aligned crop, `size x size` RGB.
    public var crop: Image
    public var signatures: FaceSignatures

    public init(faceIndex: Int, score: Double, box: FaceBox, points5: [Point2], landmarks: Landmarks68,
                matrix: Affine2D, crop: Image, signatures: FaceSignatures) {
        self.faceIndex = faceIndex; self.score = score; self.box = box; self.points5 = points5
        self.landmarks = landmarks; self.matrix = matrix; self.crop = crop; self.signatures = signatures
    }

    /// The 68 points in crop coordinates.
    public var landmarksInFace: Landmarks68 { landmarks.transformed(by: matrix) }
}

/// MTCNN, then dlib's shape predictor on the adjusted detector box, then DeepFaceLab's alignment
/// and the signatures. Holds only read-only models, so `faces(in:...)` may run on several frames
/// at once.
public final class FacePipeline: @unchecked Sendable {
    public let detector: MTCNNDetector
    public let shapePredictor: ShapePredictor

    public init(detector: MTCNNDetector, shapePredictor: ShapePredictor) {
        self.detector = detector
        self.shapePredictor = shapePredictor
    }

    /// Every face in `image` at least `minFaceSize` pixels tall, best detector score first, at most
    /// `maxFaces` of them, each aligned as `faceType` into a `size x size` crop.
    public func faces(in image: Image, faceType: FaceType = .full, size: Int = 256, minFaceSize: Int = 40,
                      maxFaces: Int? = nil) -> [ExtractedFace] {
        let rgb = image.channels == 3 ? image : image.rgb()
        var found = detector.detect(rgb, minFaceSize: minFaceSize)
        if let maxFaces { found = Array(found.prefix(max(0, maxFaces))) }
        return found.enumerated().map { index, detection in
            face(in: rgb, detection: detection, index: index, faceType: faceType, size: size)
        }
    }

    /// Landmarks, crop and signatures for one detection (exposed for callers that detect on their
    /// own schedule, e.g. every few frames).
    public func face(in image: Image, detection d: DetectedFace, index: Int, faceType: FaceType, size: Int) -> ExtractedFace {
        let rect = shapePredictorRect(fromDetectorBox: d.box.x, y: d.box.y, width: d.box.width, height: d.box.height)
        let landmarks = shapePredictor.landmarks(in: image, box: rect)
        let (crop, matrix) = alignedFace(image: image, landmarks: landmarks, faceType: faceType, size: size)
        let signatures = faceSignatures(crop: crop, landmarksInFace: landmarks.transformed(by: matrix), matrix: matrix)
        return ExtractedFace(faceIndex: index, score: d.score, box: d.box, points5: d.points5, landmarks: landmarks,
                             matrix: matrix, crop: crop, signatures: signatures)
    }
}
