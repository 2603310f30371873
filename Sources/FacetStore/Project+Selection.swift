/// Model selection in the project file: pruning several checkpoints' tensors in one transaction, and reclaiming the
/// space.
import Foundation
import GRDB
import FacetCore

extension Project {
    /// Deletes the tensors of the checkpoints `ids` in ONE transaction, keeping their rows, losses,
    /// previews and tags, and marks them pruned. Returns the tensor bytes deleted. An unknown id
    /// fails the whole call, so a typo prunes nothing.
    @discardableResult
    public func pruneCheckpointTensors(ids: [Int64]) throws -> Int64 {
        guard !ids.isEmpty else { return 0 }
        return try write("pruning \(ids.count) checkpoints") { db in
            var freed: Int64 = 0
            for id in ids {
                guard try Int.fetchOne(db, sql: "SELECT 1 FROM checkpoint WHERE id = ?", arguments: [id]) != nil else {
                    throw FacetError.file(self.path, "has no checkpoint \(id)", kind: .notFound)
                }
                freed += try Int64.fetchOne(db,
                                            sql: "SELECT coalesce(sum(length(data)), "
                                                 + "0) FROM checkpoint_tensor WHERE checkpoint_id = ?",
                                                 arguments: [id]) ?? 0
                try db.execute(sql: "DELETE FROM checkpoint_tensor WHERE checkpoint_id = ?", arguments: [id])
                try db.execute(sql: "UPDATE checkpoint SET tensors_pruned = 1 WHERE id = ?", arguments: [id])
            }
            return freed
        }
    }

    /// Rewrites the file without its free pages (SQLite keeps deleted pages for reuse, so pruning
    /// alone does not shrink the file) and folds the write-ahead log back in. Needs as much free
    /// disk as the file, and no other connection writing.
    public func vacuum() throws {
        let w = try writer
        do {
            try w.writeWithoutTransaction { db in
                try db.execute(sql: "VACUUM")
                try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            }
        } catch let e as FacetError {
            throw e
        } catch {
            throw FacetError.file(path, "vacuum failed: \(Project.describe(error))", kind: Project.kind(of: error))
        }
    }

    /// Bytes of the project on disk: the file and its write-ahead log.
    public func bytesOnDisk() -> Int64 {
        let fm = FileManager.default
        func size(_ p: String) -> Int64 {
            ((try? fm.attributesOfItem(atPath: p))?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return size(path) + size(path + "-wal")
    }
}
