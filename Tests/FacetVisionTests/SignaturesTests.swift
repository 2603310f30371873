/// Tests of face signatures (sharpness ranking on real faces, histogram, colour, pose) and hull masks.
import FacetCore
import FacetMedia
@testable import FacetVision
import Foundation
import XCTest

final class SignaturesTests: XCTestCase {
    /// Real faces with their 68 points: dlib's on the 43 example faces and the astronaut, and
    /// tracked ones from the three sample videos.
    private func realFaces() throws -> [(image: Image, landmarks: Landmarks68)] {
        var faces: [(Image, Landmarks68)] = []
        for c in try LandmarkTestData.xmlCases() + LandmarkTestData.astronautCases().prefix(1) {
            faces.append((try LandmarkTestData.image(c.image), Landmarks68(points: c.points)))
        }
        for video in ["src-d18.mp4", "dst-d19.mp4", "extra-d20.mp4"] {
            for f in try VideoFaces.track(video, count: 4, step: 15) { faces.append((f.frame, f.landmarks)) }
        }
        return faces
    }

    /// The test: aligned crops Gaussian-blurred with sigma 0, 1, 2, 4, 8 are ranked in
    /// that order by `blur` for at least 95% of real faces.
    func testBlurRanksGaussianBlurLevels() throws {
        let faces = try realFaces()
        XCTAssertGreaterThanOrEqual(faces.count, 50)
        var ordered = 0, motionOrdered = 0
        for (image, landmarks) in faces {
            let (crop, matrix) = alignedFace(image: image, landmarks: landmarks, faceType: .full, size: 192)
            let inFace = landmarks.transformed(by: matrix)
            let levels = [0.0, 1, 2, 4, 8].map { sigma in
                faceSignatures(crop: sigma == 0 ? crop : testGaussianBlur(crop, sigma: sigma), landmarksInFace: inFace, matrix: matrix)
            }
            let blur = levels.map(\.blur), motion = levels.map(\.motionBlur)
            if zip(blur, blur.dropFirst()).allSatisfy({ $0 > $1 }) { ordered += 1 } else { print("blur out of order: \(blur)") }
            if zip(motion, motion.dropFirst()).allSatisfy({ $0 > $1 }) { motionOrdered += 1 }
        }
        let rate = Double(ordered) / Double(faces.count)
        print("blur ranks sigma 0,1,2,4,8 in order for \(ordered) of \(faces.count) faces (\(rate)); motion_blur for \(motionOrdered)")
        XCTAssertGreaterThanOrEqual(rate, 0.95)
        XCTAssertGreaterThanOrEqual(Double(motionOrdered) / Double(faces.count), 0.95)
    }

    /// Sharpness is about edge width, not contrast: halving the crop's contrast leaves it nearly unchanged.
    func testBlurIgnoresContrast() throws {
        let c = try LandmarkTestData.astronautCases()[2]
        let landmarks = Landmarks68(points: c.points)
        let (crop, matrix) = alignedFace(image: try LandmarkTestData.image(c.image), landmarks: landmarks, faceType: .full, size: 256)
        var dim = crop
        for i in dim.pixels.indices { dim.pixels[i] = UInt8(64 + Int(dim.pixels[i]) / 2) }
        let inFace = landmarks.transformed(by: matrix)
        let a = faceSignatures(crop: crop, landmarksInFace: inFace, matrix: matrix)
        let b = faceSignatures(crop: dim, landmarksInFace: inFace, matrix: matrix)
        XCTAssertEqual(b.blur / a.blur, 1, accuracy: 0.1)
        XCTAssertEqual(b.motionBlur / a.motionBlur, 0.25, accuracy: 0.05, "the Laplacian variance scales with contrast squared")
    }

    func testHistogramBrightnessHueAndSize() throws {
        let c = try LandmarkTestData.astronautCases()[2]
        let landmarks = Landmarks68(points: c.points)
        let (crop, matrix) = alignedFace(image: try LandmarkTestData.image(c.image), landmarks: landmarks, faceType: .full, size: 256)
        let s = faceSignatures(crop: crop, landmarksInFace: landmarks.transformed(by: matrix), matrix: matrix)
        XCTAssertEqual(s.histogram.count, 768)
        for channel in 0..<3 {
            XCTAssertEqual(s.histogram[(256 * channel)..<(256 * channel + 256)].reduce(0, +), 1, accuracy: 1e-4)
        }
        XCTAssertTrue(s.brightness > 60 && s.brightness < 220, "\(s.brightness)")
        XCTAssertTrue(s.hue < 50 || s.hue > 340, "skin is orange-red: \(s.hue)")
        let xs = landmarks.points.map(\.x), ys = landmarks.points.map(\.y)
        XCTAssertEqual(s.faceSize, max(xs.max()! - xs.min()!, ys.max()! - ys.min()!), accuracy: 1e-6)

        // Flat colours: exact brightness and hue; the histogram is one bin per channel.
        let inFace = landmarks.transformed(by: matrix)
        for (rgb, hue) in [([200, 40, 40], 0.0), ([40, 200, 40], 120.0), ([40, 40, 200], 240.0), ([200, 200, 40], 60.0)] {
            var flat = Image(width: 256, height: 256, channels: 3)
            for i in 0..<(256 * 256) { for k in 0..<3 { flat.pixels[3 * i + k] = UInt8(rgb[k]) } }
            let f = faceSignatures(crop: flat, landmarksInFace: inFace, matrix: matrix)
            XCTAssertEqual(f.hue, hue, accuracy: 1e-6)
            XCTAssertEqual(f.brightness, 0.299 * Double(rgb[0]) + 0.587 * Double(rgb[1]) + 0.114 * Double(rgb[2]), accuracy: 1e-3)
            XCTAssertEqual(f.histogram[rgb[0]], 1); XCTAssertEqual(f.histogram[256 + rgb[1]], 1); XCTAssertEqual(f.histogram[512 + rgb[2]], 1)
            XCTAssertEqual(f.blur, 0, "a flat crop has no edges")
        }
    }

    /// Yaw recovered from the 3-D model turned by known angles and projected: monotone and within a
    /// degree or two; pitch and roll likewise.
    func testPoseRecoversKnownRotations() {
        func project(yaw: Double, pitch: Double, roll: Double) -> Landmarks68 {
            let (y, p, r) = (yaw * .pi / 180, pitch * .pi / 180, roll * .pi / 180)
            var points = [Point2](repeating: Point2(0, 0), count: 68)
            for (k, i) in poseIndices.enumerated() {
                var (x, yy, z) = poseModel[k]
                // Pitch (about x; looking up moves the nose up), then yaw (about y; the nose goes
                // right), then roll (clockwise in the image).
                (yy, z) = (yy * cos(p) + z * sin(p), -yy * sin(p) + z * cos(p))
                (x, z) = (x * cos(y) - z * sin(y), x * sin(y) + z * cos(y))
                (x, yy) = (x * cos(r) - yy * sin(r), x * sin(r) + yy * cos(r))
                points[i] = Point2(300 + 1.5 * x, 200 + 1.5 * yy)
            }
            return Landmarks68(points: points)
        }
        var last = -Double.infinity
        for yaw in stride(from: -60.0, through: 60, by: 10) {
            let pose = headPose(project(yaw: yaw, pitch: 0, roll: 0))
            XCTAssertEqual(pose.yaw, yaw, accuracy: 1e-6)
            XCTAssertGreaterThan(pose.yaw, last)
            last = pose.yaw
            XCTAssertEqual(pose.pitch, 0, accuracy: 1e-6); XCTAssertEqual(pose.roll, 0, accuracy: 1e-6)
        }
        let tilted = headPose(project(yaw: 20, pitch: 15, roll: -10))
        XCTAssertEqual(tilted.yaw, 20, accuracy: 2)
        XCTAssertEqual(tilted.pitch, 15, accuracy: 2)
        XCTAssertEqual(tilted.roll, -10, accuracy: 2)
    }

    /// A mirrored face has the opposite yaw, the same pitch: on real crops (the faces of one example
    /// image, some turned well aside) mirrored left-right with their landmarks.
    func testMirroredFaceHasOppositeYaw() throws {
        let cases = try LandmarkTestData.xmlCases().filter { $0.image.hasSuffix("2007_007763.jpg") }
        XCTAssertEqual(cases.count, 7)
        var largest = 0.0
        for c in cases {
            let landmarks = Landmarks68(points: c.points)
            let (crop, matrix) = alignedFace(image: try LandmarkTestData.image(c.image), landmarks: landmarks, faceType: .full, size: 128)
            let inFace = landmarks.transformed(by: matrix)
            var mirroredCrop = crop
            for y in 0..<128 { for x in 0..<128 { for k in 0..<3 { mirroredCrop[x, y, k] = crop[127 - x, y, k] } } }
            let original = faceSignatures(crop: crop, landmarksInFace: inFace, matrix: matrix)
            let mirrored = faceSignatures(crop: mirroredCrop, landmarksInFace: mirroredLandmarks(inFace, width: 128), matrix: matrix)
            XCTAssertEqual(mirrored.yaw, -original.yaw, accuracy: 1e-6)
            XCTAssertEqual(mirrored.pitch, original.pitch, accuracy: 1e-6)
            XCTAssertLessThan(abs(original.yaw), 60)
            largest = max(largest, abs(original.yaw))
            // In the frame: the real and mirrored frame landmarks give opposite yaw and roll, and
            // yaw does not depend on the alignment.
            let frame = headPose(landmarks), flipped = headPose(mirroredLandmarks(landmarks, width: 500))
            XCTAssertEqual(flipped.yaw, -frame.yaw, accuracy: 1e-6)
            XCTAssertEqual(flipped.roll, -frame.roll, accuracy: 1e-6)
            XCTAssertEqual(frame.yaw, original.yaw, accuracy: 1e-6)
        }
        XCTAssertGreaterThan(largest, 8, "some of these faces are turned")
    }

    func testHullMaskCoversTheFace() throws {
        let c = try LandmarkTestData.astronautCases()[2]
        let landmarks = Landmarks68(points: c.points)
        let matrix = alignmentMatrix(landmarks: landmarks, faceType: .full, size: 256)
        let inFace = landmarks.transformed(by: matrix)
        let mask = landmarkHullMask(landmarksInFace: inFace, size: 256)
        XCTAssertEqual(mask.channels, 1); XCTAssertEqual(mask.width, 256)
        XCTAssertTrue(mask.pixels.allSatisfy { $0 == 0 || $0 == 255 })
        let nose = inFace.points[30]
        XCTAssertEqual(mask[Int(nose.x), Int(nose.y), 0], 255)
        XCTAssertEqual(mask[2, 2, 0], 0); XCTAssertEqual(mask[253, 253, 0], 0)
        // Area equals the hull polygon's (shoelace), to the pixels along its edge.
        let hull = convexHull(inFace.points)
        var twice = 0.0
        for i in hull.indices { let a = hull[i], b = hull[(i + 1) % hull.count]; twice += a.x * b.y - b.x * a.y }
        let filled = Double(mask.pixels.filter { $0 == 255 }.count)
        XCTAssertEqual(filled, abs(twice) / 2, accuracy: 0.01 * abs(twice) / 2)
        XCTAssertEqual(landmarkHullMask(landmarksInFace: inFace, size: 0).pixels.count, 0)
    }
}

/// Gaussian blur of an 8-bit image for the ranking test, written independently of the library's:
/// a normalized kernel to 3 sigma, borders reflected, rounding once at the end.
func testGaussianBlur(_ image: Image, sigma: Double) -> Image {
    let radius = Int((3 * sigma).rounded(.up))
    var kernel = (-radius...radius).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
    let norm = kernel.reduce(0, +)
    for i in kernel.indices { kernel[i] /= norm }
    let w = image.width, h = image.height, c = image.channels
    func reflect(_ i: Int, _ n: Int) -> Int { var i = i; while i < 0 || i >= n { i = i < 0 ? -i - 1 : 2 * n - i - 1 }; return i }
    let xIndex = (-radius..<(w + radius)).map { reflect($0, w) }, yIndex = (-radius..<(h + radius)).map { reflect($0, h) }
    var rows = [Double](repeating: 0, count: w * h * c)
    var out = image
    kernel.withUnsafeBufferPointer { kern in
        image.pixels.withUnsafeBufferPointer { src in
            rows.withUnsafeMutableBufferPointer { rows in
                for y in 0..<h { for x in 0..<w { for k in 0..<c {
                    var acc = 0.0
                    for d in 0...(2 * radius) { acc += kern[d] * Double(src[(y * w + xIndex[x + d]) * c + k]) }
                    rows[(y * w + x) * c + k] = acc
                } } }
            }
        }
        rows.withUnsafeBufferPointer { rows in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for y in 0..<h { for x in 0..<w { for k in 0..<c {
                    var acc = 0.0
                    for d in 0...(2 * radius) { acc += kern[d] * rows[(yIndex[y + d] * w + x) * c + k] }
                    dst[(y * w + x) * c + k] = UInt8(max(0, min(255, acc.rounded())))
                } } }
            }
        }
    }
    return out
}
