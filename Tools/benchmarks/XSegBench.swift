/// `Tools/bench xseg`: the segmenter's training iterations/s and `xseg apply` faces/s on the dst sample's 250 faces.
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore
import FacetTestSupport
import FacetTrain
import FacetVision

/// The 1-minute load average (from /proc/loadavg), as text.
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init) ?? "?"
}

enum XSegBench {
    /// A project with the dst sample's 250 frames as faces (256 px JPEG crops cut from each frame with the stored
    /// alignment of frame i % 60, so every crop is a face), 20 of them labelled with their landmark hull. Trains
    /// FACET_BENCH_XSEG_ITERS (default 40) iterations of the standard network (128 px, width 16, batch 8) and
    /// reports iterations/s, then applies it to all 250 faces FACET_BENCH_REPS (default 3) times (every face
    /// predicted again each time): faces/s, best wall time, with the process's CPU time (the machine may be busy).
    static func run(in work: BenchFolder) throws {
        let env = ProcessInfo.processInfo.environment
        if let q = env["FACET_BENCH_XSEG_QUALITY"] { return try quality(q, in: work) }
        let reps = max(1, Int(env["FACET_BENCH_REPS"] ?? "") ?? 3)
        let iterations = max(1, Int(env["FACET_BENCH_XSEG_ITERS"] ?? "") ?? 40)
        let (p, media) = try MergeFixture.makeProject(at: work.path("xseg.facet"), withFaces: false)
        let rows = (0..<media.frameCount).map { i -> MergeFixture.Row in
            var row = MergeFixture.rows[i % MergeFixture.rows.count]
            row.frame = i
            return row
        }
        try MergeFixture.storeFaces(rows, of: MergeFixture.dstVideo, media: media.id!, role: .dst, crops: true, in: p)
        let faces = try p.faces(matching: FaceQuery(role: .dst))
        var masks: [Int64: (revision: String, mask: Image)] = [:]
        for f in faces where f.frameIndex % 12 == 0 && masks.count < 20 {
            let row = rows[f.frameIndex]
            masks[f.id] = ("1", landmarkHullMask(landmarksInFace: row.landmarks.transformed(by: row.matrix), size: 256))
        }
        let labels = FixedLabels(masks)
        func cpuSeconds() -> Double {
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
        }
        var options = XSegTrainOptions()
        options.stop = .iterations(iterations)
        let trainer = try XSegTrainer(project: p, labels: labels, options: options)
        let net = trainer.options.network
        print("bench-xseg: \(faces.count) dst faces (256 px crops), \(masks.count) labelled; network \(net.resolution) px, "
              + "width \(net.width), \(net.levels) levels, \(trainer.network.parameterCount) parameters, batch "
              + "\(trainer.options.batchSize)")
        trainer.step()  // the first step allocates every buffer
        let t0 = Date(), c0 = cpuSeconds()
        for _ in 1..<iterations { trainer.step() }
        let trainWall = Date().timeIntervalSince(t0), trainCPU = cpuSeconds() - c0
        print(String(format: "xseg train: %d iterations in %.1f s: %.2f it/s (%.1f faces/s), CPU %.1f s",
                     iterations - 1, trainWall, Double(iterations - 1) / trainWall,
                     Double((iterations - 1) * trainer.options.batchSize) / trainWall, trainCPU))
        try trainer.saveCheckpoint()
        let model = try XSegModel.load(project: p)
        var best = Double.infinity
        for rep in 1...reps {
            let c = cpuSeconds()
            let r = try XSegApply.run(project: p, model: model, labels: labels, force: true)
            try expect(r.predicted + r.labelled == faces.count, "apply stored \(r.predicted + r.labelled) masks")
            best = min(best, r.seconds)
            let cpu = cpuSeconds() - c
            let phases = ["decode", "network", "labels", "encode", "write wait"].map {
                $0 + String(format: " %.2f", r.phaseSeconds[$0] ?? 0)
            }.joined(separator: ", ")
            print(String(format: "xseg apply run %d: %d faces in %.2f s: %.1f faces/s (crops read, masks stored), "
                         + "CPU %.2f s (%.2f cores busy on average); load ", rep, faces.count, r.seconds,
                         Double(faces.count) / r.seconds, cpu, cpu / r.seconds) + loadAverage())
            print("  wall seconds by phase: " + phases)
        }
        print(String(format: "xseg apply best: %.2f s for %d faces, %.1f faces/s (goal: under 10 s on two cores)", best,
                     faces.count, Double(faces.count) / best))
    }

    /// `FACET_BENCH_XSEG_QUALITY="ITERATIONS RESOLUTION WIDTH LEVELS LR"` (e.g. "800 64 12 3 0.001"): trains on the
    /// occluded dst sample's ten labelled faces (XSegMergeTests' choice) and prints, every tenth of the run, the mean
    /// IoU of the predicted masks of the 24 occluded faces nobody labelled against their truth (hull minus box).
    static func quality(_ spec: String, in work: BenchFolder) throws {
        let v = spec.split(separator: " ").map(String.init)
        try expect(v.count == 5, "FACET_BENCH_XSEG_QUALITY wants 5 values, got '\(spec)'")
        let iterations = Int(v[0])!, config = XSegConfig(resolution: Int(v[1])!, width: Int(v[2])!, levels: Int(v[3])!)
        let p = try OccludedFixture.makeProject(at: work.path("o.facet"))
        let faces = try p.faces(matching: FaceQuery(role: .dst))
        let byFrame = Dictionary(uniqueKeysWithValues: faces.map { ($0.frameIndex, $0.id) })
        let labelled = [0, 8, 16, 24, 32, 40, 5, 23, 41, 57]
        var masks: [Int64: (revision: String, mask: Image)] = [:]
        for f in labelled { masks[byFrame[f]!] = ("1", OccludedFixture.truthMask(frame: f, size: 256)) }
        var o = XSegTrainOptions()
        o.model = XSegModelOptions(network: config, batchSize: 8, learningRate: Double(v[4])!)
        o.stop = .iterations(iterations)
        let trainer = try XSegTrainer(project: p, labels: FixedLabels(masks), options: o)
        let eval = (0..<OccludedFixture.frameCount).filter { OccludedFixture.isOccluded($0) && !labelled.contains($0) }
        let r = config.resolution
        let images = try eval.map { f -> Image in
            let c = try p.faceCrop(id: byFrame[f]!)
            return try JPEGCodec.decode(c.data).resized(width: r, height: r, filter: .area)
        }
        let truths = eval.map { OccludedFixture.truthMask(frame: $0, size: r) }
        let start = Date()
        for i in 1...iterations {
            trainer.step()
            if i % max(1, iterations / 10) == 0 || i == iterations {
                let x = Tensor(shape: [images.count, r, r, 3])
                for (k, im) in images.enumerated() {
                    for j in 0..<(r * r * 3) { x.data[k * r * r * 3 + j] = Float(im.pixels[j]) / 255 }
                }
                let pr = trainer.network.predict(x)
                var total = 0.0
                for k in images.indices {
                    var m = Image(width: r, height: r, channels: 1)
                    for j in 0..<(r * r) { m.pixels[j] = UInt8(max(0, min(255, pr.data[k * r * r + j] * 255))) }
                    total += OccludedFixture.iou(m, truths[k])
                }
                print(String(format: "iteration %d (%.0f s): unlabelled occluded IoU %.3f", i,
                             Date().timeIntervalSince(start), total / Double(images.count)))
            }
        }
    }
}
