/// Images built to hurt the decoders (what Tools/fuzz/run's fuzz-image target found): a PNG chunk
/// that declares gigabytes in a few hundred bytes, and headers claiming tens of thousands of pixels
/// a side. Each is a one-line FacetError before any large allocation; real images still decode.
import FacetCore
@testable import FacetMedia
import Foundation
import XCTest

final class HostileImageTests: XCTestCase {
    /// A real 64x48 RGB PNG and JPEG, from the encoders.
    private func picture() -> Image {
        var image = Image(width: 64, height: 48, channels: 3)
        for i in 0..<image.pixels.count { image.pixels[i] = UInt8(truncatingIfNeeded: i &* 7) }
        return image
    }

    /// CRC-32 (the PNG chunk checksum), so patched headers stay valid PNG.
    private func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        }
        return ~c
    }

    private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }

    func testPNGChunkLongerThanTheFileIsRefusedBeforeLibpngAllocatesIt() throws {
        var png = [UInt8](try PNGCodec.encode(picture()))
        XCTAssertNoThrow(try PNGCodec.decode(Data(png)))
        // IHDR is the first chunk (bytes 8...32); the next one gets a 2 GB length.
        let next = 8 + 12 + 13
        png.replaceSubrange(next..<(next + 4), with: be32(0x7FFF_FFF0))
        XCTAssertThrowsError(try PNGCodec.decode(Data(png))) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("damaged PNG image") && text.contains("declares 2147483632 bytes"), text)
        }
        // Truncation inside a chunk is the same error, whatever libpng would have made of it.
        let whole = [UInt8](try PNGCodec.encode(picture()))
        XCTAssertThrowsError(try PNGCodec.decode(Data(whole.prefix(whole.count - 20)))) { XCTAssertTrue("\($0)".contains("PNG"), "\($0)") }
    }

    func testPNGClaimingHugeDimensionsIsRefused() throws {
        var png = [UInt8](try PNGCodec.encode(picture()))
        // IHDR data at 16...28: width, height; CRC over type + data at 29...32.
        png.replaceSubrange(16..<24, with: be32(30_000) + be32(30_000))
        png.replaceSubrange(29..<33, with: be32(crc32(png[12..<29])))
        XCTAssertThrowsError(try PNGCodec.decode(Data(png))) { error in
            XCTAssertTrue("\(error)".contains("PNG image of 30000x30000 pixels is larger than Facet decodes"), "\(error)")
        }
    }

    func testJPEGClaimingHugeDimensionsIsRefused() throws {
        var jpeg = [UInt8](try JPEGCodec.encode(picture(), quality: 90))
        XCTAssertEqual(try JPEGCodec.decode(Data(jpeg)).width, 64)
        // The SOF0 marker (FF C0): length (2), precision (1), height (2), width (2).
        let sof = try XCTUnwrap((0..<(jpeg.count - 1)).first { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 })
        jpeg.replaceSubrange((sof + 5)..<(sof + 9), with: [0xFF, 0x00, 0xFF, 0x00])
        XCTAssertThrowsError(try JPEGCodec.decode(Data(jpeg))) { error in
            XCTAssertTrue("\(error)".contains("JPEG image of 65280x65280 pixels is larger than Facet decodes"), "\(error)")
        }
        // Through the file reader, the one line names the file.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("facet-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("huge.jpg").path
        try Data(jpeg).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try ImageFile.read(path: file)) { error in
            XCTAssertTrue("\(error)".hasPrefix(file + ": JPEG image of 65280x65280"), "\(error)")
        }
    }
}
