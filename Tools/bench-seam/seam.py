"""Seam of merged frames: each PNG is original | merged side by side (facet merge --preview).

The changed region R is where the merged frame differs from the original by more than 6 (summed over
R, G, B). In a band of 6 px on either side of R's border, the mean gradient magnitude of the merged
frame is compared with the original's: a visible seam is an edge the original does not have, so its
excess (in percent of the original's) is the measure; 0 means the border adds no edge. The second
figure is the mean colour step across the border: |merged just inside - original just outside|.
"""
import subprocess, sys
import numpy as np

def read_png(path):
    """RGB pixels of a PNG, decoded by ffmpeg (the system tool the suite already uses)."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                            "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout.strip().split(",")
    w, h = int(probe[0]), int(probe[1])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3).astype(np.float64)

def dilate(m, r):
    out = m.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(m, dy, 0), dx, 1)
    return out

def grad(img):
    g = img.mean(axis=2)
    gx = np.zeros_like(g); gy = np.zeros_like(g)
    gx[:, 1:-1] = (g[:, 2:] - g[:, :-2]) / 2
    gy[1:-1, :] = (g[2:, :] - g[:-2, :]) / 2
    return np.hypot(gx, gy)

excess, steps = [], []
for path in sys.argv[1:]:
    both = read_png(path)
    w = both.shape[1] // 2
    orig, merged = both[:, :w], both[:, w:]
    changed = np.abs(merged - orig).sum(axis=2) > 6
    if changed.sum() < 100:
        continue
    outer = dilate(changed, 6) & ~changed
    inner = changed & dilate(~changed, 6)
    band = outer | inner
    go, gm = grad(orig)[band].mean(), grad(merged)[band].mean()
    excess.append(100 * (gm - go) / go)
    near_in = changed & dilate(~changed, 2)
    near_out = ~changed & dilate(changed, 2)
    steps.append(abs(merged[near_in].mean(axis=0) - orig[near_out].mean(axis=0)).mean())
print(f"{len(excess)}|{np.mean(excess):.1f}|{np.mean(steps):.1f}" if excess else "0|-|-")
