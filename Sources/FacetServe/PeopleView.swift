/// The gallery's people page: each person found by `facet people`, its representative face, counts
/// and media, a link to its faces, and its name, editable (POST with the CSRF token).
import Foundation
import FacetCore
import FacetStore
import Hummingbird

extension Gallery {
    /// `/people?role=R` (both roles without it): one card per person, largest first.
    func peoplePage(_ params: [String: String]) throws -> Response {
        var roles = Role.allCases
        if let r = params["role"], !r.isEmpty {
            guard let v = Role(rawValue: r) else { throw GalleryError(.badRequest, "role must be src or dst") }
            roles = [v]
        }
        let e = HTML.escape
        var sections = ""
        for role in roles {
            let persons = try project.persons(role: role).sorted {
                $0.faceCount != $1.faceCount ? $0.faceCount > $1.faceCount : $0.id < $1.id
            }
            let breakdown = try project.personBreakdown(role: role)
            let unassigned = try project.countFaces(matching: {
                var q = FaceQuery(role: role); q.hasPerson = false; return q
            }())
            var cards = ""
            for p in persons {
                let b = breakdown[p.id] ?? (0, 0, [])
                let media = b.media.map { "\(e($0.name)) (\($0.faces))" }.joined(separator: ", ")
                let img = p.representativeFaceId.map { "<a href=\"/face/\($0)\"><img src=\"/crop/\($0)\" width=\"96\" "
                                                       + "height=\"96\" alt=\"person "
                                                       + "\(p.id)\"></a>" } ?? "<div class=\"noface\">no faces</div>"
                cards += """
                <figure class="person" id="person-\(p.id)" data-faces="\(p.faceCount)">\(img)\
                <figcaption><b>\(e(p.name ?? "person \(p.id)"))</b> · #\(p.id)<br>\(p.faceCount) faces: \(b.kept) \
                kept, \(b.rejected) rejected<br>\(media)<br>\
                <a href="/faces?role=\(role.rawValue)&amp;status=all&amp;person=\(p.id)">faces</a></figcaption>\
                <form method="post" action="/person/\(p.id)/name"><input type="hidden" name="csrf" \
                value="\(csrfToken)">\
                <input name="name" value="\(e(p.name ?? ""))" placeholder="name" maxlength="100" size="12" \
                aria-label="name of person \(p.id)">\
                <button type="submit">name</button></form></figure>
                """
            }
            let hint = persons.isEmpty
                ? "<p class=\"help\">No persons yet: run <code>facet people \(e(project.path)) --role "
                  + "\(role.rawValue)</code>.</p>"
                : (unassigned > 0 ? "<p class=\"help\">\(unassigned) faces are new since <code>facet people</code> "
                                    + "ran: run it again to place them.</p>" : "")
            sections += "<section id=\"people-\(role.rawValue)\"><h2>\(role.rawValue): "
                        + "\(persons.count) persons</h2>\(hint)<div class=\"people\" "
                        + "style=\"display:flex;flex-wrap:wrap;gap:10px\">\(cards)</div></section>"
        }
        let body = """
        <header><h1>people · \(e((project.path as NSString).lastPathComponent))</h1>
        <p class="links"><a href="/faces?role=src">src faces</a> · <a href="/faces?role=dst">dst faces</a></p>
        <p class="help">Each role's faces clustered by identity (<code>facet people</code>): a face is a \
        person's when its \
        face-recognition descriptor is within 0.6 (dlib's units) of the person's faces. Names are yours.</p></header>
        \(sections)
        """
        return Self.html(Self.page(title: "people", body: body, csrf: csrfToken, script: ""))
    }

    /// POST `/person/:id/name` with `name` (empty removes it) and the CSRF token; back to the people page.
    func namePerson(_ id: Int64, form: [String: String], request: Request) throws -> Response {
        try checkCSRF(form, request)
        let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
        let p = try project.namePerson(id: id, name: name.isEmpty ? nil : name)
        if wantsJSON(request) {
            return Self.json("{\"id\":\(p.id),\"name\":\(Self.jsonLiteral(p.name))}")
        }
        return Response(status: .seeOther, headers: [.location: "/people#person-\(id)"])
    }
}
