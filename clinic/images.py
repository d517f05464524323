"""Images for the visual-diagnosis domain: render, save as PNG, and measure back.

taskgen.py renders an ECG rhythm strip or a skin lesion from known parameters
and writes it as a PNG under data/images/. The image tools in tools.py never
see those parameters: they read the image and measure it (R-R intervals, P waves,
lesion diameter, asymmetry, border, colours), so the image is the evidence and
tests check that measuring recovers what was rendered. Files are read and
written through Pillow, so any PNG or JPEG a user brings (a VQA-RAD or SLAKE
image, a scanned ECG) loads the same way.
"""
import os

import numpy as np
from PIL import Image

from clinic import bank, files

ECG_W, ECG_H, ECG_PX_PER_S = 1000, 200, 100       # 10 s strip, 25 mm/s paper -> 4 px per mm
ECG_MID, ECG_GAIN = 130, 80                         # baseline row, pixels per mV
LESION_SIZE, LESION_PX_PER_MM = 256, 16
SKIN = (230, 190, 160)
LESION_PALETTE = [(120, 70, 40), (170, 120, 80), (30, 20, 20), (90, 100, 130), (180, 60, 60)]


# ---------------------------------------------------------------- image I/O (Pillow)
def write_image(img, path):
    """Save a uint8 array (H, W) grey or (H, W, 3) RGB; the format follows the extension (.png here)."""
    Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).save(path)


def read_image(path):
    """Any image Pillow opens (PNG of any bit depth, interlaced or not, JPEG, ...) as a uint8 array:
    (H, W) for grey, (H, W, 3) otherwise (alpha and palettes are resolved to RGB; 16-bit samples are
    scaled to 8 bits). Raises ValueError for a file that is not an image."""
    try:
        im = Image.open(path)
        im.load()
    except (OSError, Image.DecompressionBombError) as e:       # UnidentifiedImageError is an OSError
        raise ValueError(f"{path}: not a readable image ({' '.join(str(e).split())})") from None
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):               # 16-bit grey: 0..65535 -> 0..255
        return np.clip(np.round(np.asarray(im, dtype=np.float64) / 257.0), 0, 255).astype(np.uint8)
    if im.mode not in ("L", "RGB"):
        im = im.convert("L" if im.mode in ("1", "LA") else "RGB")
    return np.asarray(im, dtype=np.uint8)


def image_path(task):
    """Where a task's image is: data/<relative path> for the bank's, or the absolute path a loader gave."""
    return os.path.join(bank.DATA, task["image"])       # (an absolute second part wins in os.path.join)


def unreadable(tasks):
    """[(task id, image path, reason)] for every task whose image cannot be read (each file decoded once)."""
    bad, seen = [], {}
    for t in tasks:
        if not t.get("image"):
            continue
        path = image_path(t)
        if path not in seen:
            try:
                read_image(path)
                seen[path] = None
            except ValueError as e:
                seen[path] = str(e)
        if seen[path]:
            bad.append((t["id"], path, seen[path]))
    return bad


def check_readable(tasks):
    """A DataError naming the first unreadable image of the tasks (and how many there are): a damaged image
    folder stops a run at start-up instead of turning into the policy's tool errors."""
    bad = unreadable(tasks)
    if bad:
        raise files.DataError(f"{len(bad)} task image(s) cannot be read, the first of task {bad[0][0]}: {bad[0][2]}")


# ---------------------------------------------------------------- ECG strip
def _gauss(t, centre, width):
    return np.exp(-0.5 * ((t - centre) / width) ** 2)


def ecg_beat_times(rate, regular, rng, seconds=10.0):
    """R-peak times (s) for a mean rate; irregular rhythms draw RR from a wide distribution."""
    times, t, rr_mean = [], 0.35 + rng.uniform(0, 0.2), 60.0 / rate
    while t < seconds - 0.3:
        times.append(t)
        t += rr_mean if regular else rr_mean * rng.uniform(0.6, 1.4)
    return np.array(times)


def render_ecg(beats, p_waves, rng):
    """Draw a single-lead rhythm strip (grey PNG array) with R peaks at `beats` (s)."""
    t = np.arange(ECG_W) / ECG_PX_PER_S
    mv = np.zeros(ECG_W)
    for b in beats:
        if p_waves:
            mv += 0.18 * _gauss(t, b - 0.16, 0.025)
        mv += -0.1 * _gauss(t, b - 0.03, 0.008) + 1.0 * _gauss(t, b, 0.012) - 0.2 * _gauss(t, b + 0.03, 0.01)
        mv += 0.3 * _gauss(t, b + 0.2, 0.03)
    if not p_waves:   # fibrillatory baseline, well under the P-wave detection threshold
        mv += 0.04 * np.sin(2 * np.pi * rng.uniform(5, 7) * t + rng.uniform(0, 6.28))
    img = np.full((ECG_H, ECG_W), 255, np.uint8)
    img[::20, :] = 215
    img[:, ::20] = 215                               # 5 mm grid = 0.2 s
    ys = np.clip(np.round(ECG_MID - ECG_GAIN * mv).astype(int), 0, ECG_H - 1)
    for x in range(ECG_W):
        lo, hi = sorted((ys[x], ys[max(x - 1, 0)]))
        img[lo:hi + 1, x] = 0
    return img


def _trace_top(img):
    """Top-most trace row per column (the signal's upper envelope)."""
    dark = img < 100
    return np.where(dark.any(0), dark.argmax(0), ECG_MID).astype(float)


def measure_ecg(img):
    """R peaks, RR intervals (ms), rate and P-wave count measured from a rhythm-strip image."""
    top = _trace_top(img)
    baseline = np.bincount(top.astype(int)).argmax()   # the isoelectric line is the most common row
    above = top < baseline - 0.6 * ECG_GAIN            # R waves rise > 0.6 mV above baseline
    peaks, x = [], 0
    while x < len(top):
        if above[x]:
            end = x
            while end < len(top) and above[end]:
                end += 1
            peaks.append(x + int(np.argmin(top[x:end])))
            x = end
        x += 1
    rr = np.diff(peaks) * (1000 / ECG_PX_PER_S)
    # P waves are looked for 200-110 ms before each R peak, on beats whose preceding RR is >= 500 ms
    # so that the previous T wave (over by ~290 ms) cannot be mistaken for one.
    p_count, assessable = 0, 0
    for i, p in enumerate(peaks):
        if p < 20 or (i > 0 and p - peaks[i - 1] < 50):
            continue
        assessable += 1
        if baseline - top[p - 20:p - 11].min() >= 0.09 * ECG_GAIN:
            p_count += 1
    rate = 60000.0 / rr.mean() if len(rr) else 0.0
    cv = float(rr.std() / rr.mean()) if len(rr) else 0.0
    return dict(r_peaks=len(peaks), rr_ms=[int(v) for v in rr], rate_bpm=int(round(rate)),
                rr_variation=round(cv, 3), p_waves=p_count, beats_assessed_for_p=assessable)


# ---------------------------------------------------------------- skin lesion
def render_lesion(diameter_mm, asymmetric, irregular, n_colors, rng):
    """Draw a lesion (RGB array) whose ABCD features are set by the arguments."""
    s = LESION_SIZE
    yy, xx = np.mgrid[0:s, 0:s].astype(float)
    cx, cy = s / 2 + rng.uniform(-5, 5), s / 2 + rng.uniform(-5, 5)
    ang = np.arctan2(yy - cy, xx - cx)
    rad = np.hypot(yy - cy, xx - cx)
    r0 = diameter_mm * LESION_PX_PER_MM / 2
    shape = np.ones_like(ang)
    if asymmetric:   # cos(t) breaks left-right mirror symmetry, sin(2t) breaks both
        shape += 0.3 * np.cos(ang) + 0.25 * np.sin(2 * ang)
    if irregular:    # notches from even harmonics keep both mirror symmetries
        shape += 0.14 * np.cos(8 * ang) + 0.08 * np.cos(12 * ang)
    r_edge = r0 * shape / shape.max()               # the longest radius is diameter / 2
    inside = rad <= r_edge
    img = np.empty((s, s, 3), np.uint8)
    img[:] = SKIN
    colours = [LESION_PALETTE[i] for i in rng.permutation(len(LESION_PALETTE))[:n_colors]]
    ring = np.minimum((rad / np.maximum(r_edge, 1e-6) * n_colors).astype(int), n_colors - 1)
    for i, c in enumerate(colours):
        img[inside & (ring == i)] = c
    return img


def measure_lesion(img):
    """Diameter (mm), asymmetry index, border irregularity index and colour count of a lesion image."""
    mask = np.any(np.abs(img.astype(int) - np.array(SKIN)) > 10, axis=2)
    if mask.sum() < 10:
        raise ValueError("no lesion found in image")
    ys, xs = np.nonzero(mask)
    cy, cx = ys.mean(), xs.mean()
    extents = [np.ptp(xs * np.cos(a) + ys * np.sin(a)) + 1 for a in np.linspace(0, np.pi, 36, endpoint=False)]
    diameter = max(extents) / LESION_PX_PER_MM
    # asymmetry: fraction of the lesion that does not overlap its mirror image about each centroid axis
    xm, ym = np.round(2 * cx - xs).astype(int), np.round(2 * cy - ys).astype(int)
    s = mask.shape[0]
    ok_x, ok_y = (xm >= 0) & (xm < s), (ym >= 0) & (ym < s)
    miss_x = 1 - mask[ys[ok_x], xm[ok_x]].sum() / mask.sum()
    miss_y = 1 - mask[ym[ok_y], xs[ok_y]].sum() / mask.sum()
    # border: high-frequency share (harmonics >= 5) of the radial profile of the edge
    ang = np.arctan2(ys - cy, xs - cx)
    bins = ((ang + np.pi) / (2 * np.pi) * 48).astype(int) % 48
    radius = np.zeros(48)
    np.maximum.at(radius, bins, np.hypot(ys - cy, xs - cx))
    spec = np.abs(np.fft.rfft(radius - radius.mean()))
    border = float(np.sqrt((spec[5:] ** 2).sum()) / (radius.mean() * np.sqrt(len(radius))))
    packed = img[mask].astype(np.int64) @ np.array([65536, 256, 1])      # one integer per RGB colour
    counts = np.unique(packed, return_counts=True)[1]
    n_colours = int((counts >= 0.03 * mask.sum()).sum())
    return dict(diameter_mm=round(float(diameter), 1), asymmetry_index=round(float(max(miss_x, miss_y)), 3),
                border_irregularity=round(border, 3), colours=int(n_colours))


def lesion_features(m):
    """ABCD criteria met by a measurement (thresholds: asymmetry > 0.1, border > 0.2, >= 3 colours, > 6 mm)."""
    return dict(asymmetry=m["asymmetry_index"] > 0.1, border=m["border_irregularity"] > 0.2,
                colour=m["colours"] >= 3, diameter=m["diameter_mm"] > 6.0)
