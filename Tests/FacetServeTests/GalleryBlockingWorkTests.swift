/// Slow source frames must not stall the rest of the gallery: their decodes run on a lane of their own,
/// off Swift's cooperative pool (one thread per core), which also runs the server.
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

final class GalleryBlockingWorkTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// As many held frame requests as the cooperative pool has threads, and two more: before the
    /// frames had a lane, they took every pool thread and the page waited until they were let go.
    func testAPageIsServedWhileSourceFramesDecode() async throws {
        let dir = NSTemporaryDirectory() + "facet-serve-blocking-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let project = try Project.create(at: dir + "/b.facet")
        try SampleFaces.fill(project, role: .src, videos: [Self.fixtures + "/video/src-d18.mp4"], count: 20, cropSize: 64, framesPerVideo: 5, seed: 5)
        let gate = HeldDecodes(holdSeconds: 30)
        let gallery = Gallery(project: project, sourceFrame: { _, _, _ in try gate.decode() })
        let started = BoundPort()
        let server = Task { try await gallery.run(host: "127.0.0.1", port: 0) { port in started.set(port) } }
        defer { server.cancel() }
        var deadline = Date().addingTimeInterval(20)
        while started.port == nil && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        let base = "http://127.0.0.1:\(try XCTUnwrap(started.port, "the gallery did not start"))"

        let n = min(24, ProcessInfo.processInfo.activeProcessorCount + 2)
        let frames = (0..<n).map { i in Task { try await Self.get(base + "/frame/\(i % 20 + 1)") } }
        deadline = Date().addingTimeInterval(20)
        while gate.entered < min(n, Gallery.frameThreads) && Date() < deadline { try await Task.sleep(nanoseconds: 20_000_000) }
        try await Task.sleep(nanoseconds: 300_000_000)
        XCTAssertEqual(gate.entered, min(n, Gallery.frameThreads), "frames decode at most \(Gallery.frameThreads) at once")

        let t0 = Date()
        let (code, page) = try await Self.get(base + "/faces?role=src&per=50")
        let seconds = Date().timeIntervalSince(t0)
        XCTAssertEqual(code, 200)
        XCTAssertEqual(page.components(separatedBy: "<figure class=\"face").count - 1, 20)
        XCTAssertFalse(gate.anyTimedOut, "the page waited for the held frame decodes (\(String(format: "%.1f", seconds)) s)")
        XCTAssertLessThan(seconds, 10)
        let (cropCode, _) = try await Self.get(base + "/crop/1")
        XCTAssertEqual(cropCode, 200)
        XCTAssertFalse(gate.anyTimedOut)

        gate.release()
        for t in frames {
            let (c, body) = try await t.value
            XCTAssertEqual(c, 200, body)
        }
        XCTAssertEqual(gate.entered, n)
        XCTAssertFalse(gate.anyTimedOut)
        server.cancel()
        _ = try? await server.value
    }

    /// A GET in a session of its own (its own connections: nothing queues behind another request).
    static func get(_ url: String) async throws -> (Int, String) {
        let session = URLSession(configuration: .ephemeral)
        defer { session.finishTasksAndInvalidate() }
        var req = URLRequest(url: URL(string: url)!)
        req.timeoutInterval = 120
        let (data, resp) = try await session.data(for: req)
        return ((resp as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }
}

/// A source-frame decoder that holds every call until `release()` (or `holdSeconds` pass), counting calls.
final class HeldDecodes: @unchecked Sendable {
    private let condition = NSCondition()
    private var calls = 0
    private var released = false
    private var timedOut = false
    let holdSeconds: Double

    init(holdSeconds: Double) { self.holdSeconds = holdSeconds }

    var entered: Int { condition.lock(); defer { condition.unlock() }; return calls }
    var anyTimedOut: Bool { condition.lock(); defer { condition.unlock() }; return timedOut }

    func release() { condition.lock(); released = true; condition.broadcast(); condition.unlock() }

    func decode() throws -> Image {
        condition.lock()
        calls += 1
        let until = Date().addingTimeInterval(holdSeconds)
        while !released {
            if !condition.wait(until: until) { timedOut = true; break }
        }
        condition.unlock()
        return Image(width: 96, height: 64, channels: 3)
    }
}

final class BoundPort: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int?
    var port: Int? { lock.lock(); defer { lock.unlock() }; return value }
    func set(_ p: Int) { lock.lock(); value = p; lock.unlock() }
}
