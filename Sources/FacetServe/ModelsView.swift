/// The gallery's models view: the loss plot of `facet plot` (rendered by FacetPlot, served as PNG) and the checkpoint
/// table of `facet checkpoints`, with each checkpoint's preview grid.
import Foundation
import FacetCore
import FacetMedia
import FacetPlot
import FacetSelect
import FacetStore
import Hummingbird

extension Gallery {
    /// The plot's default size in the page (the PNG is served at exactly this size).
    static let plotWidth = 1000, plotHeight = 560

    /// `/models` (the page), `/models/loss.png` (the plot) and `/models/preview/:id` (a
    /// checkpoint's stored preview grid). All read the file live, like the face pages.
    func addModelRoutes(to router: Router<BasicRequestContext>) {
        router.get("/models") { req, _ in try await self.respond { try self.modelsPage(Self.params(req)) } }
        router.get("/models/loss.png") { req, _ in try await self.respond { try self.lossPlotPNG(Self.params(req)) } }
        router.get("/models/swap.png") { req, _ in try await self.respond { try self.swapPlotPNG(Self.params(req)) } }
        router.get("/models/checkpoint/:id") { _, ctx in
            try await self.respond {
                guard let id = ctx.parameters.get("id", as: Int64.self) else {
                    throw GalleryError(.badRequest, "a checkpoint id is a number")
                }
                return try self.checkpointPreviewPage(id)
            }
        }
        router.get("/models/preview/:id") { _, ctx in
            try await self.respond {
                guard let id = ctx.parameters.get("id", as: Int64.self) else {
                    throw GalleryError(.badRequest, "a checkpoint id is a number")
                }
                return try self.checkpointPreview(id)
            }
        }
    }

    /// Query parameters of the models view, validated: `model` (one model's curves and
    /// checkpoints; default all), `log=1` (log loss axis), `width` / `height` of the plot.
    struct ModelsQuery {
        var model: String?
        var log = false
        var width = Gallery.plotWidth
        var height = Gallery.plotHeight

        init(_ q: [String: String]) throws {
            if let m = q["model"], !m.isEmpty { model = m }
            if let l = q["log"] {
                guard l == "0" || l == "1" else { throw GalleryError(.badRequest, "log must be 0 or 1") }
                log = l == "1"
            }
            if let w = q["width"] {
                guard let v = Int(w), (400...4000).contains(v) else {
                    throw GalleryError(.badRequest, "width must be a number from 400 to 4000")
                }
                width = v
            }
            if let h = q["height"] {
                guard let v = Int(h), (300...4000).contains(v) else {
                    throw GalleryError(.badRequest, "height must be a number from 300 to 4000")
                }
                height = v
            }
        }

        /// The query string for the same view (or the plot of it), values percent-encoded.
        var query: String {
            var parts: [String] = []
            if let model { parts.append("model=\(HTML.query(model))") }
            if log { parts.append("log=1") }
            if width != Gallery.plotWidth { parts.append("width=\(width)") }
            if height != Gallery.plotHeight { parts.append("height=\(height)") }
            return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
        }
    }

    func lossPlotPNG(_ params: [String: String]) throws -> Response {
        let q = try ModelsQuery(params)
        let image = try renderLossPlot(project: project, models: q.model.map { [$0] } ?? [], log: q.log, width: q.width,
                                       height: q.height)
        return Self.png(try PNGCodec.encode(image))
    }

    /// The swap scores over iterations (`swapScoreChart`), the loss plot's size and model; 404 when none is scored.
    func swapPlotPNG(_ params: [String: String]) throws -> Response {
        let q = try ModelsQuery(params)
        guard let chart = try swapScoreChart(project: project, models: q.model.map { [$0] } ?? []) else {
            throw GalleryError(.notFound,
                               "no checkpoint is scored yet (facet train scores each save; facet score scores one)")
        }
        return Self.png(try PNGCodec.encode(chart.render(width: q.width, height: q.height)))
    }

    func checkpointPreview(_ id: Int64) throws -> Response {
        let c: CheckpointRecord
        do { c = try project.checkpoint(id: id) } catch let e as FacetError { throw GalleryError(.notFound, e.message) }
        guard let data = try project.preview(checkpointId: c.id) else {
            throw GalleryError(.notFound, "checkpoint \(id) has no preview")
        }
        return Self.png(data)
    }

    /// The preview columns, left to right (as FacetTrain's preview grid draws them).
    static let previewColumns = ["src", "src rebuilt", "dst", "dst rebuilt", "dst as src (the swap)"]

    /// A checkpoint's preview grid on a page: labelled columns, the checkpoint's losses, a way back.
    func checkpointPreviewPage(_ id: Int64) throws -> Response {
        let c: CheckpointRecord
        do { c = try project.checkpoint(id: id) } catch let e as FacetError { throw GalleryError(.notFound, e.message) }
        let e = HTML.escape
        let labels = Self.previewColumns.map { "<th>\(e($0))</th>" }.joined()
        let val = c.valLoss.map { String(format: "%.5f", $0) } ?? "-"
        let title = "checkpoint \(c.id) · \(c.modelName), iteration \(c.iteration)"
        let body = """
        <header><h1>\(e(title))</h1><p><a id="back" href="/models?model=\(e(HTML.query(c.modelName)))">← models</a> · \
        <a href="/faces?role=src">faces</a></p><p>held-out loss \(val)</p></header>
        <table id="preview"><thead><tr>\(labels)</tr></thead><tbody><tr><td colspan="\(Self.previewColumns.count)">\
        <img id="preview-grid" src="/models/preview/\(c.id)" alt="preview grid of checkpoint \(c.id)" \
        style="width:100%;image-rendering:pixelated"></td></tr></tbody></table>
        <p class="help">Each row: a src face, the model's rebuild of it, a dst face, its rebuild, \
        and the dst face as the src person (what the merge pastes).</p>
        <style>#preview{table-layout:fixed;width:\(Self.previewColumns.count * 160)px}#preview \
        th{font-weight:normal;text-align:center}</style>
        """
        return Self.html(Self.page(title: title, body: body, csrf: csrfToken, script: ""))
    }

    static func png(_ data: Data) -> Response {
        Response(status: .ok,
                 headers: [.contentType: "image/png", .cacheControl: "no-store",
                           FieldName("X-Content-Type-Options")!: "nosniff"],
                 body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    func modelsPage(_ params: [String: String]) throws -> Response {
        let q = try ModelsQuery(params)
        let listing = try listCheckpoints(project: project, model: q.model)
        let e = HTML.escape
        func loss(_ v: Double?) -> String { v.map { String(format: "%.5f", $0) } ?? "-" }
        func bytes(_ n: Int64) -> String {
            let v = Double(n)
            return v >= 1e9 ? String(format: "%.2f GB", v / 1e9) : v >= 1e6 ? String(format: "%.1f MB", v / 1e6)
                : v >= 1e3 ? String(format: "%.1f kB", v / 1e3) : "\(n) B"
        }

        var models = ""
        for m in listing.models {
            let convergence = m.convergence?.summary ?? "too few iterations to fit (8 needed)"
            models += "<li class=\"model\" id=\"model-\(e(m.name))\"><a "
                      + "href=\"/models?model=\(e(HTML.query(m.name)))\"><b>\(e(m.name))</b></a> "
                + "(\(e(m.architecture)), \(m.resolution) px): \(m.checkpoints) checkpoints, \(m.iterations) iterations"
                + (m.best.map { ", best #\($0) (by \(m.bestBy == BestBy.swap.rawValue ? "swap score" : "val_loss"))" }
                    ?? "")
                + (m.latest.map { ", latest #\($0)" } ?? "")
                + "<br><span class=\"convergence\">convergence: \(e(convergence))</span></li>"
        }
        var rows = ""
        for c in listing.checkpoints {
            let tags = (c.aliases + c.tags + (c.pruned ? ["(pruned)"] : [])).joined(separator: ", ")
            rows += "<tr class=\"checkpoint\" "
                    + "id=\"checkpoint-\(c.id)\"><td>\(c.id)</td><td>\(e(c.model))</td><td>\(c.iteration)</td>"
                + "<td>\(e(String(c.createdAt.prefix(19))))</td><td>\(loss(c.lossSrc))</td><td>\(loss(c.lossDst))</td>"
                + "<td>\(loss(c.valLoss))</td>"
                + "<td>\(c.swap.map { String(format: "%.3f", $0) } ?? "-")</td>"
                + "<td>\(e(bytes(c.bytes)))</td><td>\(e(tags))</td><td><a "
                + "href=\"/models/checkpoint/\(c.id)\">preview</a></td></tr>"
        }
        let file = (project.path as NSString).lastPathComponent
        let title = "models · \(file)"
        var scope = "<a href=\"/models\(q.log ? "?log=1" : "")\">all models</a>"
        if let m = q.model { scope = "showing model <b>\(e(m))</b> · " + scope }
        var toggled = q
        toggled.log.toggle()
        let body: String
        if listing.models.isEmpty {
            body = """
            <header><h1>\(e(title))</h1><p><a href="/faces?role=src">← faces</a></p></header>
            <p id="no-models">No models yet: train one with <code>facet train \(e(file)) --model quick96</code>.</p>
            """
        } else {
            let hasLosses = listing.models.contains { $0.iterations > 0 }
            var plot = hasLosses
                ? "<img id=\"loss-plot\" src=\"/models/loss.png\(e(q.query))\" width=\"\(q.width)\" "
                  + "height=\"\(q.height)\" alt=\"loss curves\">"
                : "<p id=\"no-losses\">No training losses stored yet.</p>"
            // Beside the loss: the swap scores of the scored checkpoints over the same iterations.
            if listing.checkpoints.contains(where: { $0.swap != nil }) {
                plot += "<img id=\"swap-plot\" src=\"/models/swap.png\(e(q.query))\" "
                    + "width=\"\(q.width)\" height=\"\(q.height)\" alt=\"swap scores over iterations\">"
            }
            body = """
            <header><h1>\(e(title))</h1><p><a href="/faces?role=src">← faces</a> · \(scope) · <a id="log-toggle" \
            href="/models\(e(toggled.query))">\(q.log ? "linear" : "log") scale</a></p></header>
            <ul class="models">\(models)</ul>
            <figure class="plot">\(plot)</figure>
            <table id="checkpoints"><thead><tr><th>id</th><th>model</th><th>iteration</th><th>created</th>\
            <th>loss_src</th><th>loss_dst</th>\
            <th>val_loss</th><th>swap</th><th>bytes</th><th>tags</th><th></th></tr></thead>\
            <tbody>\(rows)</tbody></table>
            <p class="help">loss_src and loss_dst are the training losses averaged over the iterations \
            before the save; \
            val_loss is the held-out loss; swap the combined swap score of its held-out dst faces swapped as merge \
            would (identity x (expression + detail) / 2, higher is better; <code>facet checkpoints \(e(file))</code> \
            shows its parts). best (lowest val_loss, or the highest swap score after <code>facet checkpoints --best-by \
            swap</code>) and latest resolve per model wherever a checkpoint is expected, \
            e.g. <code>facet merge \(e(file)) --checkpoint best</code>.</p>
            """
        }
        return Self.html(Self.page(title: title, body: body + Self.modelsStyle, csrf: csrfToken, script: ""))
    }

    static let modelsStyle = """
    <style>#checkpoints{border-collapse:collapse;background:#fff;margin:.5em 0}#checkpoints td,#checkpoints \
    th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}
    #checkpoints td:nth-child(2),#checkpoints td:nth-child(10),#checkpoints th:nth-child(2),
    #checkpoints th:nth-child(10){text-align:left}
    ul.models{padding-left:1.2em}.convergence{color:#555}figure.plot{margin:.5em 0}figure.plot \
    img{max-width:100%;height:auto;background:#fff}</style>
    """
}
