/// Sorts over a store of synthetic faces: bad `--where` input, ties in the hist chain, saved orderings and sort specs.
import XCTest
import FacetCore
import FacetStore
@testable import FacetCurate

final class SortSpecTests: CurateTestCase {
    func testBadSQLExpressionIsAClearErrorAndChangesNothing() throws {
        let p = try projectWithFaces(10)
        for bad in ["blur <", "1; DELETE FROM face", "no_such_column > 3"] {
            XCTAssertThrowsError(try p.sortedFaceIDs(matching: FaceQuery(whereSQL: bad), by: .hist(reversed: false))) { e in
                XCTAssertTrue(e is FacetError, "\(e)")
                XCTAssertTrue("\(e)".hasPrefix("where \""), "\(e)")
                XCTAssertEqual((e as? FacetError)?.setting, "where")
            }
        }
        XCTAssertEqual(try p.countFaces(matching: FaceQuery()), 10)
    }

    /// One-hot histograms make many exact ties: the chain must break them as the definition does
    /// (the earliest position in the current list wins).
    func testHistChainBreaksTiesLikeTheDefinition() throws {
        let p = try projectWithFaces(60)
        let ids = try p.faceIDs(matching: FaceQuery())
        let h = try p.histograms(faceIDs: ids)
        var list = ids
        for i in 0..<(list.count - 1) {
            var best = Double.infinity, jMin = i + 1
            for j in (i + 1)..<list.count {
                let d = histogramDistance(h[list[i]]!, h[list[j]]!)
                if d < best { best = d; jMin = j }
            }
            list.swapAt(i + 1, jMin)
        }
        XCTAssertEqual(try p.sortedFaceIDs(matching: FaceQuery(), by: .hist(reversed: false)), list)
    }

    func testSavedOrderingsAndSortParsing() throws {
        let p = try projectWithFaces(25)
        let order = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: CurationSort(parsing: "-blur")!)
        try p.saveOrdering(name: "sharp", role: .src, sort: CurationSort(parsing: "-blur")!, faceIDs: order)
        XCTAssertEqual(try p.orderingFaceIDs(name: "sharp"), order)
        XCTAssertEqual(try p.sortedFaceIDs(matching: FaceQuery(whereSQL: "id <= 10"), by: .ordering("sharp")), order.filter { $0 <= 10 })
        let info = try XCTUnwrap(try p.orderings().first)
        XCTAssertEqual(info.name, "sharp"); XCTAssertEqual(info.faces, 25); XCTAssertEqual(info.sortSpec, "-blur")
        XCTAssertThrowsError(try p.orderingFaceIDs(name: "nope")) { e in XCTAssertTrue("\(e)".contains("no ordering named 'nope' (saved: sharp)"), "\(e)") }
        XCTAssertEqual(CurationSort(parsing: "best 12"), .best(12))
        XCTAssertEqual(CurationSort(parsing: "hist_dissim"), .histDissim(reversed: false))
        XCTAssertEqual(CurationSort(parsing: "-motion-blur"), .column(FaceSort(.motionBlur, descending: true)))
        XCTAssertNil(CurationSort(parsing: "best:0"))
        XCTAssertNil(CurationSort(parsing: "sideways"))
    }
}

extension CurateTestCase {
    /// A face whose signatures are simple functions of `k` (one-hot histograms: many exact ties).
    func syntheticFace(_ k: Int, faceIndex: Int = 0) -> NewFace {
        let lm = Landmarks68(points: (0..<68).map { Point2(Double($0 + k), Double($0 * 2)) })
        var hist = [Float](repeating: 0, count: 768)
        hist[k % 256] = 1; hist[256 + (k * 7) % 256] = 1; hist[512 + (k * 13) % 256] = 1
        let d = Double(k)
        return NewFace(faceIndex: faceIndex, score: 0.9 + d / 1000, box: (d, d, 50, 60),
                       points5: [Point2(1, 2), Point2(3, 4), Point2(5, 6), Point2(7, 8), Point2(9, 10)],
                       landmarks: lm, matrix: Affine2D(a: 1, b: 0, tx: -d, c: 0, d: 1, ty: 0), faceType: "full", cropSize: 64,
                       cropFormat: "jpeg", crop: Data([0xFF, 0xD8, UInt8(k % 256)]), histogram: hist,
                       blur: Double((k * 37) % 101), motionBlur: Double((k * 53) % 97), yaw: Double((k * 11) % 61) - 30,
                       pitch: Double((k * 17) % 41) - 20, roll: Double((k * 5) % 21) - 10, brightness: Double((k * 29) % 255),
                       hue: Double((k * 31) % 360), faceSize: Double(40 + (k * 19) % 200))
    }

    /// A project with `n` synthetic faces over the frames of one src media (a second face on every 10th frame).
    func projectWithFaces(_ n: Int) throws -> Project {
        let p = try Project.create(at: path("faces.facet"))
        let m = MediaRecord(role: .src, name: "clip.mp4", kind: "video", storage: "linked", path: "/nowhere/clip.mp4",
                            sha256: UUID().uuidString, byteSize: 10, container: "mp4", codec: "h264", width: 64, height: 64,
                            fps: 30, frameCount: 100, duration: 3.3, hasAudio: false)
        let media = try XCTUnwrap(try p.importMedia(m) { nil }.id)
        let run = try p.beginExtraction(ExtractionProvenance(role: .src, detector: "test", detectorSHA256: "0", landmarker: "test",
                                                             landmarkerSHA256: "0", optionsJSON: "{}"))
        var frames: [ExtractedFrame] = []
        var k = 0
        for i in 0..<n where k < n {
            var faces = [syntheticFace(k)]; k += 1
            if i % 10 == 9 && k < n { faces.append(syntheticFace(k, faceIndex: 1)); k += 1 }
            frames.append(ExtractedFrame(mediaId: media, frameIndex: i, pts: Double(i) / 30, faces: faces))
        }
        try p.storeFrames(frames, extractionId: run, role: .src)
        return p
    }
}
