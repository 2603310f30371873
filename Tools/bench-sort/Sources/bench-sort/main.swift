/// Times Facet's curation sorts, `similar` and gallery pages on scratch projects of real augmented crops (Tools/bench-sort/run).
import Foundation
import FacetCore
import FacetCurate
import FacetServe
import FacetStore
import FacetTestSupport
import COpenBLAS

/// Usage: bench-sort FIXTURES_VIDEO_DIR SCRATCH_DIR [--hist-n 5000] [--big-n 100000], or `bench-sort core`
/// (OpenBLAS's kernel family). Prints one JSON line.
let args = CommandLine.arguments
if args.count == 2 && args[1] == "core" {
    print(String(cString: openblas_get_corename()))
    exit(0)
}
guard args.count >= 3 else {
    FileHandle.standardError.write(Data("usage: bench-sort VIDEO_DIR SCRATCH_DIR [--hist-n N] [--big-n N]\n".utf8))
    exit(2)
}
let videoDir = args[1], scratch = args[2]
func option(_ name: String, _ def: Int) -> Int {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return def }
    return v
}
let histN = option("--hist-n", 5000), bigN = option("--big-n", 100_000)
let videos = ["src-d18.mp4", "dst-d19.mp4", "extra-d20.mp4"].map { videoDir + "/" + $0 }

/// CPU seconds of this process so far (all threads).
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func log(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

/// Seconds of one call.
func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let t0 = DispatchTime.now().uptimeNanoseconds
    let r = try body()
    return (r, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
}

/// Median seconds over `reps` calls (after one warm-up call).
func median(_ reps: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var t: [Double] = []
    for _ in 0..<reps { t.append(try time(body).1) }
    return t.sorted()[t.count / 2]
}

func project(_ name: String, faces n: Int, size: Int) throws -> Project {
    let path = scratch + "/" + name
    for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }
    let p = try Project.create(at: path)
    let (_, t) = try time { try SampleFaces.fill(p, role: .src, videos: videos, count: n, cropSize: size, framesPerVideo: 60, seed: 11) }
    log("filled \(name): \(n) faces of \(size) px in \(String(format: "%.1f", t)) s")
    return p
}

var result: [String: Any] = ["bench": "facet_sort", "cpu_count": ProcessInfo.processInfo.activeProcessorCount,
                              "openblas_core": String(cString: openblas_get_corename())]

// 1. The hist chain on histN faces of 128 px (the peer's crop size), loading histograms included.
do {
    let p = try project("hist.facet", faces: histN, size: 128)
    let q = FaceQuery(role: .src)
    // Median of three runs, wall clock and CPU time (both cores count: the peer uses one).
    var runs: [(order: [Int64], wall: Double, cpu: Double)] = []
    for _ in 0..<3 {
        let c0 = cpuSeconds()
        let (o, w) = try time { try p.sortedFaceIDs(matching: q, by: .hist(reversed: false)) }
        runs.append((o, w, cpuSeconds() - c0))
    }
    runs.sort { $0.wall < $1.wall }
    let (order, total, histCPU) = runs[1]
    let ids = try p.faceIDs(matching: q)
    let (m, load) = try time { try p.histogramMatrix(faceIDs: ids) }
    let (_, dissim) = try time { try p.sortedFaceIDs(matching: q, by: .histDissim(reversed: false)) }
    let (_, best) = try time { try p.sortedFaceIDs(matching: q, by: .best(min(2000, histN / 2))) }
    let (_, blur) = try time { try p.sortedFaceIDs(matching: q, by: .column(FaceSort(.blur, descending: true))) }
    result["hist"] = ["n": histN, "faces": order.count, "hist_total_s": total, "hist_cpu_s": histCPU, "hist_runs_s": runs.map(\.wall), "histogram_load_s": load, "hist_compute_s": total - load,
                      "hist_dissim_s": dissim, "best_s": best, "blur_sort_s": blur, "first5": Array(order.prefix(5)), "rows": m.count]
    try p.close()
}

// 2. Stored-signature sorts, similar and gallery pages on bigN faces of 64 px.
do {
    let p = try project("big.facet", faces: bigN, size: 64)
    let q = FaceQuery(role: .src, status: .kept)
    // Reject every tenth face so the status filter matters.
    let all = try p.faceIDs(matching: FaceQuery(role: .src))
    _ = try p.setStatus(.rejected, faceIDs: Array(stride(from: 0, to: all.count, by: 10).map { all[$0] }), command: "bench")
    var sorts: [String: Double] = [:]
    for f in [FaceField.blur, .motionBlur, .yaw, .pitch, .faceSize, .brightness, .hue] {
        sorts["-" + f.rawValue] = try median(5) { _ = try p.sortedFaceIDs(matching: q, by: .column(FaceSort(f, descending: true))) }
    }
    sorts["yaw"] = try median(5) { _ = try p.sortedFaceIDs(matching: q, by: .column(FaceSort(.yaw))) }
    sorts["-blur (every status)"] = try median(5) { _ = try p.sortedFaceIDs(matching: FaceQuery(role: .src), by: .column(FaceSort(.blur, descending: true))) }
    let (index, indexLoad) = try time { try p.similarityIndex(matching: FaceQuery(role: .src)) }
    let probe = index.ids[index.count / 2]
    let h = index.histogram(of: probe)!
    let similarQuery = median(9) { _ = index.nearest(to: h, k: 20, excluding: probe) }
    let (_, similarCLI) = try time { try p.similarFaces(to: probe, k: 20, role: .src) }

    let gallery = Gallery(project: p)
    let port = PortBox()
    // Detached: top-level code holds the main actor while it waits for the port below.
    let server = Task.detached { try await gallery.run(host: "127.0.0.1", port: 0) { port.set($0) } }
    while port.value == nil { usleep(10_000) }
    var pages: [String: Double] = [:]
    let perPage = 100
    // The first face page reads the role's histograms for its similar-faces panel; later ones reuse them.
    let (_, faceCold) = try time {
        let r = try HTTP.get(port: port.value!, path: "/face/\(probe)")
        guard r == 200 else { throw FacetError("GET /face/\(probe): \(r)") }
    }
    pages["face_page_first_load"] = faceCold
    for (name, path) in [("first_page", "/faces?role=src&sort=id&per=\(perPage)"),
                         ("sorted_-blur", "/faces?role=src&sort=-blur&per=\(perPage)"),
                         ("deep_page_500", "/faces?role=src&sort=-yaw&per=\(perPage)&page=500"),
                         ("last_page", "/faces?role=src&sort=hue&per=\(perPage)&page=\((bigN * 9 / 10 + perPage - 1) / perPage)"),
                         ("rejected", "/faces?role=src&status=rejected&sort=brightness&per=\(perPage)"),
                         ("face_page", "/face/\(probe)"), ("crop", "/crop/\(probe)")] {
        pages[name] = try median(9) {
            let r = try HTTP.get(port: port.value!, path: path)
            guard r == 200 else { throw FacetError("GET \(path): \(r)") }
        }
    }

    // Identity at 100,000 faces (similar --by identity, people, sort --sort identity): Tools/bench people.
    server.cancel()
    result["big"] = ["n": bigN, "sort_s": sorts, "similar_index_load_s": indexLoad, "similar_query_s": similarQuery,
                     "similar_cli_total_s": similarCLI, "gallery_page_s": pages, "per_page": perPage]
    try p.close()
}

let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: data, as: UTF8.self))

final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var v: Int?
    var value: Int? { lock.lock(); defer { lock.unlock() }; return v }
    func set(_ p: Int) { lock.lock(); v = p; lock.unlock() }
}

/// A GET over a plain socket, reading the whole response (Content-Length), returning the status.
enum HTTP {
    static func get(port: Int, path: String) throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { throw FacetError("connect: \(String(cString: strerror(errno)))") }
        let req = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = req.withUnsafeBytes { send(fd, $0.baseAddress!, $0.count, 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let head = String(decoding: response.prefix(32), as: UTF8.self)
        return Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
