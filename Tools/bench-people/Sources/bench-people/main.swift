/// Times identity at scale (Tools/bench-people/run): `similar --by identity`, `people` and
/// `sort --sort identity` on a scratch project of N faces made through the store's own API.
import Foundation
import FacetCore
import FacetCurate
import FacetStore
import FacetTestSupport
import COpenBLAS
import GRDB

/// Usage: bench-people FIXTURES_DIR SCRATCH_DIR [--n 100000] [--persons 300] [--facet FACET_BINARY],
/// or `bench-people core` (OpenBLAS's kernel family). Prints one JSON line; progress on stderr.
let args = CommandLine.arguments
if args.count == 2 && args[1] == "core" {
    print(String(cString: openblas_get_corename()))
    exit(0)
}
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: bench-people FIXTURES_DIR SCRATCH_DIR [--n N] [--persons P] [--facet BINARY]\n".utf8))
    exit(2)
}
let fixtures = args[1], scratch = args[2]
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    return args[i + 1]
}
let n = option("--n").flatMap(Int.init) ?? 100_000
let personsDrawn = option("--persons").flatMap(Int.init) ?? 300
let facetBinary = option("--facet")
let videos = ["src-d18.mp4", "dst-d19.mp4", "extra-d20.mp4"].map { fixtures + "/video/" + $0 }

func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// Seconds of one call.
func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}



/// CPU seconds of this process so far (all threads).
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// CPU seconds (user + system) of the children waited for so far.
func childCPUSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_CHILDREN.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}

/// A timing: median wall clock and the CPU time of that same call.
struct Timing {
    var wall: Double, cpu: Double
    var ms: String { String(format: "%.1f ms (CPU %.1f ms)", wall * 1000, cpu * 1000) }
    var s: String { String(format: "%.2f s (CPU %.2f s)", wall, cpu) }
}

/// Median over `reps` calls after one warm-up call, with that call's CPU time (this process's, or
/// its children's for `children`).
func timed(_ reps: Int, children: Bool = false, _ body: () throws -> Void) rethrows -> Timing {
    try body()
    var t: [Timing] = []
    for _ in 0..<reps {
        let c0 = children ? childCPUSeconds() : cpuSeconds()
        let w = try time(body).1
        t.append(Timing(wall: w, cpu: (children ? childCPUSeconds() : cpuSeconds()) - c0))
    }
    return t.sorted { $0.wall < $1.wall }[t.count / 2]
}

/// `facet ARGS` as a child process (start, open, read, compute, print, exit: what a user waits
/// for): the median of `reps` runs after one warm-up run, with its CPU time; nil without a binary.
func command(_ reps: Int, _ arguments: [String]) throws -> Timing? {
    guard let facetBinary else { return nil }
    func once() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: facetBinary)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw FacetError("facet \(arguments.joined(separator: " ")): exit \(p.terminationStatus): \(String(decoding: message, as: UTF8.self))")
        }
    }
    return try timed(reps, children: true) { try once() }
}

/// A normal deviate (Box-Muller).
func gaussian(_ rng: inout SplitMix64) -> Double {
    let u = max(rng.unit(), 1e-300), v = rng.unit()
    return (-2 * Foundation.log(u)).squareRoot() * cos(2 * .pi * v)
}

// The descriptor geometry, calibrated on dlib's own descriptors of the 43 distinct fixture faces
// (Tests/Fixtures/images/reference/face_descriptors.json, dlib-bin): they share a mean vector (norm
// 1.33) and scatter about it by 0.048 per component; two different people are 0.47 to 1.04 apart
// (mean 0.78). A drawn person's centre is that mean plus N(0, 0.0434^2) per component; each shot
// (a run of 20 to 60 consecutive faces: a video's frames) adds an offset of N(0, 0.012^2) per
// component (lighting, pose), each face N(0, 0.018^2) more. So a face lies about 0.24 from its
// person's centre, two faces of one person about 0.34 apart (0.28 within a shot), of two people
// about 0.78 (sqrt(0.695^2 + 2 x 0.24^2)), as in dlib's. Persons appear with Zipf weights 1/rank
// (a few main characters, many extras).
let reference = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/images/reference/face_descriptors.json"))) as! [String: Any]
let fixtureDescriptors = (reference["faces"] as! [[String: Any]]).prefix(43).map { ($0["descriptor"] as! [NSNumber]).map(\.floatValue) }
let dim = FaceEmbedding.dimension
let mean = (0..<dim).map { k in fixtureDescriptors.reduce(Float(0)) { $0 + $1[k] } / Float(fixtureDescriptors.count) }
var rng = SplitMix64(seed: 18)
let centres = (0..<personsDrawn).map { _ in mean.map { $0 + Float(gaussian(&rng) * 0.0434) } }
let zipf = (0..<personsDrawn).map { 1.0 / Double($0 + 1) }
let zipfTotal = zipf.reduce(0, +)
func drawPerson(_ rng: inout SplitMix64) -> Int {
    var u = rng.unit() * zipfTotal
    for (p, w) in zipf.enumerated() { u -= w; if u <= 0 { return p } }
    return personsDrawn - 1
}

var result: [String: Any] = ["bench": "facet_people", "n": n, "persons_drawn": personsDrawn,
                             "cpu_count": ProcessInfo.processInfo.activeProcessorCount,
                             "openblas_core": String(cString: openblas_get_corename())]

// 1. The project: n faces through the store (SampleFaces: real frames' crops at 32 px, as the curation
// benchmark makes them), then one descriptor each, stored through `storeEmbeddings`.
let path = scratch + "/people.facet"
// --reuse: a project left by an earlier run with the same --n (faces, descriptors) is used again, its
// persons cleared (for working on the code: the fill takes minutes).
let reuse = args.contains("--reuse") && FileManager.default.fileExists(atPath: path)
if reuse {
    let db = try DatabaseQueue(path: path)
    try db.write { db in
        try db.execute(sql: "UPDATE face SET person_id = NULL")
        try db.execute(sql: "DELETE FROM person")
    }
    try db.close()
} else {
    for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }
    _ = try Project.create(at: path)
}
let p = try Project(path: path)
let (_, fillSeconds) = try time { if !reuse { try SampleFaces.fill(p, role: .src, videos: videos, count: n, cropSize: 32, framesPerVideo: 60, seed: 7) } }
let ids = try p.faceIDs(matching: FaceQuery(role: .src))
log("filled \(ids.count) faces in \(String(format: "%.1f", fillSeconds)) s")
var truth = [Int64: Int]()
var rows: [(faceId: Int64, descriptor: [Float])] = []
rows.reserveCapacity(ids.count)
var i = 0
while i < ids.count {
    let who = drawPerson(&rng)
    let shot = (0..<dim).map { _ in Float(gaussian(&rng) * 0.012) }
    let length = 20 + Int(rng.next() % 41)
    for id in ids[i..<min(ids.count, i + length)] {
        truth[id] = who
        rows.append((id, (0..<dim).map { k in centres[who][k] + shot[k] + Float(gaussian(&rng) * 0.018) }))
    }
    i += length
}
let (_, storeSeconds) = try time { if !reuse { try p.storeEmbeddings(rows, recognizer: RecognizerProvenance(name: "bench-people (drawn)", sha256: "-")) } }
log("stored \(rows.count) descriptors in \(String(format: "%.1f", storeSeconds)) s")
result["fill_s"] = fillSeconds
result["store_embeddings_s"] = storeSeconds
result["faces"] = ids.count
result["persons_present"] = Set(truth.values).count

let only = option("--only")
func part(_ name: String) -> Bool { only == nil || only == name }

// 2. Float16 storage error: distances between stored (float16) descriptors against the float32 ones
// drawn, over pairs of the same person (shot neighbours) and random pairs, and how many same-person
// decisions at 0.6 change.
if part("float16") {
    let stored = try p.embeddingMatrix(matching: FaceQuery(role: .src))
    var rowOf = [Int64: Int]()
    for (r, id) in stored.ids.enumerated() { rowOf[id] = r }
    var worst = 0.0, sum = 0.0, pairs = 0, flips = 0, nearThreshold = 0
    var prng = SplitMix64(seed: 5)
    stored.values.withUnsafeBufferPointer { v in
        for t in 0..<200_000 {
            let a = Int(prng.next() % UInt64(rows.count))
            let b = t % 2 == 0 ? min(rows.count - 1, a + 1 + Int(prng.next() % 30)) : Int(prng.next() % UInt64(rows.count))
            guard a != b else { continue }
            let exact = FaceEmbedding.distance(rows[a].descriptor, rows[b].descriptor)
            let ra = rowOf[rows[a].faceId]!, rb = rowOf[rows[b].faceId]!
            let half = FaceEmbedding.distance(v.baseAddress! + ra * dim, v.baseAddress! + rb * dim)
            let e = abs(half - exact)
            worst = max(worst, e); sum += e; pairs += 1
            if (exact < 0.6) != (half < 0.6) { flips += 1 }
            if abs(exact - 0.6) < 0.01 { nearThreshold += 1 }
        }
    }
    result["float16"] = ["pairs": pairs, "max_abs_error": worst, "mean_abs_error": sum / Double(pairs),
                         "decisions_changed_at_0_6": flips, "pairs_within_0_01_of_0_6": nearThreshold]
    log("float16: max error \(worst) over \(pairs) pairs, \(flips) decisions at 0.6 changed")
}

// 3. similar --by identity: in memory (the gallery's cached index), and as a one-off (open, read the
// role's descriptors, index, query), in process and as the real `facet similar` command.
if part("similar") {
    let probe = ids[ids.count / 2]
    let (index, indexLoad) = try time { IdentityIndex(try p.requireEmbeddings(matching: FaceQuery(role: .src))) }
    let q = index.descriptor(of: probe)!
    let inMemory = timed(21) { _ = index.nearest(to: q, k: 10, excluding: probe) }
    let near = index.nearest(to: q, k: 10, excluding: probe)
    let nearSamePerson = near.filter { truth[$0.id] == truth[probe] }.count
    let oneOff = try timed(5) {
        let fresh = try Project(path: path, mode: .readOnly)
        _ = try fresh.similarFacesByIdentity(to: probe, k: 10, role: .src)
    }
    // Where a one-off's time goes.
    do {
        let fresh = try Project(path: path, mode: .readOnly)
        let read = try timed(3) { _ = try fresh.embeddingMatrix(matching: FaceQuery(role: .src)) }
        let m = try fresh.embeddingMatrix(matching: FaceQuery(role: .src))
        let build = timed(3) { _ = IdentityIndex(m) }
        log("one-off parts: read \(read.ms), index \(build.ms)")
        result["similar_parts"] = ["read_s": read.wall, "read_cpu_s": read.cpu, "index_s": build.wall, "index_cpu_s": build.cpu]
    }
    let similarCLI = try command(5, ["similar", path, String(probe), "--by", "identity", "--role", "src"])
    log("similar: \(inMemory.ms) in memory, \(oneOff.ms) one-off in process, `facet similar` \(similarCLI?.ms ?? "-")")
    result["similar"] = ["in_memory_s": inMemory.wall, "in_memory_cpu_s": inMemory.cpu, "index_build_s": indexLoad,
                         "one_off_in_process_s": oneOff.wall, "one_off_in_process_cpu_s": oneOff.cpu,
                         "cli_s": similarCLI?.wall as Any, "cli_cpu_s": similarCLI?.cpu as Any, "nearest_10_same_person": nearSamePerson]
}

// 4. people: the first clustering, a rerun (persons continued), and the command.
if part("people") || part("sort") {
    let c0 = cpuSeconds()
    let (people, peopleSeconds) = try time { try PeopleFinder.run(p, role: .src) }
    let peopleCPU = cpuSeconds() - c0
    var foundFor = [Int: Set<Int64>]()
    let personOf = try p.personAssignments(role: .src)
    for (id, person) in personOf { foundFor[truth[id]!, default: []].insert(person) }
    var drawnIn = [Int64: Set<Int>]()
    for (id, person) in personOf { drawnIn[person, default: []].insert(truth[id]!) }
    let mixed = drawnIn.values.filter { $0.count > 1 }.count
    let split = foundFor.values.filter { $0.count > 1 }.count
    if part("people") {
        let rerun = try timed(1) { _ = try PeopleFinder.run(p, role: .src) }
        let peopleCLI = try command(1, ["people", path, "--role", "src"])
        log("people: \(people.persons.count) found for \(Set(truth.values).count) present (\(mixed) mixed, \(split) split) in "
            + String(format: "%.2f s (CPU %.2f s)", peopleSeconds, peopleCPU) + ", rerun \(rerun.s), `facet people` \(peopleCLI?.s ?? "-")")
        result["people"] = ["first_s": peopleSeconds, "first_cpu_s": peopleCPU, "rerun_s": rerun.wall, "rerun_cpu_s": rerun.cpu,
                            "cli_s": peopleCLI?.wall as Any, "cli_cpu_s": peopleCLI?.cpu as Any, "persons_found": people.persons.count,
                            "persons_mixed": mixed, "drawn_persons_split": split]
    }
}

// 5. sort --sort identity: in process (every status; kept only) and as the command (first 20 printed).
if part("sort") {
    let sortAll = try timed(3) { _ = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .identity(reversed: false)) }
    let sortKept = try timed(3) { _ = try p.sortedFaceIDs(matching: FaceQuery(role: .src, status: .kept), by: .identity(reversed: false)) }
    let sortCLI = try command(3, ["sort", path, "--role", "src", "--sort", "identity", "--limit", "20"])
    log("sort identity: \(sortAll.ms) in process, `facet sort` \(sortCLI?.ms ?? "-")")
    result["sort_identity"] = ["in_process_s": sortAll.wall, "in_process_cpu_s": sortAll.cpu, "kept_in_process_s": sortKept.wall,
                               "cli_s": sortCLI?.wall as Any, "cli_cpu_s": sortCLI?.cpu as Any]
}

try p.close()
let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: data, as: UTF8.self))
