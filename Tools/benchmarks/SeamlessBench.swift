/// `Tools/bench seamless`: the seamless (Poisson) solver beside the former SOR solver, ms per window on real face
/// windows of the dst sample and a synthetic irregular region.
import Foundation
import FacetTestSupport
@_spi(Benchmarks) import FacetMerge

enum SeamlessBench {
    /// ms per window, new beside former, alternating, same run. FACET_BENCH_REPS (default 5).
    static func run(in work: BenchFolder) throws {
        let env = ProcessInfo.processInfo.environment
        let reps = max(1, Int(env["FACET_BENCH_REPS"] ?? "") ?? 5)
        let windows = try SeamlessFixture.realWindows() + [SeamlessFixture.synthetic()]
        func time(_ body: () -> Void) -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        }
        var totalNew = 0.0, totalFormer = 0.0
        for w in windows {
            var new: [Double] = [], former: [Double] = []
            for i in 0..<reps {
                let runNew = { var s = w.source; SeamlessClone.blend(source: &s, target: w.target, region: w.region, width: w.width, height: w.height) }
                let runFormer = { var s = w.source; FormerSeamless.blend(source: &s, target: w.target, region: w.region, width: w.width, height: w.height) }
                if i % 2 == 0 { new.append(time(runNew)); former.append(time(runFormer)) } else { former.append(time(runFormer)); new.append(time(runNew)) }
            }
            let bn = new.min()!, bf = former.min()!
            totalNew += bn; totalFormer += bf
            print(String(format: "bench-seamless: %@ %dx%d, %d unknowns: former SOR %.1f ms, multigrid-PCG %.1f ms (best of %d), %.1fx",
                         w.name, w.width, w.height, w.region.filter { $0 }.count, bf, bn, reps, bf / bn))
        }
        print(String(format: "bench-seamless: all %d windows: former %.1f ms, new %.1f ms per window, %.1fx",
                     windows.count, totalFormer / Double(windows.count), totalNew / Double(windows.count), totalFormer / totalNew))
    }
}
