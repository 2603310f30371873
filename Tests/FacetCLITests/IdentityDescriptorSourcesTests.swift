/// Where descriptors come from, through the real binary: `facet embed` killed inside a batch carries
/// on to the descriptors an uninterrupted run stores; `import-faces` stores the descriptor `detect`
/// prints for the same image; `detect --json` prints dlib's descriptor (128 floats, near the one
/// dlib-bin computes for the same face: Tests/Fixtures/images/reference/face_descriptors.json).
import XCTest
import Foundation
import FacetCore
import FacetStore

final class IdentityDescriptorSourcesTests: CLITestCase {
    nonisolated(unsafe) static var undescribedTemplate: String?

    override class func tearDown() {
        removeTemplate(&undescribedTemplate)
        super.tearDown()
    }

    /// src-d18 (one person) extracted at 10 frames/s without descriptors: about 70 faces, one a frame.
    func undescribedProject(_ name: String) throws -> String {
        let project = path(name)
        try copyTemplate(&Self.undescribedTemplate, name: "identity-undescribed", to: project) { t in
            XCTAssertEqual(try facet(["init", t]).status, 0)
            XCTAssertEqual(try facet(["import", t, "--role", "src", Self.fixtures + "/video/src-d18.mp4"]).status, 0)
            let r = try facet(["extract", t, "--role", "src", "--fps", "10", "--size", "64", "--no-embed"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        return project
    }

    /// `facet` with extra environment variables (the CLI's test hooks).
    func facet(_ args: [String], environment: [String: String]) throws -> CommandResult {
        for (k, v) in environment { setenv(k, v, 1) }
        defer { for k in environment.keys { unsetenv(k) } }
        return try facet(args)
    }

    /// Face id -> stored descriptor (float16 widened), and the number of rows in face_embedding.
    func storedDescriptors(_ project: String) throws -> (byFace: [Int64: [Float]], rows: Int) {
        let p = try Project(path: project, mode: .readOnly)
        defer { try? p.close() }
        let m = try p.embeddingMatrix(matching: FaceQuery())
        var out: [Int64: [Float]] = [:]
        for (i, id) in m.ids.enumerated() { out[id] = m.row(i) }
        return (out, m.count)
    }

    func testEmbedKilledInsideABatchCarriesOnToTheUninterruptedDescriptors() throws {
        let killed = try undescribedProject("killed.facet")
        let whole = try undescribedProject("whole.facet")
        let p = try Project(path: killed, mode: .readOnly)
        let faces = try p.faces(matching: FaceQuery(role: .src))
        try p.close()
        XCTAssertGreaterThan(faces.count, 40)
        XCTAssertEqual(try storedDescriptors(killed).rows, 0, "extracted with --no-embed")

        // Batches of 4 frames; the process SIGKILLs itself halfway through writing the 3rd batch's rows.
        let r = try facet(["embed", killed, "--batch", "4"], environment: ["FACET_TEST_KILL_DURING_EMBED": "3"])
        XCTAssertEqual(r.status, SIGKILL, "killed by its own SIGKILL: \(r.stderr)")
        // Exactly the first two batches survive: the faces of the first 8 frames that have faces.
        let framesWithFaces = Array(Set(faces.map(\.frameIndex))).sorted()
        let firstEight = Set(framesWithFaces.prefix(8))
        let survived = try storedDescriptors(killed)
        XCTAssertEqual(Set(survived.byFace.keys), Set(faces.filter { firstEight.contains($0.frameIndex) }.map(\.id)),
                       "two whole batches, nothing of the third")
        XCTAssertEqual(try facet(["info", killed]).status, 0, "the project opens after the kill")

        let rerun = try facet(["embed", killed, "--batch", "4"])
        XCTAssertEqual(rerun.status, 0, rerun.stderr)
        XCTAssertTrue(rerun.stderr.contains("embed: \(faces.count - survived.rows) faces described (\(survived.rows) already had a descriptor)"), rerun.stderr)
        let uninterrupted = try facet(["embed", whole, "--batch", "4"])
        XCTAssertEqual(uninterrupted.status, 0, uninterrupted.stderr)
        XCTAssertTrue(uninterrupted.stderr.contains("embed: \(faces.count) faces described (0 already had a descriptor)"), uninterrupted.stderr)

        // Every face described exactly once, with the descriptor the uninterrupted run stored.
        let a = try storedDescriptors(killed), b = try storedDescriptors(whole)
        XCTAssertEqual(a.rows, faces.count)
        XCTAssertEqual(Set(a.byFace.keys), Set(faces.map(\.id)))
        XCTAssertEqual(Set(b.byFace.keys), Set(faces.map(\.id)))
        var worst = 0.0
        for f in faces { worst = max(worst, FaceEmbedding.distance(a.byFace[f.id]!, b.byFace[f.id]!)) }
        // Same frames, same batches, same network: equal up to float16 rounding at most.
        XCTAssertLessThan(worst, 1e-3)
        let again = try facet(["embed", killed])
        XCTAssertTrue(again.stderr.contains("embed: 0 faces described (\(faces.count) already had a descriptor)"), again.stderr)
    }

    /// detect --out writes the aligned face; import-faces of that folder and detect --json on the same
    /// file (at the minimum face size import-faces uses: a fifth of the side) find the same face, and
    /// the stored descriptor is the printed one to float16.
    func testImportFacesStoresTheDescriptorDetectPrintsForTheSameImage() throws {
        let aligned = path("aligned")
        let cut = try facet(["detect", Self.fixtures + "/images/reference/astronaut.png", "--out", aligned, "--size", "200"])
        XCTAssertEqual(cut.status, 0, cut.stderr)
        let file = aligned + "/astronaut_0.png"
        XCTAssertTrue(FileManager.default.fileExists(atPath: file))
        let d = try facet(["detect", file, "--json", "--min-face", "40"])
        XCTAssertEqual(d.status, 0, d.stderr)
        let detected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(detected.count, 1)
        let printed = try XCTUnwrap(detected.first?["embedding"] as? [NSNumber]).map(\.floatValue)
        let printedLandmarks = try XCTUnwrap(detected.first?["landmarks"] as? [[NSNumber]]).map { $0.map(\.doubleValue) }

        let project = path("imported.facet")
        XCTAssertEqual(try facet(["init", project]).status, 0)
        let r = try facet(["import-faces", project, "--role", "src", aligned])
        XCTAssertEqual(r.status, 0, r.stderr)
        let p = try Project(path: project, mode: .readOnly)
        let faces = try p.faces(matching: FaceQuery(role: .src))
        XCTAssertEqual(faces.count, 1)
        let stored = try XCTUnwrap(try p.embedding(faceId: faces[0].id), "import-faces stores a descriptor")
        let landmarks = try XCTUnwrap(try p.face(id: faces[0].id).landmarks68)
        try p.close()
        for (k, pt) in landmarks.points.enumerated() {
            XCTAssertEqual(pt.x, printedLandmarks[k][0], accuracy: 1e-3, "point \(k)")
            XCTAssertEqual(pt.y, printedLandmarks[k][1], accuracy: 1e-3, "point \(k)")
        }
        XCTAssertEqual(printed.count, 128)
        for k in 0..<128 {
            // float16 keeps 11 significant bits: a component of magnitude under 0.5 is off by at most 2^-12.
            XCTAssertEqual(stored[k], printed[k], accuracy: max(abs(printed[k]) / 1024, 1e-4), "component \(k)")
        }
        XCTAssertLessThan(FaceEmbedding.distance(stored, printed), 2e-3)
    }

    /// detect --json prints the descriptor as 128 floats, and for the astronaut it is dlib's own
    /// (dlib-bin's compute_face_descriptor on dlib's own 68 points) up to the landmarks' difference:
    /// Facet fits its points in MTCNN's box, dlib in its HOG detector's, so the chips differ by a
    /// fraction of a pixel (measured 0.061; dlib's own descriptor of the same photo upscaled 3x is
    /// 0.051 from it). Of the 45 reference faces, dlib's two astronaut descriptors are the nearest,
    /// and every other face is at least 0.45 away (dlib's own nearest other face is 0.53 away).
    func testDetectJSONPrintsDlibsDescriptor() throws {
        let d = try facet(["detect", Self.fixtures + "/images/reference/astronaut.png", "--json"])
        XCTAssertEqual(d.status, 0, d.stderr)
        let detected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(d.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(detected.count, 1)
        let printed = try XCTUnwrap(detected[0]["embedding"] as? [NSNumber], "detect --json prints embedding").map(\.floatValue)
        XCTAssertEqual(printed.count, 128)
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/images/reference/face_descriptors.json"))) as? [String: Any])
        let faces = try XCTUnwrap(reference["faces"] as? [[String: Any]])
        func descriptor(_ f: [String: Any]) -> [Float] { (f["descriptor"] as! [NSNumber]).map(\.floatValue) }
        let dlibs = try XCTUnwrap(faces.first { ($0["image"] as? String) == "reference/astronaut.png" }).map(descriptor)!
        let toDlib = FaceEmbedding.distance(printed, dlibs)
        XCTAssertLessThan(toDlib, 0.1, "dlib's descriptor of the same face")
        for f in faces where !((f["image"] as? String) ?? "").hasPrefix("reference/astronaut") {
            XCTAssertGreaterThan(FaceEmbedding.distance(printed, descriptor(f)), 0.45, "\(f["image"] ?? "") is someone else")
        }
    }
}
