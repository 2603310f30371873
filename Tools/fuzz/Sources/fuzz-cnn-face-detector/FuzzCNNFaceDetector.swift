/// libFuzzer target: any bytes as dlib's CNN face detector (mmod_human_face_detector.dat). Loading must give a detector
/// or a FacetError naming the file, never a trap, an out-of-bounds read or a runaway allocation
/// (every count and tensor size is bounded by the architecture or by the bytes left).
import FacetCore
import FacetVision
import Foundation

let path = NSTemporaryDirectory() + "facet-fuzz-cnn-face-detector-\(getpid()).dat"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCNNFaceDetector(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    // The public loader reads a file: the fuzzer goes through exactly what `facet extract --detector cnn` runs.
    FileManager.default.createFile(atPath: path, contents: Data(bytes: bytes, count: count))
    do {
        _ = try CNNFaceDetector(path: path)
    } catch let error as FacetError {
        precondition(error.description.contains(path), "the error does not name the file: \(error)")
    } catch {
        preconditionFailure("not a FacetError: \(error)")
    }
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_cnn_face_detector_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_cnn_face_detector_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    precondition(!path.isEmpty)
    return LLVMFuzzerRunDriver(&count, &values, fuzzCNNFaceDetector)
}
