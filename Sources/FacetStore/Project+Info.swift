/// `facet info`: what a project holds, in one read.
import Foundation
import GRDB
import FacetCore

/// What `facet info` shows: the file, its media, face counts, models and tags.
public struct ProjectSummary: Codable, Sendable {
    /// One media: its facts and how far extraction got.
    public struct MediaLine: Codable, Sendable {
        /// Row id, role, name, kind (video/stills), storage (embedded/linked) and codec.
        public var id: Int64, role: String, name: String, kind: String, storage: String, codec: String
        /// Size in pixels, frame rate, frame count, duration in seconds, and whether it has audio.
        public var width: Int, height: Int, fps: Double, frameCount: Int, duration: Double, hasAudio: Bool
        /// Frames processed by extraction, and faces stored from them.
        public var framesExtracted: Int, faces: Int
    }
    /// How many faces of a role have a status.
    public struct FaceCount: Codable, Sendable { public var role: String, status: String, count: Int }
    /// One model: its checkpoints and best validation loss.
    public struct ModelLine: Codable, Sendable {
        /// Row id, name, architecture and resolution in pixels.
        public var id: Int64, name: String, architecture: String, resolution: Int
        /// Checkpoints saved, the last one's iteration, and the lowest validation loss (nil: none yet).
        public var checkpoints: Int, lastIteration: Int?, bestValLoss: Double?
    }
    /// The project file's path.
    public var path: String
    /// The schema version the file is at.
    public var schemaVersion: Int
    /// The file's size in bytes, its write-ahead log included.
    public var fileBytes: Int64
    /// When the project was created (ISO 8601, UTC).
    public var createdAt: String?
    /// The media, by id.
    public var media: [MediaLine]
    /// Faces per role and status.
    public var faceCounts: [FaceCount]
    /// The models, by id.
    public var models: [ModelLine]
    /// Checkpoints of all models.
    public var checkpoints: Int
    /// Face tags with their counts.
    public var tags: [TagCount] = []
}

extension Project {
    /// What `facet info` shows: schema, size, media, face counts, tags, models.
    public func summary() throws -> ProjectSummary {
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0
        let walBytes = ((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size]) as? NSNumber)?
            .int64Value ?? 0
        var summary: ProjectSummary = try read { db in
            let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            let created = try String.fetchOne(db, sql: "SELECT value FROM project_info WHERE key = 'created_at'")
            let media = try Row.fetchAll(db, sql: """
                SELECT m.id, m.role, m.name, m.kind, m.storage, m.codec, m.width, m.height, m.fps, m.frame_count,
                       m.duration, m.has_audio,
                       (SELECT count(*) FROM frame fr WHERE fr.media_id = m.id) AS frames_extracted,
                       (SELECT count(*) FROM face f WHERE f.media_id = m.id) AS faces
                FROM media m ORDER BY m.id
                """).map { r in
                ProjectSummary.MediaLine(id: r["id"], role: r["role"], name: r["name"], kind: r["kind"],
                                         storage: r["storage"],
                                         codec: r["codec"], width: r["width"], height: r["height"], fps: r["fps"],
                                         frameCount: r["frame_count"], duration: r["duration"],
                                         hasAudio: r["has_audio"],
                                         framesExtracted: r["frames_extracted"], faces: r["faces"])
            }
            var counts: [ProjectSummary.FaceCount] = []
            for role in Role.allCases {
                for status in FaceStatus.allCases {
                    let n = try Int.fetchOne(db, sql: "SELECT count(*) FROM face WHERE role = ? AND status = ?",
                                             arguments: [role.rawValue, status.rawValue]) ?? 0
                    counts.append(.init(role: role.rawValue, status: status.rawValue, count: n))
                }
            }
            let models = try Row.fetchAll(db, sql: """
                SELECT md.id, md.name, md.architecture, md.resolution,
                       (SELECT count(*) FROM checkpoint c WHERE c.model_id = md.id) AS n,
                       (SELECT max(iteration) FROM loss l WHERE l.model_id = md.id) AS last_it,
                       (SELECT min(val_loss) FROM checkpoint c WHERE c.model_id = md.id) AS best
                FROM model md ORDER BY md.id
                """).map { r in
                ProjectSummary.ModelLine(id: r["id"], name: r["name"], architecture: r["architecture"],
                                         resolution: r["resolution"],
                                         checkpoints: r["n"], lastIteration: r["last_it"], bestValLoss: r["best"])
            }
            let nckpt = try Int.fetchOne(db, sql: "SELECT count(*) FROM checkpoint") ?? 0
            return ProjectSummary(path: self.path, schemaVersion: version, fileBytes: bytes + walBytes,
                                  createdAt: created,
                                  media: media, faceCounts: counts, models: models, checkpoints: nckpt)
        }
        summary.tags = try tagCounts()
        return summary
    }
}
