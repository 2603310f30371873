/// libFuzzer target: any text as a merge's `--config-for A..B=NAME` and `--skip A..B`. Each input must parse to a
/// range inside 0...FrameRangeSpec.maxFrame (and a non-empty name when named) or give a FacetError, never trap;
/// lines of the input taken as a list of ranges go through the overlap check.
import FacetCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameRanges(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    var ranges: [ClosedRange<Int>] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        for named in [false, true] {
            guard let spec = try? FrameRangeSpec.parse(String(line), named: named) else { continue }
            precondition(spec.frames.lowerBound >= 0 && spec.frames.upperBound <= FrameRangeSpec.maxFrame, "range \(spec.frames)")
            precondition(named == (spec.name != nil) && !(spec.name?.isEmpty ?? false), "name \(String(describing: spec.name))")
            ranges.append(spec.frames)
        }
    }
    if let (a, b) = FrameRangeSpec.firstOverlap(ranges) {
        precondition(a.overlaps(b), "\(a) and \(b) reported overlapping")
    }
    return 0
}

// SwiftPM links an executable's entry point as `fuzz_frame_ranges_main` (main is an alias of it), so libFuzzer's
// own main is not linked: this one hands the arguments to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_frame_ranges_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc, values = argv
    return LLVMFuzzerRunDriver(&count, &values, fuzzFrameRanges)
}
