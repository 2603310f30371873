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
