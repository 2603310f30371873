/// The bounded `hist` chain (float32 bounds, exact distances only for near-ties) against the naive definition,
/// on real histograms with exact copies (ties), near-copies (bounds that overlap) and odd channels.
import XCTest
import FacetCore
@testable import FacetStore
@testable import FacetCurate

final class HistChainTests: CurateTestCase {
    /// DeepFaceLab's sort_by_hist over row indices, with the test's own distance.
    static func naiveChain(_ rows: [[Float]]) -> [Int] {
        var list = Array(rows.indices)
        for i in 0..<max(0, list.count - 1) {
            var minScore = Double.infinity, jMin = i + 1
            for j in (i + 1)..<list.count {
                let s = CurationSortTests.naiveDistance(rows[list[i]], rows[list[j]])
                if s < minScore { minScore = s; jMin = j }
            }
            list.swapAt(i + 1, jMin)
        }
        return list
    }

    static func bounded(_ rows: [[Float]], _ stats: inout BoundedHistogramChain.Stats) -> [Int]? {
        let flat = rows.flatMap { $0 }
        return flat.withUnsafeBufferPointer { BoundedHistogramChain.order($0.baseAddress!, count: rows.count, stats: &stats) }
    }

    /// Real histograms of faces cut from the sample videos, then: exact copies of some (equal
    /// distances: the earlier position must win), copies with one bin moved by a few parts per
    /// million (closer than the float32 bounds can tell apart), a face with an empty channel, and
    /// unnormalised counts (sum 16,384 per channel) of real faces.
    func testBoundedChainEqualsTheDefinitionWithTiesAndNearTies() throws {
        let p = try projectWithRealFaces(src: 400, dst: 60)
        let ids = try p.faceIDs(matching: FaceQuery())
        let hist = try p.histograms(faceIDs: ids)
        var rows = ids.map { hist[$0]! }
        let real = rows.count
        for k in stride(from: 0, to: 120, by: 4) { rows.insert(rows[k * 3 % real], at: (k * 37) % rows.count) }
        for k in 0..<40 {
            var h = rows[(k * 11) % real]
            let bin = 40 + k, moved = h[bin] * 3e-6 + 1e-7
            h[bin] += moved; h[bin + 1] = max(0, h[bin + 1] - moved)
            rows.insert(h, at: (k * 53) % rows.count)
        }
        var empty = rows[5]
        for i in 512..<768 { empty[i] = 0 }
        rows.append(empty)
        rows.append(empty)
        for k in 0..<20 { rows.append(rows[k * 7].map { ($0 * 16_384).rounded() }) }

        var stats = BoundedHistogramChain.Stats()
        let got = try XCTUnwrap(Self.bounded(rows, &stats))
        let expected = Self.naiveChain(rows)
        XCTAssertEqual(got, expected)
        XCTAssertEqual(Set(got).count, rows.count)
        // Every stage decided some steps: the coarse bound most of them, the exact distance the ties.
        XCTAssertEqual(stats.byCoarseBound + stats.byFineBound + stats.byExactDistance, rows.count - 1)
        XCTAssertGreaterThan(stats.byCoarseBound, rows.count / 4, "\(stats)")
        XCTAssertGreaterThan(stats.byFineBound, 0, "\(stats)")
        XCTAssertGreaterThanOrEqual(stats.byExactDistance, 10, "\(stats)")
    }

    /// Blocks of the bound matrix are 256 rows: sizes around the block edges, and tiny inputs.
    func testBoundedChainAtBlockEdges() throws {
        let p = try projectWithRealFaces(src: 400, dst: 60)
        let ids = try p.faceIDs(matching: FaceQuery())
        let hist = try p.histograms(faceIDs: ids)
        let all = ids.map { hist[$0]! }
        for n in [1, 2, 3, 9, 255, 256, 257, 460] {
            let rows = Array(all.prefix(n))
            var stats = BoundedHistogramChain.Stats()
            XCTAssertEqual(try XCTUnwrap(Self.bounded(rows, &stats)), Self.naiveChain(rows), "n = \(n)")
        }
    }

    /// Histograms the bounds do not cover (a channel summing to almost nothing, a negative bin, NaN)
    /// are refused, and the double-precision chain still follows the definition for the first.
    func testIrregularHistogramsTakeTheDoublePrecisionChain() throws {
        let p = try projectWithRealFaces(src: 200)
        let ids = try p.faceIDs(matching: FaceQuery())
        let hist = try p.histograms(faceIDs: ids)
        let base = ids.map { hist[$0]! }
        var negative = base[3]; negative[10] = -0.01
        var faint = base[4]; for i in 0..<256 { faint[i] *= 1e-5 }
        var nan = base[5]; nan[300] = .nan
        var rows = base
        rows.insert(faint, at: 50)
        var stats = BoundedHistogramChain.Stats()
        XCTAssertNil(Self.bounded(rows, &stats))
        let m = HistogramMatrix(ids: rows.indices.map { Int64($0) }, histograms: rows.flatMap { $0 })
        XCTAssertEqual(HistogramChain.order(m), Self.naiveChain(rows))
        // Garbage the definition itself cannot score (it gives NaN) is refused too.
        XCTAssertNil(Self.bounded(base + [negative], &stats))
        XCTAssertNil(Self.bounded(base + [nan], &stats))
    }

    /// `similar`'s index (coarse lower bounds, then exact distances) against a brute-force ranking, with
    /// exact copies (ties go to the smaller id) and an irregular histogram among the faces and as a query.
    func testSimilarityIndexEqualsBruteForceWithTiesAndIrregularFaces() throws {
        let p = try projectWithRealFaces(src: 400, dst: 60)
        let ids = try p.faceIDs(matching: FaceQuery())
        let hist = try p.histograms(faceIDs: ids)
        var rows = ids.map { hist[$0]! }
        for k in 0..<20 { rows.append(rows[k * 9]) }
        var faint = rows[7]; for i in 256..<512 { faint[i] *= 1e-5 }
        rows.append(faint)
        let rowIDs = rows.indices.map { Int64($0 + 1) }
        let index = SimilarityIndex(ids: rowIDs, histograms: rows.flatMap { $0 })
        for (q, k) in [(0, 7), (9, 12), (200, 20), (rows.count - 1, 5), (459, 1), (3, 500)] {
            let got = index.nearest(to: rows[q], k: k, excluding: rowIDs[q])
            let all = rows.indices.filter { $0 != q }.map { FaceDistance(id: rowIDs[$0], distance: CurationSortTests.naiveDistance(rows[q], rows[$0])) }
            let expected = Array(all.sorted { $0.distance != $1.distance ? $0.distance < $1.distance : $0.id < $1.id }.prefix(k))
            XCTAssertEqual(got.map(\.id), expected.map(\.id), "query \(q)")
            for (g, e) in zip(got, expected) { XCTAssertEqual(g.distance, e.distance, accuracy: 1e-12) }
        }
        // The copy of row 0 is at distance 0 from it, ahead of everything else.
        XCTAssertEqual(index.nearest(to: rows[0], k: 1, excluding: rowIDs[0]).first?.id, rowIDs[400 + 60])
    }
}
