/// Guards in front of every gallery route: the Host header (against DNS rebinding), a bound on
/// requests in flight, and the CSRF token every POST carries.
import FacetCore
import Foundation
import Hummingbird

/// Which Host headers a gallery answers. Served on a loopback address (the default), only names of
/// this machine's loopback: a web page that rebinds its own domain to 127.0.0.1 (DNS rebinding)
/// sends its domain as Host and is refused, so it can neither read faces nor a page's CSRF token.
/// Served on another address (`--host 0.0.0.0`), the user has opened it to the network on purpose
/// and any Host is answered (POSTs still need the CSRF token).
public struct GalleryHostPolicy: Sendable {
    /// Answer only requests whose Host is this machine's loopback (the gallery is served on loopback).
    public let loopbackOnly: Bool

    /// The policy for a gallery served on `host`: loopback-only when that is a loopback address.
    public init(servingOn host: String) {
        loopbackOnly = Self.isLoopback(host)
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return h == "localhost" || h == "::1" || h.hasPrefix("127.") || h.hasSuffix(".localhost")
    }

    /// Whether a request with this Host header (with or without a port) is answered.
    public func allows(_ hostHeader: String?) -> Bool {
        guard loopbackOnly else { return true }
        guard var h = hostHeader?.lowercased(), !h.isEmpty else { return false }
        if h.hasPrefix("[") {
            // [::1]:8080
            guard let close = h.firstIndex(of: "]") else { return false }
            h = String(h[h.index(after: h.startIndex)..<close])
            return h == "::1"
        }
        if let colon = h.lastIndex(of: ":") {
            guard h[h.index(after: colon)...].allSatisfy(\.isNumber) else { return false }
            h = String(h[..<colon])
        }
        // 127.0.0.1 and the rest of 127/8 as dotted quads only; names other than localhost are refused.
        if h == "localhost" { return true }
        let parts = h.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

struct HostCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: GalleryHostPolicy
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard policy.allows(request.head.authority) else {
            return Gallery.html(Gallery.errorPage("facet serve answers only to localhost, 127.0.0.1 and [::1] "
                                                  + "(this request was for \(request.head.authority ?? "no host")); "
                                                  + "to open it to the network, start it with --host 0.0.0.0"),
                                status: .misdirectedRequest)
        }
        return try await next(request, context)
    }
}

/// Counts requests in flight; past the bound, new ones are answered 503 at once instead of queueing
/// work (each face page or source frame decodes images and video).
final class InFlightLimit: @unchecked Sendable {
    let limit: Int
    private let lock = NSLock()
    private var count = 0
    init(limit: Int) { self.limit = limit }
    func enter() -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard count < limit else { return false }
        count += 1
        return true
    }
    func leave() { lock.lock(); count -= 1; lock.unlock() }
}

struct ConcurrencyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let inFlight: InFlightLimit
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        guard inFlight.enter() else {
            var response = Gallery.html(Gallery.errorPage("the gallery is busy "
                                                          + "(\(inFlight.limit) requests in progress); "
                                                          + "try again in a moment"), status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
            return response
        }
        defer { inFlight.leave() }
        return try await next(request, context)
    }
}

extension Gallery {
    /// The token from the form or the `X-CSRF-Token` header, compared in constant time.
    func checkCSRF(_ form: [String: String], _ req: Request) throws {
        let given = form["csrf"] ?? req.headers[FieldName("X-CSRF-Token")!] ?? ""
        let a = Array(given.utf8), b = Array(csrfToken.utf8)
        var diff = a.count ^ b.count
        for i in 0..<min(a.count, b.count) { diff |= Int(a[i] ^ b[i]) }
        guard diff == 0 else { throw GalleryError(.forbidden, "missing or wrong CSRF token: reload the page") }
    }
}
