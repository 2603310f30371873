/// The segmenter's stored masks (`facet xseg apply`) in the gallery: each face's mask as its PNG and as JSON (which
/// checkpoint made it, whether it is out of date against the face's labels or the model's latest checkpoint), a
/// tinted layer and a panel on the face page, and an overlay toggle on the grid. Read-only: every route is a GET.
import Foundation
import FacetCore
import FacetStore
import Hummingbird

extension Gallery {
    func addPredictedMaskRoutes(to router: Router<BasicRequestContext>) {
        router.get("/xseg/:id") { _, ctx in try await self.respond { try self.predictedMaskPNG(try self.id(ctx)) } }
        router.get("/face/:id/xseg") { _, ctx in
            try await self.respond { try self.predictedMaskJSON(try self.id(ctx)) }
        }
    }

    /// A face's stored mask with what the page says about it.
    struct PredictedMaskInfo {
        let mask: PredictedMask
        /// The checkpoint that made it (nil once deleted).
        let checkpoint: CheckpointRecord?
        /// The latest checkpoint with weights of that checkpoint's model (what `xseg apply` uses by default).
        let latest: CheckpointRecord?
        /// The label revision `xseg apply` would record now.
        let labelRevisionNow: String

        /// Whether the stored mask is the face's drawn labels (labelled when applied) rather than a prediction.
        var fromLabels: Bool { !mask.labelRevision.isEmpty }
        /// Why the mask is out of date, nil when it is not.
        var staleReason: String? {
            var reasons: [String] = []
            if mask.labelRevision != labelRevisionNow {
                if labelRevisionNow.isEmpty {
                    reasons.append("the face's labels were cleared since")
                } else if mask.labelRevision.isEmpty {
                    reasons.append("the face was labelled since")
                } else {
                    reasons.append("the face's labels changed since (revision \(mask.labelRevision), now "
                                   + "\(labelRevisionNow))")
                }
            }
            if mask.checkpointId == nil {
                reasons.append("the checkpoint that made it is gone")
            } else if let latest, latest.id != mask.checkpointId {
                reasons.append("checkpoint #\(latest.id) of model '\(latest.modelName)' is newer")
            }
            return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
        }
    }

    /// The stored mask of face `id` and its context, nil when the face has none.
    func predictedMaskInfo(_ id: Int64) throws -> PredictedMaskInfo? {
        guard let m = try project.predictedMask(faceID: id) else { return nil }
        let checkpoint = m.checkpointId.flatMap { try? project.checkpoint(id: $0) }
        let latest = checkpoint.flatMap { try? project.checkpoint(resolving: "latest", model: $0.modelName) }
        let now = try project.labelRevisionsNow(faceIDs: [id])[id] ?? ""
        return PredictedMaskInfo(mask: m, checkpoint: checkpoint, latest: latest, labelRevisionNow: now)
    }

    /// The face's stored mask exactly as stored (8-bit grey PNG at the segmenter's resolution, 255 = face not
    /// covered); 404 when the face has none.
    func predictedMaskPNG(_ id: Int64) throws -> Response {
        _ = try project.face(id: id)
        guard let m = try project.predictedMask(faceID: id) else {
            throw GalleryError(.notFound, "face \(id) has no predicted mask: run facet xseg apply")
        }
        return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store",
                                               FieldName("X-Content-Type-Options")!: "nosniff"],
                        body: .init(byteBuffer: ByteBuffer(bytes: m.png)))
    }

    /// `{"face": ID, "mask": {...}}` with the checkpoint, model, iteration, held-out IoU, size, whether the mask is
    /// the drawn labels or a prediction, the label revisions then and now, and `stale` with its reason; a face
    /// without a stored mask is a 404 with `"mask": null`.
    func predictedMaskJSON(_ id: Int64) throws -> Response {
        _ = try project.face(id: id)
        guard let info = try predictedMaskInfo(id) else {
            return Self.json("{\"face\": \(id), \"mask\": null, \"message\": \"face \(id) has no predicted mask: "
                             + "run facet xseg apply\"}", status: .notFound)
        }
        func s(_ v: String?) -> String { Self.jsonLiteral(v) }
        func n<T>(_ v: T?) -> String { v.map { "\($0)" } ?? "null" }
        let c = info.checkpoint, m = info.mask
        let iou = c?.valLoss.map { String(format: "%.4f", 1 - $0) }
        return Self.json("{\"face\": \(id), \"mask\": {\"size\": \(m.size), \"checkpoint\": \(n(m.checkpointId)), "
                         + "\"model\": \(s(c?.modelName)), \"iteration\": \(n(c?.iteration)), \"iou\": \(n(iou)), "
                         + "\"latest_checkpoint\": \(n(info.latest?.id)), "
                         + "\"source\": \(s(info.fromLabels ? "labels" : "prediction")), "
                         + "\"label_revision\": \(s(m.labelRevision)), \"label_revision_now\": "
                         + "\(s(info.labelRevisionNow)), \"predicted_at\": \(s(m.predictedAt)), "
                         + "\"stale\": \(info.staleReason != nil), \"stale_reason\": \(s(info.staleReason))}}")
    }

    /// What the face page says of a stored mask: where it came from and whether `xseg apply` would redo it.
    static func predictedMaskCaption(_ info: PredictedMaskInfo) -> String {
        let m = info.mask
        var made: String
        if let c = info.checkpoint {
            made = "checkpoint #\(c.id) of model '\(c.modelName)' (iteration \(c.iteration)"
                + (c.valLoss.map { String(format: ", held-out IoU %.3f", 1 - $0) } ?? "") + ")"
        } else {
            made = "a checkpoint since deleted"
        }
        made = (info.fromLabels ? "the face's drawn labels (revision \(m.labelRevision)), stored by " : "predicted by ")
            + made + ", \(m.size) px, \(m.predictedAt.prefix(19).replacingOccurrences(of: "T", with: " "))"
        return made + (info.staleReason.map { ". Out of date: \($0); facet xseg apply predicts it again." }
                       ?? ". Up to date.")
    }

    /// The face page's SVG pieces for the stored mask: a luminance mask from its PNG and the tint it lets through.
    static func predictedMaskLayer(faceID: Int64, size s: Int) -> (defs: String, layer: String) {
        ("<mask id=\"xseg-cut\" maskUnits=\"userSpaceOnUse\" x=\"0\" y=\"0\" width=\"\(s)\" height=\"\(s)\">"
         + "<image id=\"xseg-layer\" href=\"/xseg/\(faceID)\" width=\"\(s)\" height=\"\(s)\" "
         + "preserveAspectRatio=\"none\"/></mask>",
         "<rect id=\"xseg-tint\" width=\"\(s)\" height=\"\(s)\" mask=\"url(#xseg-cut)\"/>")
    }

    /// The face page's panel: the stored mask at its own size, what made it and whether it is out of date, and the
    /// layer's toggle (v); or a line saying the face has none.
    static func predictedMaskPanel(faceID: Int64, info: PredictedMaskInfo?) -> String {
        guard let info else {
            return "<p id=\"xseg-info\">No predicted mask: <code>facet xseg apply</code> stores one for every face.</p>"
        }
        let r = info.mask.size
        return """
        <figure id="xseg-panel"\(info.staleReason != nil ? " class=\"stale\"" : "")><img id="xseg-img" \
        src="/xseg/\(faceID)" width="\(r)" height="\(r)" alt="stored mask of face \(faceID)">\
        <figcaption><label><input type="checkbox" id="show-xseg" checked> show the stored mask (v)</label> \
        <span id="xseg-info">\(HTML.escape(predictedMaskCaption(info)))</span></figcaption></figure>
        """
    }
}

extension Gallery {
    /// Styles of the stored-mask layer (magenta, beside the labels' green) and the grid's overlay.
    static let predictedMaskStyle = """
    #xseg-tint{fill:#d500f9;opacity:.45;pointer-events:none}#crop.hide-xseg #xseg-tint{display:none}\
    #xseg-panel{margin:.5em 0}#xseg-panel img{display:block;border:1px solid #999;image-rendering:pixelated}\
    #xseg-panel.stale img{border:2px dashed #c60}\
    figure.face a.tile{position:relative;display:block;width:96px;height:96px}\
    figure.face img.overlay.xseg{mix-blend-mode:multiply;opacity:.8;pointer-events:none}\
    figure.face img.overlay.xseg.stale{outline:2px dashed #c60;outline-offset:-2px}
    """

    /// The face page's layer toggle (checkbox and v).
    static let predictedMaskScript = """
    (function () {
    const box = document.getElementById('show-xseg'), svg = document.getElementById('crop');
    if (!box || !svg) return;
    box.onchange = () => svg.classList.toggle('hide-xseg', !box.checked);
    document.addEventListener('keydown', ev => {
      const tag = (ev.target.tagName || '').toLowerCase();
      if (tag === 'input' || tag === 'select' || tag === 'textarea' || ev.altKey || ev.metaKey || ev.ctrlKey) return;
      if (ev.key === 'v') { box.checked = !box.checked; box.onchange(); ev.preventDefault(); }
    });
    })();
    """

    /// The grid's overlay toggle (checkbox and o, remembered in the browser): every tile whose face has a stored
    /// mask gets it as an overlay image, multiplied over the crop (covered parts go dark).
    static let gridOverlayScript = """
    (function () {
    const box = document.getElementById('xseg-overlay'); if (!box) return;
    function apply(on) {
      document.querySelectorAll('figure.face[data-xseg]').forEach(fig => {
        const a = fig.querySelector('a.tile'); let img = a.querySelector('img.overlay.xseg');
        if (on && !img) {
          img = document.createElement('img'); img.className = 'overlay xseg' + (fig.dataset.xseg === 'stale' ?
            ' stale' : ''); img.width = 96; img.height = 96; img.alt = ''; img.src = '/xseg/' + fig.dataset.id;
          a.appendChild(img);
        } else if (!on && img) img.remove();
      });
      try { localStorage.setItem('facet-xseg-overlay', on ? '1' : ''); } catch (e) {}
    }
    box.onchange = () => apply(box.checked);
    document.addEventListener('keydown', ev => {
      const tag = (ev.target.tagName || '').toLowerCase();
      if (tag === 'input' || tag === 'select' || tag === 'textarea' || ev.altKey || ev.metaKey || ev.ctrlKey) return;
      if (ev.key === 'o') { box.checked = !box.checked; apply(box.checked); ev.preventDefault(); }
    });
    let saved = ''; try { saved = localStorage.getItem('facet-xseg-overlay') || ''; } catch (e) {}
    if (saved) { box.checked = true; apply(true); }
    })();
    """
}
