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
    public static let databaseTableName = "media"
    public var id: Int64?
    public var role: Role
    public var name: String
    public var kind: MediaKind
    public var storage: MediaStorage
    public var path: String?
    public var sha256: String
    public var byteSize: Int64
    public var container: String
    public var codec: String
    public var width: Int
    public var height: Int
    public var fps: Double
    public var frameCount: Int
    public var duration: Double
    public var hasAudio: Bool
    public var importedAt: String?

    /// A media row from its parts (`importedAt` defaults to now).
    public init(id: Int64? = nil, role: Role, name: String, kind: MediaKind, storage: MediaStorage, path: String?, sha256: String,
                byteSize: Int64, container: String, codec: String, width: Int, height: Int, fps: Double,
                frameCount: Int, duration: Double, hasAudio: Bool, importedAt: String? = nil) {
        self.id = id; self.role = role; self.name = name; self.kind = kind; self.storage = storage; self.path = path
        self.sha256 = sha256; self.byteSize = byteSize; self.container = container; self.codec = codec
        self.width = width; self.height = height; self.fps = fps; self.frameCount = frameCount
        self.duration = duration; self.hasAudio = hasAudio; self.importedAt = importedAt ?? isoNow()
    }

    /// The same from the words stored in the file ("video", "linked"), as code written before the enums spelled them.
    @available(*, deprecated, message: "use MediaKind and MediaStorage")
    public init(id: Int64? = nil, role: Role, name: String, kind: String, storage: String, path: String?, sha256: String,
                byteSize: Int64, container: String, codec: String, width: Int, height: Int, fps: Double,
                frameCount: Int, duration: Double, hasAudio: Bool, importedAt: String? = nil) {
        self.init(id: id, role: role, name: name, kind: MediaKind(rawValue: kind) ?? .video, storage: MediaStorage(rawValue: storage) ?? .linked,
                  path: path, sha256: sha256, byteSize: byteSize, container: container, codec: codec, width: width, height: height,
                  fps: fps, frameCount: frameCount, duration: duration, hasAudio: hasAudio, importedAt: importedAt)
    }

    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    enum CodingKeys: String, CodingKey {
        case id, role, name, kind, storage, path, sha256, byteSize, container, codec, width, height, fps
        case frameCount, duration, hasAudio, importedAt
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A face row without its image bytes (crop and histogram live in their own tables).
public struct FaceRecord: Codable, Sendable, Equatable, FetchableRecord {
    public var id: Int64
    public var role: Role
    public var mediaId: Int64
    public var frameId: Int64
    public var frameIndex: Int
    public var faceIndex: Int
    public var pts: Double
    public var extractionId: Int64
    public var score: Double
    public var boxX: Double
    public var boxY: Double
    public var boxW: Double
    public var boxH: Double
    public var points5: Data?
    public var landmarks: Data
    public var matrix: Data
    public var faceType: String
    public var cropSize: Int
    public var blur: Double
    public var motionBlur: Double
    public var yaw: Double
    public var pitch: Double
    public var roll: Double
    public var brightness: Double
    public var hue: Double
    public var faceSize: Double
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
    public var faceIndex: Int
    public var score: Double
    public var box: (x: Double, y: Double, width: Double, height: Double)
    public var points5: [Point2]
    public var landmarks: Landmarks68
    public var matrix: Affine2D
    public var faceType: String
    public var cropSize: Int
    public var cropFormat: String   // jpeg | png
    public var crop: Data
    public var histogram: [Float]   // 768
    public var blur: Double
    public var motionBlur: Double
    public var yaw: Double
    public var pitch: Double
    public var roll: Double
    public var brightness: Double
    public var hue: Double
    public var faceSize: Double
    /// What the face brought from another tool's file, stored in `face_origin` with it.
    public var origin: FaceOrigin? = nil
    /// The face-recognition descriptor (128 floats), when the extraction computes it.
    public var embedding: [Float]?
    /// How far the landmarks can be trusted, 0...1 (nil: not scored, e.g. a face imported as a crop).
    public var landmarkScore: Double?
    /// The detector that found it (`mtcnn`, `cnn`); nil when no detector did (imported landmarks).
    public var detector: String?

    public init(faceIndex: Int, score: Double, box: (x: Double, y: Double, width: Double, height: Double), points5: [Point2],
                landmarks: Landmarks68, matrix: Affine2D, faceType: String, cropSize: Int, cropFormat: String, crop: Data,
                histogram: [Float], blur: Double, motionBlur: Double, yaw: Double, pitch: Double, roll: Double,
                brightness: Double, hue: Double, faceSize: Double, landmarkScore: Double? = nil) {
        self.faceIndex = faceIndex; self.score = score; self.box = box; self.points5 = points5; self.landmarks = landmarks
        self.matrix = matrix; self.faceType = faceType; self.cropSize = cropSize; self.cropFormat = cropFormat
        self.crop = crop; self.histogram = histogram; self.blur = blur; self.motionBlur = motionBlur
        self.yaw = yaw; self.pitch = pitch; self.roll = roll; self.brightness = brightness; self.hue = hue
        self.faceSize = faceSize; self.landmarkScore = landmarkScore
    }
}

/// A processed frame and the faces found in it: the extraction engine's unit of work.
public struct ExtractedFrame: Sendable {
    public var mediaId: Int64
    public var frameIndex: Int
    public var pts: Double
    public var error: String?
    public var faces: [NewFace]
    public init(mediaId: Int64, frameIndex: Int, pts: Double, error: String? = nil, faces: [NewFace]) {
        self.mediaId = mediaId; self.frameIndex = frameIndex; self.pts = pts; self.error = error; self.faces = faces
    }
}

/// A model: architecture and options fixed at creation.
public struct ModelRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "model"
    public var id: Int64?
    public var name: String
    public var architecture: String
    public var resolution: Int
    public var faceType: String
    public var optionsJson: String
    public var seed: Int64
    public var createdAt: String?
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public init(id: Int64? = nil, name: String, architecture: String, resolution: Int, faceType: String, optionsJson: String, seed: Int64) {
        self.id = id; self.name = name; self.architecture = architecture; self.resolution = resolution
        self.faceType = faceType; self.optionsJson = optionsJson; self.seed = seed; self.createdAt = isoNow()
    }
    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A saved checkpoint (without its tensors).
public struct CheckpointRecord: Codable, Sendable, Equatable, FetchableRecord {
    public var id: Int64
    public var modelId: Int64
    public var modelName: String
    public var iteration: Int
    public var createdAt: String
    public var lossSrc: Double?
    public var lossDst: Double?
    public var valLossSrc: Double?
    public var valLossDst: Double?
    public var valLoss: Double?
    public var trainSeconds: Double
    public var tensorsPruned: Bool
    public var tags: String?
    public var bytes: Int64
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// The current time as the project file writes it: ISO-8601 UTC with milliseconds.
func isoNow() -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.string(from: Date())
}
