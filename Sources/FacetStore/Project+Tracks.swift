/// Face tracks in the project: what tracking reads, the tracks it saves (with filled faces and the
/// smoothed alignment), and the listings of `facet tracks`, the merge and the gallery.
import Foundation
import GRDB
import FacetCore

/// A face as tracking reads it: where it is, its landmarks and its histogram.
public struct TrackInputFace: Sendable {
    /// The face's id.
    public var id: Int64
    /// The media it was found in.
    public var mediaId: Int64
    /// The frame it was found in.
    public var frameIndex: Int
    /// The detector's box in frame pixels.
    public var box: (x: Double, y: Double, width: Double, height: Double)
    /// The 68 points in frame coordinates.
    public var landmarks: Landmarks68
    /// The aligned face type of its crop.
    public var faceType: String
    /// Side of its aligned crop, in pixels.
    public var cropSize: Int
    /// 3 x 256 floats; empty when the face has none.
    public var histogram: [Float]
    /// `redetected` or `interpolated` for a face filled into a gap of its track; nil when extracted.
    public var filled: String?
    /// Its stored track, if tracks were computed.
    public var trackId: Int64?
    /// Its face-recognition descriptor (128 floats); empty when none is stored.
    public var embedding: [Float] = []
}

/// A face filled into a gap of a track: stored as a new face of its (already processed) frame.
public struct FilledFace: Sendable {
    /// The processed frame the face fills.
    public var frameIndex: Int
    /// `redetected` (found again at a lower detector threshold) or `interpolated`.
    public var kind: String
    /// The face to store (its crop, landmarks, matrix and signatures).
    public var face: NewFace
    /// Creates a filled face of frame `frameIndex`.
    public init(frameIndex: Int, kind: String, face: NewFace) {
        self.frameIndex = frameIndex
        self.kind = kind
        self.face = face
    }
}

/// One face of a track to save: an existing face (by id) or a filled one, with its smoothed alignment.
public struct TrackMember: Sendable {
    /// The stored face (nil for a filled one).
    public var faceId: Int64?
    /// The filled face to store (nil for a stored one).
    public var filled: FilledFace?
    /// The frame it is in.
    public var frameIndex: Int
    /// The 68 points smoothed over the track (frame coordinates).
    public var smoothedLandmarks: Landmarks68
    /// The image-to-face matrix from the smoothed points.
    public var smoothedMatrix: Affine2D
    /// A member that is already a stored face.
    public init(faceId: Int64, frameIndex: Int, smoothedLandmarks: Landmarks68, smoothedMatrix: Affine2D) {
        self.faceId = faceId; self.frameIndex = frameIndex; self.smoothedLandmarks = smoothedLandmarks
        self.smoothedMatrix = smoothedMatrix
    }
    /// A member that is a new, filled face.
    public init(filled: FilledFace, smoothedLandmarks: Landmarks68, smoothedMatrix: Affine2D) {
        self.filled = filled; self.frameIndex = filled.frameIndex; self.smoothedLandmarks = smoothedLandmarks
        self.smoothedMatrix = smoothedMatrix
    }
}

/// A track as tracking hands it to the store.
public struct PlannedTrack: Sendable {
    /// The media the track is in.
    public var mediaId: Int64
    /// In frame order.
    public var members: [TrackMember]
    /// Processed frames inside the track still without its face.
    public var gaps: Int
    /// Whether it ends at a scene cut (rather than where the face leaves).
    public var endsAtCut: Bool
    /// Mean jitter of the 68 points before smoothing (eye distances); nil when the track has none.
    public var jitterRaw: Double?
    /// The same after smoothing.
    public var jitterSmoothed: Double?
    /// Strength of the stored smoothed alignment (0: none; 1: default).
    public var smoothing: Double
    /// A track of `mediaId`'s faces.
    public init(mediaId: Int64, members: [TrackMember], gaps: Int, endsAtCut: Bool, jitterRaw: Double?,
                jitterSmoothed: Double?, smoothing: Double) {
        self.mediaId = mediaId; self.members = members; self.gaps = gaps; self.endsAtCut = endsAtCut
        self.jitterRaw = jitterRaw; self.jitterSmoothed = jitterSmoothed; self.smoothing = smoothing
    }
}

/// A stored track, as `facet tracks` lists it.
public struct TrackRecord: Codable, Sendable, Equatable, FetchableRecord {
    /// The track's id.
    public var id: Int64
    /// The media it is in.
    public var mediaId: Int64
    /// The role of its faces.
    public var role: Role
    /// Its first frame.
    public var firstFrame: Int
    /// Its last frame.
    public var lastFrame: Int
    /// How many faces it has.
    public var faces: Int
    /// How many of them were filled into gaps.
    public var filled: Int
    /// Processed frames inside the track still without its face.
    public var gaps: Int
    /// Whether it ends at a scene cut (rather than where the face leaves).
    public var endsAtCut: Bool
    /// Mean jitter of the 68 points before smoothing (eye distances); nil when the track has none.
    public var jitterRaw: Double?
    /// The same after smoothing.
    public var jitterSmoothed: Double?
    /// Strength of the stored smoothed alignment (0: none; 1: default).
    public var smoothing: Double
    /// Maps the table's snake_case columns onto the properties.
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// A face of a track, for the gallery's strip.
public struct TrackStripFace: Sendable, Equatable {
    /// The face's id.
    public var id: Int64
    /// The frame it is in.
    public var frameIndex: Int
    /// `redetected` or `interpolated` for a filled face; nil when extracted.
    public var filled: String?
    /// Whether it is kept or rejected.
    public var status: FaceStatus
}

extension Project {
    /// Every face of `role` in `mediaId` with what tracking needs, by frame and face index.
    public func trackInputFaces(role: Role, mediaId: Int64) throws -> [TrackInputFace] {
        try read { db in
            let identity = try self.hasIdentityTables(db)
            return try Row.fetchAll(db, sql: """
                SELECT f.id, f.media_id, f.frame_index, f.box_x, f.box_y, f.box_w, f.box_h, f.landmarks, f.face_type,
                       f.crop_size, f.filled, f.track_id, h.histogram, \(identity ? "e.embedding" : "NULL") AS embedding
                FROM face f LEFT JOIN face_histogram h ON h.face_id = f.id
                \(identity ? "LEFT JOIN face_embedding e ON e.face_id = f.id" : "")
                WHERE f.role = ? AND f.media_id = ? ORDER BY f.frame_index, f.face_index
                """, arguments: [role.rawValue, mediaId]).compactMap { r -> TrackInputFace? in
                    guard let lm = Landmarks68(packed: r["landmarks"]) else { return nil }
                    let hist: Data? = r["histogram"], embedding: Data? = r["embedding"]
                    return TrackInputFace(id: r["id"], mediaId: r["media_id"], frameIndex: r["frame_index"],
                                          box: (r["box_x"], r["box_y"], r["box_w"], r["box_h"]), landmarks: lm,
                                          faceType: r["face_type"], cropSize: r["crop_size"],
                                          histogram: hist.map(unpackFloat32) ?? [], filled: r["filled"],
                                          trackId: r["track_id"],
                                          embedding: embedding.flatMap(FaceEmbedding.unpack) ?? [])
                }
        }
    }

    /// The frame indices of `mediaId` processed by extraction, ascending.
    public func processedFrameIndices(mediaId: Int64) throws -> [Int] {
        try read {
            db in try Int.fetchAll(db, sql: "SELECT frame_index FROM frame WHERE media_id = ? ORDER BY frame_index",
                                   arguments: [mediaId])
        }
    }

    /// Replaces the tracks of `role` in `mediaId` with `tracks` in ONE transaction: filled faces are
    /// stored as new faces of their frames (whose face counts grow), every member gets its track and
    /// its smoothed landmarks and matrix. Raw landmarks and matrices are never changed.
    public func saveTracks(role: Role, mediaId: Int64, tracks: [PlannedTrack]) throws {
        try write("saving face tracks") { db in
            try db.execute(sql: "DELETE FROM face_smoothed WHERE face_id IN "
                                + "(SELECT id FROM face WHERE role = ? AND media_id = ?)",
                           arguments: [role.rawValue, mediaId])
            try db.execute(sql: "UPDATE face SET track_id = NULL WHERE role = ? AND media_id = ?",
                           arguments: [role.rawValue, mediaId])
            try db.execute(sql: "DELETE FROM track WHERE role = ? AND media_id = ?",
                           arguments: [role.rawValue, mediaId])
            let insertTrack = try db.cachedStatement(sql: """
                INSERT INTO track(media_id, role, first_frame, last_frame, faces, filled, gaps, ends_at_cut, \
                jitter_raw, jitter_smoothed, smoothing)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            let setTrack = try db.cachedStatement(sql: "UPDATE face SET track_id = ? WHERE id = ?")
            let insertSmoothed = try db.cachedStatement(sql: "INSERT INTO face_smoothed(face_id, landmarks, "
                                                             + "matrix) VALUES (?, ?, ?)")
            for t in tracks where !t.members.isEmpty {
                let filledCount = t.members.filter { $0.filled != nil }.count
                try insertTrack.execute(arguments: [mediaId, role.rawValue, t.members.first!.frameIndex,
                                                    t.members.last!.frameIndex,
                                                    t.members.count, filledCount, t.gaps, t.endsAtCut, t.jitterRaw,
                                                    t.jitterSmoothed, t.smoothing])
                let trackId = db.lastInsertedRowID
                for m in t.members {
                    var faceId = m.faceId
                    if let f = m.filled { faceId = try Self.insertFilled(f, mediaId: mediaId, role: role, db: db) }
                    guard let faceId else { continue }
                    try setTrack.execute(arguments: [trackId, faceId])
                    try insertSmoothed.execute(arguments: [faceId, m.smoothedLandmarks.packed,
                                                           packFloat64(m.smoothedMatrix.values)])
                }
            }
        }
    }

    /// Stores a filled face in its processed frame (with the frame's extraction run); returns its id.
    private static func insertFilled(_ filled: FilledFace, mediaId: Int64, role: Role, db: Database) throws -> Int64 {
        guard let frame = try Row.fetchOne(db,
                                           sql: "SELECT id, pts, extraction_id FROM frame WHERE media_id = ? AND "
                                                + "frame_index = ?",
                                           arguments: [mediaId, filled.frameIndex]) else {
            throw FacetError("frame \(filled.frameIndex) of media \(mediaId) was never processed: "
                             + "cannot fill a face into it")
        }
        let frameId: Int64 = frame["id"]
        let faceIndex = try Int.fetchOne(db,
                                         sql: "SELECT coalesce(max(face_index) + 1, 0) FROM face WHERE frame_id = ?",
                                         arguments: [frameId]) ?? 0
        let f = filled.face
        let p5 = f.points5.isEmpty ? nil : packFloat32(f.points5.flatMap { [Float($0.x), Float($0.y)] })
        var args: StatementArguments = [frameId, mediaId, role.rawValue, filled.frameIndex, faceIndex,
                                        frame["pts"] as Double,
                                        frame["extraction_id"] as Int64, f.score]
        args += [f.box.x, f.box.y, f.box.width, f.box.height, p5, f.landmarks.packed, packFloat64(f.matrix.values),
                 f.faceType, f.cropSize]
        args += [f.blur, f.motionBlur, f.yaw, f.pitch, f.roll, f.brightness, f.hue, f.faceSize, filled.kind,
                 f.landmarkScore]
        try db.execute(sql: """
            INSERT INTO face(frame_id, media_id, role, frame_index, face_index, pts, extraction_id, score,
                box_x, box_y, box_w, box_h, points5, landmarks, matrix, face_type, crop_size,
                blur, motion_blur, yaw, pitch, roll, brightness, hue, face_size, filled, landmark_score)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: args)
        let faceId = db.lastInsertedRowID
        try db.execute(sql: "INSERT INTO face_crop(face_id, format, data) VALUES (?, ?, ?)",
                       arguments: [faceId, f.cropFormat, f.crop])
        try db.execute(sql: "INSERT INTO face_histogram(face_id, histogram) VALUES (?, ?)",
                       arguments: [faceId, packFloat32(f.histogram)])
        try db.execute(sql: "UPDATE frame SET face_count = face_count + 1 WHERE id = ?", arguments: [frameId])
        return faceId
    }

    /// The stored tracks of `role` (every role when nil), by media and first frame.
    public func tracks(role: Role? = nil, mediaId: Int64? = nil) throws -> [TrackRecord] {
        try read { db in
            var sql = "SELECT * FROM track WHERE 1"
            var args: StatementArguments = []
            if let role { sql += " AND role = ?"; args += [role.rawValue] }
            if let mediaId { sql += " AND media_id = ?"; args += [mediaId] }
            return try TrackRecord.fetchAll(db, sql: sql + " ORDER BY media_id, first_frame, id", arguments: args)
        }
    }

    /// The person of each track of `role` (track id to person id): the person most of the track's faces
    /// belong to, after `facet people`. Tracks whose faces have no person are left out; so is every
    /// track of a project made before identity was stored.
    public func trackPersons(role: Role) throws -> [Int64: Int64] {
        try read { db in
            guard try self.hasIdentityTables(db) else { return [:] }
            var out: [Int64: (person: Int64, count: Int)] = [:]
            let rows = try Row.fetchAll(db, sql: """
                SELECT track_id, person_id, COUNT(*) AS n FROM face
                WHERE role = ? AND track_id IS NOT NULL AND person_id IS NOT NULL
                GROUP BY track_id, person_id ORDER BY track_id, n DESC, person_id
                """, arguments: [role.rawValue])
            for r in rows {
                let track: Int64 = r["track_id"], person: Int64 = r["person_id"], n: Int = r["n"]
                if out[track] == nil || out[track]!.count < n { out[track] = (person, n) }
            }
            return out.mapValues(\.person)
        }
    }

    /// Whether every face of `mediaId` has a track (false when tracks were never computed, e.g. a
    /// project made before schema 4, or faces were added since).
    public func tracksAreCurrent(mediaId: Int64) throws -> Bool {
        try read { db in
            let untracked = try Int.fetchOne(db,
                                             sql: "SELECT count(*) FROM face WHERE media_id = ? AND track_id IS NULL",
                                             arguments: [mediaId]) ?? 0
            let tracks = try Int.fetchOne(db, sql: "SELECT count(*) FROM track WHERE media_id = ?",
                                          arguments: [mediaId]) ?? 0
            return untracked == 0 && tracks > 0
        }
    }

    /// The smoothed landmarks and matrix of each of `faceIDs` that has them.
    public func smoothedAlignments(faceIDs: [Int64]) throws -> [Int64: (landmarks: Landmarks68, matrix: Affine2D)] {
        try read { db in
            var out: [Int64: (landmarks: Landmarks68, matrix: Affine2D)] = [:]
            let stmt = try db.cachedStatement(sql: "SELECT landmarks, matrix FROM face_smoothed WHERE face_id = ?")
            for id in faceIDs {
                guard let r = try Row.fetchOne(stmt, arguments: [id]),
                    let lm = Landmarks68(packed: r["landmarks"]) else { continue }
                let m = unpackFloat64(r["matrix"])
                guard m.count == 6 else { continue }
                out[id] = (lm, Affine2D(m))
            }
            return out
        }
    }

    /// The faces of track `trackId` in frame order (for the gallery's strip).
    public func trackFaces(trackId: Int64) throws -> [TrackStripFace] {
        try read { db in
            try Row.fetchAll(db,
                             sql: "SELECT id, frame_index, filled, status FROM face WHERE track_id = ? ORDER BY "
                                  + "frame_index, face_index",
                             arguments: [trackId]).map {
                TrackStripFace(id: $0["id"], frameIndex: $0["frame_index"], filled: $0["filled"],
                               status: FaceStatus(rawValue: $0["status"]) ?? .kept)
            }
        }
    }

    /// Frames of `mediaId` (0 ..< `frameCount`) without any face, as inclusive ranges.
    public func framesWithoutFaces(mediaId: Int64, frameCount: Int) throws -> [ClosedRange<Int>] {
        let withFaces = try read { db in
            Set(try Int.fetchAll(db, sql: "SELECT DISTINCT frame_index FROM face WHERE media_id = ?",
                                 arguments: [mediaId]))
        }
        var out: [ClosedRange<Int>] = []
        var start: Int?
        for i in 0..<max(0, frameCount) {
            if withFaces.contains(i) {
                if let s = start { out.append(s...(i - 1)); start = nil }
            } else if start == nil { start = i }
        }
        if let s = start { out.append(s...(frameCount - 1)) }
        return out
    }
}
