/// The gallery's pages and changes: the grid, a face's page, crops and frames, counts, reject/restore and undo.
import Foundation
import FacetCore
import FacetCurate
import FacetMedia
import FacetStore
import Hummingbird

extension Gallery {
    /// The ids on one page, and how many faces match. Column sorts are one indexed query with
    /// LIMIT/OFFSET; histogram sorts are computed once per role and face count and then sliced.
    func pageIDs(_ pq: PageQuery) throws -> (ids: [Int64], total: Int) {
        var q = FaceQuery(role: pq.role, status: pq.status, tag: pq.tag)
        q.person = pq.person
        q.labelled = pq.labelled
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
            if pq.status != nil || pq.person != nil || pq.labelled != nil {
                inSet = Set(try project.faceIDs(matching: q))
            }
            let filtered = inSet.map { s in all.filter { s.contains($0) } } ?? all
            return (Array(filtered.dropFirst(offset).prefix(pq.per)), filtered.count)
        }
    }

    func galleryPage(_ params: [String: String]) throws -> Response {
        var pq = try PageQuery(params)
        var (ids, total) = try pageIDs(pq)
        // A page past the end (a bookmark, or faces rejected since) shows the last page.
        let lastPage = max(1, (total + pq.per - 1) / pq.per)
        if pq.page > lastPage {
            pq.page = lastPage
            (ids, total) = try pageIDs(pq)
        }
        var q = FaceQuery()
        q.ids = ids
        let byId = Dictionary(uniqueKeysWithValues: try project.faces(matching: q).map { ($0.id, $0) })
        let faces = ids.compactMap { byId[$0] }
        let kept = try project.countFaces(matching: FaceQuery(role: pq.role, status: .kept))
        let rejected = try project.countFaces(matching: FaceQuery(role: pq.role, status: .rejected))
        let pages = max(1, (total + pq.per - 1) / pq.per)
        let tags = try project.allTags()
        let labelledCounts = try project.labelledFaceCounts()
        let labelledHere = Set(try project.labelledFaceIDs(role: pq.role)).intersection(ids)
        // Faces with a stored segmenter mask (the overlay toggle), and whether it is out of date.
        let stored = try project.predictedMaskStates(faceIDs: ids)
        let revisionsNow = try project.labelRevisionsNow(faceIDs: Array(stored.keys))
        let predictedCount = try project.predictedMaskCount(role: pq.role)
        let e = HTML.escape

        var sortOptions = ""
        let sortNames = FaceField.allCases.flatMap { [$0.rawValue, "-" + $0.rawValue] } + ["hist", "-hist",
                                                                                           "hist_dissim",
                                                                                           "-hist_dissim",
                                                                                          "identity", "-identity"]
        for s in sortNames {
            let label = s.replacingOccurrences(of: "blur",
                                               with: "sharpness").replacingOccurrences(
                                                   of: "motion_sharpness", with: "motion_blur")
            sortOptions += "<option value=\"\(e(s))\"\(s == pq.sort.description ? " selected" : "")>"
                + "\(e(label))</option>"
        }
        var statusOptions = ""
        for s in ["kept", "rejected", "all"] {
            statusOptions += "<option\(s == pq.statusName ? " selected" : "")>\(s)</option>"
        }
        var personOptions = "<option value=\"\">anyone</option>"
        for p in try project.persons(role: pq.role) {
            let selected = p.id == pq.person ? " selected" : ""
            personOptions += "<option value=\"\(p.id)\"\(selected)>\(e(p.name ?? "person \(p.id)")) "
                             + "(\(p.faceCount))</option>"
        }
        var tagOptions = "<option value=\"\">any tag</option>"
        for t in tags {
            tagOptions += "<option value=\"\(e(t.tag))\"\(t.tag == pq.tag ? " selected" : "")>\(e(t.tag)) "
                          + "(\(t.faces))</option>"
        }
        var labelOptions = ""
        for (value, name) in [("", "any"), ("labelled", "labelled"), ("unlabelled", "unlabelled")] {
            let on = value == (pq.labelled.map { $0 ? "labelled" : "unlabelled" } ?? "")
            labelOptions += "<option value=\"\(value)\"\(on ? " selected" : "")>\(name)</option>"
        }
        var perOptions = ""
        for n in Self.pageSizes { perOptions += "<option\(n == pq.per ? " selected" : "")>\(n)</option>" }
        let back = pq.link()

        var grid = ""
        grid.reserveCapacity(faces.count * 600)
        for f in faces {
            let toggle = f.status == .kept ? "rejected" : "kept"
            let xseg = stored[f.id].map {
                " data-xseg=\"\($0.labelRevision == (revisionsNow[f.id] ?? "") ? "1" : "stale")\""
            } ?? ""
            grid += """
            <figure class="face \(f.status.rawValue)" id="face-\(f.id)" data-id="\(f.id)"\(xseg) tabindex="0">\
            <a class="tile" href="/face/\(f.id)"><img src="/crop/\(f.id)" loading="lazy" width="96" height="96" \
            alt="face \
            \(f.id)"></a>\
            <figcaption>\(f.id) · \(Self.caption(f, sort: pq.sort))\
            \(labelledHere.contains(f.id) ? Self.labelledMark : "")</figcaption>\
            <form method="post" action="/face/\(f.id)/status"><input type="hidden" name="csrf" value="\(csrfToken)">\
            <input type="hidden" name="status" value="\(toggle)"><input type="hidden" name="back" value="\(e(back))">\
            <button type="submit" class="toggle" \
            id="toggle-\(f.id)">\(f.status == .kept ? "reject" : "restore")</button></form></figure>
            """
        }
        let title = "\(pq.role.rawValue) faces · \((project.path as NSString).lastPathComponent)"
        let body = """
        <header><h1>\(e(title))</h1>
        <p class="links"><a id="models-link" href="/models">models and checkpoints</a> · <a id="people-link" \
        href="/people">people</a> · \
        <a id="merges-link" href="/merges">merges</a></p>
        <p class="counts"><span id="kept">\(kept)</span> kept · <span id="rejected">\(rejected)</span> rejected \
        · <span id="labelled">\(pq.role == .src ? labelledCounts.src : labelledCounts.dst)</span> mask-labelled \
        · showing \(faces.count) of \(total) (page \(pq.page) of \(pages))\
        \(predictedCount > 0 ? " · <label><input type=\"checkbox\" id=\"xseg-overlay\"> overlay the stored masks "
                              + "(o)</label> (<span id=\"predicted\">\(predictedCount)</span> faces have one)" : "")</p>
        <form method="get" action="/faces" class="controls">
        <label>role <select name="role"><option\(pq.role == .src ? " selected" : "")>src</option>\
        <option\(pq.role == .dst ? " selected" : "")>dst</option></select></label>
        <label>status <select name="status">\(statusOptions)</select></label>
        <label>tag <select name="tag">\(tagOptions)</select></label>
        <label>person <select name="person" id="person">\(personOptions)</select></label>
        <label>masks <select name="labels" id="labels">\(labelOptions)</select></label>
        <label>sort <select name="sort">\(sortOptions)</select></label>
        <label>per page <select name="per">\(perOptions)</select></label>
        <button type="submit">show</button></form>
        <nav>\(pq.page > 1 ? "<a id=\"prev\" href=\"\(e(pq.link(page: pq.page - 1)))\">← previous</a>" : "")
        \(pq.page < pages ? "<a id=\"next\" href=\"\(e(pq.link(page: pq.page + 1)))\">next →</a>" : "")
        <form method="post" action="/undo" class="inline"><input type="hidden" name="csrf" value="\(csrfToken)"><input \
        type="hidden" name="back" value="\(e(back))"><button type="submit" id="undo">undo last \
        change</button></form></nav>
        <p class="help">Click a face's button, or move with the arrow keys and press x (reject), r (restore), \
        Enter (open).</p></header>
        <main id="grid">\(grid)</main>
        """
        return Self.html(Self.page(title: title, body: body, csrf: csrfToken,
                                   script: Self.galleryScript + Self.gridOverlayScript))
    }

    /// What a grid tile's caption ends with when the face has mask labels.
    static let labelledMark = " <span class=\"lab\" title=\"mask labelled\">◩</span>"

    /// The value a face's caption shows: the sort's column (sharpness unless sorted by a column), named.
    static func caption(_ f: FaceRecord, sort: CurationSort) -> String {
        var field = FaceField.blur
        if case .column(let s) = sort, s.field != .id { field = s.field }
        let v: Double
        switch field {
        case .blur: return "sharpness " + String(format: "%.2f", f.blur)
        case .landmarkScore: return "landmark_score " + (f.landmarkScore.map { String(format: "%.2f", $0) } ?? "-")
        case .motionBlur: v = f.motionBlur
        case .yaw: v = f.yaw
        case .pitch: v = f.pitch
        case .roll: v = f.roll
        case .brightness: v = f.brightness
        case .hue: v = f.hue
        case .faceSize: v = f.faceSize
        case .score: v = f.score
        case .pts: v = f.pts
        case .frameIndex: v = Double(f.frameIndex)
        case .faceIndex: v = Double(f.faceIndex)
        case .mediaId: v = Double(f.mediaId)
        case .id: v = Double(f.id)
        }
        return "\(field.rawValue) " + (abs(v) >= 100 || v == v.rounded() ? String(
            format: "%.0f", v) : String(format: "%.2f", v))
    }

    /// What an imported face brought from another tool's file: the file, and the frame it was cut from.
    func originRows(_ id: Int64) throws -> [(String, String)] {
        guard let o = try project.faceOrigins(ids: [id])[id] else { return [] }
        let tool = o.tool == "dfl" ? "DeepFaceLab" : o.tool
        return [("imported from",
                 "\(tool) file \(o.fileName)")] + (o.sourceFilename.map { [("source frame", $0)] } ?? [])
    }

    func facePage(_ id: Int64, similarBy: String? = nil) throws -> Response {
        let f = try project.face(id: id)
        let media = try project.media(id: f.mediaId)
        let tags = try project.tags(faceIDs: [id])[id] ?? []
        let e = HTML.escape
        let size = Double(f.cropSize)
        var dots = ""
        if let lm = f.landmarks68?.transformed(by: f.imageToFace) {
            for p in lm.points {
                dots += "<circle cx=\"\(String(format: "%.2f", p.x))\" cy=\"\(String(format: "%.2f", p.y))\" "
                        + "r=\"\(String(format: "%.2f", max(0.8, size / 160)))\"/>"
            }
        }
        let rows: [(String, String)] = [
            ("role", f.role.rawValue), ("status", f.status.rawValue), ("media", "\(media.name) (#\(media.id ?? 0))"),
            ("frame", "\(f.frameIndex) (\(String(format: "%.3f", f.pts)) s)"), ("face in frame", "\(f.faceIndex)"),
            ("sharpness (higher is sharper)", String(format: "%.3f", f.blur)),
            ("motion blur", String(format: "%.3f", f.motionBlur)),
            ("yaw", String(format: "%.1f°", f.yaw)), ("pitch", String(format: "%.1f°", f.pitch)),
            ("roll", String(format: "%.1f°", f.roll)),
            ("brightness", String(format: "%.1f", f.brightness)), ("hue", String(format: "%.1f°", f.hue)),
            ("face size", String(format: "%.1f px", f.faceSize)), ("detector score", String(format: "%.3f", f.score)),
            ("landmark score",
             f.landmarkScore.map { String(format: "%.3f", $0) } ?? "not scored (extracted before schema 6)"),
            ("face type", f.faceType), ("crop", "\(f.cropSize) px"), ("tags", tags.joined(separator: ", ")),
            ("track", f.trackId.map { "\($0)" } ?? "none"), ("filled", f.filled ?? "no (extracted)"),
            ("person", try f.personId.map { pid in
                try project.persons(role: f.role).first { $0.id == pid }?.label ?? "person \(pid)" } ?? "-"),
        ] + (try originRows(id))
        let table = rows.map { "<tr><th>\(e($0.0))</th><td>\(e($0.1))</td></tr>" }.joined()
        let toggle = f.status == .kept ? "rejected" : "kept"
        let frame = sourceFrame == nil
            ? "<p>Source frame: decoding is not available in this build of the gallery.</p>"
            : "<figure><img id=\"frame\" src=\"/frame/\(id)\" alt=\"source frame \(f.frameIndex)\" "
              + "style=\"max-width:100%\"><figcaption>source frame \(f.frameIndex), "
              + "face box outlined</figcaption></figure>"
        let back = "/faces?role=\(f.role.rawValue)&status=all"
        let body = """
        <header><h1>face \(id)</h1><p><a href="/faces?role=\(f.role.rawValue)">← \(f.role.rawValue) \
        gallery</a></p></header>
        <div class="facepage">\(try maskEditor(f, landmarkDots: dots))
        <div><table>\(table)</table>
        <form method="post" action="/face/\(id)/status"><input type="hidden" name="csrf" value="\(csrfToken)">\
        <input type="hidden" name="status" value="\(toggle)"><input type="hidden" name="back" value="/face/\(id)">\
        <button type="submit" id="toggle-\(id)">\(f.status == .kept ? "reject" : "restore")</button></form></div></div>
        \(frame)
        \(try similarPanel(for: f, by: similarBy))
        \(try trackPanel(for: f))
        <p><a href="\(e(back))">all \(f.role.rawValue) faces</a></p>
        """
        return Self.html(Self.page(title: "face \(id)", body: body, csrf: csrfToken,
                                   script: Self.maskScript + Self.predictedMaskScript))
    }

    func crop(_ id: Int64) throws -> Response {
        let c = try project.faceCrop(id: id)
        return Response(status: .ok,
                        headers: [.contentType: c.format == "png" ? "image/png" : "image/jpeg",
                                  .cacheControl: "private, max-age=3600",
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
                        body: .init(byteBuffer: ByteBuffer(
                            bytes: try JPEGCodec.encode(img.channels == 3 ? img : img.rgb(), quality: 85))))
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
        guard let s = form["status"], let status = FaceStatus(rawValue: s) else {
            throw GalleryError(.badRequest, "status must be kept or rejected")
        }
        let face = try project.face(id: id)
        let verb = status == .rejected ? "reject" : "restore"
        _ = try project.setStatus(status, faceIDs: [id], command: "facet serve: \(verb) \(id)")
        if wantsJSON(request) {
            let kept = try project.countFaces(matching: FaceQuery(role: face.role, status: .kept))
            let rejected = try project.countFaces(matching: FaceQuery(role: face.role, status: .rejected))
            return Self.json("{\"id\":\(id),\"status\":\"\(status.rawValue)\","
                             + "\"kept\":\(kept),\"rejected\":\(rejected)}")
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
