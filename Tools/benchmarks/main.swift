/// `facet-bench NAME`: the benchmarks that need the project's fixtures (merge, compositor, seamless), one
/// executable of the root package so it reuses the modules `swift build` made. Run through `Tools/bench NAME`.
/// Settings come from the environment, as each benchmark's comment says (FACET_BENCH_REPS and others).
import Foundation

/// A benchmark's check failed: its figures would mean nothing.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Throws `BenchFailure(message)` unless `condition` holds.
func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw BenchFailure(message()) }
}

/// A fresh temporary folder for one benchmark's files, removed at the end.
struct BenchFolder {
    let dir = NSTemporaryDirectory() + "facet-bench-\(UUID().uuidString)"
    /// The path of `name` in the folder.
    func path(_ name: String) -> String { dir + "/" + name }
}

let benchmarks: [(name: String, run: (BenchFolder) throws -> Void)] = [
    ("merge", MergeBench.run), ("compositor", CompositorBench.run), ("seamless", SeamlessBench.run),
    ("merge-score", MergeScoreBench.run), ("xseg", XSegBench.run),
    ("xseg-quality", XSegQualityBench.run),
]
let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, let bench = benchmarks.first(where: { $0.name == name }) else {
    FileHandle.standardError.write(Data("usage: facet-bench \(benchmarks.map(\.name).joined(separator: "|"))\n".utf8))
    exit(2)
}
let work = BenchFolder()
do {
    try FileManager.default.createDirectory(atPath: work.dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: work.dir) }
    try bench.run(work)
} catch {
    FileHandle.standardError.write(Data("bench-\(name): \(error)\n".utf8))
    exit(1)
}
