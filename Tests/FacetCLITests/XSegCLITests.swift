/// `facet xseg train|apply`, `facet train --mask xseg` and `facet merge --mask xseg` as a user runs them, on the dst
/// sample video with an occluder drawn over the mouth in every other frame, labelled through the project's labels.
import XCTest
import Foundation
import FacetCore
import FacetStore
import FacetTestSupport

final class XSegCLITests: CLITestCase {
    /// The labels a user would draw on frame `f`'s face: the landmark hull included, the occluder's box excluded,
    /// in crop pixels.
    func polygons(frame f: Int) -> [MaskPolygon] {
        let row = MergeFixture.rows.first { $0.frame == f }!
        var out = [MaskPolygon(kind: .include, points: row.landmarks.points.map { row.matrix.apply($0) })]
        if let b = OccludedFixture.occluder(frame: f) {
            let corners = [(b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1)]
            out.append(MaskPolygon(kind: .exclude, points: corners.map {
                row.matrix.apply(Point2(Double($0.0) - 0.5, Double($0.1) - 0.5))
            }).clamped(to: 256))
        }
        return out
    }

    func testTrainApplyAndUseTheSegmenter() throws {
        let file = path("o.facet")
        let p = try OccludedFixture.makeProject(at: file, source: true)
        let faces = try p.faces(matching: FaceQuery(role: .dst))
        let byFrame = Dictionary(uniqueKeysWithValues: faces.map { ($0.frameIndex, $0.id) })
        let labelled = [0, 8, 16, 24, 32, 40, 5, 23, 41, 57]
        _ = try p.setMaskPolygons(labelled.map { (byFrame[$0]!, polygons(frame: $0)) }, command: "test labels")
        try p.close()

        // Before any segmenter: one line each, nothing written.
        assertFailsCleanly(try facet(["xseg", "apply", file]), mentioning: "has no xseg model 'xseg'")
        assertFailsCleanly(try facet(["train", file, "--model", "tiny", "--mask", "xseg", "--iterations", "1"]),
                           mentioning: "have no predicted mask")
        let untouched = try Project(path: file)
        XCTAssertTrue(try untouched.models().isEmpty)
        XCTAssertEqual(try untouched.predictedMaskCount(), 0)
        try untouched.close()

        let t = try facet(["xseg", "train", file, "--iterations", "30", "--resolution", "64", "--batch", "4"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stderr.contains("8 labelled faces + 2 held out"), t.stderr)
        XCTAssertTrue(t.stdout.contains("segmenter 'xseg' checkpoint #"), t.stdout)
        XCTAssertTrue(t.stdout.contains("at iteration 30, held-out IoU"), t.stdout)
        // Resumable: a second run carries on to the new target.
        let t2 = try facet(["xseg", "train", file, "--iterations", "35"])
        XCTAssertEqual(t2.status, 0, t2.stderr)
        XCTAssertTrue(t2.stderr.contains("resuming segmenter 'xseg'"), t2.stderr)
        XCTAssertTrue(t2.stdout.contains("at iteration 35"), t2.stdout)
        let listing = try facet(["checkpoints", file])
        XCTAssertEqual(listing.status, 0, listing.stderr)
        XCTAssertTrue(listing.stdout.contains("xseg"), listing.stdout)

        let a = try facet(["xseg", "apply", file, "--role", "dst"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("50 faces predicted, 10 labelled faces given their drawn mask, 0 already"),
                      a.stdout)
        let again = try facet(["xseg", "apply", file, "--role", "dst"])
        XCTAssertTrue(again.stdout.contains("0 faces predicted, 0 labelled faces given their drawn mask, 60 already"),
                      again.stdout)
        // A relabelled face is done again, and only it.
        let q = try Project(path: file)
        _ = try q.setMaskPolygons(faceID: byFrame[8]!, polygons: polygons(frame: 8).reversed(), command: "relabel")
        try q.close()
        let third = try facet(["xseg", "apply", file, "--role", "dst"])
        XCTAssertTrue(third.stdout.contains("0 faces predicted, 1 labelled faces given their drawn mask, 59 already"),
                      third.stdout)

        // Training with the xseg mask needs every face's: the src faces have none yet.
        assertFailsCleanly(try facet(["train", file, "--model", "tiny", "--mask", "xseg", "--iterations", "1"]),
                           mentioning: "src faces to train on have no predicted mask")
        XCTAssertEqual(try facet(["xseg", "apply", file]).status, 0)
        let train = try facet(["train", file, "--model", "tiny", "--mask", "xseg", "--iterations", "2", "--batch", "4",
                               "--no-score"])
        XCTAssertEqual(train.status, 0, train.stderr)
        let merge = try facet(["merge", file, "--checkpoint", "tiny:latest", "--mask", "xseg", "--frames", "10..12",
                               "--no-score", "--out", path("o.mp4")])
        XCTAssertEqual(merge.status, 0, merge.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("o.mp4")))
    }
}
