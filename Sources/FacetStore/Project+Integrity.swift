/// Whole-file checks after a crash, a full disk or concurrent use: SQLite's own integrity check,
/// foreign keys, and the invariants Facet's transactions keep (no orphan rows, counts that agree).
import Foundation
import GRDB

/// Row counts that a finished command leaves the same whether or not it was interrupted and rerun.
public struct ProjectCounts: Sendable, Equatable, CustomStringConvertible {
    /// Media rows.
    public var media: Int
    /// Bytes of embedded media stored in chunks.
    public var mediaBytes: Int
    /// Processed frame rows.
    public var frames: Int
    /// Face rows.
    public var faces: Int
    /// Stored crops.
    public var crops: Int
    /// Model rows.
    public var models: Int
    /// Checkpoint rows.
    public var checkpoints: Int
    /// Loss rows (one per training iteration).
    public var lossRows: Int
    /// The highest iteration with a loss row (nil: none).
    public var maxLossIteration: Int?
    /// The counts in one line, for messages and test failures.
    public var description: String {
        "media \(media) (\(mediaBytes) bytes), frames \(frames), faces \(faces), crops \(crops), models \(models), "
        + "checkpoints \(checkpoints), loss rows \(lossRows) "
        + "(last iteration \(maxLossIteration.map(String.init) ?? "-"))"
    }
}

extension Project {
    /// What is wrong with the file, one line per problem; empty when it is whole. Checks
    /// `PRAGMA integrity_check`, `PRAGMA foreign_key_check`, media chunks, faces, crops and
    /// histograms, checkpoint tensors and previews without their parent, frames whose face count
    /// disagrees with their faces, and checkpoints (not pruned) without weights.
    public func integrityProblems() throws -> [String] {
        try read { db in
            var problems: [String] = []
            let ic = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            if ic != ["ok"] { problems.append("integrity_check: " + ic.prefix(5).joined(separator: "; ")) }
            let fk = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
            if !fk.isEmpty {
                problems.append("foreign_key_check: \(fk.count) violations "
                                + "(first in table \(fk[0][0] as String? ?? "?"))")
            }
            let checks: [(String, String)] = [
                ("media chunks without their media",
                 "SELECT count(*) FROM media_chunk WHERE media_id NOT IN (SELECT id FROM media)"),
                ("faces without their frame", "SELECT count(*) FROM face WHERE frame_id NOT IN (SELECT id FROM frame)"),
                ("crops without their face",
                 "SELECT count(*) FROM face_crop WHERE face_id NOT IN (SELECT id FROM face)"),
                ("faces without a crop", "SELECT count(*) FROM face WHERE id NOT IN (SELECT face_id FROM face_crop)"),
                ("faces without a histogram",
                 "SELECT count(*) FROM face WHERE id NOT IN (SELECT face_id FROM face_histogram)"),
                ("frames whose face_count disagrees with their faces",
                 "SELECT count(*) FROM frame f WHERE face_count != (SELECT count(*) FROM face WHERE frame_id = f.id)"),
                ("checkpoint tensors without their checkpoint",
                 "SELECT count(*) FROM checkpoint_tensor WHERE checkpoint_id NOT IN (SELECT id FROM checkpoint)"),
                ("previews without their checkpoint",
                 "SELECT count(*) FROM preview WHERE checkpoint_id NOT IN (SELECT id FROM checkpoint)"),
                ("checkpoints without weights",
                 "SELECT count(*) FROM checkpoint c WHERE tensors_pruned = 0 AND NOT EXISTS "
                 + "(SELECT 1 FROM checkpoint_tensor t WHERE t.checkpoint_id = c.id AND t.kind = 'weight')"),
                ("loss rows without their model",
                 "SELECT count(*) FROM loss WHERE model_id NOT IN (SELECT id FROM model)"),
            ]
            for (what, sql) in checks {
                let n = try Int.fetchOne(db, sql: sql) ?? 0
                if n != 0 { problems.append("\(n) \(what)") }
            }
            return problems
        }
    }

    /// The counts a command's rerun must reach (see `ProjectCounts`).
    public func counts() throws -> ProjectCounts {
        try read { db in
            func n(_ sql: String) throws -> Int { try Int.fetchOne(db, sql: sql) ?? 0 }
            return ProjectCounts(
                media: try n("SELECT count(*) FROM media"),
                mediaBytes: try n("SELECT coalesce(sum(length(data)), 0) FROM media_chunk"),
                frames: try n("SELECT count(*) FROM frame"),
                faces: try n("SELECT count(*) FROM face"),
                crops: try n("SELECT count(*) FROM face_crop"),
                models: try n("SELECT count(*) FROM model"),
                checkpoints: try n("SELECT count(*) FROM checkpoint"),
                lossRows: try n("SELECT count(*) FROM loss"),
                maxLossIteration: try Int.fetchOne(db, sql: "SELECT max(iteration) FROM loss"))
        }
    }
}
