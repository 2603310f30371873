#!/usr/bin/env python3
"""DeepFaceLab SAEHD training-throughput benchmark, TensorFlow (CPU): the peer of `bench-nn saehd`.

Usage: /tmp/peer-venv/bin/python bench_saehd_tf.py [--batch 4] [--archi liae-ud] [--resolution 128]
           [--ae-dims 256] [--e-dims 64] [--d-dims 64] [--d-mask-dims 22] [--warmup 2] [--iters 5] [--count]
Prints ONE JSON line (shaped like bench_h128_tf.py's). --count prints the trainable parameter count only.

Written from DeepFaceLab's core/leras/archis/DeepFakeArchi.py and models/Model_SAEHD/Model.py (NHWC, all convs
SAME with bias, lrelu = leaky relu 0.1, glorot-uniform kernels, zero biases):
  Downscale(c):  conv 5x5 stride 2 -> lrelu 0.1
  Upscale(c):    conv 3x3 to 4c -> lrelu 0.1 -> depth_to_space 2
  ResidualBlock: x' = lrelu(conv3x3(x), 0.2); lrelu(x + conv3x3(x'), 0.2)
  Encoder: Downscale e, 2e, 4e, 8e (with -t: down e, res e, down 2e, 4e, 8e, 8e, res 8e) -> flatten
           -> pixel_norm (x * rsqrt(mean(x^2) + 1e-6)) with -u
  Inter(ae_out): Dense(ae) -> Dense(low*low*ae_out) -> reshape (low = R/32 with -d, else R/16)
           -> Upscale(ae_out) unless -t
  Decoder(in): image: Upscale 8d, res, 4d, res, 2d, res (-t: 8d, res, 8d, res, 4d, res, 2d, res)
               -> conv 1x1 to 3 (-d: conv 1x1 and three 3x3 to 3, concat, depth_to_space 2) -> sigmoid
           mask: Upscale 8m, 4m, 2m (-t: 8m, 8m, 4m, 2m), with -d one more Upscale m -> conv 1x1 to 1 -> sigmoid
  df: inter(ae_out = ae); decoder_src, decoder_dst.  liae: inter_AB, inter_B (ae_out = 2 ae), one decoder
      reading concat(AB, AB) for src and concat(B, AB) for dst.
ONE ITERATION (SAEHD's src_dst_train, masked training on, no priority, no GAN):
  mb = clip(gaussian_blur(target_mask, sigma max(1, R // 32)), 0, 0.5) * 2
  loss per role and sample = 10 * mean_c DSSIM(t*mb, p*mb; filter int(R/11.6), sigma 1.5)   (R < 256)
                            + 10 * mean((t*mb - p*mb)^2) + 10 * mean((tm - pm)^2)
  G = src_loss + dst_loss, gradient of their sum, one AdaBelief step (leras: lr 5e-5, beta1 0.9, beta2 0.999,
  eps 1e-6, no bias correction) over all weights.
"""
import argparse, json, os, time, platform


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, nargs="+", default=[4])
    ap.add_argument("--archi", default="liae-ud")
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--ae-dims", type=int, default=256)
    ap.add_argument("--e-dims", type=int, default=64)
    ap.add_argument("--d-dims", type=int, default=64)
    ap.add_argument("--d-mask-dims", type=int, default=22)
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0 = TF default = #cores)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--count", action="store_true")
    args = ap.parse_args()

    import numpy as np
    import tensorflow as tf
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    R = args.resolution
    family, _, opts = args.archi.partition("-")
    liae = family == "liae"
    ae, e, d, dm = args.ae_dims, args.e_dims, args.d_dims, args.d_mask_dims
    rng = np.random.default_rng(0)
    glorot = tf.keras.initializers.GlorotUniform(seed=0)
    weights = []
    flops = {"n": 0}

    def var(shape):
        v = tf.Variable(glorot(shape)); weights.append(v); return v

    def bias(n):
        v = tf.Variable(tf.zeros([n])); weights.append(v); return v

    class Conv:
        def __init__(self, cin, cout, k, stride=1, out_hw=1):
            self.w = var([k, k, cin, cout]); self.b = bias(cout); self.s = stride
            flops["n"] += 2 * out_hw * out_hw * k * k * cin * cout
        def __call__(self, x):
            return tf.nn.conv2d(x, self.w, self.s, "SAME") + self.b

    class Dense:
        def __init__(self, cin, cout):
            self.w = var([cin, cout]); self.b = bias(cout); flops["n"] += 2 * cin * cout
        def __call__(self, x):
            return tf.matmul(x, self.w) + self.b

    lrelu = lambda x, a=0.1: tf.nn.leaky_relu(x, a)

    class Down:
        def __init__(self, cin, cout, out_hw): self.c = Conv(cin, cout, 5, 2, out_hw)
        def __call__(self, x): return lrelu(self.c(x))

    class Up:
        def __init__(self, cin, cout, in_hw): self.c = Conv(cin, cout * 4, 3, 1, in_hw)
        def __call__(self, x): return tf.nn.depth_to_space(lrelu(self.c(x)), 2)

    class Res:
        def __init__(self, c, hw): self.c1 = Conv(c, c, 3, 1, hw); self.c2 = Conv(c, c, 3, 1, hw)
        def __call__(self, x): return lrelu(x + self.c2(lrelu(self.c1(x), 0.2)), 0.2)

    t = "t" in opts
    out_res = R // (32 if t else 16)
    low = R // (32 if "d" in opts else 16)

    class Encoder:
        def __init__(self):
            if t:
                self.l = [Down(3, e, R // 2), Res(e, R // 2), Down(e, 2 * e, R // 4), Down(2 * e, 4 * e, R // 8),
                          Down(4 * e, 8 * e, R // 16), Down(8 * e, 8 * e, R // 32), Res(8 * e, R // 32)]
            else:
                self.l = [Down(3, e, R // 2), Down(e, 2 * e, R // 4), Down(2 * e, 4 * e, R // 8), Down(4 * e, 8 * e, R // 16)]
        def __call__(self, x):
            for l in self.l: x = l(x)
            x = tf.reshape(x, [-1, out_res * out_res * 8 * e])
            if "u" in opts:
                x = x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + 1e-06)
            return x

    class Inter:
        def __init__(self, ae_out):
            self.ae_out = ae_out
            self.d1 = Dense(out_res * out_res * 8 * e, ae); self.d2 = Dense(ae, low * low * ae_out)
            self.up = None if t else Up(ae_out, ae_out, low)
        def __call__(self, x):
            x = tf.reshape(self.d2(self.d1(x)), [-1, low, low, self.ae_out])
            return x if t else self.up(x)

    class Decoder:
        def __init__(self, cin):
            hw = low if t else low * 2
            widths = [8 * d, 8 * d, 4 * d, 2 * d] if t else [8 * d, 4 * d, 2 * d]
            self.l, last = [], cin
            for w in widths:
                self.l += [Up(last, w, hw), Res(w, hw * 2)]; last = w; hw *= 2
            if "d" in opts:
                self.o = [Conv(last, 3, 1, 1, hw)] + [Conv(last, 3, 3, 1, hw) for _ in range(3)]
            else:
                self.o = [Conv(last, 3, 1, 1, hw)]
            hw = low if t else low * 2
            mw = [8 * dm, 8 * dm, 4 * dm, 2 * dm] if t else [8 * dm, 4 * dm, 2 * dm]
            if "d" in opts: mw.append(dm)
            self.m, last = [], cin
            for w in mw:
                self.m.append(Up(last, w, hw)); last = w; hw *= 2
            self.om = Conv(last, 1, 1, 1, hw)
        def __call__(self, z):
            x = z
            for l in self.l: x = l(x)
            if "d" in opts:
                x = tf.nn.sigmoid(tf.nn.depth_to_space(tf.concat([c(x) for c in self.o], -1), 2))
            else:
                x = tf.nn.sigmoid(self.o[0](x))
            m = z
            for l in self.m: m = l(m)
            return x, tf.nn.sigmoid(self.om(m))

    enc = Encoder()
    if liae:
        inter_ab, inter_b = Inter(2 * ae), Inter(2 * ae)
        dec = Decoder(4 * ae)
    else:
        inter = Inter(ae)
        dec_src, dec_dst = Decoder(ae), Decoder(ae)
    n_params = int(sum(np.prod(v.shape) for v in weights))
    if args.count:
        print(json.dumps({"bench": "saehd_param_count", "archi": args.archi, "resolution": R, "params": n_params}))
        return

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
    LR, B1, B2, EPS = 5e-5, 0.9, 0.999, np.finfo(np.float32).resolution

    def side_loss(t_, tm, pred, predm):
        mb = tf.clip_by_value(blur(tm), 0, 0.5) * 2
        tmk, pmk = t_ * mb, pred * mb
        l = tf.reduce_mean(10 * dssim(tmk, pmk), axis=1)
        l += tf.reduce_mean(10 * tf.square(tmk - pmk), axis=[1, 2, 3])
        return l + tf.reduce_mean(10 * tf.square(tm - predm), axis=[1, 2, 3])

    def train_step(ws, ts, tsm, wd, td, tdm):
        with tf.GradientTape() as tape:
            if liae:
                cs = enc(ws); ab_s = inter_ab(cs); zs = tf.concat([ab_s, ab_s], -1)
                cd = enc(wd); b_d = inter_b(cd); ab_d = inter_ab(cd); zd = tf.concat([b_d, ab_d], -1)
                pss, pssm = dec(zs); pdd, pddm = dec(zd)
            else:
                pss, pssm = dec_src(inter(enc(ws))); pdd, pddm = dec_dst(inter(enc(wd)))
            ls = side_loss(ts, tsm, pss, pssm); ld = side_loss(td, tdm, pdd, pddm)
            G = ls + ld
        grads = tape.gradient(G, weights)
        for w, m, v, g in zip(weights, ms, vs, grads):
            nm = B1 * m + (1.0 - B1) * g; nv = B2 * v + (1.0 - B2) * tf.square(g - nm)
            m.assign(nm); v.assign(nv)
            w.assign_add(-LR * nm / (tf.sqrt(nv) + EPS))
        return tf.reduce_mean(ls), tf.reduce_mean(ld)

    step = tf.function(train_step)

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
        results[str(B)] = {"iters_per_s": round(args.iters / tot, 3), "ms_per_iter_mean": round(1e3 * tot / args.iters, 1),
                           "ms_per_iter_median": round(1e3 * ts_sorted[len(ts) // 2], 1),
                           "ms_per_iter_min": round(1e3 * ts_sorted[0], 1),
                           "warmup_s": round(t_warm, 1), "final_loss_src": float(out[0])}
    print(json.dumps({
        "bench": "saehd_train_tf", "variant": f"{args.archi} {R} px ae {ae} e {e} d {d} m {dm}",
        "tensorflow": tf.__version__, "numpy": np.__version__, "python": platform.python_version(),
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
        "cpu_count": os.cpu_count(),
        "TF_ENABLE_ONEDNN_OPTS": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "unset (TF default: on for x86)"),
        "params": n_params, "warmup_iters": args.warmup, "timed_iters": args.iters, "results": results}))


if __name__ == "__main__":
    main()
