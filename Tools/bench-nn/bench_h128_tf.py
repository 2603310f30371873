#!/usr/bin/env python3
"""DeepFaceLab H128 training-throughput benchmark, TensorFlow (CPU): the peer of `bench-nn h128`.

Usage: /tmp/peer-venv/bin/python bench_h128_tf.py [--batch 4] [--lighter] [--pixel-loss] [--threads 0] [--warmup 2] [--iters 5] [--xla]
Prints ONE JSON line (shaped like ../../../shared/bench/bench_quick96_tf.py's).

Reproduces DeepFaceLab 1.0's models/Model_H128/Model.py as Facet's FacetNN/H128.swift builds it:
ARCHITECTURE (NHWC, all convs padding SAME, bias=True, lrelu = leaky relu 0.1)
  downscale(d): conv 5x5 stride 2 -> lrelu
  upscale(d):   conv 3x3 to 4d channels -> lrelu -> depth_to_space(2)
  Encoder (shared): 128x128x3 -> down 128, 256, 512, 1024 (8x8x1024) -> flatten (65536)
                    -> Dense(512) -> Dense(8*8*512) -> reshape 8x8x512 -> up 512 (16x16x512)
  Decoder (src, dst): image: up 512, 256, 128 (128x128) -> conv 5x5 to 3, sigmoid
                      mask:  up 512, 256, 128 -> conv 5x5 to 1, sigmoid (same input)
  --lighter: Dense(256), 8x8x256, up 256 in the encoder; decoders 256, 128, 64.
  Init: glorot-uniform kernels, zero biases.
ONE ITERATION: src and dst batches (B each) through the encoder and their decoder;
  blurred mask mb = gaussian_blur(target_mask, radius max(1, 128 // 32) = 4) (17 taps, zero pad)
  loss per sample = 10 * mean_c DSSIM(t*mb, p*mb; filter int(128/11.6) = 11, sigma 1.5)
                    (--pixel-loss: 50 * mean((t*mb - p*mb)^2)) + mean(|tm - pm|)
  G = src_loss + dst_loss (per-sample vectors; gradient of their sum), one Adam step over all
  weights: lr 5e-5, beta1 0.5, beta2 0.999, eps 1e-7 (bias-corrected, as FacetNN's Adam).
"""
import argparse, json, os, time, platform


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[4])
    ap.add_argument("--lighter", action="store_true")
    ap.add_argument("--pixel-loss", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = TF default = #cores)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--xla", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import tensorflow as tf
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    R = 128
    ae = 256 if args.lighter else 512
    d = 256 if args.lighter else 512
    rng = np.random.default_rng(0)
    glorot = tf.keras.initializers.GlorotUniform(seed=0)
    weights = []

    def var(shape):
        v = tf.Variable(glorot(shape)); weights.append(v); return v

    def bias(n):
        v = tf.Variable(tf.zeros([n])); weights.append(v); return v

    flops = {"fwd_per_image": 0}

    class Conv:
        def __init__(self, cin, cout, k, stride=1, out_hw=None):
            self.w = var([k, k, cin, cout]); self.b = bias(cout); self.s = stride
            flops["fwd_per_image"] += 2 * out_hw * out_hw * k * k * cin * cout
        def __call__(self, x):
            return tf.nn.conv2d(x, self.w, self.s, "SAME") + self.b

    class Dense:
        def __init__(self, cin, cout):
            self.w = var([cin, cout]); self.b = bias(cout)
            flops["fwd_per_image"] += 2 * cin * cout
        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

    lrelu = lambda x: tf.nn.leaky_relu(x, 0.1)

    class Down:
        def __init__(self, cin, cout, out_hw): self.c = Conv(cin, cout, 5, 2, out_hw)
        def __call__(self, x): return lrelu(self.c(x))

    class Up:
        def __init__(self, cin, cout, in_hw): self.c = Conv(cin, cout * 4, 3, 1, in_hw)
        def __call__(self, x): return tf.nn.depth_to_space(lrelu(self.c(x)), 2)

    class Encoder:
        def __init__(self):
            self.d = [Down(3, 128, 64), Down(128, 256, 32), Down(256, 512, 16), Down(512, 1024, 8)]
            self.d1 = Dense(8 * 8 * 1024, ae); self.d2 = Dense(ae, 8 * 8 * ae); self.up = Up(ae, ae, 8)
        def __call__(self, x):
            for l in self.d: x = l(x)
            x = tf.reshape(x, [-1, 8 * 8 * 1024])
            x = tf.reshape(self.d2(self.d1(x)), [-1, 8, 8, ae])
            return self.up(x)

    class Decoder:
        def __init__(self):
            self.u = [Up(ae, d, 16), Up(d, d // 2, 32), Up(d // 2, d // 4, 64)]
            self.o = Conv(d // 4, 3, 5, 1, 128)
            self.m = [Up(ae, d, 16), Up(d, d // 2, 32), Up(d // 2, d // 4, 64)]
            self.om = Conv(d // 4, 1, 5, 1, 128)
        def __call__(self, z):
            x = z
            for u in self.u: x = u(x)
            m = z
            for u in self.m: m = u(m)
            return tf.nn.sigmoid(self.o(x)), tf.nn.sigmoid(self.om(m))

    f0 = flops["fwd_per_image"]
    enc = Encoder()
    f_shared = flops["fwd_per_image"] - f0
    f1 = flops["fwd_per_image"]
    dec_src, dec_dst = Decoder(), Decoder()
    f_dec = (flops["fwd_per_image"] - f1) // 2
    fwd_flops_per_sample = f_shared + f_dec
    n_params = int(sum(np.prod(v.shape) for v in weights))

    # gaussian blur of the mask (DeepFaceLab 1.0 / leras gaussian_blur, radius = sigma = 4)
    sigma = float(max(1, R // 32)); ks = max(3, int(2 * 2 * sigma)); ks += (ks % 2 == 0)
    mean = np.floor(0.5 * ks); k1 = np.exp(-(np.arange(ks) - mean) ** 2 / (2 * sigma ** 2))
    gk = np.outer(k1, k1).astype(np.float32); gk /= gk.sum()
    gk = tf.constant(gk.reshape(ks, ks, 1, 1)); pad = ks // 2

    def blur(m):
        m = tf.pad(m, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        return tf.nn.depthwise_conv2d(m, gk, [1, 1, 1, 1], "VALID")

    fs = int(R / 11.6); kk = (np.arange(fs, dtype=np.float32) - (fs - 1) / 2.0) ** 2 * (-0.5 / 1.5 ** 2)
    kk = kk.reshape(1, -1) + kk.reshape(-1, 1); kk = np.exp(kk - kk.max()); kk /= kk.sum()
    sk = tf.constant(np.tile(kk.reshape(fs, fs, 1, 1).astype(np.float32), (1, 1, 3, 1)))

    def dssim(a, b):
        red = lambda x: tf.nn.depthwise_conv2d(x, sk, [1, 1, 1, 1], "VALID")
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        m0, m1 = red(a), red(b)
        num0 = m0 * m1 * 2.0; den0 = tf.square(m0) + tf.square(m1)
        lum = (num0 + c1) / (den0 + c1)
        num1 = red(a * b) * 2.0; den1 = red(tf.square(a) + tf.square(b))
        cs = (num1 - num0 + c2) / (den1 - den0 + c2)
        return (1.0 - tf.reduce_mean(lum * cs, axis=(1, 2))) / 2.0  # (B, C)

    ms = [tf.Variable(tf.zeros_like(v)) for v in weights]
    vs = [tf.Variable(tf.zeros_like(v)) for v in weights]
    t_step = tf.Variable(0.0)
    LR, B1, B2, EPS = 5e-5, 0.5, 0.999, 1e-7

    def side_loss(t, tm, pred, predm):
        mb = blur(tm)
        tmk, pmk = t * mb, pred * mb
        if args.pixel_loss:
            l = tf.reduce_mean(50 * tf.square(tmk - pmk), axis=[1, 2, 3])
        else:
            l = tf.reduce_mean(10 * dssim(tmk, pmk), axis=1)
        return l + tf.reduce_mean(tf.abs(tm - predm), axis=[1, 2, 3])

    def train_step(ws, ts, tsm, wd, td, tdm):
        with tf.GradientTape() as tape:
            pss, pssm = dec_src(enc(ws)); pdd, pddm = dec_dst(enc(wd))
            ls = side_loss(ts, tsm, pss, pssm); ld = side_loss(td, tdm, pdd, pddm)
            G = ls + ld
        grads = tape.gradient(G, weights)
        t_step.assign_add(1.0)
        c1 = 1.0 - tf.pow(B1, t_step); c2 = 1.0 - tf.pow(B2, t_step)
        lr_t = LR * tf.sqrt(c2) / c1; eps_t = EPS * tf.sqrt(c2)
        for w, m, v, g in zip(weights, ms, vs, grads):
            nm = B1 * m + (1.0 - B1) * g; nv = B2 * v + (1.0 - B2) * tf.square(g)
            m.assign(nm); v.assign(nv)
            w.assign_add(-lr_t * nm / (tf.sqrt(nv) + eps_t))
        return tf.reduce_mean(ls), tf.reduce_mean(ld)

    step = tf.function(train_step, jit_compile=bool(args.xla))

    yy, xx = np.mgrid[0:R, 0:R]
    s = R / 96.0
    ell = (((xx - 48 * s) / (34 * s)) ** 2 + ((yy - 52 * s) / (42 * s)) ** 2 <= 1).astype(np.float32)[..., None]

    results = {}
    for B in args.batch:
        pool = []
        for _ in range(3):
            imgs = [rng.random((B, R, R, 3), dtype=np.float32) for _ in range(4)]
            m = np.repeat(ell[None], B, 0)
            pool.append((imgs[0], imgs[1], m, imgs[2], imgs[3], m))
        t0 = time.perf_counter()
        for i in range(args.warmup):
            out = step(*[tf.constant(a) for a in pool[i % 3]]); float(out[0])
        t_warm = time.perf_counter() - t0
        ts = []
        for i in range(args.iters):
            t1 = time.perf_counter()
            out = step(*[tf.constant(a) for a in pool[i % 3]]); float(out[0])
            ts.append(time.perf_counter() - t1)
        tot = sum(ts); ts_sorted = sorted(ts)
        train_flops = 3 * fwd_flops_per_sample * 2 * B
        results[str(B)] = {"iters_per_s": round(args.iters / tot, 3), "ms_per_iter_mean": round(1e3 * tot / args.iters, 1),
                           "ms_per_iter_median": round(1e3 * ts_sorted[len(ts) // 2], 1),
                           "ms_per_iter_min": round(1e3 * ts_sorted[0], 1),
                           "approx_model_gflops_per_s": round(train_flops / (tot / args.iters) / 1e9, 1),
                           "warmup_s": round(t_warm, 1), "final_loss_src": float(out[0])}
    print(json.dumps({
        "bench": "h128_train_tf", "variant": ("lighter" if args.lighter else "h128") + ("+pixel_loss" if args.pixel_loss else ""),
        "tensorflow": tf.__version__, "numpy": np.__version__, "python": platform.python_version(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "cpu_count": os.cpu_count(), "xla": args.xla,
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (TF default: on for x86)"),
        "params": n_params, "fwd_gflop_per_sample": round(fwd_flops_per_sample / 1e9, 3),
        "warmup_iters": args.warmup, "timed_iters": args.iters, "results": results}))


if __name__ == "__main__":
    main()
