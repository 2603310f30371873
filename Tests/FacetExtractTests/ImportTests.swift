/// Import: real videos and stills into a real project file, decoded back from inside it.
import XCTest
import GRDB
import FacetCore
import FacetMedia
@testable import FacetExtract
import FacetProjectMedia
@testable import FacetStore

final class ImportTests: XCTestCase {
    var dir: String!
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "facet-import-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testEmbeddedVideoDecodesFromTheProjectLikeTheFile() throws {
        let video = Self.fixtures + "/video/dst-d19.mp4"
        let p = try Project.create(at: dir + "/p.facet")
        let m = try MediaImporter.importMedia(path: video, role: .dst, link: false, into: p)
        XCTAssertEqual(m.frameCount, 250)
        XCTAssertEqual(m.width, 480)
        XCTAssertEqual(m.fps, 30, accuracy: 1e-6)
        XCTAssertTrue(m.hasAudio)
        XCTAssertEqual(m.sha256, try SHA256.hex(ofFile: video))
        let fromProject = try MediaFrames(project: p, media: m)
        let fromFile = try VideoDecoder(path: video)
        var n = 0
        while let a = try fromProject.next() {
            let b = try XCTUnwrap(try fromFile.nextFrame())
            XCTAssertEqual(a.index, b.index)
            XCTAssertEqual(a.pts, b.pts, accuracy: 1e-9)
            if n % 50 == 0 { XCTAssertEqual(a.image, b.image, "frame \(n) differs") }
            n += 1
        }
        XCTAssertEqual(n, 250)
        XCTAssertNil(try fromFile.nextFrame())
        // 5 fps selection by timestamp: every 6th frame of a 30 fps video.
        let five = try MediaFrames(project: p, media: m, fps: 5)
        var indices: [Int] = []
        while let f = try five.next() { indices.append(f.index) }
        XCTAssertEqual(indices.count, 42)
        XCTAssertEqual(Array(indices.prefix(4)), [0, 6, 12, 18])
    }

    func testLinkedVideoThatChangedIsAClearError() throws {
        let copy = dir + "/clip.mp4"
        try FileManager.default.copyItem(atPath: Self.fixtures + "/video/src-d18.mp4", toPath: copy)
        let p = try Project.create(at: dir + "/p.facet")
        let m = try MediaImporter.importMedia(path: copy, role: .src, link: true, into: p)
        XCTAssertEqual(m.storage, .linked)
        XCTAssertNoThrow(try MediaFrames(project: p, media: m))
        let h = try XCTUnwrap(FileHandle(forWritingAtPath: copy))
        try h.seek(toOffset: 5000); h.write(Data([1, 2, 3, 4])); try h.close()
        XCTAssertThrowsError(try MediaFrames(project: p, media: m)) { XCTAssertTrue("\($0)".contains("changed since it was imported"), "\($0)") }
        try FileManager.default.removeItem(atPath: copy)
        XCTAssertThrowsError(try MediaFrames(project: p, media: m)) { XCTAssertTrue("\($0)".contains("missing"), "\($0)") }
    }

    func testStillsFolderImportsEveryImageInOrder() throws {
        let p = try Project.create(at: dir + "/p.facet")
        let m = try MediaImporter.importMedia(path: Self.fixtures + "/images/faces", role: .src, link: false, into: p)
        XCTAssertEqual(m.kind, .stills)
        let names = try p.stillNames(mediaId: m.id!)
        XCTAssertEqual(names.count, m.frameCount)
        XCTAssertEqual(names, names.sorted { $0.compare($1, options: .numeric) == .orderedAscending })
        let frames = try MediaFrames(project: p, media: m)
        let first = try XCTUnwrap(try frames.next())
        XCTAssertEqual(first.image, try ImageFile.read(path: Self.fixtures + "/images/faces/" + names[0]))
    }

    func testBadInputLeavesTheProjectAsItWas() throws {
        let p = try Project.create(at: dir + "/p.facet")
        try MediaImporter.importMedia(path: Self.fixtures + "/video/src-d18.mp4", role: .src, link: false, into: p)
        let garbage = dir + "/garbage.mp4"
        try Data((0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 7) }).write(to: URL(fileURLWithPath: garbage))
        let truncated = dir + "/truncated.mp4"
        try Data(try Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/video/extra-d20.mp4")).prefix(100_000)).write(to: URL(fileURLWithPath: truncated))
        let emptyFolder = dir + "/empty"
        try FileManager.default.createDirectory(atPath: emptyFolder, withIntermediateDirectories: false)
        let cases: [(String, String)] = [
            (garbage, "garbage.mp4"), (truncated, "truncated"), (emptyFolder, "no images"), (dir + "/missing.mp4", "no such file"),
            (Self.fixtures + "/video/src-d18.mp4", "already imported"),
            (Self.fixtures + "/images/faces/testing.xml", "testing.xml"),
        ]
        for (path, text) in cases {
            XCTAssertThrowsError(try MediaImporter.importMedia(path: path, role: .src, link: false, into: p), path) {
                XCTAssertTrue("\($0)".contains(text), "\($0)")
                XCTAssertFalse("\($0)".contains("\n"))
            }
        }
        try p.reader.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM media"), 1)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(DISTINCT media_id) FROM media_chunk"), 1)
        }
    }
}
