"""Pair sampling for the two-stage interaction pipelines (mission document
003), in numpy, without torch: candidate pairs within a horizontal distance
limit across the panorama's seam, group presumption (a connected subset of a
social group's pairs instead of all of them), negatives capped per frame and
balanced, stage-2 class assignment, and the sampling report."""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .geometry import wrapped_dx


@dataclass
class Frame:
    """One panorama frame: its persons (box rows x1, y1, x2, y2), the
    interacting pairs (index pairs into the persons, with their labels) and
    the social groups (lists of person indices)."""

    image_id: int
    width: int
    boxes: np.ndarray
    interactions: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)
    groups: list[list[int]] = field(default_factory=list)
    height: int = 0

    def to_json(self) -> dict:
        """Plain data for a job's snapshot (the pairs' labels as [i, j, labels])."""
        return {"image_id": self.image_id, "width": self.width, "height": self.height,
                "boxes": np.asarray(self.boxes, dtype=np.float64).round(2).tolist(),
                "interactions": [[i, j, labels] for (i, j), labels in self.interactions.items()],
                "groups": self.groups}

    @classmethod
    def from_json(cls, data: dict) -> "Frame":
        return cls(data["image_id"], data["width"], np.asarray(data["boxes"], dtype=np.float64).reshape(-1, 4),
                   {(i, j): labels for i, j, labels in data["interactions"]}, data["groups"], data.get("height", 0))


def _key(i: int, j: int) -> tuple[int, int]:
    return (i, j) if i < j else (j, i)


def candidate_pairs(boxes: np.ndarray, width: float, distance_multiplier: float = 3.0) -> np.ndarray:
    """(m, 2) index pairs i < j whose box centres are at most
    ``distance_multiplier`` x the larger of the two box widths apart
    horizontally, measured the short way round a panorama of ``width``."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    w = boxes[:, 2] - boxes[:, 0]
    dx = wrapped_dx(cx[:, None], cx[None, :], width)  # across the seam
    limit = distance_multiplier * np.maximum(w[:, None], w[None, :])
    return np.argwhere(np.triu(dx <= limit, k=1))


def group_sample_count(n: int, ratio: float) -> int:
    """Pairs kept for a group of ``n``: ``ceil(ratio * n)``, but never fewer
    than the ``n - 1`` a connected group needs, nor more than all pairs."""
    if n < 2:
        return 0
    return int(min(n * (n - 1) // 2, max(n - 1, math.ceil(ratio * n))))


def group_pairs(members: list[int], ratio: float, rng: np.random.Generator) -> list[tuple[int, int]]:
    """A connected set of pairs through every member: a chain in random order,
    closed into a cycle, then random chords, up to :func:`group_sample_count`."""
    n = len(members)
    k = group_sample_count(n, ratio)
    if k == 0:
        return []
    order = [members[i] for i in rng.permutation(n)]
    chosen = [_key(order[i], order[i + 1]) for i in range(n - 1)]
    if k > len(chosen) and n > 2:
        chosen.append(_key(order[-1], order[0]))
    if k > len(chosen):
        taken = set(chosen)
        rest = [p for p in (_key(members[a], members[b]) for a in range(n) for b in range(a + 1, n))
                if p not in taken]
        chosen += [rest[i] for i in rng.choice(len(rest), size=k - len(chosen), replace=False)]
    return chosen


def frame_pairs(frame: Frame, distance_multiplier: float, use_group_sampling: bool, max_group_samples_ratio: float,
                max_negatives_per_frame: int, rng: np.random.Generator) -> dict:
    """One frame's positives (interacting pairs within the distance limit;
    inside a group, only the sampled connected subset when group sampling is
    on) and negatives (non-interacting candidates, at most the cap)."""
    n = len(frame.boxes)
    near = {_key(int(i), int(j)) for i, j in candidate_pairs(frame.boxes, frame.width, distance_multiplier)}
    positives_all = {_key(*p) for p in frame.interactions}
    positives_near = positives_all & near
    positives = set(positives_near)
    if use_group_sampling:
        for group in frame.groups:
            members = sorted(set(group))
            inside = {p for p in positives if p[0] in members and p[1] in members}
            kept = {p for p in group_pairs(members, max_group_samples_ratio, rng) if p in near}
            positives = (positives - inside) | kept
    # pairs inside a social group are presumed to interact: never negatives
    in_groups = {_key(a, b) for g in frame.groups for a in g for b in g if a != b}
    negatives = sorted(near - positives_all - in_groups)
    if len(negatives) > max_negatives_per_frame:
        negatives = [negatives[i] for i in sorted(rng.choice(len(negatives), max_negatives_per_frame, replace=False))]
    return {"pairs_all": n * (n - 1) // 2, "pairs_within_distance": len(near), "positives_all": len(positives_all),
            "positives_within_distance": len(positives_near), "positives": sorted(positives), "negatives": negatives,
            "negatives_all": len(near - positives_all - in_groups)}


def balance(positives: list, negatives: list, ratio: float, rng: np.random.Generator) -> list:
    """At most ``ratio`` negatives per positive, drawn uniformly."""
    target = int(round(ratio * len(positives)))
    if len(negatives) <= target:
        return list(negatives)
    return [negatives[i] for i in sorted(rng.choice(len(negatives), target, replace=False))]


def stage2_classes(frames: list[Frame], top: int = 5) -> list[str]:
    """The ``top`` most frequent interaction labels of the frames (ties by name)."""
    counts = Counter(label for f in frames for labels in f.interactions.values()
                     for label, value in labels.items() if value)
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def stage2_class(labels: dict[str, float], classes: list[str], other: bool) -> int | None:
    """A multi-label pair's one class: the first of ``classes`` (priority
    order) it carries; else ``other`` (index len(classes)) when enabled, else None."""
    for index, name in enumerate(classes):
        if labels.get(name):
            return index
    return len(classes) if other and any(labels.values()) else None


def sample(frames: list[Frame], distance_multiplier: float = 3.0, use_group_sampling: bool = True,
           max_group_samples_ratio: float = 1.0, max_negatives_per_frame: int = 5, stage1_balance_ratio: float = 1.0,
           classes: list[str] | None = None, other_class: bool = False, seed: int = 0) -> dict:
    """Stage-1 samples (frame index, i, j, interacting) and stage-2 samples
    (frame index, i, j, class) of one epoch, with the sampling report."""
    rng = np.random.default_rng(seed)
    classes = classes if classes is not None else stage2_classes(frames)
    report = Counter()
    positives, negatives, stage2 = [], [], []
    before_group = 0
    for index, frame in enumerate(frames):
        got = frame_pairs(frame, distance_multiplier, use_group_sampling, max_group_samples_ratio,
                          max_negatives_per_frame, rng)
        for key in ("pairs_all", "pairs_within_distance", "positives_all", "positives_within_distance",
                    "negatives_all"):
            report[key] += got[key]
        before_group += got["positives_within_distance"]
        positives += [(index, i, j, 1) for i, j in got["positives"]]
        negatives += [(index, i, j, 0) for i, j in got["negatives"]]
        for i, j in got["positives"]:
            labels = frame.interactions.get((i, j)) or frame.interactions.get((j, i)) or {}
            cls = stage2_class(labels, classes, other_class)
            if cls is not None:
                stage2.append((index, i, j, cls))
    negatives = balance(positives, negatives, stage1_balance_ratio, rng)
    names = classes + (["other"] if other_class else [])
    counts = Counter(names[s[3]] for s in stage2)
    out = dict(report)
    out.update({
        "frames": len(frames), "positives_sampled": len(positives), "negatives_sampled": len(negatives),
        "positive_recall_of_distance_limit": (out["positives_within_distance"] / out["positives_all"]
                                              if out.get("positives_all") else None),
        "pair_reduction_of_distance_limit": (1 - out["pairs_within_distance"] / out["pairs_all"]
                                             if out.get("pairs_all") else None),
        "negatives_per_positive_before": (out["negatives_all"] / before_group if before_group else None),
        "negatives_per_positive_after": (len(negatives) / len(positives) if positives else None),
        "stage2_classes": names, "stage2_class_counts": {n: counts.get(n, 0) for n in names},
    })
    return {"report": out, "stage1": positives + negatives, "stage2": stage2}


def class_balance(samples: list[tuple], strategy: str, rng: np.random.Generator) -> list[tuple]:
    """Stage-2 samples (last element the class) balanced across classes:
    ``oversample`` draws every class up to the largest class's count (each
    sample at least once), ``undersample`` draws each down to the smallest,
    ``none`` keeps them as they are."""
    if strategy == "none" or not samples:
        return list(samples)
    by_class: dict[int, list[tuple]] = {}
    for s in samples:
        by_class.setdefault(s[-1], []).append(s)
    sizes = [len(v) for v in by_class.values()]
    target = max(sizes) if strategy == "oversample" else min(sizes)
    out = []
    for members in by_class.values():
        if len(members) >= target:
            out += [members[i] for i in sorted(rng.choice(len(members), target, replace=False))]
        else:
            out += members + [members[i] for i in rng.choice(len(members), target - len(members), replace=True)]
    return out


def evaluation_pairs(frames: list[Frame], distance_multiplier: float, stage: int,
                     classes: list[str] | None = None, other_class: bool = False) -> list[tuple]:
    """What a model is judged on: every candidate pair within the distance
    limit (stage 1: interacting or not, no sampling), or every interacting
    one with a class (stage 2), as (frame index, i, j, target)."""
    out = []
    for index, frame in enumerate(frames):
        labels = {_key(*p): v for p, v in frame.interactions.items()}
        for i, j in candidate_pairs(frame.boxes, frame.width, distance_multiplier).tolist():
            if stage == 1:
                out.append((index, i, j, int((i, j) in labels)))
            elif (i, j) in labels:
                cls = stage2_class(labels[(i, j)], classes or [], other_class)
                if cls is not None:
                    out.append((index, i, j, cls))
    return out
