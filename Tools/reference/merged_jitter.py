#!/usr/bin/env python3
"""How much a merged face moves against the head, measured from outside Facet with dlib's own pipeline.

For the destination video and each merged video, every frame goes through dlib's HOG face detector and its
68-point shape predictor (dlib-bin from PyPI, not Facet's fitter, so Facet's own landmark noise does not
cancel against itself). Landmarks are compared on every frame t that has a face in t-1, t and t+1 of both
videos, in units of the dst face's outer-eye-corner distance:

  own       mean |second difference of the output's landmarks| over the dst's own (the pasted face's shake)
  relative  mean |second difference of (output - dst)| over the dst's own (the face moving against the head:
            the issue's measure; a perfect face at the model's sharpness is about 1.16x, DeepFaceLab-style
            raw merges about 1.55x)

It prints one line per merged video, and --json writes the figures and the per-frame relative jitter.
Needs dlib-bin and numpy; ffmpeg decodes the videos. Usage:
  python3 -m venv /tmp/v && /tmp/v/bin/pip install dlib-bin numpy
  /tmp/v/bin/python Tools/reference/merged_jitter.py --predictor shape_predictor_68_face_landmarks.dat \
      DST.mp4 MERGED.mp4 [MERGED2.mp4 ...] [--json OUT.json]
"""
import argparse, json, subprocess, sys

import dlib
import numpy as np


def frames(path):
    """RGB frames of a video, decoded by ffmpeg."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                            "stream=width,height", "-of", "csv=p=0", path], capture_output=True, text=True, check=True)
    w, h = (int(v) for v in probe.stdout.strip().split(",")[:2])
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                            stdout=subprocess.PIPE)
    size = w * h * 3
    while True:
        buf = proc.stdout.read(size)
        if len(buf) < size:
            break
        yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
    proc.wait()


def landmarks(path, detector, predictor, near=None):
    """Frame index -> 68x2 landmarks of the face dlib finds (the one nearest `near`'s face on that frame)."""
    out = {}
    for i, img in enumerate(frames(path)):
        rects = detector(img, 0) or detector(img, 1)   # the samples' faces are large: upsample only when needed
        if not rects:
            continue
        shapes = [np.array([[p.x, p.y] for p in predictor(img, r).parts()], float) for r in rects]
        if near is not None and i in near:
            shapes.sort(key=lambda s: np.abs(s - near[i]).mean())
        out[i] = shapes[0]
    return out


def eye_distance(s):
    return float(np.hypot(*(s[45] - s[36])))


def measure(dst, out):
    own = rel = base = 0.0
    per_frame = {}
    n = 0
    for t in sorted(dst):
        if not all(k in dst and k in out for k in (t - 1, t, t + 1)):
            continue
        unit = eye_distance(dst[t])
        d = dst[t + 1] - 2 * dst[t] + dst[t - 1]
        o = out[t + 1] - 2 * out[t] + out[t - 1]
        sd = np.hypot(*d.T).sum() / unit
        so = np.hypot(*o.T).sum() / unit
        sr = np.hypot(*(o - d).T).sum() / unit
        own += so; rel += sr; base += sd; n += 1
        per_frame[t] = sr / 68
    return {"own": own / max(base, 1e-12), "relative": rel / max(base, 1e-12), "frames": n,
            "dst_jitter": base / max(n, 1) / 68, "relative_per_frame": per_frame}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dst")
    ap.add_argument("merged", nargs="+")
    ap.add_argument("--predictor", required=True, help="dlib's shape_predictor_68_face_landmarks.dat")
    ap.add_argument("--json")
    a = ap.parse_args()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(a.predictor)
    dst = landmarks(a.dst, detector, predictor)
    print(f"dst {a.dst}: dlib found a face on {len(dst)} frames", flush=True)
    results = {}
    for m in a.merged:
        r = measure(dst, landmarks(m, detector, predictor, near=dst))
        results[m] = r
        print(f"{m}: own {r['own']:.3f}x, relative {r['relative']:.3f}x over the dst's own "
              f"({r['frames']} frames, dst jitter {r['dst_jitter']:.4f} eye distances per point)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
