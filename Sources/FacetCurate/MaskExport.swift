/// `facet mask`: hand-drawn mask labels in and out of a project (JSON lines), and each face's mask as a PNG file.
import Foundation
import FacetCore
import FacetMedia
import FacetStore

/// What `MaskExport.exportMasks` wrote.
public struct MaskExportResult: Sendable, Equatable {
    /// The folder written.
    public var folder: String
    /// Masks drawn from a face's labels.
    public var labelled: Int
    /// Masks from a predicted mask (faces without labels).
    public var predicted: Int
    /// Faces with neither labels nor a predicted mask: no file written.
    public var missing: Int = 0
}

/// Label files in and out of a project, and masks as image files.
public enum MaskExport {
    /// A face's predicted mask (`crop_size x crop_size`, 8-bit, row-major), or nil when it has none: the export's
    /// source for faces without labels (`storedPredictions` reads the ones `facet xseg apply` stored).
    public typealias PredictedMaskSource = @Sendable (FaceRecord) throws -> [UInt8]?

    /// The segmenter's stored predictions (`facet xseg apply`), scaled from the network's resolution to the crop
    /// (bilinear, as training and merge scale them). A face has none when it was never applied, or when its stored
    /// mask is the drawn mask of labels cleared since (a stored mask with a label revision is not a prediction).
    public static func storedPredictions(_ project: Project) -> PredictedMaskSource {
        { face in
            guard let m = try project.predictedMask(faceID: face.id), m.labelRevision.isEmpty else { return nil }
            let image: Image
            do { image = try PNGCodec.decode(m.png).grey() } catch {
                throw FacetError.file(project.path, "face \(face.id): its predicted mask cannot be decoded (\(error)); "
                                      + "run `facet xseg apply \(project.path)` again", kind: .corrupt)
            }
            let size = face.cropSize
            return image.width == size && image.height == size ? image.pixels
                : image.resized(width: size, height: size).pixels
        }
    }

    /// Reads the label file at `path` (JSON lines, see `MaskLabels`) and stores every line's polygons in one
    /// transaction, recorded as one undoable change. A bad line, an unknown face or a point outside a face's crop
    /// is one error naming the file and line, and nothing changes. Returns the change and the lines read.
    public static func importLabels(_ project: Project, from path: String,
                                    command: String) throws -> (summary: CurationChangeSummary, lines: Int) {
        try importLabels(project, lines: try readLabelFile(path), from: path, command: command)
    }

    /// Stores label lines read from `path` (`readLabelFile`) as `importLabels(_:from:command:)` does.
    public static func importLabels(_ project: Project, lines: [MaskLabelLine], from path: String,
                                    command: String) throws -> (summary: CurationChangeSummary, lines: Int) {
        let places = lines.map { "\(path):\($0.line)" }
        let summary = try project.setMaskPolygons(lines.map { ($0.face, $0.polygons) }, command: command,
                                                  origin: { places[$0] })
        return (summary, lines.count)
    }

    /// The lines of the label file at `path`, checked as far as they can be without a project (see
    /// `MaskLabels.parse`); a file that cannot be read or holds no line is an error naming it.
    public static func readLabelFile(_ path: String) throws -> [MaskLabelLine] {
        guard let data = FileManager.default.contents(atPath: path) else {
            var isDir: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            throw FacetError.file(path, !exists ? "no such file" : isDir.boolValue ? "is a folder, not a label file"
                                                                                    : "cannot be read")
        }
        let lines = try MaskLabels.parse(data, path: path)
        guard !lines.isEmpty else { throw FacetError.file(path, "holds no label lines; nothing changed") }
        return lines
    }

    /// The label lines of every labelled face of `role` (nil: both), by face id.
    public static func labelLines(_ project: Project, role: Role?) throws -> [String] {
        let ids = try project.labelledFaceIDs(role: role)
        let polygons = try project.maskPolygons(faceIDs: ids)
        return ids.map { MaskLabels.line(face: $0, polygons: polygons[$0] ?? []) }
    }

    /// Writes the label lines (`labelLines`) to `path`, replacing it whole (written beside it, then renamed).
    /// Returns how many faces it holds.
    @discardableResult
    public static func exportLabels(_ project: Project, role: Role?, to path: String) throws -> Int {
        let lines = try labelLines(project, role: role)
        let text = lines.map { $0 + "\n" }.joined()
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw FacetError.file(path, "cannot be written (\(FaceExport.reason(error)))")
        }
        return lines.count
    }

    /// Writes each face's current mask as `f<ID>.png` (8-bit grey, the crop's size) into `folder`: the face's
    /// labels rasterized where it has any, else `predicted`'s mask when it has one; a face with neither gets no
    /// file (counted in `missing`). Faces of `role` (nil: both), every status. The files go into a staging folder
    /// first and are moved into place at the end, so a failure leaves `folder` as it was; a non-empty folder is
    /// refused unless `force` (files of the same name are then replaced).
    public static func exportMasks(_ project: Project, role: Role?, to folder: String, force: Bool = false,
                                   predicted: PredictedMaskSource? = nil,
                                   progress: ((Int, Int) -> Void)? = nil) throws -> MaskExportResult {
        let ids = predicted == nil ? try project.labelledFaceIDs(role: role)
                                   : try project.faceIDs(matching: FaceQuery(role: role))
        try FaceExport.prepareFolder(folder, force: force)
        let fm = FileManager.default
        let staging = folder + "/.facet-masks-\(getpid())-\(UUID().uuidString.prefix(8))"
        do {
            try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw FacetError.file(folder, "cannot be written (\(FaceExport.reason(error)))")
        }
        defer { try? fm.removeItem(atPath: staging) }
        var result = MaskExportResult(folder: folder, labelled: 0, predicted: 0)
        var names: [String] = []
        var start = 0
        while start < ids.count {
            let chunk = Array(ids[start..<min(ids.count, start + 256)])
            var q = FaceQuery()
            q.ids = chunk
            let faces = Dictionary(uniqueKeysWithValues: try project.faces(matching: q).map { ($0.id, $0) })
            let labels = try project.maskPolygons(faceIDs: chunk)
            for id in chunk {
                guard let face = faces[id] else { continue }
                let size = face.cropSize
                let pixels: [UInt8]
                if let polygons = labels[id], !polygons.isEmpty {
                    pixels = MaskPolygon.rasterize(polygons, width: size, height: size)
                    result.labelled += 1
                } else if let mask = try predicted?(face) {
                    guard mask.count == size * size else {
                        throw FacetError("face \(id): its predicted mask has \(mask.count) pixels, not \(size)x\(size)")
                    }
                    pixels = mask
                    result.predicted += 1
                } else {
                    result.missing += 1
                    continue
                }
                let name = "f\(id).png"
                try FaceExport.write(try PNGCodec.encode(Image(width: size, height: size, channels: 1,
                                                               pixels: pixels)), to: staging + "/" + name)
                names.append(name)
            }
            start += chunk.count
            progress?(start, ids.count)
        }
        var moved: [String] = []
        do {
            for name in names {
                let target = folder + "/" + name
                if force { try? fm.removeItem(atPath: target) }
                do {
                    try fm.moveItem(atPath: staging + "/" + name, toPath: target)
                } catch {
                    throw FacetError.file(target, "cannot be written (\(FaceExport.reason(error)))")
                }
                moved.append(target)
            }
        } catch {
            for path in moved { try? fm.removeItem(atPath: path) }
            throw error
        }
        return result
    }
}
