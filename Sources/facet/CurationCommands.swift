/// Curation commands: sort, similar, duplicates, reject, restore, tag, undo, orderings, export.
import ArgumentParser
import FacetCore
import FacetCurate
import FacetStore
import Foundation

extension CurationSort: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension ExportFormat: ExpressibleByArgument {}

/// The command line as typed, for the curation history (`facet undo` names it).
private func commandLine() -> String {
    "facet " + CommandLine.arguments.dropFirst().map { $0.contains(" ") ? "'\($0)'" : $0 }.joined(separator: " ")
}

/// `3-5, 9, 12` for [3, 4, 5, 9, 12]: what changed, short enough to read.
func idRanges(_ ids: [Int64], limit: Int = 40) -> String {
    let sorted = ids.sorted()
    var parts: [String] = []
    var i = 0
    while i < sorted.count {
        var j = i
        while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
        parts.append(i == j ? "\(sorted[i])" : "\(sorted[i])-\(sorted[j])")
        i = j + 1
    }
    return parts.count > limit ? parts.prefix(limit).joined(separator: ", ") + ", ... (\(parts.count - limit) more runs)" : parts.joined(separator: ", ")
}

struct SortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sort",
        abstract: "Order faces by a stored signature, histogram chain, dissimilarity or best-N; print, save or tag the order.",
        discussion: "A sort never renames or moves anything. SORT is one of: \(CurationSort.help).")
    @OptionGroup var target: ProjectArgument
    @Option(parsing: .unconditional, help: "The sort (see below); -FIELD reverses.") var sort: CurationSort
    @OptionGroup var filter: FaceFilterOptions
    @Option(help: "Print (and save or tag) only the first N faces of the order.") var limit: Int?
    @Option(help: "Save the order as a named ordering (replaces one of that name).") var save: String?
    @Option(name: .customLong("tag-as"), help: "Apply this tag to the faces of the order (undoable).") var applyTag: String?
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if let l = limit, l < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: save == nil && applyTag == nil ? .readOnly : .readWrite)
        var q = try filter.query(in: p)
        q.limit = limit
        let ids = try p.sortedFaceIDs(matching: q, by: sort)
        if let name = save {
            try p.saveOrdering(name: name, role: filter.role, sort: sort, faceIDs: ids)
            FileHandle.standardError.write(Data("saved ordering '\(name)' of \(ids.count) faces\n".utf8))
        }
        if let tag = applyTag {
            let r = try p.setTag(tag, on: ids, command: commandLine())
            FileHandle.standardError.write(Data("tagged \(r.changed.count) faces '\(tag)' (\(r.unchanged) already had it)\n".utf8))
        }
        let faces = try p.faces(matching: FaceQuery(ids: ids))
        let byId = Dictionary(uniqueKeysWithValues: faces.map { ($0.id, $0) })
        let ordered = ids.compactMap { byId[$0] }
        if output.json { try printJSON(ordered.map(FaceJSON.init)); return }
        print("  rank     id role  frame face status       blur      yaw    pitch brightness")
        for (k, f) in ordered.enumerated() {
            print("\(String(format: "%6d", k + 1)) \(String(format: "%6lld", f.id)) \(pad(f.role.rawValue, 4)) \(String(format: "%6d", f.frameIndex)) \(String(format: "%4d", f.faceIndex)) \(pad(f.status.rawValue, 8)) \(fmt(f.blur)) \(fmt(f.yaw, 1)) \(fmt(f.pitch, 1)) \(fmt(f.brightness, 1, width: 10))")
        }
    }
}

extension FaceQuery {
    /// Only the given faces (any role or status).
    init(ids: [Int64]) {
        self.init()
        self.ids = ids
    }
}

struct SimilarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "similar", abstract: "The faces nearest to a face: by identity (the same person first) or by colour histogram.",
        discussion: "identity: L2 distance of the face-recognition descriptors, dlib's units (under 0.6: the same person). histogram: summed Bhattacharyya distance of the colour histograms (0 identical, 3 disjoint).")
    enum By: String, ExpressibleByArgument, CaseIterable { case identity, histogram }
    @OptionGroup var target: ProjectArgument
    @Argument(help: "The face id to compare with.") var faceId: Int64
    @Option(help: "How many faces.") var k: Int = 10
    @Option(help: "Only faces of this role (default: every role).") var role: Role?
    @Option(help: "identity (default) or histogram.") var by: By = .identity
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if k < 1 { throw ValidationError("--k must be 1 or more") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let near = by == .identity ? try p.similarFacesByIdentity(to: faceId, k: k, role: role) : try p.similarFaces(to: faceId, k: k, role: role)
        if output.json { try printJSON(near); return }
        let faces = Dictionary(uniqueKeysWithValues: try p.faces(matching: FaceQuery(ids: near.map(\.id))).map { ($0.id, $0) })
        print("    id role  frame face status    distance person")
        for n in near {
            guard let f = faces[n.id] else { continue }
            print("\(String(format: "%6lld", f.id)) \(pad(f.role.rawValue, 4)) \(String(format: "%6d", f.frameIndex)) \(String(format: "%4d", f.faceIndex)) \(pad(f.status.rawValue, 8)) \(String(format: "%11.6f", n.distance)) \(f.personId.map { String(format: "%6lld", $0) } ?? "     -")")
        }
    }
}

struct DuplicatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "Find near-identical faces (e.g. consecutive frames of a still shot); keep the sharpest of each group.")
    @OptionGroup var target: ProjectArgument
    @Option(help: "Only faces of this role.") var role: Role?
    @Option(help: "Summed Bhattacharyya distance under which two faces count as the same (0...3).") var threshold: Double = 0.1
    @Flag(help: "Reject the duplicates (undoable with `facet undo`).") var reject = false
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if !(threshold > 0 && threshold <= 3) { throw ValidationError("--threshold must be in (0, 3]") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: reject ? .readWrite : .readOnly)
        let groups = try p.duplicateGroups(matching: FaceQuery(role: role, status: .kept), threshold: threshold)
        let dups = groups.flatMap { $0.duplicates.map(\.id) }
        if output.json { try printJSON(groups) } else {
            for g in groups {
                print("keep \(g.keep): " + g.duplicates.map { "\($0.id) (\(String(format: "%.4f", $0.distance)))" }.joined(separator: ", "))
            }
            print("\(groups.count) groups, \(dups.count) duplicates")
        }
        if reject {
            let r = try p.setStatus(.rejected, faceIDs: dups, command: commandLine())
            FileHandle.standardError.write(Data(describe(r, verb: "rejected").utf8))
        }
    }
}

/// Which faces a reject / restore / tag command acts on: ids, or a selection.
struct FaceSelection: ParsableArguments {
    @Argument(help: "Face ids.") var ids: [Int64] = []
    @Option(help: "Only faces of this role.") var role: Role?
    @Option(name: .customLong("where"), help: "An SQL expression over face columns, e.g. \"blur < 20 AND yaw > 10\" (read-only).")
    var whereSQL: String?
    @Option(help: "Faces whose blur (sharpness) is below X.") var blurBelow: Double?
    @Option(parsing: .unconditional, help: "With --worst: the sort whose last N faces to take (\(CurationSort.help)).") var sort: CurationSort?
    @Option(help: "The last N faces of --sort's order.") var worst: Int?
    @Option(help: "The faces of this person (number or name, see `facet people`).") var person: String?
    @Option(help: "The faces of the person's role that are NOT this person (e.g. reject everyone else).") var notPerson: String?

    func validate() throws {
        let selectors = [!ids.isEmpty, whereSQL != nil, blurBelow != nil, worst != nil, person != nil, notPerson != nil].filter { $0 }.count
        if selectors == 0 { throw ValidationError("say which faces: ids, --where SQL, --blur-below X, --sort F --worst N, --person P or --not-person P") }
        if !ids.isEmpty && selectors > 1 { throw ValidationError("give face ids or a selection (--where, --blur-below, --worst, --person, --not-person), not both") }
        if person != nil && notPerson != nil { throw ValidationError("--person and --not-person do not go together") }
        if (sort == nil) != (worst == nil) { throw ValidationError("--sort and --worst go together: --sort F --worst N") }
        if let w = worst, w < 1 { throw ValidationError("--worst must be 1 or more") }
    }

    /// The ids, resolved among faces of `status` (the ones the command can change).
    func resolve(_ p: Project, among status: FaceStatus?) throws -> [Int64] {
        if !ids.isEmpty { return ids }
        var q = FaceQuery(role: role, status: status, whereSQL: whereSQL)
        if let text = person ?? notPerson {
            // A person belongs to one role: the selection stays in it, and every face there must have
            // a person (else "not P" would take faces nobody has looked at yet).
            // Looked up in --role, else anywhere, so a person of the other role gets a message saying so.
            let who = try (try? resolvePerson(p, text, role: role)) ?? resolvePerson(p, text, role: nil)
            if let r = role, r != who.role { throw FacetError.file(p.path, "\(who.label) is a \(who.role.rawValue) person, not \(r.rawValue)") }
            q.role = who.role
            if person != nil { q.person = who.id } else { q.notPerson = who.id }
            var unassigned = q
            unassigned.notPerson = nil; unassigned.person = nil; unassigned.hasPerson = false
            let n = try p.countFaces(matching: unassigned)
            if n > 0 {
                throw FacetError.file(p.path, "\(n) \(who.role.rawValue) faces have no person yet: run `facet people \(p.path) --role \(who.role.rawValue)` first")
            }
        }
        if let x = blurBelow { q.ranges.append((field: .blur, min: nil, max: x.nextDown)) }
        if let sort, let n = worst { return Array(try p.sortedFaceIDs(matching: q, by: sort).suffix(n)) }
        return try p.faceIDs(matching: q)
    }
}

private func describe(_ r: CurationChangeSummary, verb: String, what: String = "") -> String {
    guard let id = r.changeId else { return "nothing to change: \(r.unchanged) faces already \(verb)\(what)\n" }
    return "\(verb)\(what) \(r.changed.count) faces: \(idRanges(r.changed))" + (r.unchanged > 0 ? " (\(r.unchanged) already were)" : "") + " [change \(id); `facet undo` reverts it]\n"
}

struct RejectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reject", abstract: "Mark faces rejected (never deletes; undoable).",
                                                    discussion: "Example: facet reject work.facet --role src --sort -blur --worst 50 (the 50 blurriest kept faces).")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var selection: FaceSelection

    func run() throws {
        let p = try Project(path: target.project)
        let ids = try selection.resolve(p, among: .kept)
        print(describe(try p.setStatus(.rejected, faceIDs: ids, command: commandLine()), verb: "rejected"), terminator: "")
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore", abstract: "Mark rejected faces kept again (undoable).")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var selection: FaceSelection

    func run() throws {
        let p = try Project(path: target.project)
        let ids = try selection.resolve(p, among: .rejected)
        print(describe(try p.setStatus(.kept, faceIDs: ids, command: commandLine()), verb: "restored"), terminator: "")
    }
}

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", abstract: "Tag faces (or with --remove, untag them); undoable.")
    @OptionGroup var target: ProjectArgument
    @Argument(help: "The tag (a word without commas).") var tag: String
    @OptionGroup var selection: FaceSelection
    @Flag(help: "Remove the tag instead of adding it.") var remove = false

    func run() throws {
        let p = try Project(path: target.project)
        let ids = try selection.resolve(p, among: nil)
        let r = try p.setTag(tag, on: ids, remove: remove, command: commandLine())
        print(describe(r, verb: remove ? "untagged" : "tagged", what: " '\(tag)'"), terminator: "")
    }
}

struct UndoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undo", abstract: "Undo the last reject, restore or tag change.")
    @OptionGroup var target: ProjectArgument

    func run() throws {
        let p = try Project(path: target.project)
        guard let u = try p.undoLastChange() else {
            print("nothing to undo")
            return
        }
        print("undid change \(u.changeId) (\(u.command), \(u.madeAt)): \(u.faces.count) faces back as they were: \(idRanges(u.faces))")
    }
}

struct OrderingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "orderings", abstract: "List saved orderings (from `facet sort --save`).")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var output: JSONFlag

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let list = try p.orderings()
        if output.json { try printJSON(list); return }
        for o in list { print("\(pad(o.name, 16)) \(pad(o.role ?? "any", 4)) \(pad(o.sortSpec, 14)) \(o.faces) faces  \(o.createdAt)") }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the curated faces to a folder: images named in sort order, plus manifest.jsonl.")
    @OptionGroup var target: ProjectArgument
    @Option(help: "src or dst.") var role: Role
    @Option(help: "The folder to write (created if missing; must be empty unless --force).") var out: String
    @Option(help: "kept, rejected or all.") var status: String = "kept"
    @Option(help: "Only faces with this tag.") var tag: String?
    @Option(name: .customLong("where"), help: "An SQL expression over face columns (read-only).") var whereSQL: String?
    @Option(parsing: .unconditional, help: "The order of the files (\(CurationSort.help)); default face id.") var sort: CurationSort?
    @Option(help: "jpg, png, or dfl (JPEG with DeepFaceLab's APP15 metadata: face type, landmarks, source frame, rect, matrix, polygons).") var format: ExportFormat = .jpg
    @Option(help: "Image size in pixels (default: as stored).") var size: Int?
    @Flag(help: "Write into a non-empty folder, replacing an earlier export there.") var force = false

    func validate() throws {
        guard status == "all" || FaceStatus(rawValue: status) != nil else { throw ValidationError("--status must be kept, rejected or all") }
        if let s = size, !(8...4096).contains(s) { throw ValidationError("--size must be 8...4096") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let q = FaceQuery(role: role, status: status == "all" ? nil : FaceStatus(rawValue: status), tag: tag, whereSQL: whereSQL)
        var progress = ProgressLine()
        let r = try FaceExport.export(p, query: q, sort: sort, to: out, format: format, size: size, force: force) { done, total in
            progress.update("export: \(done)/\(total) faces")
        }
        print("exported \(r.files) faces to \(r.folder) (manifest \(r.manifest))")
    }
}
