/// `facet info`: what a project holds, in one read.
import Foundation
import GRDB
import FacetCore

public struct ProjectSummary: Codable, Sendable {
    public struct MediaLine: Codable, Sendable {
        public var id: Int64, role: String, name: String, kind: String, storage: String, codec: String
        public var width: Int, height: Int, fps: Double, frameCount: Int, duration: Double, hasAudio: Bool
        public var framesExtracted: Int, faces: Int
    }
    public struct FaceCount: Codable, Sendable { public var role: String, status: String, count: Int }
    public struct ModelLine: Codable, Sendable {
        public var id: Int64, name: String, architecture: String, resolution: Int
        public var checkpoints: Int, lastIteration: Int?, bestValLoss: Double?
    }
    public var path: String
    public var schemaVersion: Int
    public var fileBytes: Int64
    public var createdAt: String?
    public var media: [MediaLine]
    public var faceCounts: [FaceCount]
    public var models: [ModelLine]
    public var checkpoints: Int
    /// Face tags with their counts.
    public var tags: [TagCount] = []
}

extension Project {
    /// What `facet info` shows: schema, size, media, face counts, tags, models.
    public func summary() throws -> ProjectSummary {
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? NSNumber)?.int64Value ?? 0
        let walBytes = ((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size]) as? NSNumber)?.int64Value ?? 0
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
                ProjectSummary.MediaLine(id: r["id"], role: r["role"], name: r["name"], kind: r["kind"], storage: r["storage"],
                                         codec: r["codec"], width: r["width"], height: r["height"], fps: r["fps"],
                                         frameCount: r["frame_count"], duration: r["duration"], hasAudio: r["has_audio"],
                                         framesExtracted: r["frames_extracted"], faces: r["faces"])
            }
            var counts: [ProjectSummary.FaceCount] = []
            for role in Role.allCases {
                for status in FaceStatus.allCases {
                    let n = try Int.fetchOne(db, sql: "SELECT count(*) FROM face WHERE role = ? AND status = ?", arguments: [role.rawValue, status.rawValue]) ?? 0
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
                ProjectSummary.ModelLine(id: r["id"], name: r["name"], architecture: r["architecture"], resolution: r["resolution"],
                                         checkpoints: r["n"], lastIteration: r["last_it"], bestValLoss: r["best"])
            }
            let nckpt = try Int.fetchOne(db, sql: "SELECT count(*) FROM checkpoint") ?? 0
            return ProjectSummary(path: self.path, schemaVersion: version, fileBytes: bytes + walBytes, createdAt: created,
                                  media: media, faceCounts: counts, models: models, checkpoints: nckpt)
        }
        summary.tags = try tagCounts()
        return summary
    }
}
