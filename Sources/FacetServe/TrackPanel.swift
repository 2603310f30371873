/// The face page's "track" panel: the face's track as a strip of thumbnails around it, filled faces marked.
import Foundation
import FacetCore
import FacetStore

extension Gallery {
    /// Faces of the track shown either side of the face.
    static let trackReach = 12

    /// The panel's HTML for `face`: its track's first and last frame, faces, filled faces, gaps and
    /// jitter, and the `trackReach` faces before and after it as a strip in frame order (the face
    /// itself outlined, faces filled into gaps marked), each linking to its page.
    func trackPanel(for face: FaceRecord) throws -> String {
        guard let trackId = face.trackId,
            let track = try project.tracks(mediaId: face.mediaId).first(where: { $0.id == trackId }) else {
            return "<section id=\"track\"><h2>track</h2><p>This face has no track: "
                   + "build them with <code>facet tracks PROJECT --role \(face.role.rawValue)</code>.</p></section>"
        }
        let members = try project.trackFaces(trackId: trackId)
        let at = members.firstIndex { $0.id == face.id } ?? 0
        let shown = members[max(0, at - Self.trackReach)...min(members.count - 1, at + Self.trackReach)]
        var tiles = ""
        for m in shown {
            let filled = m.filled.map { " · \($0)" } ?? ""
            let current = m.id == face.id ? " current" : ""
            tiles += """
            <figure class="face \(m.status.rawValue)\(m.filled == nil ? "" : " filled")\(current)" id="track-\(m.id)" \
            data-frame="\(m.frameIndex)"\
            \(m.id == face.id ? " style=\"outline:3px solid #36c\"" : "")>\
            <a href="/face/\(m.id)"><img src="/crop/\(m.id)" loading="lazy" width="64" height="64" alt="face \
            \(m.id)"></a>\
            <figcaption>f\(m.frameIndex)\(HTML.escape(filled))</figcaption></figure>
            """
        }
        let jitter = [track.jitterRaw, track.jitterSmoothed].map { $0.map { String(format: "%.4f", $0) } ?? "-" }
        return """
        <section id="track"><h2>track \(track.id)</h2>
        <p class="help">Frames \(track.firstFrame)-\(track.lastFrame): \(track.faces) faces (\(track.filled) filled \
        into gaps), \
        \(track.gaps) frames still missing\(track.endsAtCut ? ", ends at a scene cut" : ""); jitter \(jitter[0]) raw, \
        \(jitter[1]) smoothed (eye distances). Showing faces \(shown.startIndex + 1)-\(shown.endIndex) of \
        \(members.count).</p>
        <div class="strip" style="display:flex;flex-wrap:nowrap;overflow-x:auto;gap:4px">\(tiles)</div></section>
        """
    }
}
