/// Spreading FacetNN's element-wise work over the cores, and keeping OpenBLAS's threads in step.
import Dispatch
import COpenBLAS

/// Thread settings of the engine. Every parallel pass, GEMMs included, runs on `threads` Dispatch
/// workers; OpenBLAS itself is kept single-threaded (see `gemm`), so no idle thread spins.
public enum Engine {
    /// Number of workers: the core count, fixed at first use (OpenBLAS is set to one thread then).
    public static let threads: Int = {
        let n = max(1, Int(openblas_get_num_procs()))
        openblas_set_num_threads(1)
        return n
    }()
    /// The kernel family OpenBLAS chose at load time (`Haswell`, `SkylakeX`, ...).
    public static var blasCoreName: String { String(cString: openblas_get_corename()) }

    /// A one-line warning when OpenBLAS fell back to its generic SSE3 kernels (`Prescott`): its
    /// CPU detection (0.3.21) does not know recent Xeons, and sgemm then runs about 3x slower.
    /// The fix is to set `OPENBLAS_CORETYPE` (`SkylakeX` with AVX-512, `Haswell` with AVX2) in
    /// the environment before the process starts; OpenBLAS reads it only at load time.
    public static var blasKernelWarning: String? {
        guard blasCoreName.lowercased() == "prescott" else { return nil }
        return "OpenBLAS is using its generic Prescott kernels (sgemm about 3x slower); set OPENBLAS_CORETYPE=SkylakeX "
               + "(AVX-512) or Haswell (AVX2) before starting"
    }
}

/// Runs `body` over `0..<count` split into one contiguous chunk per worker; small jobs (fewer
/// than `grain` items per worker) run on the calling thread, where waking workers costs more
/// than it saves.
@inline(__always)
func parallelRanges(_ count: Int, grain: Int = 16_384, _ body: (Range<Int>) -> Void) {
    let workers = min(Engine.threads, count / max(grain, 1))
    if workers <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        // The chunks are disjoint by construction; the box only tells the compiler so.
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: workers) { t in
            box.value((count * t / workers)..<(count * (t + 1) / workers))
        }
    }
}

/// Runs `body(i)` for every `i` in `0..<count` spread over the workers (each call must be
/// independent of the others).
@inline(__always)
func parallelFor(_ count: Int, _ body: (Int) -> Void) {
    if count <= 1 || Engine.threads == 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedSendable(body)
        DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
    }
}

/// Carries a closure whose captures (raw buffer pointers) the caller guarantees are used without
/// data races into `concurrentPerform`.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
