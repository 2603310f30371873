/// Identity commands: `facet embed` (descriptors for older faces) and `facet people` (persons).
import ArgumentParser
import FacetCore
import FacetCurate
import FacetExtract
import FacetStore
import Foundation

struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Compute the face-recognition descriptor of every face stored without one "
                  + "(projects made before identity).",
        discussion: "Resumable: each batch of frames is stored in one transaction, "
                    + "and a rerun does only the faces still missing.")
    @OptionGroup var target: ProjectArgument
    @Option(help: "Only faces of this role (default: every role).") var role: Role?
    @Option(help: "Frames described per transaction.") var batch: Int = 16

    func validate() throws {
        if batch < 1 { throw ValidationError("--batch must be at least 1") }
    }

    func run() throws {
        // The model first: a missing or damaged model file is one line, and the project is not touched.
        let describer = try FaceRecognizers.load()
        let p = try Project(path: target.project)
        var line = ProgressLine()
        let s = try EmbeddingFiller.run(project: p, role: role, describer: describer, batchFrames: batch) { pr in
            let eta = pr.secondsLeft.map { String(format: "ETA %.0f s", $0) } ?? ""
            line.update("embed: \(pr.facesDone)/\(pr.facesTotal) faces, \(String(format: "%.1f", pr.facesPerSecond)) "
                        + "faces/s \(eta)")
        }
        for e in s.skipped.prefix(10) { FileHandle.standardError.write(Data("warning: \(e)\n".utf8)) }
        line.finish("embed: \(s.facesDescribed) faces described (\(s.alreadyDone) already had a descriptor) in "
                    + "\(String(format: "%.1f", s.seconds)) s")
    }
}

/// A person as `facet people --json` prints it.
struct PersonJSON: Encodable {
    var id: Int64, role: String, name: String?, faces: Int, kept: Int, rejected: Int
    var representativeFaceId: Int64?, media: [MediaCount], new: Bool
    struct MediaCount: Encodable { var name: String, faces: Int }
}

struct PeopleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "people",
        abstract: "Cluster each role's faces into persons by identity (stored), and list or name them.",
        discussion: """
            Faces whose descriptors are within --threshold of a person's faces (root-mean-square L2 distance, dlib's \
            units: under 0.6 is the same person) are that person. A rerun after new faces keeps the persons' numbers \
            and names. Examples: facet people work.facet; facet people work.facet --name 2 alice; \
            facet faces work.facet --person alice.
            """)
    @OptionGroup var target: ProjectArgument
    @Option(help: "Only this role (default: every role with faces).") var role: Role?
    @Option(help: "Same-person distance (dlib's units).") var threshold: Double = FaceEmbedding.samePersonThreshold
    @Option(name: .customLong("name"),
            help: "Name person N (with the name as the next argument; \"\" removes it); no clustering.")
    var nameNumber: String?
    @Argument(help: "With --name N: the name.") var newName: String?
    @Flag(help: "List the stored persons without clustering again.") var list = false
    @OptionGroup var output: JSONFlag

    func validate() throws {
        if !(threshold > 0 && threshold < 2) { throw ValidationError("--threshold must be in (0, 2)") }
        if nameNumber != nil && newName == nil {
            throw ValidationError("--name N NAME: give the name after the person's number")
        }
        if nameNumber == nil && newName != nil {
            throw ValidationError("unexpected argument '\(newName!)' (to name a person: --name N NAME)")
        }
        if nameNumber != nil && list { throw ValidationError("--name and --list do not go together") }
    }

    func run() throws {
        if let n = nameNumber, let name = newName {
            let p = try Project(path: target.project)
            let person = try p.person(resolving: n, role: role)
            let named = try p.namePerson(id: person.id, name: name.isEmpty ? nil : name)
            print(named.name.map { "\(named.role.rawValue) person \(named.id) is now "
                                   + "named '\($0)'" } ?? "\(named.role.rawValue) person \(named.id) has no name now")
            return
        }
        // Checked read-only first: without descriptors the file is left as it was.
        let reader = try Project(path: target.project, mode: .readOnly)
        let roles = try role.map { [$0] }
            ?? Role.allCases.filter { try reader.countFaces(matching: FaceQuery(role: $0)) > 0 }
        if roles.isEmpty { throw FacetError.file(reader.path, "has no faces: run `facet extract` first") }
        if !list {
            for r in roles {
                let c = try reader.embeddingCounts(role: r)
                if c.withDescriptor < c.faces {
                    throw reader.missingEmbeddingsError(c.faces - c.withDescriptor, of: c.faces, role: r)
                }
            }
        }
        try reader.close()
        let p = try Project(path: target.project, mode: list ? .readOnly : .readWrite)
        var results: [(Role, [PersonRecord], Set<Int64>, String?)] = []
        for r in roles {
            if list {
                results.append((r, try p.persons(role: r), [], nil))
                continue
            }
            let res = try PeopleFinder.run(p, role: r, threshold: threshold)
            let faces = res.persons.reduce(0) { $0 + $1.faceCount }
            let note = "\(r.rawValue): \(res.persons.filter { $0.faceCount > 0 }.count) persons from \(faces) faces "
                       + "(threshold \(threshold)), "
                + "\(res.facesChanged) faces changed person, \(res.newPersons.count) new"
                + (res.removed.isEmpty ? "" : ", removed \(res.removed.map(String.init).joined(separator: ", "))")
                + String(format: ", %.2f s", res.seconds)
            results.append((r, res.persons, Set(res.newPersons), note))
        }
        let breakdown = try p.personBreakdown(role: role)
        if output.json {
            var all: [PersonJSON] = []
            for (_, persons, new, _) in results {
                for q in persons {
                    let b = breakdown[q.id] ?? (0, 0, [])
                    all.append(PersonJSON(id: q.id, role: q.role.rawValue, name: q.name, faces: q.faceCount,
                                          kept: b.kept, rejected: b.rejected,
                                          representativeFaceId: q.representativeFaceId,
                                          media: b.media.map { .init(name: $0.name, faces: $0.faces) },
                                          new: new.contains(q.id)))
                }
            }
            try printJSON(all)
            return
        }
        for (r, persons, new, note) in results {
            if let note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            if persons.isEmpty {
                print("\(r.rawValue): no persons yet (run `facet people \(p.path) --role \(r.rawValue)`)")
                continue
            }
            print("person role  name             faces   kept rejected  face  media")
            for q in persons {
                let b = breakdown[q.id] ?? (0, 0, [])
                let media = b.media.map { "\($0.name) (\($0.faces))" }.joined(separator: ", ")
                print("\(String(format: "%6lld", q.id)) \(pad(r.rawValue, 4)) \(pad(q.name ?? "-", 16)) "
                      + "\(String(format: "%6d %6d %8d", q.faceCount, b.kept, b.rejected)) "
                      + "\(q.representativeFaceId.map { String(format: "%5lld", $0) } ?? "    -")  "
                      + "\(media)\(new.contains(q.id) ? "  (new)" : "")")
            }
        }
    }
}

/// Resolves `text` (a person's number or name) among `role`'s persons, for the options that take one.
func resolvePerson(_ p: Project, _ text: String, role: Role?) throws -> PersonRecord {
    try p.person(resolving: text, role: role)
}
