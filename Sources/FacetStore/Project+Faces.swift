/// Faces in the project: the extraction engine's batched writes and per-face reads.
import Foundation
import GRDB
import FacetCore

/// Which detector and landmark model produced a run's faces, and with which options.
public struct ExtractionProvenance: Sendable {
    /// The role whose media the run extracts.
    public var role: Role
    /// The face detector's name (e.g. `mtcnn`).
    public var detector: String
    /// SHA-256 of the detector's model file.
    public var detectorSHA256: String
    /// The landmark model's name.
    public var landmarker: String
    /// SHA-256 of the landmark model's file.
    public var landmarkerSHA256: String
    /// The run's options (fps, face type, size, min face, ...) as JSON.
    public var optionsJSON: String
    /// The face recogniser whose descriptors the run stores, if any.
    public var recognizer: RecognizerProvenance?
    /// The provenance of a run with each field given; `recognizer` when it also describes faces.
    public init(role: Role, detector: String, detectorSHA256: String, landmarker: String, landmarkerSHA256: String,
                optionsJSON: String,
                recognizer: RecognizerProvenance? = nil) {
        self.role = role; self.detector = detector; self.detectorSHA256 = detectorSHA256
        self.landmarker = landmarker; self.landmarkerSHA256 = landmarkerSHA256; self.optionsJSON = optionsJSON
        self.recognizer = recognizer
    }
}

extension Project {
    /// Records the start of an extraction run; returns its id.
    public func beginExtraction(_ p: ExtractionProvenance) throws -> Int64 {
        try write("extract") { db in
            try db.execute(sql: """
                INSERT INTO extraction(role, detector, detector_sha256, landmarker, landmarker_sha256, options_json)
                VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [p.role.rawValue, p.detector, p.detectorSHA256, p.landmarker, p.landmarkerSHA256,
                                 p.optionsJSON])
            let id = db.lastInsertedRowID
            // Apart, so a file at an older schema (no recogniser columns) still takes a run without one.
            if let r = p.recognizer {
                try db.execute(sql: "UPDATE extraction SET recognizer = ?, recognizer_sha256 = ? WHERE id = ?",
                               arguments: [r.name, r.sha256, id])
            }
            return id
        }
    }

    /// Marks extraction run `id` finished (its finish time set).
    public func finishExtraction(id: Int64) throws {
        try write("extract") { db in
            try db.execute(sql: "UPDATE extraction SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', "
                                + "'now') WHERE id = ?", arguments: [id])
        }
    }

    /// Frame indices of `mediaId` already processed (with or without faces): a rerun skips them.
    public func processedFrames(mediaId: Int64) throws -> Set<Int> {
        try read {
            db in Set(try Int.fetchAll(db, sql: "SELECT frame_index FROM frame WHERE media_id = ?",
                                       arguments: [mediaId]))
        }
    }

    /// Stores a batch of processed frames and their faces in ONE transaction, so a crash loses at
    /// most this batch and a rerun redoes exactly it. Frames already stored are skipped.
    public func storeFrames(_ frames: [ExtractedFrame], extractionId: Int64, role: Role) throws {
        guard !frames.isEmpty else { return }
        try write("storing extracted faces") { db in
            let insertFrame = try db.cachedStatement(sql: """
                INSERT INTO frame(media_id, frame_index, pts, extraction_id, face_count, error) \
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(media_id, frame_index) DO NOTHING
                """)
            // Faces without a landmark score leave the column out (NULL), so a file of an older
            // schema, as the upgrade tests build one, takes them too.
            let columns = """
                frame_id, media_id, role, frame_index, face_index, pts, extraction_id, score,
                    box_x, box_y, box_w, box_h, points5, landmarks, matrix, face_type, crop_size,
                    blur, motion_blur, yaw, pitch, roll, brightness, hue, face_size
                """
            let insertFace = try db.cachedStatement(
                sql: "INSERT INTO face(\(columns)) VALUES ("
                    + "\(Array(repeating: "?", count: 25).joined(separator: ", ")))")
            let scoredSQL = "INSERT INTO face(\(columns), landmark_score) VALUES "
                            + "(\(Array(repeating: "?", count: 26).joined(separator: ", ")))"
            let detectedSQL = "INSERT INTO face(\(columns), landmark_score, detector) VALUES (\(placeholders(27)))"
            let insertCrop = try db.cachedStatement(sql: "INSERT INTO face_crop(face_id, format, "
                                                         + "data) VALUES (?, ?, ?)")
            let insertHist = try db.cachedStatement(sql: "INSERT INTO face_histogram(face_id, histogram) VALUES (?, ?)")
            // Prepared on first use (like the scored insert): a file of an older schema has no face_embedding.
            let embeddingSQL = "INSERT INTO face_embedding(face_id, embedding) VALUES (?, ?)"
            // A file of an older schema (only the upgrade tests build one: every open migrates) takes what
            // its schema holds: scores from 6, descriptors from 3, imported origins from 7, detectors from 15.
            let schema = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
            for fr in frames {
                try insertFrame.execute(arguments: [fr.mediaId, fr.frameIndex, fr.pts, extractionId, fr.faces.count,
                                                    fr.error])
                guard db.changesCount > 0 else { continue }   // already stored by an earlier run
                let frameId = db.lastInsertedRowID
                for f in fr.faces {
                    precondition(f.histogram.count == 768, "a histogram signature has 3 x 256 bins")
                    let p5 = f.points5.isEmpty ? nil : packFloat32(f.points5.flatMap { [Float($0.x), Float($0.y)] })
                    var args: StatementArguments = [frameId, fr.mediaId, role.rawValue, fr.frameIndex, f.faceIndex,
                                                    fr.pts, extractionId, f.score]
                    args += [f.box.x, f.box.y, f.box.width, f.box.height, p5, f.landmarks.packed,
                             packFloat64(f.matrix.values), f.faceType, f.cropSize]
                    args += [f.blur, f.motionBlur, f.yaw, f.pitch, f.roll, f.brightness, f.hue, f.faceSize]
                    if let score = f.landmarkScore, schema >= 6 {
                        args += [score]
                        if let detector = f.detector, schema >= 15 {
                            args += [detector]
                            try db.cachedStatement(sql: detectedSQL).execute(arguments: args)
                        } else {
                            try db.cachedStatement(sql: scoredSQL).execute(arguments: args)
                        }
                    } else {
                        try insertFace.execute(arguments: args)
                    }
                    let faceId = db.lastInsertedRowID
                    try insertCrop.execute(arguments: [faceId, f.cropFormat, f.crop])
                    try insertHist.execute(arguments: [faceId, packFloat32(f.histogram)])
                    if let o = f.origin, schema >= 7 { try Project.insertOrigin(o, faceId: faceId, db: db) }
                    if let e = f.embedding, schema >= 3 {
                        try db.cachedStatement(sql: embeddingSQL).execute(arguments: [faceId, FaceEmbedding.pack(e)])
                    }
                }
            }
        }
    }

    /// One face by id, or a clear error naming the id.
    public func face(id: Int64) throws -> FaceRecord {
        guard let f = try read({ db in try FaceRecord.fetchOne(
            db, sql: "SELECT * FROM face WHERE id = ?", arguments: [id]) }) else {
            throw FacetError.file(path, "has no face \(id)", kind: .notFound)
        }
        return f
    }

    /// The encoded aligned crop of a face: its format (jpeg | png) and bytes.
    public func faceCrop(id: Int64) throws -> (format: String, data: Data) {
        guard let row = try read({ db in try Row.fetchOne(db,
                                                          sql: "SELECT format, data FROM face_crop WHERE face_id = ?",
                                                          arguments: [id]) }) else {
            throw FacetError.file(path, "has no face \(id)", kind: .notFound)
        }
        return (row["format"], row["data"])
    }

    /// Histogram signatures (768 floats each) of the given faces, keyed by id.
    public func histograms(faceIDs: [Int64]) throws -> [Int64: [Float]] {
        try read { db in
            var out: [Int64: [Float]] = [:]
            out.reserveCapacity(faceIDs.count)
            let stmt = try db.cachedStatement(sql: "SELECT histogram FROM face_histogram WHERE face_id = ?")
            for id in faceIDs {
                if let d = try Data.fetchOne(stmt, arguments: [id]) { out[id] = unpackFloat32(d) }
            }
            return out
        }
    }

    /// Frames of a media processed so far, with their face counts, by frame index.
    public func frameFaceCounts(mediaId: Int64) throws -> [Int: Int] {
        try read { db in
            var out: [Int: Int] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT frame_index, face_count FROM frame WHERE media_id = ?",
                                      arguments: [mediaId]) {
                out[r["frame_index"]] = r["face_count"]
            }
            return out
        }
    }
}
