#!/usr/bin/env python3
"""DeepFaceLab aligned-face JPEGs written and read the way DeepFaceLab does, for Facet's tests and benchmark.

This follows DeepFaceLab's DFLIMG/DFLJPG.py (written from its documented behaviour, not copied): the JPEG's
segments are walked from SOI to the scan, the metadata dict goes through `pickle.dumps` into an APP15
segment placed after the last APPn segment, and `None` fields are left out. The dict holds what
DeepFaceLab's extractor stores: `face_type` (str), `landmarks` and `source_landmarks` (lists from
`ndarray.tolist()`), `source_filename` (str), `source_rect` (tuple of ints), `image_to_face_mat` (a float64
numpy array), `seg_ie_polys` ({'polys': [{'type': int, 'pts': float32 array}]}) and `xseg_mask` (the PNG
bytes of the mask as cv2.imencode returns them: a uint8 array of shape (n, 1)).

Usage:
  dfl_faceset.py write SPEC.json        # SPEC: {"files": [{"path", "protocol", "numpy1", "dict": {...}}]}
  dfl_faceset.py read FILE...           # one JSON line per file: its APP15 dict (arrays as lists, dtypes named)
  dfl_faceset.py hostile BASE.jpg DIR   # damaged / hostile variants of a DFL JPEG, for the bad-input tests
  dfl_faceset.py from-export EXPORT OUT N  # N DFL JPEGs from a `facet export` folder and its manifest.jsonl
  dfl_faceset.py load-bench DIR         # DeepFaceLab-style metadata read of every JPEG in DIR: files/s
"""
import json, os, pickle, struct, sys, zlib
import numpy as np


def chunks(data):
    """The JPEG's segments as DFLJPG.load splits them: (marker, payload or None, bytes after it)."""
    if data[0:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out, i = [(0xD8, None, None)], 2
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError("no valid JPG info")
        m = data[i + 1]
        i += 2
        if m == 0xD9:
            out.append((m, None, None))
            break
        if 0xD0 <= m <= 0xD7:
            out.append((m, None, None))
            continue
        size = struct.unpack(">H", data[i:i + 2])[0] - 2
        payload = data[i + 2:i + 2 + size]
        i += 2 + size
        ex = None
        if m == 0xDA:  # the scan runs to EOI
            c = i
            while c < len(data) - 1 and not (data[c] == 0xFF and data[c + 1] == 0xD9):
                c += 1
            ex, i = data[i:c], c
        out.append((m, payload, ex))
    return out


def dump(segments, dfl_dict, protocol=None, numpy1=False):
    """DFLJPG.dump: None fields dropped, APP15 replaced and placed after the last APPn."""
    d = {k: v for k, v in dfl_dict.items() if v is not None}
    segments = [s for s in segments if s[0] != 0xEF]
    last_app = 0
    for i, s in enumerate(segments):
        if s[0] & 0xF0 == 0xE0:
            last_app = i
    payload = pickle.dumps(d) if protocol is None else pickle.dumps(d, protocol=protocol)
    if numpy1:  # numpy 1.x names its reconstructor numpy.core.multiarray (protocol <= 3 names globals in text)
        assert protocol is not None and protocol <= 3
        payload = payload.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")
    segments.insert(last_app + 1, (0xEF, payload, None))
    out = b""
    for m, payload, ex in segments:
        out += struct.pack("BB", 0xFF, m)
        if payload is not None:
            out += struct.pack(">H", len(payload) + 2) + payload
        if ex is not None:
            out += ex
    return out


def png_grey(rows):
    """A minimal 8-bit grey PNG (what cv2.imencode('.png') of a one-channel mask gives), as a (n, 1) uint8 array."""
    h, w = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return np.frombuffer(png, dtype=np.uint8).reshape(-1, 1)


def to_dfl(spec):
    """The spec's JSON fields as the Python types DeepFaceLab's extractor stores."""
    d = {}
    for k, v in spec.items():
        if k == "source_rect":
            v = tuple(int(x) for x in v)
        elif k == "image_to_face_mat":
            v = np.array(v, dtype=np.float64).reshape(2, 3)
        elif k == "seg_ie_polys":
            v = {"polys": [{"type": int(p["type"]), "pts": np.array(p["pts"], dtype=np.float32).reshape(-1, 2)} for p in v]}
        elif k == "xseg_mask":
            v = png_grey(v)
        elif k in ("landmarks", "source_landmarks"):
            v = np.array(v, dtype=np.float32).tolist()
        d[k] = v
    return d


def plain(v):
    """A loaded value as JSON: numpy arrays as {"dtype", "shape", "values"}, bytes as hex."""
    if isinstance(v, np.ndarray):
        return {"dtype": v.dtype.str, "shape": list(v.shape), "values": v.reshape(-1).tolist()}
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    return v


def app15(data):
    for m, payload, _ in chunks(data):
        if m == 0xEF:
            return payload
    return None


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        spec = json.load(open(sys.argv[2]))
        for f in spec["files"]:
            data = open(f["path"], "rb").read()
            out = dump(chunks(data), to_dfl(f["dict"]), f.get("protocol"), f.get("numpy1", False))
            open(f["path"], "wb").write(out)
    elif cmd == "read":
        for path in sys.argv[2:]:
            payload = app15(open(path, "rb").read())
            d = pickle.loads(payload) if payload is not None else None
            print(json.dumps({"file": os.path.basename(path), "dict": plain(d)}))
    elif cmd == "hostile":
        base, out = open(sys.argv[2], "rb").read(), sys.argv[3]
        segs = chunks(base)
        good = app15(base)
        d = pickle.loads(good)
        i = base.index(b"\xff\xef")
        # A file cut inside its APP15 block.
        open(os.path.join(out, "truncated.jpg"), "wb").write(base[:i + 4 + len(good) // 2])
        # A set: an opcode (EMPTY_SET) DeepFaceLab never writes.
        d2 = dict(d); d2["landmarks_set"] = {1, 2}
        open(os.path.join(out, "set.jpg"), "wb").write(dump(segs, d2, 4))
        # A global that would run a command when unpickled by Python.
        class Evil:
            def __reduce__(self):
                return (os.system, ("true",))
        d3 = dict(d); d3["eyebrows_expand_mod"] = Evil()
        open(os.path.join(out, "global.jpg"), "wb").write(dump(segs, d3, 3))
        # An array whose bytes do not match its shape: the 2x3 matrix's state claims shape (3, 3).
        p = pickle.dumps(d, protocol=3)
        k = p.index(b"K\x02K\x03\x86")  # the shape tuple (2, 3) as BININT1 2, BININT1 3, TUPLE2
        bad = p[:k] + b"K\x03K\x03\x86" + p[k + 5:]
        pickle_segs = [s for s in segs if s[0] != 0xEF]
        pickle_segs.insert(1, (0xEF, bad, None))
        blob = b"".join(struct.pack("BB", 0xFF, m) + (struct.pack(">H", len(pl) + 2) + pl if pl is not None else b"")
                        + (ex or b"") for m, pl, ex in pickle_segs)
        open(os.path.join(out, "shape.jpg"), "wb").write(blob)
    elif cmd == "from-export":
        # DeepFaceLab files from a `facet export` folder: its images, with every field DeepFaceLab's extractor
        # writes made from the manifest (landmarks and matrix as exported; the source landmarks the landmarks
        # through the inverse matrix; an include polygon along the jaw and brows; a small gradient mask).
        src, out, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        lines = [json.loads(l) for l in open(os.path.join(src, "manifest.jsonl"))]
        os.makedirs(out, exist_ok=True)
        names = {"mid_full": "midfull_face", "full": "full_face", "half": "half_face"}
        for i in range(n):
            m = lines[i % len(lines)]
            data = open(os.path.join(src, m["file"]), "rb").read()
            lm = np.array(m["landmarks"], dtype=np.float32)
            mat = np.array(m["matrix"], dtype=np.float64).reshape(2, 3)
            inv = np.linalg.inv(np.vstack([mat, [0, 0, 1]]))[0:2]
            source = (lm.astype(np.float64) @ inv[:, 0:2].T + inv[:, 2]).astype(np.float32)
            x0, y0 = source.min(axis=0)
            x1, y1 = source.max(axis=0)
            poly = np.vstack([lm[0:17], lm[26:27], lm[17:18]])
            fields = {"face_type": names.get(m["face_type"], m["face_type"]), "landmarks": lm.tolist(),
                      "source_filename": "%05d.png" % (m["frame_index"] + 1), "source_rect": [int(x0), int(y0), int(x1), int(y1)],
                      "source_landmarks": source.tolist(), "image_to_face_mat": mat.reshape(-1).tolist(),
                      "seg_ie_polys": [{"type": 1, "pts": poly.tolist()}],
                      "xseg_mask": [[(x * 16 + y * 3 + i) % 256 for x in range(16)] for y in range(16)]}
            open(os.path.join(out, "%05d.jpg" % i), "wb").write(dump(chunks(data), to_dfl(fields), 3 + i % 2, i % 2 == 0))
    elif cmd == "load-bench":
        # DeepFaceLab's metadata read over a folder (DFLJPG.load: read, walk the segments, pickle.loads): files/s.
        import time
        files = sorted(os.path.join(sys.argv[2], f) for f in os.listdir(sys.argv[2]) if f.endswith(".jpg"))
        t = time.perf_counter()
        for path in files:
            d = pickle.loads(app15(open(path, "rb").read()))
            assert len(d["landmarks"]) == 68
        print(len(files) / (time.perf_counter() - t))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
