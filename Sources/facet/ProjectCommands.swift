/// `facet init`, `facet info`, `facet faces`: create a project, summarise it, list its faces.
import ArgumentParser
import FacetCore
import FacetStore
import Foundation

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create an empty project file.")
    @OptionGroup var target: ProjectArgument
    @Flag(help: "Replace an existing file.") var force = false

    func run() throws {
        let p = try Project.create(at: target.project, force: force)
        print("created \(p.path) (schema version \(try p.schemaVersion()))")
    }
}

struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info",
                                                    abstract: "Summarise a project: media, faces, models, checkpoints.")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var output: JSONFlag

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let s = try p.summary()
        if output.json { try printJSON(s); return }
        print("project   \(s.path)")
        print("schema    version \(s.schemaVersion)")
        print("size      \(ByteCountFormatter.string(fromByteCount: s.fileBytes, countStyle: .file))")
        if let c = s.createdAt { print("created   \(c)") }
        print("\nmedia (\(s.media.count))")
        for m in s.media {
            print("  #\(m.id) \(pad(m.role, 3)) \(m.name)  \(m.kind) \(m.storage)  \(m.codec) \(m.width)x\(m.height) "
                  + "\(String(format: "%.2f", m.fps)) fps  \(m.frameCount) frames\(m.hasAudio ? "  audio" : "")  "
                  + "extracted \(m.framesExtracted) frames, \(m.faces) faces")
        }
        print("\nfaces")
        for role in Role.allCases {
            let kept = s.faceCounts.first { $0.role == role.rawValue && $0.status == "kept" }?.count ?? 0
            let rej = s.faceCounts.first { $0.role == role.rawValue && $0.status == "rejected" }?.count ?? 0
            print("  \(role.rawValue): \(kept) kept, \(rej) rejected")
        }
        print("\ntags (\(s.tags.count))" + (s.tags.isEmpty ? ": none (facet tag adds one)" : ""))
        for t in s.tags { print("  \(t.tag): \(faces(t.faces)) (src \(t.src), dst \(t.dst); \(t.kept) kept)") }
        print("\nmodels (\(s.models.count)), checkpoints \(s.checkpoints)")
        for m in s.models {
            let best = m.bestValLoss.map { String(format: "%.5f", $0) } ?? "-"
            print("  \(m.name)  \(m.architecture) \(m.resolution)px  \(m.checkpoints) checkpoints  iteration "
                  + "\(m.lastIteration ?? 0)  best val loss \(best)")
        }
    }
}

/// A face as `facet faces --json` prints it (`sharpness` and its old name `blur` hold the same value).
struct FaceJSON: Encodable {
    var id: Int64, role: String, mediaId: Int64, frameIndex: Int, faceIndex: Int, pts: Double, status: String
    var score: Double, sharpness: Double, blur: Double, motionBlur: Double, yaw: Double, pitch: Double, roll: Double
    var brightness: Double, hue: Double, faceSize: Double, box: [Double], faceType: String, cropSize: Int
    var tags: [String]
    /// The face's person (`facet people`), null before it ran.
    var person: Int64?
    var landmarkScore: Double?
    /// The face's track, and `redetected` / `interpolated` when it was filled into a gap of it.
    var track: Int64?, filled: String?
    /// The detector that found it (`mtcnn`, `cnn`); null for older or imported faces.
    var detector: String?
    init(_ f: FaceRecord, tags: [String] = []) {
        track = f.trackId; filled = f.filled; detector = f.detector
        id = f.id; role = f.role.rawValue; mediaId = f.mediaId; frameIndex = f.frameIndex; faceIndex = f.faceIndex
        pts = f.pts; status = f.status.rawValue; score = f.score; sharpness = f.blur; blur = f.blur
        motionBlur = f.motionBlur
        yaw = f.yaw; pitch = f.pitch; roll = f.roll; brightness = f.brightness; hue = f.hue; faceSize = f.faceSize
        box = [f.boxX, f.boxY, f.boxW, f.boxH]; faceType = f.faceType; cropSize = f.cropSize
        self.tags = tags
        person = f.personId
        landmarkScore = f.landmarkScore
    }

    /// The faces with their tags.
    static func list(_ faces: [FaceRecord], project: Project) throws -> [FaceJSON] {
        let tags = try project.tags(faceIDs: faces.map(\.id))
        return faces.map { FaceJSON($0, tags: tags[$0.id] ?? []) }
    }
}

struct FacesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "faces",
                                                    abstract: "List faces: filter, sort by any signature, page.")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var filter: FaceFilterOptions
    @Option(parsing: .unconditionalSingleValue, help: ArgumentHelp(
        "Sort by FIELD ascending or -FIELD descending (repeat for ties): "
        + "\(fieldWords.joined(separator: ", ")).", valueName: "field"),
        transform: parseFaceSort)
    var sort: [FaceSort] = []
    @Option(help: "At most N faces.") var limit: Int?
    @Option(help: "Skip the first N faces.") var offset: Int = 0
    @Flag(help: "Print only the number of matching faces.") var count = false
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if let l = limit, l < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        var q = try filter.query(in: p)
        q.sort = sort
        q.limit = limit
        q.offset = offset
        if count {
            let n = try p.countFaces(matching: q)
            if output.json { try printJSON(["count": n]) } else { print(n) }
            return
        }
        let faces = try p.faces(matching: q)
        if output.json { try printJSON(try FaceJSON.list(faces, project: p)); return }
        // The sort's columns first, then the usual ones.
        var columns = sort.map(\.field).filter { ![.id, .mediaId, .frameIndex, .faceIndex].contains($0) }
        for f in [FaceField.blur, .motionBlur, .yaw, .pitch, .roll] where !columns.contains(f) { columns.append(f) }
        print("    id role media  frame face status   " + columns.map {
            String(repeating: " ", count: max(0, 11 - displayName($0).count)) + displayName($0)
        }.joined(separator: " ") + " person")
        for f in faces {
            let values = columns.map { fmt(value(f, $0), $0 == .blur ? 3 : $0 == .motionBlur ? 2 : 1,
                                           width: 11) }.joined(separator: " ")
            print("\(String(format: "%6lld", f.id)) \(pad(f.role.rawValue, 4)) \(String(format: "%5lld", f.mediaId)) "
                  + "\(String(format: "%6d", f.frameIndex)) \(String(format: "%4d", f.faceIndex)) "
                  + "\(pad(f.status.rawValue, 8)) \(values) "
                  + "\(f.personId.map { String(format: "%6lld", $0) } ?? "     -")")
        }
    }
}
