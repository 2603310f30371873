/// `facet extract` (faces from stored videos into the project) and `facet detect` (the same on images).
import ArgumentParser
import FacetCore
import FacetExtract
import FacetMedia
import FacetStore
import FacetVision
import Foundation

struct ExtractCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "extract",
                                                    abstract: "Find, align and score every face in the role's videos.")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var roleOption: RequiredRoleOption
    @Option(help: "Frames per second to sample (default: every frame).") var fps: Double?
    @OptionGroup var faceTypeOption: FaceTypeOption
    @Option(help: "Side of the aligned face crop in pixels.") var size: Int = 256
    @Option(help: "Smallest face to find, in frame pixels (at least 12).") var minFace: Int = defaultMinFace
    @Option(help: "Keep at most N faces per frame (highest detector score first).") var maxFaces: Int?
    @Option(help: "JPEG quality of stored crops (1-100).") var jpegQuality: Int = 95
    @Flag(help: "Store crops as PNG (lossless, larger).") var png = false
    @Flag(help: "Skip the face-recognition descriptors (faster; `facet embed` adds them later).") var noEmbed = false
    @Option(help: detectorHelp) var detector: FaceDetection = .mtcnn
    @Option(help: ArgumentHelp("Take each frame's faces from a faceswap alignments JSON file "
                               + "(tools.py alignments -j export) instead of detecting them; "
                               + "their landmarks are kept exactly.",
                               valueName: "file.json")) var alignments: String?

    func validate() throws {
        if let f = fps, !(f > 0) { throw ValidationError("--fps must be positive") }
        guard (1...100).contains(jpegQuality) else { throw ValidationError("--jpeg-quality must be 1...100") }
        guard minFace >= 12 else { throw ValidationError("--min-face must be at least 12") }
        if let m = maxFaces, m < 1 { throw ValidationError("--max-faces must be at least 1") }
    }

    var role: Role { roleOption.role }

    func run() throws {
        let p = try Project(path: target.project)
        var o = ExtractionOptions(role: role)
        o.fps = fps; o.faceType = faceTypeOption.faceType.rawValue; o.size = size; o.minFace = minFace
        o.maxFaces = maxFaces
        o.jpegQuality = jpegQuality; o.png = png; o.alignments = alignments; o.detection = detector
        let extractor = try Extractor(project: p, options: o,
                                      describer: noEmbed ? nil : FaceRecognizers.loadIfAvailable(for: "extract"))
        var line = ProgressLine()
        let s = try extractor.run { pr in
            let eta = pr.secondsLeft.map { String(format: "ETA %.0fs", $0) } ?? ""
            line.update("extract \(pr.media): frame \(pr.framesDone)/\(pr.framesTotal), \(pr.facesFound) faces, "
                        + "\(String(format: "%.1f", pr.framesPerSecond)) frames/s \(eta)")
        }
        line.finish("extract \(role.rawValue): \(s.framesProcessed) frames processed "
                    + "(\(s.framesSkipped) already done), \(s.facesStored) faces stored, "
                    + "\(s.detectionsDropped) detections dropped as not faces (landmarks disagree with the detector), "
                    + "\(s.framesWithoutFace) frames without a face, \(String(format: "%.1f", s.seconds)) s")
        if let t = s.tracks { print(trackSummaryLine(role: role, t)) }
        for e in s.decodeErrors.prefix(10) { FileHandle.standardError.write(Data("warning: \(e)\n".utf8)) }
    }
}

/// A face as `facet detect --json` prints it.
struct DetectedFaceJSON: Encodable {
    var image: String
    var faceIndex: Int
    var box: [Double]
    var score: Double
    /// How far the 68 points can be trusted, 0...1 (`LandmarkFit.score`).
    var landmarkScore: Double
    /// The detector that found it: `mtcnn` or `cnn`.
    var detector: String
    var points5: [[Double]]
    var landmarks: [[Double]]
    var matrix: [Double]?
    var crop: String?
    /// The face-recognition descriptor (128 floats; L2 distance under 0.6: the same person).
    var embedding: [Float]?
}

extension FaceDetection: ExpressibleByArgument {}

/// `--detector`'s help, for extract and detect.
let detectorHelp = ArgumentHelp(
    "mtcnn (fast); cnn (dlib's CNN face detector: about 10x the cost, no faces under 80 px, holds on "
        + "some turned faces MTCNN misses); both (each frame through both, the CNN's other faces added); "
        + "fallback (the CNN only on frames where MTCNN keeps no face).",
    valueName: "mtcnn|cnn|both|fallback")

struct DetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detect",
                                                    abstract: "Find faces and 68 landmarks in images "
                                                              + "(no project needed).")
    @Argument(help: "PNG or JPEG images.") var images: [String]
    @OptionGroup var faceTypeOption: FaceTypeOption
    @Option(help: "Side of the aligned crops in pixels.") var size: Int = 256
    @Option(help: "Smallest face to find, in pixels (at least 12).") var minFace: Int = defaultMinFace
    @Option(help: "Folder for the aligned crops (PNG).") var out: String?
    @Option(help: detectorHelp) var detector: FaceDetection = .mtcnn
    @OptionGroup var output: JSONFlag

    func validate() throws {
        guard minFace >= 12 else { throw ValidationError("--min-face must be at least 12") }
    }

    func run() throws {
        let ft = faceTypeOption.faceType
        let pipeline = try FacePipeline.load(detection: detector)
        if let out { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        let describer = FaceRecognizers.loadIfAvailable(for: "detect")
        var all: [DetectedFaceJSON] = []
        var faceless: [String] = []
        for path in images {
            let image = try ImageFile.read(path: path)
            let before = all.count
            defer { if all.count == before { faceless.append(path) } }
            let found = pipeline.detectFaces(in: image, faceType: ft, size: size, minFaceSize: minFace, maxFaces: nil)
            for d in found.dropped {
                let box = [d.box.x, d.box.y, d.box.width,
                           d.box.height].map { String(format: "%.0f", $0) }.joined(separator: ",")
                FileHandle.standardError.write(Data("""
                    \(path): detection at \(box) (score \(String(format: "%.3f", d.score))) dropped: its landmarks are \
                    no face's (landmark score \(String(format: "%.3f", d.fit.score)))\n
                    """.utf8))
            }
            let rgb = image.channels == 3 ? image : image.rgb()
            let descriptors = describer?.descriptors(image: rgb, landmarks: found.faces.map(\.landmarks))
            for (k, f) in found.faces.enumerated() {
                var cropPath: String?
                if let out {
                    let base = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                    cropPath = "\(out)/\(base)_\(f.faceIndex).png"
                    try ImageFile.write(f.crop, path: cropPath!)
                }
                all.append(DetectedFaceJSON(image: path, faceIndex: f.faceIndex,
                                            box: [f.box.x, f.box.y, f.box.width, f.box.height],
                                            score: f.score, landmarkScore: f.landmarkScore,
                                            detector: f.detector.rawValue, points5: f.points5.map { [$0.x, $0.y] },
                                            landmarks: f.landmarks.points.map { [$0.x, $0.y] }, matrix: f.matrix.values,
                                            crop: cropPath,
                                            embedding: descriptors?[k]))
            }
        }
        if output.json { try printJSON(all); return }
        for path in images {
            if faceless.contains(path) { print("\(path): no face (none of at least \(minFace) px)"); continue }
            for f in all where f.image == path {
                print("\(f.image) face \(f.faceIndex): "
                      + "box \(f.box.map { String(format: "%.0f", $0) }.joined(separator: ",")) score "
                      + "\(String(format: "%.3f", f.score)) landmark score "
                      + "\(String(format: "%.3f", f.landmarkScore))\(f.crop.map { " -> \($0)" } ?? "")")
            }
        }
    }
}
