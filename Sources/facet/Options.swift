/// Option groups and value types several commands share: the role, the face filter, face ids as the
/// tool prints them, counts or shares (`10`, `5%`), and the nearest valid word for a typo.
import ArgumentParser
import FacetCore
import FacetCurate
import FacetStore
import FacetVision
import Foundation

/// The one help text of `--role`, whichever command takes it.
let roleHelp = "src (the person whose face goes in) or dst (the video it goes into)."

/// `--role` where it may be left out: the command then works on both roles (each apart where it matters).
struct RoleOption: ParsableArguments {
    @Option(help: ArgumentHelp(roleHelp + " Default: both.")) var role: Role?
}

/// `--role` where a command needs one.
struct RequiredRoleOption: ParsableArguments {
    @Option(help: ArgumentHelp(roleHelp)) var role: Role
}

extension Role: ExpressibleByArgument {}

extension FaceType: ExpressibleByArgument {}

/// `--face-type`: how faces are aligned (DeepFaceLab's face types), one enum for every command.
struct FaceTypeOption: ParsableArguments {
    @Option(help: """
        How much of the head an aligned crop holds: \(FaceType.allCases.map(\.rawValue).joined(separator: ", ")).
        """)
    var faceType: FaceType = .full
}

/// The smallest face the detector looks for, one default for every command that detects.
let defaultMinFace = 40

extension StatusFilter: ExpressibleByArgument {}

/// Options that pick faces: role, status, tag, SQL expression. Shared by listing, curation and export commands.
struct FaceFilterOptions: ParsableArguments {
    @OptionGroup var roleOption: RoleOption
    @Option(help: "kept, rejected or all.") var status: StatusFilter = .kept
    @Option(help: "Only faces with this tag (see facet tags).") var tag: String?
    @Option(name: .customLong("where"), help: ArgumentHelp(
        "An SQL expression over face columns, e.g. \"sharpness < 2 AND yaw > 10\" (read-only).", valueName: "sql"))
    var whereSQL: String?

    @Option(help: "Only faces of this person: its number or name (see `facet people`).") var person: String?

    var role: Role? { roleOption.role }

    var query: FaceQuery {
        var q = FaceQuery(role: role, status: status.status, tag: tag, whereSQL: whereSQL)
        if let person, let n = Int64(person) { q.person = n }
        return q
    }

    /// `query`, with `--person` resolved by number or name in `p` (an unknown one is an error).
    func query(in p: Project) throws -> FaceQuery {
        var q = query
        if let person { q.person = try resolvePerson(p, person, role: role).id }
        return q
    }
}

/// A number of faces or a share of them: `10` or `5%`.
struct Amount: ExpressibleByArgument, CustomStringConvertible {
    var count: Int?
    var percent: Double?

    init?(argument: String) {
        let t = argument.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("%") {
            guard let p = Double(t.dropLast()), p > 0, p <= 100 else { return nil }
            percent = p
        } else {
            guard let n = Int(t), n >= 1 else { return nil }
            count = n
        }
    }

    /// How many of `total` faces: a share rounds down (5% of 216 faces is 10).
    func of(_ total: Int) -> Int { count.map { min($0, total) } ?? Int(Double(total) * percent! / 100) }

    var description: String { count.map(String.init) ?? String(format: "%g%%", percent!) }
}

/// Face ids as the tool prints them: `12`, `93-98`, `3,4,9`, `93-98, 126-127` (one argument or several).
enum FaceIDList {
    static func parse(_ words: [String]) throws -> [Int64] {
        var ids: [Int64] = []
        for word in words {
            for part in word.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) })
            where !part.isEmpty {
                if let id = Int64(part), id >= 1 { ids.append(id); continue }
                let ends = part.split(separator: "-", omittingEmptySubsequences: false)
                guard ends.count == 2, let a = Int64(ends[0]), let b = Int64(ends[1]), a >= 1, a <= b,
                    b - a < 10_000_000 else {
                    throw ValidationError("'\(part)' is not a face id: give ids as 12, a range 93-98 or a list 3,4,9")
                }
                ids.append(contentsOf: a...b)
            }
        }
        return ids
    }
}

/// The word of `candidates` nearest to `word` by edit distance, when it is near enough to be a typo.
func nearest(_ word: String, in candidates: [String]) -> String? {
    let w = word.lowercased()
    let scored = candidates.map { ($0, editDistance(w, $0.lowercased())) }.min { $0.1 < $1.1 }
    guard let (best, d) = scored, d <= max(2, w.count / 3) else { return nil }
    return best
}

/// Levenshtein distance between two strings.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var row = Array(0...b.count)
    for i in 1...a.count {
        var prev = row[0]
        row[0] = i
        for j in stride(from: 1, through: b.count, by: 1) {
            let keep = row[j]
            row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
            prev = keep
        }
    }
    return row[b.count]
}

/// What users call the stored columns: `blur` is a sharpness score, so it is shown as `sharpness`.
func displayName(_ field: FaceField) -> String { field == .blur ? "sharpness" : field.rawValue }

/// The field's value on a face record.
func value(_ f: FaceRecord, _ field: FaceField) -> Double {
    switch field {
    case .id: return Double(f.id)
    case .mediaId: return Double(f.mediaId)
    case .frameIndex: return Double(f.frameIndex)
    case .faceIndex: return Double(f.faceIndex)
    case .pts: return f.pts
    case .score: return f.score
    case .blur: return f.blur
    case .motionBlur: return f.motionBlur
    case .yaw: return f.yaw
    case .pitch: return f.pitch
    case .roll: return f.roll
    case .brightness: return f.brightness
    case .hue: return f.hue
    case .faceSize: return f.faceSize
    case .landmarkScore: return f.landmarkScore ?? .nan
    }
}

/// The names a face column sort accepts, for help and suggestions.
let fieldWords = ["sharpness"] + FaceField.allCases.map(\.rawValue)

/// Parses `--sort` of the curation commands, with a suggestion for a typo and an explanation for the
/// forms that need more (`best` without a count, a reversed `ordering:NAME`).
func parseCurationSort(_ text: String) throws -> CurationSort {
    if let s = CurationSort(parsing: text) { return s }
    let t = text.trimmingCharacters(in: .whitespaces)
    let lower = t.lowercased()
    let bare = lower.hasPrefix("-") ? String(lower.dropFirst()) : lower
    if bare == "best" || bare.hasPrefix("best:") || bare.hasPrefix("best=") {
        if lower.hasPrefix("-") { throw ValidationError("best:N is a selection, not an order: it cannot be reversed") }
        throw ValidationError("best needs a count: best:N, the N sharpest faces spread over yaw and pitch "
                              + "(e.g. best:200)")
    }
    if bare == "ordering" || bare.hasPrefix("ordering:") || bare.hasPrefix("ordering=") {
        if lower.hasPrefix("-") {
            throw ValidationError("a saved ordering cannot be reversed: save the reversed sort instead "
                                  + "(facet sort --sort -FIELD --save NAME)")
        }
        throw ValidationError("ordering needs a name: ordering:NAME (facet orderings lists them)")
    }
    let words = fieldWords + ["hist", "hist_dissim"]
    let hint = nearest(bare.replacingOccurrences(of: "-", with: "_"), in: words).map { w -> String in
        let prefix = lower.hasPrefix("-") ? "-" : ""
        return ": did you mean \(prefix)\(w == "blur" ? "sharpness" : w)?"
    } ?? ""
    throw ValidationError("unknown sort '\(t)'\(hint) (sorts: \(sortHelp))")
}

/// Parses a face column sort (`FIELD` or `-FIELD`) with a suggestion for a typo.
func parseFaceSort(_ text: String) throws -> FaceSort {
    if let s = FaceSort(parsing: text) { return s }
    let bare = text.hasPrefix("-") ? String(text.dropFirst()) : text
    let hint = nearest(bare, in: fieldWords).map {
        ": did you mean \(text.hasPrefix("-") ? "-" : "")\($0 == "blur" ? "sharpness" : $0)?"
    } ?? ""
    throw ValidationError("unknown sort field '\(text)'\(hint) (fields: \(fieldWords.joined(separator: ", ")); "
                          + "prefix - for descending)")
}

/// `--checkpoint` and `--model`: one grammar for naming a checkpoint, as compare and export-model take it.
struct CheckpointOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The checkpoint: an id, best (lowest held-out loss, or swap score: "
                               + "checkpoints --best-by), "
                               + "latest, a tag, or MODEL:best / MODEL:latest / MODEL:TAG."))
    var checkpoint: String
    @Option(help: "The model best, latest and tags refer to, when the project has several (or write MODEL:best).")
    var model: String?
}
