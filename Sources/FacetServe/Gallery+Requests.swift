/// The gallery's requests and responses: query strings, ids, url-encoded forms, and errors turned into pages.
import Foundation
import FacetCore
import FacetCurate
import FacetMedia
import FacetStore
import Hummingbird

extension Gallery {
    /// The query string as a dictionary (the first value of a repeated key).
    static func params(_ req: Request) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in req.uri.queryParameters where out[String(k)] == nil { out[String(k)] = String(v) }
        return out
    }

    func id(_ ctx: BasicRequestContext) throws -> Int64 {
        guard let id = ctx.parameters.get("id", as: Int64.self) else {
            throw GalleryError(.badRequest, "a face id is a number")
        }
        return id
    }

    /// The url-encoded form of a POST, at most `limit` bytes (`maxBodyBytes` unless told).
    func form(_ req: Request, limit: Int = Gallery.maxBodyBytes) async throws -> [String: String] {
        var req = req
        let body: ByteBuffer
        do {
            body = try await req.collectBody(upTo: limit)
        } catch {
            throw HTTPError(.contentTooLarge, message: "request body over \(limit) bytes")
        }
        return Self.parseForm(String(buffer: body))
    }

    static func parseForm(_ s: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in s.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let k = kv.first { out[k] = kv.count > 1 ? kv[1] : "" }
        }
        return out
    }

    func wantsJSON(_ req: Request) -> Bool { (req.headers[.accept] ?? "").contains("application/json") }

    /// Runs `body` on a lane (`pageWork` unless told), off the cooperative pool, and turns errors into
    /// pages: a FacetError (unknown face, bad SQL) is a 4xx with the escaped message.
    func respond(on lane: BlockingLane? = nil,
                 _ body: @escaping @Sendable () throws -> Response) async throws -> Response {
        try await (lane ?? pageWork).run { try Self.errorsAsPages(body) }
    }

    static func errorsAsPages(_ body: () throws -> Response) throws -> Response {
        do {
            return try body()
        } catch let e as GalleryError {
            return Self.html(Self.errorPage(e.message), status: e.status)
        } catch let e as FacetError {
            return Self.html(Self.errorPage(e.message), status: httpStatus(e.kind))
        }
    }

    /// The HTTP status of a failure of this kind.
    static func httpStatus(_ kind: FacetError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .badInput: return .badRequest
        case .notFound: return .notFound
        case .conflict: return .conflict
        case .busy: return .serviceUnavailable
        case .diskFull: return .init(code: 507, reasonPhrase: "Insufficient Storage")
        case .readOnly: return .forbidden
        case .corrupt, .failed: return .internalServerError
        }
    }

    static func html(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                           FieldName("X-Content-Type-Options")!: "nosniff",
                                           FieldName("Content-Security-Policy")!: "default-src 'self'; img-src 'self'; "
                                                                                  + "style-src 'unsafe-inline'; "
                                                                                  + "script-src 'unsafe-inline'; "
                                                                                  + "form-action 'self'; "
                                                                                  + "frame-ancestors 'none'"],
                 body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    static func json(_ s: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: s)))
    }

    /// `v` as a JSON string literal (JSONEncoder's escaping, `<` as `\u003c` so it is safe inside a page's
    /// `<script>` too: `scriptSafe`), or `null`.
    static func jsonLiteral(_ v: String?) -> String {
        guard let v, let data = try? JSONEncoder().encode(v) else { return "null" }
        return scriptSafe(String(decoding: data, as: UTF8.self))
    }
}
