/// Embedded media: chunked storage, byte-exact random reads, duplicate refusal, all-or-nothing import.
import XCTest
import GRDB
import FacetCore
@testable import FacetStore

final class MediaStorageTests: StoreTestCase {
    func chunker(_ data: Data, size: Int) -> () throws -> (name: String?, data: Data)? {
        var offset = 0
        return {
            guard offset < data.count else { return nil }
            let n = min(size, data.count - offset)
            defer { offset += n }
            return (nil, data.subdata(in: offset..<(offset + n)))
        }
    }

    func record(_ file: String, sha: String, size: Int) -> MediaRecord {
        MediaRecord(role: .dst, name: (file as NSString).lastPathComponent, kind: .video, storage: .embedded, path: file, sha256: sha,
                    byteSize: Int64(size), container: "mp4", codec: "h264", width: 480, height: 480, fps: 30, frameCount: 250, duration: 8.3, hasAudio: true)
    }

    func testStoredVideoReadsBackByteExactAtAnyOffset() throws {
        let file = Self.fixtures + "/video/dst-d19.mp4"
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let p = try Project.create(at: path("m.facet"))
        let m = try p.importMedia(record(file, sha: SHA256.hex(of: data), size: data.count), chunks: chunker(data, size: 100_000))
        let bytes = try p.storedBytes(mediaId: m.id!)
        XCTAssertEqual(bytes.size, Int64(data.count))
        var rng = SystemRandomNumberGenerator()
        var buf = [UInt8](repeating: 0, count: 150_000)
        for _ in 0..<30 {
            let off = Int.random(in: 0..<data.count, using: &rng)
            let want = Int.random(in: 1...buf.count, using: &rng)
            var got = Data()
            var pos = off
            while got.count < want, pos < data.count {
                let n = try buf.withUnsafeMutableBytes { try bytes.read(at: Int64(pos), into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<(want - got.count)])) }
                XCTAssertGreaterThan(n, 0)
                got.append(contentsOf: buf[0..<n]); pos += n
            }
            XCTAssertEqual(got, data.subdata(in: off..<min(data.count, off + want)))
        }
        XCTAssertEqual(try buf.withUnsafeMutableBytes { try bytes.read(at: Int64(data.count), into: $0) }, 0)
    }

    func testSameContentIsRefusedAndFailedImportLeavesNothing() throws {
        let file = Self.fixtures + "/video/src-d18.mp4"
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        let sha = SHA256.hex(of: data)
        let p = try Project.create(at: path("m.facet"))
        try p.importMedia(record(file, sha: sha, size: data.count), chunks: chunker(data, size: 1 << 20))
        XCTAssertThrowsError(try p.importMedia(record("/elsewhere/copy.mp4", sha: sha, size: data.count), chunks: chunker(data, size: 1 << 20))) {
            XCTAssertTrue("\($0)".contains("already imported"), "\($0)")
        }
        // A reader that fails half-way: neither the media row nor any chunk remains.
        var calls = 0
        XCTAssertThrowsError(try p.importMedia(record("/x/other.mp4", sha: "feed", size: 10)) {
            calls += 1
            if calls == 3 { throw FacetError("/x/other.mp4: read error") }
            return (nil, Data(repeating: 7, count: 1000))
        })
        try p.reader.read { db in
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM media"), 1)
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT count(*) FROM media_chunk WHERE media_id NOT IN (SELECT id FROM media)"), 0)
        }
    }
}
