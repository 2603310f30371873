#!/usr/bin/env python3
"""Runs a model Facet exported (facet export-model --format onnx|dfm) with onnxruntime, an independent ONNX runtime,
for the tests that compare it with Facet's own forward pass.

--mode onnx: feeds the graph's one input by its name, after onnx.checker.check_model (full check).
--mode dfm: loads and feeds the file exactly as DeepFaceLive's DFMModel does (modelhub/DFLive/DFMModel.py): an
  InferenceSession; inputs[0].name must contain 'in_face', its shape[1:3] is the model's (height, width) and must be
  integers; one input is model type 1 (two would need 'morph_value'); then sess.run(None, {'in_face:0': img}) with
  img NHWC float32 in [0, 1] (its ImageProcessor.resize to the model's size is the identity for faces of that size),
  and the three outputs taken by position: out_face_mask, out_celeb, out_celeb_mask.

The input is a raw little-endian float32 file of shape --shape (N,H,W,C); each output is written to --out as
NAME.f32 (the name with ':' as '_'), and a JSON line on stdout lists inputs and outputs with their names, shapes
and element types as the session reports them, and the opset and IR version.

Needs onnxruntime and onnx (PyPI; Tools/setup installs them). Usage:
  python3 Tools/reference/onnx_run.py --model M.onnx --mode onnx --input faces.f32 --shape 2,64,64,3 --out DIR
"""
import argparse, json, os, sys

import numpy as np
import onnx
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=["onnx", "dfm"], required=True)
    ap.add_argument("--input", required=True)
    ap.add_argument("--shape", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    shape = tuple(int(s) for s in a.shape.split(","))
    img = np.fromfile(a.input, dtype="<f4").reshape(shape)

    model = onnx.load(a.model)
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(a.model, providers=["CPUExecutionProvider"])
    inputs = sess.get_inputs()
    if a.mode == "dfm":
        # DeepFaceLive's DFMModel.__init__ and convert(), step by step.
        if len(inputs) == 0 or "in_face" not in inputs[0].name:
            sys.exit(f"Invalid model {a.model}")
        h, w = inputs[0].shape[1:3]
        if not (isinstance(h, int) and isinstance(w, int)):
            sys.exit(f"{a.model}: in_face height and width are not fixed: {inputs[0].shape}")
        if len(inputs) != 1:
            sys.exit(f"{a.model}: {len(inputs)} inputs; DeepFaceLive's model type 1 has one")
        if (h, w) != img.shape[1:3]:
            sys.exit(f"{a.model}: model is {h}x{w}, faces are {img.shape[1:3]}")
        out_face_mask, out_celeb, out_celeb_mask = sess.run(None, {"in_face:0": img})
        results = list(zip([o.name for o in sess.get_outputs()], [out_face_mask, out_celeb, out_celeb_mask]))
    else:
        outs = sess.run(None, {inputs[0].name: img})
        results = list(zip([o.name for o in sess.get_outputs()], outs))

    os.makedirs(a.out, exist_ok=True)
    for name, v in results:
        np.ascontiguousarray(v, dtype="<f4").tofile(os.path.join(a.out, name.replace(":", "_") + ".f32"))
    print(json.dumps({
        "opset": [[o.domain, o.version] for o in model.opset_import], "ir_version": model.ir_version,
        "inputs": [{"name": i.name, "shape": i.shape, "type": i.type} for i in inputs],
        "outputs": [{"name": o.name, "shape": o.shape, "type": o.type} for o in sess.get_outputs()],
        "results": [{"name": n, "shape": list(v.shape), "min": float(v.min()), "max": float(v.max())} for n, v in results],
    }))


if __name__ == "__main__":
    main()
