/// libFuzzer target: any bytes as a dlib shape predictor. Parsing must give a model or a
/// FacetError naming the file; a model that loads must fit landmarks on a small image without a
/// trap or an out-of-bounds access (every split pixel index and leaf count was checked at load).
import FacetCore
import FacetVision
import Foundation

let path = NSTemporaryDirectory() + "facet-fuzz-shape-predictor-\(getpid()).dat"
let image = Image(width: 48, height: 48, channels: 3, pixels: (0..<(48 * 48 * 3)).map { UInt8(truncatingIfNeeded: $0 &* 37) })

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzShapePredictor(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    // The public loader reads a file: the fuzzer goes through exactly what `facet extract` runs.
    FileManager.default.createFile(atPath: path, contents: Data(bytes: bytes, count: count))
    guard let model = try? ShapePredictor(path: path) else { return 0 }
    let points = model.landmarks(in: image, box: FaceRect(left: 8, top: 8, right: 39, bottom: 39))
    precondition(points.points.count == 68)
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_shape_predictor_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_shape_predictor_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    precondition(!path.isEmpty && image.width == 48)
    return LLVMFuzzerRunDriver(&count, &values, fuzzShapePredictor)
}
