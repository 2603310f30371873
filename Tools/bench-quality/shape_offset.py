#!/usr/bin/env python3
"""How far apart the src and dst persons' eye-and-mouth shapes are, beside how much the dst's move.

Usage: python3 Tools/bench-quality/shape_offset.py PROJECT.facet

Reads the kept faces' stored 68 landmarks and alignment matrices (image -> face) straight from the project file and
prints, in outer-eye distances of the aligned faces (points 36-67, the eyes and mouth, as `facet score` takes them):
- the distance between the two persons' mean shapes, as aligned and after the best similarity fit of one to the
  other: what a swap that keeps the src's shape and follows the dst's expression exactly would still score on
  `eyes+mouth`;
- each person's movement around their own mean: the dst's is what `em_still` measures on the scored faces.
"""
import sqlite3
import sys

import numpy as np


def aligned_faces(db, role):
    rows = db.execute("SELECT landmarks, matrix FROM face WHERE role = ? AND status = 'kept'", (role,)).fetchall()
    points = np.array([np.frombuffer(r[0], dtype=np.float32).reshape(68, 2) for r in rows], dtype=np.float64)
    matrices = np.array([np.frombuffer(r[1], dtype=np.float64).reshape(2, 3) for r in rows])
    return np.einsum("nij,npj->npi", matrices[:, :, :2], points) + matrices[:, None, :, 2]


def similarity_fit(target, moving):
    """`moving` rotated, scaled and shifted onto `target` (least squares)."""
    a, b = target - target.mean(0), moving - moving.mean(0)
    u, s, vt = np.linalg.svd(b.T @ a)
    return s.sum() / (b ** 2).sum() * b @ (u @ vt) + target.mean(0)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[2])
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    faces = {role: aligned_faces(db, role) for role in ("src", "dst")}
    eyes = np.concatenate([np.linalg.norm(f[:, 45] - f[:, 36], axis=1) for f in faces.values()])
    unit = eyes.mean()
    src_mean, dst_mean = faces["src"].mean(0), faces["dst"].mean(0)
    em = slice(36, 68)
    apart = np.linalg.norm(src_mean - dst_mean, axis=1)[em].mean() / unit
    fitted = np.linalg.norm(src_mean - similarity_fit(src_mean, dst_mean), axis=1)[em].mean() / unit
    print(f"faces: src {len(faces['src'])}, dst {len(faces['dst'])}")
    print(f"mean eye-and-mouth shapes apart: {apart:.4f} eye distances ({fitted:.4f} after a similarity fit)")
    for role, f in faces.items():
        moves = np.linalg.norm(f - f.mean(0), axis=2)[:, em].mean() / unit
        print(f"{role} eyes and mouth around their mean: {moves:.4f}")


if __name__ == "__main__":
    main()
