/// Typed rows of the project file, as the query layer returns them.
import Foundation
import GRDB
import FacetCore

/// What an imported media is: a video file or a folder of still images.
public enum MediaKind: String, Codable, Sendable, CaseIterable {
    case video, stills
}

/// Where an imported media's bytes live: in the project (in chunks) or only at its path (`--link`).
public enum MediaStorage: String, Codable, Sendable, CaseIterable {
    case embedded, linked
}

/// An imported video or folder of stills.
public struct MediaRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    /// The table the records live in.
    public static let databaseTableName = "media"
    /// The row id (nil before the insert).
    public var id: Int64?
    /// The role of its faces.
    public var role: Role
    /// The file or folder name as imported.
    public var name: String
    /// A video file or a folder of stills.
    public var kind: MediaKind
    /// Embedded in the project (in chunks) or only linked by its path.
    public var storage: MediaStorage
    /// The absolute path at import (the source for a linked media).
    public var path: String?
    /// SHA-256 of its content: the same content is imported once.
    public var sha256: String
    /// Its size in bytes.
    public var byteSize: Int64
    /// FFmpeg's demuxer name (`stills` for a folder).
    public var container: String
    /// FFmpeg's codec name (`png`/`mjpeg` for stills).
    public var codec: String
    /// Width in pixels, upright.
    public var width: Int
    /// Height in pixels, upright.
    public var height: Int
    /// Frames per second.
    public var fps: Double
    /// Number of frames.
    public var frameCount: Int
    /// Length in seconds.
    public var duration: Double
    /// Whether it has an audio stream (which a merge can copy).
    public var hasAudio: Bool
    /// When it was imported (ISO 8601, UTC).
    public var importedAt: String?

    /// A media row from its parts (`importedAt` defaults to now).
    public init(id: Int64? = nil, role: Role, name: String, kind: MediaKind, storage: MediaStorage, path: String?,
                sha256: String,
                byteSize: Int64, container: String, codec: String, width: Int, height: Int, fps: Double,
                frameCount: Int, duration: Double, hasAudio: Bool, importedAt: String? = nil) {
        self.id = id; self.role = role; self.name = name; self.kind = kind; self.storage = storage; self.path = path
        self.sha256 = sha256; self.byteSize = byteSize; self.container = container; self.codec = codec
        self.width = width; self.height = height; self.fps = fps; self.frameCount = frameCount
        self.duration = duration; self.hasAudio = hasAudio; self.importedAt = importedAt ?? isoNow()
    }

    /// The same from the words stored in the file ("video", "linked"), as code written before the enums spelled them.
    @available(*, deprecated, message: "use MediaKind and MediaStorage")
    public init(id: Int64? = nil, role: Role, name: String, kind: String, storage: String, path: String?,
                sha256: String,
                byteSize: Int64, container: String, codec: String, width: Int, height: Int, fps: Double,
                frameCount: Int, duration: Double, hasAudio: Bool, importedAt: String? = nil) {
        self.init(id: id, role: role, name: name, kind: MediaKind(rawValue: kind) ?? .video,
                  storage: MediaStorage(rawValue: storage) ?? .linked,
                  path: path, sha256: sha256, byteSize: byteSize, container: container, codec: codec, width: width,
                  height: height,
                  fps: fps, frameCount: frameCount, duration: duration, hasAudio: hasAudio, importedAt: importedAt)
    }

    /// Maps the properties onto the table's snake_case columns.
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    /// Maps the table's snake_case columns onto the properties.
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    enum CodingKeys: String, CodingKey {
        case id, role, name, kind, storage, path, sha256, byteSize, container, codec, width, height, fps
        case frameCount, duration, hasAudio, importedAt
    }
    /// Keeps the row id SQLite gave the new row.
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A face row without its image bytes (crop and histogram live in their own tables).
public struct FaceRecord: Codable, Sendable, Equatable, FetchableRecord {
    /// The face's id.
    public var id: Int64
    /// Its role.
    public var role: Role
    /// The media it was found in.
    public var mediaId: Int64
    /// The frame row it belongs to.
    public var frameId: Int64
    /// Its frame's index in the media.
    public var frameIndex: Int
    /// Its position among the faces of its frame, best detector score first.
    public var faceIndex: Int
    /// Its frame's time, in seconds.
    public var pts: Double
    /// The extraction run that stored it.
    public var extractionId: Int64
    /// The detector's confidence, 0...1.
    public var score: Double
    /// The detector's box: left edge, in frame pixels.
    public var boxX: Double
    /// The detector's box: top edge, in frame pixels.
    public var boxY: Double
    /// The detector's box: width, in frame pixels.
    public var boxW: Double
    /// The detector's box: height, in frame pixels.
    public var boxH: Double
    /// The detector's five points, packed 5 x (x, y) float32 (nil when it had none).
    public var points5: Data?
    /// The 68 points, packed 68 x (x, y) float32, frame coordinates.
    public var landmarks: Data
    /// The image-to-face matrix, packed 2x3 float64 row-major.
    public var matrix: Data
    /// The aligned face type of its crop (`full`, `whole`, ...).
    public var faceType: String
    /// Side of its aligned crop, in pixels.
    public var cropSize: Int
    /// Sharpness inside the face (higher is sharper; see `FaceSignatures.blur`).
    public var blur: Double
    /// Variance of the Laplacian inside the face (low for smeared faces).
    public var motionBlur: Double
    /// Yaw in degrees, positive turned towards the image's right.
    public var yaw: Double
    /// Pitch in degrees, positive looking up.
    public var pitch: Double
    /// Roll in degrees, positive tilted clockwise.
    public var roll: Double
    /// Mean luma inside the landmark hull, 0...255.
    public var brightness: Double
    /// Circular mean hue inside the hull, degrees.
    public var hue: Double
    /// The larger side of the landmarks' box, in frame pixels.
    public var faceSize: Double
    /// Kept (in the training set) or rejected.
    public var status: FaceStatus
    /// The face's person (`facet people`), nil before it ran.
    public var personId: Int64?
    /// How far the landmarks can be trusted, 0...1; nil for faces extracted before schema 6.
    public var landmarkScore: Double?
    /// The face's track (schema 4; nil before tracks are computed).
    public var trackId: Int64?
    /// `redetected` or `interpolated` for a face filled into a gap of its track; nil when extracted.
    public var filled: String?
    /// The detector that found it, `mtcnn` or `cnn` (schema 15); nil for faces extracted before, or imported.
    public var detector: String?

    /// Maps the table's snake_case columns onto the properties.
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase

    /// The 68 points in frame coordinates.
    public var landmarks68: Landmarks68? { Landmarks68(packed: landmarks) }
    /// The image-to-face matrix.
    public var imageToFace: Affine2D { Affine2D(unpackFloat64(matrix)) }
    /// The five detector points (eyes, nose, mouth corners) in frame coordinates.
    public var points5List: [Point2] {
        guard let p = points5 else { return [] }
        let v = unpackFloat32(p)
        return stride(from: 0, to: v.count - 1, by: 2).map { Point2(Double(v[$0]), Double(v[$0 + 1])) }
    }
}

/// A face as the extraction engine hands it to the store.
public struct NewFace: Sendable {
    /// Its position among the faces of its frame, best detector score first.
    public var faceIndex: Int
    /// The detector's confidence, 0...1.
    public var score: Double
    /// The detector's box, in frame pixels.
    public var box: (x: Double, y: Double, width: Double, height: Double)
    /// The detector's five points, in frame pixels (empty when it had none).
    public var points5: [Point2]
    /// The 68 points in frame pixels.
    public var landmarks: Landmarks68
    /// The image-to-face matrix of the crop.
    public var matrix: Affine2D
    /// The aligned face type of the crop (`FaceType` raw value).
    public var faceType: String
    /// Side of the aligned crop, in pixels.
    public var cropSize: Int
    /// How `crop` is encoded: `jpeg` or `png`.
    public var cropFormat: String   // jpeg | png
    /// The aligned crop's encoded bytes.
    public var crop: Data
    /// The R, G, B histograms of the crop, 256 bins each (768 floats), each channel summing to 1.
    public var histogram: [Float]   // 768
    /// Sharpness inside the face (higher is sharper; see `FaceSignatures.blur`).
    public var blur: Double
    /// Variance of the Laplacian inside the face (low for smeared faces).
    public var motionBlur: Double
    /// Yaw in degrees, positive turned towards the image's right.
    public var yaw: Double
    /// Pitch in degrees, positive looking up.
    public var pitch: Double
    /// Roll in degrees, positive tilted clockwise.
    public var roll: Double
    /// Mean luma inside the landmark hull, 0...255.
    public var brightness: Double
    /// Circular mean hue inside the hull, degrees.
    public var hue: Double
    /// The larger side of the landmarks' box, in frame pixels.
    public var faceSize: Double
    /// What the face brought from another tool's file, stored in `face_origin` with it.
    public var origin: FaceOrigin? = nil
    /// The face-recognition descriptor (128 floats), when the extraction computes it.
    public var embedding: [Float]?
    /// How far the landmarks can be trusted, 0...1 (nil: not scored, e.g. a face imported as a crop).
    public var landmarkScore: Double?
    /// The detector that found it (`mtcnn`, `cnn`); nil when no detector did (imported landmarks).
    public var detector: String?

    /// A face with each field given (the extraction engine, the face importers and the fixtures make them).
    public init(faceIndex: Int, score: Double, box: (x: Double, y: Double, width: Double, height: Double),
                points5: [Point2],
                landmarks: Landmarks68, matrix: Affine2D, faceType: String, cropSize: Int, cropFormat: String,
                crop: Data,
                histogram: [Float], blur: Double, motionBlur: Double, yaw: Double, pitch: Double, roll: Double,
                brightness: Double, hue: Double, faceSize: Double, landmarkScore: Double? = nil) {
        self.faceIndex = faceIndex; self.score = score; self.box = box; self.points5 = points5
        self.landmarks = landmarks
        self.matrix = matrix; self.faceType = faceType; self.cropSize = cropSize; self.cropFormat = cropFormat
        self.crop = crop; self.histogram = histogram; self.blur = blur; self.motionBlur = motionBlur
        self.yaw = yaw; self.pitch = pitch; self.roll = roll; self.brightness = brightness; self.hue = hue
        self.faceSize = faceSize; self.landmarkScore = landmarkScore
    }
}

/// A processed frame and the faces found in it: the extraction engine's unit of work.
public struct ExtractedFrame: Sendable {
    /// The media the frame is from.
    public var mediaId: Int64
    /// Its index in the media.
    public var frameIndex: Int
    /// Its time, in seconds.
    public var pts: Double
    /// Why it could not be decoded, if it could not (a frame with an error has no faces).
    public var error: String?
    /// The faces found in it (none is a result, not an error).
    public var faces: [NewFace]
    /// A processed frame with each field given.
    public init(mediaId: Int64, frameIndex: Int, pts: Double, error: String? = nil, faces: [NewFace]) {
        self.mediaId = mediaId; self.frameIndex = frameIndex; self.pts = pts; self.error = error; self.faces = faces
    }
}

/// A model: architecture and options fixed at creation.
public struct ModelRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    /// The table the records live in.
    public static let databaseTableName = "model"
    /// The row id (nil before the insert).
    public var id: Int64?
    /// The model's name, unique in the project.
    public var name: String
    /// Its architecture (`quick96`, `tiny`, `h128`, ...).
    public var architecture: String
    /// Side of its square faces, in pixels.
    public var resolution: Int
    /// The aligned face type it trains on.
    public var faceType: String
    /// Its options, as JSON, fixed at creation.
    public var optionsJson: String
    /// The seed of its initial weights and of its training's random choices.
    public var seed: Int64
    /// When it was created (ISO 8601, UTC).
    public var createdAt: String?
    /// Maps the properties onto the table's snake_case columns.
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    /// Maps the table's snake_case columns onto the properties.
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    /// A model row with each field given (`createdAt` defaults to now).
    public init(id: Int64? = nil, name: String, architecture: String, resolution: Int, faceType: String,
                optionsJson: String, seed: Int64) {
        self.id = id; self.name = name; self.architecture = architecture; self.resolution = resolution
        self.faceType = faceType; self.optionsJson = optionsJson; self.seed = seed; self.createdAt = isoNow()
    }
    /// Keeps the row id SQLite gave the new row.
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A saved checkpoint (without its tensors).
public struct CheckpointRecord: Codable, Sendable, Equatable, FetchableRecord {
    /// The checkpoint's id.
    public var id: Int64
    /// The model it belongs to.
    public var modelId: Int64
    /// That model's name.
    public var modelName: String
    /// The training iteration it was saved at.
    public var iteration: Int
    /// When it was saved (ISO 8601, UTC).
    public var createdAt: String
    /// The src loss, smoothed over the last iterations.
    public var lossSrc: Double?
    /// The dst loss, smoothed over the last iterations.
    public var lossDst: Double?
    /// The src loss on the held-out faces.
    public var valLossSrc: Double?
    /// The dst loss on the held-out faces.
    public var valLossDst: Double?
    /// The mean of the two validation losses.
    public var valLoss: Double?
    /// Cumulative training time, in seconds.
    public var trainSeconds: Double
    /// Whether its tensors were pruned (deleted to save space: its row and losses stay).
    public var tensorsPruned: Bool
    /// Its tags, comma-separated (nil: none).
    public var tags: String?
    /// Size of its stored tensors, in bytes.
    public var bytes: Int64
    /// Maps the table's snake_case columns onto the properties.
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// The current time as the project file writes it: ISO-8601 UTC with milliseconds.
func isoNow() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date())
}
