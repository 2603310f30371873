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
    /// Which detector found it.
    public var detector: FaceDetectorKind

    /// A face found by `detector` (MTCNN unless said), aligned and scored.
    public init(faceIndex: Int, score: Double, box: FaceBox, points5: [Point2], landmarks: Landmarks68,
                matrix: Affine2D, crop: Image, signatures: FaceSignatures, landmarkScore: Double = 1,
                detector: FaceDetectorKind = .mtcnn) {
        self.faceIndex = faceIndex; self.score = score; self.box = box; self.points5 = points5
        self.landmarks = landmarks; self.matrix = matrix; self.crop = crop; self.signatures = signatures
        self.landmarkScore = landmarkScore; self.detector = detector
    }

    /// The 68 points in crop coordinates.
    public var landmarksInFace: Landmarks68 { landmarks.transformed(by: matrix) }
}

/// The detector that found a face, as the project stores it (`face.detector`).
public enum FaceDetectorKind: String, Sendable, Codable, CaseIterable {
    /// MTCNN (`Models/mtcnn.safetensors`): fast, finds faces down to 20 px, gives five points.
    case mtcnn
    /// dlib's CNN face detector (`mmod_human_face_detector.dat`): about 10x MTCNN's cost, holds on some
    /// turned faces MTCNN misses, no faces under its 80 px window, no five points.
    case cnn
}

/// Which detectors extraction runs (`facet extract --detector`).
public enum FaceDetection: String, Sendable, Codable, CaseIterable {
    /// MTCNN alone (the default: fast).
    case mtcnn
    /// dlib's CNN detector alone.
    case cnn
    /// Both on every frame: a CNN face that is not one MTCNN kept (neither box holds the other's
    /// centre) is added. Finds the turned faces MTCNN misses beside faces it keeps, at the CNN's cost.
    case both
    /// The CNN only on frames where MTCNN keeps no face: frames with a face cost nothing more, and a
    /// shot where MTCNN loses a turning head gets it back (a missed face beside a found one stays missed).
    case fallback

    /// Whether the CNN detector is needed.
    public var usesCNN: Bool { self != .mtcnn }
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
/// With a CNN detector, `detection` says when it runs: instead of MTCNN, or on images where MTCNN keeps
/// no face (dlib's pipeline there: the CNN's box, the 68 points started from it, no five points).
public final class FacePipeline: @unchecked Sendable {
    /// MTCNN, the first detector.
    public let detector: MTCNNDetector
    /// dlib's 68-point model.
    public let shapePredictor: ShapePredictor
    /// The 68-point fit started from the detector's five points (or box).
    public let fitter: LandmarkFitter
    /// dlib's CNN face detector, when `detection` uses it.
    public let cnn: CNNFaceDetector?
    /// Which detectors run.
    public let detection: FaceDetection

    /// A pipeline over MTCNN, and `cnn` as `detection` says (a detection that uses the CNN needs one).
    public init(detector: MTCNNDetector, shapePredictor: ShapePredictor,
                fitOptions: LandmarkFitOptions = LandmarkFitOptions(),
                cnn: CNNFaceDetector? = nil, detection: FaceDetection = .mtcnn) {
        precondition(!detection.usesCNN || cnn != nil, "detection \(detection.rawValue) needs the CNN face detector")
        self.detector = detector
        self.shapePredictor = shapePredictor
        self.fitter = LandmarkFitter(predictor: shapePredictor, options: fitOptions)
        self.cnn = cnn
        self.detection = detection
    }

    /// Facet's detector (MTCNN, with dlib's CNN detector when `detection` uses it) and 68-point fitter from the
    /// model files `ModelFiles` finds; a missing or damaged file is a one-line error naming it.
    public static func load(detection: FaceDetection = .mtcnn) throws -> FacePipeline {
        try FacePipeline(detector: MTCNNDetector(weightsPath: ModelFiles.mtcnnWeights()),
                         shapePredictor: ShapePredictor(path: ModelFiles.shapePredictor()),
                         cnn: detection.usesCNN ? CNNFaceDetector() : nil, detection: detection)
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
        func keep(_ detections: [DetectedFace], from kind: FaceDetectorKind) {
            for d in detections {
                let fit = fitter.fit(image: rgb, box: d.box, points5: d.points5)
                guard fit.score >= LandmarkFitter.dropBelow else {
                    result.dropped.append(DroppedDetection(box: d.box, score: d.score, points5: d.points5, fit: fit))
                    continue
                }
                var f = face(in: rgb, detection: d, fit: fit, index: result.faces.count, faceType: faceType, size: size)
                f.detector = kind
                result.faces.append(f)
                if result.faces.count == limit { return }
            }
        }
        if detection != .cnn { keep(detector.detect(rgb, minFaceSize: minFaceSize), from: .mtcnn) }
        guard let cnn, result.faces.count < limit else { return result }
        switch detection {
        case .mtcnn: break
        case .cnn: keep(Self.cnnDetections(cnn.detect(rgb), minFaceSize: minFaceSize), from: .cnn)
        case .fallback where result.faces.isEmpty: keep(Self.cnnDetections(cnn.detect(rgb), minFaceSize: minFaceSize),
                                                        from: .cnn)
        case .fallback: break
        case .both:
            let known = result.faces.map(\.box) + result.dropped.map(\.box)
            keep(Self.cnnDetections(cnn.detect(rgb), minFaceSize: minFaceSize).filter { d in
                !known.contains { Self.sameFace($0, d.box) }
            }, from: .cnn)
        }
        return result
    }

    /// Whether two detectors' boxes are one face: either box holds the other's centre (MTCNN's and
    /// dlib's boxes frame a face differently, so overlap ratios alone would split some).
    static func sameFace(_ a: FaceBox, _ b: FaceBox) -> Bool {
        func holds(_ box: FaceBox, _ other: FaceBox) -> Bool {
            let cx = other.x + other.width / 2, cy = other.y + other.height / 2
            return cx >= box.x && cx <= box.x + box.width && cy >= box.y && cy <= box.y + box.height
        }
        return holds(a, b) || holds(b, a)
    }

    /// The CNN's detections as the pipeline's (no five points; faces under `minFaceSize` left out). Its
    /// confidence (0 and up, a margin) becomes a 0...1 score by the logistic function, so 0.5 is
    /// dlib's threshold.
    static func cnnDetections(_ found: [CNNFaceDetection], minFaceSize: Int) -> [DetectedFace] {
        found.filter { Double(min($0.right - $0.left, $0.bottom - $0.top) + 1) >= Double(minFaceSize) }
            .map { DetectedFace(box: $0.box, score: 1 / (1 + exp(-$0.confidence)), points5: []) }
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
