/// Matrix products on both cores: single-threaded OpenBLAS calls, one per worker.
import COpenBLAS

/// `C = alpha op(A) op(B) + beta C` (row-major), like `cblas_sgemm`, split into one block of
/// rows (or columns, whichever is longer) per worker.
///
/// Why not OpenBLAS's own threads: between GEMMs its idle threads spin in `sched_yield` and
/// fight the element-wise passes for the two cores (about a tenth of a training step went there).
/// With OpenBLAS single-threaded and every parallel pass on the same Dispatch workers, no thread
/// ever waits busily.
func gemm(_ ta: CBLAS_TRANSPOSE, _ tb: CBLAS_TRANSPOSE, _ m: Int32, _ n: Int32, _ k: Int32, _ alpha: Float,
          _ a: UnsafePointer<Float>, _ lda: Int32, _ b: UnsafePointer<Float>, _ ldb: Int32, _ beta: Float,
          _ c: UnsafeMutablePointer<Float>, _ ldc: Int32) {
    let workers = Engine.threads
    let (mm, nn) = (Int(m), Int(n))
    let flops = 2 * mm * nn * Int(k)
    if workers <= 1 || flops < 4_000_000 || max(mm, nn) < 32 * workers {
        cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    // Blocks are multiples of 16 rows/columns, the width of OpenBLAS's micro-kernels.
    func bounds(_ total: Int, _ t: Int) -> (Int, Int) {
        let units = (total + 15) / 16
        return (min(total, units * t / workers * 16), min(total, units * (t + 1) / workers * 16))
    }
    if mm >= nn {
        parallelFor(workers) { t in
            let (lo, hi) = bounds(mm, t)
            if hi <= lo { return }
            // Rows lo..<hi of op(A): rows of A, or columns of A when transposed.
            let aBlock = ta == CblasNoTrans ? a + lo * Int(lda) : a + lo
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(hi - lo), n, k, alpha, aBlock, lda, b, ldb, beta,
                        c + lo * Int(ldc), ldc)
        }
    } else {
        parallelFor(workers) { t in
            let (lo, hi) = bounds(nn, t)
            if hi <= lo { return }
            // Columns lo..<hi of op(B): columns of B, or rows of B when transposed.
            let bBlock = tb == CblasNoTrans ? b + lo : b + lo * Int(ldb)
            cblas_sgemm(CblasRowMajor, ta, tb, m, Int32(hi - lo), k, alpha, a, lda, bBlock, ldb, beta, c + lo, ldc)
        }
    }
}
