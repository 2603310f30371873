/// Identity curation over stored face descriptors: nearest faces by identity, and persons (a role's
/// faces clustered into identities, kept stable across reruns).
import Foundation
import Dispatch
import FacetCore
import FacetStore
import COpenBLAS

/// The descriptors of many faces held in memory (n x 128 float32, 512 bytes a face: 51 MB at
/// 100,000 faces) to answer "which faces are this person" quickly: the gallery keeps one per role,
/// the CLI builds one per command.
public final class IdentityIndex: @unchecked Sendable {
    /// The face ids, one per row, in row order.
    public let ids: [Int64]
    let vectors: [Float]
    /// |v|^2 per row.
    let norms: [Float]
    private let row: [Int64: Int]

    /// Number of faces held.
    public var count: Int { ids.count }

    /// An index over `matrix`'s rows.
    public init(_ matrix: EmbeddingMatrix) {
        let d = FaceEmbedding.dimension
        ids = matrix.ids
        vectors = matrix.values
        var norms = [Float](repeating: 0, count: matrix.count)
        matrix.values.withUnsafeBufferPointer { v in
            for i in 0..<matrix.count {
                var s: Float = 0
                for k in 0..<d { s += v[i * d + k] * v[i * d + k] }
                norms[i] = s
            }
        }
        self.norms = norms
        var row: [Int64: Int] = [:]
        row.reserveCapacity(ids.count)
        for (i, id) in ids.enumerated() { row[id] = i }
        self.row = row
    }

    /// The descriptor of face `id`, if indexed.
    public func descriptor(of id: Int64) -> [Float]? {
        guard let i = row[id] else { return nil }
        let d = FaceEmbedding.dimension
        return Array(vectors[(i * d)..<((i + 1) * d)])
    }

    /// Squared distances from `query` to every row, |v|^2 + |q|^2 - 2 v.q in float32 (one sgemv).
    func squaredDistances(to query: [Float]) -> [Float] {
        let n = count, d = FaceEmbedding.dimension
        var dots = [Float](repeating: 0, count: n)
        guard n > 0 else { return dots }
        let qn = query.reduce(0) { $0 + $1 * $1 }
        vectors.withUnsafeBufferPointer { v in
            query.withUnsafeBufferPointer { q in
                dots.withUnsafeMutableBufferPointer { o in
                    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(d), -2, v.baseAddress!, Int32(d),
                                q.baseAddress!, 1, 0, o.baseAddress!, 1)
                    norms.withUnsafeBufferPointer { nb in
                        for i in 0..<n { o[i] = max(0, o[i] + nb[i] + qn) }
                    }
                }
            }
        }
        return dots
    }

    /// The `k` indexed faces nearest to `query` by L2 distance (dlib's units), nearest first, ties by
    /// id, leaving out `excluding`. Cost: one sgemv over the n x 128 matrix (float32 squared distances),
    /// a selection of the k-th smallest, then exact double distances for the faces within float32's
    /// rounding of it.
    public func nearest(to query: [Float], k: Int, excluding: Int64? = nil) -> [FaceDistance] {
        precondition(query.count == FaceEmbedding.dimension, "a face descriptor has \(FaceEmbedding.dimension) floats")
        let n = count
        guard n > 0, k > 0 else { return [] }
        var d2 = squaredDistances(to: query)
        let skip = excluding.flatMap { row[$0] } ?? -1
        if skip >= 0 { d2[skip] = .infinity }
        let kk = min(k, n - (skip >= 0 ? 1 : 0))
        guard kk > 0 else { return [] }
        var scratch = d2
        let cut = kthSmallest(&scratch, kk)
        // Float32 rounding of |v|^2 + |q|^2 - 2 v.q: well under 1e-4 of the norms for 128 terms.
        let qn = query.reduce(Float(0)) { $0 + $1 * $1 }
        let slack = 1e-4 * (qn + (norms.max() ?? 0)) + 1e-6
        var found: [FaceDistance] = []
        vectors.withUnsafeBufferPointer { v in
            query.withUnsafeBufferPointer { q in
                for i in 0..<n where i != skip && d2[i] <= cut + slack {
                    found.append(FaceDistance(id: ids[i], distance: FaceEmbedding.distance(
                        q.baseAddress!, v.baseAddress! + i * FaceEmbedding.dimension)))
                }
            }
        }
        found.sort { $0.distance != $1.distance ? $0.distance < $1.distance : $0.id < $1.id }
        return Array(found.prefix(kk))
    }
}

/// The k-th smallest value (1-based) by quickselect; reorders `values`.
func kthSmallest(_ values: inout [Float], _ k: Int) -> Float {
    var lo = 0, hi = values.count - 1
    let target = k - 1
    while lo < hi {
        let pivot = values[(lo + hi) / 2]
        var i = lo, j = hi
        while i <= j {
            while values[i] < pivot { i += 1 }
            while values[j] > pivot { j -= 1 }
            if i <= j { values.swapAt(i, j); i += 1; j -= 1 }
        }
        if target <= j { hi = j } else if target >= i { lo = i } else { break }
    }
    return values[target]
}

/// Faces into persons by descriptor. The rule is dlib's pairwise one, applied to groups: a face joins
/// a person when its root-mean-square distance to the person's faces is under the threshold, and two
/// groups are one person when the RMS distance between their faces is. With c the mean descriptor and
/// s^2 the mean squared distance of a group's faces to it, the mean squared distance from x to the
/// group's faces is |x - c|^2 + s^2, and between two groups' faces |c1 - c2|^2 + s1^2 + s2^2, so both
/// tests cost one distance to a centre, never a pass over the faces.
public enum PersonClustering {
    /// One person found: rows of the input, its centre and spread, the row nearest the centre.
    public struct Cluster: Sendable {
        /// Rows of the input that belong to this person.
        public var members: [Int]
        /// The mean descriptor of the members.
        public var centre: [Float]
        /// Mean squared distance of the members to the centre.
        public var spread: Double
        /// The member row nearest the centre (the person's face in the gallery).
        public var representative: Int
    }

    /// Running sums of a group.
    struct Group {
        var sum: [Double]
        var squares: Double
        var count: Int
        init(_ x: UnsafePointer<Float>) {
            sum = (0..<FaceEmbedding.dimension).map { Double(x[$0]) }
            squares = (0..<FaceEmbedding.dimension).reduce(0) { $0 + Double(x[$1]) * Double(x[$1]) }
            count = 1
        }
        mutating func add(_ x: UnsafePointer<Float>) {
            for k in 0..<FaceEmbedding.dimension { sum[k] += Double(x[k]) }
            squares += (0..<FaceEmbedding.dimension).reduce(0) { $0 + Double(x[$1]) * Double(x[$1]) }
            count += 1
        }
        mutating func absorb(_ o: Group) {
            for k in 0..<FaceEmbedding.dimension { sum[k] += o.sum[k] }
            squares += o.squares; count += o.count
        }
        var centre: [Float] { sum.map { Float($0 / Double(count)) } }
        /// Mean squared distance of the members to the centre: mean |x|^2 - |c|^2.
        var spread: Double {
            let c2 = sum.reduce(0) { $0 + ($1 / Double(count)) * ($1 / Double(count)) }
            return max(0, squares / Double(count) - c2)
        }
    }

    /// Clusters the `n` rows of `vectors` (n x 128). Three steps, each deterministic:
    /// 1. one pass in row order (id order: a video's frames in sequence): each face joins the group
    ///    it is nearest to in the RMS sense if under the threshold, else starts a group. Blocks of 256
    ///    faces are compared with every group's centre by one sgemm (centres as of the block's start;
    ///    groups started inside the block are compared directly);
    /// 2. groups whose faces are within the threshold of each other (RMS) merge, closest pair first;
    /// 3. two rounds of reassignment to the nearest centre, so early faces, which joined a group
    ///    before its centre settled, go where they fit best.
    /// Result: persons by size, largest first (ties: lowest first row). Cost about n x persons x 128
    /// multiply-adds per step.
    public static func cluster(_ vectors: [Float], count n: Int, threshold: Double) -> [Cluster] {
        let d = FaceEmbedding.dimension
        precondition(vectors.count == n * d, "\(n) descriptors need \(n * d) floats")
        guard n > 0 else { return [] }
        let t2 = threshold * threshold
        var groups: [Group] = []
        var assignment = [Int](repeating: -1, count: n)
        vectors.withUnsafeBufferPointer { vb in
            let v = vb.baseAddress!
            // 1. The pass.
            let block = 256
            var b0 = 0
            while b0 < n {
                let rows = min(block, n - b0)
                let m = groups.count
                let centres = groups.flatMap { $0.centre }
                let centreNorms = (0..<m).map {
                    g in (0..<d).reduce(Double(0)) { $0 + Double(centres[g * d + $1]) * Double(centres[g * d + $1]) }
                }
                let spreads = groups.map(\.spread)
                var dots = [Float](repeating: 0, count: rows * max(m, 1))
                if m > 0 {
                    centres.withUnsafeBufferPointer { c in
                        dots.withUnsafeMutableBufferPointer { o in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(m), Int32(d), 1,
                                        v + b0 * d, Int32(d), c.baseAddress!, Int32(d), 0, o.baseAddress!, Int32(m))
                        }
                    }
                }
                var bornHere: [Int] = []
                for r in 0..<rows {
                    let i = b0 + r, x = v + i * d
                    let xn = (0..<d).reduce(Double(0)) { $0 + Double(x[$1]) * Double(x[$1]) }
                    var best = -1, bestScore = Double.infinity
                    for g in 0..<m {
                        let score = max(0, xn + centreNorms[g] - 2 * Double(dots[r * m + g])) + spreads[g]
                        if score < bestScore { bestScore = score; best = g }
                    }
                    for g in bornHere {
                        let c = groups[g].centre
                        var s = 0.0
                        for k in 0..<d { let e = Double(x[k]) - Double(c[k]); s += e * e }
                        let score = s + groups[g].spread
                        if score < bestScore { bestScore = score; best = g }
                    }
                    if best >= 0 && bestScore < t2 {
                        groups[best].add(x)
                        assignment[i] = best
                    } else {
                        groups.append(Group(x))
                        assignment[i] = groups.count - 1
                        bornHere.append(groups.count - 1)
                    }
                }
                b0 += rows
            }
            // 2. Merges, closest pair first, while the RMS distance between two groups' faces is under the threshold.
            var alive = [Bool](repeating: true, count: groups.count)
            var parent = Array(0..<groups.count)
            func linkage(_ a: Int, _ b: Int) -> Double {
                let ca = groups[a].centre, cb = groups[b].centre
                var s = 0.0
                for k in 0..<d { let e = Double(ca[k]) - Double(cb[k]); s += e * e }
                return s + groups[a].spread + groups[b].spread
            }
            if groups.count > 1 && groups.count <= 4000 {
                let m = groups.count
                var link = [Double](repeating: .infinity, count: m * m)
                for a in 0..<m { for b in (a + 1)..<m { link[a * m + b] = linkage(a, b) } }
                while true {
                    var best = Double.infinity, ba = -1, bb = -1
                    for a in 0..<m where alive[a] {
                        for b in (a + 1)..<m where alive[b] && link[a * m + b] < best {
                            best = link[a * m + b]
                            ba = a
                            bb = b
                        }
                    }
                    guard ba >= 0, best < t2 else { break }
                    groups[ba].absorb(groups[bb])
                    alive[bb] = false
                    parent[bb] = ba
                    for o in 0..<m where alive[o] && o != ba {
                        let l = linkage(min(o, ba), max(o, ba))
                        link[min(o, ba) * m + max(o, ba)] = l
                    }
                }
            }
            func root(_ g: Int) -> Int { var g = g; while parent[g] != g { g = parent[g] }; return g }
            for i in 0..<n { assignment[i] = root(assignment[i]) }
            var live = (0..<groups.count).filter { alive[$0] }
            // 3. Reassignment to the nearest centre, twice.
            for _ in 0..<2 {
                let m = live.count
                let centres = live.flatMap { groups[$0].centre }
                let centreNorms = (0..<m).map {
                    g in (0..<d).reduce(Float(0)) { $0 + centres[g * d + $1] * centres[g * d + $1] }
                }
                var fresh: [Int: Group] = [:]
                var dots = [Float](repeating: 0, count: min(n, 4096) * m)
                var r0 = 0
                while r0 < n {
                    let rows = min(4096, n - r0)
                    centres.withUnsafeBufferPointer { c in
                        dots.withUnsafeMutableBufferPointer { o in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(m), Int32(d), 1,
                                        v + r0 * d, Int32(d), c.baseAddress!, Int32(d), 0, o.baseAddress!, Int32(m))
                        }
                    }
                    for r in 0..<rows {
                        let i = r0 + r
                        var best = 0, bestScore = Float.infinity
                        for g in 0..<m {
                            let s = centreNorms[g] - 2 * dots[r * m + g]
                            if s < bestScore { bestScore = s; best = g }
                        }
                        let gid = live[best]
                        assignment[i] = gid
                        if fresh[gid] == nil { fresh[gid] = Group(v + i * d) } else { fresh[gid]!.add(v + i * d) }
                    }
                    r0 += rows
                }
                for (gid, g) in fresh { groups[gid] = g }
                live = live.filter { fresh[$0] != nil }
            }
        }
        var members: [Int: [Int]] = [:]
        for i in 0..<n { members[assignment[i], default: []].append(i) }
        var out: [Cluster] = []
        vectors.withUnsafeBufferPointer { vb in
            for (gid, rows) in members {
                let g = groups[gid]
                let c = g.centre
                var rep = rows[0], repD = Double.infinity
                c.withUnsafeBufferPointer { cb in
                    for i in rows {
                        let dist = FaceEmbedding.distance(vb.baseAddress! + i * d, cb.baseAddress!)
                        if dist < repD { repD = dist; rep = i }
                    }
                }
                out.append(Cluster(members: rows, centre: c, spread: g.spread, representative: rep))
            }
        }
        out.sort {
            $0.members.count != $1.members.count ? $0.members.count > $1.members.count : $0.members[0] < $1.members[0]
        }
        return out
    }

    /// Which stored person each cluster continues: pairs by most shared faces first (each cluster and
    /// each person at most once), so a rerun after new faces keeps the persons' numbers and names.
    /// `previous[i]` is row i's person before, if any. Nil: a new person.
    public static func match(_ clusters: [Cluster], previous: [Int64?]) -> [Int64?] {
        var overlaps: [(cluster: Int, person: Int64, shared: Int)] = []
        for (c, cl) in clusters.enumerated() {
            var tally: [Int64: Int] = [:]
            for i in cl.members { if let p = previous[i] { tally[p, default: 0] += 1 } }
            for (p, k) in tally { overlaps.append((c, p, k)) }
        }
        overlaps.sort {
            $0.shared != $1.shared ? $0.shared > $1.shared
                : ($0.person != $1.person ? $0.person < $1.person : $0.cluster < $1.cluster)
        }
        var out = [Int64?](repeating: nil, count: clusters.count)
        var taken = Set<Int64>()
        for o in overlaps where out[o.cluster] == nil && !taken.contains(o.person) {
            out[o.cluster] = o.person
            taken.insert(o.person)
        }
        return out
    }
}

/// What `facet people` found for one role.
public struct PeopleResult: Sendable {
    /// The role whose faces were clustered.
    public var role: Role
    /// The role's persons after the run, by id.
    public var persons: [PersonRecord]
    /// Faces whose person changed.
    public var facesChanged: Int
    /// Unnamed persons left without faces, removed.
    public var removed: [Int64]
    /// Persons this run created.
    public var newPersons: [Int64]
    /// Wall-clock seconds the run took.
    public var seconds: Double
}

/// `facet people`: clusters each role's faces into persons and stores them.
public enum PeopleFinder {
    /// Clusters every face of `role` (both statuses: identity is not curation) by descriptor and
    /// stores the persons, continuing the stored ones (numbers and names) where the faces are the
    /// same. Faces without a descriptor are an error naming `facet embed`.
    public static func run(_ project: Project, role: Role,
                           threshold: Double = FaceEmbedding.samePersonThreshold) throws -> PeopleResult {
        let start = Date()
        let matrix = try project.requireEmbeddings(matching: FaceQuery(role: role), withPersons: true)
        let earlier = Set(try project.persons(role: role).map(\.id))
        let clusters = PersonClustering.cluster(matrix.values, count: matrix.count, threshold: threshold)
        let matched = PersonClustering.match(clusters, previous: matrix.persons!.map { $0 == 0 ? nil : $0 })
        let assignments = zip(clusters, matched).map { c, existing in
            PersonAssignment(existingId: existing, centre: c.centre, faceIDs: c.members.map { matrix.ids[$0] },
                             representativeFaceId: matrix.ids[c.representative])
        }
        let saved = try project.savePersons(role: role, assignments, threshold: threshold)
        return PeopleResult(role: role, persons: saved.persons, facesChanged: saved.facesChanged,
                            removed: saved.removed,
                            newPersons: saved.persons.map(\.id).filter { !earlier.contains($0) },
                            seconds: Date().timeIntervalSince(start))
    }
}

extension Project {
    /// The `k` faces (of `role`, every status; all roles when nil) nearest to face `id` by identity:
    /// L2 distance of the face-recognition descriptors, dlib's units (under 0.6: the same person).
    /// Faces without a descriptor are an error naming `facet embed`.
    public func similarFacesByIdentity(to id: Int64, k: Int, role: Role?) throws -> [FaceDistance] {
        _ = try face(id: id)
        guard let q = try embedding(faceId: id) else {
            throw FacetError.file(path,
                                  "face \(id) has no face-recognition descriptor: run `facet embed \(path)` first")
        }
        // One pass over the stored descriptors, never held all at once (no 51 MB matrix to allocate at
        // 100,000 faces): each one's exact distance, the k nearest kept in order (distance, then id).
        var best: [FaceDistance] = []
        var missing = 0, total = 0
        guard k > 0 else { return [] }
        try q.withUnsafeBufferPointer { qb in
            try forEachEmbedding(matching: FaceQuery(role: role), selected: { total = $0 }) { other, _, descriptor in
                guard other != id else { return }
                let d = FaceEmbedding.distance(qb.baseAddress!, descriptor)
                if best.count == k, let worst = best.last,
                   d > worst.distance || (d == worst.distance && other > worst.id) { return }
                let at = best.firstIndex { d < $0.distance || (d == $0.distance && other < $0.id) } ?? best.count
                best.insert(FaceDistance(id: other, distance: d), at: at)
                if best.count > k { best.removeLast() }
            } missing: { _ in missing += 1 }
        }
        guard missing == 0 else { throw missingEmbeddingsError(missing, of: total, role: role) }
        return best
    }
}
