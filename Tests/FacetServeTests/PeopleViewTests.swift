/// The gallery's identity views over HTTP: the people page (representative faces, counts, names
/// edited only with the CSRF token), the grid's person filter, and the face page's similar panel by
/// identity (histogram on request). Faces are crops of a sample video; their descriptors are drawn
/// around two persons' centres, so the right answers are known.
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

final class PeopleViewTests: XCTestCase {
    var served: ServedProject!
    var project: Project { served.project }
    /// Face id to the person it was drawn from (0 or 1).
    var truth: [Int64: Int] = [:]
    var descriptors: [Int64: [Float]] = [:]

    override func setUp() async throws {
        var truth: [Int64: Int] = [:], descriptors: [Int64: [Float]] = [:]
        served = try await ServedProject(prefix: "people-", file: "p.facet") { project in
            try SampleFaces.fill(project, role: .src, videos: [ServedProject.fixtures + "/video/src-d18.mp4"], count: 60, cropSize: 48, framesPerVideo: 20, seed: 31)
            var rng = SplitMix64(seed: 8)
            func draw(_ centre: [Float]?, _ spread: Double) -> [Float] {
                (0..<128).map { k in
                    let u = max(rng.unit(), 1e-12), v = rng.unit()
                    return (centre?[k] ?? 0) + Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v) * spread)
                }
            }
            let centres = [draw(nil, 0.06), draw(nil, 0.06)]
            let ids = try project.faceIDs(matching: FaceQuery(role: .src))
            for (i, id) in ids.enumerated() {
                truth[id] = i % 3 == 0 ? 1 : 0
                descriptors[id] = draw(centres[truth[id]!], 0.027)
            }
            try project.storeEmbeddings(ids.map { ($0, descriptors[$0]!) }, recognizer: RecognizerProvenance(name: "test", sha256: "0"))
            _ = try PeopleFinder.run(project, role: .src)
        }
        self.truth = truth
        self.descriptors = descriptors
    }

    override func tearDown() async throws { await served?.stop() }

    func get(_ path: String) async throws -> (Int, String) {
        let r = try await served.request(path)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    func testPeoplePageListsEachPersonAndNamesNeedTheToken() async throws {
        let persons = try project.persons(role: .src)
        XCTAssertEqual(persons.count, 2)
        let (status, html) = try await get("/people")
        XCTAssertEqual(status, 200)
        for p in persons {
            XCTAssertTrue(html.contains("id=\"person-\(p.id)\" data-faces=\"\(p.faceCount)\""), html)
            XCTAssertTrue(html.contains("src=\"/crop/\(p.representativeFaceId!)\""))
            XCTAssertTrue(html.contains("person=\(p.id)\">faces</a>"))
        }
        XCTAssertEqual(persons.map(\.faceCount).sorted(), [20, 40])
        let target = persons[0].id
        let (forbidden, _, _) = try await served.request("/person/\(target)/name", method: "POST", body: "name=alice&csrf=00")
        XCTAssertEqual(forbidden, 403)
        XCTAssertNil(try project.persons(role: .src)[0].name)
        let (ok, _, headers) = try await served.request("/person/\(target)/name", method: "POST", body: "name=%3Cb%3Ealice&csrf=\(served.gallery.csrfToken)")
        XCTAssertEqual(ok, 303)
        XCTAssertEqual(headers["Location"] as? String, "/people#person-\(target)")
        XCTAssertEqual(try project.persons(role: .src)[0].name, "<b>alice")
        let (_, after) = try await get("/people")
        XCTAssertTrue(after.contains("&lt;b&gt;alice"))
        XCTAssertFalse(after.contains("<b>alice"))
        let (unknown, _, _) = try await served.request("/person/999/name", method: "POST", body: "name=x&csrf=\(served.gallery.csrfToken)")
        XCTAssertEqual(unknown, 404)
    }

    func testGridFiltersByPerson() async throws {
        for p in try project.persons(role: .src) {
            let (status, html) = try await get("/faces?role=src&status=all&per=100&person=\(p.id)")
            XCTAssertEqual(status, 200)
            let re = try NSRegularExpression(pattern: "id=\"face-(\\d+)\"")
            let shown = re.matches(in: html, range: NSRange(html.startIndex..., in: html)).map { Int64(html[Range($0.range(at: 1), in: html)!])! }
            XCTAssertEqual(shown.count, p.faceCount)
            XCTAssertEqual(Set(shown.map { truth[$0]! }).count, 1, "one person's faces only")
            XCTAssertTrue(html.contains("<option value=\"\(p.id)\" selected>"))
        }
        let (bad, _) = try await get("/faces?role=src&person=x")
        XCTAssertEqual(bad, 400)
    }

    func testSimilarPanelIsByIdentityWithHistogramOnRequest() async throws {
        let id = try XCTUnwrap(truth.keys.min())
        let (_, html) = try await get("/face/\(id)")
        XCTAssertTrue(html.contains("<section id=\"similar\" data-by=\"identity\">"))
        let re = try NSRegularExpression(pattern: "id=\"similar-(\\d+)\" data-rank=\"\\d+\" data-distance=\"([0-9.]+)\"")
        let tiles = re.matches(in: html, range: NSRange(html.startIndex..., in: html)).map { m in
            (Int64(html[Range(m.range(at: 1), in: html)!])!, Double(html[Range(m.range(at: 2), in: html)!])!)
        }
        // The expected nearest, from the stored (float16) descriptors, by brute force.
        let stored = try project.embeddingMatrix(matching: FaceQuery(role: .src))
        let q = try XCTUnwrap(try project.embedding(faceId: id))
        let expected = stored.ids.enumerated().filter { $0.element != id }
            .map { ($0.element, FaceEmbedding.distance(q, stored.row($0.offset))) }
            .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }.prefix(Gallery.similarCount)
        XCTAssertEqual(tiles.map(\.0), expected.map(\.0))
        for (t, e) in zip(tiles, expected) { XCTAssertEqual(t.1, e.1, accuracy: 1e-6) }
        XCTAssertTrue(tiles.allSatisfy { truth[$0.0] == truth[id] }, "the nearest faces are the same person's")
        let (_, hist) = try await get("/face/\(id)?similar=histogram")
        XCTAssertFalse(hist.contains("data-by=\"identity\""))
        XCTAssertTrue(hist.contains("by histogram distance"))
        XCTAssertTrue(hist.contains("id=\"similar-by-identity\""))
    }
}
