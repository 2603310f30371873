/// Histogram signatures in memory, and the summed Bhattacharyya distance that hist sorts, `similar` and `duplicates`
/// use.
import Foundation
import FacetStore
import FacetCore
import COpenBLAS

/// The histogram distance users know from DeepFaceLab: OpenCV's HISTCMP_BHATTACHARYYA per channel,
/// `sqrt(max(0, 1 - sum_k sqrt(h1[k] h2[k]) / sqrt(sum h1 * sum h2)))`, summed over R, G and B.
/// 0 for identical histograms, 3 for disjoint ones. Computed in double, bins in order: the exact
/// value every fast path is checked against. Cost: 768 multiply-adds and square roots.
@inlinable
public func histogramDistance(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Double {
    var total = 0.0
    for c in 0..<3 {
        var bc = 0.0, s1 = 0.0, s2 = 0.0
        for k in (c * 256)..<(c * 256 + 256) {
            let x = Double(a[k]), y = Double(b[k])
            bc += (x * y).squareRoot(); s1 += x; s2 += y
        }
        let s = s1 * s2
        let norm = abs(s) > Double(Float.ulpOfOne) ? 1 / s.squareRoot() : 1
        total += max(1 - bc * norm, 0).squareRoot()
    }
    return total
}

/// `histogramDistance` over two 768-float arrays.
public func histogramDistance(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == 768 && b.count == 768, "a histogram signature has 3 x 256 bins")
    return a.withUnsafeBufferPointer {
        pa in b.withUnsafeBufferPointer { pb in histogramDistance(pa.baseAddress!, pb.baseAddress!) }
    }
}

/// The histograms of a set of faces, contiguous, with `sqrt(h / sum h)` per channel precomputed so
/// that the Bhattacharyya coefficients of many pairs are one matrix product (BLAS).
public struct HistogramMatrix: @unchecked Sendable {
    /// Bins per histogram signature: 256 per channel, R, G, B.
    public static let bins = 768
    /// Face ids, row by row.
    public let ids: [Int64]
    /// The stored histograms, n x 768 float32: the exact distance reads these.
    let raw: [Float]
    /// `sqrt(h[k] / sum of h's channel)`, n x 768 float64: the Gram products read these.
    let roots: [Double]

    /// How many faces (rows).
    public var count: Int { ids.count }

    /// Builds the matrix from histograms given row by row (768 floats each).
    public init(ids: [Int64], histograms: [Float]) {
        precondition(histograms.count == ids.count * Self.bins,
                     "\(ids.count) faces need \(ids.count * Self.bins) histogram bins")
        self.ids = ids
        self.raw = histograms
        var roots = [Double](repeating: 0, count: histograms.count)
        histograms.withUnsafeBufferPointer { h in
            roots.withUnsafeMutableBufferPointer { r in
                for row in 0..<ids.count {
                    for c in 0..<3 {
                        let o = row * 768 + c * 256
                        var s = 0.0
                        for k in o..<(o + 256) { s += Double(h[k]) }
                        guard s > 0 else { continue }
                        let inv = 1 / s
                        for k in o..<(o + 256) { r[k] = (Double(h[k]) * inv).squareRoot() }
                    }
                }
            }
        }
        self.roots = roots
    }

    /// The exact distance between rows `i` and `j`.
    public func distance(_ i: Int, _ j: Int) -> Double {
        raw.withUnsafeBufferPointer { h in histogramDistance(h.baseAddress! + i * 768, h.baseAddress! + j * 768) }
    }

    /// The histogram of row `i`.
    public func histogram(_ i: Int) -> [Float] { Array(raw[(i * 768)..<(i * 768 + 768)]) }

    /// Calls `body(rowStart, colStart, rows, cols, d)` for blocks of the distance matrix covering every
    /// pair (i, j) with j >= i (the upper triangle, diagonal included; pairs of two rows inside one
    /// block appear both ways), where `d[r * cols + c]` is the
    /// distance of rows `rowStart + r` and `colStart + c`, computed from BLAS Gram products (error
    /// about 1e-12). Cost: 3 dgemm of 256-deep products over n^2 / 2 pairs, ~n^2 * 768 flops.
    func forEachDistanceBlock(blockRows: Int = 256, _ body: (Int, Int, Int, Int, UnsafeBufferPointer<Double>) -> Void) {
        let n = count
        guard n > 0 else { return }
        var bc = [Double](repeating: 0, count: 3 * blockRows * n)
        var d = [Double](repeating: 0, count: blockRows * n)
        roots.withUnsafeBufferPointer { q in
            bc.withUnsafeMutableBufferPointer { bcp in
                d.withUnsafeMutableBufferPointer { dp in
                    var r0 = 0
                    while r0 < n {
                        let rows = min(blockRows, n - r0), cols = n - r0
                        for c in 0..<3 {
                            let a = q.baseAddress! + r0 * 768 + c * 256
                            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(cols), 256,
                                        1, a, 768, a, 768, 0, bcp.baseAddress! + c * rows * cols, Int32(cols))
                        }
                        let plane = rows * cols
                        let b0 = bcp.baseAddress!, out = dp.baseAddress!
                        // Per-channel distances, summed: the square roots are why this is not one GEMM.
                        concurrentChunks(plane, grain: 65_536) { range in
                            for k in range {
                                out[k] = max(1 - b0[k], 0).squareRoot() + max(1 - b0[plane + k], 0).squareRoot()
                                    + max(1 - b0[2 * plane + k], 0).squareRoot()
                            }
                        }
                        body(r0, r0, rows, cols, UnsafeBufferPointer(start: out, count: plane))
                        r0 += rows
                    }
                }
            }
        }
    }
}

/// Runs `body` over `0..<count` in one contiguous chunk per core (on the calling thread when small).
func concurrentChunks(_ count: Int, grain: Int, _ body: (Range<Int>) -> Void) {
    let workers = min(ProcessInfo.processInfo.activeProcessorCount, max(1, count / max(grain, 1)))
    if workers <= 1 {
        if count > 0 { body(0..<count) }
        return
    }
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: workers) { t in
            box.value((count * t / workers)..<(count * (t + 1) / workers))
        }
    }
}

/// Hands a closure to Dispatch workers that write disjoint ranges.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

extension Project {
    /// The histogram signatures of `faceIDs`, in that order, as one matrix. A face without a stored
    /// histogram is an error naming it.
    public func histogramMatrix(faceIDs: [Int64]) throws -> HistogramMatrix {
        HistogramMatrix(ids: faceIDs, histograms: try histogramRows(faceIDs: faceIDs))
    }
}
