/// Merge runs in the project file (`merge_run`, `merge_frame_score`, schema 13): what each `facet merge` was
/// asked to do, how far it got, and how every frame it swapped scores, one row per frame and metric.
import Foundation
import GRDB
import FacetCore

/// One merge: its settings, checkpoint, output and counts; `finishedAt` is nil for a run that was stopped.
public struct MergeRunRecord: Sendable, Equatable, Codable {
    /// The run's number.
    public var id: Int64
    /// The dst video merged.
    public var mediaId: Int64
    /// The checkpoint that swapped the faces (nil: a stand-in swapper, or the checkpoint was deleted).
    public var checkpointId: Int64?
    /// The video written (or that was being written).
    public var output: String
    /// The merge options, ranges and per-range settings, as JSON.
    public var settingsJSON: String
    /// The frames asked for, first and last (full-rate indices).
    public var firstFrame: Int
    /// The last frame asked for.
    public var lastFrame: Int
    /// When it started (ISO 8601, UTC).
    public var startedAt: String
    /// When its video was written; nil for a run that was stopped or killed.
    public var finishedAt: String?
    /// Frames merged so far (all of them once finished), frames with a swapped face, faces swapped.
    public var frames: Int
    /// Frames with a swapped face.
    public var framesWithFaces: Int
    /// Faces swapped.
    public var facesMerged: Int
    /// Frames with stored scores.
    public var framesScored: Int
    /// Seconds the merge took (finished runs).
    public var seconds: Double?
    /// Notes of the run (e.g. why a measure is absent).
    public var notes: String
    /// Whether the run wrote its whole video.
    public var finished: Bool { finishedAt != nil }
}

/// The counts a merge run reports as it goes and when it ends.
public struct MergeRunCounts: Sendable, Equatable {
    /// Frames merged, frames with a face, faces swapped, frames scored.
    public var frames = 0, framesWithFaces = 0, facesMerged = 0, framesScored = 0
    /// Counts from their parts.
    public init(frames: Int = 0, framesWithFaces: Int = 0, facesMerged: Int = 0, framesScored: Int = 0) {
        self.frames = frames; self.framesWithFaces = framesWithFaces; self.facesMerged = facesMerged
        self.framesScored = framesScored
    }
}

extension Project {
    /// Whether the file has the merge-run tables (schema 13 and later).
    func hasMergeRunTables(_ db: Database) throws -> Bool { try db.tableExists("merge_run") }

    /// Records the start of a merge of `frames` of media `mediaId` into `output`: a run not yet finished.
    public func startMergeRun(mediaId: Int64, checkpointId: Int64?, output: String, settingsJSON: String,
                              frames: ClosedRange<Int>) throws -> MergeRunRecord {
        try write("recording the merge run") { db in
            try db.execute(sql: """
                INSERT INTO merge_run (media_id, checkpoint_id, output, settings_json, first_frame, last_frame,
                    started_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [mediaId, checkpointId, output, settingsJSON, frames.lowerBound, frames.upperBound,
                                 isoNow()])
            let row = try Row.fetchOne(db, sql: "SELECT * FROM merge_run WHERE id = ?",
                                       arguments: [db.lastInsertedRowID])!
            return MergeRunRecord(row)
        }
    }

    /// Stores per-frame scores of run `runId` (frame index to metric to value; non-finite values are left
    /// out) and the counts so far, in one transaction.
    public func storeMergeFrameScores(runId: Int64, _ scores: [Int: [String: Double]], counts: MergeRunCounts) throws {
        try write("saving the merge's frame scores") { db in
            for (frame, metrics) in scores.sorted(by: { $0.key < $1.key }) {
                for (metric, value) in metrics.sorted(by: { $0.key < $1.key }) where value.isFinite {
                    try db.execute(sql: """
                        INSERT OR REPLACE INTO merge_frame_score (run_id, frame_index, metric, value)
                        VALUES (?, ?, ?, ?)
                        """, arguments: [runId, frame, metric, value])
                }
            }
            try db.execute(sql: """
                UPDATE merge_run SET frames = ?, frames_with_faces = ?, faces_merged = ?, frames_scored = ?
                WHERE id = ?
                """, arguments: [counts.frames, counts.framesWithFaces, counts.facesMerged, counts.framesScored,
                                 runId])
        }
    }

    /// Marks run `runId` finished with its final counts, seconds and notes.
    public func finishMergeRun(id runId: Int64, counts: MergeRunCounts, seconds: Double, notes: String) throws {
        try write("finishing the merge run") { db in
            try db.execute(sql: """
                UPDATE merge_run SET finished_at = ?, frames = ?, frames_with_faces = ?, faces_merged = ?,
                    frames_scored = ?, seconds = ?, notes = ? WHERE id = ?
                """, arguments: [isoNow(), counts.frames, counts.framesWithFaces, counts.facesMerged,
                                 counts.framesScored, seconds, notes, runId])
        }
    }

    /// Every merge run, oldest first (none in a file made before merge runs were stored).
    public func mergeRuns() throws -> [MergeRunRecord] {
        try read { db in
            guard try self.hasMergeRunTables(db) else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM merge_run ORDER BY id").map(MergeRunRecord.init)
        }
    }

    /// Merge run `id`; an unknown run is a one-line not-found error naming the runs there are.
    public func mergeRun(id: Int64) throws -> MergeRunRecord {
        let all = try mergeRuns()
        guard let run = all.first(where: { $0.id == id }) else {
            let ids = all.map { String($0.id) }
            let known = ids.isEmpty ? " (no merge has been run)" : " (runs: \(ids.joined(separator: ", ")))"
            throw FacetError.file(path, "has no merge run \(id)" + known, kind: .notFound)
        }
        return run
    }

    /// The stored scores of run `runId`: frame index to metric to value.
    public func mergeFrameScores(runId: Int64) throws -> [Int: [String: Double]] {
        try read { db in
            guard try self.hasMergeRunTables(db) else { return [:] }
            var out: [Int: [String: Double]] = [:]
            let sql = "SELECT frame_index, metric, value FROM merge_frame_score WHERE run_id = ?"
            for r in try Row.fetchAll(db, sql: sql, arguments: [runId]) {
                out[r["frame_index"], default: [:]][r["metric"]] = r["value"]
            }
            return out
        }
    }
}

extension MergeRunRecord {
    init(_ row: Row) {
        id = row["id"]; mediaId = row["media_id"]; checkpointId = row["checkpoint_id"]; output = row["output"]
        settingsJSON = row["settings_json"]; firstFrame = row["first_frame"]; lastFrame = row["last_frame"]
        startedAt = row["started_at"]; finishedAt = row["finished_at"]; frames = row["frames"]
        framesWithFaces = row["frames_with_faces"]; facesMerged = row["faces_merged"]
        framesScored = row["frames_scored"]
        seconds = row["seconds"]; notes = row["notes"]
    }
}

extension Project {
    /// Replaces the notes of run `runId` (e.g. why it stopped); the run stays unfinished.
    public func noteMergeRun(id runId: Int64, notes: String) throws {
        try write("noting the merge run") { db in
            try db.execute(sql: "UPDATE merge_run SET notes = ? WHERE id = ?", arguments: [notes, runId])
        }
    }
}
