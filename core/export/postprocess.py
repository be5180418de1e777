"""What comes after the network, in numpy alone: the detector's NMS (the
same algorithm as ultralytics' ``non_max_suppression`` with torchvision's
greedy NMS: best class per box, class-offset boxes, IoU suppression in score
order), boxes back into image pixels, and probabilities with a temperature."""
from __future__ import annotations

import numpy as np

MAX_WH = 7680  # ultralytics' class offset: boxes of different classes never overlap
MAX_NMS = 30000


def softmax(logits: np.ndarray, axis: int = -1, temperature=1.0) -> np.ndarray:
    z = logits.astype(np.float64) / np.asarray(temperature, np.float64)
    z -= z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def sigmoid(logits: np.ndarray, temperature=1.0) -> np.ndarray:
    """``temperature``: one number, or one per last-axis entry (per class)."""
    z = np.asarray(logits, np.float64) / np.asarray(temperature, np.float64)
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def logit(p: np.ndarray) -> np.ndarray:
    """The logit of probabilities (clipped away from 0 and 1)."""
    p = np.clip(np.asarray(p, np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def rescale(p: np.ndarray, temperature=1.0) -> np.ndarray:
    """Sigmoid scores with their logits divided by ``temperature`` (one, or
    one per last-axis entry)."""
    return sigmoid(logit(p), temperature)


def greedy_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept, highest score first (torchvision.ops.nms)."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes.T.astype(np.float64)
    areas = (x2 - x1) * (y2 - y1)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        overlap = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def detections(raw: np.ndarray, conf: float, iou: float, max_det: int, temperature=1.0
               ) -> dict[str, np.ndarray]:
    """One image's raw YOLO output (4 + K, N): centre-size boxes and K class
    scores per anchor → ``boxes`` (n, 4) x1 y1 x2 y2 in network pixels,
    ``scores``, ``classes``, ``class_scores`` (n, K).  ``temperature``: one,
    or one per class (calibration)."""
    raw = np.asarray(raw, dtype=np.float32)
    k = raw.shape[0] - 4
    cls = raw[4:].T
    if np.any(np.asarray(temperature) != 1.0):  # scores are sigmoids: rescale their logits
        cls = rescale(cls, temperature)
    best = cls.argmax(1)
    score = cls[np.arange(len(cls)), best]
    idx = np.nonzero(score > conf)[0]
    if len(idx) > MAX_NMS:
        idx = idx[np.argsort(-score[idx], kind="stable")[:MAX_NMS]]
    cx, cy, w, h = raw[:4, idx]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)
    keep = greedy_nms(boxes + best[idx, None] * MAX_WH, score[idx], iou)[:max_det] if len(idx) else idx
    return {"boxes": boxes[keep], "scores": score[idx][keep], "classes": best[idx][keep].astype(int),
            "class_scores": cls[idx][keep].reshape(len(keep), k)}


def unletterbox(boxes: np.ndarray, scale: float, offset: tuple[int, int], height: int, width: int) -> np.ndarray:
    """Boxes from the letterboxed square back into the image, clipped."""
    left, top = offset
    out = boxes.astype(np.float32).copy()
    out[:, [0, 2]] = ((out[:, [0, 2]] - left) / scale).clip(0, width)
    out[:, [1, 3]] = ((out[:, [1, 3]] - top) / scale).clip(0, height)
    return out


def merge_tiles(parts: list[dict], iou: float, max_det: int) -> dict[str, np.ndarray]:
    """Detections of overlapping tiles (already in image pixels) as one set:
    class-wise NMS across the tiles removes the doubles in the overlaps."""
    parts = [p for p in parts if len(p["scores"])]
    if not parts:
        return {"boxes": np.zeros((0, 4), np.float32), "scores": np.zeros(0, np.float32),
                "classes": np.zeros(0, int)}
    boxes = np.concatenate([p["boxes"] for p in parts])
    scores = np.concatenate([p["scores"] for p in parts])
    classes = np.concatenate([p["classes"] for p in parts])
    offset = classes[:, None] * (boxes.max() + 1.0)
    keep = greedy_nms(boxes + offset, scores, iou)[:max_det]
    return {"boxes": boxes[keep], "scores": scores[keep], "classes": classes[keep]}
