/// `facet extract`: stream frames from stored media, find faces, align, score, store in batches.
import Foundation
import Dispatch
import FacetCore
import FacetMedia
import FacetProjectMedia
import FacetStore
import FacetVision

/// What `facet extract` was asked to do.
public struct ExtractionOptions: Sendable, Codable {
    /// Which faces to extract: `src` or `dst` media.
    public var role: Role
    /// Frames per second to sample, nil for every frame.
    public var fps: Double?
    /// The aligned face type the crops are cut to (`FaceType` raw value).
    public var faceType: String = FaceType.full.rawValue
    /// Side of the square aligned crop, in pixels.
    public var size: Int = 256
    /// Smallest face side in frame pixels that the detector looks for.
    public var minFace: Int = 40
    /// At most this many faces per frame (the highest-scoring ones); nil for all.
    public var maxFaces: Int?
    /// JPEG quality (1...100) of the stored crops.
    public var jpegQuality: Int = 95
    /// Store the crops as PNG instead of JPEG.
    public var png: Bool = false
    /// Frames per transaction: a kill loses at most this many frames of work.
    public var batchFrames: Int = 16
    /// A faceswap alignments JSON file (`tools.py alignments -j export`): each frame's faces are taken from it,
    /// landmarks as the file has them, instead of being detected; frames it does not name have no face.
    public var alignments: String?
    /// Which detectors run: MTCNN (default), dlib's CNN, or the CNN on frames where MTCNN keeps no face.
    public var detection: FaceDetection = .mtcnn

    /// Options for `role` with every other choice at its default.
    public init(role: Role) { self.role = role }
}

/// Progress after each stored batch.
public struct ExtractionProgress: Sendable {
    /// Name of the media being extracted.
    public var media: String
    /// Frames of that media processed so far.
    public var framesDone: Int
    /// Frames of that media to process in all (after `fps` sampling).
    public var framesTotal: Int
    /// Faces stored so far from this media by this run.
    public var facesFound: Int
    /// Frames processed per second since this media began.
    public var framesPerSecond: Double
    /// Estimated seconds to the end of the media; nil until the rate is known.
    public var secondsLeft: Double?
}

/// What `facet extract` did.
public struct ExtractionSummary: Sendable {
    /// Frames processed (and stored) by this run.
    public var framesProcessed = 0
    /// Frames an interrupted run had already stored, passed over.
    public var framesSkipped = 0
    /// Faces stored by this run.
    public var facesStored = 0
    /// Frames processed in which no face was kept (a result, not an error).
    public var framesWithoutFace = 0
    /// Detections not stored because their landmark fit is no face's (`LandmarkFitter.dropBelow`).
    public var detectionsDropped = 0
    /// Frames that could not be decoded (skipped, one message each; more than 50 stop the run).
    public var decodeErrors: [String] = []
    /// Wall-clock seconds the run took.
    public var seconds = 0.0
    /// The role's tracks, built at the end of the run (gaps filled, alignment smoothed).
    public var tracks: TrackBuildSummary?
}

/// Runs extraction for one role over every media of that role. A rerun skips frames already stored,
/// so a killed run carries on where it stopped and never duplicates a face.
public final class Extractor: @unchecked Sendable {  // immutable after init
    let project: Project
    let options: ExtractionOptions
    let pipeline: FacePipeline
    let faceType: FaceType
    /// The detectors the run uses, as provenance names them, and their files' SHA-256 (space-separated).
    let detectorName: String
    let detectorSHA: String
    let landmarkerSHA: String
    /// The face recogniser whose descriptors are stored with each face (nil: none; `facet embed` later).
    let describer: (any FaceDescriber)?
    /// Test hook: faces for which it returns true (frame index, face index) are not stored, as if
    /// the detector had missed them.
    let dropFace: (@Sendable (Int, Int) -> Bool)?
    /// How the role's tracks are built at the end of the run (nil: not built, for tests of older files).
    let trackOptions: TrackBuildOptions?
    /// The faces of `options.alignments`, by faceswap frame name.
    let fileFaces: FaceswapAlignments?

    /// An extraction of `options.role`'s media, building the role's tracks at the end; with
    /// `describer`, each face's descriptor is stored too.
    public convenience init(project: Project, options: ExtractionOptions,
                            describer: (any FaceDescriber)? = nil) throws {
        try self.init(project: project, options: options, describer: describer, trackOptions: TrackBuildOptions(),
                      dropFace: nil)
    }

    /// The same, with the tracks' options and a test hook that drops faces before they are stored.
    init(project: Project, options: ExtractionOptions, describer: (any FaceDescriber)? = nil,
         trackOptions: TrackBuildOptions?,
         dropFace: (@Sendable (Int, Int) -> Bool)?) throws {
        guard let ft = FaceType(rawValue: options.faceType) else {
            throw FacetError("unknown face type '\(options.faceType)': "
                             + "use \(FaceType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (32...1024).contains(options.size) else {
            throw FacetError.setting("size", "must be between 32 and 1024, got \(options.size)")
        }
        self.project = project
        self.options = options
        self.faceType = ft
        self.describer = describer
        self.dropFace = dropFace
        if let path = options.alignments {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw FacetError.file(path, "cannot be read")
            }
            do {
                fileFaces = try FaceswapAlignments.parse(data)
            } catch let e as FacetError {
                throw FacetError.file(path, e.message)
            }
            // The file's landmarks are kept exactly: no track smoothing or gap filling over them.
            self.trackOptions = nil
        } else {
            fileFaces = nil
            self.trackOptions = trackOptions
        }
        let pipeline = try FacePipeline.load(detection: options.detection)
        let cnn = pipeline.cnn
        let mtcnnSHA = try SHA256.hex(ofFile: ModelFiles.mtcnnWeights())
        // Provenance names each detector the run used, in order, with its file's hash.
        switch options.detection {
        case .mtcnn: detectorName = "mtcnn"; detectorSHA = mtcnnSHA
        case .cnn: detectorName = CNNFaceDetector.modelName; detectorSHA = cnn!.sha256
        case .both: detectorName = "mtcnn and \(CNNFaceDetector.modelName)"; detectorSHA = mtcnnSHA + " " + cnn!.sha256
        case .fallback: detectorName = "mtcnn, then \(CNNFaceDetector.modelName) on frames without a face"
            detectorSHA = mtcnnSHA + " " + cnn!.sha256
        }
        self.landmarkerSHA = try SHA256.hex(ofFile: ModelFiles.shapePredictor())
        self.pipeline = pipeline
    }

    /// Extracts every media of the role, storing faces batch by batch (a rerun carries on after a kill), then
    /// builds the role's tracks (not over an alignments file's faces); `progress` hears after each stored batch.
    public func run(progress: (ExtractionProgress) -> Void) throws -> ExtractionSummary {
        let start = Date()
        var summary = ExtractionSummary()
        let media = try project.media(role: options.role)
        guard !media.isEmpty else {
            throw FacetError.file(project.path,
                                  "has no \(options.role.rawValue) media: import a video first "
                                  + "(facet import \(project.path) --role \(options.role.rawValue) VIDEO)")
        }
        let optionsJSON = String(decoding: try JSONEncoder().encode(options), as: UTF8.self)
        if let fileFaces, let path = options.alignments {
            // Every frame name of the role's media, faceswap's way; a file naming none of them is the wrong file.
            var names: Set<String> = []
            for m in media { names.formUnion(try frameNames(m)) }
            let matched = fileFaces.frames.keys.filter { names.contains($0) }.count
            if matched == 0 && !fileFaces.frames.isEmpty {
                let example = try media.first.map { try frameNames($0).first ?? "" } ?? ""
                throw FacetError.file(path,
                                      "names none of the \(options.role.rawValue) media's frames "
                                      + "(faceswap names them like '\(example)'; "
                                      + "the file has '\(fileFaces.frames.keys.sorted().first!)')")
            }
        }
        let runId = try project.beginExtraction(fileFaces == nil ? ExtractionProvenance(
            role: options.role, detector: detectorName, detectorSHA256: detectorSHA,
            landmarker: "dlib shape_predictor_68_face_landmarks", landmarkerSHA256: landmarkerSHA,
            optionsJSON: optionsJSON,
            recognizer: describer?.provenance) : ExtractionProvenance(
            role: options.role, detector: "faceswap alignments file",
            detectorSHA256: try SHA256.hex(ofFile: options.alignments!),
            landmarker: "the file's landmarks", landmarkerSHA256: "", optionsJSON: optionsJSON,
            recognizer: describer?.provenance))
        for m in media {
            try extract(m, runId: runId, summary: &summary, progress: progress)
        }
        try project.finishExtraction(id: runId)
        if let trackOptions {
            summary.tracks = try FaceTracker(project: project, options: trackOptions,
                                             pipeline: pipeline).run(role: options.role)
        }
        summary.seconds = Date().timeIntervalSince(start)
        return summary
    }

    private func extract(_ m: MediaRecord, runId: Int64, summary: inout ExtractionSummary,
                         progress: (ExtractionProgress) -> Void) throws {
        let done = try project.processedFrames(mediaId: m.id!)
        let frames = try MediaFrames(project: project, media: m, fps: options.fps)
        let stillNames = fileFaces != nil && m.kind == .stills ? try frameNames(m) : []
        /// faceswap's name of frame `i` of this media.
        let name: @Sendable (Int) -> String = { [videoName = m.name, isStills = m.kind == .stills] i in
            isStills ? (i < stillNames.count ? stillNames[i] : "") : FaceswapAlignments.videoFrameName(
                videoName, index: i)
        }
        let expected = options.fps.map { f in
            m.fps > 0 ? Int((Double(m.frameCount) * min(1, f / m.fps)).rounded(.up)) : m.frameCount
        } ?? m.frameCount
        let began = Date()
        var processedHere = 0, seen = 0, faces = 0
        var pending: [MediaFrame] = []
        var finished = false
        while !finished {
            // Decode a batch of frames not yet stored.
            pending.removeAll(keepingCapacity: true)
            while pending.count < options.batchFrames {
                let frame: MediaFrame?
                do { frame = try frames.next() } catch {
                    summary.decodeErrors.append("\(error)")
                    if summary.decodeErrors.count > 50 {
                        throw FacetError.file(m.name, "too many decoding errors; last: \(error)")
                    }
                    continue
                }
                guard let frame else { finished = true; break }
                seen += 1
                if done.contains(frame.index) { summary.framesSkipped += 1; continue }
                pending.append(frame)
            }
            guard !pending.isEmpty else { continue }
            // Detect, align and score the batch on every core; results keep frame order.
            let results = Slots<(frame: ExtractedFrame, chips: [Image], dropped: Int)>(count: pending.count)
            defer { results.free() }
            let batch = pending, mediaId = m.id!
            DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                if self.fileFaces != nil {
                    results.set(i, self.fromFile(batch[i], name: name(batch[i].index), mediaId: mediaId))
                } else {
                    results.set(i, self.process(batch[i], mediaId: mediaId))
                }
            }
            // The batch's face chips through the recogniser in one call (it uses every core).
            let processed = results.values()
            summary.detectionsDropped += processed.reduce(0) { $0 + $1.dropped }
            var stored = processed.map(\.frame)
            if let describer {
                let descriptors = describer.descriptors(chips: processed.flatMap(\.chips))
                var k = 0
                for i in stored.indices {
                    for j in stored[i].faces.indices where k < descriptors.count {
                        if descriptors[k].count == FaceEmbedding.dimension {
                            stored[i].faces[j].embedding = descriptors[k]
                        }
                        k += 1
                    }
                }
            }
            try project.storeFrames(stored, extractionId: runId, role: options.role)
            for f in stored {
                faces += f.faces.count
                if f.faces.isEmpty { summary.framesWithoutFace += 1 }
            }
            processedHere += stored.count
            summary.framesProcessed += stored.count
            summary.facesStored += stored.reduce(0) { $0 + $1.faces.count }
            let elapsed = Date().timeIntervalSince(began)
            let rate = Double(processedHere) / max(elapsed, 1e-6)
            let left = max(0, expected - seen)
            progress(ExtractionProgress(media: m.name, framesDone: seen, framesTotal: expected, facesFound: faces,
                                        framesPerSecond: rate, secondsLeft: rate > 0 ? Double(left) / rate : nil))
        }
    }

    /// One frame: faces found, aligned, scored and encoded, the recogniser's chip of each stored face (none
    /// without a recogniser), and how many detections were dropped. Thread-safe.
    /// faceswap's name of every frame of `m`, by frame index: `stem_000001.ext` for a video, the file names of stills.
    func frameNames(_ m: MediaRecord) throws -> [String] {
        if m.kind == .stills {
            return try project.stillNames(mediaId: m.id!).map { ($0 as NSString).lastPathComponent }
        }
        return (0..<m.frameCount).map { FaceswapAlignments.videoFrameName(m.name, index: $0) }
    }

    /// A frame's faces from the alignments file: aligned from the file's landmarks (kept exactly), its box as
    /// the detection, the file's values in `face_origin`.
    private func fromFile(_ frame: MediaFrame, name: String, mediaId: Int64) -> (frame: ExtractedFrame, chips: [Image],
                                                                                 dropped: Int) {
        let listed = fileFaces?.frames[name] ?? []
        let rgb = frame.image.channels == 3 ? frame.image : frame.image.rgb()
        var faces: [NewFace] = []
        var problems: [String] = []
        for (i, f) in listed.enumerated() where !(dropFace?(frame.index, i) ?? false) {
            if let limit = options.maxFaces, faces.count >= limit { break }
            let landmarks = Landmarks68(points: f.landmarks.map { Point2($0[0], $0[1]) })
            let (crop, matrix) = alignedFace(image: rgb, landmarks: landmarks, faceType: faceType, size: options.size)
            let s = faceSignatures(crop: crop, landmarksInFace: landmarks.transformed(by: matrix), matrix: matrix)
            let encoded: Data
            do {
                encoded = options.png ? try PNGCodec.encode(crop) : try JPEGCodec.encode(
                    crop, quality: options.jpegQuality)
            } catch {
                problems.append("face \(i): \(error)")
                continue
            }
            let b = f.detected
            var face = NewFace(faceIndex: i, score: 1, box: (b[0], b[1], b[2] - b[0], b[3] - b[1]), points5: [],
                               landmarks: landmarks, matrix: matrix, faceType: faceType.rawValue,
                               cropSize: options.size,
                               cropFormat: options.png ? "png" : "jpeg", crop: encoded, histogram: s.histogram,
                               blur: s.blur,
                               motionBlur: s.motionBlur, yaw: s.yaw, pitch: s.pitch, roll: s.roll,
                               brightness: s.brightness,
                               hue: s.hue, faceSize: s.faceSize)
            var origin = FaceOrigin(tool: "faceswap",
                                    fileName: ((options.alignments ?? "") as NSString).lastPathComponent)
            origin.sourceFilename = name
            origin.sourceRect = b
            origin.sourceLandmarks = f.landmarks.flatMap { $0 }
            origin.sourceMatrix = matrix.values
            face.origin = origin
            faces.append(face)
        }
        let chips = faces.isEmpty ? [] : describer?.chips(image: rgb, landmarks: faces.map(\.landmarks)) ?? []
        return (ExtractedFrame(mediaId: mediaId, frameIndex: frame.index, pts: frame.pts,
                               error: problems.isEmpty ? nil : problems.joined(separator: "; "),
                               faces: faces), chips, 0)
    }

    private func process(_ frame: MediaFrame, mediaId: Int64) -> (frame: ExtractedFrame, chips: [Image], dropped: Int) {
        let found = pipeline.detectFaces(in: frame.image, faceType: faceType, size: options.size,
                                         minFaceSize: options.minFace,
                                         maxFaces: options.maxFaces)
        var faces: [NewFace] = []
        var problems: [String] = []
        for f in found.faces where !(dropFace?(frame.index, f.faceIndex) ?? false) {
            let encoded: Data
            do {
                encoded = options.png ? try PNGCodec.encode(f.crop) : try JPEGCodec.encode(
                    f.crop, quality: options.jpegQuality)
            } catch {
                problems.append("face \(f.faceIndex): \(error)")
                continue
            }
            let s = f.signatures
            var face = NewFace(faceIndex: f.faceIndex, score: f.score,
                               box: (f.box.x, f.box.y, f.box.width, f.box.height),
                               points5: f.points5, landmarks: f.landmarks, matrix: f.matrix,
                               faceType: faceType.rawValue,
                               cropSize: options.size, cropFormat: options.png ? "png" : "jpeg", crop: encoded,
                               histogram: s.histogram, blur: s.blur, motionBlur: s.motionBlur, yaw: s.yaw,
                               pitch: s.pitch,
                               roll: s.roll, brightness: s.brightness, hue: s.hue, faceSize: s.faceSize,
                               landmarkScore: f.landmarkScore)
            face.detector = f.detector.rawValue
            faces.append(face)
        }
        let chips = faces.isEmpty ? [] : describer?.chips(image: frame.image, landmarks: faces.map(\.landmarks)) ?? []
        return (ExtractedFrame(mediaId: mediaId, frameIndex: frame.index, pts: frame.pts,
                               error: problems.isEmpty ? nil : problems.joined(separator: "; "), faces: faces), chips,
                found.dropped.count)
    }
}

/// Result slots that parallel workers fill, each worker its own index.
final class Slots<T>: @unchecked Sendable {
    private let buffer: UnsafeMutableBufferPointer<T?>
    init(count: Int) {
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: nil)
    }
    func set(_ i: Int, _ value: T) { buffer[i] = value }
    func values() -> [T] { buffer.compactMap { $0 } }
    func free() {
        _ = buffer.deinitialize()
        buffer.deallocate()
    }
}
