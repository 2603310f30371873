/// The face pool of a pretraining project (`facet pretrain OUT.facet --from A.facet B.facet ...`): every kept face of
/// other projects copied in with its crop, landmarks and signatures, and where each batch of faces came from.
import Foundation
import FacetCore
import GRDB

/// One project whose kept faces were copied into this one (a `pretrain_source` row).
public struct PretrainSource: Sendable, Equatable {
    /// The source file as given.
    public var path: String
    /// SHA-256 of its bytes when its faces were read.
    public var sha256: String
    /// Kept faces copied from it.
    public var faces: Int
    /// Its media whose faces were copied.
    public var mediaCopied: Int
    /// Its media left out: the same content (SHA-256) is here already, with its faces.
    public var mediaSkipped: Int
    /// A source with each field given.
    public init(path: String, sha256: String, faces: Int, mediaCopied: Int, mediaSkipped: Int) {
        self.path = path; self.sha256 = sha256; self.faces = faces
        self.mediaCopied = mediaCopied; self.mediaSkipped = mediaSkipped
    }
}

extension Project {
    /// Copies every kept face of `source` (all roles, all persons) into this project: per source media, a media row
    /// (linked to the source's path, no bytes: training needs only the crops) and one extraction whose frames hold
    /// the faces with their crops, landmarks, matrices, histograms and descriptors, stored in one transaction per
    /// media (a crash loses at most that media's faces; a rerun copies it again). Media whose content is here
    /// already with faces is left out. Records the source (`pretrain_source`) and returns the row.
    @discardableResult
    public func copyKeptFaces(from source: Project, sourcePath: String, sourceSHA256: String) throws -> PretrainSource {
        var record = PretrainSource(path: sourcePath, sha256: sourceSHA256, faces: 0, mediaCopied: 0, mediaSkipped: 0)
        let kept = try source.faces(matching: FaceQuery(status: .kept))
        let byMedia = Dictionary(grouping: kept, by: \.mediaId)
        // A source of an older schema (read, never upgraded here) may have no descriptors.
        let hasEmbeddings = try source.read { db in try db.tableExists("face_embedding") }
        for media in try source.media() {
            guard let faces = byMedia[media.id!], !faces.isEmpty else { continue }
            let here = try read { db in
                try Row.fetchOne(db, sql: """
                    SELECT m.id, (SELECT count(*) FROM face f WHERE f.media_id = m.id) AS n
                    FROM media m WHERE m.sha256 = ?
                    """, arguments: [media.sha256])
            }
            let mediaId: Int64
            if let here, (here["n"] as Int) > 0 {
                record.mediaSkipped += 1
                continue
            } else if let here {
                mediaId = here["id"]   // a copy interrupted before its faces landed
            } else {
                var row = media
                row.id = nil
                row.storage = .linked
                row.path = media.path ?? "\(sourcePath) (media \(media.id!))"
                row.importedAt = isoNow()
                mediaId = try importMedia(row) { nil }.id!
            }
            let extraction = try beginExtraction(ExtractionProvenance(
                role: media.role, detector: "copied from \(sourcePath)", detectorSHA256: sourceSHA256,
                landmarker: "copied", landmarkerSHA256: sourceSHA256, optionsJSON: "{\"pretrain_source\": true}"))
            let ids = faces.map(\.id)
            let histograms = try source.histograms(faceIDs: ids)
            var frames: [ExtractedFrame] = []
            for (frameIndex, group) in Dictionary(grouping: faces, by: \.frameIndex).sorted(by: { $0.key < $1.key }) {
                let newFaces = try group.sorted { $0.faceIndex < $1.faceIndex }.map { f -> NewFace in
                    guard let landmarks = f.landmarks68 else {
                        throw FacetError.file(sourcePath, "face \(f.id): its landmarks are unreadable; "
                                              + "reject it there and pretrain again")
                    }
                    let crop = try source.faceCrop(id: f.id)
                    var n = NewFace(faceIndex: f.faceIndex, score: f.score, box: (f.boxX, f.boxY, f.boxW, f.boxH),
                                    points5: f.points5List, landmarks: landmarks, matrix: f.imageToFace,
                                    faceType: f.faceType, cropSize: f.cropSize, cropFormat: crop.format,
                                    crop: crop.data,
                                    histogram: histograms[f.id] ?? [Float](repeating: 1.0 / 256, count: 768),
                                    blur: f.blur, motionBlur: f.motionBlur, yaw: f.yaw, pitch: f.pitch, roll: f.roll,
                                    brightness: f.brightness, hue: f.hue, faceSize: f.faceSize,
                                    landmarkScore: f.landmarkScore)
                    if hasEmbeddings { n.embedding = try source.embedding(faceId: f.id) }
                    return n
                }
                frames.append(ExtractedFrame(mediaId: mediaId, frameIndex: frameIndex, pts: group[0].pts,
                                             faces: newFaces))
            }
            try storeFrames(frames, extractionId: extraction, role: media.role)
            try finishExtraction(id: extraction)
            record.faces += faces.count
            record.mediaCopied += 1
        }
        try write("recording a pretraining source") { db in
            try db.execute(sql: """
                INSERT INTO pretrain_source(source_path, source_sha256, faces, media_copied, media_skipped)
                VALUES (?, ?, ?, ?, ?)
                """, arguments: [record.path, record.sha256, record.faces, record.mediaCopied, record.mediaSkipped])
        }
        return record
    }

    /// The projects whose faces were copied in, oldest first.
    public func pretrainSources() throws -> [PretrainSource] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT source_path, source_sha256, faces, media_copied, media_skipped FROM pretrain_source ORDER BY id
                """).map {
                PretrainSource(path: $0["source_path"], sha256: $0["source_sha256"], faces: $0["faces"],
                               mediaCopied: $0["media_copied"], mediaSkipped: $0["media_skipped"])
            }
        }
    }
}
