"""Uncertainty of a model's class probabilities, in numpy: least
confidence, margin and entropy, per pixel (segmentation), per box
(detection) or per image (classification), and their aggregation to one
score per image.  Every score lies in [0, 1]; higher means less sure."""
from __future__ import annotations

import numpy as np

METHODS = ("least_confidence", "margin", "entropy")
AGGREGATES = ("max", "mean", "sum")
#: Detection: how sure a box must be not to count as doubtful.
CONFIDENCE_THRESHOLD = 0.7
#: Detection: the score of an image where the model finds nothing.  Such an
#: image is either truly empty or one where the model misses everything; it
#: is ranked above every image with a detection so that a person looks.
EMPTY_SCORE = 1.0


def _probs(probs, axis: int) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.shape[axis] < 2:
        raise ValueError(f"uncertainty needs at least two classes, got shape {p.shape}")
    return p


def least_confidence(probs, axis: int = -1) -> np.ndarray:
    """``1 - max p``, scaled by ``K / (K - 1)`` so a uniform guess scores 1."""
    p = _probs(probs, axis)
    k = p.shape[axis]
    return (1.0 - p.max(axis)) * k / (k - 1)


def margin(probs, axis: int = -1) -> np.ndarray:
    """``1 - (p_first - p_second)``: 1 when the two likeliest classes tie."""
    p = _probs(probs, axis)
    top = -np.partition(-p, 1, axis=axis)
    first, second = np.take(top, 0, axis=axis), np.take(top, 1, axis=axis)
    return 1.0 - (first - second)


def entropy(probs, axis: int = -1) -> np.ndarray:
    """``-sum p log p / log K``: 0 for a certain answer, 1 for a uniform one."""
    p = _probs(probs, axis)
    k = p.shape[axis]
    logs = np.log(np.clip(p, 1e-12, 1.0))
    return -(p * logs).sum(axis) / np.log(k)


SCORERS = {"least_confidence": least_confidence, "margin": margin, "entropy": entropy}


def score(probs, method: str, axis: int = -1) -> np.ndarray:
    if method not in SCORERS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    return SCORERS[method](probs, axis)


def segmentation_score(probs, method: str, valid=None) -> dict:
    """``probs`` (K, H, W) softmax output of one image.  The mean per-pixel
    uncertainty over ``valid`` pixels (all by default), and the mean over
    the pixels predicted as each class (``per_class``, index -> score; a
    class predicted nowhere is absent)."""
    p = np.asarray(probs, dtype=np.float64)
    per_pixel = score(p, method, axis=0)
    mask = np.ones(per_pixel.shape, bool) if valid is None else np.asarray(valid, bool)
    if not mask.any():
        return {"score": 0.0, "per_class": {}, "pixels": 0}
    predicted = p.argmax(0)
    per_class = {int(c): float(per_pixel[mask & (predicted == c)].mean())
                 for c in np.unique(predicted[mask])}
    return {"score": float(per_pixel[mask].mean()), "per_class": per_class, "pixels": int(mask.sum())}


def box_distribution(class_scores) -> np.ndarray:
    """A YOLO box's per-class scores (independent sigmoids, (n, K)) as a
    distribution over the K classes and "no object": the scores, scaled
    down when they sum over 1, and the rest of the mass on no object.  A box
    at 0.3 for one class is then as doubtful as a 0.3/0.7 guess; one at 0.5
    for two classes is a tie between them."""
    s = np.clip(np.asarray(class_scores, dtype=np.float64), 0.0, 1.0)
    s = s.reshape(len(s), -1) if s.size else s.reshape(0, max(1, s.shape[-1] if s.ndim else 1))
    total = s.sum(1, keepdims=True)
    s = s / np.maximum(total, 1.0)
    return np.concatenate([s, 1.0 - s.sum(1, keepdims=True)], 1)


def detection_score(class_probs, confidences, method: str, aggregate: str = "max",
                    threshold: float = CONFIDENCE_THRESHOLD, empty_score: float = EMPTY_SCORE) -> dict:
    """One image's detections: ``class_probs`` (n, K) per box, ``confidences``
    (n,) the boxes' scores.  Each box's uncertainty from its class
    probabilities, aggregated by ``max``, ``mean`` or ``sum``;
    ``confidence_below``: how many boxes score under ``threshold``.  No box:
    ``empty_score``."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"unknown aggregate {aggregate!r}; use one of {', '.join(AGGREGATES)}")
    conf = np.asarray(confidences, dtype=np.float64).reshape(-1)
    if conf.size == 0:
        return {"score": float(empty_score), "confidence_below": 0, "boxes": 0}
    p = np.asarray(class_probs, dtype=np.float64).reshape(conf.size, -1)
    if p.shape[1] == 1:  # one class: the box's own confidence is its probability
        p = np.concatenate([p, 1.0 - p], 1)
    per_box = score(p, method, axis=1)
    value = {"max": per_box.max(), "mean": per_box.mean(), "sum": per_box.sum()}[aggregate]
    return {"score": float(value), "confidence_below": int((conf < threshold).sum()), "boxes": int(conf.size)}


def classification_score(probs, method: str) -> float:
    """One image's class probabilities (K,)."""
    return float(score(np.asarray(probs, dtype=np.float64)[None], method, axis=1)[0])
