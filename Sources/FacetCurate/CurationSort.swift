/// Curation sorts: orders of faces from stored signatures (never a rescan of images), and saved orderings.
import Foundation
import FacetCore
import FacetStore

/// How to order faces for curation. A sort is only an order: it never renames or moves anything.
public enum CurationSort: Sendable, Equatable, CustomStringConvertible {
    /// A stored signature column, ascending or descending (`blur`, `-yaw`, ...).
    case column(FaceSort)
    /// DeepFaceLab's greedy histogram chain: from the first face, repeatedly the unvisited face with
    /// the smallest summed Bhattacharyya distance. `reversed` lists the chain from its end.
    case hist(reversed: Bool)
    /// Faces most unlike the rest first (sum of distances to every other face, descending);
    /// `reversed`: most typical first.
    case histDissim(reversed: Bool)
    /// Keep `count` faces spread over yaw and pitch, sharpest first, then most varied by histogram.
    case best(Int)
    /// A saved ordering by name (faces not in it, or not matching the filter, are left out).
    case ordering(String)
    /// Faces grouped by person (`facet people`), largest person first, each person's faces by
    /// descriptor distance to its centre, most typical first (faceswap's `face` sort).
    /// `reversed`: each person's least typical faces first, persons in the same order.
    case identity(reversed: Bool)

    /// The words users type: the column names of `FaceField`, `hist`, `hist_dissim`, `best:N`
    /// (or `best=N`, `best N`), `ordering:NAME`; a leading `-` reverses.
    public static let help = "blur, motion_blur, yaw, pitch, roll, face_size, brightness, hue, score, ... "
                             + "(any face column), hist, hist_dissim, identity, best:N, ordering:NAME; "
                               + "prefix - to reverse"

    /// The sort a user typed (see `help`), nil for words that name none.
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        let lower = t.lowercased()
        for prefix in ["best:", "best=", "best "] where lower.hasPrefix(prefix) {
            guard let n = Int(t.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)), n > 0 else { return nil }
            self = .best(n); return
        }
        for prefix in ["ordering:", "ordering="] where lower.hasPrefix(prefix) {
            let name = String(t.dropFirst(prefix.count))
            guard !name.isEmpty else { return nil }
            self = .ordering(name); return
        }
        let reversed = t.hasPrefix("-")
        let word = (reversed ? String(t.dropFirst()) : t).replacingOccurrences(of: "-", with: "_").lowercased()
        switch word {
        case "hist": self = .hist(reversed: reversed)
        case "hist_dissim": self = .histDissim(reversed: reversed)
        case "identity", "face", "person": self = .identity(reversed: reversed)
        default:
            guard let s = FaceSort(parsing: t) else { return nil }
            self = .column(s)
        }
    }

    /// The spec as it parses back (stored with a saved ordering).
    public var description: String {
        switch self {
        case .column(let s): return (s.descending ? "-" : "") + s.field.rawValue
        case .hist(let r): return (r ? "-" : "") + "hist"
        case .histDissim(let r): return (r ? "-" : "") + "hist_dissim"
        case .best(let n): return "best:\(n)"
        case .ordering(let name): return "ordering:\(name)"
        case .identity(let r): return (r ? "-" : "") + "identity"
        }
    }
}

/// Sorts that compute every pairwise distance hold n^2 floats: beyond this many faces they refuse
/// rather than exhaust memory.
public let maxPairwiseFaces = 20_000

extension Project {
    /// Ids of the faces matching `query`, in the order of `sort`. Column sorts are one indexed query
    /// (O(n log n) at worst, O(n) with the column's index). `hist` reads the stored histograms and
    /// bounds all n^2 / 2 distances with float32 BLAS, computing exact distances only where the bounds
    /// cannot decide (`BoundedHistogramChain`; histograms it cannot bound take the double-precision
    /// `HistogramChain`); `hist_dissim` computes all n^2 / 2 distances with double BLAS;
    /// `best:N` reads signatures and histograms of the faces matching `query`.
    /// `query.sort`, `limit` and `offset` are ignored for the order; `limit` caps the result.
    public func sortedFaceIDs(matching query: FaceQuery, by sort: CurationSort) throws -> [Int64] {
        var q = query
        let limit = q.limit
        q.limit = nil; q.offset = 0
        var ids: [Int64]
        switch sort {
        case .column(let s):
            q.sort = [s]
            q.limit = limit
            return try faceIDs(matching: q)
        case .hist(let reversed):
            q.sort = []
            let selected = try pairwiseSelection(q, sort)
            let histograms = try histogramRows(faceIDs: selected)
            let order = histograms.withUnsafeBufferPointer {
                b in b.baseAddress.flatMap { BoundedHistogramChain.order($0, count: selected.count) }
            }
                ?? HistogramChain.order(HistogramMatrix(ids: selected, histograms: histograms))
            ids = order.map { selected[$0] }
            if reversed { ids.reverse() }
        case .histDissim(let reversed):
            q.sort = []
            let m = try histogramMatrix(faceIDs: try pairwiseSelection(q, sort))
            let scores = HistogramChain.dissimilarity(m)
            let idx = (0..<m.count).sorted { (a: Int, b: Int) -> Bool in
                let sa: Double = scores[a], sb: Double = scores[b]
                if sa == sb { return m.ids[a] < m.ids[b] }
                return reversed ? sa < sb : sa > sb
            }
            ids = idx.map { m.ids[$0] }
        case .best(let n):
            q.sort = []
            ids = try bestFaceIDs(matching: q, count: n)
        case .identity(let reversed):
            q.sort = []
            ids = try identityOrder(matching: q, reversed: reversed)
        case .ordering(let name):
            let order = try orderingFaceIDs(name: name)
            q.sort = []
            let matching = Set(try faceIDs(matching: q))
            ids = order.filter { matching.contains($0) }
        }
        if let l = limit, ids.count > l { ids = Array(ids.prefix(max(0, l))) }
        return ids
    }

    /// `identity`: the faces' stored persons and descriptors; each face's distance to its person's
    /// stored centre. Persons by face count (in the selection) descending, ties by id. Faces without a
    /// descriptor or a person are an error naming the command that fills them. Cost: one read of the
    /// selection's descriptors with their persons, n x 128 multiply-adds, one sort of n keys.
    func identityOrder(matching q: FaceQuery, reversed: Bool) throws -> [Int64] {
        let m = try requireEmbeddings(matching: q, withPersons: true)
        guard m.count > 0 else { return [] }
        let personOf = m.persons!
        let without = personOf.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        guard without == 0 else {
            throw FacetError.file(path,
                                  "\(without) of \(m.count) faces have no person yet (new since `facet people` ran, "
                                  + "or it never did): "
                                    + "run `facet people "
                                      + "\(path)\(q.role.map { " --role \($0.rawValue)" } ?? "")` first")
        }
        // Persons as small numbers, ranked by their faces in the selection (most first), then id.
        var slot: [Int64: Int] = [:]
        var personIds: [Int64] = []
        var rowSlot = [Int](repeating: 0, count: m.count)
        for (i, p) in personOf.enumerated() {
            if let s = slot[p] {
                rowSlot[i] = s
            } else {
                slot[p] = personIds.count; rowSlot[i] = personIds.count; personIds.append(p)
            }
        }
        var size = [Int](repeating: 0, count: personIds.count)
        for s in rowSlot { size[s] += 1 }
        var rank = [Int](repeating: 0, count: personIds.count)
        for (r, s) in personIds.indices.sorted(by: {
            size[$0] != size[$1] ? size[$0] > size[$1] : personIds[$0] < personIds[$1]
        }).enumerated() { rank[s] = r }
        let stored = Dictionary(uniqueKeysWithValues: try persons(role: q.role).map { ($0.id, $0.centre) })
        let d = FaceEmbedding.dimension
        var distance = [Double](repeating: 0, count: m.count)
        m.values.withUnsafeBufferPointer { v in
            // A person without a stored centre (deleted meanwhile) leaves its faces at distance 0.
            let centres = personIds.map { stored[$0] ?? [] }
            for i in 0..<m.count where centres[rowSlot[i]].count == d {
                distance[i] = centres[rowSlot[i]].withUnsafeBufferPointer {
                    FaceEmbedding.distance(v.baseAddress! + i * d, $0.baseAddress!)
                }
            }
        }
        let order = (0..<m.count).sorted { a, b in
            let ra = rank[rowSlot[a]], rb = rank[rowSlot[b]]
            if ra != rb { return ra < rb }
            if distance[a] != distance[b] { return reversed ? distance[a] > distance[b] : distance[a] < distance[b] }
            return reversed ? m.ids[a] > m.ids[b] : m.ids[a] < m.ids[b]
        }
        return order.map { m.ids[$0] }
    }

    private func pairwiseSelection(_ q: FaceQuery, _ sort: CurationSort) throws -> [Int64] {
        let ids = try faceIDs(matching: q)
        guard ids.count <= maxPairwiseFaces else {
            throw FacetError.file(path,
                                  "sort \(sort) compares every pair of faces and handles at most \(maxPairwiseFaces) "
                                  + "at once; \(ids.count) match: narrow them with --role, --where or --tag")
        }
        return ids
    }

    // MARK: best N

    /// `best:N`: faces sorted sharpest first are split into 128 yaw bins over -70..70 degrees (outside
    /// values go to the end bins); N is shared over the bins by water-filling (a bin with fewer faces
    /// than its share gives the rest to the others). Each bin keeps its sharpest 10 x share candidates,
    /// splits them into `share` pitch bins over -70..70 degrees, and takes faces round-robin over the
    /// pitch bins: the bin's sharpest face first, then in each pitch bin the candidate farthest (in
    /// histogram distance) from every face already taken in this yaw bin. Result: yaw bins in order,
    /// faces in the order taken.
    func bestFaceIDs(matching q: FaceQuery, count target: Int) throws -> [Int64] {
        var sq = q
        sq.sort = [FaceSort(.blur, descending: true)]
        let faces = try self.faces(matching: sq)
        guard !faces.isEmpty, target > 0 else { return [] }
        let plan = BestSelection.plan(blur: faces.map(\.blur), yaw: faces.map(\.yaw), pitch: faces.map(\.pitch),
                                      target: target)
        // Histograms only of the candidates the plan keeps.
        let candidateRows = plan.candidates.flatMap { $0 }
        let m = try histogramMatrix(faceIDs: candidateRows.map { faces[$0].id })
        var rowOf: [Int: Int] = [:]
        for (r, f) in candidateRows.enumerated() { rowOf[f] = r }
        let picked = BestSelection.pick(plan: plan, pitch: faces.map(\.pitch)) {
            a, b in m.distance(rowOf[a]!, rowOf[b]!)
        }
        return picked.map { faces[$0].id }
    }

    /// Saves `faceIDs` in order under `name` with the spec of `sort` (replacing an ordering of that name).
    @discardableResult
    public func saveOrdering(name: String, role: Role?, sort: CurationSort, faceIDs: [Int64]) throws -> Int64 {
        try saveOrdering(name: name, role: role, sortSpec: sort.description, faceIDs: faceIDs)
    }
}

/// The greedy histogram chain and the dissimilarity score, over a `HistogramMatrix`.
enum HistogramChain {
    /// Float32 distances are within 1e-6 of the exact ones (double Gram products, then one rounding);
    /// candidates this close to the minimum are rescored exactly.
    static let margin: Float = 2e-6

    /// Row indices in chain order. Same order as DeepFaceLab's definition, step by step:
    /// `for i in 0..<n-1: j* = first argmin over positions j > i of d(list[i], list[j]); swap(list[i+1], list[j*])`,
    /// with d the exact `histogramDistance`: ties go to the earlier position, as its strict `<` does.
    /// Cost: the n^2 / 2 distances by BLAS, then n^2 / 2 float reads.
    static func order(_ m: HistogramMatrix) -> [Int] {
        let n = m.count
        guard n > 2 else { return Array(0..<n) }
        // The full symmetric matrix in float32: row `cur` is read contiguously at each step.
        var d = [Float](repeating: 0, count: n * n)
        d.withUnsafeMutableBufferPointer { dp in
            let base = dp.baseAddress!
            m.forEachDistanceBlock { r0, c0, rows, cols, block in
                for r in 0..<rows {
                    let i = r0 + r
                    let src = block.baseAddress! + r * cols
                    for c in 0..<cols {
                        let v = Float(src[c])
                        base[i * n + c0 + c] = v
                        base[(c0 + c) * n + i] = v
                    }
                }
            }
        }
        var perm = Array(0..<n)
        d.withUnsafeBufferPointer { dp in
            perm.withUnsafeMutableBufferPointer { pp in
                for i in 0..<(n - 1) {
                    let row = dp.baseAddress! + pp[i] * n
                    var best = Float.infinity, second = Float.infinity, bestPos = i + 1
                    for p in (i + 1)..<n {
                        let v = row[pp[p]]
                        if v < best { second = best; best = v; bestPos = p } else if v < second { second = v }
                    }
                    if second <= best + margin {
                        // Near-tie: decide among the close candidates with the exact distance.
                        var exactBest = Double.infinity
                        let limit = best + margin
                        for p in (i + 1)..<n where row[pp[p]] <= limit {
                            let e = m.distance(pp[i], pp[p])
                            if e < exactBest { exactBest = e; bestPos = p }
                        }
                    }
                    pp.swapAt(i + 1, bestPos)
                }
            }
        }
        return perm
    }

    /// For each row, the sum of its distances to every other row (double, from the BLAS blocks).
    static func dissimilarity(_ m: HistogramMatrix) -> [Double] {
        var sums = [Double](repeating: 0, count: m.count)
        m.forEachDistanceBlock { r0, c0, rows, cols, block in
            for r in 0..<rows {
                let i = r0 + r
                let src = block.baseAddress! + r * cols
                // The block holds both (i, j) and (j, i) for rows inside it: count each pair once.
                for c in 0..<cols where c0 + c > i {
                    sums[i] += src[c]
                    sums[c0 + c] += src[c]
                }
            }
        }
        return sums
    }
}

/// The `best:N` selection, apart from the store so its steps can be read (and tested) as written.
enum BestSelection {
    static let yawBins = 128
    static let range = 70.0

    struct Plan {
        /// Per yaw bin: how many faces it gives.
        var quota: [Int]
        /// Per yaw bin: candidate row indices, sharpest first (at most 10 x quota).
        var candidates: [[Int]]
    }

    static func bin(_ angle: Double, _ bins: Int) -> Int {
        guard angle.isFinite else { return bins / 2 }
        return min(bins - 1, max(0, Int(((angle + range) / (2 * range) * Double(bins)).rounded(.down))))
    }

    /// Rows are given sharpest first (the caller sorts by blur descending).
    static func plan(blur: [Double], yaw: [Double], pitch: [Double], target: Int) -> Plan {
        var members = [[Int]](repeating: [], count: yawBins)
        for i in yaw.indices { members[bin(yaw[i], yawBins)].append(i) }
        // Water-filling: one face at a time to every bin that still has faces, until N are shared.
        var quota = [Int](repeating: 0, count: yawBins)
        var left = min(target, yaw.count)
        while left > 0 {
            var gave = false
            for g in 0..<yawBins where left > 0 && quota[g] < members[g].count {
                quota[g] += 1; left -= 1; gave = true
            }
            if !gave { break }
        }
        let candidates = (0..<yawBins).map { g in Array(members[g].prefix(10 * quota[g])) }
        return Plan(quota: quota, candidates: candidates)
    }

    /// Takes `quota` faces per yaw bin, round-robin over its pitch bins, farthest-first by `distance`.
    static func pick(plan: Plan, pitch: [Double], distance: (Int, Int) -> Double) -> [Int] {
        var out: [Int] = []
        for g in 0..<yawBins where plan.quota[g] > 0 {
            let q = plan.quota[g]
            let cands = plan.candidates[g]
            var pitchLists = [[Int]](repeating: [], count: q)
            for c in cands { pitchLists[bin(pitch[c], q)].append(c) }
            // Nearest distance from each candidate to the faces already taken in this yaw bin.
            var nearest: [Int: Double] = [:]
            for c in cands { nearest[c] = .infinity }
            var taken: [Int] = []
            func take(_ c: Int) {
                taken.append(c)
                nearest[c] = nil
                for (k, v) in nearest { nearest[k] = min(v, distance(c, k)) }
                for p in 0..<q { pitchLists[p].removeAll { $0 == c } }
            }
            take(cands[0])
            var p = (bin(pitch[cands[0]], q) + 1) % q
            while taken.count < q {
                var scanned = 0
                while pitchLists[p].isEmpty && scanned < q { p = (p + 1) % q; scanned += 1 }
                if pitchLists[p].isEmpty { break }
                // Farthest from what is taken; among equals, the sharper (earlier) one.
                var best = pitchLists[p][0], bestD = nearest[best]!
                for c in pitchLists[p].dropFirst() where nearest[c]! > bestD { best = c; bestD = nearest[c]! }
                take(best)
                p = (p + 1) % q
            }
            out += taken
        }
        return out
    }
}
