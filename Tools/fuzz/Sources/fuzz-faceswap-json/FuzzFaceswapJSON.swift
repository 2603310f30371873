/// libFuzzer target: any bytes as a faceswap alignments JSON file (`extract --alignments`). Parsing must end in a
/// value or a FacetError; a value it accepts holds 68 finite points and an ordered 4-number box per face, and frame
/// names faceswap's way round-trip; never a trap, an out-of-bounds read (ASan) or a leak.
import FacetCore
import FacetMedia
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFaceswapJSON(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    guard let file = try? FaceswapAlignments.parse(data) else { return 0 }
    for (name, faces) in file.frames {
        precondition(!name.isEmpty, "an accepted frame has an empty name")
        for f in faces {
            precondition(f.landmarks.count == 68 && f.landmarks.allSatisfy { $0.count == 2 && $0.allSatisfy(\.isFinite) }, "bad landmarks accepted")
            precondition(f.detected.count == 4 && f.detected[2] >= f.detected[0] && f.detected[3] >= f.detected[1], "bad box accepted")
        }
        _ = FaceswapAlignments.videoFrameName(name, index: count)
    }
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_faceswap_json_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_faceswap_json_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    return LLVMFuzzerRunDriver(&count, &values, fuzzFaceswapJSON)
}
