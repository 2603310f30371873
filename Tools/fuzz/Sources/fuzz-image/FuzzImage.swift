/// libFuzzer target: any bytes as an image file to import. PNG and JPEG decoding (libpng's and
/// TurboJPEG's, through Facet's wrappers) must give an image whose pixel count matches its size, or
/// a FacetError; never a trap, an out-of-bounds access or an allocation the input's size cannot
/// justify (libFuzzer's -malloc_limit_mb catches those).
import FacetCore
import FacetMedia
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImage(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    // Both decoders see every input (the magic bytes decide only which one import uses).
    for decode in [PNGCodec.decode, JPEGCodec.decode] {
        guard let image = try? decode(data) else { continue }
        precondition(image.width > 0 && image.height > 0 && image.pixels.count == image.width * image.height * image.channels)
        let rgb = image.rgb()
        precondition(rgb.channels == 3 && rgb.pixels.count == image.width * image.height * 3)
    }
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_image_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_image_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    return LLVMFuzzerRunDriver(&count, &values, fuzzImage)
}
