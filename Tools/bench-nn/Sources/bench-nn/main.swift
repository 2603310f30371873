/// Times FacetNN: one full Quick96 training iteration per batch size, and each convolution shape.
///
/// Usage: bench-nn quick96 [--batch 4] [--warmup 2] [--iters 5] [--tiny]
///        bench-nn conv [--batch 4] [--reps 5] [--layer decoder.up1]
///        bench-nn frozen [--reps 13]   (Quick96 inference, frozen weights or not)
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

/// Times whole training iterations (src + dst batch, `trainStep`) of the model `make` builds, on
/// three random batch pairs in turn: `--batch` (4), `--warmup` (2) untimed, then `--iters` (5)
/// timed. Returns the JSON fields `quick96` and `h128` print alike (warm-up time includes building
/// the model).
func timeTraining(_ make: () throws -> any SwapNetwork) throws -> [String: Any] {
    let batch = option("--batch", 4), warmup = option("--warmup", 2), iters = option("--iters", 5)
    let t0 = now()
    let model = try make()
    let r = model.resolution
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
    return [
        "batch": batch, "threads": Engine.threads, "openblas_core": Engine.blasCoreName,
        "params": model.parameterCount, "warmup_iters": warmup, "timed_iters": iters,
        "iters_per_s": itersPerS, "ms_per_iter_mean": mean, "ms_per_iter_median": median, "ms_per_iter_min": fastest,
        "peak_rss_mib": peakMiB().rounded(), "warmup_s": warmS,
        "final_loss_src": Double(losses.srcMean),
    ]
}

func benchQuick96() throws {
    let config: Quick96Config = CommandLine.arguments.contains("--tiny") ? .tiny : .quick96
    var fields = try timeTraining { try Quick96(config: config, seed: 0) }
    fields["bench"] = "quick96_train_facetnn"
    fields["config"] = "\(config)"
    print(json(fields))
}

/// (input size, cin, cout, kernel, stride, name); decoder.out is the merged 1x1 + 3x 3x3 output
/// convolution (12 channels padded to 16, see ParallelConvs).
let convShapes: [(h: Int, cin: Int, cout: Int, k: Int, s: Int, name: String)] = [
    (96, 3, 64, 5, 2, "encoder.down1"), (48, 64, 128, 5, 2, "encoder.down2"), (24, 128, 256, 5, 2, "encoder.down3"),
    (12, 256, 512, 5, 2, "encoder.down4"), (3, 128, 512, 3, 1, "inter.up"), (6, 128, 2048, 3, 1, "decoder.up0"),
    (12, 512, 512, 3, 1, "decoder.res0"), (12, 512, 1024, 3, 1, "decoder.up1"), (24, 256, 256, 3, 1, "decoder.res1"),
    (24, 256, 512, 3, 1, "decoder.up2"), (48, 128, 128, 3, 1, "decoder.res2"), (48, 128, 16, 3, 1, "decoder.out"),
    (6, 128, 512, 3, 1, "mask.up0"), (12, 128, 256, 3, 1, "mask.up1"), (24, 64, 128, 3, 1, "mask.up2"), (48, 32, 64, 3, 1, "mask.up3"),
]

/// H128's encoder (DeepFaceLab's H128: e_dims 128 at 128 px), for `ab`.
let h128EncoderShapes: [(h: Int, cin: Int, cout: Int, k: Int, s: Int, name: String)] = [
    (128, 3, 128, 5, 2, "h128.encoder.down1"), (64, 128, 256, 5, 2, "h128.encoder.down2"),
    (32, 256, 512, 5, 2, "h128.encoder.down3"), (16, 512, 1024, 5, 2, "h128.encoder.down4"),
]

/// Forward + both gradients of every distinct Quick96 convolution shape at this batch size.
/// GFLOP/s count the direct convolution's multiply-adds (2 * N*OH*OW*k*k*cin*cout per pass, three
/// passes), so the Winograd layers' figure is an effective rate.
func benchConvolutions() {
    let batch = option("--batch", 4), reps = option("--reps", 5)
    // (input size, cin, cout, kernel, stride, name); decoder.out is the merged 1x1 + 3x 3x3 output
    // convolution (12 channels padded to 16, see ParallelConvs).
    let shapes = convShapes
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
        let tile = conv.winogradTile(height: s.h, width: s.h) ?? conv.spaceToDepthTile(height: s.h, width: s.h), winograd = tile != nil
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


/// Per-layer profile of one Quick96 training iteration: every layer's forward and backward timed
/// separately (the layers of `trainStep`, run by hand in the same order; upscale = conv + shuffle,
/// residual = conv1 + conv2 + add), the optimizer step, and the rest of a full `trainStep`
/// (loss, blur, copies). Median over `--iters` runs, ms.
func profileQuick96() throws {
    let batch = option("--batch", 4), iters = option("--iters", 5)
    let config: Quick96Config = CommandLine.arguments.contains("--tiny") ? .tiny : .quick96
    let r = config.resolution
    let model = try Quick96(config: config, seed: 0)
    let src = TrainingBatch(warped: randomImages(batch, r), target: randomImages(batch, r), mask: ellipse(batch, r))
    let dst = TrainingBatch(warped: randomImages(batch, r), target: randomImages(batch, r), mask: ellipse(batch, r))
    for _ in 0..<2 { model.trainStep(src: src, dst: dst) }
    var samples: [String: [Double]] = [:]
    var order: [String] = []
    func record(_ key: String, _ dt: Double) {
        if samples[key] == nil { order.append(key); samples[key] = [] }
        samples[key]!.append(dt)
    }
    func timed<T>(_ key: String, _ body: () -> T) -> T {
        let t = now(); let v = body(); record(key, now() - t); return v
    }
    // One shuffle per upscale layer (each keeps its output until its backward).
    var shuffles: [ObjectIdentifier: DepthToSpace] = [:]
    func shuffleOf(_ u: Upscale) -> DepthToSpace {
        if let s = shuffles[ObjectIdentifier(u)] { return s }
        let s = DepthToSpace(blockSize: 2); shuffles[ObjectIdentifier(u)] = s; return s
    }
    // Forward/backward of one child of a Sequential, split where it helps.
    func fwd(_ name: String, _ l: any Layer, _ x: Tensor) -> Tensor {
        if let s = l as? Sequential {
            var h = x
            for c in s.layers { h = fwd("\(name).\(c.name)", c.layer, h) }
            return h
        }
        if let u = l as? Upscale {
            let y = timed("\(name).conv fwd") { u.conv.forward(x) }
            return timed("\(name).d2s fwd") { shuffleOf(u).forward(y) }
        }
        if let c = l as? Conv2D { return timed("\(name) fwd [k\(c.kernelSize)s\(c.stride) \(x.shape[1])x\(x.shape[2])x\(c.inChannels)->\(c.outChannels)]") { c.forward(x) } }
        return timed("\(name) fwd") { l.forward(x) }
    }
    func bwd(_ name: String, _ l: any Layer, _ dy: Tensor) -> Tensor {
        if let s = l as? Sequential {
            var g = dy
            for c in s.layers.reversed() { g = bwd("\(name).\(c.name)", c.layer, g) }
            return g
        }
        if let u = l as? Upscale {
            let g = timed("\(name).d2s bwd") { shuffleOf(u).backward(dy) }
            return timed("\(name).conv bwd") { u.conv.backward(g) }
        }
        return timed("\(name) bwd") { l.backward(dy) }
    }
    var totals: [Double] = []
    let stacked = Tensor(shape: [2 * batch, r, r, 3])
    stacked.data.update(from: src.warped.data, count: src.warped.count)
    (stacked.data + src.warped.count).update(from: dst.warped.data, count: dst.warped.count)
    for _ in 0..<iters {
        var t = now()
        model.trainStep(src: src, dst: dst)
        totals.append(now() - t)
        t = now()
        let e = fwd("encoder", model.encoder, stacked)
        let code = fwd("inter", model.inter, e)
        var dcode: [Tensor] = []
        for (i, d) in [model.decoderSrc, model.decoderDst].enumerated() {
            let c = code.batchSlice((i * batch)..<((i + 1) * batch))
            let img = fwd("dec.image", d.image, c)
            let msk = fwd("dec.mask", d.mask, c)
            let gi = Tensor(shape: img.shape), gm = Tensor(shape: msk.shape)
            gi.fill(1e-3); gm.fill(1e-3)
            let a = bwd("dec.image", d.image, gi)
            let out = Tensor(shape: a.shape); out.copy(from: a)
            let b = bwd("dec.mask", d.mask, gm)
            for j in 0..<b.count { out[j] += b[j] }
            dcode.append(out)
        }
        let g = Tensor(shape: code.shape)
        g.data.update(from: dcode[0].data, count: dcode[0].count)
        (g.data + dcode[0].count).update(from: dcode[1].data, count: dcode[1].count)
        _ = bwd("encoder", model.encoder, bwd("inter", model.inter, g))
        timed("optimizer step") { model.optimizer.step(model.namedParameters) }
        record("(sum of the above)", now() - t)
    }
    func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
    let step = median(totals)
    print(String(format: "full trainStep median %.1f ms (batch %d, %d iters)", step * 1000, batch, iters))
    var rows: [(String, Double)] = order.map { ($0, median(samples[$0]!) * (($0.hasPrefix("dec.") ) ? 2 : 1)) }
    rows.sort { $0.1 > $1.1 }
    for (k, v) in rows { print(String(format: "%8.2f ms %5.1f%%  %@", v * 1000, 100 * v / step, k)) }
}

/// The convolution policy every mode runs under: `ConvPolicy.standard` changed by `--wino-min-tiles N`,
/// `--s2d-min-tiles N` and `--off FLAG` (see `abFlags`).
var basePolicy = ConvPolicy.standard
if CommandLine.arguments.contains("--wino-min-tiles") { basePolicy.winogradMinimumTiles = option("--wino-min-tiles", 16) }
if CommandLine.arguments.contains("--s2d-min-tiles") { basePolicy.spaceToDepthMinimumTiles = option("--s2d-min-tiles", 16) }
/// Same-run A/B of one convolution shape between two paths, alternating so that load from other
/// processes hits both alike: `bench-nn ab --layer encoder.down2 --a im2col --b f4 [--reps 9]`.
/// Paths: im2col, f2, f4 (Winograd tile forced; 5x5 stride 2 via space-to-depth), default.
func benchAB() {
    let batch = option("--batch", 4), reps = option("--reps", 9)
    let args = CommandLine.arguments
    func arg(_ name: String, _ fallback: String) -> String { args.firstIndex(of: name).map { args[$0 + 1] } ?? fallback }
    let name = arg("--layer", "encoder.down2"), modes = [arg("--a", "im2col"), arg("--b", "default")]
    guard let s = (convShapes + h128EncoderShapes).first(where: { $0.name == name }) else { fatalError("unknown layer \(name)") }
    let n = s.name.hasPrefix("encoder") || s.name.hasPrefix("inter") || s.name.hasPrefix("h128.encoder") ? 2 * batch : batch
    let conv = Conv2D(inChannels: s.cin, outChannels: s.cout, kernelSize: s.k, stride: s.s, activation: .leakyReLU(0.1))
    conv.initialize(using: &generator)
    let x = Tensor(shape: [n, s.h, s.h, s.cin])
    for i in 0..<x.count { x[i] = generator.nextUnitFloat() - 0.5 }
    func set(_ mode: String) -> ConvPolicy {
        conv.useWinograd = mode != "im2col"
        var p = ConvPolicy.current
        p.winogradTile = mode == "f2" ? 2 : mode == "f4" ? 4 : nil
        return p
    }
    let y = ConvPolicy.with(set(modes[0])) { conv.forward(x) }
    let dy = Tensor(shape: y.shape)
    for i in 0..<dy.count { dy[i] = generator.nextUnitFloat() - 0.5 }
    var times: [[Double]] = [[], []]
    for rep in 0..<(reps + 1) {
        for k in 0..<2 {
            ConvPolicy.with(set(modes[k])) {
                let t = now()
                _ = conv.forward(x)
                _ = conv.backward(dy)
                if rep > 0 { times[k].append(now() - t) }
            }
        }
    }
    func ms(_ v: Double) -> Double { (v * 1e4).rounded() / 10 }
    var out: [String: Any] = ["bench": "conv_ab", "layer": name, "n": n, "reps": reps]
    for k in 0..<2 {
        let t = times[k].sorted()
        out[modes[k]] = ["best_ms": ms(t[0]), "median_ms": ms(t[t.count / 2])]
    }
    print(json(out))
}

/// Same-run A/B of whole Quick96 training iterations: one model, iterations alternating between
/// the engine's setting A and B, so load from other processes hits both alike.
/// `bench-nn quick96-ab --flag s2d [--batch 4] [--iters 8] [--model h128]`; flags: s2d (5x5 stride-2 via
/// space-to-depth Winograd vs im2col), fuse (activation derivative and bias gradient inside the
/// Winograd output-gradient transform), keepv (transformed input kept for backward), all (the
/// three at once).
let abFlags: [String: @Sendable (inout ConvPolicy, Bool) -> Void] = [
    "s2d": { $0.spaceToDepth = $1 },
    "fuse": { $0.fusesWinogradBackward = $1 },
    "keepv": { $0.keepsWinogradInput = $1 },
    "all": { p, on in
        p.spaceToDepth = on
        p.fusesWinogradBackward = on
        p.keepsWinogradInput = on
    },
]
func benchQuick96AB() throws {
    let batch = option("--batch", 4), iters = option("--iters", 8)
    let args = CommandLine.arguments
    let flag = args.firstIndex(of: "--flag").map { args[$0 + 1] } ?? "s2d"
    guard let change = abFlags[flag] else { fatalError("unknown flag \(flag); known: \(abFlags.keys.sorted())") }
    func policy(_ on: Bool) -> ConvPolicy { var p = ConvPolicy.current; change(&p, on); return p }
    // `--model h128` runs H128 (its encoder has the same 5x5 stride-2 convolutions, wider).
    let h128 = args.firstIndex(of: "--model").map { args[$0 + 1] } == "h128"
    let model: any SwapNetwork = h128 ? try H128(config: .h128, seed: 0) : try Quick96(config: .quick96, seed: 0)
    let r = model.resolution
    let src = TrainingBatch(warped: randomImages(batch, r), target: randomImages(batch, r), mask: ellipse(batch, r))
    let dst = TrainingBatch(warped: randomImages(batch, r), target: randomImages(batch, r), mask: ellipse(batch, r))
    for on in [false, true] { ConvPolicy.with(policy(on)) { _ = model.trainStep(src: src, dst: dst) } }
    var times: [[Double]] = [[], []]
    for i in 0..<(2 * iters) {
        // ABBA order: neither setting always runs first.
        let on = (i % 4 == 1 || i % 4 == 2)
        ConvPolicy.with(policy(on)) {
            let t = now()
            model.trainStep(src: src, dst: dst)
            times[on ? 1 : 0].append(now() - t)
        }
    }
    func ms(_ v: Double) -> Double { (v * 1e4).rounded() / 10 }
    func stats(_ v: [Double]) -> [String: Double] {
        let s = v.sorted()
        return ["best_ms": ms(s[0]), "median_ms": ms(s[s.count / 2]), "mean_ms": ms(s.reduce(0, +) / Double(s.count))]
    }
    let (off, on) = (stats(times[0]), stats(times[1]))
    print(json(["bench": "quick96_ab", "model": h128 ? "h128" : "quick96", "flag": flag, "batch": batch, "iters_each": iters, "off": off, "on": on,
                "speedup_median": ((off["median_ms"]! / on["median_ms"]!) * 1000).rounded() / 1000,
                "load": (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""]))
}

/// Same-run A/B of Quick96 inference at batch 4 (the merge's batch), frozen and not, in ABBA order: medians of
/// process CPU time and wall time, and a check that both give the same outputs. `bench-nn frozen [--reps 13]`.
func benchFrozen() throws {
    let reps = option("--reps", 13)
    let model = try Quick96(config: .quick96, seed: 1)
    let faces = randomImages(4, 96)
    func cpu() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
    var times: [Bool: [(cpu: Double, wall: Double)]] = [true: [], false: []]
    var outputs: [Bool: [Float]] = [:]
    for round in 0..<reps {
        for frozen in (round % 2 == 0 ? [false, true] : [true, false]) {
            if frozen { model.freezeForInference() } else { model.thawAfterInference() }
            if frozen { _ = model.predict(faces, decoder: .src) }  // the one transforming call
            let (c0, w0) = (cpu(), now())
            let o = model.predict(faces, decoder: .src)
            let (c1, w1) = (cpu(), now())
            if round > 0 { times[frozen]!.append((c1 - c0, w1 - w0)) }
            outputs[frozen] = o.image.values + o.mask.values
        }
    }
    func median(_ v: [Double]) -> Double { (v.sorted()[v.count / 2] * 1e4).rounded() / 10 }
    let (a, b) = (times[false]!, times[true]!)
    print(json(["bench": "quick96_frozen_predict", "batch": 4, "runs_each": a.count, "same_outputs": outputs[true] == outputs[false],
                "not_frozen": ["cpu_ms": median(a.map(\.cpu)), "wall_ms": median(a.map(\.wall))],
                "frozen": ["cpu_ms": median(b.map(\.cpu)), "wall_ms": median(b.map(\.wall))],
                "cpu_ratio": ((median(a.map(\.cpu)) / median(b.map(\.cpu))) * 1000).rounded() / 1000]))
}

// `--off FLAG` (repeatable): run with that engine setting off (see `abFlags`).
for (i, a) in CommandLine.arguments.enumerated() where a == "--off" && i + 1 < CommandLine.arguments.count {
    abFlags[CommandLine.arguments[i + 1]]?(&basePolicy, false)
}
try ConvPolicy.with(basePolicy) {
    switch CommandLine.arguments.dropFirst().first {
    case "quick96-ab": try benchQuick96AB()
    case "ab": benchAB()
    case "profile": try profileQuick96()
    case "quick96": try benchQuick96()
    case "h128": try benchH128()
    case "saehd": try benchSAEHD()
    case "conv": benchConvolutions()
    case "frozen": try benchFrozen()
    case "core": print(Engine.blasCoreName)
    default:
        FileHandle.standardError.write(Data("usage: bench-nn quick96|conv|frozen|core [--batch N] [--warmup N] [--iters N] [--reps N] [--tiny]\n".utf8))
        exit(2)
    }
}
