/// The gallery page's query parameters (role, status, tag, sort, page, size), parsed and validated once.
import Foundation
import FacetCore
import FacetCurate
import FacetStore
import Hummingbird

extension Gallery {
    /// Query parameters of the gallery page, validated.
    struct PageQuery {
        var role: Role = .src
        var status: FaceStatus? = .kept
        var tag: String?
        /// Only this person's faces (`facet people`).
        var person: Int64?
        /// Only faces with (true) or without (false) mask labels.
        var labelled: Bool?
        var sort: CurationSort = .column(FaceSort(.id))
        var page = 1
        var per = 100

        init(_ q: [String: String]) throws {
            if let r = q["role"] {
                guard let v = Role(rawValue: r) else { throw GalleryError(.badRequest, "role must be src or dst") }
                role = v
            }
            if let s = q["status"] {
                guard let v = StatusFilter(rawValue: s) else {
                    throw GalleryError(.badRequest, "status must be kept, rejected or all")
                }
                status = v.status
            }
            if let t = q["tag"], !t.isEmpty { tag = String(t) }
            if let p = q["person"], !p.isEmpty {
                guard let v = Int64(p) else { throw GalleryError(.badRequest, "person must be a person's number") }
                person = v
            }
            if let l = q["labels"], !l.isEmpty {
                guard l == "labelled" || l == "unlabelled" else {
                    throw GalleryError(.badRequest, "labels must be labelled or unlabelled")
                }
                labelled = l == "labelled"
            }
            if let s = q["sort"], !s.isEmpty {
                guard let v = CurationSort(parsing: String(s)) else {
                    throw GalleryError(.badRequest, "unknown sort '\(s)'")
                }
                if case .best = v {
                    throw GalleryError(.badRequest,
                                       "best:N is a selection: use `facet sort best:N --tag T` and filter by the tag")
                }
                sort = v
            }
            if let p = q["page"] {
                guard let v = Int(p), v >= 1, v <= 1_000_000 else {
                    throw GalleryError(.badRequest, "page must be a positive number")
                }
                page = v
            }
            if let p = q["per"] {
                guard let v = Int(p), Gallery.pageSizes.contains(v) else {
                    throw GalleryError(.badRequest, "per must be one of \(Gallery.pageSizes)")
                }
                per = v
            }
        }

        var statusName: String { StatusFilter(status).rawValue }

        func link(page p: Int? = nil, sort s: String? = nil) -> String {
            var parts = ["role=\(role.rawValue)", "status=\(statusName)", "sort=\(HTML.query(s ?? sort.description))",
                         "per=\(per)", "page=\(p ?? page)"]
            if let tag { parts.append("tag=\(HTML.query(tag))") }
            if let person { parts.append("person=\(person)") }
            if let labelled { parts.append("labels=" + (labelled ? "labelled" : "unlabelled")) }
            return "/faces?" + parts.joined(separator: "&")
        }
    }
}
