"""Pair samples as tensors: the two persons' crops and their union box (read
round the panorama's seam when they straddle it), the pair's geometric
features and its target; and the sampler that draws each epoch's pairs."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..classification.data import to_input
from ..reader import ProjectReader
from .geometry import pair_features, union_boxes, wrapped_window
from .sampling import Frame, class_balance, sample


def pair_tensors(pixels: np.ndarray, a, b, size: int, width: float | None = None,
                 height: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The (3, 3, size, size) crops of person ``a``, person ``b`` and their
    union (round the seam), and the pair's geometric features."""
    width, height = width or pixels.shape[1], height or pixels.shape[0]
    union = union_boxes(a, b, width)[0]
    crops = torch.stack([to_input(wrapped_window(pixels, *box), size) for box in (a, b, union)])
    return crops, torch.from_numpy(pair_features(a, b, width, height)[0])


class _Frames(ProjectReader):
    """The project reader with the last decoded frames kept (each pair reads
    three windows of the same frame; decoded pixels stay valid after a fork)."""

    @lru_cache(maxsize=16)
    def frame(self, image_id: int) -> np.ndarray:
        image = self.project.images.get(image_id)
        return self.window(image_id, 0, 0, image.width, image.height)


class PairCrops(Dataset):
    """Indexed by a sample ``(frame index, i, j, target)``: returns the crops
    of person i, person j and their union as one (3, 3, size, size) tensor,
    the pair's features and the target."""

    def __init__(self, project_root: str, frames: list[Frame], size: int, augment: bool = False):
        self.reader = _Frames(str(project_root))
        self.frames, self.size, self.augment = frames, size, augment

    def __len__(self) -> int:  # samples come from the sampler; this is what one epoch at most could hold
        return sum(len(f.boxes) * (len(f.boxes) - 1) // 2 for f in self.frames)

    def __getitem__(self, key):
        index, i, j, target = key
        frame = self.frames[index]
        pixels = self.reader.frame(frame.image_id)
        crops, geometry = pair_tensors(pixels, frame.boxes[i], frame.boxes[j], self.size, frame.width or None,
                                       frame.height or None)
        if self.augment:
            if torch.rand(1) < 0.5:
                crops = crops.flip(-1)  # the features do not depend on left or right
            crops = crops * (0.8 + 0.4 * torch.rand(1)) + 0.2 * (torch.rand(1) - 0.5)
        return crops, geometry, int(target)


class EpochPairs(Sampler):
    """Each epoch's samples, drawn afresh from the frames with the job's
    seed and the epoch number (Lightning calls ``set_epoch``), so a resumed
    job draws what it would have drawn: stage 1 the sampled positives and
    the capped, balanced negatives; stage 2 the interacting pairs with a
    class, balanced by ``stage2_balance_strategy``."""

    def __init__(self, frames: list[Frame], config: dict, stage: int, classes: list[str], other_class: bool):
        self.frames, self.config, self.stage = frames, config, stage
        self.classes, self.other_class = classes, other_class
        self.epoch = 0
        self._drawn: tuple[int, list] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draw(self, epoch: int) -> list[tuple]:
        if self._drawn is not None and self._drawn[0] == epoch:
            return self._drawn[1]
        cfg = self.config
        seed = cfg["seed"] * 100003 + epoch
        got = sample(self.frames, cfg["distance_multiplier"], cfg["use_group_sampling"],
                     cfg["max_group_samples_ratio"], cfg["max_negatives_per_frame"], cfg["stage1_balance_ratio"],
                     classes=self.classes, other_class=self.other_class, seed=seed)
        rng = np.random.default_rng(seed + 1)
        if self.stage == 1:
            items = got["stage1"]
        else:
            items = class_balance(got["stage2"], cfg.get("stage2_balance_strategy", "none"), rng)
        items = [items[k] for k in rng.permutation(len(items))]
        self._drawn = (epoch, items)
        return items

    def __iter__(self):
        return iter(self.draw(self.epoch))

    def __len__(self) -> int:
        return len(self.draw(self.epoch))
