/// The gallery's models view over HTTP: a real project whose `tiny` model trains while the server runs, the checkpoint table, the loss plot PNG, previews, escaping and bad requests.
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FacetCore
import FacetMedia
import FacetStore
import FacetTestSupport
import FacetTrain
@testable import FacetCurate
@testable import FacetServe

final class ModelsViewTests: XCTestCase {
    var served: ServedProject!
    var project: Project { served.project }

    override func setUp() async throws {
        served = try await ServedProject(prefix: "models-", file: "m.facet") { project in
            // 64 px crops of real frames with a landmark template: what the 64 px `tiny` model trains on.
            try SampleFaces.fill(project, role: .src, videos: [ServedProject.fixtures + "/video/src-d18.mp4"], count: 24, cropSize: 64, framesPerVideo: 12, seed: 5)
            try SampleFaces.fill(project, role: .dst, videos: [ServedProject.fixtures + "/video/dst-d19.mp4"], count: 24, cropSize: 64, framesPerVideo: 12, seed: 6)
        }
    }

    override func tearDown() async throws { await served?.stop() }

    func get(_ path: String) async throws -> (status: Int, body: Data, contentType: String?) {
        let r = try await served.request(path)
        return (r.status, r.body, r.headers["Content-Type"] as? String)
    }

    func page(_ path: String) async throws -> (status: Int, html: String) {
        let r = try await get(path)
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    /// Pixels of exactly `color` in an RGB image.
    func count(_ image: Image, _ color: (UInt8, UInt8, UInt8)) -> Int {
        var n = 0
        for i in 0..<(image.width * image.height) where image.pixels[3 * i] == color.0 && image.pixels[3 * i + 1] == color.1 && image.pixels[3 * i + 2] == color.2 { n += 1 }
        return n
    }

    func testModelsPageShowsTheCheckpointTableAndTheLossPlot() async throws {
        // The faces page links to the models view; with no model yet it says how to train one.
        let (c0, faces) = try await page("/faces?role=src")
        XCTAssertEqual(c0, 200)
        XCTAssertTrue(faces.contains("href=\"/models\""), "a link from the gallery's header")
        let (c1, empty) = try await page("/models")
        XCTAssertEqual(c1, 200)
        XCTAssertTrue(empty.contains("id=\"no-models\""), empty)
        XCTAssertFalse(empty.contains("<img id=\"loss-plot\""))

        // Train while the server runs (it reads the file live): checkpoints at 4, 8 and 12.
        let trainer = try Trainer(project: project, options: TrainOptions(architecture: .tiny, name: "a", batchSize: 4, seed: 1))
        for target in [4, 8, 12] {
            while trainer.iteration < target { trainer.step() }
            try trainer.saveCheckpoint()
        }
        let checkpoints = try project.checkpoints()
        XCTAssertEqual(checkpoints.map(\.iteration), [4, 8, 12])
        // A tag with markup: it must come back escaped, never as markup.
        try project.tagCheckpoint(id: checkpoints[0].id, tag: "<b>x</b>\"'")

        let (c2, html) = try await page("/models")
        XCTAssertEqual(c2, 200)
        XCTAssertEqual(html.components(separatedBy: "<tr class=\"checkpoint\"").count - 1, 3, "one row per checkpoint")
        let best = try project.checkpoint(resolving: "best"), latest = try project.checkpoint(resolving: "latest")
        for c in checkpoints {
            let row = try XCTUnwrap(html.components(separatedBy: "id=\"checkpoint-\(c.id)\"").dropFirst().first?.components(separatedBy: "</tr>").first, "row \(c.id)")
            let cells = row.components(separatedBy: "<td>").dropFirst().map { $0.components(separatedBy: "</td>")[0] }
            XCTAssertEqual(cells[0], "\(c.id)"); XCTAssertEqual(cells[1], "a"); XCTAssertEqual(cells[2], "\(c.iteration)")
            XCTAssertEqual(cells[4], String(format: "%.5f", try XCTUnwrap(c.lossSrc)))
            XCTAssertEqual(cells[5], String(format: "%.5f", try XCTUnwrap(c.lossDst)))
            XCTAssertEqual(cells[6], String(format: "%.5f", try XCTUnwrap(c.valLoss)))
            XCTAssertEqual(cells[7], "-", "not scored")
            XCTAssertEqual(cells[9].contains("best"), c.id == best.id, "best only on #\(best.id): \(cells[9])")
            XCTAssertEqual(cells[9].contains("latest"), c.id == latest.id, "latest only on #\(latest.id): \(cells[9])")
            XCTAssertTrue(row.contains("href=\"/models/checkpoint/\(c.id)\""))
        }
        XCTAssertTrue(html.contains("&lt;b&gt;x&lt;/b&gt;&quot;&#39;"), "tag escaped")
        XCTAssertFalse(html.contains("<b>x</b>"))
        // The model line with its convergence fit (12 iterations are enough to fit).
        XCTAssertTrue(html.contains("3 checkpoints, 12 iterations, best #\(best.id) (by val_loss), latest #\(latest.id)"), html)
        // A fit line: a floor, or (a pure power law so far, as short runs often are) none yet.
        XCTAssertTrue(html.contains("convergence: floor ") || html.contains("convergence: no floor in sight yet"), html)
        XCTAssertTrue(html.contains("<img id=\"loss-plot\" src=\"/models/loss.png\" width=\"1000\" height=\"560\""), html)

        // The plot: a PNG of the size the page states, showing the model's curves.
        let plot = try await get("/models/loss.png")
        XCTAssertEqual(plot.status, 200)
        XCTAssertEqual(plot.contentType, "image/png")
        XCTAssertEqual(Array(plot.body.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "PNG signature")
        let image = try PNGCodec.decode(plot.body)
        XCTAssertEqual(image.width, 1000); XCTAssertEqual(image.height, 560); XCTAssertEqual(image.channels, 3)
        XCTAssertGreaterThan(count(image, (31, 119, 180)), 200, "the model's smoothed src curve")
        XCTAssertLessThan(count(image, (255, 255, 255)), 1000 * 560 * 98 / 100, "not blank")
        try plot.body.write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "facet-serve-models-loss.png"))
        let small = try await get("/models/loss.png?model=a&log=1&width=640&height=400")
        XCTAssertEqual(small.status, 200)
        let smallImage = try PNGCodec.decode(small.body)
        XCTAssertEqual(smallImage.width, 640); XCTAssertEqual(smallImage.height, 400)
        let (c3, logPage) = try await page("/models?model=a&log=1")
        XCTAssertEqual(c3, 200)
        XCTAssertTrue(logPage.contains("src=\"/models/loss.png?model=a&amp;log=1\""), logPage)

        // A checkpoint's preview grid is the PNG stored with it.
        let preview = try await get("/models/preview/\(latest.id)")
        XCTAssertEqual(preview.status, 200)
        XCTAssertEqual(preview.body, try XCTUnwrap(try project.preview(checkpointId: latest.id)))
        XCTAssertGreaterThan(try PNGCodec.decode(preview.body).width, 64)
        // The table links to a page that labels the grid's columns and leads back.
        let (cp, previewPage) = try await page("/models/checkpoint/\(latest.id)")
        XCTAssertEqual(cp, 200)
        for label in ["src rebuilt", "dst rebuilt", "dst as src"] { XCTAssertTrue(previewPage.contains(label), label) }
        XCTAssertTrue(previewPage.contains("id=\"back\" href=\"/models?model="), previewPage)
        XCTAssertTrue(previewPage.contains("src=\"/models/preview/\(latest.id)\""), previewPage)
        let (missing, _) = try await page("/models/checkpoint/999999")
        XCTAssertEqual(missing, 404)

        // Bad requests: clear errors, escaped, nothing served from elsewhere.
        let (b1, unknown) = try await page("/models?model=%3Cscript%3E")
        XCTAssertEqual(b1, 404, "an unknown model is not found (the status comes from the error's kind)")
        XCTAssertTrue(unknown.contains("has no model named &#39;&lt;script&gt;&#39;"), unknown)
        XCTAssertFalse(unknown.contains("<script>'"))
        for bad in ["/models/loss.png?width=10", "/models/loss.png?height=abc", "/models/loss.png?log=yes"] {
            let (code, _) = try await page(bad)
            XCTAssertEqual(code, 400, bad)
        }
        let (nosuch, _) = try await page("/models/loss.png?model=nosuch")
        XCTAssertEqual(nosuch, 404)
        let (n1, _) = try await page("/models/preview/999999")
        XCTAssertEqual(n1, 404)
        let (n2, _) = try await page("/models/preview/abc")
        XCTAssertEqual(n2, 400)

        // Swap scores: none yet, so no plot (and its URL is not found); once two checkpoints are scored (stand-in
        // figures, stored as the trainer stores them), the table shows their combined score and the page plots them
        // over iterations beside the loss.
        XCTAssertFalse(html.contains("id=\"swap-plot\""))
        let (noSwap, _) = try await page("/models/swap.png")
        XCTAssertEqual(noSwap, 404)
        let scored = [(checkpoints[0], 0.2, 0.3), (checkpoints[2], 1.0, 0.25)]
        for (c, share, detail) in scored {
            try project.storeScores(checkpointId: c.id, CheckpointScores(values: [
                "identity_src_share": share, "identity_to_src": 0.6, "identity_to_dst": 0.6, "landmarks": 0.05, "eyes_mouth": 0.06,
                "detail": detail, "missed": 0], faces: 10))
        }
        let (c4, withScores) = try await page("/models")
        XCTAssertEqual(c4, 200)
        XCTAssertTrue(withScores.contains("<img id=\"swap-plot\" src=\"/models/swap.png\" width=\"1000\" height=\"560\""), withScores)
        for (c, _, _) in scored {
            let combined = try XCTUnwrap(try project.scores()[c.id]?.combined)
            let row = try XCTUnwrap(withScores.components(separatedBy: "id=\"checkpoint-\(c.id)\"").dropFirst().first?
                .components(separatedBy: "</tr>").first)
            XCTAssertTrue(row.contains("<td>\(String(format: "%.3f", combined))</td>"), row)
        }
        let swapPlot = try await get("/models/swap.png?model=a")
        XCTAssertEqual(swapPlot.status, 200)
        XCTAssertEqual(swapPlot.contentType, "image/png")
        let swapImage = try PNGCodec.decode(swapPlot.body)
        XCTAssertEqual(swapImage.width, 1000); XCTAssertEqual(swapImage.height, 560)
        XCTAssertGreaterThan(count(swapImage, (31, 119, 180)), 200, "the model's swap score line")
        try swapPlot.body.write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "facet-serve-models-swap.png"))
        let (bad, _) = try await page("/models/swap.png?width=10")
        XCTAssertEqual(bad, 400)
    }
}
