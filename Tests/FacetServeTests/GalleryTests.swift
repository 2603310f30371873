/// The gallery over HTTP and in a real headless browser (Debian's chromium + chromedriver, driven by WebDriver).
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FacetCore
import FacetStore
import FacetTestSupport
@testable import FacetCurate
@testable import FacetServe

final class GalleryTests: XCTestCase {
    var served: ServedProject!
    var project: Project { served.project }
    var gallery: Gallery { served.gallery }
    var base: String { served.base }

    override func setUp() async throws {
        served = try await ServedProject(prefix: "", file: "g.facet") { project in
            try SampleFaces.fill(project, role: .src, videos: [ServedProject.fixtures + "/video/src-d18.mp4"], count: 60, cropSize: 64, framesPerVideo: 20, seed: 3)
            // A tag with markup in it: it must come back escaped, never as markup.
            _ = try project.setTag("<b>x</b>\"'", on: [1, 2], command: "test")
        }
    }

    override func tearDown() async throws { await served?.stop() }

    func http(_ path: String, method: String = "GET", body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, String, [AnyHashable: Any]) {
        let r = try await served.request(path, method: method, body: body, headers: headers)
        return (r.status, String(decoding: r.body, as: UTF8.self), r.headers)
    }

    func status(_ id: Int64) throws -> FaceStatus { try project.face(id: id).status }

    /// Issue #26: a page past the end shows the last one; captions show the value the faces are sorted by.
    func testPagePastTheEndShowsTheLastAndCaptionsShowTheSortValue() async throws {
        let (code, page, _) = try await http("/faces?role=src&per=50&page=99")
        XCTAssertEqual(code, 200)
        XCTAssertTrue(page.contains("showing 10 of 60 (page 2 of 2)"), page)
        XCTAssertEqual(page.components(separatedBy: "<figure class=\"face").count - 1, 10)
        let first = try project.faces(matching: FaceQuery(role: .src, status: .kept, sort: [FaceSort(.hue)], limit: 1))[0]
        let (_, byHue, _) = try await http("/faces?role=src&sort=hue&per=50")
        XCTAssertTrue(byHue.contains("<figcaption>\(first.id) · hue "), byHue)
        let (_, plain, _) = try await http("/faces?role=src&per=50")
        XCTAssertTrue(plain.contains("<figcaption>1 · sharpness "), plain)
    }

    /// The HTTP status of a failure comes from its kind, never from its words.
    func testErrorStatusByKind() throws {
        let cases: [(FacetError.Kind, Int)] = [(.badInput, 400), (.notFound, 404), (.conflict, 409), (.busy, 503), (.diskFull, 507)]
        for (kind, code) in cases {
            let r = try Gallery.errorsAsPages { throw FacetError("has no face 1", kind: kind) }
            XCTAssertEqual(Int(r.status.code), code, "\(kind)")
        }
    }

    func testPagesEscapeValuesAndRefuseBadRequests() async throws {
        let (code, page, _) = try await http("/faces?role=src&status=all&per=50")
        XCTAssertEqual(code, 200)
        XCTAssertTrue(page.contains("&lt;b&gt;x&lt;/b&gt;&quot;&#39;"), "tag escaped")
        XCTAssertFalse(page.contains("<b>x</b>"))
        XCTAssertEqual(page.components(separatedBy: "<figure class=\"face").count - 1, 50, "one page of 50")
        XCTAssertTrue(page.contains("id=\"next\""))
        let (c2, p2, _) = try await http("/faces?role=src&sort=-blur&page=2&per=50")
        XCTAssertEqual(c2, 200)
        XCTAssertEqual(p2.components(separatedBy: "<figure class=\"face").count - 1, 10)
        let (c3, p3, _) = try await http("/faces?role=src&sort=hist")
        XCTAssertEqual(c3, 200)
        let firstHist = try project.sortedFaceIDs(matching: FaceQuery(role: .src), by: .hist(reversed: false)).first!
        XCTAssertTrue(p3.contains("id=\"face-\(firstHist)\""))
        // A value with markup in an error message comes back escaped.
        let (c4, p4, _) = try await http("/faces?role=src&sort=%3Cscript%3E")
        XCTAssertEqual(c4, 400)
        XCTAssertTrue(p4.contains("&lt;script&gt;"))
        XCTAssertFalse(p4.contains("'<script>'"))
        let (c5, _, _) = try await http("/face/999999")
        XCTAssertEqual(c5, 404)
        let (c6, _, _) = try await http("/../../etc/passwd")
        XCTAssertEqual(c6, 404)
        let (c7, _, h7) = try await http("/crop/3")
        XCTAssertEqual(c7, 200)
        XCTAssertEqual(h7["Content-Type"] as? String, "image/jpeg")
        let (c8, face, _) = try await http("/face/3")
        XCTAssertEqual(c8, 200)
        XCTAssertEqual(face.components(separatedBy: "<circle").count - 1, 68, "landmarks drawn")
        XCTAssertTrue(face.contains("src-d18.mp4"))

        // State changes: no token, wrong token, GET, and an oversized body change nothing.
        let (n1, _, _) = try await http("/face/5/status", method: "POST", body: "status=rejected")
        XCTAssertEqual(n1, 403)
        let (n2, _, _) = try await http("/face/5/status", method: "POST", body: "status=rejected&csrf=00")
        XCTAssertEqual(n2, 403)
        let (n3, _, _) = try await http("/face/5/status?status=rejected&csrf=\(gallery.csrfToken)")
        XCTAssertEqual(n3, 404)
        let (n4, _, _) = try await http("/face/5/status", method: "POST", body: "status=rejected&csrf=\(gallery.csrfToken)&pad=" + String(repeating: "a", count: 10_000))
        XCTAssertEqual(n4, 413)
        XCTAssertEqual(try status(5), .kept)
        // With the token it works, redirects only to our own pages, and undo reverts it.
        let (ok, _, h) = try await http("/face/5/status", method: "POST", body: "status=rejected&csrf=\(gallery.csrfToken)&back=https://evil.example/")
        XCTAssertEqual(ok, 303)
        XCTAssertEqual(h["Location"] as? String, "/faces")
        XCTAssertEqual(try status(5), .rejected)
        let (u, _, _) = try await http("/undo", method: "POST", body: "csrf=\(gallery.csrfToken)")
        XCTAssertEqual(u, 303)
        XCTAssertEqual(try status(5), .kept)
    }

    /// Load the page in headless Chromium, reject a face by clicking and one by keyboard, and see the
    /// project file change.
    func testRejectByClickingInARealBrowser() async throws {
        let driver = try await WebDriver.start()
        defer { driver.kill() }
        let session = try await driver.newSession()
        try await driver.go(session, base + "/faces?role=src&status=all&per=100")
        let title = try await driver.script(session, "return document.title")
        XCTAssertTrue(title.contains("src faces"), title)
        let button = try await driver.find(session, "#toggle-7")
        try await driver.click(session, button)
        try await waitFor { try self.status(7) == .rejected }
        // The page updates once the answer to its POST arrives, a moment after the file changed.
        var kept = ""
        for _ in 0..<200 {
            kept = try await driver.script(session, "return document.getElementById('kept').textContent")
            if kept == "59" { break }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTAssertEqual(kept, "59")
        let cls = try await driver.script(session, "return document.getElementById('face-7').className")
        XCTAssertTrue(cls.contains("rejected"), cls)
        // Keyboard: focus face 9, press x.
        _ = try await driver.script(session, "document.getElementById('face-9').focus(); return ''")
        try await driver.keys(session, "x")
        try await waitFor { try self.status(9) == .rejected }
        // And click again to restore face 7.
        try await driver.click(session, try await driver.find(session, "#toggle-7"))
        try await waitFor { try self.status(7) == .kept }
        // Reopen the file from scratch: the change is in it.
        let other = try Project(path: project.path, mode: .readOnly)
        XCTAssertEqual(try other.face(id: 9).status, .rejected)
        XCTAssertEqual(try other.curationHistory().count, 4, "3 clicks/keys + the setup tag")
        await driver.stop()
    }

    func waitFor(_ cond: () throws -> Bool, timeout: Double = 10, file: StaticString = #filePath, line: UInt = #line) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try cond() { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        XCTFail("condition not met in \(timeout) s", file: file, line: line)
    }
}

/// A chromedriver process and the few WebDriver calls the test needs (W3C protocol over HTTP).
final class WebDriver: @unchecked Sendable {
    let process: Process
    let base: String

    static func start() async throws -> WebDriver {
        let candidates = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        guard let exe = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
              FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") else {
            throw FacetError("chromium and chromedriver are not installed: run Tools/setup (it installs Debian's chromium and chromium-driver)")
        }
        let port = 9515 + Int(getpid() % 400)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let d = WebDriver(process: p, base: "http://127.0.0.1:\(port)")
        // Wait for it to listen.
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline {
            if let r = try? exchange(port: d.port, method: "GET", path: "/status", body: nil), r.status == 200 { return d }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        d.kill()
        throw FacetError("chromedriver did not start on port \(port)")
    }

    init(process: Process, base: String) { self.process = process; self.base = base }

    private var sessions: [String] = []

    /// Ends the browser sessions (closing Chromium), then chromedriver.
    func stop() async {
        for s in sessions { _ = try? Self.exchange(port: port, method: "DELETE", path: "/session/\(s)", body: nil) }
        sessions = []
        kill()
    }

    /// Stops chromedriver (after a failure, without waiting for the browser). SIGKILL: the child
    /// inherits the test runner's blocked signals, so it never sees SIGTERM.
    func kill() {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    /// One HTTP/1.1 exchange over a plain socket (`Connection: close`, read to the end). Not URLSession:
    /// swift-corelibs-foundation fails on chromedriver's response headers ("Failed writing header").
    static func exchange(port: UInt16, method: String, path: String, body: Data?) throws -> (status: Int, body: Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FacetError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw FacetError("connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
        var request = Data("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n".utf8)
        if let body { request += Data("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n".utf8) }
        request += Data("\r\n".utf8)
        if let body { request += body }
        try request.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = send(fd, raw.baseAddress! + sent, raw.count - sent, 0)
                guard n > 0 else { throw FacetError("send: \(String(cString: strerror(errno)))") }
                sent += n
            }
        }
        // Read the head, then Content-Length bytes (chromedriver keeps the connection open).
        var response = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var split: Range<Data.Index>?
        var expected: Int?
        while true {
            if split == nil, let r = response.range(of: Data("\r\n\r\n".utf8)) {
                split = r
                let head = String(decoding: response[..<r.lowerBound], as: UTF8.self).lowercased()
                if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }) {
                    expected = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                }
            }
            if let r = split, let e = expected, response.count - r.upperBound >= e { break }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response.append(buffer, count: n)
        }
        guard let split else { throw FacetError("webdriver: no HTTP response") }
        let head = String(decoding: response[..<split.lowerBound], as: UTF8.self)
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        var payload = Data(response[split.upperBound...])
        if head.lowercased().contains("transfer-encoding: chunked") { payload = dechunk(payload) }
        return (status, payload)
    }

    static func dechunk(_ d: Data) -> Data {
        var out = Data(), i = d.startIndex
        while let lineEnd = d[i...].range(of: Data("\r\n".utf8)) {
            let size = Int(String(decoding: d[i..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
            if size == 0 { break }
            out += d[lineEnd.upperBound..<(lineEnd.upperBound + size)]
            i = lineEnd.upperBound + size + 2
        }
        return out
    }

    var port: UInt16 { UInt16(base.split(separator: ":").last!)! }

    func call(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let port = self.port
        // Off the cooperative pool: chromedriver answers only once the page has loaded from the
        // gallery, whose handlers need those threads.
        let r = try await withCheckedThrowingContinuation { (k: CheckedContinuation<(status: Int, body: Data), Error>) in
            DispatchQueue.global().async { k.resume(with: Result { try Self.exchange(port: port, method: method, path: path, body: payload) }) }
        }
        guard r.status == 200 else { throw FacetError("webdriver \(method) \(path): \(r.status) \(String(decoding: r.body, as: UTF8.self).prefix(400))") }
        return (try JSONSerialization.jsonObject(with: r.body) as? [String: Any])?["value"]
    }

    func newSession() async throws -> String {
        let caps: [String: Any] = ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": [
            "binary": "/usr/bin/chromium", "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,900"]]]]]
        let v = try await call("POST", "/session", caps) as? [String: Any]
        guard let id = v?["sessionId"] as? String else { throw FacetError("webdriver: no session id") }
        sessions.append(id)
        return id
    }

    func go(_ s: String, _ url: String) async throws { _ = try await call("POST", "/session/\(s)/url", ["url": url]) }

    func find(_ s: String, _ css: String) async throws -> String {
        let v = try await call("POST", "/session/\(s)/element", ["using": "css selector", "value": css]) as? [String: Any]
        guard let id = v?.values.first as? String else { throw FacetError("webdriver: no element \(css)") }
        return id
    }

    func click(_ s: String, _ element: String) async throws { _ = try await call("POST", "/session/\(s)/element/\(element)/click", [String: Any]()) }

    func keys(_ s: String, _ text: String) async throws {
        let actions: [[String: Any]] = text.map { ["type": "keyDown", "value": String($0)] } + text.map { ["type": "keyUp", "value": String($0)] }
        _ = try await call("POST", "/session/\(s)/actions", ["actions": [["type": "key", "id": "kbd", "actions": actions]]])
    }

    func script(_ s: String, _ js: String) async throws -> String {
        let v = try await call("POST", "/session/\(s)/execute/sync", ["script": js, "args": [Any]()])
        return v.map { "\($0)" } ?? ""
    }
}

