/// The setup the gallery's HTTP tests share: a project in a fresh temporary folder, filled by the
/// test, served by a `Gallery` on a free loopback port; plain HTTP requests to it.
import XCTest
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FacetStore
@testable import FacetServe

final class ServedProject {
    /// The temporary folder holding the project file; removed by `stop()`.
    let dir: String
    let project: Project
    let gallery: Gallery
    /// `http://127.0.0.1:PORT`.
    let base: String
    private let server: Task<Void, Error>

    /// Tests/FacetServeTests/../Fixtures.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// Creates `NSTemporaryDirectory()/facet-serve-<prefix>UUID/<file>`, runs `fill` on the new
    /// project, then starts the gallery and waits (up to 20 s) until it listens; on a failure
    /// stops what it started and removes the folder before throwing.
    init(prefix: String, file: String, sourceFrame: SourceFrameDecoder? = nil, fill: (Project) throws -> Void) async throws {
        let dir = NSTemporaryDirectory() + "facet-serve-\(prefix)\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var server: Task<Void, Error>?
        do {
            let project = try Project.create(at: dir + "/" + file)
            try fill(project)
            let gallery = Gallery(project: project, sourceFrame: sourceFrame)
            let started = PortBox()
            server = Task { try await gallery.run(host: "127.0.0.1", port: 0) { port in started.set(port) } }
            let deadline = Date().addingTimeInterval(20)
            while started.port == nil && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
            base = "http://127.0.0.1:\(try XCTUnwrap(started.port, "the gallery did not start"))"
            (self.dir, self.project, self.gallery, self.server) = (dir, project, gallery, server!)
        } catch {
            server?.cancel()
            _ = try? await server?.value
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    /// Stops the server and removes the folder.
    func stop() async {
        server.cancel()
        _ = try? await server.value
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// One request to `base + path` (redirects not followed): status, body and headers.
    func request(_ path: String, method: String = "GET", body: String? = nil,
                 headers: [String: String] = [:]) async throws -> (status: Int, body: Data, headers: [AnyHashable: Any]) {
        var req = URLRequest(url: URL(string: base + path)!)
        req.httpMethod = method
        if let body { req.httpBody = Data(body.utf8); req.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type") }
        for (k, v) in headers { req.setValue(v, forHTTPHeaderField: k) }
        let session = URLSession(configuration: .ephemeral, delegate: NoRedirect(), delegateQueue: nil)
        let (data, resp) = try await session.data(for: req)
        let h = resp as! HTTPURLResponse
        return (h.statusCode, data, h.allHeaderFields)
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
