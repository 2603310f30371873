#!/usr/bin/env python3
"""faceswap alignments exported as JSON, written the way faceswap does, for Facet's tests.

This follows faceswap's `tools/alignments/jobs.py` Export job and `lib/serializer.py` (written from their
documented behaviour, not copied): for every frame of the alignments file, a list of faces, each
`{"detected": [round(x), round(y), round(x + w), round(y + h)], "landmarks_2d": landmarks_xy as a list}` in frame
pixels, saved with `json.dumps(data, indent=2)` as UTF-8. faceswap reads it back in `scripts/fs_media.py`
(`_import_from_json`, for extract's 'file' detector and aligner). Video frames are keyed
`<video stem>_<index + 1, 6 digits><video extension>` (`lib/image.py`).

Usage:
  faceswap_alignments.py write SPEC.json OUT.json   # SPEC: {"video": NAME, "faces": [{"frame": i, "x":, "y":, "w":, "h":,
                                                    #   "landmarks_xy": [[x, y] x 68]}, ...]}
  faceswap_alignments.py read FILE.json             # the file as faceswap's importer sees it, as one JSON line
  faceswap_alignments.py hostile GOOD.json DIR      # damaged variants of a good file, for the bad-input tests
"""
import json, os, sys

import numpy as np


def frame_name(video, index):
    stem, ext = os.path.splitext(os.path.basename(video))
    return f"{stem}_{index + 1:06d}{ext}"


def format_face(f):
    """Export._format_face: the box rounded to integers, the landmarks as they are."""
    box = [int(round(f["x"], 0)), int(round(f["y"], 0)), int(round(f["x"] + f["w"], 0)), int(round(f["y"] + f["h"], 0))]
    return {"detected": box, "landmarks_2d": f["landmarks_xy"]}


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        spec = json.load(open(sys.argv[2]))
        data = {}
        for f in spec["faces"]:
            data.setdefault(frame_name(spec["video"], f["frame"]), []).append(format_face(f))
        with open(sys.argv[3], "wb") as out:
            out.write(json.dumps(data, indent=2).encode("utf-8"))
    elif cmd == "read":
        # fs_media.py's _import_from_json: x, y, w, h from 'detected', landmarks as float32.
        data = json.loads(open(sys.argv[2], "rb").read().decode("utf-8", errors="replace"))
        out = {}
        for k, v in data.items():
            out[k] = [{"x": f["detected"][0], "y": f["detected"][1], "w": f["detected"][2] - f["detected"][0],
                       "h": f["detected"][3] - f["detected"][1],
                       "landmarks_xy": np.array(f["landmarks_2d"], dtype="float32").tolist()} for f in v]
        print(json.dumps(out))
    elif cmd == "hostile":
        good = json.load(open(sys.argv[2]))
        out = sys.argv[3]
        os.makedirs(out, exist_ok=True)
        first = sorted(good)[0]

        def variant(name, data=None, raw=None):
            with open(os.path.join(out, name), "wb") as f:
                f.write(raw if raw is not None else json.dumps(data, indent=2).encode("utf-8"))

        text = json.dumps(good, indent=2).encode("utf-8")
        variant("truncated.json", raw=text[: len(text) // 2])
        variant("not-json.json", raw=b"\x89PNG\r\n\x1a\n not json at all")
        variant("list.json", data=[good[first]])
        roi = json.loads(text); roi[first][0]["landmarks_2d"] = roi[first][0]["landmarks_2d"][:4]; variant("roi4.json", roi)
        short = json.loads(text); short[first][0]["landmarks_2d"] = short[first][0]["landmarks_2d"][:67]; variant("67points.json", short)
        nan = json.loads(text); nan[first][0]["landmarks_2d"][5][0] = float("nan"); variant("nan.json", nan)
        nobox = json.loads(text); del nobox[first][0]["detected"]; variant("no-box.json", nobox)
        word = json.loads(text); word[first][0]["detected"][1] = "12"; variant("string-box.json", word)
        three = json.loads(text); three[first][0]["landmarks_2d"][0] = [1.0, 2.0, 3.0]; variant("xyz.json", three)
        flipped = json.loads(text); b = flipped[first][0]["detected"]; b[0], b[2] = b[2] + 1, b[0]; variant("flipped-box.json", flipped)
        other = {"some_other_video_000001.mp4": good[first]}; variant("other-video.json", other)
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
