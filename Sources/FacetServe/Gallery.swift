/// `facet serve`: a gallery of a project's faces in the browser (Hummingbird 2), live over the project file.
import Foundation
import FacetCore
import FacetMedia
import FacetStore
import Hummingbird

/// Decodes the source frame `frameIndex` of a media, for the face page. The gallery has no decoder
/// of its own (FacetServe does not depend on the extraction engine); the CLI passes one built on
/// `FacetExtract.MediaFrames`. Nil: the face page says the frame cannot be shown.
public typealias SourceFrameDecoder = @Sendable (_ project: Project, _ media: MediaRecord, _ frameIndex: Int) throws -> Image

/// The gallery: pages of thumbnails for a role, sortable by every signature, filterable by status and
/// tag; a face page; reject/restore by POST with a CSRF token. Reads the file live (WAL), so it can
/// stay open while extraction or training writes. Every value is HTML-escaped; the only files served
/// are face crops and decoded frames, by face id.
public final class Gallery: Sendable {
    public let project: Project
    /// A fresh random token per server: every state-changing POST must carry it.
    public let csrfToken: String
    let sourceFrame: SourceFrameDecoder?
    let orders = OrderCache()
    /// Largest request body accepted (form posts are a few dozen bytes).
    public static let maxBodyBytes = 4096
    public static let pageSizes = [50, 100, 200, 500]
    /// Requests handled at once; more are answered 503 (a browser opens about 6 connections a host).
    let inFlight: InFlightLimit
    /// Where handlers do their blocking work (SQLite, image coding, plots), so it never holds one of
    /// the cooperative pool's threads, which also run the server.
    let pageWork: BlockingLane
    /// Source frames (each decodes its video from the start, up to seconds) on a lane of their own:
    /// a face page opened while frames decode still gets its threads.
    let frameWork: BlockingLane
    /// Threads of the two lanes.
    public static let pageThreads = 4, frameThreads = 2

    public init(project: Project, sourceFrame: SourceFrameDecoder? = nil, maxConcurrentRequests: Int = 32) {
        self.project = project
        self.sourceFrame = sourceFrame
        self.inFlight = InFlightLimit(limit: max(1, maxConcurrentRequests))
        self.pageWork = BlockingLane(name: "facet-serve-page", width: Self.pageThreads)
        self.frameWork = BlockingLane(name: "facet-serve-frame", width: Self.frameThreads)
        var bytes = [UInt8](repeating: 0, count: 24)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = rng.next() }
        self.csrfToken = bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Serves until cancelled. `onRunning` receives the bound port (useful with port 0).
    public func run(host: String = "127.0.0.1", port: Int = 8080, onRunning: (@Sendable (Int) async -> Void)? = nil) async throws {
        let app = Application(
            router: router(servingOn: host),
            configuration: .init(address: .hostname(host, port: port), serverName: "facet"),
            onServerRunning: { channel in await onRunning?(channel.localAddress?.port ?? port) })
        try await app.run()
    }

    /// The routes. Anything else is 404: no route maps a path to a file. Every route first checks
    /// the Host header against the address served on (`GalleryHostPolicy`) and the requests in flight.
    public func router(servingOn host: String = "127.0.0.1") -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: HostCheckMiddleware(policy: GalleryHostPolicy(servingOn: host)))
        router.add(middleware: ConcurrencyLimitMiddleware(inFlight: inFlight))
        router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/faces?role=src"]) }
        router.get("/faces") { req, _ in try await self.respond { try self.galleryPage(Self.params(req)) } }
        router.get("/face/:id") { req, ctx in try await self.respond { try self.facePage(try self.id(ctx), similarBy: Self.params(req)["similar"]) } }
        router.get("/people") { req, _ in try await self.respond { try self.peoplePage(Self.params(req)) } }
        router.post("/person/:id/name") { req, ctx in
            let form = try await self.form(req)
            return try await self.respond { try self.namePerson(try self.id(ctx), form: form, request: req) }
        }
        router.get("/crop/:id") { _, ctx in try await self.respond { try self.crop(try self.id(ctx)) } }
        router.get("/frame/:id") { _, ctx in try await self.respond(on: self.frameWork) { try self.frame(try self.id(ctx)) } }
        router.get("/counts") { req, _ in try await self.respond { try self.countsJSON(Self.params(req)) } }
        router.post("/face/:id/status") { req, ctx in
            let form = try await self.form(req)
            return try await self.respond { try self.setStatus(try self.id(ctx), form: form, request: req) }
        }
        router.post("/undo") { req, _ in
            let form = try await self.form(req)
            return try await self.respond { try self.undo(form: form, request: req) }
        }
        addModelRoutes(to: router)
        return router
    }

    // MARK: requests

    /// The query string as a dictionary (the first value of a repeated key).
    static func params(_ req: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in req.uri.queryParameters where out[String(k)] == nil { out[String(k)] = String(v) }
        return out
    }

    func id(_ ctx: BasicRequestContext) throws -> Int64 {
        guard let id = ctx.parameters.get("id", as: Int64.self) else { throw GalleryError(.badRequest, "a face id is a number") }
        return id
    }

    /// The url-encoded form of a POST, at most `maxBodyBytes`.
    func form(_ req: Request) async throws -> [String: String] {
        var req = req
        let body: ByteBuffer
        do {
            body = try await req.collectBody(upTo: Self.maxBodyBytes)
        } catch {
            throw HTTPError(.contentTooLarge, message: "request body over \(Self.maxBodyBytes) bytes")
        }
        return Self.parseForm(String(buffer: body))
    }

    static func parseForm(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in s.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if let k = kv.first { out[k] = kv.count > 1 ? kv[1] : "" }
        }
        return out
    }

    /// The token from the form or the `X-CSRF-Token` header, compared in constant time.
    func checkCSRF(_ form: [String: String], _ req: Request) throws {
        let given = form["csrf"] ?? req.headers[FieldName("X-CSRF-Token")!] ?? ""
        let a = Array(given.utf8), b = Array(csrfToken.utf8)
        var diff = a.count ^ b.count
        for i in 0..<min(a.count, b.count) { diff |= Int(a[i] ^ b[i]) }
        guard diff == 0 else { throw GalleryError(.forbidden, "missing or wrong CSRF token: reload the page") }
    }

    func wantsJSON(_ req: Request) -> Bool { (req.headers[.accept] ?? "").contains("application/json") }

    /// Runs `body` on a lane (`pageWork` unless told), off the cooperative pool, and turns errors into
    /// pages: a FacetError (unknown face, bad SQL) is a 4xx with the escaped message.
    func respond(on lane: BlockingLane? = nil, _ body: @escaping @Sendable () throws -> Response) async throws -> Response {
        try await (lane ?? pageWork).run { try Self.errorsAsPages(body) }
    }

    static func errorsAsPages(_ body: () throws -> Response) throws -> Response {
        do {
            return try body()
        } catch let e as GalleryError {
            return Self.html(Self.errorPage(e.message), status: e.status)
        } catch let e as FacetError {
            return Self.html(Self.errorPage(e.message), status: e.message.contains("has no face") || e.message.contains("has no person") ? .notFound : .badRequest)
        }
    }

    static func html(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                           FieldName("X-Content-Type-Options")!: "nosniff",
                                           FieldName("Content-Security-Policy")!: "default-src 'self'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"],
                 body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    static func json(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    // MARK: pages

    /// Query parameters of the gallery page, validated.
    struct PageQuery {
        var role: Role = .src
        var status: FaceStatus? = .kept
        var tag: String?
        /// Only this person's faces (`facet people`).
        var person: Int64?
        var sort: CurationSort = .column(FaceSort(.id))
        var page = 1
        var per = 100

        init(_ q: [String: String]) throws {
            if let r = q["role"] { guard let v = Role(rawValue: r) else { throw GalleryError(.badRequest, "role must be src or dst") }; role = v }
            if let s = q["status"] {
                if s == "all" { status = nil } else { guard let v = FaceStatus(rawValue: String(s)) else { throw GalleryError(.badRequest, "status must be kept, rejected or all") }; status = v }
            }
            if let t = q["tag"], !t.isEmpty { tag = String(t) }
            if let p = q["person"], !p.isEmpty { guard let v = Int64(p) else { throw GalleryError(.badRequest, "person must be a person's number") }; person = v }
            if let s = q["sort"], !s.isEmpty {
                guard let v = CurationSort(parsing: String(s)) else { throw GalleryError(.badRequest, "unknown sort '\(s)'") }
                if case .best = v { throw GalleryError(.badRequest, "best:N is a selection: use `facet sort best:N --tag T` and filter by the tag") }
                sort = v
            }
            if let p = q["page"] { guard let v = Int(p), v >= 1, v <= 1_000_000 else { throw GalleryError(.badRequest, "page must be a positive number") }; page = v }
            if let p = q["per"] { guard let v = Int(p), Gallery.pageSizes.contains(v) else { throw GalleryError(.badRequest, "per must be one of \(Gallery.pageSizes)") }; per = v }
        }

        var statusName: String { status?.rawValue ?? "all" }

        func link(page p: Int? = nil, sort s: String? = nil) -> String {
            var parts = ["role=\(role.rawValue)", "status=\(statusName)", "sort=\(HTML.query(s ?? sort.description))", "per=\(per)", "page=\(p ?? page)"]
            if let tag { parts.append("tag=\(HTML.query(tag))") }
            if let person { parts.append("person=\(person)") }
            return "/faces?" + parts.joined(separator: "&")
        }
    }

    /// The ids on one page, and how many faces match. Column sorts are one indexed query with
    /// LIMIT/OFFSET; histogram sorts are computed once per role and face count and then sliced.
    func pageIDs(_ pq: PageQuery) throws -> (ids: [Int64], total: Int) {
        var q = FaceQuery(role: pq.role, status: pq.status, tag: pq.tag)
        q.person = pq.person
        let total = try project.countFaces(matching: q)
        let offset = (pq.page - 1) * pq.per
        switch pq.sort {
        case .column(let s):
            var pageQ = q
            pageQ.sort = [s]; pageQ.limit = pq.per; pageQ.offset = offset
            return (try project.faceIDs(matching: pageQ), total)
        default:
            let all = try orders.order(project, FaceQuery(role: pq.role, tag: pq.tag), pq.sort)
            var inSet: Set<Int64>? = nil
            if pq.status != nil || pq.person != nil { inSet = Set(try project.faceIDs(matching: q)) }
            let filtered = inSet.map { s in all.filter { s.contains($0) } } ?? all
            return (Array(filtered.dropFirst(offset).prefix(pq.per)), filtered.count)
        }
    }

    func galleryPage(_ params: [String: String]) throws -> Response {
        let pq = try PageQuery(params)
        let (ids, total) = try pageIDs(pq)
        var q = FaceQuery()
        q.ids = ids
        let byId = Dictionary(uniqueKeysWithValues: try project.faces(matching: q).map { ($0.id, $0) })
        let faces = ids.compactMap { byId[$0] }
        let kept = try project.countFaces(matching: FaceQuery(role: pq.role, status: .kept))
        let rejected = try project.countFaces(matching: FaceQuery(role: pq.role, status: .rejected))
        let pages = max(1, (total + pq.per - 1) / pq.per)
        let tags = try project.allTags()
        let e = HTML.escape

        var sortOptions = ""
        let sortNames = FaceField.allCases.flatMap { [$0.rawValue, "-" + $0.rawValue] } + ["hist", "-hist", "hist_dissim", "-hist_dissim", "identity", "-identity"]
        for s in sortNames { sortOptions += "<option value=\"\(e(s))\"\(s == pq.sort.description ? " selected" : "")>\(e(s))</option>" }
        var statusOptions = ""
        for s in ["kept", "rejected", "all"] { statusOptions += "<option\(s == pq.statusName ? " selected" : "")>\(s)</option>" }
        var tagOptions = "<option value=\"\">any tag</option>"
        for t in tags { tagOptions += "<option value=\"\(e(t.tag))\"\(t.tag == pq.tag ? " selected" : "")>\(e(t.tag)) (\(t.faces))</option>" }
        var personOptions = "<option value=\"\">anyone</option>"
        let persons = try project.persons(role: pq.role)
        for p in persons {
            personOptions += "<option value=\"\(p.id)\"\(p.id == pq.person ? " selected" : "")>\(e(p.name ?? "person \(p.id)")) (\(p.faceCount))</option>"
        }
        var perOptions = ""
        for n in Self.pageSizes { perOptions += "<option\(n == pq.per ? " selected" : "")>\(n)</option>" }
        let back = pq.link()

        var grid = ""
        grid.reserveCapacity(faces.count * 600)
        for f in faces {
            let toggle = f.status == .kept ? "rejected" : "kept"
            grid += """
            <figure class="face \(f.status.rawValue)" id="face-\(f.id)" data-id="\(f.id)" tabindex="0">\
            <a href="/face/\(f.id)"><img src="/crop/\(f.id)" loading="lazy" width="96" height="96" alt="face \(f.id)"></a>\
            <figcaption>\(f.id) · \(String(format: "%.0f", f.blur))</figcaption>\
            <form method="post" action="/face/\(f.id)/status"><input type="hidden" name="csrf" value="\(csrfToken)">\
            <input type="hidden" name="status" value="\(toggle)"><input type="hidden" name="back" value="\(e(back))">\
            <button type="submit" class="toggle" id="toggle-\(f.id)">\(f.status == .kept ? "reject" : "restore")</button></form></figure>
            """
        }
        let title = "\(pq.role.rawValue) faces · \((project.path as NSString).lastPathComponent)"
        let body = """
        <header><h1>\(e(title))</h1>
        <p class="links"><a id="models-link" href="/models">models and checkpoints</a> · <a id="people-link" href="/people">people</a></p>
        <p class="counts"><span id="kept">\(kept)</span> kept · <span id="rejected">\(rejected)</span> rejected \
        · showing \(faces.count) of \(total) (page \(pq.page) of \(pages))</p>
        <form method="get" action="/faces" class="controls">
        <label>role <select name="role"><option\(pq.role == .src ? " selected" : "")>src</option><option\(pq.role == .dst ? " selected" : "")>dst</option></select></label>
        <label>status <select name="status">\(statusOptions)</select></label>
        <label>tag <select name="tag">\(tagOptions)</select></label>
        <label>person <select name="person" id="person">\(personOptions)</select></label>
        <label>sort <select name="sort">\(sortOptions)</select></label>
        <label>per page <select name="per">\(perOptions)</select></label>
        <button type="submit">show</button></form>
        <nav>\(pq.page > 1 ? "<a id=\"prev\" href=\"\(e(pq.link(page: pq.page - 1)))\">← previous</a>" : "")
        \(pq.page < pages ? "<a id=\"next\" href=\"\(e(pq.link(page: pq.page + 1)))\">next →</a>" : "")
        <form method="post" action="/undo" class="inline"><input type="hidden" name="csrf" value="\(csrfToken)"><input type="hidden" name="back" value="\(e(back))"><button type="submit" id="undo">undo last change</button></form></nav>
        <p class="help">Click a face's button, or move with the arrow keys and press x (reject), r (restore), Enter (open).</p></header>
        <main id="grid">\(grid)</main>
        """
        return Self.html(Self.page(title: title, body: body, csrf: csrfToken, script: Self.galleryScript))
    }

    func facePage(_ id: Int64, similarBy: String? = nil) throws -> Response {
        let f = try project.face(id: id)
        let media = try project.media(id: f.mediaId)
        let tags = try project.tags(faceIDs: [id])[id] ?? []
        let e = HTML.escape
        let size = Double(f.cropSize)
        var dots = ""
        if let lm = f.landmarks68?.transformed(by: f.imageToFace) {
            for p in lm.points { dots += "<circle cx=\"\(String(format: "%.2f", p.x))\" cy=\"\(String(format: "%.2f", p.y))\" r=\"\(String(format: "%.2f", max(0.8, size / 160)))\"/>" }
        }
        let rows: [(String, String)] = [
            ("role", f.role.rawValue), ("status", f.status.rawValue), ("media", "\(media.name) (#\(media.id ?? 0))"),
            ("frame", "\(f.frameIndex) (\(String(format: "%.3f", f.pts)) s)"), ("face in frame", "\(f.faceIndex)"),
            ("blur (sharpness)", String(format: "%.3f", f.blur)), ("motion blur", String(format: "%.3f", f.motionBlur)),
            ("yaw", String(format: "%.1f°", f.yaw)), ("pitch", String(format: "%.1f°", f.pitch)), ("roll", String(format: "%.1f°", f.roll)),
            ("brightness", String(format: "%.1f", f.brightness)), ("hue", String(format: "%.1f°", f.hue)),
            ("face size", String(format: "%.1f px", f.faceSize)), ("detector score", String(format: "%.3f", f.score)),
            ("landmark score", f.landmarkScore.map { String(format: "%.3f", $0) } ?? "not scored (extracted before schema 6)"),
            ("face type", f.faceType), ("crop", "\(f.cropSize) px"), ("tags", tags.joined(separator: ", ")),
            ("person", try f.personId.map { pid in try project.persons(role: f.role).first { $0.id == pid }?.label ?? "person \(pid)" } ?? "-"),
            ("track", f.trackId.map { "\($0)" } ?? "none"), ("filled", f.filled ?? "no (extracted)"),
        ]
        let table = rows.map { "<tr><th>\(e($0.0))</th><td>\(e($0.1))</td></tr>" }.joined()
        let toggle = f.status == .kept ? "rejected" : "kept"
        let frame = sourceFrame == nil
            ? "<p>Source frame: decoding is not available in this build of the gallery.</p>"
            : "<figure><img id=\"frame\" src=\"/frame/\(id)\" alt=\"source frame \(f.frameIndex)\" style=\"max-width:100%\"><figcaption>source frame \(f.frameIndex), face box outlined</figcaption></figure>"
        let back = "/faces?role=\(f.role.rawValue)&status=all"
        let body = """
        <header><h1>face \(id)</h1><p><a href="/faces?role=\(f.role.rawValue)">← \(f.role.rawValue) gallery</a></p></header>
        <div class="facepage"><svg id="crop" viewBox="0 0 \(f.cropSize) \(f.cropSize)" width="\(max(256, f.cropSize))" height="\(max(256, f.cropSize))">\
        <image href="/crop/\(id)" width="\(f.cropSize)" height="\(f.cropSize)"/><g class="landmarks">\(dots)</g></svg>
        <div><table>\(table)</table>
        <form method="post" action="/face/\(id)/status"><input type="hidden" name="csrf" value="\(csrfToken)">\
        <input type="hidden" name="status" value="\(toggle)"><input type="hidden" name="back" value="/face/\(id)">\
        <button type="submit" id="toggle-\(id)">\(f.status == .kept ? "reject" : "restore")</button></form></div></div>
        \(frame)
        \(try trackPanel(for: f))
        \(try similarPanel(for: f, by: similarBy))
        <p><a href="\(e(back))">all \(f.role.rawValue) faces</a></p>
        """
        return Self.html(Self.page(title: "face \(id)", body: body, csrf: csrfToken, script: ""))
    }

    func crop(_ id: Int64) throws -> Response {
        let c = try project.faceCrop(id: id)
        return Response(status: .ok, headers: [.contentType: c.format == "png" ? "image/png" : "image/jpeg", .cacheControl: "private, max-age=3600",
                                               FieldName("X-Content-Type-Options")!: "nosniff"],
                        body: .init(byteBuffer: ByteBuffer(bytes: c.data)))
    }

    func frame(_ id: Int64) throws -> Response {
        guard let decode = sourceFrame else { throw GalleryError(.notFound, "source frame decoding is not available") }
        let f = try project.face(id: id)
        let media = try project.media(id: f.mediaId)
        var img = try decode(project, media, f.frameIndex)
        Self.outline(&img, x: Int(f.boxX), y: Int(f.boxY), w: Int(f.boxW), h: Int(f.boxH))
        return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=3600"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try JPEGCodec.encode(img.channels == 3 ? img : img.rgb(), quality: 85))))
    }

    /// A 2-pixel green rectangle, clipped to the image.
    static func outline(_ img: inout Image, x: Int, y: Int, w: Int, h: Int) {
        guard img.channels >= 3 else { return }
        func put(_ px: Int, _ py: Int) {
            guard px >= 0, py >= 0, px < img.width, py < img.height else { return }
            img[px, py, 0] = 0; img[px, py, 1] = 255; img[px, py, 2] = 0
        }
        for t in 0..<2 {
            for px in x...(x + w) { put(px, y + t); put(px, y + h - t) }
            for py in y...(y + h) { put(x + t, py); put(x + w - t, py) }
        }
    }

    func countsJSON(_ params: [String: String]) throws -> Response {
        let role = try params["role"].map { r -> Role in
            guard let v = Role(rawValue: r) else { throw GalleryError(.badRequest, "role must be src or dst") }
            return v
        } ?? .src
        let kept = try project.countFaces(matching: FaceQuery(role: role, status: .kept))
        let rejected = try project.countFaces(matching: FaceQuery(role: role, status: .rejected))
        return Self.json("{\"role\":\"\(role.rawValue)\",\"kept\":\(kept),\"rejected\":\(rejected)}")
    }

    // MARK: changes

    func setStatus(_ id: Int64, form: [String: String], request: Request) throws -> Response {
        try checkCSRF(form, request)
        guard let s = form["status"], let status = FaceStatus(rawValue: s) else { throw GalleryError(.badRequest, "status must be kept or rejected") }
        let face = try project.face(id: id)
        let verb = status == .rejected ? "reject" : "restore"
        _ = try project.setStatus(status, faceIDs: [id], command: "facet serve: \(verb) \(id)")
        if wantsJSON(request) {
            let kept = try project.countFaces(matching: FaceQuery(role: face.role, status: .kept))
            let rejected = try project.countFaces(matching: FaceQuery(role: face.role, status: .rejected))
            return Self.json("{\"id\":\(id),\"status\":\"\(status.rawValue)\",\"kept\":\(kept),\"rejected\":\(rejected)}")
        }
        return Response(status: .seeOther, headers: [.location: Self.safeBack(form["back"])])
    }

    func undo(form: [String: String], request: Request) throws -> Response {
        try checkCSRF(form, request)
        let u = try project.undoLastChange()
        if wantsJSON(request) { return Self.json("{\"undone\":\(u.map { "\($0.changeId)" } ?? "null")}") }
        return Response(status: .seeOther, headers: [.location: Self.safeBack(form["back"])])
    }

    /// Only our own pages are redirect targets (no open redirect).
    static func safeBack(_ s: String?) -> String {
        guard let s, s.hasPrefix("/faces?") || s.hasPrefix("/face/"), !s.contains("//"), !s.contains("\\"),
              s.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else { return "/faces" }
        return s
    }

    // MARK: page frame

    static func errorPage(_ message: String) -> String {
        page(title: "facet: error", body: "<h1>Cannot show that</h1><p class=\"error\">\(HTML.escape(message))</p><p><a href=\"/faces\">gallery</a></p>", csrf: "", script: "")
    }

    static func page(title: String, body: String, csrf: String, script: String) -> String {
        """
        <!doctype html><html lang="en"><head><meta charset="utf-8"><title>\(HTML.escape(title))</title>
        <meta name="csrf-token" content="\(HTML.escape(csrf))">
        <style>
        body{font:14px system-ui,sans-serif;margin:1em;background:#f6f6f6;color:#222}
        h1{font-size:1.3em;margin:.2em 0}.controls label{margin-right:.8em}nav{margin:.5em 0}nav a{margin-right:1em}
        form.inline{display:inline}#grid{display:flex;flex-wrap:wrap;gap:6px}
        figure.face{margin:0;padding:4px;background:#fff;border:2px solid #ddd;border-radius:4px;width:100px;text-align:center}
        figure.face:focus{outline:3px solid #3b82f6}figure.face.rejected{opacity:.45;border-color:#c33}
        figure.face img{display:block;width:96px;height:96px;object-fit:cover}figcaption{font-size:11px;color:#555}
        figure.face button{font-size:11px;width:96px}.facepage{display:flex;gap:1.5em;align-items:flex-start}
        .landmarks circle{fill:#0f0;stroke:#000;stroke-width:.2}th{text-align:left;padding-right:1em}.error{color:#b00}
        </style></head><body>\(body)<script>\(script)</script></body></html>
        """
    }

    /// Click and keyboard curation without reloading: POSTs with the CSRF token, then updates the tile
    /// and the counts from the JSON answer. Without JavaScript the forms post and redirect back.
    static let galleryScript = """
    const token = document.querySelector('meta[name="csrf-token"]').content;
    async function toggle(fig) {
      const form = fig.querySelector('form'); const status = form.querySelector('input[name="status"]').value;
      const r = await fetch(form.action, {method: 'POST', headers: {'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded'},
        body: 'csrf=' + encodeURIComponent(token) + '&status=' + status});
      if (!r.ok) { alert('facet: ' + r.status + ' ' + (await r.text()).replace(/<[^>]*>/g, ' ').trim().slice(0, 200)); return; }
      const j = await r.json();
      fig.classList.remove('kept', 'rejected'); fig.classList.add(j.status);
      form.querySelector('input[name="status"]').value = j.status === 'kept' ? 'rejected' : 'kept';
      form.querySelector('button').textContent = j.status === 'kept' ? 'reject' : 'restore';
      document.getElementById('kept').textContent = j.kept; document.getElementById('rejected').textContent = j.rejected;
      fig.dataset.status = j.status;
    }
    document.querySelectorAll('figure.face form').forEach(f => f.addEventListener('submit', ev => { ev.preventDefault(); toggle(f.closest('figure')); }));
    document.addEventListener('keydown', ev => {
      const figs = Array.from(document.querySelectorAll('figure.face')); const i = figs.indexOf(document.activeElement);
      if (ev.key === 'ArrowRight' || ev.key === 'ArrowDown') { (figs[i + 1] || figs[0]).focus(); ev.preventDefault(); }
      else if (ev.key === 'ArrowLeft' || ev.key === 'ArrowUp') { (figs[i - 1] || figs[figs.length - 1]).focus(); ev.preventDefault(); }
      else if (i >= 0 && (ev.key === 'x' || ev.key === 'Delete') && figs[i].classList.contains('kept')) toggle(figs[i]);
      else if (i >= 0 && ev.key === 'r' && figs[i].classList.contains('rejected')) toggle(figs[i]);
      else if (i >= 0 && ev.key === 'Enter') location.href = '/face/' + figs[i].dataset.id;
    });
    """
}

/// A header name (HTTPTypes' `HTTPField.Name`, reached through what Hummingbird exports).
typealias FieldName = HTTPFields.Element.Name

/// An error with the HTTP status it answers with.
struct GalleryError: Error {
    let status: HTTPResponse.Status
    let message: String
    init(_ status: HTTPResponse.Status, _ message: String) { self.status = status; self.message = message }
}

/// Histogram orders per (role, tag, sort), reused while the role's face count stays the same.
final class OrderCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cache: [String: (count: Int, ids: [Int64])] = [:]

    func order(_ project: Project, _ q: FaceQuery, _ sort: CurationSort) throws -> [Int64] {
        let key = "\(q.role?.rawValue ?? "")|\(q.tag ?? "")|\(sort)"
        let count = try project.countFaces(matching: q)
        lock.lock()
        if let hit = cache[key], hit.count == count { lock.unlock(); return hit.ids }
        lock.unlock()
        let ids = try project.sortedFaceIDs(matching: q, by: sort)
        lock.lock(); cache[key] = (count, ids); lock.unlock()
        return ids
    }
}
