"""The project's panorama frames as :class:`~.sampling.Frame` objects: the
persons (box annotations), their interacting pairs with labels, and their
social groups, for the images of a split that hold any pair or group."""
from __future__ import annotations

import numpy as np

from ...errors import TesseraError
from ...project import Project
from ..params import SEED, Param, validate
from .sampling import Frame, sample, stage2_classes

# Declared once; the pair pipelines (with the common parameters) and `tessera pairs-preview` share them.
SAMPLING_PARAMS = [
    Param("distance_multiplier", "float", 3.0, min=0.1, max=100.0, group="data",
          help="two persons are a candidate pair when their box centres are at most this many times the larger "
               "of their two box widths apart horizontally (the short way round the panorama)"),
    Param("use_group_sampling", "bool", True, group="data",
          help="group presumption: inside a social group keep a connected subset of pairs, not all of them"),
    Param("max_group_samples_ratio", "float", 1.0, min=0.1, max=10.0, group="data",
          help="pairs kept per group of n: ceil(ratio x n), at least the n - 1 that keep it connected"),
    Param("max_negatives_per_frame", "int", 5, min=0, max=10000, group="data",
          help="non-interacting candidate pairs kept per frame, at most"),
    Param("stage1_balance_ratio", "float", 1.0, min=0.01, max=100.0, group="data",
          help="negatives per positive for stage 1 after the per-frame cap (sampled afresh each epoch)"),
]

#: The stage-2 classes and how multi-label pairs collapse to one (stage 2 and the preview).
CLASS_PARAMS = [
    Param("stage2_classes", "str", "", group="data",
          help="interaction types, comma-separated in priority order (a pair with several labels takes the "
               "first one listed); empty = the five most frequent labels of the training frames"),
    Param("other_class", "bool", False, group="data",
          help="interacting pairs with none of the listed labels form an 'other' class (else they are left out)"),
]


def type_classes(frames, config: dict) -> list[str]:
    """The stage-2 class names: the configured list or the five most frequent
    labels, with ``other`` last when that class is on."""
    given = [c.strip() for c in config.get("stage2_classes", "").split(",") if c.strip()]
    names = given or stage2_classes(frames)
    if len(set(names)) != len(names):
        raise TesseraError(f"stage2_classes names a type twice: {config.get('stage2_classes')}")
    return names + (["other"] if config.get("other_class") else [])


def load_frames(project: Project, split: str | None = "train") -> list[Frame]:
    frames = []
    for image in project.images.list():
        if split is not None and image.split != split:
            continue
        pairs = [p for p in project.relations.pairs(image.id) if p.source != "model"]  # never predictions
        groups = project.relations.groups(image.id)
        if not pairs and not groups:
            continue
        persons = [a for a in project.annotations.for_image(image.id) if a.kind == "box"]
        index = {a.id: i for i, a in enumerate(persons)}
        boxes = np.array([a.bbox for a in persons], dtype=np.float64).reshape(-1, 4)
        interactions = {(index[p.a_id], index[p.b_id]): dict(p.labels) for p in pairs
                        if p.a_id in index and p.b_id in index}
        member_lists = [[index[m] for m in g.members if m in index] for g in groups]
        frames.append(Frame(image.id, image.width, boxes, interactions, [m for m in member_lists if len(m) > 1],
                            image.height))
    return frames


def preview(project: Project, values: dict) -> dict:
    """The sampling report of the training split, before any training."""
    config = validate("pairs-preview", SAMPLING_PARAMS + CLASS_PARAMS + [SEED], values)
    frames = load_frames(project, "train")
    if not frames:
        raise TesseraError("no training frames with persons in pairs or groups (import JRDB data, and give "
                           "images the split 'train')")
    names = type_classes(frames, config)
    other = config["other_class"]
    return sample(frames, config["distance_multiplier"], config["use_group_sampling"],
                  config["max_group_samples_ratio"], config["max_negatives_per_frame"],
                  config["stage1_balance_ratio"], classes=names[:-1] if other else names, other_class=other,
                  seed=config["seed"])["report"]
