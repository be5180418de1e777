"""Dividing a project's images into train / val / test."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..errors import TesseraError
from .store import Project

SPLIT_NAMES = ("train", "val", "test")


def parse_ratios(text: str) -> tuple[float, ...]:
    try:
        ratios = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise TesseraError(f"ratios must be numbers separated by commas, got {text!r}") from None
    if not 1 <= len(ratios) <= 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise TesseraError(f"give 1 to 3 non-negative ratios for train,val,test, got {text!r}")
    return ratios


def assign_splits(project: Project, ratios: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0,
                  reassign: bool = False, image_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Shuffle the images (those without a split, or all with ``reassign``;
    only ``image_ids`` when given) with ``seed`` and cut them by ``ratios``.
    Returns the count per split over the whole project afterwards."""
    ratios = np.asarray(list(ratios) + [0.0] * (3 - len(ratios)), dtype=float)
    ratios = ratios / ratios.sum()
    images = [im for im in project.images.list(ids=image_ids) if reassign or im.split is None]
    order = np.random.default_rng(seed).permutation(len(images))
    bounds = np.round(np.cumsum(ratios) * len(images)).astype(int)
    assignment = {}
    for rank, idx in enumerate(order):
        split = SPLIT_NAMES[int(np.searchsorted(bounds, rank, side="right"))]
        assignment[images[idx].id] = split
    project.images.set_split(assignment)
    counts: dict[str, int] = {}
    for im in project.images.list():
        counts[im.split or "unassigned"] = counts.get(im.split or "unassigned", 0) + 1
    return counts
