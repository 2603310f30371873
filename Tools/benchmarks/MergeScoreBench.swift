/// `Tools/bench merge-score`: merge frames/s with the per-frame scoring against without, same run, interleaved.
import Foundation
import FacetCore
import FacetMedia
import FacetMerge
import FacetSelect
import FacetStore
import FacetTestSupport
import FacetTrain
import FacetVision

enum MergeScoreBench {
    /// The dst sample (480x480, 250 frames, a face on every frame as in `Tools/bench merge`) merged by the
    /// fixture's `tiny` checkpoint (and Quick96 with FACET_BENCH_MODELS="tiny quick96"), Facet's default
    /// settings, three ways in turn: no scoring; scoring with identity on every 8th frame (the default);
    /// identity on every frame. Identity centres from Facet's descriptors of the sample faces. Best wall
    /// time of FACET_BENCH_REPS (default 3) runs each, with the process's CPU time (the machine may be busy).
    static func run(in work: BenchFolder) throws {
        let env = ProcessInfo.processInfo.environment
        let reps = max(1, Int(env["FACET_BENCH_REPS"] ?? "") ?? 3)
        let models = (env["FACET_BENCH_MODELS"] ?? "tiny").split(separator: " ").map(String.init)
        let (p, media) = try MergeFixture.trainedCopy(at: work.path("bench.facet"))
        if models.contains("quick96") {
            _ = try Trainer(project: p, options: TrainOptions(architecture: .quick96, batchSize: 4, stop: .iterations(2), seed: 5)).run()
        }
        try MergeFixture.storeFacesOnEveryFrame(media: media, in: p)
        let predictor = try ShapePredictor(path: ModelFiles.shapePredictor())
        let recognizer = try FaceRecognizer()
        let (srcCentre, dstCentre) = try MergeFixture.identityCentres(recognizer: recognizer)
        let options = MergeOptions.recommended

        struct Run { var wall: Double; var cpu: Double }
        func cpuSeconds() -> Double {
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        }
        let perFit = MergeScoringSetup.defaultFramesPerFit
        let ways: [(name: String, every: Int?, perFit: Int)] = [
            ("no scoring", nil, perFit), ("scoring, identity every 8th frame", 8, perFit),
            ("scoring, identity every frame", 1, perFit),
            ("scoring, identity every 8th frame, \(perFit / 2) frames per lockstep fit", 8, perFit / 2),
        ]
        print("bench-merge-score: dst sample \(media.width)x\(media.height), \(media.frameCount) frames, a face on each; "
              + "\(reps) runs of each way, interleaved (first way rotating)")
        try fitCost(predictor: predictor, project: p, media: media)
        for model in models {
            let swapper = try CheckpointSwapper(project: p, checkpoint: "latest", model: model)
            var runs = [[Run]](repeating: [], count: ways.count)
            for i in 0..<reps {
                for k in 0..<ways.count {
                    let w = (k + i) % ways.count
                    let scoring = ways[w].every.map {
                        MergeScoringSetup(predictor: predictor, identity: IdentityCheck(recognizer: recognizer, srcCentre: srcCentre, dstCentre: dstCentre),
                                          identityEvery: $0,
                                          framesPerFit: ways[w].perFit)
                    }
                    let t0 = Date(), c0 = cpuSeconds()
                    let r = try MergeRuns.merge(project: p, media: media, swapper: swapper, checkpointId: swapper.checkpointId,
                                                options: options, output: work.path("m-\(model)-\(i)-\(w).mp4"),
                                                faceType: swapper.faceType, scoring: scoring)
                    runs[w].append(Run(wall: Date().timeIntervalSince(t0), cpu: cpuSeconds() - c0))
                    try expect(r.stats.facesMerged == media.frameCount, "faces merged \(r.stats.facesMerged)")
                    if scoring != nil { try expect(r.run.framesScored == media.frameCount, "frames scored \(r.run.framesScored)") }
                }
            }
            let base = runs[0].min { $0.wall < $1.wall }!
            for (k, w) in ways.enumerated() {
                let b = runs[k].min { $0.wall < $1.wall }!
                let fps = Double(media.frameCount) / b.wall
                print(String(format: "bench-merge-score: %@ %@: best %.2f s = %.1f frames/s (all: %@ s; CPU %.2f s)", model, w.name, b.wall, fps,
                             runs[k].map { String(format: "%.2f", $0.wall) }.joined(separator: " "), b.cpu)
                      + (k == 0 ? "" : String(format: "; %.0f%% of the frames/s without scoring (goal >= 85%%), %.0f%% by CPU time",
                                              100 * base.wall / b.wall, 100 * base.cpu / b.cpu)))
            }
        }
    }

    /// The scorer's 68-point fits: two lone fits (merged frame, then original) against one paired fit, per
    /// frame, in thread CPU time (a busy machine slows the wall clock, not this), 60 sample frames, 3 rounds
    /// interleaved, best round each. The merged frame is the original with its face area shifted 3 px and
    /// brightened, as a swap changes the face and nothing else.
    static func fitCost(predictor: ShapePredictor, project: Project, media: MediaRecord) throws {
        func threadCPU() -> Double {
            var t = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
            return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
        }
        let decoder = try VideoDecoder(path: MergeFixture.dstVideo)
        var pairs: [(Image, Image, FaceRect)] = []
        var hulls: [[Point2]] = []
        while let f = try decoder.nextFrame(), f.index < 60 {
            guard let row = MergeFixture.rows.first(where: { $0.frame == f.index }) else { continue }
            let box = predictor.trackingBox(for: row.landmarks)
            var changed = f.image
            let w = f.image.width, ch = f.image.channels
            for y in max(0, Int(box.top))..<min(f.image.height, Int(box.bottom)) {
                for x in max(0, Int(box.left))..<min(w, Int(box.right)) {
                    for k in 0..<ch {
                        changed.pixels[(y * w + x) * ch + k] = f.image.pixels[(y * w + min(w - 1, x + 3)) * ch + k] &+ 9
                    }
                }
            }
            pairs.append((changed, f.image, box))
            hulls.append(row.landmarks.points)
        }
        var lone = Double.infinity, paired = Double.infinity, four = Double.infinity, detail = Double.infinity
        let frames = MergeScoringSetup.defaultFramesPerFit
        for _ in 0..<3 {
            var t = threadCPU()
            for (a, b, box) in pairs { _ = predictor.landmarks(in: a, box: box); _ = predictor.landmarks(in: b, box: box) }
            lone = min(lone, threadCPU() - t)
            t = threadCPU()
            for (a, b, box) in pairs { _ = predictor.landmarks(in: a, and: b, box: box) }
            paired = min(paired, threadCPU() - t)
            t = threadCPU()
            for start in stride(from: 0, to: pairs.count, by: frames) {
                _ = predictor.landmarks(of: pairs[start..<min(pairs.count, start + frames)].flatMap { [($0.0, $0.2), ($0.1, $0.2)] })
            }
            four = min(four, threadCPU() - t)
            t = threadCPU()
            for (k, (a, b, _)) in pairs.enumerated() { _ = MergeFrameScorer.hullDetail(a, b, points: hulls[k]) }
            detail = min(detail, threadCPU() - t)
        }
        print(String(format: "bench-merge-score: 68-point fits per frame (merged and original, %d frames, thread CPU, "
                     + "alone, without the merge's other stages): two lone fits %.2f ms, one paired fit %.2f ms (%.2fx), "
                     + "%d frames in lockstep %.2f ms (%.2fx)", pairs.count,
                     1000 * lone / Double(pairs.count), 1000 * paired / Double(pairs.count), lone / paired,
                     frames, 1000 * four / Double(pairs.count), lone / four)
              + String(format: "; the detail (both frames) %.2f ms", 1000 * detail / Double(pairs.count)))
    }
}
