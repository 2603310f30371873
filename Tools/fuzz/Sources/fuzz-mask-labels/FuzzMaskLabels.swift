/// libFuzzer target: any bytes as a `facet mask --import` label file. Each input either parses (every polygon with
/// 3...maxPoints finite points, a known kind, each face once, line numbers rising) or gives one FacetError naming
/// the file and a line, never a trap; what parses writes back to lines that parse to the same labels (as float32),
/// and rasterizes on a small crop to values 0...255 without a trap.
import Foundation
import FacetCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMaskLabels(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let data = Data(bytes: bytes, count: count)
    let lines: [MaskLabelLine]
    do {
        lines = try MaskLabels.parse(data, path: "in.jsonl")
    } catch let e as FacetError {
        precondition(e.message.hasPrefix("in.jsonl:") && !e.message.contains("\n"), "message \(e.message)")
        return 0
    } catch {
        preconditionFailure("not a FacetError: \(error)")
    }
    precondition(zip(lines, lines.dropFirst()).allSatisfy { $0.line < $1.line }, "line numbers rise")
    precondition(Set(lines.map(\.face)).count == lines.count, "each face once")
    for l in lines {
        precondition(l.polygons.count <= MaskPolygon.maxPolygons, "polygons \(l.polygons.count)")
        for p in l.polygons {
            precondition((3...MaskPolygon.maxPoints).contains(p.points.count), "points \(p.points.count)")
            precondition(p.points.allSatisfy { $0.x.isFinite && $0.y.isFinite }, "finite")
        }
        let written = MaskLabels.line(face: l.face, polygons: l.polygons)
        let again = try? MaskLabels.parse(Data(written.utf8), path: "out.jsonl")
        let stored = l.polygons.map(\.stored)
        // A coordinate beyond float32's range prints as Infinity, which is not JSON: such a line may not reparse.
        if stored.allSatisfy({ $0.points.allSatisfy { $0.x.isFinite && $0.y.isFinite } }) {
            precondition(again?.first?.polygons.map(\.stored) == stored, "round trip of \(written)")
        }
        // Draw on a 16x16 crop, corners folded into a range around it (off-crop corners clip).
        let folded = l.polygons.prefix(8).map { p in
            MaskPolygon(kind: p.kind, points: p.points.prefix(64).map {
                Point2($0.x.truncatingRemainder(dividingBy: 40) - 12, $0.y.truncatingRemainder(dividingBy: 40) - 12)
            })
        }
        let mask = MaskPolygon.rasterize(folded, width: 16, height: 16, samples: 2)
        precondition(mask.count == 256, "mask size")
    }
    return 0
}

/// libFuzzer's driver (compiler-rt), run from this executable's own entry point.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links a Swift executable with `main` bound to `<module>_main` (so tests can link it), which libFuzzer's
/// own `main` then never replaces: this is that entry point, handing the command line to libFuzzer's driver.
@_cdecl("fuzz_mask_labels_main")
public func fuzzMaskLabelsMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var args: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runFuzzerDriver(&count, &args, fuzzMaskLabels)
}
