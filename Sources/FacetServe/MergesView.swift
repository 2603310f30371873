/// The gallery's merge runs (`facet merges` in the browser): the runs, and a run as a strip of its frames, worst
/// first, each the original frame beside the merged one, with the measure that flags it. GET pages only.
import Foundation
import FacetCore
import FacetMedia
import FacetSelect
import FacetStore
import Hummingbird

extension Gallery {
    /// `/merges` (the runs), `/merges/:id` (a run's worst frames, `?n=` of them, default 12) and
    /// `/merges/:id/frame/:frame` (that frame, original beside merged, as JPEG).
    func addMergeRoutes(to router: Router<BasicRequestContext>) {
        router.get("/merges") { _, _ in try await self.respond { try self.mergesPage() } }
        router.get("/merges/:id") { req, ctx in
            try await self.respond { try self.mergeRunPage(try self.id(ctx), Self.params(req)) }
        }
        router.get("/merges/:id/frame/:frame") { _, ctx in
            try await self.respond(on: self.frameWork) {
                guard let frame = ctx.parameters.get("frame", as: Int.self) else {
                    throw GalleryError(.badRequest, "a frame is a number")
                }
                return try self.mergeRunFrame(try self.id(ctx), frame: frame)
            }
        }
    }

    /// The run, or 404 with the store's one line.
    func mergeRunRecord(_ id: Int64) throws -> MergeRunRecord {
        do { return try project.mergeRun(id: id) } catch let e as FacetError {
            throw GalleryError(.notFound, e.message)
        }
    }

    func mergesPage() throws -> Response {
        let e = HTML.escape
        var rows = ""
        for r in try project.mergeRuns() {
            let summary = MergeRuns.summary(try project.mergeFrameScores(runId: r.id))
            let state = r.finished ? "finished" : "unfinished"
            rows += "<tr class=\"run\" id=\"run-\(r.id)\"><td><a href=\"/merges/\(r.id)\">\(r.id)</a></td>"
                + "<td>\(e(String(r.startedAt.prefix(19))))</td><td>\(r.checkpointId.map { "#\($0)" } ?? "-")</td>"
                + "<td>\(r.firstFrame)..\(r.lastFrame)</td><td>\(r.frames)</td><td>\(r.framesScored)</td>"
                + "<td>\(state)</td>"
                + "<td>\(e(Self.scoreLine(summary)))</td><td>\(e(r.output))</td></tr>"
        }
        let title = "merges · \((project.path as NSString).lastPathComponent)"
        let table = rows.isEmpty ? "<p id=\"no-runs\">No merge runs yet: <code>facet merge</code> records each.</p>"
            : "<table id=\"runs\"><thead><tr><th>run</th><th>started</th><th>checkpoint</th><th>frames</th>"
                + "<th>merged</th><th>scored</th><th>state</th><th>scores (means)</th><th>output</th></tr></thead>"
                + "<tbody>\(rows)</tbody></table>"
        let body = "<header><h1>\(e(title))</h1><p><a href=\"/faces?role=src\">faces</a> · "
            + "<a href=\"/models\">models</a></p>"
            + "</header>\(table)"
        return Self.html(Self.page(title: title, body: body, csrf: csrfToken, script: ""))
    }

    /// Mean scores in words.
    static func scoreLine(_ s: [String: Double]) -> String {
        var parts: [String] = []
        if let v = s[MergeMetric.identityToSrc] { parts.append(String(format: "identity to src %.3f", v)) }
        if let v = s[MergeMetric.landmarks] { parts.append(String(format: "landmarks %.3f", v)) }
        if let v = s[MergeMetric.detail] { parts.append(String(format: "detail %.2f", v)) }
        if let v = s["jitter_ratio"] { parts.append(String(format: "jitter %.2fx the dst's", v)) }
        return parts.joined(separator: ", ")
    }

    func mergeRunPage(_ id: Int64, _ params: [String: String]) throws -> Response {
        let r = try mergeRunRecord(id)
        var n = 12
        if let text = params["n"] {
            guard let v = Int(text), (1...500).contains(v) else {
                throw GalleryError(.badRequest, "n must be a number from 1 to 500")
            }
            n = v
        }
        let e = HTML.escape
        let scores = try project.mergeFrameScores(runId: id)
        let worst = MergeRuns.worstFrames(scores, count: n)
        var strip = ""
        for (rank, w) in worst.enumerated() {
            let values = w.values.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }
                .joined(separator: ", ")
            strip += "<figure class=\"merged-frame\" id=\"frame-\(w.frame)\">"
                + "<img src=\"/merges/\(r.id)/frame/\(w.frame)\" "
                + "alt=\"frame \(w.frame): original beside merged\" loading=\"lazy\" style=\"max-width:100%\">"
                + "<figcaption>#\(rank + 1): frame \(w.frame) · <b>\(e(w.metric))</b> "
                + String(format: "%.4f (%.1f spreads from the run's median)", w.value, w.spread)
                + "<br><span class=\"values\">\(e(values))</span></figcaption></figure>"
        }
        let title = "merge run \(r.id)"
        let none = "<p id=\"no-scores\">This run has no scored frames (merged with <code>--no-score</code>, "
            + "or stopped early).</p>"
        let body = "<header><h1>\(e(title))</h1><p><a id=\"back\" href=\"/merges\">← merges</a> · "
            + "<a href=\"/faces?role=dst\">faces</a></p><p>\(e(r.output)) · frames \(r.firstFrame)..\(r.lastFrame), "
            + "\(r.framesScored) scored · \(e(Self.scoreLine(MergeRuns.summary(scores))))</p>"
            + "<p class=\"help\">Worst first: each frame as decoded (left) and as merged (right).</p></header>"
            + (worst.isEmpty ? none : "<div id=\"strip\">\(strip)</div>")
            + "<style>#strip figure{margin:0 0 1em 0;background:#fff;padding:4px}</style>"
        return Self.html(Self.page(title: title, body: body, csrf: csrfToken, script: ""))
    }

    /// Frame `frame` of run `id`: the dst video's frame beside the run's output frame (decoded from its video file).
    func mergeRunFrame(_ id: Int64, frame: Int) throws -> Response {
        let r = try mergeRunRecord(id)
        guard (r.firstFrame...r.lastFrame).contains(frame) else {
            throw GalleryError(.notFound, "frame \(frame) is not in run \(id) (frames \(r.firstFrame)..\(r.lastFrame))")
        }
        guard let decode = sourceFrame else { throw GalleryError(.notFound, "source frame decoding is not available") }
        let original = try decode(project, try project.media(id: r.mediaId), frame)
        guard FileManager.default.fileExists(atPath: r.output) else {
            throw GalleryError(.notFound, "the run's video \(r.output) is not there any more")
        }
        let decoder = try VideoDecoder(path: r.output)
        var merged: Image?
        while let f = try decoder.nextFrame() {
            if f.index == frame - r.firstFrame { merged = f.image; break }
        }
        guard let merged else { throw GalleryError(.notFound, "the run's video \(r.output) has no frame \(frame)") }
        let a = original.channels == 3 ? original : original.rgb(), b = merged.channels == 3 ? merged : merged.rgb()
        var out = Image(width: a.width + b.width, height: max(a.height, b.height), channels: 3)
        for y in 0..<a.height { for x in 0..<a.width { for c in 0..<3 { out[x, y, c] = a[x, y, c] } } }
        for y in 0..<b.height { for x in 0..<b.width { for c in 0..<3 { out[a.width + x, y, c] = b[x, y, c] } } }
        return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try JPEGCodec.encode(out, quality: 85))))
    }
}
