/// dlib's face-recognition network: descriptors against dlib's own (Tools/reference/face_descriptors.py),
/// the three sample videos' people told apart, and the model file's strict reader.
import FacetCore
import FacetMedia
@testable import FacetVision
import Foundation
import XCTest

enum RecognizerFixtures {
    /// One recognizer for all tests (the load parses 22 MB).
    private static let shared: Result<FaceRecognizer, Error> = Result { try FaceRecognizer() }

    /// The recognizer; a missing model skips the test, except on CI (`CI=true`), where Tools/test has
    /// run Tools/fetch-models and a missing model is a failure.
    static func recognizer() throws -> FaceRecognizer {
        switch shared {
        case .success(let r): return r
        case .failure(let error):
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("the face-recognition model is missing on CI: \(error)")
            }
            throw XCTSkip("face-recognition model absent (\(error)); run Tools/fetch-models to enable these tests")
        }
    }

    static let images = LandmarkTestData.path("images")

    /// An image of the fixture, `@x3` meaning each pixel replicated into a 3x3 block (as the reference script does).
    static func image(_ name: String) throws -> Image {
        let parts = name.components(separatedBy: "@x")
        let base = try ImageFile.read(path: images + "/" + parts[0]).rgb()
        guard parts.count == 2, let k = Int(parts[1]) else { return base }
        var big = Image(width: base.width * k, height: base.height * k, channels: 3)
        for y in 0..<big.height {
            for x in 0..<big.width {
                for c in 0..<3 { big[x, y, c] = base[x / k, y / k, c] }
            }
        }
        return big
    }

    struct Reference {
        var image: String
        var landmarks: Landmarks68
        var descriptor: [Float]
        var chipSHA256: String
        var chipMean: [Double]
    }

    static func references() throws -> (faces: [Reference], modelSHA256: String) {
        let url = URL(fileURLWithPath: images + "/reference/face_descriptors.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let faces = (json["faces"] as! [[String: Any]]).map { f in
            Reference(image: f["image"] as! String,
                      landmarks: Landmarks68(points: (f["landmarks"] as! [[Double]]).map { Point2($0[0], $0[1]) }),
                      descriptor: (f["descriptor"] as! [Double]).map(Float.init),
                      chipSHA256: f["chip_sha256"] as! String,
                      chipMean: f["chip_mean_rgb"] as! [Double])
        }
        return (faces, json["model_sha256"] as! String)
    }
}

final class FaceRecognizerTests: XCTestCase {
    /// Every face of the reference: the descriptor from dlib's 68 points within L2 0.01 of dlib's
    /// own, and the chip close to dlib's (identical bytes for most faces).
    func testDescriptorsMatchDlib() throws {
        let recognizer = try RecognizerFixtures.recognizer()
        let (faces, sha) = try RecognizerFixtures.references()
        XCTAssertEqual(recognizer.sha256, sha, "the reference was made with another model file")
        XCTAssertEqual(recognizer.sha256, ModelFiles.faceRecognizerSHA256)
        XCTAssertEqual(faces.count, 45)
        var worst = 0.0, worstName = "", sameChips = 0, worstMean = 0.0
        var byImage: [String: [Int]] = [:]
        for (i, f) in faces.enumerated() { byImage[f.image, default: []].append(i) }
        for (name, indices) in byImage.sorted(by: { $0.key < $1.key }) {
            let image = try RecognizerFixtures.image(name)
            let landmarks = indices.map { faces[$0].landmarks }
            let got = recognizer.descriptors(image: image, faces: landmarks)
            let chips = FaceRecognizer.chips(image: image, faces: landmarks)
            for (k, i) in indices.enumerated() {
                let d = Double(FaceRecognizer.distance(got[k], faces[i].descriptor))
                XCTAssertLessThan(d, 0.01, "\(name) face \(k): L2 \(d) from dlib's descriptor")
                if d > worst { worst = d; worstName = "\(name) face \(k)" }
                if SHA256.hex(of: Data(chips[k].pixels)) == faces[i].chipSHA256 { sameChips += 1 }
                for c in 0..<3 {
                    var sum = 0.0
                    for p in 0..<(150 * 150) { sum += Double(chips[k].pixels[3 * p + c]) }
                    worstMean = max(worstMean, abs(sum / 22_500 - faces[i].chipMean[c]))
                }
            }
        }
        print("FaceRecognizer vs dlib: max L2 \(worst) (\(worstName)) over \(faces.count) faces; \(sameChips) chips byte-identical, max channel-mean difference \(worstMean)")
        XCTAssertLessThan(worstMean, 0.5, "chips differ from dlib's get_face_chip")
    }

    /// A few frames of each sample video (three different people): same-person distances below 0.6,
    /// other people's above.
    func testSampleVideosSeparateThePeople() throws {
        let recognizer = try RecognizerFixtures.recognizer()
        let pipeline = FacePipeline(detector: try MTCNNFixtures.detector(), shapePredictor: try LandmarkTestData.predictor())
        var people: [[[Float]]] = []
        for video in ["src-d18", "dst-d19", "extra-d20"] {
            let decoder = try VideoDecoder(path: LandmarkTestData.path("video/\(video).mp4"))
            var descriptors: [[Float]] = []
            try decoder.forEachFrame { frame in
                if frame.index % 40 == 0, let face = pipeline.faces(in: frame.image, maxFaces: 1).first {
                    descriptors += recognizer.descriptors(image: frame.image, faces: [face.landmarks])
                }
                return descriptors.count < 4
            }
            XCTAssertEqual(descriptors.count, 4, "\(video): faces in 4 sampled frames")
            people.append(descriptors)
        }
        var sameMax: Float = 0, otherMin: Float = .infinity
        for (p, a) in people.enumerated() {
            for (q, b) in people.enumerated() where q >= p {
                for (i, x) in a.enumerated() {
                    for (j, y) in b.enumerated() where p != q || j > i {
                        let d = FaceRecognizer.distance(x, y)
                        if p == q { sameMax = max(sameMax, d) } else { otherMin = min(otherMin, d) }
                    }
                }
            }
        }
        print("sample videos: same person at most \(sameMax), different people at least \(otherMin)")
        XCTAssertLessThan(sameMax, FaceRecognizer.samePersonThreshold)
        XCTAssertGreaterThan(otherMin, FaceRecognizer.samePersonThreshold)
    }

    /// A truncated model, the shape predictor, and bytes that are no dlib file: one line naming the file.
    func testRejectsFilesThatAreNotTheNetwork() throws {
        let recognizer = try RecognizerFixtures.recognizer()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: recognizer.path))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("facet-recognizer-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var cases: [(String, Data, String)] = [
            ("half.dat", bytes.prefix(bytes.count / 2), "truncated"),
            ("short.dat", bytes.prefix(bytes.count - 1), "truncated"),
            ("long.dat", bytes + Data([0]), "unexpected bytes after the network"),
            ("text.dat", Data("not a model".utf8), "not dlib's face-recognition network"),
            ("empty.dat", Data(), "truncated"),
        ]
        var flipped = bytes
        flipped[40] ^= 0x40    // inside the first layer headers
        cases.append(("flipped.dat", flipped, "not dlib's face-recognition network"))
        for (name, data, expected) in cases {
            let path = dir.appendingPathComponent(name).path
            try data.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try FaceRecognizer(path: path), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(path), "\(name): \(message)")
                XCTAssertTrue(message.contains(expected), "\(name): \(message)")
                XCTAssertFalse(message.contains("\n"), "\(name): \(message)")
            }
        }
        if FileManager.default.fileExists(atPath: LandmarkTestData.modelPath) {
            XCTAssertThrowsError(try FaceRecognizer(path: LandmarkTestData.modelPath)) { error in
                XCTAssertTrue("\(error)".contains("not dlib's face-recognition network"), "\(error)")
            }
        }
        XCTAssertThrowsError(try FaceRecognizer(path: dir.appendingPathComponent("absent.dat").path)) { error in
            XCTAssertTrue("\(error)".contains("absent.dat"), "\(error)")
        }
    }

    /// dlib's chip geometry for a face: the rectangle's size is the chip's scale, the angle the eyes' tilt.
    func testChipDetailsFollowTheFace() throws {
        let (faces, _) = try RecognizerFixtures.references()
        let face = faces[0].landmarks
        let d = FaceChipDetails(landmarks: face)
        // Rotating the landmarks by 0.3 rad about a point rotates the chip by the same angle.
        let c = Point2(200, 150), a = 0.3
        let turned = Landmarks68(points: face.points.map { p in
            Point2(c.x + cos(a) * (p.x - c.x) - sin(a) * (p.y - c.y), c.y + sin(a) * (p.x - c.x) + cos(a) * (p.y - c.y))
        })
        let e = FaceChipDetails(landmarks: turned)
        XCTAssertEqual(e.angle - d.angle, a, accuracy: 0.03)
        XCTAssertEqual(e.right - e.left, d.right - d.left, accuracy: 0.05 * (d.right - d.left))
        XCTAssertEqual(d.right - d.left, d.bottom - d.top, accuracy: 1e-9)
        // Degenerate landmarks (all at one point, off the image, not numbers) give a black chip, no trap.
        let image = Image(width: 64, height: 48, channels: 3, pixels: [UInt8](repeating: 200, count: 64 * 48 * 3))
        for p in [Point2(10, 10), Point2(-1e6, 5e6), Point2(.nan, 3), Point2(.infinity, 0)] {
            let chip = extractFaceChip(from: image, details: FaceChipDetails(landmarks: Landmarks68(points: Array(repeating: p, count: 68))))
            XCTAssertEqual(chip.width, 150)
            if !p.x.isFinite || abs(p.x) > 1e5 { XCTAssertTrue(chip.pixels.allSatisfy { $0 == 0 }) }
        }
    }
}
