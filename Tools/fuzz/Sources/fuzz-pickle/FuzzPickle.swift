/// libFuzzer target: any bytes as the metadata blocks of other tools' face files. Bytes starting with '{'
/// go to the Python-literal parser (faceswap's PNG chunk), all others to the strict unpickler (DeepFaceLab's
/// APP15 block) and, when it accepts them, to the DFL field reader. Parsing must end in a value or a
/// FacetError; a value the unpickler accepts must survive Pickler.dumps and load again unchanged; never a
/// trap, an out-of-bounds read (ASan) or a leak.
import FacetCore
import FacetMedia
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPickle(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    if data.first == UInt8(ascii: "{") {
        _ = try? PythonLiteral.parse(String(decoding: data, as: UTF8.self))
        return 0
    }
    guard let value = try? Unpickler.load(data) else { return 0 }
    let again = try! Unpickler.load(Pickler.dumps(value))
    precondition(again == value, "a value does not survive Pickler.dumps")
    _ = try? DFLFaceInfo(dict: value)
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_pickle_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_pickle_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    return LLVMFuzzerRunDriver(&count, &values, fuzzPickle)
}
