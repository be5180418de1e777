"""The geometry of person pairs on a 360-degree panorama, in numpy: the
horizontal offset the short way round the seam, the union box of a pair (in
unwrapped coordinates, so it may run past either edge), and the geometric
features the pair model sees."""
from __future__ import annotations

import numpy as np

#: Names of the columns of :func:`pair_features`, in order.
FEATURES = ("offset_over_width", "vertical_offset_over_height", "offset_over_panorama", "width_ratio",
            "height_ratio", "overlap_iou", "across_seam", "mean_height_over_frame")


def _boxes(boxes) -> np.ndarray:
    return np.asarray(boxes, dtype=np.float64).reshape(-1, 4)


def signed_dx(cx_from, cx_to, width: float) -> np.ndarray:
    """Horizontal offset from ``cx_from`` to ``cx_to`` the short way round a
    panorama of ``width``, in [-width/2, width/2].  Centres may lie past the
    right edge (JRDB boxes that straddle the seam are stored unclipped)."""
    d = (np.asarray(cx_to, dtype=np.float64) - np.asarray(cx_from, dtype=np.float64)) % width
    return np.where(d > width / 2, d - width, d)


def wrapped_dx(cx_a, cx_b, width: float) -> np.ndarray:
    """``min(|dx|, W - |dx|)``: the horizontal centre distance across the seam."""
    return np.abs(signed_dx(cx_a, cx_b, width))


def union_boxes(a, b, width: float) -> np.ndarray:
    """Union boxes (x1, y1, x2, y2) of pairs of boxes, with ``b`` moved by a
    whole panorama width when the pair is nearer across the seam; x may then
    be negative or past ``width`` (read such a window wrapping round)."""
    a, b = _boxes(a), _boxes(b)
    ca, cb = (a[:, 0] + a[:, 2]) / 2, (b[:, 0] + b[:, 2]) / 2
    shift = ca + signed_dx(ca, cb, width) - cb  # where b's centre lands, seen from a
    bx1, bx2 = b[:, 0] + shift, b[:, 2] + shift
    return np.stack([np.minimum(a[:, 0], bx1), np.minimum(a[:, 1], b[:, 1]),
                     np.maximum(a[:, 2], bx2), np.maximum(a[:, 3], b[:, 3])], axis=1)


def pair_features(a, b, width: float, height: float) -> np.ndarray:
    """(n, len(FEATURES)) float32 features of box pairs, the same whichever
    person comes first: horizontal offset over the larger box width (across
    the seam), vertical offset over the larger height, offset over the
    panorama width, width and height ratios (smaller over larger), the boxes'
    IoU (across the seam), whether the short way crosses the seam, and the
    mean box height over the frame height (a stand-in for depth)."""
    a, b = _boxes(a), _boxes(b)
    wa, wb = a[:, 2] - a[:, 0], b[:, 2] - b[:, 0]
    ha, hb = a[:, 3] - a[:, 1], b[:, 3] - b[:, 1]
    ca, cb = (a[:, 0] + a[:, 2]) / 2, (b[:, 0] + b[:, 2]) / 2
    dx = wrapped_dx(ca, cb, width)
    dy = np.abs((a[:, 1] + a[:, 3]) / 2 - (b[:, 1] + b[:, 3]) / 2)
    wmax, hmax = np.maximum(np.maximum(wa, wb), 1e-6), np.maximum(np.maximum(ha, hb), 1e-6)
    # overlap with b moved next to a (the seam accounted for)
    shift = ca + signed_dx(ca, cb, width) - cb
    ix = np.clip(np.minimum(a[:, 2], b[:, 2] + shift) - np.maximum(a[:, 0], b[:, 0] + shift), 0, None)
    iy = np.clip(np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0, None)
    inter = ix * iy
    iou = inter / np.maximum(wa * ha + wb * hb - inter, 1e-6)
    across = (np.abs(cb - ca) % width > width / 2).astype(np.float64)
    return np.stack([dx / wmax, dy / hmax, dx / width, np.minimum(wa, wb) / wmax, np.minimum(ha, hb) / hmax,
                     iou, across, (ha + hb) / 2 / max(height, 1.0)], axis=1).astype(np.float32)


def wrapped_window(pixels: np.ndarray, x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    """The window (x1, y1)-(x2, y2) of a panorama, its columns taken modulo
    the width, so a window past either edge continues from the other one."""
    height, width = pixels.shape[:2]
    xa, xb = int(np.floor(x1)), max(int(np.ceil(x2)), int(np.floor(x1)) + 1)
    ya, yb = max(0, int(np.floor(y1))), min(height, max(int(np.ceil(y2)), int(np.floor(y1)) + 1))
    if yb <= ya:
        ya, yb = max(0, min(height - 1, ya)), max(0, min(height - 1, ya)) + 1
    if 0 <= xa and xb <= width:
        return pixels[ya:yb, xa:xb]
    return pixels[ya:yb][:, np.arange(xa, xb) % width]
