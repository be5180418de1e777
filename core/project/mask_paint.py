"""Painting on a dense label mask: brush and eraser strokes and flood fill.

Each edit returns a :class:`MaskPatch` (the changed rectangle before and
after) so that it can be stored, undone and redone without keeping whole
masks around."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..errors import ProjectError

MAX_PAINT_PIXELS = 64_000_000  # masks are stored whole; larger images are painted as tiles


@dataclass(frozen=True)
class MaskPatch:
    x: int
    y: int
    before: np.ndarray
    after: np.ndarray

    @property
    def changed(self) -> bool:
        return not np.array_equal(self.before, self.after)

    def apply(self, mask: np.ndarray, undo: bool = False) -> None:
        values = self.before if undo else self.after
        h, w = values.shape
        mask[self.y:self.y + h, self.x:self.x + w] = values


def blank_mask(width: int, height: int, name: str = "") -> np.ndarray:
    if width * height > MAX_PAINT_PIXELS:
        raise ProjectError(f"{name}: {width}x{height} is too large to paint as one mask; "
                           "cut it into tiles first (tessera tiles)")
    return np.zeros((height, width), np.uint8)


def _dtype_for(mask: np.ndarray, value: int) -> np.ndarray:
    if value > np.iinfo(mask.dtype).max:
        return mask.astype(np.uint16)
    return mask


def stroke(mask: np.ndarray, points: Sequence[tuple[float, float]], radius: float,
           value: int) -> tuple[np.ndarray, MaskPatch | None]:
    """Paint a round brush of ``radius`` pixels along ``points`` with ``value``
    (0 erases).  Returns the (possibly widened) mask and the patch, or None
    when nothing changed."""
    if not points:
        return mask, None
    mask = _dtype_for(mask, value)
    h, w = mask.shape
    r = max(0.5, float(radius))
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, y0 = max(0, int(np.floor(min(xs) - r)) - 1), max(0, int(np.floor(min(ys) - r)) - 1)
    x1, y1 = min(w, int(np.ceil(max(xs) + r)) + 2), min(h, int(np.ceil(max(ys) + r)) + 2)
    if x0 >= x1 or y0 >= y1:
        return mask, None
    before = mask[y0:y1, x0:x1].copy()
    canvas = np.zeros(before.shape, np.uint8)
    shift = 4  # sub-pixel precision for cv2 drawing
    pts = np.round((np.asarray(points, np.float64) - [x0, y0]) * (1 << shift)).astype(np.int32)
    thickness = max(1, int(round(2 * r)))
    if len(pts) == 1:
        cv2.circle(canvas, tuple(int(v) for v in pts[0]), int(round(r * (1 << shift))), 1, -1, cv2.LINE_8, shift)
    else:
        cv2.polylines(canvas, [pts.reshape(-1, 1, 2)], False, 1, thickness, cv2.LINE_8, shift)
        for p in (pts[0], pts[-1]):  # round ends
            cv2.circle(canvas, tuple(int(v) for v in p), int(round(r * (1 << shift))), 1, -1, cv2.LINE_8, shift)
    after = before.copy()
    after[canvas > 0] = value
    patch = MaskPatch(x0, y0, before, after)
    if not patch.changed:
        return mask, None
    patch.apply(mask)
    return mask, patch


def flood_fill(mask: np.ndarray, x: float, y: float, value: int) -> tuple[np.ndarray, MaskPatch | None]:
    """Give the 4-connected region of equal label under (x, y) the label ``value``."""
    h, w = mask.shape
    col, row = int(x), int(y)
    if not (0 <= col < w and 0 <= row < h) or int(mask[row, col]) == value:
        return mask, None
    mask = _dtype_for(mask, value)
    region = (mask == mask[row, col]).astype(np.uint8)
    n, labels = cv2.connectedComponents(region, connectivity=4)
    inside = labels == labels[row, col]
    ys, xs = np.nonzero(inside)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    before = mask[y0:y1, x0:x1].copy()
    after = before.copy()
    after[inside[y0:y1, x0:x1]] = value
    patch = MaskPatch(int(x0), int(y0), before, after)
    patch.apply(mask)
    return mask, patch
