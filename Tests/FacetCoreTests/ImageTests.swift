import XCTest
@testable import FacetCore

final class ImageTests: XCTestCase {
    func testAffineInverseRoundTrip() throws {
        let m = Affine2D(a: 0.8, b: -0.3, tx: 12, c: 0.3, d: 0.8, ty: -5)
        let inv = try XCTUnwrap(m.inverted)
        let p = Point2(37.5, -4.25)
        let q = inv.apply(m.apply(p))
        XCTAssertEqual(q.x, p.x, accuracy: 1e-9)
        XCTAssertEqual(q.y, p.y, accuracy: 1e-9)
        XCTAssertNil(Affine2D(a: 1, b: 2, tx: 0, c: 2, d: 4, ty: 0).inverted)
    }

    func testWarpByIntegerShiftMovesPixelsExactly() {
        var img = Image(width: 8, height: 6, channels: 3)
        for y in 0..<6 { for x in 0..<8 { for c in 0..<3 { img[x, y, c] = UInt8(x * 20 + y * 3 + c) } } }
        let shift = Affine2D(a: 1, b: 0, tx: -2, c: 0, d: 1, ty: -1)
        let out = img.warped(by: shift, width: 6, height: 5)
        for y in 0..<5 { for x in 0..<6 { for c in 0..<3 { XCTAssertEqual(out[x, y, c], img[x + 2, y + 1, c]) } } }
    }

    func testResizeAreaAveragesBlocks() {
        var img = Image(width: 4, height: 2, channels: 1)
        img.pixels = [0, 100, 200, 200, 100, 200, 0, 0]
        let out = img.resized(width: 2, height: 1, filter: .area)
        XCTAssertEqual(out.pixels, [100, 100])
    }

    func testBilinearResizeOfConstantImageIsConstant() {
        var img = Image(width: 10, height: 7, channels: 3)
        for i in img.pixels.indices { img.pixels[i] = 77 }
        let up = img.resized(width: 23, height: 15)
        XCTAssertTrue(up.pixels.allSatisfy { $0 == 77 })
    }

    /// On a patterned image (each byte a function of x, y and channel), so a wrong row or column offset
    /// shows: the clipped crop keeps exactly the pixels inside both rectangles, in place.
    func testCropClipsToImage() {
        var img = Image(width: 10, height: 10, channels: 3)
        for y in 0..<10 { for x in 0..<10 { for c in 0..<3 { img.pixels[(y * 10 + x) * 3 + c] = UInt8(y * 20 + x * 2 + c) } } }
        let c = img.cropped(x: -3, y: 8, width: 6, height: 6)
        XCTAssertEqual(c.width, 3)
        XCTAssertEqual(c.height, 2)
        for y in 0..<2 { for x in 0..<3 { for ch in 0..<3 { XCTAssertEqual(c[x, y, ch], img[x, 8 + y, ch], "(\(x), \(y), \(ch))") } } }
        let inner = img.cropped(x: 4, y: 3, width: 5, height: 2)
        XCTAssertEqual(inner.width, 5); XCTAssertEqual(inner.height, 2)
        for y in 0..<2 { for x in 0..<5 { for ch in 0..<3 { XCTAssertEqual(inner[x, y, ch], img[4 + x, 3 + y, ch]) } } }
        let right = img.cropped(x: 7, y: -2, width: 9, height: 4)
        XCTAssertEqual(right.width, 3); XCTAssertEqual(right.height, 2)
        XCTAssertEqual(right[2, 1, 2], img[9, 1, 2])
        XCTAssertEqual(img.cropped(x: 12, y: 0, width: 3, height: 3).width, 0, "a crop outside the image is empty")
    }

    func testLandmarkPackingRoundTrip() throws {
        let lm = Landmarks68(points: (0..<68).map { Point2(Double($0) * 1.5, Double($0) * -0.25) })
        XCTAssertEqual(lm.packed.count, 544)
        XCTAssertEqual(try XCTUnwrap(Landmarks68(packed: lm.packed)), lm)
        XCTAssertNil(Landmarks68(packed: Data([1, 2, 3])))
    }
}

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex(of: Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(of: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    func testStreamingEqualsOneShotOnARealFile() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fixtures/video/src-d18.mp4").path
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        var h = SHA256()
        var i = 0
        while i < data.count { let n = min(1000 + i % 77, data.count - i); h.update(data.subdata(in: i..<(i + n))); i += n }
        let streamed = h.finalizeHex()
        XCTAssertEqual(streamed, "1dc94c1fec7ef7dc831c8a49f0e1788ae568812cb68e62f6875d9070f573d02a")  // sha256sum
        XCTAssertEqual(streamed, try SHA256.hex(ofFile: path))
    }
}
