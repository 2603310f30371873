/// `similar` (nearest faces by histogram distance) over an in-memory index, and `duplicates` (near-identical faces).
import Foundation
import FacetStore
import FacetCore
import COpenBLAS

/// One face and its distance to a reference face: colour histograms (summed Bhattacharyya, 0...3) or identity
/// descriptors (Euclidean, 0.6 = same person), as the query that made it says.
public struct FaceDistance: Codable, Sendable, Equatable {
    /// The face.
    public var id: Int64
    /// Its distance to the reference face, smaller is nearer (histogram or descriptor distance: see the query).
    public var distance: Double
    /// A face and its distance.
    public init(id: Int64, distance: Double) { self.id = id; self.distance = distance }
}

/// The histograms of many faces, held to answer nearest-neighbour questions quickly: the gallery
/// keeps one; the CLI builds one per command. Memory: 3.8 KiB per face (380 MB at 100,000 faces).
public final class SimilarityIndex: @unchecked Sendable {
    /// Face ids, row by row.
    public let ids: [Int64]
    /// The stored histograms (the exact distance reads these).
    let raw: [Float]
    /// Coarse square-root histograms, `sqrt(sum of 4 bins / channel sum)`, 3 x 64 float32 per face:
    /// three sgemv give every face a lower bound of its distance (see `nearest`).
    let coarse: [Float]
    /// Faces whose histograms the bounds do not cover (see `BoundedHistogramChain`): always rescored.
    let irregular: [Int]
    private let row: [Int64: Int]

    static let group = 4
    static let coarseBins = 256 / group
    /// Slack on each float32 coefficient of the coarse sgemv (64-term dot products, see `BoundedHistogramChain.delta`).
    static let delta: Float = 2e-5

    /// How many faces the index holds.
    public var count: Int { ids.count }

    /// An index over `histograms` given row by row (768 floats per face id).
    public init(ids: [Int64], histograms: [Float]) {
        precondition(histograms.count == ids.count * 768, "\(ids.count) faces need \(ids.count * 768) histogram bins")
        self.ids = ids
        self.raw = histograms
        let n = ids.count, kb = Self.coarseBins
        var coarse = [Float](repeating: 0, count: n * 3 * kb)
        var regular = [Bool](repeating: true, count: n)
        histograms.withUnsafeBufferPointer { h in
            coarse.withUnsafeMutableBufferPointer { r in
                regular.withUnsafeMutableBufferPointer { ok in
                    let hb = UncheckedBox(h.baseAddress), rb = UncheckedBox(r.baseAddress),
                        okb = UncheckedBox(ok.baseAddress)
                    concurrentChunks(n, grain: 2048) { rows in
                        for i in rows { okb.value![i] = Self.fillCoarse(hb.value! + i * 768, rb.value! + i * 3 * kb) }
                    }
                }
            }
        }
        self.coarse = coarse
        self.irregular = regular.indices.filter { !regular[$0] }
        var row: [Int64: Int] = [:]
        row.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() { row[id] = i }
        self.row = row
    }

    /// The coarse roots of one histogram; false when it is irregular (a negative or non-finite bin,
    /// or a channel summing to less than 1e-3 but not 0).
    static func fillCoarse(_ h: UnsafePointer<Float>, _ r: UnsafeMutablePointer<Float>) -> Bool {
        var ok = true
        for c in 0..<3 {
            let (inv, regular) = HistogramRoots.channelScale(h, channel: c)
            if !regular { ok = false }
            HistogramRoots.fillCoarse(h, channel: c, group: group, scale: inv, into: r)
        }
        return ok
    }

    /// The stored histogram of face `id`, if indexed.
    public func histogram(of id: Int64) -> [Float]? {
        guard let i = row[id] else { return nil }
        return Array(raw[(i * 768)..<(i * 768 + 768)])
    }

    /// The `k` indexed faces nearest to `histogram` (exact distances, nearest first, ties by id),
    /// leaving out `excluding`. Cost: 3 sgemv over the coarse roots (n x 192 multiply-adds) give a
    /// lower bound of every face's distance (merging bins can only raise a Bhattacharyya coefficient,
    /// Cauchy-Schwarz); the exact distances of the 2k faces with the smallest bounds give a distance
    /// T that the k nearest cannot exceed; then only faces whose bound is at most T are scored exactly.
    public func nearest(to histogram: [Float], k: Int, excluding: Int64? = nil) -> [FaceDistance] {
        precondition(histogram.count == 768, "a histogram signature has 3 x 256 bins")
        let n = count, kb = Self.coarseBins
        guard n > 0, k > 0 else { return [] }
        var q = [Float](repeating: 0, count: 3 * kb)
        let queryRegular = histogram.withUnsafeBufferPointer {
            h in q.withUnsafeMutableBufferPointer { Self.fillCoarse(h.baseAddress!, $0.baseAddress!) }
        }
        var bc = [Float](repeating: 0, count: 3 * n)
        coarse.withUnsafeBufferPointer { r in
            q.withUnsafeBufferPointer { v in
                bc.withUnsafeMutableBufferPointer { o in
                    for c in 0..<3 {
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(kb), 1, r.baseAddress! + c * kb,
                                    Int32(3 * kb),
                                    v.baseAddress! + c * kb, 1, 0, o.baseAddress! + c * n, 1)
                    }
                }
            }
        }
        var lower = [Float](repeating: 0, count: n)
        if queryRegular {
            let top = 1 - Self.delta
            bc.withUnsafeBufferPointer { b in
                lower.withUnsafeMutableBufferPointer { l in
                    for i in 0..<n {
                        let x0 = top - b[i], x1 = top - b[n + i], x2 = top - b[2 * n + i]
                        l[i] = ((x0 > 0 ? x0 : 0).squareRoot() + (x1 > 0 ? x1 : 0).squareRoot()
                                + (x2 > 0 ? x2 : 0).squareRoot()) * (1 - 4 * Float.ulpOfOne)
                    }
                }
            }
            for i in irregular { lower[i] = 0 }
        }
        let skip = excluding.flatMap { row[$0] } ?? -1
        if skip >= 0 { lower[skip] = .infinity }
        let available = n - (skip >= 0 ? 1 : 0)
        let kk = min(k, available)
        guard kk > 0 else { return [] }
        var scored: [Int: Double] = [:]
        func exact(_ i: Int) -> Double {
            if let d = scored[i] { return d }
            let d = raw.withUnsafeBufferPointer {
                h in histogram.withUnsafeBufferPointer { histogramDistance($0.baseAddress!, h.baseAddress! + i * 768) }
            }
            scored[i] = d
            return d
        }
        // T: the k-th smallest exact distance among the faces with the smallest bounds.
        let probe = min(available, max(2 * kk, kk + 8))
        var bounds = lower
        let probeCut = kthSmallest(&bounds, probe)
        var probed: [Double] = []
        for i in 0..<n where lower[i] <= probeCut && i != skip { probed.append(exact(i)) }
        probed.sort()
        let t = probed[kk - 1]
        var found: [FaceDistance] = []
        for i in 0..<n where i != skip && Double(lower[i]) <= t {
            found.append(FaceDistance(id: ids[i], distance: exact(i)))
        }
        found.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.id < $1.id }
        return Array(found.prefix(kk))
    }

}

/// A set of near-identical faces: the sharpest is kept, the others are its duplicates.
public struct DuplicateGroup: Codable, Sendable, Equatable {
    /// The face kept (the sharpest), and its duplicates with their distance to it, nearest first.
    public var keep: Int64
    /// The duplicates, each with its distance to `keep`, nearest first.
    public var duplicates: [FaceDistance]
}

extension Project {
    /// An index over the histograms of the faces matching `query`.
    public func similarityIndex(matching query: FaceQuery) throws -> SimilarityIndex {
        var q = query
        q.sort = []; q.limit = nil; q.offset = 0
        let ids = try faceIDs(matching: q)
        return SimilarityIndex(ids: ids, histograms: try histogramRows(faceIDs: ids))
    }

    /// The `k` faces (of `role`, every status; all roles when nil) nearest to face `id` by histogram
    /// distance, nearest first. An unknown id is an error naming it.
    public func similarFaces(to id: Int64, k: Int, role: Role?) throws -> [FaceDistance] {
        _ = try face(id: id)
        let index = try similarityIndex(matching: FaceQuery(role: role))
        let h = try index.histogram(of: id) ?? histogramRows(faceIDs: [id])
        return index.nearest(to: h, k: k, excluding: id)
    }

    /// Near-identical faces among those matching `query`: walking faces sharpest first, a face within
    /// `threshold` (summed Bhattacharyya distance) of a face already kept is a duplicate of the nearest
    /// such face; otherwise it is kept. Groups by kept face id; only groups with duplicates.
    /// Cost: every pair's distance (at most `maxPairwiseFaces` faces).
    public func duplicateGroups(matching query: FaceQuery, threshold: Double) throws -> [DuplicateGroup] {
        var q = query
        q.sort = [FaceSort(.blur, descending: true)]; q.limit = nil; q.offset = 0
        let ids = try faceIDs(matching: q)
        guard ids.count <= maxPairwiseFaces else {
            throw FacetError.file(path,
                                  "duplicates compares every pair of faces and handles at most \(maxPairwiseFaces) at "
                                  + "once; \(ids.count) match: narrow them with --role or --where")
        }
        let m = try histogramMatrix(faceIDs: ids)
        // Pairs under the threshold (with slack for the BLAS rounding, then checked exactly).
        var neighbours = [[(Int, Double)]](repeating: [], count: m.count)
        m.forEachDistanceBlock { r0, c0, rows, cols, block in
            for r in 0..<rows {
                let i = r0 + r
                let src = block.baseAddress! + r * cols
                for c in 0..<cols where c0 + c > i && src[c] < threshold + 1e-6 {
                    let j = c0 + c
                    let d = m.distance(i, j)
                    if d < threshold { neighbours[i].append((j, d)); neighbours[j].append((i, d)) }
                }
            }
        }
        var keeper = [Int](repeating: -1, count: m.count)   // -1: kept; else the row it duplicates
        var distanceToKeeper = [Double](repeating: 0, count: m.count)
        var isKept = [Bool](repeating: false, count: m.count)
        for i in 0..<m.count {   // rows are sharpest first
            var best = -1, bestD = Double.infinity
            for (j, d) in neighbours[i] where isKept[j] && (d < bestD || (d == bestD && j < best)) {
                best = j
                bestD = d
            }
            if best >= 0 { keeper[i] = best; distanceToKeeper[i] = bestD } else { isKept[i] = true }
        }
        var groups: [Int: [FaceDistance]] = [:]
        for i in 0..<m.count where keeper[i] >= 0 {
            groups[keeper[i], default: []].append(FaceDistance(id: m.ids[i], distance: distanceToKeeper[i]))
        }
        return groups.map {
            DuplicateGroup(keep: m.ids[$0.key], duplicates: $0.value.sorted {
                $0.distance != $1.distance ? $0.distance < $1.distance : $0.id < $1.id
            })
        }
            .sorted { $0.keep < $1.keep }
    }
}
