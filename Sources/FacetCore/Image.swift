/// The pixel buffer every Facet module passes around: 8-bit, interleaved, row-major.

/// An 8-bit image with 1 (grey), 3 (RGB) or 4 (RGBA) interleaved channels.
public struct Image: Sendable, Equatable {
    /// Columns of pixels.
    public let width: Int
    /// Rows of pixels.
    public let height: Int
    /// Bytes per pixel: 1 (grey), 3 (RGB) or 4 (RGBA).
    public let channels: Int
    /// `height * width * channels` bytes, row-major, channels interleaved.
    public var pixels: [UInt8]

    /// A black (zero) image.
    public init(width: Int, height: Int, channels: Int = 3) {
        precondition(width >= 0 && height >= 0 && (1...4).contains(channels),
                     "bad image shape \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = [UInt8](repeating: 0, count: width * height * channels)
    }

    /// An image over existing bytes; `pixels.count` must equal `width * height * channels`.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * channels,
                     "pixel count \(pixels.count) != \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Bytes in one row (`width * channels`), the stride between rows.
    @inlinable public var rowBytes: Int { width * channels }

    /// The value of channel `c` at (x, y). O(1); bounds are the caller's duty.
    @inlinable public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// The rectangle `[x, x+w) x [y, y+h)`, clipped to the image; outside parts are dropped.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int) -> Image {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + w), y1 = min(height, y + h)
        guard x1 > x0, y1 > y0 else { return Image(width: 0, height: 0, channels: channels) }
        var out = Image(width: x1 - x0, height: y1 - y0, channels: channels)
        let rb = (x1 - x0) * channels
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for row in 0..<(y1 - y0) {
                    let s = ((y0 + row) * width + x0) * channels
                    (dst.baseAddress! + row * rb).update(from: src.baseAddress! + s, count: rb)
                }
            }
        }
        return out
    }

    /// Grey levels as `(R + G + B) / 3` (integer), or the single channel of a grey image.
    public func grey() -> Image {
        if channels == 1 { return self }
        var out = Image(width: width, height: height, channels: 1)
        let c = channels
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for i in 0..<(width * height) {
                    let p = i * c
                    dst[i] = UInt8((Int(src[p]) + Int(src[p + 1]) + Int(src[p + 2])) / 3)
                }
            }
        }
        return out
    }

    /// The first three channels of an RGBA image, or grey repeated three times.
    public func rgb() -> Image {
        if channels == 3 { return self }
        var out = Image(width: width, height: height, channels: 3)
        let c = channels
        pixels.withUnsafeBufferPointer { src in
            out.pixels.withUnsafeMutableBufferPointer { dst in
                for i in 0..<(width * height) {
                    if c == 1 {
                        dst[i * 3] = src[i]; dst[i * 3 + 1] = src[i]; dst[i * 3 + 2] = src[i]
                    } else {
                        dst[i * 3] = src[i * c]; dst[i * 3 + 1] = src[i * c + 1]; dst[i * 3 + 2] = src[i * c + 2]
                    }
                }
            }
        }
        return out
    }
}
