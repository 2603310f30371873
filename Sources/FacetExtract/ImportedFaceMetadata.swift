/// The metadata another tool stored in an aligned face file, as `facet import-faces` uses it: DeepFaceLab's
/// APP15 block in JPEGs (and faceswap's `faceswap` PNG chunk).
import Foundation
import FacetCore
import FacetMedia
import FacetStore
import FacetVision

/// Landmarks, face type and origin record read from an aligned face file.
struct ImportedFaceMetadata: Sendable, Equatable {
    /// 68 (x, y) at the file's precision: in the image's pixels (DeepFaceLab), or in the source frame's
    /// (faceswap, whose files carry no face-image landmarks: see `inFrame`).
    var landmarks: [[Double]]
    /// Whether `landmarks` are the source frame's: the face-image landmarks are then found on the image and
    /// the frame -> face matrix fitted between the two sets (faceswap's own alignment needs a 3D pose fit).
    var inFrame = false
    var faceType: FaceType
    /// What goes into `face_origin` (its file name is set by the importer).
    var origin: FaceOrigin

    /// DeepFaceLab's face type names, and Facet's type for each.
    static let dflFaceTypes: [String: FaceType] = [
        "half_face": .half, "midfull_face": .midFull, "full_face": .full, "full_face_no_align": .full,
        "whole_face": .wholeFace, "head": .head, "head_no_align": .head,
    ]

    /// The metadata of a file's bytes, or nil when it carries none with landmarks (then landmarks are
    /// detected). A metadata block that is damaged, hostile or of the wrong shape is an error.
    static func read(_ data: Data, kind: ImageFile.Kind, file: String) throws -> ImportedFaceMetadata? {
        switch kind {
        case .jpeg:
            guard let info = try DFLJPG.read(data) else { return nil }
            return try fromDFL(info)
        case .png:
            guard let info = try FaceswapPNG.read(data) else { return nil }
            return fromFaceswap(info)
        }
    }

    /// faceswap's fields: the frame landmarks and box, the source frame and face index; the whole dict
    /// (masks, identity) kept as JSON.
    static func fromFaceswap(_ info: FaceswapFaceInfo) -> ImportedFaceMetadata {
        var o = FaceOrigin(tool: "faceswap", fileName: "")
        o.sourceFilename = info.sourceFilename
        o.sourceRect = [info.box[0], info.box[1], info.box[0] + info.box[2], info.box[1] + info.box[3]]
        o.sourceLandmarks = info.landmarks.flatMap { $0 }
        o.extraJSON = info.raw.jsonText
        return ImportedFaceMetadata(landmarks: info.landmarks, inFrame: true, faceType: .full, origin: o)
    }

    /// DeepFaceLab's fields as Facet keeps them; nil when the block has no landmarks.
    static func fromDFL(_ info: DFLFaceInfo) throws -> ImportedFaceMetadata? {
        guard let landmarks = info.landmarks else { return nil }
        let name = info.faceType ?? "full_face"
        guard let type = dflFaceTypes[name] else {
            throw FacetError("APP15 face type '\(name.prefix(40))' is not one Facet imports "
                             + "(\(dflFaceTypes.keys.sorted().joined(separator: ", ")))")
        }
        var o = FaceOrigin(tool: "dfl", fileName: "")
        o.sourceFilename = info.sourceFilename
        o.sourceRect = info.sourceRect
        o.sourceLandmarks = info.sourceLandmarks?.flatMap { $0 }
        o.sourceMatrix = info.imageToFaceMatrix
        o.landmarks = landmarks.flatMap { $0 }
        if let polys = info.segIEPolys {
            o.segIEPolysJSON = String(decoding: try JSONEncoder().encode(polys), as: UTF8.self)
        }
        o.xsegMask = info.xsegMask
        var extra = info.extra
        if name != type.dflName { extra.insert(("face_type", .str(name)), at: 0) }
        if !extra.isEmpty { o.extraJSON = PyValue.dict(extra.map { (.str($0.0), $0.1) }).jsonText }
        return ImportedFaceMetadata(landmarks: landmarks, faceType: type, origin: o)
    }
}

extension FaceType {
    /// DeepFaceLab's name of this face type.
    public var dflName: String {
        switch self {
        case .half: return "half_face"
        case .midFull: return "midfull_face"
        case .full: return "full_face"
        case .wholeFace: return "whole_face"
        case .head: return "head"
        }
    }
}
