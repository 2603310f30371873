/// `Tools/bench merge`: merge frames/s on the 480x480 dst sample beside a plain decode + encode of the same video,
/// same run.
import Foundation
import FacetCore
import FacetMedia
import FacetProjectMedia
import FacetStore
import FacetTestSupport
import FacetTrain
@_spi(Benchmarks) import FacetMerge

enum MergeBench {
    /// Both sides read the dst video from the project's chunks and write H.264 with its audio, in
    /// the same three-stage pipeline; the merge also swaps a face on every frame (the stored faces
    /// of frames 0-59 are stored again for 60-249, so every frame has one). Runs alternate, best
    /// wall time of each kept, with the process's CPU time over that run (the machine may be busy).
    /// FACET_BENCH_MODE (default overlay), FACET_BENCH_PRESET (default medium), FACET_BENCH_REPS (default 3), FACET_BENCH_MODELS (default
    /// "tiny quick96": checkpoints trained a few iterations, their speed does not depend on it).
    static func run(in work: BenchFolder) throws {
        let env = ProcessInfo.processInfo.environment
        let preset = env["FACET_BENCH_PRESET"] ?? "medium"
        let reps = max(1, Int(env["FACET_BENCH_REPS"] ?? "") ?? 3)
        let models = (env["FACET_BENCH_MODELS"] ?? "tiny quick96").split(separator: " ").map(String.init)

        let (p, media) = try MergeFixture.trainedCopy(at: work.path("bench.facet"))
        if models.contains("quick96") {
            // Before the extra faces below: training reads crops, and those have none.
            _ = try Trainer(project: p, options: TrainOptions(architecture: .quick96, batchSize: 4, stop: .iterations(2), seed: 5)).run()
        }
        try MergeFixture.storeFacesOnEveryFrame(media: media, in: p)
        let mode = MergeMode(rawValue: env["FACET_BENCH_MODE"] ?? "overlay") ?? .overlay
        let options = MergeOptions(mode: mode, mask: .learnedAndHull, erode: 10, blur: 20, color: .rct, crf: 18, preset: preset)
        let checkpoints = try models.map { try CheckpointSwapper(project: p, checkpoint: "latest", model: $0) }
        // Each model, and the first one again with its output computed once and handed back for
        // every face: that run is the merge without the model (compositor and pipeline only).
        struct Entry { var name: String; var swapper: any FaceSwapper; var faceType: String? }
        var swappers = checkpoints.map { Entry(name: $0.model.model.name, swapper: $0, faceType: $0.faceType) }
        if let first = checkpoints.first {
            let aligned = FaceCompositor(options: options, resolution: first.resolution).alignedFace(from: try MergeFixture.frame(0), face: MergeFixture.face(0))
            swappers.append(Entry(name: "\(first.model.model.name) without the model", swapper: CachedSwapper(resolution: first.resolution, output: try first.swap([aligned])[0]),
                                  faceType: first.faceType))
        }

        struct Run { var wall: Double; var cpu: Double }
        func cpuSeconds() -> Double {
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        }
        func timed(_ body: () throws -> Void) rethrows -> Run {
            let t0 = Date(), c0 = cpuSeconds()
            try body()
            return Run(wall: Date().timeIntervalSince(t0), cpu: cpuSeconds() - c0)
        }
        func plain(_ i: Int) throws -> Run {
            try timed {
                let source = try MediaFrames(project: p, media: media)
                let encoder = try VideoEncoder(path: work.path("plain-\(i).mp4"), width: media.width, height: media.height, fps: media.fps,
                                               crf: options.crf, preset: preset, metadata: MergeEngine.metadata,
                                               audioFrom: try MergeEngine.audioSource(project: p, media: media))
                let stats = try MergePipeline.run(frameCount: media.frameCount, nextFrame: { try source.next().map { ($0.index, $0.image) } },
                                                  faces: { _ in [] }, compositor: FaceCompositor(options: options, resolution: 64),
                                                  swapper: IdentitySwapper(resolution: 64), write: { try encoder.append($0) })
                try encoder.finish()
                try expect(stats.frames == media.frameCount, "frames \(stats.frames) of \(media.frameCount)")
            }
        }
        func merge(_ entry: Entry, _ i: Int) throws -> Run {
            try timed {
                let stats = try MergeEngine.merge(project: p, media: media, swapper: entry.swapper, options: options,
                                                  output: work.path("merge-\(i).mp4"), faceType: entry.faceType)
                try expect(stats.frames == media.frameCount, "frames \(stats.frames) of \(media.frameCount)")
                try expect(stats.facesMerged == media.frameCount, "faces merged \(stats.facesMerged) of \(media.frameCount)")
            }
        }

        var plainRuns: [Run] = [], mergeRuns = [[Run]](repeating: [], count: swappers.count)
        for i in 0..<reps {
            // Alternate which goes first, so a slow spell of the machine does not always hit one side.
            if i % 2 == 0 { plainRuns.append(try plain(i)) }
            for (k, s) in swappers.enumerated() { mergeRuns[k].append(try merge(s, i)) }
            if i % 2 == 1 { plainRuns.append(try plain(i)) }
        }
        func best(_ runs: [Run]) -> Run { runs.min { $0.wall < $1.wall }! }
        func f(_ x: Double) -> String { String(format: "%.2f", x) }
        func line(_ label: String, _ runs: [Run]) -> String {
            let b = best(runs)
            return "\(label): best of \(runs.count) \(f(b.wall)) s = \(String(format: "%.1f", Double(media.frameCount) / b.wall)) frames/s"
                + " (all: \(runs.map { f($0.wall) }.joined(separator: " ")) s; CPU \(f(b.cpu)) s, \(f(b.cpu / b.wall)) cores busy)"
        }
        // The face work split in two, on the first frame's face: the model alone (per face, in batches
        // as the merge runs it and larger) and the compositor alone (aligned crop, mask, colour, warp
        // back, blend), each on one thread of the calling process.
        let frame0 = try MergeFixture.frame(0), face0 = MergeFixture.face(0)
        var split: [String] = []
        for s in checkpoints {
            let compositor = FaceCompositor(options: options, resolution: s.resolution)
            let aligned = compositor.alignedFace(from: frame0, face: face0)
            var perBatch: [String] = []
            for batch in [4, 8] {
                let inputs = [Image](repeating: aligned, count: batch)
                _ = try s.swap(inputs)
                let n = max(2, 64 / batch)
                let run = try timed { for _ in 0..<n { _ = try s.swap(inputs) } }
                perBatch.append(String(format: "%.2f ms CPU (%.2f wall) per face in batches of %d", 1000 * run.cpu / Double(n * batch), 1000 * run.wall / Double(n * batch), batch))
            }
            let swapped = try s.swap([aligned])[0]
            let reps = 100
            let comp = try timed {
                for _ in 0..<reps {
                    var image = frame0
                    let a = compositor.alignedFace(from: frame0, face: face0)
                    try compositor.blend(into: &image, face: face0, aligned: a, swapped: swapped)
                }
            }
            split.append("bench-merge: \(s.model.model.name): model \(perBatch.joined(separator: ", ")); compositor \(String(format: "%.2f", 1000 * comp.cpu / Double(reps))) ms CPU per face")
        }

        print("bench-merge: dst sample \(media.width)x\(media.height), \(media.frameCount) frames at \(media.fps)/s, from the project file, H.264 \(preset) crf \(options.crf) with the audio copied")
        let base = best(plainRuns)
        print("bench-merge: " + line("decode + encode", plainRuns))
        for (k, s) in swappers.enumerated() {
            let m = best(mergeRuns[k]), name = s.name
            print("bench-merge: " + line("merge \(name) (\(s.swapper.resolution) px; \(mode.rawValue), learned-and-hull, erode 10, blur 20, rct)", mergeRuns[k]))
            print("bench-merge: \(name): face work adds \(String(format: "%.0f", 100 * (m.wall - base.wall) / base.wall))% over the codec work"
                  + " (\(f(m.wall - base.wall)) s over \(f(base.wall)) s wall; in CPU time \(String(format: "%.0f", 100 * (m.cpu - base.cpu) / base.cpu))%,"
                  + " \(f(m.cpu - base.cpu)) s over \(f(base.cpu)) s); goal < 100%")
        }
        print("bench-merge: decode + encode CPU per frame \(String(format: "%.2f", 1000 * base.cpu / Double(media.frameCount))) ms")
        for line in split { print(line) }
    }
}

/// Hands back one precomputed model output for every face: a merge without the model's cost.
struct CachedSwapper: FaceSwapper {
    let resolution: Int
    let output: (face: Image, mask: Image)
    func swap(_ faces: [Image]) throws -> [(face: Image, mask: Image)] { faces.map { _ in output } }
}
