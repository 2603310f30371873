/// JPEG encode/decode through libjpeg-turbo's TurboJPEG API.
import CTurboJPEG
import FacetCore
import Foundation

/// JPEG images in memory, used for aligned face crops and previews.
public enum JPEGCodec {
    /// The image as RGB (grey JPEGs are expanded to three equal channels). O(pixels).
    public static func decode(_ data: Data) throws -> Image {
        guard let handle = tjInitDecompress() else { throw FacetError("cannot start the JPEG decoder") }
        defer { tjDestroy(handle) }
        return try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Image in
            guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count > 0 else {
                throw FacetError("not a readable JPEG image (no data)")
            }
            var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colourspace: Int32 = 0
            guard tjDecompressHeader3(handle, base, UInt(bytes.count), &width, &height, &subsampling,
                                      &colourspace) == 0,
                  width > 0, height > 0 else {
                throw FacetError("not a readable JPEG image (\(errorText(handle)))")
            }
            try ImageLimits.check(width: Int(width), height: Int(height), format: "JPEG")
            let count = Int(width) * Int(height) * 3
            var status: Int32 = 0
            let pixels = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
                status = tjDecompress2(handle, base, UInt(bytes.count), buffer.baseAddress, width, 0, height,
                                       Int32(TJPF_RGB.rawValue), 0)
                if status != 0 && tjGetErrorCode(handle) == Int32(TJERR_FATAL.rawValue) {
                    buffer.initialize(repeating: 0)
                }
                initialized = count
            }
            // A warning (TJERR_WARNING, e.g. a few missing bytes at the end) still yields an image,
            // the way image viewers show slightly damaged files.
            if status != 0 && tjGetErrorCode(handle) == Int32(TJERR_FATAL.rawValue) {
                throw FacetError("damaged JPEG image (\(errorText(handle)))")
            }
            return Image(width: Int(width), height: Int(height), channels: 3, pixels: pixels)
        }
    }

    /// A baseline JPEG of a grey, RGB or RGBA image (alpha is dropped). Colour uses 4:2:0 chroma
    /// below quality 95 and full-resolution 4:4:4 chroma from 95 up, where fine detail is the point.
    public static func encode(_ image: Image, quality: Int = 90) throws -> Data {
        guard image.width > 0, image.height > 0 else {
            throw FacetError("cannot write an empty \(image.width)x\(image.height) JPEG image")
        }
        guard (1...100).contains(quality) else { throw FacetError("JPEG quality must be 1...100, got \(quality)") }
        let pixelFormat: TJPF
        switch image.channels {
        case 1: pixelFormat = TJPF_GRAY
        case 3: pixelFormat = TJPF_RGB
        case 4: pixelFormat = TJPF_RGBX
        default: throw FacetError("cannot write a \(image.channels)-channel image as JPEG (grey, RGB or RGBA only)")
        }
        let subsampling = image.channels == 1 ? TJSAMP_GRAY : (quality >= 95 ? TJSAMP_444 : TJSAMP_420)
        guard let handle = tjInitCompress() else { throw FacetError("cannot start the JPEG encoder") }
        defer { tjDestroy(handle) }
        let capacity = tjBufSize(Int32(image.width), Int32(image.height), Int32(subsampling.rawValue))
        guard capacity != UInt(bitPattern: -1), var buffer = tjAlloc(Int32(clamping: capacity)) else {
            throw FacetError("JPEG encoding failed (image too large: \(image.width)x\(image.height))")
        }
        defer { tjFree(buffer) }
        var size = capacity
        // NOREALLOC: the buffer from tjBufSize is always big enough, so ownership stays simple.
        let status = image.pixels.withUnsafeBufferPointer { src in
            withUnsafeMutablePointer(to: &buffer) { bufferPointer in
                bufferPointer.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 1) { out in
                    tjCompress2(handle, src.baseAddress, Int32(image.width), 0, Int32(image.height),
                                Int32(pixelFormat.rawValue),
                                out, &size, Int32(subsampling.rawValue), Int32(quality), TJFLAG_NOREALLOC)
                }
            }
        }
        guard status == 0 else { throw FacetError("JPEG encoding failed (\(errorText(handle)))") }
        return Data(bytes: buffer, count: Int(size))
    }

    private static func errorText(_ handle: tjhandle) -> String {
        guard let text = tjGetErrorStr2(handle) else { return "unknown libjpeg-turbo error" }
        return String(cString: text)
    }
}
