#!/usr/bin/env python3
"""Writes dlib's own face descriptors as a test fixture (Tests/Fixtures/images/reference/face_descriptors.json).

For every face box of Tests/Fixtures/images/faces/{training,testing}_with_face_landmarks.xml, and for the
astronaut (Tests/Fixtures/images/reference/astronaut.png) at 1x and replicated 3x (every pixel a 3x3 block,
so the 150-pixel chip comes from dlib's image pyramid, levels 0 and 1), it runs dlib's 68-point shape
predictor on the box, then `compute_face_descriptor(img, shape)` (padding 0.25, no jitter) with
dlib_face_recognition_resnet_model_v1.dat, and `get_face_chip(img, shape, 150, 0.25)`. It records the 68
points dlib returns (integers), the 128 floats, and the chip's SHA-256 and per-channel means.

Needs dlib-bin (PyPI), numpy and pillow. Usage:
  python3 -m venv /tmp/v && /tmp/v/bin/pip install dlib-bin numpy pillow
  /tmp/v/bin/python Tools/reference/face_descriptors.py [--out PATH] [--model Models/dlib_face_recognition_resnet_model_v1.dat]
       [--predictor /usr/share/dlib/shape_predictor_68_face_landmarks.dat]
  /tmp/v/bin/python Tools/reference/face_descriptors.py --bench N   (descriptors/s of dlib on the same faces, N rounds)
"""
import argparse, hashlib, json, os, sys, time
import xml.etree.ElementTree as ET

import dlib
import numpy as np
from PIL import Image

repo = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
fixtures = os.path.join(repo, "Tests", "Fixtures", "images")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load(path):
    """RGB pixels as libjpeg-turbo / libpng decode them (Pillow), which is what Facet's reader gives: dlib's own
    JPEG loader differs on some files (up to 26 levels on 2007_007763.jpg), and the test is about the network."""
    return np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))


def cases():
    """(name, image array, [(left, top, right, bottom)]) for every image with its boxes."""
    for xml in ("training_with_face_landmarks.xml", "testing_with_face_landmarks.xml"):
        root = ET.parse(os.path.join(fixtures, "faces", xml)).getroot()
        for image in root.iter("image"):
            boxes = []
            for b in image.iter("box"):
                left, top = int(b.get("left")), int(b.get("top"))
                w, h = int(b.get("width")), int(b.get("height"))
                boxes.append((left, top, left + w - 1, top + h - 1))
            name = "faces/" + image.get("file")
            yield name, load(os.path.join(fixtures, name)), boxes
    astronaut = load(os.path.join(fixtures, "reference", "astronaut.png"))
    box = (180, 60, 268, 174)   # the first box of astronaut_reference.json
    yield "reference/astronaut.png", astronaut, [box]
    big = np.ascontiguousarray(np.repeat(np.repeat(astronaut, 3, axis=0), 3, axis=1))
    yield "reference/astronaut.png@x3", big, [tuple(3 * v + (2 if i >= 2 else 0) for i, v in enumerate(box))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(fixtures, "reference", "face_descriptors.json"))
    ap.add_argument("--model", default=os.path.join(repo, "Models", "dlib_face_recognition_resnet_model_v1.dat"))
    ap.add_argument("--predictor", default="/usr/share/dlib/shape_predictor_68_face_landmarks.dat")
    ap.add_argument("--bench", type=int, default=0, help="time compute_face_descriptor over all faces N times; write nothing")
    args = ap.parse_args()
    predictor = dlib.shape_predictor(args.predictor)
    net = dlib.face_recognition_model_v1(args.model)
    items = []
    for name, img, boxes in cases():
        for box in boxes:
            shape = predictor(img, dlib.rectangle(*box))
            items.append((name, img, box, shape))
    if args.bench:
        # Per face (one call each), and per image (all its faces in one call, as Facet's bench does).
        by_image = {}
        for name, img, _, shape in items:
            by_image.setdefault(name, (img, []))[1].append(shape)
        net.compute_face_descriptor(items[0][1], items[0][3])          # warm-up
        start = time.perf_counter()
        for _ in range(args.bench):
            for _, img, _, shape in items:
                net.compute_face_descriptor(img, shape)
        per_face = args.bench * len(items) / (time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(args.bench):
            for img, shapes in by_image.values():
                net.compute_face_descriptor(img, dlib.full_object_detections(shapes))
        per_image = args.bench * len(items) / (time.perf_counter() - start)
        print(json.dumps({"dlib": dlib.__version__, "faces": len(items), "rounds": args.bench,
                          "descriptors_per_s_per_face": per_face, "descriptors_per_s_per_image": per_image}))
        return
    faces = []
    for name, img, box, shape in items:
        d = net.compute_face_descriptor(img, shape)
        chip = np.asarray(dlib.get_face_chip(img, shape, size=150, padding=0.25))
        faces.append({
            "image": name,
            "box": list(box),
            "landmarks": [[shape.part(i).x, shape.part(i).y] for i in range(68)],
            "descriptor": [round(float(v), 8) for v in d],
            "chip_sha256": hashlib.sha256(chip.tobytes()).hexdigest(),
            "chip_mean_rgb": [round(float(chip[:, :, c].mean()), 4) for c in range(3)],
        })
    out = {
        "note": "dlib's own face descriptors (compute_face_descriptor, padding 0.25, no jitter) and face chips "
                "(get_face_chip, 150 px, padding 0.25) for the 68 points dlib's shape predictor returns in each box "
                "(left, top, right, bottom; inclusive). Images: the named fixture decoded by Pillow (libjpeg-turbo, libpng); "
                "'@x3' is that image with every pixel replicated into a 3x3 block. Written by "
                "Tools/reference/face_descriptors.py.",
        "dlib_version": dlib.__version__,
        "model": os.path.basename(args.model),
        "model_sha256": sha256_file(args.model),
        "predictor_sha256": sha256_file(args.predictor),
        "faces": faces,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {len(faces)} faces to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
