/// The face page's track strip over HTTP: a face's track as thumbnails around it in frame order, the
/// face outlined, filled faces marked; a face without a track says how to build them.
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

final class TrackPanelTests: XCTestCase {
    var served: ServedProject!
    var project: Project { served.project }

    override func setUp() async throws {
        served = try await ServedProject(prefix: "track-", file: "t.facet") { project in
            try SampleFaces.fill(project, role: .dst, videos: [ServedProject.fixtures + "/video/dst-d19.mp4"], count: 30, cropSize: 48, framesPerVideo: 30, seed: 5)
            try SampleFaces.fill(project, role: .src, videos: [ServedProject.fixtures + "/video/src-d18.mp4"], count: 4, cropSize: 48, framesPerVideo: 4, seed: 6)
        }
    }

    override func tearDown() async throws { await served?.stop() }

    func testFacePageShowsItsTrackAsAStrip() async throws {
        let faces = try project.faces(matching: FaceQuery(role: .dst, sort: [FaceSort(.frameIndex), FaceSort(.id)]))
        // One face per frame, as a track has; the stored crops and landmarks stand in for the smoothed ones.
        var seen = Set<Int>()
        let members = faces.filter { seen.insert($0.frameIndex).inserted }
        XCTAssertGreaterThan(members.count, 20)
        let media = members[0].mediaId
        try project.saveTracks(role: .dst, mediaId: media, tracks: [PlannedTrack(
            mediaId: media, members: members.map { TrackMember(faceId: $0.id, frameIndex: $0.frameIndex, smoothedLandmarks: $0.landmarks68!, smoothedMatrix: $0.imageToFace) },
            gaps: 0, endsAtCut: false, jitterRaw: 0.02, jitterSmoothed: 0.005, smoothing: 1)])
        let middle = members[members.count / 2]
        let r = try await served.request("/face/\(middle.id)")
        XCTAssertEqual(r.status, 200)
        let html = String(decoding: r.body, as: UTF8.self)
        let section = try XCTUnwrap(html.range(of: "<section id=\"track\">").map { String(html[$0.lowerBound...]) })
        let re = try NSRegularExpression(pattern: "id=\"track-(\\d+)\" data-frame=\"(\\d+)\"")
        let tiles = re.matches(in: section, range: NSRange(section.startIndex..., in: section)).map { m in
            (Int64(section[Range(m.range(at: 1), in: section)!])!, Int(section[Range(m.range(at: 2), in: section)!])!)
        }
        let at = members.count / 2
        let expected = members[max(0, at - Gallery.trackReach)...min(members.count - 1, at + Gallery.trackReach)]
        XCTAssertEqual(tiles.map(\.0), expected.map(\.id))
        XCTAssertEqual(tiles.map(\.1), expected.map(\.frameIndex), "in frame order")
        XCTAssertTrue(section.contains("0.0200 raw"), "the track's jitter is shown")
        XCTAssertTrue(section.contains("id=\"track-\(middle.id)\" data-frame=\"\(middle.frameIndex)\" style=\"outline"), "the face itself is outlined")
        // A src face has no track: the panel says how to build them.
        let src = try XCTUnwrap(try project.faces(matching: FaceQuery(role: .src)).first)
        let page = String(decoding: try await served.request("/face/\(src.id)").body, as: UTF8.self)
        XCTAssertTrue(page.contains("facet tracks PROJECT --role src"), page)
    }
}
