#!/usr/bin/env python3
"""A DeepFaceLab Quick96 model folder, written the way DeepFaceLab does, and its forward pass in numpy, for Facet's
`import-model --from dfl` tests.

Written from DeepFaceLab's documented behaviour (models/Model_Quick96/Model.py, core/leras/archis/DeepFakeArchi.py
with opts 'ud', core/leras/ops, core/leras/layers/Saveable.py), not copied:
- files `<name>_Quick96_{encoder,inter,decoder_src,decoder_dst}.npy`, each `pickle.dumps(dict, 4)` of the model's
  variables keyed by their TensorFlow names less the model's scope (`down1/downs_0/conv1/weight:0`), float32 numpy
  arrays; conv kernels [k, k, cin, cout], dense [in, out]; and `<name>_Quick96_data.dat`, a pickled dict with 'iter'.
- the forward pass in NHWC as leras runs it there: conv SAME as leras pads it (k // 2 zeros on every side, +bias),
  leaky ReLU 0.1 after each down/upscale conv, flatten in NCHW order (leras transposes NHWC to NCHW first), pixel
  norm, dense, dense, reshape_4D (NCHW order, back to NHWC), upscale = conv + lrelu + depth_to_space (TensorFlow's
  order), residual blocks with lrelu 0.2, four output convs concatenated, depth-to-space, sigmoid; mask branch: four
  upscales, 1x1 conv, sigmoid. Images are BGR in [0, 1].

Usage:
  dfl_model.py write DIR NAME SEED [--res 96 --e 64 --ae 128 --d 64 --m 16] [--iter N] [--drop KEY] [--shape KEY]
  dfl_model.py forward DIR NAME INPUT.f32 N OUTDIR      # faces [N, R, R, 3] BGR -> src_face.f32, src_mask.f32, dst_mask.f32
"""
import argparse, glob, os, pickle, sys

import numpy as np


def layers(res, e, ae, d, m):
    """Every variable of each part: key -> shape."""
    low = res // 32
    enc, inter, dec = {}, {}, {}
    cin = 3
    for i in range(4):
        c = e * min(2 ** i, 8)
        enc[f"down1/downs_{i}/conv1/weight:0"] = (5, 5, cin, c); enc[f"down1/downs_{i}/conv1/bias:0"] = (c,)
        cin = c
    flat = (res // 16) ** 2 * e * 8
    inter["dense1/weight:0"] = (flat, ae); inter["dense1/bias:0"] = (ae,)
    inter["dense2/weight:0"] = (ae, low * low * ae); inter["dense2/bias:0"] = (low * low * ae,)
    inter["upscale1/conv1/weight:0"] = (3, 3, ae, ae * 4); inter["upscale1/conv1/bias:0"] = (ae * 4,)
    def conv(name, k, a, b):
        dec[f"{name}/weight:0"] = (k, k, a, b); dec[f"{name}/bias:0"] = (b,)
    chans = [ae, d * 8, d * 4, d * 2]
    for i in range(3):
        conv(f"upscale{i}/conv1", 3, chans[i], chans[i + 1] * 4)
        conv(f"res{i}/conv1", 3, chans[i + 1], chans[i + 1]); conv(f"res{i}/conv2", 3, chans[i + 1], chans[i + 1])
    mch = [ae, m * 8, m * 4, m * 2, m]
    for i in range(4):
        conv(f"upscalem{i}/conv1", 3, mch[i], mch[i + 1] * 4)
    conv("out_conv", 1, d * 2, 3)
    for i in (1, 2, 3):
        conv(f"out_conv{i}", 3, d * 2, 3)
    conv("out_convm", 1, m, 1)
    return {"encoder": enc, "inter": inter, "decoder_src": dec, "decoder_dst": dict(dec)}


def conv2d(x, w, b, stride=1):
    # leras's Conv2D(padding='SAME'): ((k - 1) + 1) // 2 zeros on every side (tf.pad), then a VALID convolution. For
    # a 5x5 stride-2 kernel that is 2 before, where TensorFlow's own SAME pads 1.
    n, h, wd, c = x.shape
    k = w.shape[0]
    p = k // 2
    oh, ow = (h + 2 * p - k) // stride + 1, (wd + 2 * p - k) // stride + 1
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    cols = np.empty((n, oh, ow, k, k, c), np.float32)
    for ky in range(k):
        for kx in range(k):
            cols[:, :, :, ky, kx, :] = xp[:, ky:ky + stride * oh:stride, kx:kx + stride * ow:stride, :]
    y = cols.reshape(n * oh * ow, k * k * c) @ w.reshape(k * k * c, -1)
    return (y + b).reshape(n, oh, ow, -1).astype(np.float32)


def lrelu(x, a):
    return np.where(x > 0, x, x * a).astype(np.float32)


def d2s(x, size=2):
    n, h, w, c = x.shape
    oc = c // (size * size)
    x = x.reshape(n, h, w, size, size, oc).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h * size, w * size, oc)


def sigmoid(x):
    return (1 / (1 + np.exp(-x))).astype(np.float32)


def load(folder, name):
    parts = {}
    for part in ("encoder", "inter", "decoder_src", "decoder_dst"):
        parts[part] = pickle.loads(open(os.path.join(folder, f"{name}_Quick96_{part}.npy"), "rb").read())
    return parts


def forward(p, x, res, ae):
    e, i = p["encoder"], p["inter"]
    for k in range(4):
        x = lrelu(conv2d(x, e[f"down1/downs_{k}/conv1/weight:0"], e[f"down1/downs_{k}/conv1/bias:0"], 2), 0.1)
    x = x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)                      # nn.flatten: NCHW order
    x = x / np.sqrt(np.mean(np.square(x), axis=-1, keepdims=True) + 1e-06)    # nn.pixel_norm
    x = x @ i["dense1/weight:0"] + i["dense1/bias:0"]
    x = x @ i["dense2/weight:0"] + i["dense2/bias:0"]
    low = res // 32
    z = x.reshape(-1, ae, low, low).transpose(0, 2, 3, 1)                     # nn.reshape_4D
    z = d2s(lrelu(conv2d(z, i["upscale1/conv1/weight:0"], i["upscale1/conv1/bias:0"]), 0.1))

    def up(t, dct, name):
        return d2s(lrelu(conv2d(t, dct[f"{name}/conv1/weight:0"], dct[f"{name}/conv1/bias:0"]), 0.1))

    def resblock(t, dct, name):
        y = lrelu(conv2d(t, dct[f"{name}/conv1/weight:0"], dct[f"{name}/conv1/bias:0"]), 0.2)
        y = conv2d(y, dct[f"{name}/conv2/weight:0"], dct[f"{name}/conv2/bias:0"])
        return lrelu(t + y, 0.2)

    def decode(dct):
        h = z
        for k in range(3):
            h = resblock(up(h, dct, f"upscale{k}"), dct, f"res{k}")
        outs = [conv2d(h, dct[f"{n}/weight:0"], dct[f"{n}/bias:0"]) for n in ("out_conv", "out_conv1", "out_conv2", "out_conv3")]
        face = sigmoid(d2s(np.concatenate(outs, axis=-1)))
        mm = z
        for k in range(4):
            mm = up(mm, dct, f"upscalem{k}")
        return face, sigmoid(conv2d(mm, dct["out_convm/weight:0"], dct["out_convm/bias:0"]))

    return decode(p["decoder_src"]), decode(p["decoder_dst"])


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        ap = argparse.ArgumentParser()
        ap.add_argument("dir"); ap.add_argument("name"); ap.add_argument("seed", type=int)
        for k, v in (("res", 96), ("e", 64), ("ae", 128), ("d", 64), ("m", 16), ("iter", 1234)):
            ap.add_argument("--" + k, type=int, default=v)
        ap.add_argument("--drop", default=None); ap.add_argument("--shape", default=None)
        a = ap.parse_args(sys.argv[2:])
        rng = np.random.default_rng(a.seed)
        os.makedirs(a.dir, exist_ok=True)
        for part, variables in layers(a.res, a.e, a.ae, a.d, a.m).items():
            d = {}
            for key, shape in variables.items():
                if a.drop == f"{part}:{key}":
                    continue
                if a.shape == f"{part}:{key}":
                    shape = tuple(s + 1 for s in shape)
                fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
                scale = np.sqrt(1.0 / fan_in) if len(shape) > 1 else 0.1
                d[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
            with open(os.path.join(a.dir, f"{a.name}_Quick96_{part}.npy"), "wb") as f:
                f.write(pickle.dumps(d, 4))
        with open(os.path.join(a.dir, f"{a.name}_Quick96_data.dat"), "wb") as f:
            f.write(pickle.dumps({"iter": a.iter, "options": {"batch_size": 4}, "loss_history": [[0.5, 0.6]],
                                  "sample_for_preview": None, "choosed_gpu_indexes": None}))
    elif cmd == "forward":
        folder, name, inp, n, out = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
        p = load(folder, name)
        res = int(round((np.fromfile(inp, "<f4").size // (3 * n)) ** 0.5))
        x = np.fromfile(inp, "<f4").reshape(n, res, res, 3)
        ae = p["inter"]["dense1/weight:0"].shape[1]
        (face, mask), (_, dst_mask) = forward(p, x, res, ae)
        os.makedirs(out, exist_ok=True)
        face.astype("<f4").tofile(os.path.join(out, "src_face.f32"))
        mask.astype("<f4").tofile(os.path.join(out, "src_mask.f32"))
        dst_mask.astype("<f4").tofile(os.path.join(out, "dst_mask.f32"))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
