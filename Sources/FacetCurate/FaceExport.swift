/// `facet export`: the curated face set as image files named in sort order, plus a JSON-lines manifest.
import Foundation
import FacetCore
import FacetMedia
import FacetStore

/// The image format of exported faces: `dfl` is JPEG with DeepFaceLab's APP15 metadata block.
public enum ExportFormat: String, Sendable, CaseIterable {
    case jpg, png, dfl
    var storedName: String { self == .png ? "png" : "jpeg" }
    var fileExtension: String { self == .png ? "png" : "jpg" }
}

/// One manifest line: which face a file is, where it came from, and its signatures.
public struct ExportManifestLine: Codable, Sendable, Equatable {
    /// The face's signatures as stored, and the detector's score.
    public struct Signatures: Codable, Sendable, Equatable {
        /// One per signature (see `FaceSignatures`); `score` is the detector's confidence.
        public var blur, motionBlur, yaw, pitch, roll, brightness, hue, faceSize, score: Double
    }
    /// The file's place in the export order, from 1.
    public var position: Int
    /// The file's name inside the export folder.
    public var file: String
    /// The face's id in the project.
    public var faceId: Int64
    /// The face's role: `src` or `dst`.
    public var role: String
    /// The face's curation status: `keep` or `trash`.
    public var status: String
    /// The name of the media the face was found in.
    public var media: String
    /// The face's frame in that media.
    public var frameIndex: Int
    /// The face's position among the faces of its frame.
    public var faceIndex: Int
    /// The aligned face type of the exported image (`full`, `whole`, ...).
    public var faceType: String
    /// Pixel size of the exported square image.
    public var size: Int
    /// The 68 landmarks in the exported image's coordinates, as [x, y] pairs.
    public var landmarks: [[Double]]
    /// Source frame -> exported image, 2x3 row-major [a, b, tx, c, d, ty].
    public var matrix: [Double]
    /// The face's stored signatures.
    public var signatures: Signatures
    /// The face's tags.
    public var tags: [String]
}

/// What an export wrote.
public struct ExportResult: Sendable {
    /// The folder the files were written to.
    public var folder: String
    /// How many image files were written.
    public var files: Int
    /// The path of the manifest written beside them.
    public var manifest: String
}

/// Writes a curated face set to a folder of image files with a manifest.
public enum FaceExport {
    /// The manifest's file name inside the export folder.
    public static let manifestName = "manifest.jsonl"

    /// Writes the faces matching `query`, in the order of `sort` (face id when nil), to `folder`, as
    /// `000001_f<id>.<format>` (the number is the position in the order), and `manifest.jsonl`.
    /// The files are written into a hidden staging folder inside `folder` and moved into place at
    /// the end, so a failure leaves `folder` as it was. Refuses a non-empty folder unless `force`
    /// (which replaces an earlier export's files and manifest there and leaves other files alone).
    /// Stored crops already in the asked format and size are copied byte for byte; others are
    /// decoded, resized (area when shrinking) and encoded (JPEG quality 95).
    public static func export(_ project: Project, query: FaceQuery, sort: CurationSort?, to folder: String,
                              format: ExportFormat = .jpg, size: Int? = nil, force: Bool = false,
                              progress: ((Int, Int) -> Void)? = nil) throws -> ExportResult {
        if let size, !(8...4096).contains(size) {
            throw FacetError.setting("size", "must be 8...4096 pixels, got \(size)")
        }
        let ids = try sort.map { try project.sortedFaceIDs(matching: query,
                                                           by: $0) } ?? project.faceIDs(matching: query)
        try prepareFolder(folder, force: force)
        let media = Dictionary(uniqueKeysWithValues: try project.media().compactMap { m in m.id.map { ($0, m.name) } })
        let tags = try project.tags(faceIDs: ids)
        let origins = format == .dfl ? try project.faceOrigins(ids: ids) : [:]
        let fm = FileManager.default
        let staging = folder + "/.facet-export-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw FacetError.file(folder, "cannot be written (\(reason(error)))")
        }
        var moved: [String] = []
        do {
            let digits = max(6, String(ids.count).count)
            var manifest = Data()
            let enc = JSONEncoder()
            enc.keyEncodingStrategy = .convertToSnakeCase
            enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var names: [String] = []
            for (k, id) in ids.enumerated() {
                let face = try project.face(id: id)
                let crop = try project.faceCrop(id: id)
                let outSize = size ?? face.cropSize
                let name = String(repeating: "0",
                                  count: max(0,
                                             digits - String(k + 1).count)) + "\(k + 1)_f\(id).\(format.fileExtension)"
                var bytes = try encodedFace(crop, id: id, cropSize: face.cropSize, format: format, size: outSize)
                let scale = Double(outSize) / Double(face.cropSize)
                let m = Affine2D(a: scale, b: 0, tx: 0, c: 0, d: scale, ty: 0).concatenating(face.imageToFace)
                let lm = (face.landmarks68 ?? Landmarks68(points: Array(repeating: Point2(0, 0),
                                                                        count: 68))).transformed(by: m)
                if format == .dfl {
                    let info = dflInfo(face: face, origin: origins[id], landmarks: lm, matrix: m, scale: scale)
                    do {
                        bytes = try DFLJPG.write(info, into: bytes)
                    } catch let e as FacetError {
                        throw FacetError("face \(id): \(e.message)")
                    }
                }
                try write(bytes, to: staging + "/" + name)
                names.append(name)
                let line = ExportManifestLine(
                    position: k + 1, file: name, faceId: id, role: face.role.rawValue, status: face.status.rawValue,
                    media: media[face.mediaId] ?? "media \(face.mediaId)", frameIndex: face.frameIndex,
                    faceIndex: face.faceIndex,
                    faceType: face.faceType, size: outSize, landmarks: lm.points.map { [$0.x, $0.y] }, matrix: m.values,
                    signatures: .init(blur: face.blur, motionBlur: face.motionBlur, yaw: face.yaw, pitch: face.pitch,
                                      roll: face.roll,
                                      brightness: face.brightness, hue: face.hue, faceSize: face.faceSize,
                                      score: face.score),
                    tags: tags[id] ?? [])
                manifest.append(try enc.encode(line))
                manifest.append(0x0A)
                progress?(k + 1, ids.count)
            }
            try write(manifest, to: staging + "/" + manifestName)
            if force { try removeEarlierExport(in: folder) }
            for name in names + [manifestName] {
                do {
                    try fm.moveItem(atPath: staging + "/" + name, toPath: folder + "/" + name)
                } catch {
                    throw FacetError.file(folder + "/" + name, "cannot be written (\(reason(error)))")
                }
                moved.append(folder + "/" + name)
            }
            try? fm.removeItem(atPath: staging)
            return ExportResult(folder: folder, files: ids.count, manifest: folder + "/" + manifestName)
        } catch {
            for path in moved { try? fm.removeItem(atPath: path) }
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }

    /// DeepFaceLab's names of Facet's face types.
    static let dflFaceTypes = ["half": "half_face", "mid_full": "midfull_face", "full": "full_face",
                               "whole_face": "whole_face", "head": "head"]

    /// The APP15 fields of an exported face: what it brought from DeepFaceLab when it came from there (its
    /// landmarks at full precision, source frame, rect, landmarks and matrix, polygons, mask), Facet's own
    /// otherwise (the frame named as DeepFaceLab names extracted frames, `%05d.png` from 1). Everything in
    /// the face image's pixels is scaled to the exported size.
    static func dflInfo(face: FaceRecord, origin: FaceOrigin?, landmarks lm: Landmarks68, matrix m: Affine2D,
                        scale: Double) -> DFLFaceInfo {
        func pairs(_ flat: [Double], _ k: Double = 1) -> [[Double]] {
            stride(from: 0, to: flat.count - 1, by: 2).map { [flat[$0] * k, flat[$0 + 1] * k] }
        }
        var info = DFLFaceInfo(faceType: dflFaceTypes[face.faceType] ?? face.faceType)
        let fromDFL = origin?.tool == "dfl" && face.imageToFace == .identity
        info.landmarks = fromDFL && origin?.landmarks != nil ? pairs(origin!.landmarks!, scale) : lm.points.map {
            [$0.x, $0.y]
        }
        info.sourceFilename = origin?.sourceFilename ?? String(format: "%05d.png", face.frameIndex + 1)
        info.sourceRect = origin?.sourceRect ?? [face.boxX, face.boxY, face.boxX + face.boxW, face.boxY + face.boxH]
        info.sourceLandmarks = origin?.sourceLandmarks.map { pairs($0) } ?? face.landmarks68?.points.map { [$0.x,
                                                                                                            $0.y] }
        if let sm = origin?.sourceMatrix, fromDFL {
            info.imageToFaceMatrix = Affine2D(a: scale, b: 0, tx: 0, c: 0, d: scale,
                                              ty: 0).concatenating(Affine2D(sm)).values
        } else {
            info.imageToFaceMatrix = m.values
        }
        if let json = origin?.segIEPolysJSON,
            let polys = try? JSONDecoder().decode([DFLFaceInfo.SegPolygon].self, from: Data(json.utf8)) {
            info.segIEPolys = polys.map {
                DFLFaceInfo.SegPolygon(type: $0.type, pts: $0.pts.map { $0.map { $0 * scale } })
            }
        }
        info.xsegMask = origin?.xsegMask
        return info
    }

    /// The face's image in `format` at `size` pixels: the stored bytes when they already are.
    static func encodedFace(_ crop: (format: String, data: Data), id: Int64, cropSize: Int, format: ExportFormat,
                            size: Int) throws -> Data {
        if crop.format == format.storedName && size == cropSize { return crop.data }
        do {
            var img: Image
            switch ImageFile.kind(of: crop.data) {
            case .jpeg: img = try JPEGCodec.decode(crop.data)
            case .png: img = try PNGCodec.decode(crop.data).rgb()
            case nil: throw FacetError("its stored crop is not a PNG or JPEG image")
            }
            if img.width != size || img.height != size {
                img = img.resized(width: size, height: size, filter: size < img.width ? .area : .bilinear)
            }
            return format == .png ? try PNGCodec.encode(img) : try JPEGCodec.encode(img, quality: 95)
        } catch let e as FacetError {
            throw FacetError("face \(id): \(e.message)")
        }
    }

    /// Creates `folder` if needed; refuses a file, an unwritable folder, or a non-empty one without `force`.
    static func prepareFolder(_ folder: String, force: Bool) throws {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: folder, isDirectory: &isDir) {
            guard isDir.boolValue else { throw FacetError.file(folder, "is a file, not a folder") }
            let entries = (try? fm.contentsOfDirectory(atPath: folder)) ?? []
            if !entries.isEmpty && !force {
                throw FacetError.file(folder,
                                      "is not empty (\(entries.count) entries): choose an empty folder, "
                                      + "or use --force to write into it")
            }
        } else {
            do {
                try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw FacetError.file(folder, "cannot be created (\(reason(error)))")
            }
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw FacetError.file(folder, "cannot be written (\(String(cString: strerror(errno))))")
        }
    }

    /// With --force: the files an earlier export wrote (listed in its manifest) and the manifest.
    static func removeEarlierExport(in folder: String) throws {
        let manifest = folder + "/" + manifestName
        guard let data = FileManager.default.contents(atPath: manifest) else { return }
        let dec = JSONDecoder()
        dec.keyDecodingStrategy = .convertFromSnakeCase
        for line in data.split(separator: 0x0A) {
            if let entry = try? dec.decode(ExportManifestLine.self, from: Data(line)), !entry.file.contains("/"),
                !entry.file.hasPrefix(".") {
                try? FileManager.default.removeItem(atPath: folder + "/" + entry.file)
            }
        }
        try? FileManager.default.removeItem(atPath: manifest)
    }

    static func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path))
        } catch {
            throw FacetError.file(path, "cannot be written (\(reason(error)))")
        }
    }

    static func reason(_ error: Error) -> String {
        if let e = error as? CocoaError, let u = e.userInfo[NSUnderlyingErrorKey] as? NSError,
            u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code)))
        }
        if let e = error as? FacetError { return e.message }
        return (error as NSError).localizedDescription
    }
}
