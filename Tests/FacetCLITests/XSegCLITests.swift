/// `facet xseg train|apply`, `facet train --mask xseg` and `facet merge --mask xseg` as a user runs them, on the dst
/// sample video with an occluder drawn over the mouth in every other frame, labelled through the project's labels.
import XCTest
import Foundation
import FacetCore
import FacetMedia
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
        // The held-out IoU has a column (and a JSON field) of its own, the one training printed, 1 - val_loss.
        let json = try facet(["checkpoints", file, "--json"])
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let last = try XCTUnwrap((listed["checkpoints"] as? [[String: Any]])?.last)
        let iou = try XCTUnwrap(last["iou"] as? Double), valLoss = try XCTUnwrap(last["val_loss"] as? Double)
        XCTAssertEqual(iou, 1 - valLoss, accuracy: 1e-12)
        XCTAssertTrue(t2.stdout.contains(String(format: "held-out IoU %.3f", iou)), t2.stdout)
        XCTAssertTrue(listing.stdout.contains(" val_iou "), listing.stdout)
        let row = try XCTUnwrap(listing.stdout.split(separator: "\n").first { $0.hasPrefix("\(last["id"]!) ") })
        XCTAssertTrue(row.contains(String(format: " %.4f ", iou)), String(row))
        XCTAssertTrue(listing.stdout.contains("(by held-out IoU)"), listing.stdout)

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

        // --export: drawn where labelled, predicted elsewhere. Frame 0's labels are cleared after the last apply:
        // its stored mask is its old drawing, not a prediction, so it gets no file, like every src face (none applied).
        let clear = try Project(path: file)
        _ = try clear.setMaskPolygons(faceID: byFrame[0]!, polygons: [], command: "clear")
        try clear.close()
        let out = path("masks")
        let e = try facet(["mask", file, "--export", out])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.hasPrefix("wrote 59 masks to \(out) (9 from labels, 50 predicted); 31 faces with "
                                         + "neither labels nor a predicted mask got no file"), e.stdout)
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: out))
        XCTAssertEqual(files.count, 59)
        XCTAssertFalse(files.contains("f\(byFrame[0]!).png"))
        let stored = try Project(path: file, mode: .readOnly)
        func exported(_ id: Int64) throws -> Image {
            try PNGCodec.decode(try Data(contentsOf: URL(fileURLWithPath: out + "/f\(id).png")))
        }
        // A labelled face (frame 8, relabelled): its labels rasterized at the crop's size.
        let id8 = byFrame[8]!
        let drawn = try exported(id8)
        XCTAssertEqual([drawn.width, drawn.height, drawn.channels], [256, 256, 1])
        XCTAssertEqual(drawn.pixels, MaskPolygon.rasterize(try XCTUnwrap(try stored.maskPolygons(faceIDs: [id8])[id8]),
                                                           width: 256, height: 256))
        // Unlabelled occluded faces: the stored prediction (64 px) scaled to the 256 px crop (bilinear); averaged
        // back down over 4x4 blocks it is the stored mask within a few grey levels (the two filters together soften
        // its edges a little: 3.4 levels on average measured on frame 10).
        for f in [2, 10, 44] {
            let id = byFrame[f]!
            let m = try XCTUnwrap(try stored.predictedMask(faceID: id))
            XCTAssertEqual(m.labelRevision, "", "a prediction")
            let prediction = try PNGCodec.decode(m.png), mask = try exported(id)
            XCTAssertEqual([mask.width, mask.height, mask.channels], [256, 256, 1])
            XCTAssertEqual(mask.pixels, prediction.resized(width: 256, height: 256).pixels)
            let back = mask.resized(width: 64, height: 64, filter: .area)
            let diff = zip(back.pixels, prediction.pixels).map { abs(Int($0) - Int($1)) }
            XCTAssertLessThan(Double(diff.reduce(0, +)) / Double(diff.count), 6, "frame \(f)")
            XCTAssertGreaterThan(Set(prediction.pixels).count, 8, "a real prediction, not a flat mask")
        }
        try stored.close()

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
