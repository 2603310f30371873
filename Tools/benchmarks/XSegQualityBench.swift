/// `Tools/bench xseg-quality`: how well the segmenter learns occlusions from 20 labelled faces at a fixed CPU-time
/// budget, on both sample videos with textured occluders of varied shapes (`TexturedOcclusion`): mean and worst IoU of
/// the predicted masks of the occluded faces nobody labelled against their truth (landmark hull minus occluder),
/// beside the hull alone.
import Foundation
import FacetCore
import FacetMedia
import FacetNN
import FacetStore
import FacetTestSupport
import FacetTrain

enum XSegQualityBench {
    /// The 20 labelled faces: 14 dst and 6 src frames, 16 occluded (every shape, both textures) and 4 clean.
    static let labelled: [(Role, Int)] = [0, 4, 8, 10, 15, 19, 22, 28, 35, 37, 43, 47, 52, 57].map { (.dst, $0) }
        + [1, 6, 12, 17, 21, 27].map { (.src, $0) }

    /// Process CPU seconds (user + system) so far.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    /// FACET_BENCH_XSEG_CPU_MINUTES (default 2): the training budget in CPU minutes of this process (about half that
    /// in wall minutes on two idle cores). FACET_BENCH_XSEG_NET "RESOLUTION WIDTH LEVELS" (default the standard
    /// network, "128 16 3"), FACET_BENCH_XSEG_BATCH (8), FACET_BENCH_XSEG_LR (0.001). Prints the IoU at each
    /// quarter of the budget.
    static func run(in work: BenchFolder) throws {
        let env = ProcessInfo.processInfo.environment
        let budget = (Double(env["FACET_BENCH_XSEG_CPU_MINUTES"] ?? "") ?? 2) * 60
        let net = (env["FACET_BENCH_XSEG_NET"] ?? "128 16 3").split(separator: " ").compactMap { Int($0) }
        try expect(net.count == 3, "FACET_BENCH_XSEG_NET wants RESOLUTION WIDTH LEVELS")
        let config = XSegConfig(resolution: net[0], width: net[1], levels: net[2])
        let batch = Int(env["FACET_BENCH_XSEG_BATCH"] ?? "") ?? 8
        let lr = Double(env["FACET_BENCH_XSEG_LR"] ?? "") ?? 1e-3
        let started = Date()
        let p = try TexturedOcclusion.makeProject(at: work.path("t.facet"))
        var byFace: [Int64: (Role, Int)] = [:], ids: [String: Int64] = [:]
        for role in [Role.dst, .src] {
            for f in try p.faces(matching: FaceQuery(role: role)) {
                byFace[f.id] = (role, f.frameIndex)
                ids["\(role.rawValue)\(f.frameIndex)"] = f.id
            }
        }
        var masks: [Int64: (revision: String, mask: Image)] = [:]
        for (role, f) in labelled {
            masks[ids["\(role.rawValue)\(f)"]!] = ("1", TexturedOcclusion.truthMask(role: role, frame: f, size: 256))
        }
        let labelledIDs = Set(masks.keys)
        let eval = byFace.filter {
            !labelledIDs.contains($0.key) && TexturedOcclusion.occluder(role: $0.value.0, frame: $0.value.1) != nil
        }.sorted { $0.key < $1.key }
        var shapes: [String: Int] = [:]
        for e in eval {
            shapes[TexturedOcclusion.occluder(role: e.value.0, frame: e.value.1)!.shape, default: 0] += 1
        }
        print(String(format: "bench-xseg-quality: fixture made in %.0f s; ", Date().timeIntervalSince(started))
              + "90 faces (60 dst, 30 src), 20 labelled, \(eval.count) occluded faces nobody labelled ("
              + shapes.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + ")")
        if let dump = env["FACET_BENCH_XSEG_DUMP"] {
            // A look at the fixture: each occluded face's crop beside its truth, for the first 12.
            try FileManager.default.createDirectory(atPath: dump, withIntermediateDirectories: true)
            for e in eval.prefix(12) {
                let crop = try JPEGCodec.decode(try p.faceCrop(id: e.key).data)
                let truth = TexturedOcclusion.truthMask(role: e.value.0, frame: e.value.1, size: 256).rgb()
                var both = Image(width: 512, height: 256, channels: 3)
                for y in 0..<256 {
                    for x in 0..<256 {
                        for c in 0..<3 {
                            both.pixels[(y * 512 + x) * 3 + c] = crop.pixels[(y * 256 + x) * 3 + c]
                            both.pixels[(y * 512 + 256 + x) * 3 + c] = truth.pixels[(y * 256 + x) * 3 + c]
                        }
                    }
                }
                try PNGCodec.encode(both).write(to: URL(fileURLWithPath: dump + "/\(e.value.0.rawValue)\(e.value.1).png"))
            }
        }
        let r = config.resolution
        let images = try eval.map { e -> Image in
            let c = try p.faceCrop(id: e.key)
            return try JPEGCodec.decode(c.data).resized(width: r, height: r, filter: .area)
        }
        let truths = eval.map { TexturedOcclusion.truthMask(role: $0.value.0, frame: $0.value.1, size: r) }
        let hulls = eval.map { TexturedOcclusion.truthMask(role: $0.value.0, frame: $0.value.1, size: r,
                                                            occluder: false) }
        let hullIoU = zip(hulls, truths).map { OccludedFixture.iou($0, $1) }
        print(String(format: "landmark hull alone: mean IoU %.3f, worst %.3f", hullIoU.reduce(0, +)
                     / Double(hullIoU.count), hullIoU.min()!))

        var o = XSegTrainOptions()
        o.model = XSegModelOptions(network: config, batchSize: batch, learningRate: lr)
        o.stop = .never
        let trainer = try XSegTrainer(project: p, labels: FixedLabels(masks), options: o)
        print("network \(r) px, width \(config.width), \(config.levels) levels, "
              + "\(trainer.network.parameterCount) parameters, batch \(batch), lr \(lr); trains on "
              + "\(trainer.faceCounts.train) faces, holds out \(trainer.faceCounts.validation); budget "
              + String(format: "%.1f CPU minutes; load ", budget / 60) + loadAverage())
        var cpu = 0.0, wall = 0.0, next = 1
        while next <= 4 {
            let c0 = cpuSeconds(), w0 = Date()
            trainer.step()
            cpu += cpuSeconds() - c0
            wall += Date().timeIntervalSince(w0)
            guard cpu >= budget * Double(next) / 4 else { continue }
            next += 1
            var ious: [Double] = []
            for start in stride(from: 0, to: images.count, by: 16) {
                let chunk = start..<min(images.count, start + 16)
                let x = Tensor(shape: [chunk.count, r, r, 3])
                for (k, i) in chunk.enumerated() {
                    for j in 0..<(r * r * 3) { x.data[k * r * r * 3 + j] = Float(images[i].pixels[j]) / 255 }
                }
                let pr = trainer.network.predict(x)
                for (k, i) in chunk.enumerated() {
                    var m = Image(width: r, height: r, channels: 1)
                    for j in 0..<(r * r) { m.pixels[j] = UInt8(max(0, min(255, pr.data[k * r * r + j] * 255))) }
                    ious.append(OccludedFixture.iou(m, truths[i]))
                }
            }
            let worst = ious.indices.min { ious[$0] < ious[$1] }!
            let (role, frame) = eval[worst].value
            let shape = TexturedOcclusion.occluder(role: role, frame: frame)!.shape
            print(String(format: "iteration %d, %.1f CPU min (%.1f wall min, load ", trainer.iteration, cpu / 60,
                         wall / 60) + loadAverage()
                  + String(format: "): occluded faces nobody labelled: mean IoU %.3f, worst %.3f",
                           ious.reduce(0, +) / Double(ious.count), ious[worst])
                  + " (\(role.rawValue) frame \(frame), \(shape)), \(ious.filter { $0 >= 0.9 }.count) of \(ious.count) "
                  + "at 0.9 or more")
        }
    }
}
