/// libFuzzer target: any bytes as a safetensors file. Parsing must end in a tensor table whose
/// every F32 tensor reads back, or a FacetError; never a trap, an out-of-bounds read (ASan) or a leak.
import FacetCore
import FacetVision
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafeTensors(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    guard let file = try? SafeTensorsFile(data: data, path: "fuzz.safetensors") else { return 0 }
    for (name, info) in file.tensors where info.dtype == "F32" {
        let values = try! file.floats(name, shape: info.shape)
        precondition(values.count == info.elementCount, "tensor \(name): \(values.count) values for shape \(info.shape)")
    }
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_safetensors_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_safetensors_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    return LLVMFuzzerRunDriver(&count, &values, fuzzSafeTensors)
}
