/// Helpers for curation tests: a fresh folder per test and projects of faces cut from the sample videos.
import XCTest
import FacetCore
import FacetStore
import FacetTestSupport
@testable import FacetCurate

class CurateTestCase: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-curate-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        _ = chmod(dir, 0o755)
        try? FileManager.default.removeItem(atPath: dir)
    }

    func path(_ name: String) -> String { dir + "/" + name }

    override class func tearDown() {
        for t in templates.all() { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: t + suffix) } }
        templates.clear()
        super.tearDown()
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    static let srcVideo = fixtures + "/video/src-d18.mp4"
    static let dstVideo = fixtures + "/video/dst-d19.mp4"

    /// A project with `src` faces cut from src-d18.mp4 and `dst` from dst-d19.mp4 (real pixels, augmented
    /// crops). Each distinct set is made once per test run and copied, since cutting crops is slow in debug.
    func projectWithRealFaces(src: Int, dst: Int = 0, cropSize: Int = 64, name: String = "real.facet") throws -> Project {
        let key = "\(src)-\(dst)-\(cropSize)"
        let template: String
        if let t = Self.templates.get(key) {
            template = t
        } else {
            template = NSTemporaryDirectory() + "facet-curate-template-\(getpid())-\(key).facet"
            try? FileManager.default.removeItem(atPath: template)
            let p = try Project.create(at: template)
            try SampleFaces.fill(p, role: .src, videos: [Self.srcVideo], count: src, cropSize: cropSize, framesPerVideo: 40, seed: 7)
            if dst > 0 { try SampleFaces.fill(p, role: .dst, videos: [Self.dstVideo], count: dst, cropSize: cropSize, framesPerVideo: 40, seed: 8) }
            try p.close()
            Self.templates.set(key, template)
        }
        // With its WAL, if closing left one: the copy must hold every committed face.
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: template + suffix) {
            try FileManager.default.copyItem(atPath: template + suffix, toPath: path(name) + suffix)
        }
        return try Project(path: path(name))
    }

    static let templates = TemplateCache()
}

/// Template projects made so far in this test run, by their face counts.
final class TemplateCache: @unchecked Sendable {
    private let lock = NSLock()
    private var paths: [String: String] = [:]
    func get(_ k: String) -> String? { lock.lock(); defer { lock.unlock() }; return paths[k] }
    func set(_ k: String, _ v: String) { lock.lock(); paths[k] = v; lock.unlock() }
    func all() -> [String] { lock.lock(); defer { lock.unlock() }; return Array(paths.values) }
    func clear() { lock.lock(); paths = [:]; lock.unlock() }
}
