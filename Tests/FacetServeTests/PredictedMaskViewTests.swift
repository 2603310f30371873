/// The segmenter's stored masks in the gallery: the mask routes (PNG as stored, JSON with the checkpoint and whether
/// it is out of date, 404 for a face without one), the face page's layer and panel, and the grid's overlay toggle,
/// the last two in headless Chromium through real pointer and key events, checked against the stored PNGs.
import XCTest
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore
import FacetTestSupport
import FacetTrain
@testable import FacetServe

final class PredictedMaskViewTests: XCTestCase {
    var served: ServedProject!
    var project: Project { served.project }
    /// The segmenter checkpoint that predicted the masks.
    var checkpoint: CheckpointRecord!

    /// Labelled faces (5, so one is held out and the checkpoint has an IoU); face 5 is relabelled after apply.
    static let labelled: [Int64] = [2, 5, 8, 11, 12]

    /// 12 src faces cut from the src sample (64 px), 5 labelled; a tiny segmenter trained 30 iterations on them and
    /// applied to those 12; then 3 more faces from another video, which have no stored mask, and face 5 relabelled.
    override func setUp() async throws {
        var saved: CheckpointRecord?
        served = try await ServedProject(prefix: "xseg-", file: "x.facet") { p in
            try SampleFaces.fill(p, role: .src, videos: [ServedProject.fixtures + "/video/src-d18.mp4"],
                                 count: 12, cropSize: 64, framesPerVideo: 12, seed: 4)
            var labels: [(faceID: Int64, polygons: [MaskPolygon])] = []
            for (k, id) in Self.labelled.enumerated() {
                let d = Double(k)
                labels.append((id, [
                    MaskPolygon(kind: .include, points: [Point2(8 + d, 10), Point2(54, 8 + d), Point2(52 - d, 56),
                                                         Point2(10, 54 - d)]),
                    MaskPolygon(kind: .exclude, points: [Point2(30, 36), Point2(50, 40), Point2(34, 54)]),
                ]))
            }
            _ = try p.setMaskPolygons(labels, command: "test labels")
            var o = XSegTrainOptions()
            o.model = XSegModelOptions(network: .tiny, batchSize: 4, learningRate: 1e-3)
            o.stop = .iterations(30)
            let trainer = try XSegTrainer(project: p, labels: ProjectMaskLabels(project: p), options: o)
            saved = try trainer.run()
            let r = try XSegApply.run(project: p, model: try XSegModel.load(project: p),
                                      labels: ProjectMaskLabels(project: p), role: .src)
            XCTAssertEqual([r.predicted, r.labelled], [7, 5])
            try SampleFaces.fill(p, role: .src, videos: [ServedProject.fixtures + "/video/extra-d20.mp4"],
                                 count: 3, cropSize: 64, framesPerVideo: 3, seed: 5)
            _ = try p.setMaskPolygons(faceID: 5, polygons: [MaskPolygon(kind: .include, points: [
                Point2(4, 4), Point2(60, 4), Point2(32, 60)])], command: "relabel")
        }
        checkpoint = try XCTUnwrap(saved)
    }

    override func tearDown() async throws { await served?.stop() }

    func object(_ data: Data) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func testMaskRoutesServeTheStoredMaskAndSayWhetherItIsStale() async throws {
        XCTAssertEqual(try project.faceIDs(matching: FaceQuery(role: .src)).count, 15)
        // A predicted face: the PNG exactly as stored, and where it came from.
        let stored = try XCTUnwrap(try project.predictedMask(faceID: 3))
        var r = try await served.request("/xseg/3")
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body, stored.png)
        XCTAssertEqual(r.headers["Content-Type"] as? String, "image/png")
        XCTAssertEqual(try PNGCodec.decode(r.body).width, 64, "the tiny segmenter's resolution")
        r = try await served.request("/face/3/xseg")
        XCTAssertEqual(r.status, 200)
        var mask = try XCTUnwrap(try object(r.body)["mask"] as? [String: Any])
        XCTAssertEqual(mask["checkpoint"] as? Int, Int(checkpoint.id))
        XCTAssertEqual(mask["latest_checkpoint"] as? Int, Int(checkpoint.id))
        XCTAssertEqual(mask["model"] as? String, "xseg")
        XCTAssertEqual(mask["iteration"] as? Int, 30)
        let iou = try XCTUnwrap(mask["iou"] as? Double)
        XCTAssertEqual(iou, 1 - (checkpoint.valLoss ?? .nan), accuracy: 1e-4)
        XCTAssertEqual(mask["size"] as? Int, 64)
        XCTAssertEqual(mask["source"] as? String, "prediction")
        XCTAssertEqual(mask["stale"] as? Bool, false)

        // A labelled face applied with its drawn mask, then relabelled: stale, and the page says why.
        r = try await served.request("/face/5/xseg")
        mask = try XCTUnwrap(try object(r.body)["mask"] as? [String: Any])
        XCTAssertEqual(mask["source"] as? String, "labels")
        XCTAssertEqual(mask["stale"] as? Bool, true)
        let revisionThen = try XCTUnwrap(mask["label_revision"] as? String)
        let revisionNow = try XCTUnwrap(mask["label_revision_now"] as? String)
        XCTAssertEqual(revisionNow, String(try XCTUnwrap(try project.maskLabelRevisions(faceIDs: [5])[5])))
        XCTAssertNotEqual(revisionThen, revisionNow)
        XCTAssertTrue((mask["stale_reason"] as? String ?? "").contains("labels changed since"), "\(mask)")
        var page = String(decoding: try await served.request("/face/5").body, as: UTF8.self)
        XCTAssertTrue(page.contains("Out of date: the face&#39;s labels changed since"), page)
        XCTAssertTrue(page.contains("href=\"/xseg/5\""))
        // Another labelled face, untouched since: its drawn mask, up to date.
        r = try await served.request("/face/8/xseg")
        XCTAssertEqual(try XCTUnwrap(try object(r.body)["mask"] as? [String: Any])["stale"] as? Bool, false)

        // A face without a stored mask: 404 for both routes, the page says so and has no layer; unknown faces 404.
        r = try await served.request("/xseg/13")
        XCTAssertEqual(r.status, 404)
        r = try await served.request("/face/13/xseg")
        XCTAssertEqual(r.status, 404)
        let none = try object(r.body)
        XCTAssertTrue(none["mask"] is NSNull, "\(none)")
        XCTAssertEqual(none["face"] as? Int, 13)
        page = String(decoding: try await served.request("/face/13").body, as: UTF8.self)
        XCTAssertTrue(page.contains("No predicted mask"), page)
        XCTAssertFalse(page.contains("id=\"xseg-tint\"") || page.contains("id=\"xseg-layer\""), page)
        let unknown = try await served.request("/xseg/424242").status
        let unknownJSON = try await served.request("/face/424242/xseg").status
        let notANumber = try await served.request("/xseg/abc").status
        XCTAssertEqual([unknown, unknownJSON, notANumber], [404, 404, 400])
        // Read-only: no POST route.
        let token = served.gallery.csrfToken
        let post = try await served.request("/xseg/3", method: "POST", body: "csrf=\(token)").status
        XCTAssertNotEqual(post, 200)

        // The grid marks the 12 faces that have one (face 5 stale) and offers the overlay.
        let html = String(decoding: try await served.request("/faces?role=src").body, as: UTF8.self)
        XCTAssertEqual(html.components(separatedBy: " data-xseg=\"").count - 1, 12)
        XCTAssertTrue(html.contains("id=\"face-5\" data-id=\"5\" data-xseg=\"stale\""), html)
        XCTAssertTrue(html.contains("id=\"face-3\" data-id=\"3\" data-xseg=\"1\""))
        XCTAssertTrue(html.contains("id=\"face-13\" data-id=\"13\" tabindex"))
        XCTAssertTrue(html.contains("<span id=\"predicted\">12</span> faces have one"), html)
    }

    /// The grey values of the stored mask of `id`.
    func storedPixels(_ id: Int64) throws -> [Int] {
        let m = try XCTUnwrap(try project.predictedMask(faceID: id))
        return try PNGCodec.decode(m.png).grey().pixels.map(Int.init)
    }

    /// JavaScript returning `{id: [grey values]}` of the given images drawn at their natural size onto a canvas
    /// (the red channel: the masks are grey), or null while any is still loading.
    static let drawnPixels = """
        const imgs = Array.from(document.querySelectorAll(arguments[0]));
        if (imgs.some(i => !i.complete || !i.naturalWidth)) return null;
        const out = {};
        for (const img of imgs) {
          const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
          const g = c.getContext('2d'); g.drawImage(img, 0, 0);
          const d = g.getImageData(0, 0, c.width, c.height).data, grey = [];
          for (let i = 0; i < d.length; i += 4) grey.push(d[i]);
          out[img.closest('[data-id]') ? img.closest('[data-id]').dataset.id : img.id] = grey;
        }
        return JSON.stringify(out);
        """

    func testGridOverlayAndFacePageLayerShowTheStoredMasks() async throws {
        let driver = try await WebDriver.start()
        defer { driver.kill() }
        let s = try await driver.newSession()
        try await driver.go(s, served.base + "/faces?role=src&per=50")
        let overlays = "return document.querySelectorAll('img.overlay.xseg').length"
        let before = try await driver.script(s, overlays)
        XCTAssertEqual(before, "0", "off until toggled")

        // The checkbox, clicked: every tile with a stored mask gets it as its overlay, pixel for pixel.
        try await driver.click(s, try await driver.find(s, "#xseg-overlay"))
        func drawn(_ css: String) async throws -> [String: [Int]] {
            for _ in 0..<200 {
                let text = try await driver.args(s, Self.drawnPixels, [css])
                if let obj = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: [Int]],
                   !obj.isEmpty { return obj }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            XCTFail("\(css): never loaded")
            return [:]
        }
        func overlayPixels() async throws -> [String: [Int]] { try await drawn("figure.face img.overlay.xseg") }
        var shown = try await overlayPixels()
        XCTAssertEqual(Set(shown.keys), Set((1...12).map { String($0) }))
        for (id, pixels) in shown { XCTAssertEqual(pixels, try storedPixels(Int64(id)!), "face \(id)") }
        let srcs = try await driver.script(s, "return Array.from(document.querySelectorAll('img.overlay.xseg'))"
                                           + ".map(i => i.getAttribute('src')).join(' ')")
        XCTAssertEqual(Set(srcs.split(separator: " ").map(String.init)), Set((1...12).map { "/xseg/\($0)" }))
        let stale = try await driver.script(s, "return Array.from(document.querySelectorAll("
                                            + "'img.overlay.xseg.stale')).map(i => i.getAttribute('src')).join()")
        XCTAssertEqual(stale, "/xseg/5", "the relabelled face's overlay is marked out of date")
        // The toggle is remembered: a reload shows the overlays again.
        try await driver.go(s, served.base + "/faces?role=src&per=50")
        shown = try await overlayPixels()
        XCTAssertEqual(shown.count, 12)
        // o (with the focus off the checkbox: a click on the heading) takes them away.
        try await driver.click(s, try await driver.find(s, "h1"))
        try await driver.keys(s, "o")
        var count = ""
        for _ in 0..<100 where count != "0" {
            count = try await driver.script(s, overlays)
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertEqual(count, "0")

        // The face page of a labelled face (its stored mask is its drawing: sharp edges): the panel's image is the
        // stored PNG, the layer reads the same route, and v hides the tint exactly where the stored mask is on.
        try await driver.go(s, served.base + "/face/8")
        let panel = try await drawn("#xseg-img")
        XCTAssertEqual(panel["xseg-img"], try storedPixels(8))
        let href = try await driver.script(s, "return document.getElementById('xseg-layer').getAttribute('href')")
        XCTAssertEqual(href, "/xseg/8")
        let info = try await driver.script(s, "return document.getElementById('xseg-info').textContent")
        XCTAssertTrue(info.contains("drawn labels") && info.contains("checkpoint #\(checkpoint.id)")
                      && info.contains("Up to date"), info)
        try await Task.sleep(nanoseconds: 300_000_000)
        let rect = try await driver.script(s, "const b = document.getElementById('crop').getBoundingClientRect(); "
                                           + "return Math.round(b.left) + ' ' + Math.round(b.top) + ' ' + b.width")
        let v = rect.split(separator: " ").map { Int(Double($0)!) }
        XCTAssertEqual(v[2], 256)
        let withLayer = try await driver.screenshot(s)
        try await driver.keys(s, "v")
        var hidden = ""
        for _ in 0..<100 where hidden != "true" {
            hidden = try await driver.script(s, "return String(document.getElementById('crop').classList"
                                             + ".contains('hide-xseg'))")
        }
        try await Task.sleep(nanoseconds: 300_000_000)
        let without = try await driver.screenshot(s)
        // Screen pixel (x, y) of the 256-pixel view shows crop pixel (x / 4, y / 4) of the 64-pixel mask.
        let stored = try storedPixels(8)
        func interior(_ mx: Int, _ my: Int, _ value: Int) -> Bool {
            for dy in -1...1 { for dx in -1...1 {
                let x = mx + dx, y = my + dy
                guard x >= 0, y >= 0, x < 64, y < 64, stored[y * 64 + x] == value else { return false }
            } }
            return true
        }
        var on = 0, onChanged = 0, off = 0, offChanged = 0
        for y in 0..<256 {
            for x in 0..<256 {
                let d = withLayer.difference(without, x: v[0] + x, y: v[1] + y)
                if interior(x / 4, y / 4, 255) { on += 1; if d > 20 { onChanged += 1 } }
                if interior(x / 4, y / 4, 0) { off += 1; if d > 3 { offChanged += 1 } }
            }
        }
        print("face page layer: \(onChanged) of \(on) pixels inside the stored mask changed when hidden, "
              + "\(offChanged) of \(off) outside it")
        XCTAssertGreaterThan(on, 5000)
        XCTAssertGreaterThan(off, 5000)
        // Inside, every pixel but those under the landmark dots (drawn above the layer) loses the tint.
        XCTAssertGreaterThan(Double(onChanged) / Double(on), 0.85)
        XCTAssertEqual(offChanged, 0, "outside the stored mask the layer adds nothing")
        await driver.stop()
    }
}

extension WebDriver {
    /// Runs `js` with `args` (as `arguments`) and returns its value as text.
    func args(_ s: String, _ js: String, _ args: [Any]) async throws -> String {
        let v = try await call("POST", "/session/\(s)/execute/sync", ["script": js, "args": args])
        return v.map { "\($0)" } ?? ""
    }

    /// The viewport as the browser draws it.
    func screenshot(_ s: String) async throws -> Image {
        let v = try await call("GET", "/session/\(s)/screenshot")
        guard let b64 = v as? String, let data = Data(base64Encoded: b64) else {
            throw FacetError("webdriver: no screenshot")
        }
        return try PNGCodec.decode(data)
    }
}

extension Image {
    /// Sum over R, G and B of the absolute difference at (x, y) between two images of the same layout.
    func difference(_ other: Image, x: Int, y: Int) -> Int {
        guard x >= 0, y >= 0, x < width, y < height else { return 0 }
        let o = (y * width + x) * channels
        return (0..<min(3, channels)).reduce(0) { $0 + abs(Int(pixels[o + $1]) - Int(other.pixels[o + $1])) }
    }
}
