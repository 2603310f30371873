/// The face page's mask editor: polygons drawn, edited, saved and undone in headless Chromium through real pointer
/// and key events (WebDriver Actions), the labelled filter and count on the grid, and labels copied from another face
/// of the track through the landmarks.
import XCTest
import Foundation
import FacetCore
import FacetMedia
import FacetStore
import FacetTestSupport
import FacetExtract
@testable import FacetServe

final class MaskEditorTests: XCTestCase {
    var served: ServedProject!
    var project: Project { served.project }

    override func setUp() async throws {
        served = try await ServedProject(prefix: "mask-", file: "m.facet") { project in
            try SampleFaces.fill(project, role: .src, videos: [ServedProject.fixtures + "/video/src-d18.mp4"],
                                 count: 12, cropSize: 64, framesPerVideo: 12, seed: 4)
        }
    }

    override func tearDown() async throws { await served?.stop() }

    func stored(_ id: Int64) throws -> [MaskPolygon] { try project.maskPolygons(faceIDs: [id])[id] ?? [] }

    func assertPoints(_ got: [Point2], _ want: [(Double, Double)], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, "\(got)", file: file, line: line)
        for (g, w) in zip(got, want) {
            // One screen pixel is a quarter of a crop pixel (64-pixel crop shown at 256).
            XCTAssertEqual(g.x, w.0, accuracy: 0.3, "\(got)", file: file, line: line)
            XCTAssertEqual(g.y, w.1, accuracy: 0.3, "\(got)", file: file, line: line)
        }
    }

    /// Draw an include polygon (clicks, Enter) and an exclude one (e, clicks, a click on its first corner), save
    /// with s; select the exclude polygon by its outline and delete it, drag a corner of the other, save; then the
    /// page's undo button takes the saves back one by one until the face has no labels.
    func testPolygonsDrawnWithThePointerAreStoredAndUndone() async throws {
        let driver = try await WebDriver.start()
        defer { driver.kill() }
        let s = try await driver.newSession()
        try await driver.go(s, served.base + "/face/5")
        let first = try await driver.script(s, "return document.getElementById('mask-status').textContent")
        XCTAssertEqual(first, "no mask labels")
        let crop = try await driver.find(s, "#crop")
        let rect = try await driver.script(s, "const b = document.getElementById('crop').getBoundingClientRect(); "
                                           + "return b.width + 'x' + b.height")
        XCTAssertEqual(rect, "256x256")
        // Crop point (x, y) is screen offset ((x - 32) * 4, (y - 32) * 4) from the element's centre.
        func at(_ x: Double, _ y: Double) -> (Int, Int) { (Int((x - 32) * 4), Int((y - 32) * 4)) }
        let include = [(10.0, 10.0), (54.0, 10.0), (54.0, 54.0), (10.0, 54.0)]
        try await driver.clicks(s, on: crop, at: include.map { at($0.0, $0.1) })
        try await driver.keys(s, "\u{E007}")  // Enter closes the polygon.
        try await driver.keys(s, "e")
        let exclude = [(20.0, 30.0), (44.0, 30.0), (32.0, 50.0)]
        try await driver.clicks(s, on: crop, at: (exclude + [exclude[0]]).map { at($0.0, $0.1) })
        try await driver.keys(s, "s")
        try await waitFor { try self.stored(5).count == 2 }
        var polys = try stored(5)
        XCTAssertEqual(polys.map(\.kind), [.include, .exclude])
        assertPoints(polys[0].points, include)
        assertPoints(polys[1].points, exclude)
        // The page says what the server stored; the mask route draws it.
        let saved = try await driver.script(s, "return document.getElementById('mask-status').textContent")
        XCTAssertTrue(saved.hasPrefix("saved 2 polygon(s) (change 1)"), saved)
        let png = try await served.request("/mask/5")
        XCTAssertEqual(png.status, 200)
        let mask = try PNGCodec.decode(png.body)
        XCTAssertEqual(mask.pixels[15 * 64 + 15], 255)
        XCTAssertEqual(mask.pixels[40 * 64 + 32], 0, "cut out by the exclude polygon")

        // Select the exclude polygon by its outline (middle of its top edge), Delete; select the include one by
        // its left edge and drag its second corner by (+2, +3) crop pixels; save.
        try await driver.clicks(s, on: crop, at: [at(32, 30)])
        try await driver.keys(s, "\u{E017}")  // Delete
        try await driver.clicks(s, on: crop, at: [at(10, 32)])
        try await driver.drag(s, on: crop, from: at(54, 10), to: at(56, 13))
        try await driver.keys(s, "s")
        try await waitFor { try self.stored(5).count == 1 }
        polys = try stored(5)
        XCTAssertEqual(polys.map(\.kind), [.include])
        assertPoints(polys[0].points, [(10, 10), (56, 13), (54, 54), (10, 54)])
        XCTAssertEqual(try project.curationHistory().count, 2, "one change a save")

        // The undo button: back to the first save, then to no labels; the editor shows what is stored.
        try await driver.click(s, try await driver.find(s, "#mask-undo"))
        try await waitFor { try self.stored(5).count == 2 }
        assertPoints(try stored(5)[1].points, exclude)
        var said = ""
        for _ in 0..<200 where !said.hasPrefix("undid change 2") {
            said = try await driver.script(s, "return document.getElementById('mask-status').textContent")
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertTrue(said.hasPrefix("undid change 2: 2 polygon(s) stored"), said)
        try await driver.click(s, try await driver.find(s, "#mask-undo"))
        try await waitFor { try self.stored(5).isEmpty }
        XCTAssertEqual(try project.labelledFaceIDs(), [])
        let other = try Project(path: project.path, mode: .readOnly)
        XCTAssertEqual(try other.maskPolygons(faceIDs: [5]), [:], "the file, reopened, has no labels")
        await driver.stop()
    }

    /// The grid's mask filter and count, and a POST without the CSRF token or with bad polygons changing nothing.
    func testLabelledFilterCountAndRefusedSaves() async throws {
        let square = MaskPolygon(kind: .include, points: [Point2(4, 4), Point2(60, 4), Point2(60, 60), Point2(4, 60)])
        try project.setMaskPolygons([(3, [square]), (8, [square])], command: "test")
        var r = try await served.request("/faces?role=src&labels=labelled")
        var html = String(decoding: r.body, as: UTF8.self)
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(html.components(separatedBy: "<figure class=\"face").count - 1, 2)
        XCTAssertTrue(html.contains("id=\"face-3\"") && html.contains("id=\"face-8\""))
        XCTAssertTrue(html.contains("<span id=\"labelled\">2</span> mask-labelled"), html)
        XCTAssertTrue(html.contains(Gallery.labelledMark))
        r = try await served.request("/faces?role=src&labels=unlabelled&per=50")
        html = String(decoding: r.body, as: UTF8.self)
        XCTAssertEqual(html.components(separatedBy: "<figure class=\"face").count - 1, 10)
        XCTAssertFalse(html.contains("id=\"face-3\""))
        let bad = try await served.request("/faces?role=src&labels=maybe")
        XCTAssertEqual(bad.status, 400)

        let token = served.gallery.csrfToken
        let json = HTML.query(MaskLabels.json([square]))
        r = try await served.request("/face/4/mask", method: "POST", body: "polygons=\(json)")
        XCTAssertEqual(r.status, 403, "no CSRF token")
        let outside = HTML.query("[{\"kind\": \"include\", \"points\": [[1, 1], [70, 1], [5, 9]]}]")
        r = try await served.request("/face/4/mask", method: "POST", body: "csrf=\(token)&polygons=\(outside)")
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(String(decoding: r.body, as: UTF8.self).contains("lies outside the 64x64 crop"))
        let two = HTML.query("[{\"kind\": \"include\", \"points\": [[1, 1], [7, 1]]}]")
        r = try await served.request("/face/4/mask", method: "POST", body: "csrf=\(token)&polygons=\(two)")
        XCTAssertEqual(r.status, 400)
        XCTAssertEqual(try stored(4), [])
        XCTAssertEqual(try project.curationHistory().count, 1, "only the setup change")
        r = try await served.request("/face/4/mask", method: "POST", body: "csrf=\(token)&polygons=\(json)",
                                     headers: ["Accept": "application/json"])
        XCTAssertEqual(r.status, 200)
        XCTAssertTrue(String(decoding: r.body, as: UTF8.self).contains("\"labelled_src\": 3"))
        XCTAssertEqual(try stored(4), [square])
    }

    /// Labels copied from the nearest labelled face of the track follow the landmarks: a polygon with corners
    /// halfway between pairs of one face's landmarks comes back halfway between this face's (real dst faces, whose
    /// crops differ in where those landmarks lie), much closer than the uncarried corners.
    func testCopyFromTheTrackFollowsTheLandmarks() async throws {
        let copyServed = try await ServedProject(prefix: "mask-copy-", file: "c.facet") { p in
            let media = try MediaImporter.importMedia(path: MergeFixture.dstVideo, role: .dst, link: true, into: p)
            try MergeFixture.storeFaces(MergeFixture.rows, of: MergeFixture.dstVideo, media: media.id!, role: .dst,
                                        crops: false, in: p)
        }
        let p = copyServed.project
        let media = try XCTUnwrap(try p.media(role: .dst).first)
        let faces = try p.faces(matching: FaceQuery(role: .dst, sort: [FaceSort(.frameIndex), FaceSort(.id)]))
        var seen = Set<Int>()
        let members = faces.filter { seen.insert($0.frameIndex).inserted }
        try p.saveTracks(role: .dst, mediaId: media.id!, tracks: [PlannedTrack(
            mediaId: media.id!, members: members.map {
                TrackMember(faceId: $0.id, frameIndex: $0.frameIndex, smoothedLandmarks: $0.landmarks68!,
                            smoothedMatrix: $0.imageToFace)
            }, gaps: 0, endsAtCut: false, jitterRaw: 0.02, jitterSmoothed: 0.005, smoothing: 1)])
        // Corners between landmarks (none on one): mid-jaw left and right, the mouth's centre, between the brows.
        let pairs = [(4, 8), (8, 12), (48, 54), (21, 22), (0, 36), (16, 45)]
        func cropLandmarks(_ f: FaceRecord) -> [Point2] {
            let lm = f.landmarks68!.transformed(by: f.imageToFace).points
            return pairs.map { Point2((lm[$0.0].x + lm[$0.1].x) / 2, (lm[$0.0].y + lm[$0.1].y) / 2) }
        }
        func meanDistance(_ a: [Point2], _ b: [Point2]) -> Double {
            zip(a, b).map { hypot($0.x - $1.x, $0.y - $1.y) }.reduce(0, +) / Double(a.count)
        }
        let source = members[0]
        try p.setMaskPolygons(faceID: source.id, polygons: [MaskPolygon(kind: .include, points: cropLandmarks(source))],
                              command: "label")
        // The later track face whose crop landmarks lie farthest from the source's.
        let target = members.dropFirst().max {
            meanDistance(cropLandmarks($0), cropLandmarks(source)) < meanDistance(cropLandmarks($1), cropLandmarks(source))
        }!
        let uncarried = meanDistance(cropLandmarks(target), cropLandmarks(source))
        XCTAssertGreaterThan(uncarried, 2, "the faces' landmarks differ enough in their crops to tell")
        let r = try await copyServed.request("/face/\(target.id)/mask/copy?from=prev")
        XCTAssertEqual(r.status, 200)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.body) as? [String: Any])
        XCTAssertEqual(obj["face"] as? Int, Int(source.id))
        XCTAssertEqual(obj["via"] as? String, "track")
        let carried = try MaskLabels.polygons(json: String(data: try JSONSerialization.data(
            withJSONObject: obj["polygons"]!), encoding: .utf8)!)
        XCTAssertEqual(carried.count, 1)
        let error = meanDistance(carried[0].points, cropLandmarks(target))
        print("mask copy through the landmarks: corners \(String(format: "%.2f", error)) px from where they belong, "
              + "\(String(format: "%.2f", uncarried)) px uncarried (256-pixel crops)")
        XCTAssertLessThan(error, uncarried / 2, "carried \(error) px vs uncarried \(uncarried) px")
        XCTAssertLessThan(error, 4, "1.5% of the 256-pixel crop")
        // Nothing later in the track is labelled: from=next finds none and says so.
        let none = try await copyServed.request("/face/\(target.id)/mask/copy?from=next")
        XCTAssertEqual(none.status, 404)
        XCTAssertTrue(String(decoding: none.body, as: UTF8.self).contains("no labelled face after this one"))
        await copyServed.stop()
    }

    func waitFor(_ cond: () throws -> Bool, timeout: Double = 10, file: StaticString = #filePath,
                 line: UInt = #line) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try cond() { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTFail("condition not met in \(timeout) s", file: file, line: line)
    }
}

extension WebDriver {
    /// The W3C key that names an element in a WebDriver payload.
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    /// Mouse clicks at offsets (screen pixels from the element's centre), one after another: pointer move, down, up.
    func clicks(_ s: String, on element: String, at offsets: [(Int, Int)]) async throws {
        var actions: [[String: Any]] = []
        for (x, y) in offsets {
            actions.append(["type": "pointerMove", "duration": 0, "origin": [Self.elementKey: element], "x": x, "y": y])
            actions.append(["type": "pointerDown", "button": 0])
            actions.append(["type": "pointerUp", "button": 0])
            // Apart in time, so that two clicks are never a double click.
            actions.append(["type": "pause", "duration": 600])
        }
        try await pointer(s, actions)
    }

    /// A mouse drag from one offset to another (from the element's centre), in a few moves.
    func drag(_ s: String, on element: String, from a: (Int, Int), to b: (Int, Int)) async throws {
        var actions: [[String: Any]] = [
            ["type": "pointerMove", "duration": 0, "origin": [Self.elementKey: element], "x": a.0, "y": a.1],
            ["type": "pointerDown", "button": 0],
        ]
        for k in 1...4 {
            actions.append(["type": "pointerMove", "duration": 20, "origin": [Self.elementKey: element],
                            "x": a.0 + (b.0 - a.0) * k / 4, "y": a.1 + (b.1 - a.1) * k / 4])
        }
        actions.append(["type": "pointerUp", "button": 0])
        try await pointer(s, actions)
    }

    func pointer(_ s: String, _ actions: [[String: Any]]) async throws {
        _ = try await call("POST", "/session/\(s)/actions", ["actions": [
            ["type": "pointer", "id": "mouse", "parameters": ["pointerType": "mouse"], "actions": actions],
        ]])
    }
}
