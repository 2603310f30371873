#!/usr/bin/env python3
"""Writes dlib's own CNN face detections as a test fixture (Tests/Fixtures/images/reference/cnn_face_detections.json).

For every image of Tests/Fixtures/images/{faces,multi,noface} and the astronaut, it runs dlib's MMOD CNN face
detector (`dlib.cnn_face_detection_model_v1` with mmod_human_face_detector.dat, upsampling 0 times: the network's
own pyramid_down<6> image pyramid only) and records each detection's rectangle (dlib's integer left, top, right,
bottom, inclusive) and confidence, in dlib's order (by confidence, after its non-max suppression).

Pixels come from Pillow (libjpeg-turbo / libpng), which is what Facet's image reader gives.
Needs dlib-bin (PyPI), numpy and pillow. Usage:
  python3 -m venv /tmp/v && /tmp/v/bin/pip install dlib-bin numpy pillow
  /tmp/v/bin/python Tools/reference/cnn_face_detections.py [--model Models/mmod_human_face_detector.dat] [--out PATH]
"""
import argparse, glob, json, os, time

import dlib
import numpy as np
from PIL import Image

repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
images = os.path.join(repo, "Tests", "Fixtures", "images")

ap = argparse.ArgumentParser()
ap.add_argument("--model", default=os.path.join(repo, "Models", "mmod_human_face_detector.dat"))
ap.add_argument("--out", default=os.path.join(images, "reference", "cnn_face_detections.json"))
args = ap.parse_args()

net = dlib.cnn_face_detection_model_v1(args.model)
paths = []
for sub in ("faces", "multi", "noface"):
    paths += sorted(p for p in glob.glob(os.path.join(images, sub, "*")) if p.lower().endswith((".jpg", ".png")))
paths.append(os.path.join(images, "reference", "astronaut.png"))
out = {"source": f"dlib {dlib.__version__} cnn_face_detection_model_v1(mmod_human_face_detector.dat), upsample 0",
       "images": {}}
for p in paths:
    img = np.ascontiguousarray(np.asarray(Image.open(p).convert("RGB")))
    t = time.time()
    dets = net(img, 0)
    rel = os.path.relpath(p, images)
    out["images"][rel] = [{"left": d.rect.left(), "top": d.rect.top(), "right": d.rect.right(), "bottom": d.rect.bottom(),
                           "confidence": round(float(d.confidence), 6)} for d in dets]
    print(f"{rel}: {len(dets)} faces, {time.time() - t:.2f} s", flush=True)
with open(args.out, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
    f.write("\n")
