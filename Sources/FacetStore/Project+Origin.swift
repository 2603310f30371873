/// What an imported face brought from another tool's file (the `face_origin` table): source frame, box,
/// landmarks and matrix, hand-made polygons and mask. Written with the face, read by export and the gallery.
import Foundation
import GRDB
import FacetCore

/// A face's metadata from DeepFaceLab's APP15 block or faceswap's PNG chunk / alignments file.
public struct FaceOrigin: Sendable, Equatable {
    /// `dfl` or `faceswap`.
    public var tool: String
    /// The imported file's name.
    public var fileName: String
    /// The frame the face was cut from.
    public var sourceFilename: String?
    /// left, top, right, bottom in the source frame's pixels.
    public var sourceRect: [Double]?
    /// 68 x (x, y) in the source frame's pixels, flattened.
    public var sourceLandmarks: [Double]?
    /// Source frame -> face image, 2x3 row-major.
    public var sourceMatrix: [Double]?
    /// 68 x (x, y) in the face image, flattened, at the file's full precision.
    public var landmarks: [Double]?
    /// JSON `[{"type": 1|0, "pts": [[x, y], ...]}]` in face-image pixels.
    public var segIEPolysJSON: String?
    /// The mask image bytes (PNG or JPEG) as the file stored them.
    public var xsegMask: Data?
    /// JSON of the fields Facet does not use yet.
    public var extraJSON: String?

    /// A record of `tool` for the file `fileName`; the other fields start empty.
    public init(tool: String, fileName: String) { self.tool = tool; self.fileName = fileName }
}

extension Project {
    /// The origin record of each face in `ids` that has one.
    public func faceOrigins(ids: [Int64]) throws -> [Int64: FaceOrigin] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            var out: [Int64: FaceOrigin] = [:]
            for chunk in stride(from: 0, to: ids.count, by: 500) {
                let part = Array(ids[chunk..<min(ids.count, chunk + 500)])
                let rows = try Row.fetchAll(db,
                                            sql: "SELECT * FROM face_origin WHERE face_id IN "
                                                 + "(\(part.map { _ in "?" }.joined(separator: ",")))",
                                            arguments: StatementArguments(part))
                for r in rows {
                    var o = FaceOrigin(tool: r["tool"], fileName: r["file_name"])
                    o.sourceFilename = r["source_filename"]
                    o.sourceRect = (r["source_rect"] as Data?).map(unpackFloat64)
                    o.sourceLandmarks = (r["source_landmarks"] as Data?).map(unpackFloat64)
                    o.sourceMatrix = (r["source_matrix"] as Data?).map(unpackFloat64)
                    o.landmarks = (r["landmarks"] as Data?).map(unpackFloat64)
                    o.segIEPolysJSON = r["seg_ie_polys"]
                    o.xsegMask = r["xseg_mask"]
                    o.extraJSON = r["extra"]
                    out[r["face_id"]] = o
                }
            }
            return out
        }
    }

    /// Inserts `origin` for `faceId` (inside the caller's write).
    static func insertOrigin(_ o: FaceOrigin, faceId: Int64, db: Database) throws {
        let insert = try db.cachedStatement(sql: """
            INSERT INTO face_origin(face_id, tool, file_name, source_filename, source_rect, source_landmarks, \
            source_matrix,
                landmarks, seg_ie_polys, xseg_mask, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var args: StatementArguments = [faceId, o.tool, o.fileName, o.sourceFilename, o.sourceRect.map(packFloat64)]
        args += [o.sourceLandmarks.map(packFloat64), o.sourceMatrix.map(packFloat64), o.landmarks.map(packFloat64)]
        args += [o.segIEPolysJSON, o.xsegMask, o.extraJSON]
        try insert.execute(arguments: args)
    }
}
