"""Test-time augmentation in numpy alone: an image is predicted in several
views (horizontal flip, quarter turns, scales), each prediction is turned
back into the image's own geometry, and the views are merged —
segmentation by averaging class probabilities, detection by weighted box
fusion (``ensemble-boxes``).

A view is applied to the pixels as scale, then flip, then turn; it is undone
in the opposite order.  Turns are counter-clockwise quarter turns, as
``numpy.rot90`` makes them."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..errors import TesseraError
from .preprocess import resize_bilinear

KINDS = ("flip", "rotate", "scale")
TURNS = (0, 1, 2, 3)
SCALES = (0.9, 1.0, 1.1)
DEFAULT = ("flip",)
FUSION_IOU = 0.55  # weighted box fusion's IoU: boxes of one class above it are one object


@dataclass(frozen=True)
class View:
    flip: bool = False
    turns: int = 0
    scale: float = 1.0

    @property
    def identity(self) -> bool:
        return not self.flip and self.turns == 0 and self.scale == 1.0

    def name(self) -> str:
        parts = (["flip"] if self.flip else []) + ([f"rot{90 * self.turns}"] if self.turns else []) + \
            ([f"x{self.scale:g}"] if self.scale != 1.0 else [])
        return "+".join(parts) or "identity"


def parse(spec) -> tuple[str, ...]:
    """``"flip,rotate"`` (or a list, or ``"all"``) → the kinds of views, in
    the order of ``KINDS``; an empty spec means no augmentation."""
    if spec is None or spec is False:
        return ()
    if spec is True:
        return DEFAULT
    words = [w.strip().lower() for w in (spec.split(",") if isinstance(spec, str) else spec) if w.strip()]
    if words == ["all"]:
        return KINDS
    unknown = sorted(set(words) - set(KINDS))
    if unknown:
        raise TesseraError(f"unknown test-time augmentation {', '.join(unknown)}; expected any of "
                           f"{', '.join(KINDS)} (or all)")
    return tuple(k for k in KINDS if k in words)


def views(kinds) -> list[View]:
    """Every combination of the chosen kinds, the plain view first."""
    kinds = parse(kinds) if not isinstance(kinds, tuple) else kinds
    flips = (False, True) if "flip" in kinds else (False,)
    turns = TURNS if "rotate" in kinds else (0,)
    scales = (1.0, *[s for s in SCALES if s != 1.0]) if "scale" in kinds else (1.0,)
    return [View(f, t, s) for s, f, t in itertools.product(scales, flips, turns)]


def scaled_size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(1, int(round(height * scale))), max(1, int(round(width * scale)))


def apply(view: View, pixels: np.ndarray) -> np.ndarray:
    """The image as the view sees it (H, W[, C])."""
    out = pixels
    if view.scale != 1.0:
        h, w = scaled_size(*pixels.shape[:2], view.scale)
        out = resize_bilinear(out.astype(np.float32), h, w)
        if pixels.dtype == np.uint8:
            out = np.clip(np.rint(out), 0, 255)
        out = out.astype(pixels.dtype)
    if view.flip:
        out = out[:, ::-1]
    if view.turns:
        out = np.rot90(out, view.turns, axes=(0, 1))
    return np.ascontiguousarray(out)


def undo_map(view: View, scores: np.ndarray, height: int, width: int) -> np.ndarray:
    """A per-pixel map (C, h, w) predicted on the view, back on the image's
    (C, height, width) grid."""
    out = scores
    if view.turns:
        out = np.rot90(out, -view.turns, axes=(1, 2))
    if view.flip:
        out = out[:, :, ::-1]
    if out.shape[1:] != (height, width):
        out = resize_bilinear(np.moveaxis(out, 0, -1), height, width)
        out = np.moveaxis(out.reshape(height, width, -1), -1, 0)
    return np.ascontiguousarray(out, dtype=np.float32)


def undo_boxes(view: View, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Boxes (n, 4: x1 y1 x2 y2) found on the view, back in the pixels of the
    (height, width) image."""
    out = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    sh, sw = scaled_size(height, width, view.scale)
    # the view's image before its turns is (sh, sw); each undone quarter turn
    # maps a box of the turned image back onto the image one turn earlier
    sizes = [(sh, sw) if t % 2 == 0 else (sw, sh) for t in range(view.turns + 1)]
    for t in range(view.turns, 0, -1):
        h0, w0 = sizes[t - 1]  # the image before this turn
        x1, y1, x2, y2 = out.T.copy()
        out = np.stack([w0 - y2, x1, w0 - y1, x2], 1)
    if view.flip:
        out[:, [0, 2]] = sw - out[:, [2, 0]]
    out[:, [0, 2]] *= width / sw
    out[:, [1, 3]] *= height / sh
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out.astype(np.float32)


def average_probabilities(predict, pixels: np.ndarray, chosen: list[View]) -> np.ndarray:
    """Mean class probabilities (C, H, W) of ``predict(view pixels) -> (C, h, w)``
    over the views."""
    height, width = pixels.shape[:2]
    total = None
    for view in chosen:
        probs = undo_map(view, predict(apply(view, pixels)), height, width)
        total = probs if total is None else total + probs
    return total / len(chosen)


def fuse_detections(found: list[dict], height: int, width: int, conf: float, max_det: int,
                    iou: float = FUSION_IOU) -> dict[str, np.ndarray]:
    """Detections of several views (already in image pixels) fused by
    weighted box fusion: a box seen by only some views keeps a share of its
    score (ensemble-boxes' ``conf_type='avg'``)."""
    from ensemble_boxes import weighted_boxes_fusion

    scale = np.array([width, height, width, height], np.float64)
    boxes = [np.clip(np.asarray(f["boxes"], np.float64).reshape(-1, 4) / scale, 0, 1) for f in found]
    scores = [np.asarray(f["scores"], np.float64) for f in found]
    labels = [np.asarray(f["classes"], np.float64) for f in found]
    if not any(len(s) for s in scores):
        return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
                "classes": np.zeros(0, int)}
    fused, fused_scores, fused_labels = weighted_boxes_fusion(boxes, scores, labels, iou_thr=iou,
                                                              skip_box_thr=conf, conf_type="avg")
    order = np.argsort(-fused_scores, kind="stable")[:max_det]
    return {"boxes": (fused[order] * scale).astype(np.float32), "scores": fused_scores[order].astype(np.float32),
            "classes": fused_labels[order].astype(int)}
