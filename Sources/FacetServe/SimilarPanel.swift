/// The face page's "similar faces" panel: the k faces of the same role nearest by histogram distance,
/// as thumbnails with their distance, each linking to its own page.
import Foundation
import FacetCore
import FacetCurate
import FacetStore
import FacetCurate

extension Gallery {
    /// Faces shown in the panel.
    static let similarCount = 12

    /// The panel's HTML for face `face`: its `similarCount` nearest faces of the same role (every
    /// status; rejected ones are marked), nearest first, ties by id, with the summed Bhattacharyya
    /// distance (0: identical histograms, 3: disjoint). The role's histograms are held in memory
    /// (`SimilarityIndexCache`), so a page costs three sgemv over them; they are read again when
    /// faces are added.
    /// The panel by `by`: "histogram", or identity (the default) when the face has a descriptor; a face
    /// without one gets the histogram panel and a line saying how to compute descriptors.
    func similarPanel(for face: FaceRecord, by: String?) throws -> String {
        if by != "histogram" {
            let index = try IdentityIndexCache.shared.index(project, role: face.role)
            if index.descriptor(of: face.id) != nil { return try identityPanel(for: face, index: index) }
            return try histogramPanel(for: face,
                                      note: "This face has no face-recognition descriptor: "
                                            + "run <code>facet embed</code> on the project "
                                      + "to find faces by identity. Meanwhile, by colour histogram:")
        }
        return try histogramPanel(for: face,
                                  note: "<a id=\"similar-by-identity\" href=\"/face/\(face.id)\">by "
                                        + "identity instead</a>")
    }

    /// The panel by identity: the `similarCount` faces of the role nearest by descriptor distance.
    func identityPanel(for face: FaceRecord, index: IdentityIndex) throws -> String {
        let near = index.nearest(to: index.descriptor(of: face.id)!, k: Self.similarCount, excluding: face.id)
        var q = FaceQuery()
        q.ids = near.map(\.id)
        let rows = Dictionary(uniqueKeysWithValues: try project.faces(matching: q).map { ($0.id, $0) })
        var tiles = ""
        for (rank, n) in near.enumerated() {
            let s = rows[n.id]?.status ?? .kept
            let same = n.distance < FaceEmbedding.samePersonThreshold
            tiles += """
            <figure class="face \(s.rawValue)" id="similar-\(n.id)" data-rank="\(rank + 1)" \
            data-distance="\(String(format: "%.6f", n.distance))">\
            <a href="/face/\(n.id)"><img src="/crop/\(n.id)" loading="lazy" width="96" height="96" alt="face \
            \(n.id)"></a>\
            <figcaption>\(n.id) · \(String(format: "%.3f", n.distance))\(same ? "" : " · other?")\
            \(s == .rejected ? " · rejected" : "")</figcaption></figure>
            """
        }
        let role = HTML.escape(face.role.rawValue)
        return """
        <section id="similar" data-by="identity"><h2>similar faces: same person first</h2>
        <p class="help">The \(near.count) \(role) faces nearest to face \(face.id) by identity (L2 distance of the \
        face-recognition descriptors, dlib's units: under 0.6 is the same person), nearest first, \
        out of \(index.count - 1). \
        <a id="similar-by-histogram" href="/face/\(face.id)?similar=histogram">by colour histogram instead</a></p>
        <div class="similar" style="display:flex;flex-wrap:wrap;gap:6px">\(tiles)</div></section>
        """
    }

    /// The panel by colour histogram, with `note` (HTML) under its heading.
    func histogramPanel(for face: FaceRecord, note: String) throws -> String {
        let index = try SimilarityIndexCache.shared.index(project, role: face.role)
        let e = HTML.escape
        guard let h = index.histogram(of: face.id) else {
            return "<section id=\"similar\"><h2>similar faces</h2><p>This face has no histogram "
                   + "signature.</p></section>"
        }
        let near = index.nearest(to: h, k: Self.similarCount, excluding: face.id)
        var q = FaceQuery()
        q.ids = near.map(\.id)
        let status = Dictionary(uniqueKeysWithValues: try project.faces(matching: q).map { ($0.id, $0.status) })
        var tiles = ""
        for (rank, n) in near.enumerated() {
            let s = status[n.id] ?? .kept
            tiles += """
            <figure class="face \(s.rawValue)" id="similar-\(n.id)" data-rank="\(rank + 1)" \
            data-distance="\(String(format: "%.6f", n.distance))">\
            <a href="/face/\(n.id)"><img src="/crop/\(n.id)" loading="lazy" width="96" height="96" alt="face \
            \(n.id)"></a>\
            <figcaption>\(n.id) · \
            \(String(format: "%.3f", n.distance))\(s == .rejected ? " · rejected" : "")</figcaption></figure>
            """
        }
        let role = e(face.role.rawValue)
        return """
        <section id="similar"><h2>similar faces</h2>
        <p class="help">The \(near.count) \(role) faces nearest to face \(face.id) by histogram distance \
        (summed Bhattacharyya over R, G, B: 0 identical, 3 disjoint), nearest first, out of \(index.count - 1).</p>
        <p class="help">\(note)</p>
        <div class="similar" style="display:flex;flex-wrap:wrap;gap:6px">\(tiles)</div></section>
        """
    }
}

/// Per project file and role, the histograms of every face held for nearest-neighbour questions
/// (6 KiB per face). A cached index is used while the role's face count and largest id are
/// unchanged (faces are only ever added or removed, never re-scored), and read again otherwise.
final class SimilarityIndexCache: @unchecked Sendable {
    static let shared = SimilarityIndexCache()

    private struct Entry {
        var count: Int
        var maxID: Int64
        var index: SimilarityIndex
    }
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    func index(_ project: Project, role: Role) throws -> SimilarityIndex {
        let q = FaceQuery(role: role)
        let (count, maxID) = try project.faceStamp(role: role)
        let key = project.path + "|" + role.rawValue
        // One reader at a time: a second page waits for the first to finish loading, not loading twice.
        lock.lock()
        defer { lock.unlock() }
        if let e = entries[key], e.count == count, e.maxID == maxID { return e.index }
        let index = try project.similarityIndex(matching: q)
        entries[key] = Entry(count: count, maxID: maxID, index: index)
        return index
    }
}

/// Per project file and role, the descriptors of every face held for "same person" questions
/// (512 bytes a face). A cached index is used while the role's face count and largest id are
/// unchanged and it had every face's descriptor; one built while some were missing (before
/// `facet embed` finished) is read again when more have come.
final class IdentityIndexCache: @unchecked Sendable {
    static let shared = IdentityIndexCache()

    private struct Entry {
        var count: Int
        var maxID: Int64
        var described: Int
        var complete: Bool
        var index: IdentityIndex
    }
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    func index(_ project: Project, role: Role) throws -> IdentityIndex {
        let (count, maxID) = try project.faceStamp(role: role)
        let key = project.path + "|" + role.rawValue
        lock.lock()
        defer { lock.unlock() }
        if let e = entries[key], e.count == count, e.maxID == maxID {
            if e.complete { return e.index }
            if try project.embeddingCounts(role: role).withDescriptor == e.described { return e.index }
        }
        let m = try project.embeddingMatrix(matching: FaceQuery(role: role))
        let index = IdentityIndex(m)
        entries[key] = Entry(count: count, maxID: maxID, described: m.count, complete: m.missing.isEmpty, index: index)
        return index
    }
}
