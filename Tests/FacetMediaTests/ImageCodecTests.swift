/// PNG, JPEG and image-file tests on synthetic pictures and the fixture photos.
import FacetCore
@testable import FacetMedia
import Foundation
import XCTest

final class ImageCodecTests: XCTestCase {
    /// A picture with gradients, edges and noise, so codecs cannot cheat with flat areas.
    private func pattern(width: Int, height: Int, channels: Int) -> Image {
        var image = Image(width: width, height: height, channels: channels)
        var seed: UInt32 = 12345
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<channels {
                    seed = seed &* 1_103_515_245 &+ 12345
                    let smooth = (x * 255 / max(1, width - 1) + y * (c + 1) * 3) & 0xFF
                    image[x, y, c] = UInt8((smooth + Int(seed >> 28)) & 0xFF)
                }
            }
        }
        return image
    }

    func testPNGRoundTripIsExactForGreyRGBAndRGBA() throws {
        for channels in [1, 3, 4] {
            let image = pattern(width: 37, height: 23, channels: channels)
            let data = try PNGCodec.encode(image)
            XCTAssertEqual(ImageFile.kind(of: data), .png)
            let back = try PNGCodec.decode(data)
            XCTAssertEqual(back, image, "channels \(channels)")
        }
    }

    func testPNGDecodeOfFixtureMatchesFFmpegBytes() throws {
        // Reference: ffmpeg -i FILE -f rawvideo -pix_fmt rgb24 - | FNV-1a 64 (Tools/bench-media/make-test-reference).
        let chelsea = try PNGCodec.decode(Data(contentsOf: URL(fileURLWithPath: Fixtures.path("images/noface/chelsea.png"))))
        XCTAssertEqual([chelsea.width, chelsea.height, chelsea.channels], [451, 300, 3])
        XCTAssertEqual(fnv1a(chelsea.pixels), 0xb217_9687_9661_57a8)
        let astronaut = try ImageFile.read(path: Fixtures.path("images/reference/astronaut.png"))
        XCTAssertEqual(fnv1a(astronaut.pixels), 0xfa4e_6bff_08e5_e8fb)
    }

    func testJPEGRoundTripStaysClose() throws {
        // A smooth picture: JPEG's loss should be a level or two, not a shift of the whole image.
        var image = Image(width: 64, height: 48, channels: 3)
        for y in 0..<48 { for x in 0..<64 { image[x, y, 0] = UInt8(x * 4); image[x, y, 1] = UInt8(y * 5); image[x, y, 2] = UInt8(128 + (x - y)) } }
        for quality in [90, 100] {
            let back = try JPEGCodec.decode(JPEGCodec.encode(image, quality: quality))
            XCTAssertEqual([back.width, back.height, back.channels], [64, 48, 3])
            let errors = zip(back.pixels, image.pixels).map { abs(Int($0) - Int($1)) }
            let mean = Double(errors.reduce(0, +)) / Double(errors.count)
            XCTAssertLessThan(mean, quality == 100 ? 1.0 : 2.5, "quality \(quality)")
            XCTAssertLessThan(errors.max()!, quality == 100 ? 6 : 24, "quality \(quality)")
        }
        // Lower quality must give a smaller file: the quality argument reaches the encoder.
        XCTAssertLessThan(try JPEGCodec.encode(image, quality: 30).count, try JPEGCodec.encode(image, quality: 95).count)
    }

    func testJPEGGreyAndRGBAInputs() throws {
        let grey = pattern(width: 40, height: 30, channels: 1)
        let fromGrey = try JPEGCodec.decode(JPEGCodec.encode(grey, quality: 100))
        XCTAssertEqual(fromGrey.channels, 3)
        XCTAssertEqual(fromGrey[5, 7, 0], fromGrey[5, 7, 2])
        XCTAssertLessThanOrEqual(abs(Int(fromGrey[5, 7, 1]) - Int(grey[5, 7, 0])), 12)
        let rgba = pattern(width: 40, height: 30, channels: 4)
        let fromRGBA = try JPEGCodec.decode(JPEGCodec.encode(rgba, quality: 100))
        let rgbMean = meanColour(rgba.rgb()), backMean = meanColour(fromRGBA)
        for c in 0..<3 { XCTAssertEqual(backMean[c], rgbMean[c], accuracy: 2) }
    }

    func testJPEGDecodeOfFixturesMatchesFFmpegMeanColour() throws {
        // Reference means from ffmpeg's own decode to rgb24 (Tools/bench-media/make-test-reference).
        let references: [(String, Int, Int, [Double])] = [
            ("images/faces/2008_001009.jpg", 360, 480, [57.283, 49.853, 40.842]),
            ("images/faces/Tom_Cruise_avp_2014_4.jpg", 565, 800, [130.312, 95.882, 83.971]), // progressive
        ]
        for (path, width, height, mean) in references {
            let image = try ImageFile.read(path: Fixtures.path(path))
            XCTAssertEqual([image.width, image.height, image.channels], [width, height, 3], path)
            let ours = meanColour(image)
            for c in 0..<3 { XCTAssertEqual(ours[c], mean[c], accuracy: 2, path) }
        }
    }

    func testImageFileReadsByContentAndWritesByExtension() throws {
        let folder = try temporaryFolder(self)
        let rgba = pattern(width: 16, height: 9, channels: 4)
        try ImageFile.write(rgba, path: folder + "/a.png")
        // Read returns RGB: the alpha channel is dropped.
        XCTAssertEqual(try ImageFile.read(path: folder + "/a.png"), rgba.rgb())
        // A PNG saved under a misleading name is still read as PNG.
        try FileManager.default.copyItem(atPath: folder + "/a.png", toPath: folder + "/a.bin")
        XCTAssertEqual(try ImageFile.read(path: folder + "/a.bin"), rgba.rgb())
        try ImageFile.write(rgba.rgb(), path: folder + "/b.JPG")
        XCTAssertEqual(ImageFile.kind(of: try Data(contentsOf: URL(fileURLWithPath: folder + "/b.JPG"))), .jpeg)
        assertFacetError(try ImageFile.write(rgba, path: folder + "/c.gif"), contains: [folder + "/c.gif", "extension"])
    }

    func testBadImageInputsGiveOneLineErrorsNamingTheFile() throws {
        let folder = try temporaryFolder(self)
        assertFacetError(try ImageFile.read(path: folder + "/missing.png"), contains: [folder + "/missing.png", "no such file"])
        assertFacetError(try ImageFile.read(path: folder), contains: [folder, "folder"])
        try Data("hello, not an image".utf8).write(to: URL(fileURLWithPath: folder + "/text.png"))
        assertFacetError(try ImageFile.read(path: folder + "/text.png"), contains: [folder + "/text.png", "not a PNG or JPEG"])
        // Truncated files: the header survives, the pixel data does not.
        let png = try PNGCodec.encode(pattern(width: 64, height: 64, channels: 3))
        try png.prefix(100).write(to: URL(fileURLWithPath: folder + "/cut.png"))
        assertFacetError(try ImageFile.read(path: folder + "/cut.png"), contains: [folder + "/cut.png", "PNG"])
        assertFacetError(try JPEGCodec.decode(Data([0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3])), contains: ["JPEG"])
        assertFacetError(try PNGCodec.decode(Data()), contains: ["PNG"])
        assertFacetError(try PNGCodec.encode(Image(width: 2, height: 2, channels: 2)), contains: ["2-channel"])
    }
}
