/// The face page's "similar faces" panel over HTTP, on faces cut from a sample video: the k nearest
/// by the histogram distance computed here from its definition, links that open, rejected faces
/// marked, and a face added while the server runs showing up.
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FacetCore
import FacetStore
import FacetTestSupport
@testable import FacetCurate
@testable import FacetServe

final class SimilarPanelTests: XCTestCase {
    var served: ServedProject!
    var project: Project { served.project }

    override func setUp() async throws {
        served = try await ServedProject(prefix: "similar-", file: "s.facet") { project in
            try SampleFaces.fill(project, role: .src, videos: [ServedProject.fixtures + "/video/src-d18.mp4"], count: 90, cropSize: 48, framesPerVideo: 30, seed: 21)
            try SampleFaces.fill(project, role: .dst, videos: [ServedProject.fixtures + "/video/dst-d19.mp4"], count: 30, cropSize: 48, framesPerVideo: 10, seed: 22)
        }
    }

    override func tearDown() async throws { await served?.stop() }

    func get(_ path: String) async throws -> (Int, String) {
        let r = try await served.request(path)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    /// (id, distance) of every tile in the panel, in page order.
    func panel(_ html: String) throws -> [(Int64, Double)] {
        let section = try XCTUnwrap(html.range(of: "<section id=\"similar\">").map { String(html[$0.lowerBound...]) }, "no panel")
        let re = try NSRegularExpression(pattern: "id=\"similar-(\\d+)\" data-rank=\"\\d+\" data-distance=\"([0-9.]+)\"")
        return re.matches(in: section, range: NSRange(section.startIndex..., in: section)).map { m in
            (Int64(section[Range(m.range(at: 1), in: section)!])!, Double(section[Range(m.range(at: 2), in: section)!])!)
        }
    }

    /// Every other face of `role` by the definition's distance to `id`, nearest first, ties by id.
    func expectedNearest(_ id: Int64, role: Role) throws -> [(Int64, Double)] {
        let ids = try project.faceIDs(matching: FaceQuery(role: role))
        let hist = try project.histograms(faceIDs: ids)
        return ids.filter { $0 != id }.map { ($0, Self.distance(hist[id]!, hist[$0]!)) }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
    }

    /// OpenCV's HISTCMP_BHATTACHARYYA per channel, summed, written out here.
    static func distance(_ a: [Float], _ b: [Float]) -> Double {
        var total = 0.0
        for c in 0..<3 {
            var bc = 0.0, s1 = 0.0, s2 = 0.0
            for k in (c * 256)..<(c * 256 + 256) { bc += (Double(a[k]) * Double(b[k])).squareRoot(); s1 += Double(a[k]); s2 += Double(b[k]) }
            total += max(1 - bc / (s1 * s2).squareRoot(), 0).squareRoot()
        }
        return total
    }

    func testPanelShowsTheNearestFacesOfTheSameRoleWithDistancesAndLinks() async throws {
        let k = Gallery.similarCount
        for id in [Int64(1), 45, 90, 100] {
            let role = try project.face(id: id).role
            let (code, html) = try await get("/face/\(id)")
            XCTAssertEqual(code, 200)
            let got = try panel(html)
            let expected = Array(try expectedNearest(id, role: role).prefix(k))
            XCTAssertEqual(got.map(\.0), expected.map(\.0), "face \(id)")
            for (g, e) in zip(got, expected) { XCTAssertEqual(g.1, e.1, accuracy: 1e-6) }
            XCTAssertEqual(got.map(\.1), got.map(\.1).sorted(), "nearest first")
            XCTAssertTrue(html.contains("href=\"/face/\(got[0].0)\""))
            XCTAssertTrue(html.contains("src=\"/crop/\(got[0].0)\""))
            // Only faces of the face's own role.
            let roles = Set(try got.map { try project.face(id: $0.0).role })
            XCTAssertEqual(roles, [role])
        }
        // The links open the neighbours' own pages, which have panels of their own.
        let (_, page1) = try await get("/face/1")
        let first = try panel(page1)[0].0
        let (code, neighbour) = try await get("/face/\(first)")
        XCTAssertEqual(code, 200)
        XCTAssertTrue(neighbour.contains("<h1>face \(first)</h1>"))
        XCTAssertEqual(try panel(neighbour).count, k)
    }

    func testRejectedNeighboursAreMarkedAndNewFacesAppear() async throws {
        let (_, before) = try await get("/face/10")
        let near = try panel(before)
        let second = near[1].0
        _ = try project.setStatus(.rejected, faceIDs: [second], command: "test")
        let (_, after) = try await get("/face/10")
        XCTAssertEqual(try panel(after).map(\.0), near.map(\.0), "rejecting changes no distance")
        XCTAssertTrue(after.contains("id=\"similar-\(second)\" data-rank=\"2\""))
        let tile = try XCTUnwrap(after.range(of: "<figure class=\"face rejected\" id=\"similar-\(second)\""), "rejected tile marked")
        XCTAssertTrue(after[tile.upperBound...].prefix(400).contains("rejected</figcaption>"))

        // A copy of face 10 (same histogram) added while the server runs is its nearest, at distance 0.
        let f = try project.face(id: 10)
        let h = try XCTUnwrap(try project.histograms(faceIDs: [10])[10])
        let crop = try project.faceCrop(id: 10)
        let run = try project.beginExtraction(ExtractionProvenance(role: .src, detector: "test", detectorSHA256: "-", landmarker: "test", landmarkerSHA256: "-", optionsJSON: "{}"))
        var copy = NewFace(faceIndex: 0, score: f.score, box: (f.boxX, f.boxY, f.boxW, f.boxH), points5: [], landmarks: f.landmarks68!,
                           matrix: f.imageToFace, faceType: f.faceType, cropSize: f.cropSize, cropFormat: crop.format, crop: crop.data,
                           histogram: h, blur: f.blur, motionBlur: f.motionBlur, yaw: f.yaw, pitch: f.pitch, roll: f.roll,
                           brightness: f.brightness, hue: f.hue, faceSize: f.faceSize)
        // As if it came from a DeepFaceLab file: its face page names the file and the frame it was cut from.
        var origin = FaceOrigin(tool: "dfl", fileName: "00042.jpg")
        origin.sourceFilename = "00043<b>.png"
        copy.origin = origin
        try project.storeFrames([ExtractedFrame(mediaId: f.mediaId, frameIndex: 50_000, pts: 0, faces: [copy])], extractionId: run, role: .src)
        let copyID = try XCTUnwrap(try project.faceIDs(matching: FaceQuery(whereSQL: "frame_index = 50000")).first)
        let (_, copyPage) = try await get("/face/\(copyID)")
        XCTAssertTrue(copyPage.contains("<tr><th>imported from</th><td>DeepFaceLab file 00042.jpg</td></tr>"))
        XCTAssertTrue(copyPage.contains("<tr><th>source frame</th><td>00043&lt;b&gt;.png</td></tr>"), "escaped")
        let (_, withCopy) = try await get("/face/10")
        let now = try panel(withCopy)
        XCTAssertEqual(now.first?.0, copyID)
        XCTAssertEqual(now.first?.1, 0)
        XCTAssertEqual(Array(now.dropFirst().map(\.0)), Array(near.prefix(Gallery.similarCount - 1).map(\.0)))
    }
}
