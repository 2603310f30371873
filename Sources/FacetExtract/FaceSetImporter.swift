/// `facet import-faces`: a folder of already-aligned face images (a DeepFaceLab `aligned` folder) into the
/// project as faces, with signatures computed. Landmarks come from the file's own metadata when it has some
/// (DeepFaceLab's APP15 block), kept as they are, and are found on the image otherwise.
import Foundation
import Dispatch
import FacetCore
import FacetMedia
import FacetStore
import FacetVision

/// What `facet import-faces` did.
public struct FaceSetImportSummary: Sendable {
    /// The stills media the folder was stored as.
    public var media: MediaRecord
    /// Faces stored by this run (files already stored by an interrupted run are not counted).
    public var facesStored = 0
    /// Files whose face the detector did not find: their landmarks were fitted in the box an aligned
    /// face of this type occupies.
    public var withoutDetection = 0
    /// Faces whose landmarks and source came from the file's metadata (no detection).
    public var fromMetadata = 0
    /// Wall-clock seconds the run took.
    public var seconds = 0.0
}

/// A checked import of a folder (see `FaceSetImporter.plan`).
public struct FaceSetPlan: Sendable {
    /// The folder to import.
    public var folder: String
    /// The role the faces go to.
    public var role: Role
    /// The image files in frame order, and whether each is PNG or JPEG.
    public var files: [String]
    var kinds: [ImageFile.Kind]
    /// Each file's metadata from another tool, when it has some with landmarks.
    var metadata: [ImportedFaceMetadata?]
    /// The detection models, needed only when some file has no landmarks of its own.
    var mtcnnPath: String?
    var predictorPath: String?
    /// How many files carry their own landmarks.
    public var withMetadata: Int { metadata.filter { $0 != nil }.count }
    /// The media an interrupted import of this folder left, and the files it stored.
    public var existing: MediaRecord?
    /// Indexes of the files the interrupted import already stored (skipped by this one).
    public var done: Set<Int> = []
}

/// `facet import-faces`: a folder of aligned face images from another tool into the project.
public enum FaceSetImporter {
    /// Imports every PNG/JPEG in `folder` (numeric name order) as one face each. The folder is
    /// stored as a stills media of `role` (frame i = file i, so each face keeps its file as its source
    /// frame), and each image, bytes unchanged, is the face's crop: its matrix is the identity and its
    /// landmarks are found on the image itself (MTCNN for the box, dlib's 68-point model, as
    /// extraction does). All files are checked first: a file that is not a square PNG/JPEG of at least
    /// 32 pixels is an error naming it, and nothing is written. A rerun after an interruption stores
    /// the files not yet stored; a folder already imported in full is refused.
    public static func importFaces(folder: String, role: Role, faceType: FaceType, into project: Project,
                                   describer: (any FaceDescriber)? = nil,
                                   progress: (Int, Int) -> Void = { _, _ in }) throws -> FaceSetImportSummary {
        try importFaces(try plan(folder: folder, role: role, in: project), faceType: faceType, into: project,
                        describer: describer, progress: progress)
    }

    /// What an import of `folder` will do, found by reading only (so the command can check everything
    /// before it opens the project for writing): the files, each checked to be a square PNG or JPEG of
    /// at least 32 pixels, the model files, and the media an interrupted run of the same folder left,
    /// with the files it stored. A bad file, missing models, or a folder already imported in full is
    /// an error naming it.
    public static func plan(folder: String, role: Role, in project: Project) throws -> FaceSetPlan {
        let stills = try StillsFolder(path: folder)
        var kinds: [ImageFile.Kind] = []
        var metadata: [ImportedFaceMetadata?] = []
        for file in stills.files {
            let data = try readFile(file)
            guard let kind = ImageFile.kind(of: data) else { throw FacetError.file(file, "is not a PNG or JPEG image") }
            do {
                metadata.append(try ImportedFaceMetadata.read(data, kind: kind, file: file))
            } catch let e as FacetError {
                throw FacetError.file(file, e.message)
            }
            let image = try ImageFile.read(path: file)
            guard image.width == image.height else {
                throw FacetError.file(file, "is \(image.width)x\(image.height): an aligned face image is square")
            }
            guard image.width >= 32 else {
                throw FacetError.file(file,
                                      "is \(image.width) pixels wide: aligned faces of at least 32 pixels are needed")
            }
            kinds.append(kind)
        }
        let needsDetection = metadata.contains { $0 == nil || $0!.inFrame }
        let models = needsDetection ? (try ModelFiles.mtcnnWeights(), try ModelFiles.shapePredictor()) : (nil, nil)
        let absolute = URL(fileURLWithPath: folder).standardizedFileURL.path
        var plan = FaceSetPlan(folder: folder, role: role, files: stills.files, kinds: kinds, metadata: metadata,
                               mtcnnPath: models.0, predictorPath: models.1)
        if let existing = try project.media(role: role).first(where: {
               $0.kind == .stills && $0.path == absolute && $0.frameCount == stills.files.count
           }),
           try stillsHash(stills.files) == existing.sha256 {
            let done = try project.processedFrames(mediaId: existing.id!)
            if done.count >= stills.files.count {
                throw FacetError.file(folder,
                                      "already imported as media \(existing.id!) "
                                      + "(\(role.rawValue) \(existing.name)) with its \(done.count) faces",
                                      kind: .conflict)
            }
            plan.existing = existing
            plan.done = done
        }
        return plan
    }

    /// Carries out `plan` (made on this project or another handle of the same file); with `describer`,
    /// each face's descriptor is stored too.
    public static func importFaces(_ plan: FaceSetPlan, faceType: FaceType, into project: Project,
                                   describer: (any FaceDescriber)? = nil,
                                   progress: (Int, Int) -> Void = { _, _ in }) throws -> FaceSetImportSummary {
        let start = Date()
        let role = plan.role, kinds = plan.kinds, files = plan.files, done = plan.done
        let metadata = plan.metadata
        let pipeline: FacePipeline?
        let provenance: ExtractionProvenance
        let options = "{\"import_faces\":true,\"face_type\":\"\(faceType.rawValue)\","
            + "\"from_metadata\":\(plan.withMetadata)}"
        if let mtcnnPath = plan.mtcnnPath, let predictorPath = plan.predictorPath {
            pipeline = FacePipeline(detector: try MTCNNDetector(weightsPath: mtcnnPath),
                                    shapePredictor: try ShapePredictor(path: predictorPath))
            provenance = ExtractionProvenance(role: role, detector: "mtcnn (import-faces)",
                                              detectorSHA256: try SHA256.hex(ofFile: mtcnnPath),
                                              landmarker: "dlib shape_predictor_68_face_landmarks",
                                              landmarkerSHA256: try SHA256.hex(ofFile: predictorPath),
                                              optionsJSON: options, recognizer: describer?.provenance)
        } else {
            pipeline = nil
            provenance = ExtractionProvenance(role: role, detector: "the files' own metadata (import-faces)",
                                              detectorSHA256: "",
                                              landmarker: "the files' own landmarks", landmarkerSHA256: "",
                                              optionsJSON: options,
                                              recognizer: describer?.provenance)
        }
        let media = try plan.existing ?? MediaImporter.importMedia(path: plan.folder, role: role, link: false,
                                                                   into: project)
        let run = try project.beginExtraction(provenance)
        var summary = FaceSetImportSummary(media: media)
        let todo = files.indices.filter { !done.contains($0) }
        let batch = 32
        var next = 0
        while next < todo.count {
            let indices = Array(todo[next..<min(todo.count, next + batch)])
            let results = Slots<(ExtractedFrame, Bool)>(count: indices.count)
            defer { results.free() }
            let failure = FirstFailure()
            DispatchQueue.concurrentPerform(iterations: indices.count) { k in
                let i = indices[k]
                do {
                    if let m = metadata[i], m.inFrame {
                        results.set(k,
                                    (try faceswapFace(file: files[i], kind: kinds[i], index: i, mediaId: media.id!,
                                                      faceType: faceType,
                                                         metadata: m, pipeline: pipeline!, describer: describer), true))
                    } else if let m = metadata[i] {
                        results.set(k,
                                    (try face(file: files[i], kind: kinds[i], index: i, mediaId: media.id!, metadata: m,
                                              describer: describer), true))
                    } else {
                        results.set(k,
                                    try face(file: files[i], kind: kinds[i], index: i, mediaId: media.id!,
                                             faceType: faceType, pipeline: pipeline!, describer: describer))
                    }
                } catch {
                    failure.set(error)
                }
            }
            if let e = failure.error { throw e }
            let frames = results.values()
            try project.storeFrames(frames.map(\.0), extractionId: run, role: role)
            summary.facesStored += frames.count
            summary.withoutDetection += frames.filter { !$0.1 }.count
            summary.fromMetadata += indices.filter { metadata[$0] != nil }.count
            next += indices.count
            progress(done.count + next, files.count)
        }
        try project.finishExtraction(id: run)
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    /// One aligned image as a face: the detection nearest the image centre (or, without one, the box
    /// the face takes in an aligned crop of `faceType`), 68 landmarks, signatures on the image itself.
    /// The Bool says whether the detector found the face.
    static func face(file: String, kind: ImageFile.Kind, index: Int, mediaId: Int64, faceType: FaceType,
                     pipeline: FacePipeline, describer: (any FaceDescriber)? = nil) throws -> (ExtractedFrame, Bool) {
        let bytes = try readFile(file)
        let image = try ImageFile.read(path: file)
        let size = Double(image.width)
        // The face fills much of an aligned image: look for faces of at least a fifth of its side, and
        // take the one whose centre is nearest the image's centre.
        let found = pipeline.detector.detect(image, minFaceSize: max(20, image.width / 5))
        let centred = found.filter { d in
            let cx = d.box.x + d.box.width / 2, cy = d.box.y + d.box.height / 2
            return abs(cx - size / 2) < size / 4 && abs(cy - size / 2) < size / 4
        }.min { a, b in
            func off(_ d: DetectedFace) -> Double {
                let cx = d.box.x + d.box.width / 2 - size / 2, cy = d.box.y + d.box.height / 2 - size / 2
                return cx * cx + cy * cy
            }
            return off(a) < off(b)
        }
        let box = centred?.box ?? alignedFaceBox(size: size, faceType: faceType)
        // With a detection, the fit starts from its five points and is scored; without, from the box.
        let fit = pipeline.fitter.fit(image: image, box: box, points5: centred?.points5 ?? [])
        let landmarks = fit.landmarks
        let s = faceSignatures(crop: image, landmarksInFace: landmarks, matrix: .identity)
        var face = NewFace(faceIndex: 0, score: centred?.score ?? 0, box: (box.x, box.y, box.width, box.height),
                           points5: centred?.points5 ?? [],
                           landmarks: landmarks, matrix: .identity, faceType: faceType.rawValue, cropSize: image.width,
                           cropFormat: kind == .png ? "png" : "jpeg", crop: bytes, histogram: s.histogram, blur: s.blur,
                           motionBlur: s.motionBlur, yaw: s.yaw, pitch: s.pitch, roll: s.roll, brightness: s.brightness,
                           hue: s.hue, faceSize: s.faceSize, landmarkScore: centred == nil ? nil : fit.score)
        if let d = describer?.descriptors(image: image.channels == 3 ? image : image.rgb(),
                                          landmarks: [landmarks]).first,
           d.count == FaceEmbedding.dimension { face.embedding = d }
        return (ExtractedFrame(mediaId: mediaId, frameIndex: index, pts: Double(index) / 25, faces: [face]),
                centred != nil)
    }

    /// One aligned image whose file carries its landmarks: no detection, the landmarks kept as they are
    /// (the face table holds them as float32, `face_origin` at the file's precision), the box their bounds.
    static func face(file: String, kind: ImageFile.Kind, index: Int, mediaId: Int64, metadata m: ImportedFaceMetadata,
                     describer: (any FaceDescriber)? = nil) throws -> ExtractedFrame {
        let bytes = try readFile(file)
        let image = try ImageFile.read(path: file)
        let landmarks = Landmarks68(points: m.landmarks.map { Point2($0[0], $0[1]) })
        let xs = m.landmarks.map { $0[0] }, ys = m.landmarks.map { $0[1] }
        let box = (x: xs.min()!, y: ys.min()!, width: xs.max()! - xs.min()!, height: ys.max()! - ys.min()!)
        let s = faceSignatures(crop: image, landmarksInFace: landmarks, matrix: .identity)
        var face = NewFace(faceIndex: 0, score: 0, box: box, points5: [], landmarks: landmarks, matrix: .identity,
                           faceType: m.faceType.rawValue, cropSize: image.width,
                           cropFormat: kind == .png ? "png" : "jpeg", crop: bytes,
                           histogram: s.histogram, blur: s.blur, motionBlur: s.motionBlur, yaw: s.yaw, pitch: s.pitch,
                           roll: s.roll,
                           brightness: s.brightness, hue: s.hue, faceSize: s.faceSize)
        if let d = describer?.descriptors(image: image.channels == 3 ? image : image.rgb(),
                                          landmarks: [landmarks]).first,
           d.count == FaceEmbedding.dimension { face.embedding = d }
        var origin = m.origin
        origin.fileName = (file as NSString).lastPathComponent
        face.origin = origin
        return ExtractedFrame(mediaId: mediaId, frameIndex: index, pts: Double(index) / 25, faces: [face])
    }

    /// A faceswap face: landmarks found on the image (as for a file without metadata), the frame -> face matrix
    /// fitted between the file's frame landmarks and those (least squares over 68 points), and the face's
    /// landmarks the file's frame landmarks carried through that matrix. The file's values, exact, go to
    /// `face_origin` with the fitted matrix.
    static func faceswapFace(file: String, kind: ImageFile.Kind, index: Int, mediaId: Int64, faceType: FaceType,
                             metadata m: ImportedFaceMetadata, pipeline: FacePipeline,
                             describer: (any FaceDescriber)? = nil) throws -> ExtractedFrame {
        var (frame, _) = try face(file: file, kind: kind, index: index, mediaId: mediaId, faceType: faceType,
                                  pipeline: pipeline, describer: describer)
        var f = frame.faces[0]
        let source = m.landmarks.map { Point2($0[0], $0[1]) }
        guard let fit = similarityTransform(from: source, to: f.landmarks.points) else {
            throw FacetError.file(file, "its faceswap landmarks are degenerate (all in one place)")
        }
        f.landmarks = Landmarks68(points: source).transformed(by: fit)
        let s = faceSignatures(crop: try ImageFile.read(path: file), landmarksInFace: f.landmarks, matrix: .identity)
        f.yaw = s.yaw; f.pitch = s.pitch; f.roll = s.roll; f.blur = s.blur; f.brightness = s.brightness; f.hue = s.hue
        f.faceSize = s.faceSize; f.histogram = s.histogram; f.motionBlur = s.motionBlur
        var origin = m.origin
        origin.fileName = (file as NSString).lastPathComponent
        origin.sourceMatrix = fit.values
        f.origin = origin
        frame.faces = [f]
        return frame
    }

    /// Where the detector's box of the mean face lies in an aligned crop of side `size`: the mean
    /// face's unit square (which the landmarks of an aligned face fill) shrunk by the face type's
    /// padding, as `alignedFace` places it.
    static func alignedFaceBox(size: Double, faceType: FaceType) -> FaceBox {
        let padding = faceType.padding
        let unit = size / (1 + 2 * padding)
        let origin = (size - unit) / 2
        return FaceBox(x: origin, y: origin, width: unit, height: unit)
    }

    static func readFile(_ path: String) throws -> Data {
        guard let d = FileManager.default.contents(atPath: path) else { throw FacetError.file(path, "cannot be read") }
        return d
    }

    /// The hash `facet import` gives a folder of stills: names and bytes in order.
    static func stillsHash(_ files: [String]) throws -> String {
        var hasher = SHA256()
        for file in files {
            hasher.update(Data((file as NSString).lastPathComponent.utf8))
            hasher.update(try readFile(file))
        }
        return hasher.finalizeHex()
    }
}

/// The first error any worker met.
final class FirstFailure: @unchecked Sendable {
    private let lock = NSLock()
    private var first: Error?
    var error: Error? { lock.lock(); defer { lock.unlock() }; return first }
    func set(_ e: Error) { lock.lock(); if first == nil { first = e }; lock.unlock() }
}
