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
    /// Sharpness, histogram, pose, colour and size, computed once from the crop for sorting and filtering.
    public var signatures: FaceSignatures
    /// How far the 68 points can be trusted, 0...1 (`LandmarkFit.score`).
    public var landmarkScore: Double

    /// A face with every field given (the pipeline and the face importers make them).
    public init(faceIndex: Int, score: Double, box: FaceBox, points5: [Point2], landmarks: Landmarks68,
                matrix: Affine2D, crop: Image, signatures: FaceSignatures, landmarkScore: Double = 1) {
        self.faceIndex = faceIndex; self.score = score; self.box = box; self.points5 = points5
        self.landmarks = landmarks; self.matrix = matrix; self.crop = crop; self.signatures = signatures
        self.landmarkScore = landmarkScore
    }

    /// The 68 points in crop coordinates.
    public var landmarksInFace: Landmarks68 { landmarks.transformed(by: matrix) }
}

/// A detection that was not kept as a face: its 68-point fit disagrees with the detector's five
/// points or with the fit of its mirror image (a hand, a pattern), so `LandmarkFit.score` is low.
public struct DroppedDetection: Sendable {
    /// MTCNN's box in frame pixels.
    public var box: FaceBox
    /// MTCNN's confidence, 0...1.
    public var score: Double
    /// MTCNN's five points (eyes, nose, mouth corners) in frame pixels.
    public var points5: [Point2]
    /// The 68-point fit and the score that dropped it.
    public var fit: LandmarkFit
}

/// What one image gave: the faces kept, best detector score first, and the detections dropped.
public struct ImageFaces: Sendable {
    /// The faces kept, best detector score first.
    public var faces: [ExtractedFace]
    /// The detections dropped because their landmark fit is no face's.
    public var dropped: [DroppedDetection]
}

/// MTCNN, then dlib's shape predictor started from the detector's five points (`LandmarkFitter`),
/// then DeepFaceLab's alignment and the signatures. Detections whose fit is no face's are dropped.
/// Holds only read-only models, so `faces(in:...)` may run on several frames at once.
public final class FacePipeline: @unchecked Sendable {
    /// The MTCNN detector that finds the boxes and five points.
    public let detector: MTCNNDetector
    /// dlib's 68-point shape predictor.
    public let shapePredictor: ShapePredictor
    /// Fits and scores the 68 points from the detector's five (over `shapePredictor`).
    public let fitter: LandmarkFitter

    /// A pipeline over the two models, fitting landmarks with `fitOptions`.
    public init(detector: MTCNNDetector, shapePredictor: ShapePredictor,
                fitOptions: LandmarkFitOptions = LandmarkFitOptions()) {
        self.detector = detector
        self.shapePredictor = shapePredictor
        self.fitter = LandmarkFitter(predictor: shapePredictor, options: fitOptions)
    }

    /// Every face in `image` at least `minFaceSize` pixels tall, best detector score first, at most
    /// `maxFaces` of them, each aligned as `faceType` into a `size x size` crop.
    public func faces(in image: Image, faceType: FaceType = .full, size: Int = 256, minFaceSize: Int = 40,
                      maxFaces: Int? = nil) -> [ExtractedFace] {
        detectFaces(in: image, faceType: faceType, size: size, minFaceSize: minFaceSize, maxFaces: maxFaces).faces
    }

    /// `faces(in:...)` with the detections dropped as not faces. `maxFaces` counts kept faces only.
    public func detectFaces(in image: Image, faceType: FaceType = .full, size: Int = 256, minFaceSize: Int = 40,
                            maxFaces: Int? = nil) -> ImageFaces {
        let rgb = image.channels == 3 ? image : image.rgb()
        var result = ImageFaces(faces: [], dropped: [])
        let limit = max(0, maxFaces ?? Int.max)
        guard limit > 0 else { return result }
        for d in detector.detect(rgb, minFaceSize: minFaceSize) {
            let fit = fitter.fit(image: rgb, box: d.box, points5: d.points5)
            guard fit.score >= LandmarkFitter.dropBelow else {
                result.dropped.append(DroppedDetection(box: d.box, score: d.score, points5: d.points5, fit: fit))
                continue
            }
            result.faces.append(face(in: rgb, detection: d, fit: fit, index: result.faces.count, faceType: faceType,
                                     size: size))
            if result.faces.count == limit { break }
        }
        return result
    }

    /// Landmarks, crop and signatures for one detection (exposed for callers that detect on their
    /// own schedule, e.g. every few frames). Kept whatever its landmark score.
    public func face(in image: Image, detection d: DetectedFace, index: Int, faceType: FaceType,
                     size: Int) -> ExtractedFace {
        face(in: image, detection: d, fit: fitter.fit(image: image, box: d.box, points5: d.points5),
             index: index, faceType: faceType, size: size)
    }

    private func face(in image: Image, detection d: DetectedFace, fit: LandmarkFit, index: Int, faceType: FaceType,
                      size: Int) -> ExtractedFace {
        let landmarks = fit.landmarks
        let (crop, matrix) = alignedFace(image: image, landmarks: landmarks, faceType: faceType, size: size)
        let signatures = faceSignatures(crop: crop, landmarksInFace: landmarks.transformed(by: matrix), matrix: matrix)
        return ExtractedFace(faceIndex: index, score: d.score, box: d.box, points5: d.points5, landmarks: landmarks,
                             matrix: matrix, crop: crop, signatures: signatures, landmarkScore: fit.score)
    }
}
