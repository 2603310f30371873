/// `Tools/bench compositor`: the compositor's own cost per face (aligned crop, mask, colour, warp back, blend) on a
/// real frame, without the codec or the model.
import Foundation
import FacetCore
import FacetTestSupport
import FacetMerge

enum CompositorBench {
    /// Milliseconds per face of each step, at the model sizes of `tiny` (64) and Quick96 (96), with
    /// the settings of `Tools/bench merge`. FACET_BENCH_REPS (default 200) faces per size,
    /// FACET_BENCH_MODES (default "overlay seamless").
    static func run(in work: BenchFolder) throws {
        let env = ProcessInfo.processInfo.environment
        let reps = max(1, Int(env["FACET_BENCH_REPS"] ?? "") ?? 200)
        let frame = try MergeFixture.frame(0), face = MergeFixture.face(0)
        let modes = (env["FACET_BENCH_MODES"] ?? "overlay seamless").split(separator: " ").compactMap { MergeMode(rawValue: String($0)) }
        for mode in modes {
            for res in [64, 96] {
                let options = MergeOptions(mode: mode, mask: .learnedAndHull, erode: 10, blur: 20, color: .rct)
                let compositor = FaceCompositor(options: options, resolution: res)
                let swapper = ShiftedSwapper(resolution: res, upsideDown: true)
                var aligned = compositor.alignedFace(from: frame, face: face)
                let swapped = try swapper.swap([aligned])[0]
                var alignSeconds = 0.0, blendSeconds = 0.0, changed = 0
                for _ in 0..<reps {
                    var image = frame
                    image.pixels[0] = frame.pixels[0]  // the copy of the frame is made here, not in the blend
                    let t0 = Date()
                    aligned = compositor.alignedFace(from: frame, face: face)
                    let t1 = Date()
                    let region = try compositor.blend(into: &image, face: face, aligned: aligned, swapped: swapped)
                    let t2 = Date()
                    alignSeconds += t1.timeIntervalSince(t0); blendSeconds += t2.timeIntervalSince(t1)
                    changed = region.alpha.filter { $0 > 0 }.count
                }
                try expect(changed > 10_000, "only \(changed) frame pixels blended")
                print(String(format: "bench-compositor: %@ %d px: aligned face %.3f ms, blend %.3f ms per face (%d faces, %d frame pixels blended)",
                             mode.rawValue, res, 1000 * alignSeconds / Double(reps), 1000 * blendSeconds / Double(reps), reps, changed))
            }
        }
    }
}
