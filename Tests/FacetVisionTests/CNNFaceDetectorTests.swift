/// dlib's CNN face detector on Facet's engine: detections against dlib's own (Tools/reference/cnn_face_detections.py,
/// dlib-bin's `cnn_face_detection_model_v1`), the tiled pyramid's layout, and the model file's strict reader.
import FacetCore
import FacetMedia
@testable import FacetVision
import Foundation
import XCTest

enum CNNDetectorFixtures {
    private static let shared: Result<CNNFaceDetector, Error> = Result { try CNNFaceDetector() }

    /// The detector; a missing model skips the test, except on CI (`CI=true`), where it fails.
    static func detector() throws -> CNNFaceDetector {
        switch shared {
        case .success(let d): return d
        case .failure(let error):
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("the CNN face detector is missing on CI: \(error)")
            }
            throw XCTSkip("CNN face detector absent (\(error)); run Tools/fetch-models to enable these tests")
        }
    }

    struct Box { var left, top, right, bottom: Int; var confidence: Double }

    /// dlib's detections per image (paths relative to Tests/Fixtures/images).
    static func references() throws -> [String: [Box]] {
        let url = URL(fileURLWithPath: RecognizerFixtures.images + "/reference/cnn_face_detections.json")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        var out: [String: [Box]] = [:]
        for (name, list) in json["images"] as! [String: [[String: Any]]] {
            out[name] = list.map { Box(left: $0["left"] as! Int, top: $0["top"] as! Int, right: $0["right"] as! Int,
                                       bottom: $0["bottom"] as! Int, confidence: $0["confidence"] as! Double) }
        }
        return out
    }
}

final class CNNFaceDetectorTests: XCTestCase {
    /// Every fixture image but the 1986x1545 one (dlib's reference holds it too; Tools/bench detect
    /// runs it): the same faces as dlib, boxes within 2 px, confidences within 1e-3, none on the
    /// no-face images.
    func testDetectionsMatchDlib() throws {
        let detector = try CNNDetectorFixtures.detector()
        let refs = try CNNDetectorFixtures.references()
        XCTAssertGreaterThanOrEqual(refs.count, 17)
        var compared = 0, worstPixel = 0, worstConfidence = 0.0
        for name in refs.keys.sorted() where name != "multi/bald_guys.jpg" {
            let expected = refs[name]!
            let image = try ImageFile.read(path: RecognizerFixtures.images + "/" + name).rgb()
            let found = detector.detect(image)
            XCTAssertEqual(found.count, expected.count, "\(name): \(found) vs dlib \(expected)")
            if name.hasPrefix("noface/") { XCTAssertTrue(found.isEmpty, "\(name): \(found)") }
            for e in expected {
                guard let f = found.min(by: { abs($0.left - e.left) + abs($0.top - e.top) < abs($1.left - e.left) + abs($1.top - e.top) }) else { continue }
                XCTAssertLessThanOrEqual(abs(f.left - e.left), 2, "\(name): \(f) vs \(e)")
                XCTAssertLessThanOrEqual(abs(f.top - e.top), 2, "\(name): \(f) vs \(e)")
                XCTAssertLessThanOrEqual(abs(f.right - e.right), 2, "\(name): \(f) vs \(e)")
                XCTAssertLessThanOrEqual(abs(f.bottom - e.bottom), 2, "\(name): \(f) vs \(e)")
                XCTAssertEqual(f.confidence, e.confidence, accuracy: 1e-3, "\(name): \(f) vs \(e)")
                worstPixel = max(worstPixel, abs(f.left - e.left), abs(f.top - e.top), abs(f.right - e.right), abs(f.bottom - e.bottom))
                worstConfidence = max(worstConfidence, abs(f.confidence - e.confidence))
                compared += 1
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 10)
        print("CNN detector against dlib: \(compared) faces, largest side difference \(worstPixel) px, largest confidence difference \(worstConfidence)")
    }

    /// dlib's tiled layout for a 480x480 frame (pyramid_down<6>, padding 10, outer padding 11), as
    /// dlib 20.0's compute_tiled_image_pyramid_details places it: levels down the left, the rest
    /// back up on the right.
    func testTiledPyramidLayout() {
        let p = TiledPyramid(rows: 480, columns: 480, padding: 10, outerPadding: 11)
        XCTAssertEqual(p.columns, 502)
        XCTAssertEqual(p.rects[0], .init(left: 11, top: 11, right: 490, bottom: 490))
        XCTAssertEqual(p.rects[1], .init(left: 11, top: 501, right: 410, bottom: 900))
        for (a, b) in zip(p.rects, p.rects.dropFirst()) {
            XCTAssertEqual(b.width, TiledPyramid.down(a.width))
        }
        XCTAssertGreaterThan(p.rects.count, 8)
        for r in p.rects {
            XCTAssertTrue(r.left >= 0 && r.top >= 0 && r.right < p.columns && r.bottom < p.rows, "\(r) outside \(p.columns)x\(p.rows)")
        }
    }

    /// Images too small for the network's three unpadded convolutions give no face (not a trap).
    func testTinyImagesGiveNoFace() throws {
        let detector = try CNNDetectorFixtures.detector()
        for (w, h) in [(1, 1), (3, 3), (6, 6), (7, 40), (40, 7), (12, 12)] {
            XCTAssertEqual(detector.detect(Image(width: w, height: h, channels: 3)), [], "\(w)x\(h)")
        }
    }

    func testRejectsFilesThatAreNotTheDetector() throws {
        let detector = try CNNDetectorFixtures.detector()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: detector.path))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("facet-cnn-detector-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var cases: [(String, Data, String)] = [
            ("half.dat", bytes.prefix(bytes.count / 2), "truncated"),
            ("short.dat", bytes.prefix(bytes.count - 1), "truncated"),
            ("long.dat", bytes + Data([0]), "unexpected bytes after the network"),
            ("text.dat", Data("not a model".utf8), "not dlib's CNN face detector"),
            ("empty.dat", Data(), "truncated"),
        ]
        var flipped = bytes
        flipped[20] ^= 0x40
        cases.append(("flipped.dat", flipped, "not dlib's CNN face detector"))
        for (name, data, expected) in cases {
            let path = dir.appendingPathComponent(name).path
            try data.write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try CNNFaceDetector(path: path), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(path), "\(name): \(message)")
                XCTAssertTrue(message.contains(expected), "\(name): \(message)")
                XCTAssertFalse(message.contains("\n"), "\(name): \(message)")
            }
        }
        // The face-recognition network is a dlib DNN file too, but not this one.
        if let other = try? ModelFiles.faceRecognizer() {
            XCTAssertThrowsError(try CNNFaceDetector(path: other)) { error in
                XCTAssertTrue("\(error)".contains("not dlib's CNN face detector"), "\(error)")
            }
        }
    }
}
