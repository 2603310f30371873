/// The stored signatures of many faces as matrices, for the curation algorithms (FacetCurate) to compute on.
import Foundation
import GRDB
import FacetCore

extension Project {
    /// Histograms of `faceIDs` in order, n x 768 float32. Few faces: one indexed read each; many: one
    /// scan of the histogram table. A face without a histogram is an error naming it.
    public func histogramRows(faceIDs: [Int64]) throws -> [Float] {
        let path = self.path
        return try read { db in
            var out = [Float](repeating: 0, count: faceIDs.count * 768)
            var filled = 0
            try out.withUnsafeMutableBytes { dst in
                // Copies column `column` of `row` into matrix row `r`; false when it is not a histogram.
                func copy(_ row: Row, column: Int, to r: Int) throws -> Bool {
                    try row.withUnsafeData(atIndex: column) { data -> Bool in
                        guard let data, data.count == 3072 else { return false }
                        data.withUnsafeBytes {
                            src in (dst.baseAddress! + r * 3072).copyMemory(from: src.baseAddress!, byteCount: 3072)
                        }
                        filled += 1
                        return true
                    }
                }
                if faceIDs.count < 4096 {
                    let stmt = try db.cachedStatement(sql: "SELECT histogram FROM face_histogram WHERE face_id = ?")
                    for (r, id) in faceIDs.enumerated() {
                        guard let row = try Row.fetchOne(stmt, arguments: [id]), try copy(row, column: 0, to: r) else {
                            throw FacetError.file(path, "face \(id) has no histogram signature")
                        }
                    }
                } else {
                    var rowOf: [Int64: Int] = [:]
                    rowOf.reserveCapacity(faceIDs.count)
                    for (r, id) in faceIDs.enumerated() { rowOf[id] = r }
                    let cursor = try Row.fetchCursor(db, sql: "SELECT face_id, histogram FROM face_histogram")
                    while let row = try cursor.next() {
                        if let r = rowOf[row[0]] { _ = try copy(row, column: 1, to: r) }
                    }
                    if filled < faceIDs.count {
                        let have = Set(try Int64.fetchAll(db, sql: "SELECT face_id FROM face_histogram"))
                        let missing = faceIDs.first { !have.contains($0) } ?? -1
                        throw FacetError.file(path, "face \(missing) has no histogram signature")
                    }
                }
            }
            return out
        }
    }

    /// How many faces `role` has and its largest face id, in one walk of an index: what a cached
    /// `SimilarityIndex` of the role checks to know it is still complete.
    public func faceStamp(role: Role) throws -> (count: Int, maxID: Int64) {
        try read { db in
            let row = try Row.fetchOne(db, sql: "SELECT count(*), coalesce(max(id), 0) FROM face WHERE role = ?",
                                       arguments: [role.rawValue])
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
    }
}
