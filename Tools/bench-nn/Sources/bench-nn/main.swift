/// Times FacetNN: one full Quick96 training iteration per batch size, and each convolution shape.
///
/// Usage: bench-nn quick96 [--batch 4] [--warmup 2] [--iters 5] [--tiny]
///        bench-nn conv [--batch 4] [--reps 5] [--layer decoder.up1]
///        bench-nn core   (the OpenBLAS kernel family in use)
/// Prints one JSON line, shaped like bench_quick96_tf.py's.
import Foundation
import FacetNN

func option(_ name: String, _ fallback: Int) -> Int {
    let args = CommandLine.arguments
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return fallback }
    return v
}

func now() -> Double { Date().timeIntervalSinceReferenceDate }

/// Peak resident memory of this process so far, MiB.
func peakMiB() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

func json(_ dict: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: dict, options: [.sortedKeys]), as: UTF8.self)
}

nonisolated(unsafe) var generator = SeededGenerator(seed: 0)
func randomImages(_ n: Int, _ r: Int) -> Tensor {
    let t = Tensor(shape: [n, r, r, 3])
    for i in 0..<t.count { t[i] = generator.nextUnitFloat() }
    return t
}

/// The bench script's mask: an ellipse over the face.
func ellipse(_ n: Int, _ r: Int) -> Tensor {
    let m = Tensor(shape: [n, r, r, 1]), s = Float(r) / 96
    for b in 0..<n { for y in 0..<r { for x in 0..<r {
        let u = (Float(x) - 48 * s) / (34 * s), v = (Float(y) - 52 * s) / (42 * s)
        m[(b * r + y) * r + x] = u * u + v * v <= 1 ? 1 : 0
    } } }
    return m
}

func benchQuick96() throws {
    let batch = option("--batch", 4), warmup = option("--warmup", 2), iters = option("--iters", 5)
    let config: Quick96Config = CommandLine.arguments.contains("--tiny") ? .tiny : .quick96
    let r = config.resolution
    let t0 = now()
    let model = try Quick96(config: config, seed: 0)
    var pool: [(TrainingBatch, TrainingBatch)] = []
    for _ in 0..<3 {
        let src = TrainingBatch(warped: randomImages(batch, r), target: randomImages(batch, r), mask: ellipse(batch, r))
        let dst = TrainingBatch(warped: randomImages(batch, r), target: randomImages(batch, r), mask: ellipse(batch, r))
        pool.append((src, dst))
    }
    var losses = StepLosses(src: [], dst: [])
    for i in 0..<warmup { losses = model.trainStep(src: pool[i % 3].0, dst: pool[i % 3].1) }
    let warm = now() - t0
    var times: [Double] = []
    for i in 0..<iters {
        let t1 = now()
        losses = model.trainStep(src: pool[i % 3].0, dst: pool[i % 3].1)
        times.append(now() - t1)
    }
    let total = times.reduce(0, +), sorted = times.sorted()
    let itersPerS: Double = (Double(iters) / total * 1000).rounded() / 1000
    let mean: Double = (1e4 * total / Double(iters)).rounded() / 10
    let median: Double = (1e4 * sorted[sorted.count / 2]).rounded() / 10
    let fastest: Double = (1e4 * sorted[0]).rounded() / 10
    let warmS: Double = (10 * warm).rounded() / 10
    print(json([
        "bench": "quick96_train_facetnn", "config": "\(config)", "batch": batch, "threads": Engine.threads,
        "openblas_core": Engine.blasCoreName,
        "params": model.parameterCount, "warmup_iters": warmup, "timed_iters": iters,
        "iters_per_s": itersPerS, "ms_per_iter_mean": mean, "ms_per_iter_median": median, "ms_per_iter_min": fastest,
        "peak_rss_mib": peakMiB().rounded(), "warmup_s": warmS,
        "final_loss_src": Double(losses.srcMean),
    ]))
}

/// Forward + both gradients of every distinct Quick96 convolution shape at this batch size.
/// GFLOP/s count the direct convolution's multiply-adds (2 * N*OH*OW*k*k*cin*cout per pass, three
/// passes), so the Winograd layers' figure is an effective rate.
func benchConvolutions() {
    let batch = option("--batch", 4), reps = option("--reps", 5)
    // (input size, cin, cout, kernel, stride, name); decoder.out is the merged 1x1 + 3x 3x3 output
    // convolution (12 channels padded to 16, see ParallelConvs).
    let shapes: [(h: Int, cin: Int, cout: Int, k: Int, s: Int, name: String)] = [
        (96, 3, 64, 5, 2, "encoder.down1"), (48, 64, 128, 5, 2, "encoder.down2"), (24, 128, 256, 5, 2, "encoder.down3"),
        (12, 256, 512, 5, 2, "encoder.down4"), (3, 128, 512, 3, 1, "inter.up"), (6, 128, 2048, 3, 1, "decoder.up0"),
        (12, 512, 512, 3, 1, "decoder.res0"), (12, 512, 1024, 3, 1, "decoder.up1"), (24, 256, 256, 3, 1, "decoder.res1"),
        (24, 256, 512, 3, 1, "decoder.up2"), (48, 128, 128, 3, 1, "decoder.res2"), (48, 128, 16, 3, 1, "decoder.out"),
        (6, 128, 512, 3, 1, "mask.up0"), (12, 128, 256, 3, 1, "mask.up1"), (24, 64, 128, 3, 1, "mask.up2"), (48, 32, 64, 3, 1, "mask.up3"),
    ]
    var rows: [[String: Any]] = []
    var totalFlops = 0.0, totalTime = 0.0
    let only = CommandLine.arguments.firstIndex(of: "--layer").map { CommandLine.arguments[$0 + 1] }
    for s in shapes where only == nil || only == s.name {
        let n = s.name.hasPrefix("encoder") || s.name.hasPrefix("inter") ? 2 * batch : batch
        let conv = Conv2D(inChannels: s.cin, outChannels: s.cout, kernelSize: s.k, stride: s.s, activation: .leakyReLU(0.1))
        conv.initialize(using: &generator)
        let x = Tensor(shape: [n, s.h, s.h, s.cin])
        for i in 0..<x.count { x[i] = generator.nextUnitFloat() - 0.5 }
        let y = conv.forward(x)
        let dy = Tensor(shape: y.shape)
        for i in 0..<dy.count { dy[i] = generator.nextUnitFloat() - 0.5 }
        _ = conv.backward(dy)
        // Default path and, where Winograd applies, plain im2col, timed alternately so that
        // load from other processes hits both alike; best of `reps`.
        let tile = conv.winogradTile(height: s.h, width: s.h), winograd = tile != nil
        var best = Double.infinity, bestIm2col = Double.infinity
        for _ in 0..<reps {
            for plain in winograd ? [false, true] : [false] {
                conv.useWinograd = !plain
                let t = now()
                _ = conv.forward(x)
                _ = conv.backward(dy)
                let dt = now() - t
                if plain { bestIm2col = min(bestIm2col, dt) } else { best = min(best, dt) }
            }
        }
        conv.useWinograd = true
        let oh = y.shape[1]
        let flops = 3 * 2 * Double(n * oh * oh * s.k * s.k * s.cin * s.cout)
        totalFlops += flops
        totalTime += best
        var row: [String: Any] = ["layer": s.name, "n": n, "in": "\(s.h)x\(s.h)x\(s.cin)", "out_channels": s.cout, "kernel": s.k,
                                  "stride": s.s, "winograd_tile": tile ?? 0,
                                  "ms_fwd_bwd": (best * 1e4).rounded() / 10, "gflops_per_s": (flops / best / 1e8).rounded() / 10]
        if winograd { row["ms_fwd_bwd_im2col"] = (bestIm2col * 1e4).rounded() / 10 }
        rows.append(row)
    }
    print(json(["bench": "conv_facetnn", "batch": batch, "threads": Engine.threads, "openblas_core": Engine.blasCoreName, "layers": rows,
                "all_layers_gflops_per_s": (totalFlops / totalTime / 1e8).rounded() / 10]))
}

switch CommandLine.arguments.dropFirst().first {
case "quick96": try benchQuick96()
case "h128": try benchH128()
case "conv": benchConvolutions()
case "core": print(Engine.blasCoreName)
default:
    FileHandle.standardError.write(Data("usage: bench-nn quick96|conv|core [--batch N] [--warmup N] [--iters N] [--reps N] [--tiny]\n".utf8))
    exit(2)
}
