#!/usr/bin/env python3
"""faceswap aligned-face PNGs written the way faceswap does, for Facet's tests.

This follows faceswap's lib/image.py behaviour (written from its documented format, not copied): the face's
metadata dict is written with `str()` into an iTXt chunk whose keyword is `faceswap` (no compression, empty
language and translated keyword), inserted just before the first IDAT chunk; faceswap reads it back with
`ast.literal_eval`. The dict is faceswap's PNG header: {"alignments": {x, y, w, h, landmarks_xy (frame
pixels), mask, identity}, "source": {alignments_version, original_filename, face_index, source_filename,
source_is_video, source_frame_dims}}.

Usage:
  faceswap_faceset.py from-export EXPORT OUT N   # N faceswap PNGs from a `facet export --format png` folder
  faceswap_faceset.py read FILE...               # one JSON line per file: its faceswap dict
  faceswap_faceset.py hostile BASE.png DIR       # damaged / hostile variants, for the bad-input tests
"""
import ast, json, os, struct, sys, zlib
import numpy as np


def itxt(metadata):
    data = b"faceswap\0\0\0\0\0" + str(metadata).encode("utf-8")
    return struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF)


def write_meta(png, metadata):
    split = png.find(b"IDAT") - 4
    return png[:split] + itxt(metadata) + png[split:]


def read_meta(png):
    pointer = 8
    while pointer < len(png):
        length, kind = struct.unpack(">I4s", png[pointer:pointer + 8])
        body = png[pointer + 8:pointer + 8 + length]
        if kind == b"iTXt":
            keyword, value = body.split(b"\0", 1)
            if keyword == b"faceswap":
                return ast.literal_eval(value[4:].decode("utf-8"))
        pointer += 12 + length
    return None


def main():
    cmd = sys.argv[1]
    if cmd == "from-export":
        src, out, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        lines = [json.loads(l) for l in open(os.path.join(src, "manifest.jsonl"))]
        os.makedirs(out, exist_ok=True)
        for i in range(n):
            m = lines[i % len(lines)]
            png = open(os.path.join(src, m["file"]), "rb").read()
            mat = np.array(m["matrix"], dtype=np.float64).reshape(2, 3)
            inv = np.linalg.inv(np.vstack([mat, [0, 0, 1]]))[0:2]
            lm = np.array(m["landmarks"], dtype=np.float64)
            frame = (lm @ inv[:, 0:2].T + inv[:, 2]).astype(np.float32)
            x0, y0 = frame.min(axis=0)
            x1, y1 = frame.max(axis=0)
            name = "frame_%06d_%d.png" % (m["frame_index"] + 1, m["face_index"])
            meta = {"alignments": {"x": int(x0), "y": int(y0), "w": int(x1 - x0), "h": int(y1 - y0),
                                   "landmarks_xy": frame.tolist(),
                                   "mask": {"components": {"mask": zlib.compress(bytes(range(64)) * 4), "affine_matrix": mat.tolist(),
                                                           "interpolator": 3, "stored_size": 128, "stored_centering": "face"}},
                                   "identity": {}},
                    "source": {"alignments_version": 2.3, "original_filename": name, "face_index": m["face_index"],
                               "source_filename": "frame_%06d.png" % (m["frame_index"] + 1), "source_is_video": True,
                               "source_frame_dims": (720, 1280)}}
            open(os.path.join(out, "%05d.png" % i), "wb").write(write_meta(png, meta))
    elif cmd == "read":
        for path in sys.argv[2:]:
            d = read_meta(open(path, "rb").read())
            def plain(v):
                if isinstance(v, dict): return {str(k): plain(x) for k, x in v.items()}
                if isinstance(v, (list, tuple)): return [plain(x) for x in v]
                if isinstance(v, bytes): return {"hex": v.hex()}
                return v
            print(json.dumps({"file": os.path.basename(path), "dict": plain(d)}))
    elif cmd == "hostile":
        base, out = open(sys.argv[2], "rb").read(), sys.argv[3]
        d = read_meta(base)
        start = base.index(b"iTXt") - 4
        length = struct.unpack(">I", base[start:start + 4])[0]
        plain_png = base[:start] + base[start + 12 + length:]
        # A call where a literal belongs.
        open(os.path.join(out, "call.png"), "wb").write(_raw(plain_png, str(d).replace("'identity': {}", "'identity': __import__('os')")))
        # 67 landmarks.
        d2 = ast.literal_eval(str(d)); d2["alignments"]["landmarks_xy"] = d2["alignments"]["landmarks_xy"][:67]
        open(os.path.join(out, "short.png"), "wb").write(write_meta(plain_png, d2))
        # A chunk cut off by the end of the file.
        open(os.path.join(out, "truncated.png"), "wb").write(base[:start + 40])
    else:
        sys.exit(__doc__)


def _raw(png, text):
    """A faceswap chunk holding `text` as it is (not a dict's str())."""
    data = b"faceswap\0\0\0\0\0" + text.encode("utf-8")
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data) & 0xFFFFFFFF)
    split = png.find(b"IDAT") - 4
    return png[:split] + chunk + png[split:]


if __name__ == "__main__":
    main()
