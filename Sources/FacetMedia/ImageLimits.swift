/// The largest image Facet decodes: a file's header can claim any size (PNG up to 2^31 per side,
/// JPEG 65,535), and a few hundred bytes claiming 65,535 x 65,535 would otherwise allocate 12 GiB.
import FacetCore

/// The size limits every image decoder checks a header against before it allocates.
public enum ImageLimits {
    /// Pixels per side: a 20,000-pixel side is beyond any camera's still.
    public static let maxSide = 20_000
    /// Pixels in all: 100 megapixels (a 8,688 x 5,792 full-frame still is 50).
    public static let maxPixels = 100_000_000

    /// Throws a FacetError (without a file name: the caller adds it) for an image too large to decode.
    public static func check(width: Int, height: Int, format: String) throws {
        guard width <= maxSide, height <= maxSide, width * height <= maxPixels else {
            throw FacetError("\(format) image of \(width)x\(height) pixels is larger than Facet decodes "
                             + "(at most \(maxSide) pixels a side and \(maxPixels / 1_000_000) megapixels)")
        }
    }
}
