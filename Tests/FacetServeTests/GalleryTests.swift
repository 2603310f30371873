/// The gallery over HTTP and in a real headless browser (Debian's chromium + chromedriver, driven by WebDriver).
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FacetCore
import FacetStore
@testable import FacetCurate
@testable import FacetServe

final class GalleryTests: XCTestCase {
    var dir: String!
    var project: Project!
    var gallery: Gallery!
    var server: Task<Void, Error>!
    var base = ""

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    override func setUp() async throws {
        dir = NSTemporaryDirectory() + "facet-serve-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        project = try Project.create(at: dir + "/g.facet")
        try SampleFaces.fill(project, role: .src, videos: [Self.fixtures + "/video/src-d18.mp4"], count: 60, cropSize: 64, framesPerVideo: 20, seed: 3)
        // A tag with markup in it: it must come back escaped, never as markup.
        _ = try project.setTag("<b>x</b>\"'", on: [1, 2], command: "test")
        gallery = Gallery(project: project)
        let started = PortBox()
        let g = gallery!
        server = Task { try await g.run(host: "127.0.0.1", port: 0) { port in started.set(port) } }
        let deadline = Date().addingTimeInterval(20)
        while started.port == nil && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        base = "http://127.0.0.1:\(try XCTUnwrap(started.port, "the gallery did not start"))"
    }

    override func tearDown() async throws {
        server?.cancel()
        _ = try? await server?.value
        try? FileManager.default.removeItem(atPath: dir)
    }

    func http(_ path: String, method: String = "GET", body: String? = nil, headers: [String: String] = [:]) async throws -> (Int, String, [AnyHashable: Any]) {
        var req = URLRequest(url: URL(string: base + path)!)
        req.httpMethod = method
        if let body { req.httpBody = Data(body.utf8); req.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        let config = URLSessionConfiguration.ephemeral
        let session = URLSession(configuration: config, delegate: NoRedirect(), delegateQueue: nil)
        let (data, resp) = try await session.data(for: req)
        let h = resp as! HTTPURLResponse
        return (h.statusCode, String(decoding: data, as: UTF8.self), h.allHeaderFields)
    }

    func status(_ id: Int64) throws -> FaceStatus { try project.face(id: id).status }

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
        let driver = try WebDriver.start()
        defer { driver.stop() }
        let session = try await driver.newSession()
        try await driver.go(session, base + "/faces?role=src&status=all&per=100")
        let title = try await driver.script(session, "return document.title")
        XCTAssertTrue(title.contains("src faces"), title)
        let button = try await driver.find(session, "#toggle-7")
        try await driver.click(session, button)
        try await waitFor { try self.status(7) == .rejected }
        let kept = try await driver.script(session, "return document.getElementById('kept').textContent")
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

final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int?
    var port: Int? { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ p: Int) { lock.lock(); value = p; lock.unlock() }
}

final class NoRedirect: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}

/// A chromedriver process and the few WebDriver calls the test needs (W3C protocol over HTTP).
final class WebDriver: @unchecked Sendable {
    let process: Process
    let base: String

    static func start() throws -> WebDriver {
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
            if (try? d.syncGet("/status")) != nil { return d }
            usleep(100_000)
        }
        d.stop()
        throw FacetError("chromedriver did not start on port \(port)")
    }

    init(process: Process, base: String) { self.process = process; self.base = base }

    private var sessions: [String] = []

    /// Ends the browser sessions (closing Chromium), then chromedriver.
    func stop() {
        for s in sessions {
            var req = URLRequest(url: URL(string: base + "/session/\(s)")!)
            req.httpMethod = "DELETE"
            let sem = DispatchSemaphore(value: 0)
            URLSession.shared.dataTask(with: req) { _, _, _ in sem.signal() }.resume()
            _ = sem.wait(timeout: .now() + 10)
        }
        sessions = []
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }

    func syncGet(_ path: String) throws -> Data {
        let sem = DispatchSemaphore(value: 0)
        let box = ResultBox()
        URLSession.shared.dataTask(with: URL(string: base + path)!) { d, _, e in box.data = d; box.error = e; sem.signal() }.resume()
        sem.wait()
        if let e = box.error { throw e }
        return box.data ?? Data()
    }

    func call(_ method: String, _ path: String, _ body: Any? = nil) async throws -> Any? {
        var req = URLRequest(url: URL(string: base + path)!)
        req.httpMethod = method
        req.timeoutInterval = 60
        if let body { req.httpBody = try JSONSerialization.data(withJSONObject: body); req.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        let (data, resp) = try await URLSession.shared.data(for: req)
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        guard (resp as! HTTPURLResponse).statusCode == 200 else { throw FacetError("webdriver \(method) \(path): \(String(decoding: data, as: UTF8.self).prefix(400))") }
        return obj?["value"]
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

final class ResultBox: @unchecked Sendable { var data: Data?; var error: Error? }
