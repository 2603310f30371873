/// PNG encode/decode through libpng's simplified `png_image_*` API.
import CPNG
import FacetCore
import Foundation

/// PNG images in memory. Only libpng's simplified API is used: the classic API reports errors with
/// setjmp/longjmp, which would jump over Swift frames and corrupt the program.
public enum PNGCodec {
    /// The image with the file's own layout: grey, RGB, or RGBA (grey+alpha becomes RGBA).
    /// 16-bit files are reduced to 8 bits. O(pixels).
    public static func decode(_ data: Data) throws -> Image {
        try checkChunkLengths(data)
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        defer { png_image_free(&png) }
        let image: Image = try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            guard let base = bytes.baseAddress, bytes.count > 0,
                  png_image_begin_read_from_memory(&png, base, bytes.count) != 0 else {
                throw FacetError("not a readable PNG image (\(message(of: png)))")
            }
            let hasAlpha = png.format & png_uint_32(PNG_FORMAT_FLAG_ALPHA) != 0
            let hasColour = png.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
            let channels = hasAlpha ? 4 : (hasColour ? 3 : 1)
            // 8-bit sRGB output: RGBA keeps straight (not premultiplied) alpha in this mode.
            png.format = channels == 4 ? formatRGBA : (channels == 3 ? formatRGB : formatGrey)
            let width = Int(png.width), height = Int(png.height)
            try ImageLimits.check(width: width, height: height, format: "PNG")
            let count = width * height * channels
            var failure: String?
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                if png_image_finish_read(&png, nil, buffer.baseAddress, 0, nil) == 0 {
                    failure = message(of: png)
                    buffer.initialize(repeating: 0)
                }
                initialized = count
            }
            if let failure { throw FacetError("damaged PNG image (\(failure))") }
            return Image(width: width, height: height, channels: channels, pixels: pixels)
        }
        return image
    }

    /// Refuses a chunk whose length runs past the end of the data before libpng sees it: libpng
    /// allocates a chunk's declared length before reading it, so 200 bytes claiming a 2 GB chunk
    /// would reserve 2 GB. With this walk no allocation exceeds the file's own size.
    static func checkChunkLengths(_ data: Data) throws {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var at = 8
            while at + 8 <= bytes.count {
                let length = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8
                    | Int(bytes[at + 3])
                let type = String(decoding: (4..<8).map {
                    (0x20...0x7E).contains(bytes[at + $0]) ? bytes[at + $0] : 0x3F
                }, as: UTF8.self)
                guard at + 12 + length <= bytes.count else {
                    throw FacetError("damaged PNG image (chunk \(type) at byte \(at) declares \(length) bytes; "
                                     + "the data ends \(bytes.count - at - 8) bytes later)")
                }
                if type == "IEND" { return }
                at += 12 + length
            }
        }
    }

    /// A PNG holding the image's channels exactly (grey, RGB or RGBA; 8 bits). O(pixels).
    public static func encode(_ image: Image) throws -> Data {
        guard image.width > 0, image.height > 0 else {
            throw FacetError("cannot write an empty \(image.width)x\(image.height) PNG image")
        }
        let format: UInt32
        switch image.channels {
        case 1: format = formatGrey
        case 3: format = formatRGB
        case 4: format = formatRGBA
        default: throw FacetError("cannot write a \(image.channels)-channel image as PNG (grey, RGB or RGBA only)")
        }
        var png = png_image()
        png.version = png_uint_32(PNG_IMAGE_VERSION)
        png.width = png_uint_32(image.width)
        png.height = png_uint_32(image.height)
        png.format = format
        defer { png_image_free(&png) }
        var capacity = maxEncodedSize(width: image.width, height: image.height, channels: image.channels)
        // The bound above is libpng's own PNG_IMAGE_PNG_SIZE_MAX; a second pass uses the size libpng
        // asks for if a zlib variant ever needs more.
        for _ in 0..<2 {
            var out = Data(count: capacity)
            var written = png_alloc_size_t(capacity)
            let ok = out.withUnsafeMutableBytes { dst in
                image.pixels.withUnsafeBytes { src in
                    png_image_write_to_memory(&png, dst.baseAddress, &written, 0, src.baseAddress, 0, nil)
                }
            }
            if ok != 0 {
                out.count = Int(written)
                return out
            }
            if Int(written) <= capacity { break }
            capacity = Int(written)
            png.warning_or_error = 0
        }
        throw FacetError("PNG encoding failed (\(message(of: png)))")
    }

    // png.h spells these as macro expressions, which Swift does not import.
    private static let formatGrey = png_uint_32(0)
    private static let formatRGB = png_uint_32(PNG_FORMAT_FLAG_COLOR)
    private static let formatRGBA = png_uint_32(PNG_FORMAT_FLAG_COLOR | PNG_FORMAT_FLAG_ALPHA)

    /// libpng's PNG_IMAGE_PNG_SIZE_MAX for an 8-bit, non-colour-mapped image.
    private static func maxEncodedSize(width: Int, height: Int, channels: Int) -> Int {
        let data = width * height * channels + height
        let zlib = data + (data + 7) / 8 + (data + 63) / 64 + 11
        return 8 + 25 + 16 + 44 + 12 + 12 + 12 * (zlib / 8192) + zlib
    }

    private static func message(of png: png_image) -> String {
        var copy = png.message
        let text = withUnsafeBytes(of: &copy) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "unknown libpng error" : text
    }
}
