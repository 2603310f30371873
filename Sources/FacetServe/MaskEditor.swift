/// The face page's mask editor: a face's include/exclude polygons as JSON, saved by POST (CSRF token, one undoable
/// change each), copied from the nearest labelled face of the same track or person through the landmarks, and the
/// labelled mask as a PNG.
import Foundation
import FacetCore
import FacetMedia
import FacetStore
import Hummingbird

extension Gallery {
    /// Largest mask save accepted: a face's polygons as JSON (a few hundred points are a few kilobytes).
    public static let maxMaskBodyBytes = 512 * 1024

    func addMaskRoutes(to router: Router<BasicRequestContext>) {
        router.get("/face/:id/mask") { _, ctx in try await self.respond { try self.maskJSON(try self.id(ctx)) } }
        router.post("/face/:id/mask") { req, ctx in
            let form = try await self.form(req, limit: Self.maxMaskBodyBytes)
            return try await self.respond { try self.saveMask(try self.id(ctx), form: form, request: req) }
        }
        router.get("/face/:id/mask/copy") { req, ctx in
            try await self.respond { try self.copiedMask(try self.id(ctx), from: Self.params(req)["from"]) }
        }
        router.get("/mask/:id") { _, ctx in try await self.respond { try self.maskPNG(try self.id(ctx)) } }
    }

    /// `{"face": ID, "crop_size": S, "revision": R, "polygons": [...]}`: the face's stored labels.
    func maskJSON(_ id: Int64) throws -> Response {
        let f = try project.face(id: id)
        let polygons = try project.maskPolygons(faceIDs: [id])[id] ?? []
        let revision = try project.maskLabelRevisions(faceIDs: [id])[id] ?? 0
        return Self.json("{\"face\": \(id), \"crop_size\": \(f.cropSize), \"revision\": \(revision), "
                         + "\"polygons\": \(MaskLabels.json(polygons))}")
    }

    /// Stores the form's `polygons` (a JSON array of `{"kind", "points"}`) as the face's labels: one undoable
    /// change, or none when they are what is stored. Bad polygons are a 400 with the store's one line.
    func saveMask(_ id: Int64, form: [String: String], request: Request) throws -> Response {
        try checkCSRF(form, request)
        guard let text = form["polygons"] else { throw GalleryError(.badRequest, "polygons is missing") }
        let polygons: [MaskPolygon]
        do {
            polygons = try MaskLabels.polygons(json: text)
        } catch let e as FacetError {
            throw GalleryError(.badRequest, "polygons: " + e.message.replacingOccurrences(of: "polygons:1: ", with: ""))
        }
        _ = try project.face(id: id)
        let summary = try project.setMaskPolygons(faceID: id, polygons: polygons, command: "facet serve: mask \(id)")
        if wantsJSON(request) {
            let counts = try project.labelledFaceCounts()
            return Self.json("{\"face\": \(id), \"change\": \(summary.changeId.map { "\($0)" } ?? "null"), "
                             + "\"labelled_src\": \(counts.src), \"labelled_dst\": \(counts.dst)}")
        }
        return Response(status: .seeOther, headers: [.location: "/face/\(id)"])
    }

    /// The polygons of the nearest labelled face before (`from=prev`) or after (`from=next`) this one in its track,
    /// else of its person, else of its media, carried into this face's crop through the 68 landmarks of both (in crop
    /// pixels) by `LandmarkWarp` (a corner on a landmark lands on this face's landmark, one among landmarks follows
    /// them), and clipped to the crop. Not stored: the
    /// editor shows them, the user saves.
    func copiedMask(_ id: Int64, from: String?) throws -> Response {
        guard let from, from == "prev" || from == "next" else {
            throw GalleryError(.badRequest, "from must be prev or next")
        }
        let target = try project.face(id: id)
        guard let (otherID, via) = try project.neighbourLabelledFace(of: id, forward: from == "next") else {
            return Self.json("{\"face\": null, \"polygons\": [], \"message\": \"no labelled face "
                             + "\(from == "next" ? "after" : "before") this one in its track, person or media\"}",
                             status: .notFound)
        }
        let source = try project.face(id: otherID)
        let polygons = try project.maskPolygons(faceIDs: [otherID])[otherID] ?? []
        guard let a = source.landmarks68?.transformed(by: source.imageToFace).points,
              let b = target.landmarks68?.transformed(by: target.imageToFace).points,
              a.allSatisfy({ $0.x.isFinite && $0.y.isFinite }), b.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else {
            throw GalleryError(.unprocessableContent, "face \(otherID) or \(id) has no usable landmarks")
        }
        let warp = LandmarkWarp(from: a, to: b)
        let carried = polygons.map {
            MaskPolygon(kind: $0.kind, points: $0.points.map(warp.apply)).clamped(to: target.cropSize).stored
        }
        return Self.json("{\"face\": \(otherID), \"via\": \"\(via)\", \"polygons\": \(MaskLabels.json(carried))}")
    }

    /// The face's labelled mask (8-bit grey PNG at crop size); 404 when it has no labels.
    func maskPNG(_ id: Int64) throws -> Response {
        let f = try project.face(id: id)
        guard let polygons = try project.maskPolygons(faceIDs: [id])[id], !polygons.isEmpty else {
            throw GalleryError(.notFound, "face \(id) has no mask labels")
        }
        let pixels = MaskPolygon.rasterize(polygons, width: f.cropSize, height: f.cropSize)
        let png = try PNGCodec.encode(Image(width: f.cropSize, height: f.cropSize, channels: 1, pixels: pixels))
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store",
                                               FieldName("X-Content-Type-Options")!: "nosniff"],
                        body: .init(byteBuffer: ByteBuffer(bytes: png)))
    }

    /// The face page's editor: the crop with the mask tinted over it, the polygons' outlines and corners, the
    /// landmarks, and the tools.
    func maskEditor(_ f: FaceRecord, landmarkDots: String) throws -> String {
        let s = f.cropSize, shown = max(256, f.cropSize)
        let polygons = try project.maskPolygons(faceIDs: [f.id])[f.id] ?? []
        let predicted = try predictedMaskInfo(f.id)
        let layer = predicted.map { _ in Self.predictedMaskLayer(faceID: f.id, size: s) } ?? (defs: "", layer: "")
        return """
        <section id="mask-editor" data-face="\(f.id)" data-size="\(s)">\
        <svg id="crop" viewBox="0 0 \(s) \(s)" width="\(shown)" height="\(shown)" tabindex="0">\
        <defs><mask id="mask-cut" maskUnits="userSpaceOnUse" x="0" y="0" width="\(s)" height="\(s)"></mask>\
        \(layer.defs)</defs>\
        <image href="/crop/\(f.id)" width="\(s)" height="\(s)"/>\
        <rect id="mask-tint" width="\(s)" height="\(s)" mask="url(#mask-cut)"/>\(layer.layer)\
        <g class="landmarks">\(landmarkDots)</g><g id="polys"></g></svg>
        <div class="mask-tools"><p>
        <button type="button" id="mode-include">include (i)</button>
        <button type="button" id="mode-exclude">exclude (e)</button>
        <button type="button" id="mask-save">save (s)</button>
        <button type="button" id="mask-undo-edit">undo edit (z)</button>
        <button type="button" id="mask-undo">undo last saved change</button></p><p>
        <button type="button" id="copy-prev">copy from previous labelled face (p)</button>
        <button type="button" id="copy-next">copy from next (n)</button>
        <label><input type="checkbox" id="show-mask" checked> show the labels' mask (m)</label></p>
        \(Self.predictedMaskPanel(faceID: f.id, info: predicted))
        <p id="mask-status" aria-live="polite">\(polygons.isEmpty ? "no mask labels" :
            "\(polygons.count) polygon\(polygons.count == 1 ? "" : "s") saved")</p>
        <p class="help">Click on the face to place corners; Enter or a click on the first corner closes the polygon, \
        Escape drops it, Backspace takes back a corner. Click a polygon's outline to select it: drag the outline or \
        the corners, move it with the arrow keys (Shift: 5 px), t flips include/exclude, Delete removes it. \
        Include polygons add to the mask, exclude polygons cut out of it, in order (hands, hair, glasses). Save \
        stores the polygons as one undoable change. Green: the labels' mask; magenta: the mask stored by \
        facet xseg apply (the segmenter's prediction, or the drawn labels of a face labelled when it ran).</p></div>
        <script id="mask-data" type="application/json">\(Self.scriptSafe(MaskLabels.json(polygons)))</script>\
        </section>
        """
    }

    /// JSON to place inside a `<script>` element: `<` escaped so that no `</script>` can end it early.
    static func scriptSafe(_ json: String) -> String { json.replacingOccurrences(of: "<", with: "\\u003c") }
}

extension Gallery {
    /// The editor's styles: the tint shows the mask (include minus exclude, in order), outlines the polygons.
    static let maskStyle = """
    #mask-tint{fill:#00e676;opacity:.45;pointer-events:none}#crop .landmarks{pointer-events:none}\
    #crop.hide-mask #mask-tint{display:none}#crop:focus{outline:2px solid #3b82f6}\
    #polys polygon,#polys polyline{fill:none;stroke-width:2px;vector-effect:non-scaling-stroke;pointer-events:none}\
    #polys polygon.hit{stroke:transparent;stroke-width:12px;pointer-events:stroke;cursor:move}\
    #polys .include{stroke:#00c853}#polys .exclude{stroke:#ff1744}#polys .selected{stroke-width:4px}\
    #polys polyline{fill:none;stroke-dasharray:4 3}#polys circle{fill:#fff;stroke:#000;\
    vector-effect:non-scaling-stroke;cursor:pointer}.mask-tools button.on{background:#cde;font-weight:bold}\
    figure.face .lab{color:#0a7d3b;font-weight:bold}figure.face img.overlay{position:absolute;top:0;left:0}
    """

    /// The editor's script: polygons drawn, selected, dragged and deleted with the mouse and keyboard, rendered
    /// as the tinted mask; saved, undone and copied through the routes above (POSTs carry the CSRF token).
    static let maskScript = """
    (function () {
    const root = document.getElementById('mask-editor'); if (!root) return;
    const token = document.querySelector('meta[name="csrf-token"]').content;
    const face = root.dataset.face, size = Number(root.dataset.size);
    const svg = document.getElementById('crop'), layer = document.getElementById('polys');
    const cut = document.getElementById('mask-cut'), status = document.getElementById('mask-status');
    const NS = 'http://www.w3.org/2000/svg';
    let polys = JSON.parse(document.getElementById('mask-data').textContent);
    let kind = 'include', drawing = null, sel = -1, drag = null, history = [], dirty = false;
    const r2 = v => Math.round(v * 100) / 100;
    const clamp = v => Math.min(size, Math.max(0, v));
    const copy = () => JSON.parse(JSON.stringify(polys));
    function remember() { history.push(copy()); if (history.length > 200) history.shift(); dirty = true; }
    function say(t) { status.textContent = t; }
    function at(ev) {
      const b = svg.getBoundingClientRect();
      return [r2(clamp((ev.clientX - b.left) * size / b.width)), r2(clamp((ev.clientY - b.top) * size / b.height))];
    }
    function el(name, attrs) {
      const e = document.createElementNS(NS, name);
      for (const k in attrs) e.setAttribute(k, attrs[k]);
      return e;
    }
    const pts = p => p.map(q => q[0] + ',' + q[1]).join(' ');
    function render() {
      cut.replaceChildren(); layer.replaceChildren();
      polys.forEach((p, i) => {
        cut.appendChild(el('polygon', {points: pts(p.points), fill: p.kind === 'include' ? '#fff' : '#000'}));
        layer.appendChild(el('polygon', {points: pts(p.points), class: p.kind + (i === sel ? ' selected' : '')}));
        const hit = el('polygon', {points: pts(p.points), class: 'hit'}); hit.dataset.p = i; layer.appendChild(hit);
      });
      if (sel >= 0 && polys[sel]) polys[sel].points.forEach((q, v) => {
        const c = el('circle', {cx: q[0], cy: q[1], r: size / 90}); c.dataset.p = sel; c.dataset.v = v;
        layer.appendChild(c);
      });
      if (drawing) {
        layer.appendChild(el('polyline', {points: pts(drawing.points), class: drawing.kind}));
        drawing.points.forEach((q, v) => {
          const c = el('circle', {cx: q[0], cy: q[1], r: size / (v === 0 ? 60 : 90)}); c.dataset.first = v === 0;
          layer.appendChild(c);
        });
      }
      document.getElementById('mode-include').classList.toggle('on', kind === 'include');
      document.getElementById('mode-exclude').classList.toggle('on', kind === 'exclude');
    }
    function close() {
      if (!drawing) return;
      // A double click places its corner twice: keep one of corners closer than half a pixel.
      drawing.points = drawing.points.filter((q, v, a) => v === 0 || Math.hypot(q[0] - a[v - 1][0],
                                                                                q[1] - a[v - 1][1]) >= 0.5);
      if (drawing.points.length < 3) { say('a polygon needs at least 3 corners'); return; }
      remember(); polys.push(drawing); sel = -1; drawing = null;
      say(polys.length + ' polygon(s), not saved'); render();
    }
    svg.addEventListener('pointerdown', ev => {
      if (ev.button !== 0) return;
      svg.focus(); const p = at(ev), t = ev.target;
      if (drawing) {
        if (t.dataset && t.dataset.first === 'true' && drawing.points.length >= 3) close();
        else { drawing.points.push(p); render(); }
      } else if (t.dataset && t.dataset.v !== undefined) {
        remember(); drag = {p: Number(t.dataset.p), v: Number(t.dataset.v)};
      } else if (t.dataset && t.dataset.p !== undefined) {
        sel = Number(t.dataset.p); remember(); drag = {p: sel, from: p, orig: copy()[sel].points}; render();
      } else {
        sel = -1; drawing = {kind: kind, points: [p]}; render();
      }
      if (drag) svg.setPointerCapture(ev.pointerId);
      ev.preventDefault();
    });
    svg.addEventListener('pointermove', ev => {
      if (!drag) return;
      const p = at(ev);
      if (drag.v !== undefined) polys[drag.p].points[drag.v] = p;
      else polys[drag.p].points = drag.orig.map(q => [r2(clamp(q[0] + p[0] - drag.from[0])),
                                                      r2(clamp(q[1] + p[1] - drag.from[1]))]);
      render();
    });
    svg.addEventListener('pointerup', () => { if (drag) { drag = null; say('moved, not saved'); } });
    svg.addEventListener('dblclick', ev => { ev.preventDefault(); close(); });
    function setKind(k) { kind = k; if (drawing) drawing.kind = k; render(); }
    async function post(url, body) {
      const r = await fetch(url, {method: 'POST', headers: {'Accept': 'application/json',
        'Content-Type': 'application/x-www-form-urlencoded'}, body: 'csrf=' + encodeURIComponent(token) + body});
      if (!r.ok) throw new Error(r.status + ' ' + (await r.text()).replace(/<[^>]*>/g, ' ').trim().slice(0, 200));
      return r.json();
    }
    async function reload() {
      const r = await fetch('/face/' + face + '/mask', {headers: {'Accept': 'application/json'}});
      polys = (await r.json()).polygons; sel = -1; drawing = null; history = []; dirty = false; render();
    }
    async function save() {
      if (drawing && drawing.points.length >= 3) close();
      try {
        const j = await post('/face/' + face + '/mask', '&polygons=' + encodeURIComponent(JSON.stringify(polys)));
        dirty = false;
        say(j.change === null ? 'nothing to save: these polygons are stored' : 'saved ' + polys.length +
            ' polygon(s) (change ' + j.change + ')');
        root.dataset.saved = String(j.change);
      } catch (e) { say('not saved: ' + e.message); }
    }
    async function undoSaved() {
      try {
        const j = await post('/undo', ''); await reload();
        say(j.undone === null ? 'nothing to undo' : 'undid change ' + j.undone + ': ' + polys.length +
            ' polygon(s) stored');
        root.dataset.undone = String(j.undone);
      } catch (e) { say('undo failed: ' + e.message); }
    }
    async function copyFrom(dir) {
      const r = await fetch('/face/' + face + '/mask/copy?from=' + dir, {headers: {'Accept': 'application/json'}});
      const j = await r.json();
      if (!r.ok) { say(j.message || ('copy failed: ' + r.status)); return; }
      remember(); polys = j.polygons; sel = -1; drawing = null; render();
      say('copied ' + polys.length + ' polygon(s) from face ' + j.face + ' (same ' + j.via + '), not saved');
    }
    function undoEdit() {
      if (drawing) { drawing = null; render(); return; }
      if (!history.length) { say('no edit to undo'); return; }
      polys = history.pop(); sel = -1; render(); say('edit undone, not saved');
    }
    document.getElementById('mode-include').onclick = () => setKind('include');
    document.getElementById('mode-exclude').onclick = () => setKind('exclude');
    document.getElementById('mask-save').onclick = save;
    document.getElementById('mask-undo').onclick = undoSaved;
    document.getElementById('mask-undo-edit').onclick = undoEdit;
    document.getElementById('copy-prev').onclick = () => copyFrom('prev');
    document.getElementById('copy-next').onclick = () => copyFrom('next');
    const show = document.getElementById('show-mask');
    show.onchange = () => svg.classList.toggle('hide-mask', !show.checked);
    document.addEventListener('keydown', ev => {
      const tag = (ev.target.tagName || '').toLowerCase();
      if (tag === 'input' || tag === 'select' || tag === 'textarea' || ev.altKey || ev.metaKey) return;
      const k = ev.key, step = ev.shiftKey ? 5 : 1;
      if (ev.ctrlKey) { if (k === 'z') { undoEdit(); ev.preventDefault(); } return; }
      if (k === 'i') setKind('include');
      else if (k === 'e') setKind('exclude');
      else if (k === 'Enter' && drawing) close();
      else if (k === 'Escape') { drawing = null; sel = -1; render(); }
      else if (k === 'Backspace' && drawing) { drawing.points.pop(); if (!drawing.points.length) drawing = null;
        render(); }
      else if ((k === 'Delete' || k === 'Backspace') && sel >= 0) { remember(); polys.splice(sel, 1); sel = -1;
        render(); say(polys.length + ' polygon(s), not saved'); }
      else if (k === 't' && sel >= 0) {
        remember(); polys[sel].kind = polys[sel].kind === 'include' ? 'exclude' : 'include'; render();
      }
      else if (k.startsWith('Arrow') && sel >= 0) {
        remember();
        const dx = k === 'ArrowLeft' ? -step : k === 'ArrowRight' ? step : 0;
        const dy = k === 'ArrowUp' ? -step : k === 'ArrowDown' ? step : 0;
        polys[sel].points = polys[sel].points.map(q => [r2(clamp(q[0] + dx)), r2(clamp(q[1] + dy))]); render();
      }
      else if (k === 's') save();
      else if (k === 'z') undoEdit();
      else if (k === 'p') copyFrom('prev');
      else if (k === 'n') copyFrom('next');
      else if (k === 'm') { show.checked = !show.checked; show.onchange(); }
      else return;
      ev.preventDefault();
    });
    window.addEventListener('beforeunload', ev => { if (dirty) { ev.preventDefault(); ev.returnValue = ''; } });
    render();
    })();
    """
}
