/// `bench-nn h128`: one full H128 training iteration (src + dst batch, both decoders with their
/// mask branches, DSSIM or MSE under the blurred mask + mask MAE, Adam step), as
/// `bench_h128_tf.py` times TensorFlow's. Usage: bench-nn h128 [--batch 4] [--warmup 2] [--iters 5] [--lighter] [--pixel-loss]
import Foundation
import FacetNN

func benchH128() throws {
    let batch = option("--batch", 4), warmup = option("--warmup", 2), iters = option("--iters", 5)
    let args = CommandLine.arguments
    var config: H128Config = args.contains("--lighter") ? .lighter : .h128
    config.pixelLoss = args.contains("--pixel-loss")
    let r = config.resolution
    let t0 = now()
    let model = try H128(config: config, seed: 0)
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
    print(json([
        "bench": "h128_train_facetnn", "variant": (args.contains("--lighter") ? "lighter" : "h128") + (config.pixelLoss ? "+pixel_loss" : ""),
        "batch": batch, "threads": Engine.threads, "openblas_core": Engine.blasCoreName,
        "params": model.parameterCount, "warmup_iters": warmup, "timed_iters": iters,
        "iters_per_s": (Double(iters) / total * 1000).rounded() / 1000,
        "ms_per_iter_mean": (1e4 * total / Double(iters)).rounded() / 10,
        "ms_per_iter_median": (1e4 * sorted[sorted.count / 2]).rounded() / 10,
        "ms_per_iter_min": (1e4 * sorted[0]).rounded() / 10,
        "peak_rss_mib": peakMiB().rounded(), "warmup_s": (10 * warm).rounded() / 10,
        "final_loss_src": Double(losses.srcMean),
    ]))
}
