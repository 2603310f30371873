/// Face alignment: the similarity transform to the mean face and the square crop of each face type.
import FacetCore
import Foundation

/// How much of the head an aligned crop shows, from tightest to widest. The raw values are the
/// names DeepFaceLab users know and the ones stored in the project file.
public enum FaceType: String, CaseIterable, Sendable, Codable {
    case half
    case midFull = "mid_full"
    case full
    case wholeFace = "whole_face"
    case head

    /// Extra margin around the unit square of the mean face, as a fraction of its side
    /// (DeepFaceLab's `FaceType_to_padding_remove_align`).
    public var padding: Double {
        switch self {
        case .half: return 0.0
        case .midFull: return 0.0675
        case .full: return 0.2109375
        case .wholeFace: return 0.40
        case .head: return 0.70
        }
    }
}

/// The iBUG indices of the landmarks fitted to the mean face: brows, nose, eyes (17...48) and the
/// right mouth corner (54). The jaw is left out because it moves with the mouth and the pose.
public let meanFaceLandmarkIndices: [Int] = Array(17...48) + [54]

/// Where those landmarks sit on an average frontal face scaled into the unit square
/// (DeepFaceLab's `landmarks_2D_new`), in the order of `meanFaceLandmarkIndices`.
public let meanFaceUnitSquare: [Point2] = [
    (0.000213256, 0.106454), (0.0752622, 0.038915), (0.18113, 0.0187482), (0.29077, 0.0344891),
    (0.393397, 0.0773906), (0.586856, 0.0773906), (0.689483, 0.0344891), (0.799124, 0.0187482),
    (0.904991, 0.038915), (0.98004, 0.106454), (0.490127, 0.203352), (0.490127, 0.307009),
    (0.490127, 0.409805), (0.490127, 0.515625), (0.36688, 0.587326), (0.426036, 0.609345),
    (0.490127, 0.628106), (0.554217, 0.609345), (0.613373, 0.587326), (0.121737, 0.216423),
    (0.187122, 0.178758), (0.265825, 0.179852), (0.334606, 0.231733), (0.260918, 0.245099),
    (0.182743, 0.244077), (0.645647, 0.231733), (0.714428, 0.179852), (0.793132, 0.178758),
    (0.858516, 0.216423), (0.79751, 0.244077), (0.719335, 0.245099), (0.254149, 0.780233),
    (0.726104, 0.780233),
].map { Point2($0.0, $0.1) }

/// The least-squares similarity transform (rotation, uniform scale, translation; Umeyama 1991)
/// taking `from[i]` towards `to[i]`. In 2-D the optimal rotation has a closed form, the same one
/// Umeyama's SVD gives (a reflection is never chosen). nil when `from` has no spread.
public func similarityTransform(from: [Point2], to: [Point2]) -> Affine2D? {
    precondition(from.count == to.count && !from.isEmpty, "similarityTransform needs matching, non-empty point lists")
    let n = Double(from.count)
    var fmx = 0.0, fmy = 0.0, tmx = 0.0, tmy = 0.0
    for i in from.indices { fmx += from[i].x; fmy += from[i].y; tmx += to[i].x; tmy += to[i].y }
    fmx /= n; fmy /= n; tmx /= n; tmy /= n
    var a = 0.0, b = 0.0, c = 0.0, d = 0.0, spread = 0.0
    for i in from.indices {
        let fx = from[i].x - fmx, fy = from[i].y - fmy, tx = to[i].x - tmx, ty = to[i].y - tmy
        a += tx * fx; b += tx * fy; c += ty * fx; d += ty * fy
        spread += fx * fx + fy * fy
    }
    guard spread > 0 else { return nil }
    let p = (a + d) / spread, q = (c - b) / spread
    return Affine2D(a: p, b: -q, tx: tmx - (p * fmx - q * fmy),
                    c: q, d: p, ty: tmy - (q * fmx + p * fmy))
}

/// The image-to-face matrix of an aligned crop of `size x size` pixels, as DeepFaceLab's
/// `LandmarksProcessor.get_transform_mat` computes it, so crops look like the ones users know:
/// fit landmarks 17...48 and 54 to the mean face (unit square), map the square's corners back
/// into the image, grow the square about its centre by the face type's padding (and for
/// `wholeFace` move it 7% towards the forehead; for `head`, 50% towards the forehead and sideways
/// with the yaw), then map that square onto `(0,0)...(size,size)`.
public func alignmentMatrix(landmarks: Landmarks68, faceType: FaceType, size: Int) -> Affine2D {
    let source = meanFaceLandmarkIndices.map { landmarks.points[$0] }
    guard let toUnit = similarityTransform(from: source, to: meanFaceUnitSquare),
          let fromUnit = toUnit.inverted else {
        // All the points coincide: no face to align; a crop centred on them at scale 1.
        let p = landmarks.points[30]
        let half = Double(size) / 2
        return Affine2D(a: 1, b: 0, tx: half - p.x, c: 0, d: 1, ty: half - p.y)
    }
    // The unit square's corners (tl, tr, br, bl) and centre, in the image.
    let corners = [Point2(0, 0), Point2(1, 0), Point2(1, 1), Point2(0, 1)].map(fromUnit.apply)
    var centre = fromUnit.apply(Point2(0.5, 0.5))
    let diagonal = hypot(corners[2].x - corners[0].x, corners[2].y - corners[0].y)
    let down = unit(corners[2].x - corners[0].x, corners[2].y - corners[0].y)   // tl -> br
    let up = unit(corners[1].x - corners[3].x, corners[1].y - corners[3].y)     // bl -> tr
    // Half the diagonal of the padded square.
    let reach = diagonal * (faceType.padding * 2.0.squareRoot() + 0.5)

    switch faceType {
    case .wholeFace:
        // 7% of the side towards the top of the face, to take in more forehead.
        centre.x += (corners[0].x - corners[3].x) * 0.07
        centre.y += (corners[0].y - corners[3].y) * 0.07
    case .head:
        // Half a side towards the top, and sideways against the yaw so the back of the head
        // turned towards the camera stays in the frame (damped near frontal).
        var yaw = averagedYaw(landmarks.transformed(by: toUnit))
        yaw *= abs(tanh(yaw * 2))
        centre.x -= (corners[0].x - corners[1].x) * yaw / 2
        centre.y -= (corners[0].y - corners[1].y) * yaw / 2
        centre.x += (corners[0].x - corners[3].x) * 0.5
        centre.y += (corners[0].y - corners[3].y) * 0.5
    default:
        break
    }
    let s = Double(size)
    let src = [Point2(centre.x - down.x * reach, centre.y - down.y * reach),
               Point2(centre.x + up.x * reach, centre.y + up.y * reach),
               Point2(centre.x + down.x * reach, centre.y + down.y * reach)]
    let dst = [Point2(0, 0), Point2(s, 0), Point2(s, s)]
    return affineTransform(from: src, to: dst) ?? .identity
}

/// The aligned crop of the face with `landmarks` (frame coordinates) and its image-to-face matrix.
/// Sampling is bicubic (sharper than bilinear on the upscaled small faces video gives); outside
/// the frame is black, as in DeepFaceLab's aligned faces.
public func alignedFace(image: Image, landmarks: Landmarks68, faceType: FaceType = .full,
                        size: Int = 256) -> (crop: Image, matrix: Affine2D) {
    let matrix = alignmentMatrix(landmarks: landmarks, faceType: faceType, size: size)
    return (image.warpedBicubic(by: matrix, width: size, height: size), matrix)
}

/// DeepFaceLab's `estimate_averaged_yaw`: how much wider the face is on one side of the nose
/// bridge than on the other, from three jaw-to-bridge distances per side, in the units of the
/// landmarks (the unit square when aligned). Positive when the right half of the image is wider.
func averagedYaw(_ lm: Landmarks68) -> Double {
    let p = lm.points
    let left = ((p[27].x - p[0].x) + (p[28].x - p[1].x) + (p[29].x - p[2].x)) / 3
    let right = ((p[16].x - p[27].x) + (p[15].x - p[28].x) + (p[14].x - p[29].x)) / 3
    return right - left
}

private func unit(_ x: Double, _ y: Double) -> Point2 {
    let n = hypot(x, y)
    return n > 0 ? Point2(x / n, y / n) : Point2(0, 0)
}

/// The affine transform taking three points exactly onto three others (OpenCV's
/// `getAffineTransform`); nil when the source points are collinear.
public func affineTransform(from src: [Point2], to dst: [Point2]) -> Affine2D? {
    precondition(src.count == 3 && dst.count == 3, "affineTransform needs exactly three point pairs")
    // Solve [x y 1] * [a c; b d; tx ty] = [u v] for the three rows by Cramer's rule.
    let (x0, y0, x1, y1, x2, y2) = (src[0].x, src[0].y, src[1].x, src[1].y, src[2].x, src[2].y)
    let det = x0 * (y1 - y2) - y0 * (x1 - x2) + (x1 * y2 - x2 * y1)
    guard abs(det) > 1e-12 else { return nil }
    func solve(_ u0: Double, _ u1: Double, _ u2: Double) -> (Double, Double, Double) {
        let a = (u0 * (y1 - y2) - y0 * (u1 - u2) + (u1 * y2 - u2 * y1)) / det
        let b = (x0 * (u1 - u2) - u0 * (x1 - x2) + (x1 * u2 - x2 * u1)) / det
        let t = (x0 * (y1 * u2 - y2 * u1) - y0 * (x1 * u2 - x2 * u1) + u0 * (x1 * y2 - x2 * y1)) / det
        return (a, b, t)
    }
    let (a, b, tx) = solve(dst[0].x, dst[1].x, dst[2].x)
    let (c, d, ty) = solve(dst[0].y, dst[1].y, dst[2].y)
    return Affine2D(a: a, b: b, tx: tx, c: c, d: d, ty: ty)
}
