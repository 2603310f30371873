/// The gallery's defences, over raw sockets so nothing normalises the requests first: the Host
/// header (DNS rebinding), path traversal, oversized requests, and the bound on requests in flight.
import XCTest
import Foundation
import FacetCore
import FacetStore
import FacetTestSupport
@testable import FacetCurate
@testable import FacetServe

final class GallerySecurityTests: XCTestCase {
    var dir: String!
    var project: Project!

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "facet-serve-sec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        project = try Project.create(at: dir + "/g.facet")
        try SampleFaces.fill(project, role: .src, videos: [Self.fixtures + "/video/src-d18.mp4"], count: 8, cropSize: 64, framesPerVideo: 8, seed: 3)
    }

    override func tearDown() async throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Runs a gallery on a free loopback port for the body of the test.
    func withGallery(_ gallery: Gallery, host: String = "127.0.0.1", _ body: (Int) async throws -> Void) async throws {
        let started = PortBox()
        let server = Task { try await gallery.run(host: host, port: 0) { port in started.set(port) } }
        defer { server.cancel() }
        let deadline = Date().addingTimeInterval(20)
        while started.port == nil && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        try await body(try XCTUnwrap(started.port, "the gallery did not start"))
        server.cancel()
        _ = try? await server.value
    }

    /// Sends `request` as is on a fresh connection to 127.0.0.1:port; returns the status (0 when the
    /// server closed without answering) and the whole response.
    static func raw(_ port: Int, _ request: String) throws -> (Int, String) {
        let fd = try open(port, sending: request)
        defer { close(fd) }
        return read(fd)
    }

    /// A connection to 127.0.0.1:port that has sent `request` (possibly only part of one).
    static func open(_ port: Int, sending request: String) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        var timeout = timeval(tv_sec: 15, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(connected, 0, "connect")
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        return fd
    }

    /// Everything the server sends until it closes; the status is 0 when it closed without answering.
    static func read(_ fd: Int32) -> (Int, String) {
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        let status = text.hasPrefix("HTTP/1.1 ") ? Int(text.dropFirst(9).prefix(3)) ?? 0 : 0
        return (status, text)
    }

    static func get(_ port: Int, _ path: String, host: String? = nil) throws -> (Int, String) {
        try Self.raw(port, "GET \(path) HTTP/1.1\r\nHost: \(host ?? "127.0.0.1:\(port)")\r\nConnection: close\r\n\r\n")
    }

    /// DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends
    /// `Host: evil.example`. It gets neither faces nor the CSRF token; this machine's names do.
    func testOnlyLoopbackHostNamesAreAnswered() async throws {
        let gallery = Gallery(project: project)
        try await withGallery(gallery) { port in
            for host in ["127.0.0.1:\(port)", "localhost:\(port)", "localhost", "[::1]:\(port)", "127.0.0.1"] {
                let (status, page) = try Self.get(port, "/faces?role=src", host: host)
                XCTAssertEqual(status, 200, host)
                XCTAssertTrue(page.contains(gallery.csrfToken), host)
            }
            for host in ["evil.example:\(port)", "evil.example", "127.0.0.1.evil.example:\(port)", "localhost.evil.example", "127.0.0.1:80@evil.example", "0.0.0.0:\(port)", ""] {
                for path in ["/faces?role=src", "/face/1", "/crop/1", "/counts?role=src", "/models"] {
                    let (status, page) = try Self.get(port, path, host: host)
                    XCTAssertEqual(status, 421, "\(host) \(path)")
                    XCTAssertFalse(page.contains(gallery.csrfToken), "\(host) \(path)")
                    XCTAssertFalse(page.contains("\u{FF}\u{D8}"), "no image bytes")
                }
                // Nor can it change anything, token or not.
                let form = "status=rejected&csrf=\(gallery.csrfToken)"
                let (post, _) = try Self.raw(port, "POST /face/2/status HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(form.utf8.count)\r\nConnection: close\r\n\r\n\(form)")
                XCTAssertEqual(post, 421, host)
            }
            // No Host header at all (HTTP/1.0).
            let (old, _) = try Self.raw(port, "GET /faces?role=src HTTP/1.0\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(old, 421)
            // The refusal escapes what it echoes.
            let (_, echoed) = try Self.get(port, "/faces", host: "<script>x</script>")
            XCTAssertFalse(echoed.contains("<script>x"), echoed)
        }
        XCTAssertEqual(try project.face(id: 2).status, .kept)
        // Served on purpose to the network, any name is answered (CSRF still guards the POSTs).
        XCTAssertTrue(GalleryHostPolicy(servingOn: "0.0.0.0").allows("my-machine.lan:8080"))
        XCTAssertFalse(GalleryHostPolicy(servingOn: "127.0.0.1").allows("my-machine.lan:8080"))
        XCTAssertFalse(GalleryHostPolicy(servingOn: "localhost").allows("evil.example"))
    }

    /// Paths are routes, never files: traversal in any spelling is 404 or 400, and ids are numbers.
    func testPathTraversalAndOversizedRequests() async throws {
        let gallery = Gallery(project: project)
        try await withGallery(gallery) { port in
            for path in ["/../../etc/passwd", "/crop/../../../etc/passwd", "/crop/..%2f..%2fetc%2fpasswd", "/frame/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                         "/face/1%00.jpg", "//etc/passwd", "/crop/1/../../../etc/passwd", "/face/-1", "/crop/99999999999999999999"] {
                let (status, page) = try Self.get(port, path)
                XCTAssertTrue([400, 404].contains(status), "\(path): \(status)")
                XCTAssertFalse(page.contains("root:x:0:0"), path)
            }
            // A 1 MiB header or a 1 MiB form: refused, and the gallery carries on.
            let (big, _) = try Self.raw(port, "GET /faces HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: \(String(repeating: "a", count: 1 << 20))\r\nConnection: close\r\n\r\n")
            XCTAssertNotEqual(big, 200)
            let body = "csrf=\(gallery.csrfToken)&status=rejected&pad=" + String(repeating: "b", count: 1 << 20)
            let (post, _) = try Self.raw(port, "POST /face/3/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
            XCTAssertEqual(post, 413)
            let (chunkedStatus, _) = try Self.raw(port, "POST /undo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                             + String(repeating: "1000\r\n" + String(repeating: "c", count: 4096) + "\r\n", count: 4) + "0\r\n\r\n")
            XCTAssertEqual(chunkedStatus, 413)
            let (after, _) = try Self.get(port, "/faces?role=src")
            XCTAssertEqual(after, 200, "still serving")
        }
        XCTAssertEqual(try project.face(id: 3).status, .kept)
    }

    /// At most `maxConcurrentRequests` requests are handled at once; the rest are answered 503 with
    /// Retry-After at once, and the gallery serves normally again when they finish. The requests held
    /// in flight are POSTs whose bodies have not all arrived (the handler is waiting for them).
    func testRequestsInFlightAreBounded() async throws {
        let gallery = Gallery(project: project, maxConcurrentRequests: 2)
        try await withGallery(gallery) { port in
            let head = "POST /undo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 70\r\nConnection: close\r\n\r\ncsrf="
            let held = try (0..<2).map { _ in try Self.open(port, sending: head) }
            try await Task.sleep(nanoseconds: 500_000_000)
            for path in ["/faces?role=src", "/counts?role=src", "/crop/1"] {
                let (status, response) = try Self.get(port, path)
                XCTAssertEqual(status, 503, path)
                XCTAssertTrue(response.lowercased().contains("retry-after: 1"), response)
                XCTAssertTrue(response.contains("the gallery is busy (2 requests in progress)"), response)
            }
            // The held requests finish (their bodies arrive: a wrong token, so 403 and no change).
            for fd in held {
                _ = String(repeating: "0", count: 65).utf8.withContiguousStorageIfAvailable { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                XCTAssertEqual(Self.read(fd).0, 403)
                close(fd)
            }
            let (again, _) = try Self.get(port, "/counts?role=src")
            XCTAssertEqual(again, 200, "free again once they finished")
        }
    }
}
