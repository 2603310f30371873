/// Per-face signatures computed once at extraction: sharpness, motion blur, histogram, pose, colour, size.
import FacetCore
import Foundation

/// What the store keeps per face, so every sort and filter is a query, not a rescan of images.
public struct FaceSignatures: Sendable, Equatable {
    /// Sharpness inside the face (higher is sharper): the inverse width of the face's edges, as
    /// 8 x sqrt(E1 / E2 - 1) where E1 and E2 are the gradient energies of the grey crop and of the
    /// crop blurred with sigma 2, inside the landmark hull shrunk by 10%, scaled to a 256 px crop.
    /// Contrast and brightness cancel out, so faces from different shots compare. An edge blurred
    /// to a Gaussian of s pixels (s >= 2, in a 256 px crop) scores about 11 / s.
    public var blur: Double
    /// Variance of the Laplacian of the grey crop inside the same region (DeepFaceLab's motion-blur
    /// sort): depends on contrast, low for smeared faces.
    public var motionBlur: Double
    /// R, G, B histograms of the whole crop, 256 bins each, each channel summing to 1
    /// (DeepFaceLab's histogram sort compares whole aligned images).
    public var histogram: [Float]
    /// Head pose in degrees from a 3-D face model fitted to the landmarks: yaw positive when the
    /// face turns towards the image's right (nose moves right), pitch positive looking up, roll
    /// positive when the head tilts clockwise in the frame.
    public var yaw: Double
    /// Pitch in degrees, positive looking up (see `yaw`).
    public var pitch: Double
    /// Roll in degrees, positive when the head tilts clockwise in the frame (see `yaw`).
    public var roll: Double
    /// Mean luma (BT.601) inside the landmark hull, 0...255.
    public var brightness: Double
    /// Circular mean hue inside the hull, weighted by chroma so grey pixels count little; degrees 0..<360.
    public var hue: Double
    /// The larger side of the landmarks' bounding box in frame pixels.
    public var faceSize: Double

    /// Signatures with each field given.
    public init(blur: Double, motionBlur: Double, histogram: [Float], yaw: Double, pitch: Double, roll: Double,
                brightness: Double, hue: Double, faceSize: Double) {
        self.blur = blur; self.motionBlur = motionBlur; self.histogram = histogram
        self.yaw = yaw; self.pitch = pitch; self.roll = roll
        self.brightness = brightness; self.hue = hue; self.faceSize = faceSize
    }
}

/// Every signature of an aligned crop. `landmarksInFace` are the 68 points in crop coordinates and
/// `matrix` the image-to-face matrix that made the crop (for pose and size in the frame).
/// Cost: a few passes over the crop (about 3 ms for 256 px in release).
public func faceSignatures(crop: Image, landmarksInFace: Landmarks68, matrix: Affine2D) -> FaceSignatures {
    let w = crop.width, h = crop.height
    let rgb = crop.rgb()
    let inFrame = matrix.inverted.map { landmarksInFace.transformed(by: $0) } ?? landmarksInFace
    let hull = hullMask(of: landmarksInFace.points, width: w, height: h)
    let inner = hullMask(of: shrunk(landmarksInFace.points, by: 0.9), width: w, height: h)

    var histogram = [Float](repeating: 0, count: 768)
    var grey = [Float](repeating: 0, count: w * h)
    var lumaSum = 0.0, hullCount = 0.0, hueX = 0.0, hueY = 0.0
    rgb.pixels.withUnsafeBufferPointer { px in
        hull.pixels.withUnsafeBufferPointer { mask in
            histogram.withUnsafeMutableBufferPointer { hist in
                grey.withUnsafeMutableBufferPointer { grey in
                    for i in 0..<(w * h) {
                        let r = px[3 * i], g = px[3 * i + 1], b = px[3 * i + 2]
                        hist[Int(r)] += 1; hist[256 + Int(g)] += 1; hist[512 + Int(b)] += 1
                        let fr = Float(r), fg = Float(g), fb = Float(b)
                        let luma = 0.299 * fr + 0.587 * fg + 0.114 * fb
                        grey[i] = luma
                        guard mask[i] != 0 else { continue }
                        lumaSum += Double(luma); hullCount += 1
                        // The hue angle weighted by chroma is the chroma vector in the hexagonal
                        // plane: summing those vectors gives the chroma-weighted circular mean.
                        hueX += Double(fr) - 0.5 * Double(fg) - 0.5 * Double(fb)
                        hueY += 0.8660254037844386 * (Double(fg) - Double(fb))
                    }
                }
            }
        }
    }
    let pixels = Float(max(1, w * h))
    for i in 0..<768 { histogram[i] /= pixels }
    var hue = atan2(hueY, hueX) * 180 / .pi
    if hue < 0 { hue += 360 }

    let (sharpness, laplacianVariance) = sharpnessMeasures(grey: grey, width: w, height: h, region: inner)
    let pose = headPose(inFrame)
    let xs = inFrame.points.map(\.x), ys = inFrame.points.map(\.y)
    let faceSize = max(xs.max()! - xs.min()!, ys.max()! - ys.min()!)
    return FaceSignatures(blur: sharpness * Double(max(w, h)) / 256, motionBlur: laplacianVariance,
                          histogram: histogram,
                          yaw: pose.yaw, pitch: pose.pitch, roll: pose.roll,
                          brightness: hullCount > 0 ? lumaSum / hullCount : 0, hue: hue, faceSize: faceSize)
}

/// Points pulled towards their centroid to `factor` of their distance (to keep the hull's own
/// edge, where face meets background, out of the sharpness region).
private func shrunk(_ points: [Point2], by factor: Double) -> [Point2] {
    let cx = points.map(\.x).reduce(0, +) / Double(points.count)
    let cy = points.map(\.y).reduce(0, +) / Double(points.count)
    return points.map { Point2(cx + ($0.x - cx) * factor, cy + ($0.y - cy) * factor) }
}

/// Sharpness (inverse edge width, see `FaceSignatures.blur`) and Laplacian variance over `region`.
///
/// Why this rather than DeepFaceLab's CPBD port: CPBD counts edge widths in whole pixels over a
/// Canny edge map and 64 px blocks, so on 256 px crops of video faces (soft to begin with) most
/// blocks hold few edges and the score moves in coarse steps and ties. The gradient-energy ratio
/// measures the same thing (how wide edges are, independently of their contrast) continuously
/// from every pixel of the face, so it ranks small differences of focus reliably.
func sharpnessMeasures(grey: [Float], width w: Int, height h: Int, region: Image) -> (sharpness: Double,
                                                                                      laplacianVariance: Double) {
    guard w >= 3, h >= 3 else { return (0, 0) }
    let smooth = gaussianBlurred(grey, width: w, height: h, sigma: 2)
    var fine = 0.0, coarse = 0.0, lapSum = 0.0, lapSq = 0.0, count = 0.0
    grey.withUnsafeBufferPointer { g in
        smooth.withUnsafeBufferPointer { s in
            region.pixels.withUnsafeBufferPointer { m in
                for y in 1..<(h - 1) {
                    for x in 1..<(w - 1) {
                        let i = y * w + x
                        guard m[i] != 0 else { continue }
                        let gx = g[i + 1] - g[i - 1], gy = g[i + w] - g[i - w]
                        let sx = s[i + 1] - s[i - 1], sy = s[i + w] - s[i - w]
                        fine += Double(gx * gx + gy * gy)
                        coarse += Double(sx * sx + sy * sy)
                        let lap = Double(g[i - 1] + g[i + 1] + g[i - w] + g[i + w] - 4 * g[i])
                        lapSum += lap; lapSq += lap * lap; count += 1
                    }
                }
            }
        }
    }
    guard count > 0 else { return (0, 0) }
    let mean = lapSum / count
    let variance = max(0, lapSq / count - mean * mean)
    // A flat region has no edges at all: call it as blurred as can be.
    guard coarse > 1e-9 * count else { return (0, variance) }
    return (8 * max(0, fine / coarse - 1).squareRoot(), variance)
}

/// Separable Gaussian blur with edge replication, kernel radius 3 sigma.
func gaussianBlurred(_ src: [Float], width w: Int, height h: Int, sigma: Double) -> [Float] {
    let radius = max(1, Int((3 * sigma).rounded(.up)))
    var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
    let total = kernel.reduce(0, +)
    for i in kernel.indices { kernel[i] /= total }
    var tmp = [Float](repeating: 0, count: w * h)
    var out = [Float](repeating: 0, count: w * h)
    kernel.withUnsafeBufferPointer { kern in
        src.withUnsafeBufferPointer { s in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<h {
                    let row = y * w
                    for x in 0..<w {
                        var acc: Float = 0
                        if x >= radius && x + radius < w {
                            for k in 0...(2 * radius) { acc += kern[k] * s[row + x - radius + k] }
                        } else {
                            for k in 0...(2 * radius) { acc += kern[k] * s[row + min(w - 1, max(0, x - radius + k))] }
                        }
                        t[row + x] = acc
                    }
                }
            }
        }
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    for k in 0...(2 * radius) {
                        let weight = kern[k]
                        let row = min(h - 1, max(0, y - radius + k)) * w
                        for x in 0..<w { o[y * w + x] += weight * t[row + x] }
                    }
                }
            }
        }
    }
    return out
}

// MARK: Head pose

/// Rigid landmarks used for pose: jaw, brows, lower nose and the four eye corners (the mouth and
/// eyelids move on their own).
let poseIndices: [Int] = Array(0...26) + Array(30...35) + [36, 39, 42, 45]

/// A generic 3-D face (x right, y down, z away from the camera; millimetre-ish units) for those
/// landmarks, from DeepFaceLab's `landmarks_68_3D`, made exactly left-right symmetric so that a
/// mirrored face gets exactly the opposite yaw and roll.
let poseModel: [(Double, Double, Double)] = {
    let raw: [Int: (Double, Double, Double)] = [
        0: (-73.393523, -29.801432, 47.667532), 1: (-72.775014, -10.949766, 45.909403),
        2: (-70.533638, 7.929818, 44.842580), 3: (-66.850058, 26.074280, 43.141114),
        4: (-59.790187, 42.564390, 38.635298), 5: (-48.368973, 56.481080, 30.750622),
        6: (-34.121101, 67.246992, 18.456453), 7: (-17.875411, 75.056892, 3.609035),
        8: (0.098749, 77.061286, -0.881698), 9: (17.477031, 74.758448, 5.181201),
        10: (32.648966, 66.929021, 19.176563), 11: (46.372358, 56.311389, 30.770570),
        12: (57.343480, 42.419126, 37.628629), 13: (64.388482, 25.455880, 40.886309),
        14: (68.212038, 6.990805, 42.281449), 15: (70.486405, -11.666193, 44.142567),
        16: (71.375822, -30.365191, 47.140426), 17: (-61.119406, -49.361602, 14.254422),
        18: (-51.287588, -58.769795, 7.268147), 19: (-37.804800, -61.996155, 0.442051),
        20: (-24.022754, -61.033399, -6.606501), 21: (-11.635713, -56.686759, -11.967398),
        22: (12.056636, -57.391033, -12.051204), 23: (25.106256, -61.902186, -7.315098),
        24: (38.338588, -62.777713, -1.022953), 25: (51.191007, -59.302347, 5.349435),
        26: (60.053851, -50.190255, 11.615746), 30: (1.226783, -8.414541, -36.948060),
        31: (-14.772472, 2.598255, -20.132003), 32: (-7.180239, 4.751589, -23.536684),
        33: (0.555920, 6.562900, -25.944448), 34: (8.272499, 4.661005, -23.695741),
        35: (15.214351, 2.643046, -20.858157), 36: (-46.047290, -37.471411, 7.037989),
        39: (-19.648268, -36.754742, -0.111088), 42: (19.265868, -37.032306, -0.665746),
        45: (45.170805, -38.086515, 4.894163),
    ]
    return poseIndices.map { i in
        let j = mirrorIndex(i)
        let a = raw[i]!, b = raw[j]!
        return ((a.0 - b.0) / 2, (a.1 + b.1) / 2, (a.2 + b.2) / 2)
    }
}()

/// The iBUG index of the point that mirrors `i` across the face's midline.
func mirrorIndex(_ i: Int) -> Int {
    switch i {
    case 0...16: return 16 - i
    case 17...26: return 43 - i
    case 27...30: return i
    case 31...35: return 66 - i
    case 36...39: return 81 - i          // 36<->45, 37<->44, 38<->43, 39<->42
    case 40, 41: return 87 - i           // 40<->47, 41<->46
    case 42...45: return 81 - i
    case 46, 47: return 87 - i
    case 48...54: return 102 - i         // 48<->54, 49<->53, 50<->52
    case 55...59: return 114 - i         // 55<->59, 56<->58
    case 60...64: return 124 - i         // 60<->64, 61<->63
    default: return 132 - i              // 65<->67, 66
    }
}

/// Yaw, pitch and roll (degrees) of the face with `landmarks` in the frame: the rotation of a
/// scaled orthographic projection of the 3-D model fitted by least squares (an affine camera whose
/// two rows are then made orthonormal). Faces are small against their distance to the camera in
/// video, so perspective adds little; the fit needs no iteration and is exactly antisymmetric under
/// mirroring.
public func headPose(_ landmarks: Landmarks68) -> (yaw: Double, pitch: Double, roll: Double) {
    let n = Double(poseIndices.count)
    var mx = 0.0, my = 0.0, mX = 0.0, mY = 0.0, mZ = 0.0
    for (k, i) in poseIndices.enumerated() {
        mx += landmarks.points[i].x; my += landmarks.points[i].y
        mX += poseModel[k].0; mY += poseModel[k].1; mZ += poseModel[k].2
    }
    mx /= n; my /= n; mX /= n; mY /= n; mZ /= n
    // Normal equations: (A^T A) M^T = A^T b for the model points A (n x 3) and image points b (n x 2).
    var ata = [[Double]](repeating: [0, 0, 0], count: 3)
    var atb = [[Double]](repeating: [0, 0], count: 3)
    for (k, i) in poseIndices.enumerated() {
        let a = [poseModel[k].0 - mX, poseModel[k].1 - mY, poseModel[k].2 - mZ]
        let b = [landmarks.points[i].x - mx, landmarks.points[i].y - my]
        for r in 0..<3 {
            for c in 0..<3 { ata[r][c] += a[r] * a[c] }
            atb[r][0] += a[r] * b[0]; atb[r][1] += a[r] * b[1]
        }
    }
    guard let inverse = invert3x3(ata) else { return (0, 0, 0) }
    var r1 = [0.0, 0.0, 0.0], r2 = [0.0, 0.0, 0.0]
    for r in 0..<3 {
        for c in 0..<3 { r1[r] += inverse[r][c] * atb[c][0]; r2[r] += inverse[r][c] * atb[c][1] }
    }
    // Orthonormalize symmetrically (the polar factor of the 2x3 camera), so neither row is favoured.
    func norm(_ v: [Double]) -> Double { (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).squareRoot() }
    let n1 = norm(r1), n2 = norm(r2)
    guard n1 > 0, n2 > 0 else { return (0, 0, 0) }
    var u = r1.map { $0 / n1 }, v = r2.map { $0 / n2 }
    for _ in 0..<8 {
        let d = u[0] * v[0] + u[1] * v[1] + u[2] * v[2]
        let nu = (0..<3).map { u[$0] - 0.5 * d * v[$0] }, nv = (0..<3).map { v[$0] - 0.5 * d * u[$0] }
        u = nu.map { $0 / norm(nu) }; v = nv.map { $0 / norm(nv) }
    }
    let w = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
    // Rows u, v, w of the rotation (model axes to camera axes), read as R = Rz(roll) Ry Rx: the
    // pitch and yaw of the head itself, then its tilt in the frame, so a head tilted in the image
    // keeps its yaw and pitch. Signs: yaw > 0 turns the nose to the image's right, pitch > 0 up.
    let yaw = atan2(w[0], (w[1] * w[1] + w[2] * w[2]).squareRoot()) * 180 / .pi
    let pitch = atan2(-w[1], w[2]) * 180 / .pi
    let roll = atan2(v[0], u[0]) * 180 / .pi
    return (yaw, pitch, roll)
}

private func invert3x3(_ m: [[Double]]) -> [[Double]]? {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    guard abs(det) > 1e-12 else { return nil }
    var out = [[Double]](repeating: [0, 0, 0], count: 3)
    for r in 0..<3 {
        for c in 0..<3 {
            let r1 = (c + 1) % 3, r2 = (c + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3
            out[r][c] = (m[r1][c1] * m[r2][c2] - m[r1][c2] * m[r2][c1]) / det
        }
    }
    return out
}
