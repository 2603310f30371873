#!/usr/bin/env python3
"""DeepFaceLab's SAEHD discriminators as an ONNX graph run by onnxruntime (an independent runtime), for the test that
compares Facet's forward passes with them. Written from DeepFaceLab's source (iperov/DeepFaceLab master):

core/leras/models/PatchDiscriminator.py, UNetPatchDiscriminator (find_archi below is its code):
  level_chs[i] = min(base_ch * 2**(i+1), 512) for i = -1 .. len(layers)-1
  in_conv 1x1 -> lrelu 0.2; each conv (k, s) -> lrelu 0.2, its input kept as a skip;
  center_out = 1x1 to 1 on the bottom; x = lrelu(center_conv 1x1, 0.2);
  for each upconv (deepest first): x = lrelu(conv2d_transpose(x), 0.2); x = concat([skip, x], channels)
  out = out_conv 1x1 to 1.  Returns (center_out, out).
core/leras/models/CodeDiscriminator.py: 1 + code_res // 8 convs of stride 2 (4x4 first, then 3x3; ch * min(2**i, 8)
  channels) -> lrelu 0.1; out_conv 1x1 to 1.
core/leras/layers/Conv2D.py: padding 'SAME' = ((k - 1) + 1) // 2 zeros on every side (tf.pad), then VALID.
core/leras/layers/Conv2DTranspose.py: tf.nn.conv2d_transpose(padding='SAME') to (H * s, W * s): the adjoint of
  TensorFlow's SAME convolution from that size, whose padding is k - s in all, (k - s) // 2 before.

Weights are read from --weights DIR as NAME.f32 (raw little-endian float32 in Facet's layout: convolution kernels
[k, k, in, out], transposed ones [k, k, out, in]); the input is a raw float32 NHWC file. Outputs are written to --out
as center.f32 and out.f32 (UNet) or out.f32 (code), NHWC.

Usage: python3 Tools/reference/dfl_discriminators.py --kind unet --patch 12 --dims 4 --in-ch 3 \\
           --weights DIR --input x.f32 --shape 2,32,32,3 --out DIR
       python3 Tools/reference/dfl_discriminators.py --kind code --code-res 8 --ch 4 --in-ch 6 ...
"""
import argparse, os

import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper
import onnxruntime as ort


def calc_receptive_field_size(layers):
    rf = 0
    ts = 1
    for i, (k, s) in enumerate(layers):
        if i == 0:
            rf = k
        else:
            rf += (k - 1) * ts
        ts *= s
    return rf


def find_archi(target_patch_size, max_layers=9):
    s = {}
    for layers_count in range(1, max_layers + 1):
        val = 1 << (layers_count - 1)
        while True:
            val -= 1
            layers = []
            sum_st = 0
            layers.append([3, 2])
            sum_st += 2
            for i in range(layers_count - 1):
                st = 1 + (1 if val & (1 << i) != 0 else 0)
                layers.append([3, st])
                sum_st += st
            rf = calc_receptive_field_size(layers)
            s_rf = s.get(rf, None)
            if s_rf is None:
                s[rf] = (layers_count, sum_st, layers)
            else:
                if layers_count < s_rf[0] or (layers_count == s_rf[0] and sum_st > s_rf[1]):
                    s[rf] = (layers_count, sum_st, layers)
            if val == 0:
                break
    x = sorted(list(s.keys()))
    q = x[np.abs(np.array(x) - target_patch_size).argmin()]
    return s[q][2]


class Graph:
    def __init__(self, weights_dir):
        self.dir = weights_dir
        self.nodes, self.inits, self.n = [], [], 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def weight(self, name, shape, perm):
        w = np.fromfile(os.path.join(self.dir, name + ".f32"), dtype="<f4").reshape(shape).transpose(perm)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(w), name))
        return name

    def conv(self, x, prefix, cin, cout, k, s, lrelu=None, transpose=False):
        if transpose:  # Facet [k, k, out, in] -> ONNX ConvTranspose (in, out, k, k)
            w = self.weight(prefix + ".weight", (k, k, cout, cin), (3, 2, 0, 1))
            total = max(k - s, 0)
            pads = [total // 2, total // 2, total - total // 2, total - total // 2]
            op = "ConvTranspose"
        else:  # Facet [k, k, in, out] -> ONNX Conv (out, in, k, k); leras's symmetric padding
            w = self.weight(prefix + ".weight", (k, k, cin, cout), (3, 2, 0, 1))
            p = ((k - 1) + 1) // 2 if k > 1 else 0
            pads = [p, p, p, p]
            op = "Conv"
        b = self.weight(prefix + ".bias", (cout,), (0,))
        y = self.name(prefix)
        self.nodes.append(helper.make_node(op, [x, w, b], [y], kernel_shape=[k, k], strides=[s, s], pads=pads))
        if lrelu is not None:
            z = self.name(prefix + "_act")
            self.nodes.append(helper.make_node("LeakyRelu", [y], [z], alpha=lrelu))
            return z
        return y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["unet", "code"], required=True)
    ap.add_argument("--patch", type=int, default=16)
    ap.add_argument("--dims", type=int, default=16)
    ap.add_argument("--code-res", type=int, default=8)
    ap.add_argument("--ch", type=int, default=256)
    ap.add_argument("--in-ch", type=int, default=3)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--shape", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    shape = tuple(int(v) for v in a.shape.split(","))
    x = np.fromfile(a.input, dtype="<f4").reshape(shape)
    g = Graph(a.weights)
    g.nodes.append(helper.make_node("Transpose", ["x"], ["x_nchw"], perm=[0, 3, 1, 2]))
    outputs = []
    if a.kind == "unet":
        layers = find_archi(a.patch)
        level_chs = {i - 1: v for i, v in enumerate([min(a.dims * (2 ** i), 512) for i in range(len(layers) + 1)])}
        h = g.conv("x_nchw", "in_conv", a.in_ch, level_chs[-1], 1, 1, lrelu=0.2)
        encs = []
        for i, (k, s) in enumerate(layers):
            encs.insert(0, h)
            h = g.conv(h, f"convs.{i}", level_chs[i - 1], level_chs[i], k, s, lrelu=0.2)
        last = level_chs[len(layers) - 1]
        center = g.conv(h, "center_out", last, 1, 1, 1)
        h = g.conv(h, "center_conv", last, last, 1, 1, lrelu=0.2)
        # upconvs in leras's order: upconvs[0] belongs to the deepest layer.
        ups = []
        for i, (k, s) in enumerate(layers):
            ups.insert(0, (i, k, s, level_chs[i] * (2 if i != len(layers) - 1 else 1), level_chs[i - 1]))
        for j, ((i, k, s, cin, cout), enc) in enumerate(zip(ups, encs)):
            h = g.conv(h, f"upconvs.{j}", cin, cout, k, s, lrelu=0.2, transpose=True)
            cat = g.name("concat")
            g.nodes.append(helper.make_node("Concat", [enc, h], [cat], axis=1))
            h = cat
        out = g.conv(h, "out_conv", level_chs[-1] * 2, 1, 1, 1)
        outputs = [("center", center), ("out", out)]
    else:
        h, prev = "x_nchw", a.in_ch
        for i in range(1 + a.code_res // 8):
            cur = a.ch * min(2 ** i, 8)
            h = g.conv(h, f"convs.{i}", prev, cur, 4 if i == 0 else 3, 2, lrelu=0.1)
            prev = cur
        outputs = [("out", g.conv(h, "out_conv", prev, 1, 1, 1))]
    outs = []
    for name, t in outputs:
        g.nodes.append(helper.make_node("Transpose", [t], [name], perm=[0, 2, 3, 1]))
        outs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, [None, None, None, None]))
    graph = helper.make_graph(g.nodes, "dfl_discriminator",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))], outs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    results = sess.run(None, {"x": x})
    os.makedirs(a.out, exist_ok=True)
    for (name, _), v in zip(outputs, results):
        np.ascontiguousarray(v, dtype="<f4").tofile(os.path.join(a.out, name + ".f32"))
        print(name, list(v.shape))


if __name__ == "__main__":
    main()
