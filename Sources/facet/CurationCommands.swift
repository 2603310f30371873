/// Curation commands: sort, similar, duplicates, reject, restore, tag, undo, orderings, export.
import ArgumentParser
import FacetCore
import FacetCurate
import FacetStore
import Foundation

/// The sorts the curation commands take, for help texts.
let sortHelp = "sharpness (higher is sharper; `blur` is its old name), motion_blur, yaw, pitch, roll, face_size, "
               + "brightness, hue, "
    + "score, ... (any face column), hist, hist_dissim, best:N, ordering:NAME; prefix - to reverse"

/// Whether a higher value of the field is the better face (nil: neither end is better, e.g. yaw).
func higherIsBetter(_ field: FaceField) -> Bool? {
    switch field {
    case .blur, .motionBlur, .score, .faceSize: return true
    default: return nil
    }
}

/// "1 face", "3 faces".
func faces(_ n: Int) -> String { n == 1 ? "1 face" : "\(n) faces" }

/// Writes a line to stderr.
func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// `min-max, median M` of some values, for the lines that say what decided a selection.
func spread(_ values: [Double]) -> String {
    guard !values.isEmpty else { return "none" }
    let v = values.sorted()
    let median = v.count % 2 == 1 ? v[v.count / 2] : (v[v.count / 2 - 1] + v[v.count / 2]) / 2
    return v.count == 1 ? String(format: "%.3g", v[0]) : String(
        format: "%.3g ... %.3g, median %.3g", v[0], v[v.count - 1], median)
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
    return parts.count > limit
        ? parts.prefix(limit).joined(separator: ", ") + ", ... (\(parts.count - limit) more runs)"
        : parts.joined(separator: ", ")
}

struct SortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sort",
        abstract: "Order faces by a stored signature, histogram chain, dissimilarity or best-N; print, "
                  + "save or tag the order.",
        discussion: """
            A sort never renames or moves anything. SORT is one of: \(sortHelp). Without --role each role is sorted \
            apart (src, then dst). --limit shortens what is printed; --save and --tag-as take the whole order.
            """)
    @OptionGroup var target: ProjectArgument
    @Option(parsing: .unconditional, help: ArgumentHelp("The sort: \(sortHelp).", valueName: "sort"),
            transform: parseCurationSort)
    var sort: CurationSort
    @OptionGroup var filter: FaceFilterOptions
    @Option(help: "Print only the first N faces of each role's order (--save and --tag-as still take the whole order).")
    var limit: Int?
    @Option(help: "Save the whole order as a named ordering (replaces one of that name).") var save: String?
    @Option(name: .customLong("tag-as"), help: "Apply this tag to every face of the order (undoable).")
    var applyTag: String?
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if let l = limit, l < 0 { throw ValidationError("--limit must be 0 or more") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: save == nil && applyTag == nil ? .readOnly : .readWrite)
        // Each role apart: one histogram chain through both roles' faces would mean nothing.
        var orders: [(role: Role?, ids: [Int64])] = []
        let base = try filter.query(in: p)
        for role in filter.role.map({ [$0] }) ?? Role.allCases {
            var q = base
            q.role = role
            orders.append((role, try p.sortedFaceIDs(matching: q, by: sort)))
        }
        if orders.count > 1 { orders.removeAll { $0.ids.isEmpty } }
        let all = orders.flatMap(\.ids)
        if let name = save {
            try p.saveOrdering(name: name, role: filter.role, sort: sort, faceIDs: all)
            note("saved ordering '\(name)' of \(faces(all.count)) "
                 + "(the whole order\(limit != nil ? "; --limit only shortens the listing" : ""))")
        }
        if let tag = applyTag {
            let r = try p.setTag(tag, on: all, command: commandLine())
            note("tagged \(faces(r.changed.count)) '\(tag)' (\(r.unchanged) already had it)")
        }
        let shown = orders.flatMap { o in limit.map { Array(o.ids.prefix($0)) } ?? o.ids }
        let records = Dictionary(uniqueKeysWithValues: try p.faces(matching: FaceQuery(ids: shown)).map { ($0.id, $0) })
        let ordered = shown.compactMap { records[$0] }
        if output.json { try printJSON(try FaceJSON.list(ordered, project: p)); return }
        // The column the order is by comes first after the face, then sharpness and pose.
        var columns: [FaceField] = []
        if case .column(let s) = sort { columns.append(s.field) }
        for f in [FaceField.blur, .yaw, .pitch] where !columns.contains(f) { columns.append(f) }
        print("  rank     id role  frame face status  " + columns.map {
            String(repeating: " ", count: max(0, 10 - displayName($0).count)) + displayName($0)
        }.joined(separator: " "))
        var rank = [Role: Int]()
        for f in ordered {
            rank[f.role, default: 0] += 1
            let values = columns.map { fmt(value(f, $0), $0 == .blur ? 3 : 1, width: 10) }.joined(separator: " ")
            print("\(String(format: "%6d", rank[f.role]!)) \(String(format: "%6lld", f.id)) \(pad(f.role.rawValue, 4)) "
                  + "\(String(format: "%6d", f.frameIndex)) \(String(format: "%4d", f.faceIndex)) "
                  + "\(pad(f.status.rawValue, 8)) \(values)")
        }
        if filter.role == nil && orders.count > 1 { note("each role sorted apart (src, then dst); --role picks one") }
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
        commandName: "similar", abstract: "The faces nearest to a face: by identity "
                                          + "(the same person first) or by colour histogram.",
        discussion: "identity: L2 distance of the face-recognition descriptors, dlib's units (under 0.6: "
                    + "the same person). histogram: summed Bhattacharyya distance of the colour histograms "
                    + "(0 identical, 3 disjoint).")
    enum By: String, ExpressibleByArgument, CaseIterable { case identity, histogram }
    @OptionGroup var target: ProjectArgument
    @Argument(help: "The face id to compare with.") var faceId: Int64
    @Option(help: "How many faces.") var k: Int = 10
    @OptionGroup var role: RoleOption
    @Option(help: "identity (default) or histogram.") var by: By = .identity
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if k < 1 { throw ValidationError("--k must be 1 or more") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let near = by == .identity ? try p.similarFacesByIdentity(to: faceId, k: k, role: role.role)
            : try p.similarFaces(to: faceId, k: k, role: role.role)
        if output.json { try printJSON(near); return }
        let faces = Dictionary(uniqueKeysWithValues: try p.faces(matching: FaceQuery(ids: near.map(\.id))).map { ($0.id,
                                                                                                                  $0) })
        print("    id role  frame face status    distance person")
        for n in near {
            guard let f = faces[n.id] else { continue }
            print("\(String(format: "%6lld", f.id)) \(pad(f.role.rawValue, 4)) \(String(format: "%6d", f.frameIndex)) "
                  + "\(String(format: "%4d", f.faceIndex)) \(pad(f.status.rawValue, 8)) "
                  + "\(String(format: "%11.6f", n.distance)) "
                  + "\(f.personId.map { String(format: "%6lld", $0) } ?? "     -")")
        }
    }
}

/// The default `duplicates --threshold`: the summed Bhattacharyya distance under which two faces count
/// as the same picture. Measured on the sample videos at 256 px crops: consecutive frames of a talking
/// head are 0.07-0.1 apart, and the former default 0.1 flagged 168 of 216 src and 215 of 250 dst faces;
/// 0.03 flags none of them and leaves room for a still shot's re-encoding noise.
let defaultDuplicateThreshold = 0.03

struct DuplicatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "Find near-identical faces (e.g. consecutive frames of a still shot); "
                  + "keep the sharpest of each group.",
        discussion: """
            The distance of two faces is the sum over R, G and B of the Bhattacharyya distance of their colour \
            histograms: 0 for the same picture, up to 3 for pictures with no colour in common; consecutive frames of \
            a still shot are under 0.03, while moving ones (a talking head) are 0.07-0.1 apart at 256 px crops \
            (smaller crops \
            have noisier histograms and larger distances). Each role is checked apart. Without --reject nothing changes.
            """)
    @OptionGroup var target: ProjectArgument
    @OptionGroup var role: RoleOption
    @Option(help: "The distance under which two faces count as the same, 0...3 (default \(defaultDuplicateThreshold)).")
    var threshold: Double = defaultDuplicateThreshold
    @Flag(help: "Reject the duplicates (undoable with `facet undo`).") var reject = false
    @Flag(help: "With --reject and no --role: reject dst duplicates too (their frames are then merged unswapped).")
    var yes = false
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if !(threshold > 0 && threshold <= 3) { throw ValidationError("--threshold must be in (0, 3]") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: reject ? .readWrite : .readOnly)
        var groups: [DuplicateGroup] = []
        var lines: [String] = []
        var dstDuplicates = 0
        for r in role.role.map({ [$0] }) ?? Role.allCases {
            let kept = try p.countFaces(matching: FaceQuery(role: r, status: .kept))
            guard kept > 0 else { continue }
            let g = try p.duplicateGroups(matching: FaceQuery(role: r, status: .kept), threshold: threshold)
            let n = g.reduce(0) { $0 + $1.duplicates.count }
            if r == .dst { dstDuplicates = n }
            groups += g
            lines.append("\(r.rawValue): \(g.count) groups, \(faces(n)) duplicate" + (n == 1 ? "" : "s")
                         + " of \(kept) kept: rejecting them would leave \(kept - n)")
        }
        let dups = groups.flatMap { $0.duplicates.map(\.id) }
        if output.json { try printJSON(groups) } else {
            for g in groups {
                print("keep \(g.keep): " + g.duplicates.map {
                    "\($0.id) (\(String(format: "%.4f", $0.distance)))"
                }.joined(separator: ", "))
            }
            if !groups.isEmpty {
                print("(each line: the sharpest face of a group, then its duplicates with their histogram "
                      + "distance to it)")
            }
            for l in lines { print(l) }
            print("(histogram distance: summed Bhattacharyya distance of the R, G, B histograms, "
                  + "0 = the same picture ... 3)")
            print("\(groups.count) groups, \(dups.count) duplicates at distance < \(threshold)")
        }
        if reject {
            if role.role == nil && dstDuplicates > 0 && !yes {
                throw FacetError.file(p.path,
                                      "would reject \(faces(dstDuplicates)) of dst too, "
                                      + "whose frames would then be merged unswapped: "
                                      + "add --role src, or --role dst or --yes to reject them; nothing changed")
            }
            let r = try p.setStatus(.rejected, faceIDs: dups, command: commandLine())
            note(describe(r, verb: "rejected").trimmingCharacters(in: .newlines))
        } else if !output.json {
            note("nothing changed (add --reject to reject the duplicates; `facet undo` reverts that)")
        }
    }
}

/// Which faces a reject / restore / tag command acts on: ids, or a selection.
struct FaceSelection: ParsableArguments {
    @Argument(help: "Face ids as facet prints them: 12, 93-98, 3,4,9.") var ids: [String] = []
    @OptionGroup var roleOption: RoleOption
    @Option(name: .customLong("where"), help: ArgumentHelp(
        "An SQL expression over face columns, e.g. \"sharpness < 2 AND yaw > 10\" (read-only).", valueName: "sql"))
    var whereSQL: String?
    @Option(help: """
        Faces whose sharpness is below X. Sharpness is the inverse width of the face's edges in a 256 px crop: \
        about 11/s for edges blurred over s pixels (typically 1 blurry ... 6 sharp).
        """) var sharpnessBelow: Double?
    @Option(help: ArgumentHelp("The old name of --sharpness-below.", visibility: .hidden)) var blurBelow: Double?
    @Option(help: "The blurriest N faces, or P% of them (e.g. 5%), among those the command can change.")
    var blurriest: Amount?
    @Option(parsing: .unconditional, help: ArgumentHelp("With --worst: the measure (\(sortHelp)).", valueName: "sort"),
            transform: parseCurationSort)
    var sort: CurationSort?
    @Option(help: """
        The worst N faces (or P%) by --sort: the lowest of a measure where higher is better (sharpness, motion_blur, \
        score, face_size), whichever sign --sort has; for any other sort the last N of its order.
        """) var worst: Amount?
    @Option(help: "The faces of this person (number or name, see `facet people`).") var person: String?
    @Option(help: "The faces of the person's role that are NOT this person (e.g. reject everyone else).")
    var notPerson: String?
    @Flag(help: """
        Go on where facet would otherwise refuse: rejecting dst faces without --role, or more than half of the faces.
        """)
    var yes = false

    var role: Role? { roleOption.role }
    var sharpness: Double? { sharpnessBelow ?? blurBelow }

    /// Notes on old option names, printed once the command has succeeded (a refusal stays one line).
    func renamedOptionNotes() {
        if blurBelow != nil {
            note("note: --blur-below is now --sharpness-below (blur was always a sharpness score: higher is sharper)")
        }
    }

    func validate() throws {
        _ = try FaceIDList.parse(ids)
        let selectors = [!ids.isEmpty, whereSQL != nil, sharpness != nil, worst != nil, blurriest != nil, person != nil,
                         notPerson != nil]
            .filter { $0 }.count
        if person != nil && notPerson != nil { throw ValidationError("--person and --not-person do not go together") }
        if selectors == 0 {
            throw ValidationError("say which faces: ids, --where SQL, --sharpness-below X, --blurriest N|P%, "
                                  + "or --sort F --worst N|P%")
        }
        if !ids.isEmpty && selectors > 1 {
            throw ValidationError("give face ids or a selection (--where, --sharpness-below, --blurriest, "
                                  + "--worst), not both")
        }
        if (sort == nil) != (worst == nil) {
            throw ValidationError("--sort and --worst go together: --sort F --worst N")
        }
        if worst != nil && blurriest != nil {
            throw ValidationError("--blurriest is --sort sharpness --worst: give one of them")
        }
        if sharpnessBelow != nil && blurBelow != nil {
            throw ValidationError("--blur-below is the old name of --sharpness-below: give one")
        }
    }

    /// What a selection chose, and the line that says what decided it.
    struct Resolved {
        var ids: [Int64]
        /// The faces the selection chose from (nil for explicit ids).
        var candidates: [FaceRecord]?
        var decided: String?
    }

    /// The ids, resolved among faces of `status` (the ones the command can change).
    func resolve(_ p: Project, among status: FaceStatus?) throws -> Resolved {
        if !ids.isEmpty { return Resolved(ids: try FaceIDList.parse(ids)) }
        var q = FaceQuery(role: role, status: status, whereSQL: whereSQL)
        if let text = person ?? notPerson {
            // A person belongs to one role: the selection stays in it, and every face there must have
            // a person (else "not P" would take faces nobody has looked at yet).
            // Looked up in --role, else anywhere, so a person of the other role gets a message saying so.
            let who = try (try? resolvePerson(p, text, role: role)) ?? resolvePerson(p, text, role: nil)
            if let r = role, r != who.role {
                throw FacetError.file(p.path, "\(who.label) is a \(who.role.rawValue) person, not \(r.rawValue)")
            }
            q.role = who.role
            if person != nil { q.person = who.id } else { q.notPerson = who.id }
            var unassigned = q
            unassigned.notPerson = nil; unassigned.person = nil; unassigned.hasPerson = false
            let n = try p.countFaces(matching: unassigned)
            if n > 0 {
                throw FacetError.file(p.path,
                                      "\(n) \(who.role.rawValue) faces have no person yet: "
                                      + "run `facet people \(p.path) --role \(who.role.rawValue)` first")
            }
        }
        let candidates = try p.faces(matching: q)
        let pool = "the \(candidates.count) " + (status.map { "\($0.rawValue) " } ?? "")
            + (role.map { "\($0.rawValue) " } ?? "")
            + (candidates.count == 1 ? "face" : "faces")
        if let x = sharpness {
            q.ranges.append((field: .blur, min: nil, max: x.nextDown))
            let chosen = try p.faceIDs(matching: q)
            return Resolved(ids: chosen, candidates: candidates,
                            decided: "sharpness below \(x) (higher is sharper): "
                                     + "\(pool) range \(spread(candidates.map(\.blur)))")
        }
        let measure: CurationSort? = blurriest != nil ? .column(FaceSort(.blur)) : sort
        guard let measure, let amount = blurriest ?? worst else {
            return Resolved(ids: try p.faceIDs(matching: q), candidates: candidates)
        }
        let n = amount.of(candidates.count)
        if case .column(let s) = measure {
            let byId = Dictionary(uniqueKeysWithValues: candidates.map { ($0.id, value($0, s.field)) })
            let name = displayName(s.field)
            let chosen: [Int64]
            let how: String
            if higherIsBetter(s.field) == true {
                chosen = Array(try p.sortedFaceIDs(matching: q, by: .column(FaceSort(s.field))).prefix(n))
                how = "the lowest \(name) (higher is better)"
            } else {
                chosen = Array(try p.sortedFaceIDs(matching: q, by: measure).suffix(n))
                how = "the last of --sort \(measure)"
            }
            return Resolved(ids: chosen, candidates: candidates,
                            decided: "\(faces(chosen.count)) with \(how): "
                                     + "\(name) \(spread(chosen.compactMap { byId[$0] })); "
                                + "\(pool): \(spread(candidates.map { value($0, s.field) }))")
        }
        let chosen = Array(try p.sortedFaceIDs(matching: q, by: measure).suffix(n))
        return Resolved(ids: chosen, candidates: candidates,
                        decided: "the last \(faces(chosen.count)) of the \(measure) order of \(pool)")
    }

    /// Refuses (one line, nothing changed) a rejection a user would not mean: dst faces without
    /// --role (they leave frames unswapped), or more than half of the faces by a selection.
    func guardRejection(_ r: Resolved, project p: Project) throws {
        if r.candidates == nil {
            let dst = try p.faces(matching: FaceQuery(ids: r.ids))
                .filter { $0.role == .dst && $0.status == .kept }.count
            if dst > 0 {
                note("note: \(faces(dst)) of dst: their frames will be merged unswapped "
                     + "(facet restore or undo brings them back)")
            }
            return
        }
        guard !yes else { return }
        let roles = try p.faces(matching: FaceQuery(ids: r.ids))
        let dst = roles.filter { $0.role == .dst }.count
        if role == nil && dst > 0 {
            throw FacetError.file(p.path,
                                  "this would reject \(faces(dst)) of dst too, "
                                  + "whose frames would then be merged unswapped: "
                                  + "add --role src, or --role dst or --yes to reject them; nothing changed")
        }
        let total = r.candidates!.count
        if r.ids.count * 2 > total {
            throw FacetError.file(p.path,
                                  "this would reject \(r.ids.count) of \(total) faces (\(r.decided ?? "by --where")): "
                                  + "narrow the selection, or add --yes; nothing changed")
        }
    }
}

extension FaceSelection {
    /// The one path of reject, restore and tag: resolves the selection among `status`, runs `check` on it, notes how it
    /// was decided, applies `apply` to the chosen faces and prints what changed (`describe`), then any renamed-option
    /// note.
    func change(_ p: Project, among status: FaceStatus?, verb: String, what: String = "",
                check: (Resolved) throws -> Void = { _ in }, apply: ([Int64]) throws -> CurationChangeSummary) throws {
        let r = try resolve(p, among: status)
        try check(r)
        if let d = r.decided { note("selected: \(d)") }
        print(describe(try apply(r.ids), verb: verb, what: what), terminator: "")
        renamedOptionNotes()
    }
}

/// What a curation change did, in one line: "rejected 3 faces: 4-6 [change 2; ...]".
func describe(_ r: CurationChangeSummary, verb: String, what: String = "") -> String {
    guard let id = r.changeId else {
        let state: String
        switch verb {
        case "restored": state = r.unchanged == 1 ? "is not rejected (it is kept)" : "are not rejected (they are kept)"
        case "untagged": state = (r.unchanged == 1 ? "does not have" : "do not have") + " the tag\(what)"
        default: state = (r.unchanged == 1 ? "is already " : "are already ") + verb + what
        }
        if r.unchanged == 0 { return "nothing to change: no face matches\n" }
        return "nothing to change: \(r.unchanged == 1 ? "the face" : "the \(r.unchanged) faces") \(state)\n"
    }
    return "\(verb)\(what) \(faces(r.changed.count)): \(idRanges(r.changed))"
        + (r.unchanged > 0 ? " (\(r.unchanged) already were)" : "") + " [change \(id); `facet undo` reverts it]\n"
}

struct RejectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reject", abstract: "Mark faces rejected (never deletes; undoable).",
        discussion: """
            Examples: facet reject work.facet --role src --blurriest 5% (the blurriest 5% of the kept src faces); \
            facet reject work.facet 93-98,126. Without --role a selection that takes dst faces is refused (a rejected \
            dst face leaves its frame unswapped), and so is one that takes more than half of the faces, unless --yes.
            """)
    @OptionGroup var target: ProjectArgument
    @OptionGroup var selection: FaceSelection

    func run() throws {
        let p = try Project(path: target.project)
        try selection.change(p, among: .kept, verb: "rejected",
                             check: { try selection.guardRejection($0, project: p) }) {
            try p.setStatus(.rejected, faceIDs: $0, command: commandLine())
        }
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restore",
                                                    abstract: "Mark rejected faces kept again (undoable).")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var selection: FaceSelection

    func run() throws {
        let p = try Project(path: target.project)
        try selection.change(p, among: .rejected, verb: "restored") {
            try p.setStatus(.kept, faceIDs: $0, command: commandLine())
        }
    }
}

struct TagCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tag", abstract: "Tag faces (or with --remove, untag them); undoable.",
        discussion: "The tag comes first: facet tag work.facet frontal 12-20. facet tags lists the tags.")
    @OptionGroup var target: ProjectArgument
    @Argument(help: "The tag (a word without commas; not a number).") var tag: String
    @OptionGroup var selection: FaceSelection
    @Flag(help: "Remove the tag instead of adding it.") var remove = false

    func run() throws {
        let p = try Project(path: target.project)
        try selection.change(p, among: nil, verb: remove ? "untagged" : "tagged", what: " '\(tag)'") {
            try p.setTag(tag, on: $0, remove: remove, command: commandLine())
        }
    }
}

struct TagsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tags",
                                                    abstract: "List face tags with how many faces carry each.")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var output: JSONFlag

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let tags = try p.tagCounts()
        if output.json { try printJSON(tags); return }
        if tags.isEmpty { print("no face tags yet (facet tag PROJECT TAG IDS... adds one)"); return }
        print("\(pad("tag", 20)) \(pad("faces", 6)) \(pad("src", 6)) \(pad("dst", 6)) kept")
        for t in tags {
            print("\(pad(t.tag, 20)) \(pad(String(t.faces), 6)) \(pad(String(t.src), 6)) "
                  + "\(pad(String(t.dst), 6)) \(t.kept)")
        }
    }
}

struct UndoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undo",
                                                    abstract: "Undo the last reject, restore, tag or mask "
                                                              + "labels change (facet redo applies it again).")
    @OptionGroup var target: ProjectArgument

    func run() throws {
        let p = try Project(path: target.project)
        guard let u = try p.undoLastChange() else {
            print("nothing to undo")
            return
        }
        print("undid change \(u.changeId) (\(u.command), \(u.madeAt)): \(faces(u.faces.count)) back as they were: "
              + "\(idRanges(u.faces)) [`facet redo` applies it again]")
    }
}

struct RedoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "redo",
                                                    abstract: "Apply again the change the last undo reverted.")
    @OptionGroup var target: ProjectArgument

    func run() throws {
        let p = try Project(path: target.project)
        let r = try p.redoLastUndo()
        if let later = r.blockedBy {
            print("nothing to redo: change \(later) was made after the last undo (redo only follows undo directly)")
            return
        }
        guard let u = r.redone else {
            print("nothing to redo")
            return
        }
        print("redid change \(u.changeId) (\(u.command)): \(faces(u.faces.count)): \(idRanges(u.faces))")
    }
}

struct OrderingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "orderings",
                                                    abstract: "List saved orderings (from `facet sort --save`).")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var output: JSONFlag

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        let list = try p.orderings()
        if output.json { try printJSON(list); return }
        if list.isEmpty { print("no saved orderings (facet sort --sort SORT --save NAME saves one)"); return }
        for o in list {
            print("\(pad(o.name, 16)) \(pad(o.role ?? "both", 4)) \(pad(o.sortSpec, 14)) \(faces(o.faces))  "
                  + "\(o.createdAt)")
        }
    }
}

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the curated faces to a folder: images named in sort order, plus manifest.jsonl.")
    @OptionGroup var target: ProjectArgument
    @OptionGroup var filter: FaceFilterOptions
    @Option(help: "The folder to write (created if missing; must be empty unless --force).") var out: String
    @Option(parsing: .unconditional,
            help: ArgumentHelp("The order of the files (\(sortHelp)); default face id.", valueName: "sort"),
            transform: parseCurationSort)
    var sort: CurationSort?
    @Option(help: "jpg or png.") var format: ExportFormat = .jpg
    @Option(help: "Image size in pixels (default: as stored).") var size: Int?
    @Flag(help: "Write into a non-empty folder, replacing an earlier export there.") var force = false

    func validate() throws {
        if filter.role == nil {
            throw ValidationError("export needs --role src or --role dst (a face set is one person's)")
        }
        if let s = size, !(8...4096).contains(s) { throw ValidationError("--size must be 8...4096") }
    }

    func run() throws {
        let p = try Project(path: target.project, mode: .readOnly)
        var progress = ProgressLine()
        let r = try FaceExport.export(p, query: filter.query, sort: sort, to: out, format: format, size: size,
                                      force: force) { done, total in
            progress.update("export: \(done)/\(total) faces")
        }
        print("exported \(r.files) faces to \(r.folder) (manifest \(r.manifest))")
    }
}

