"""Pre-training data: two augmented views of random windows of the chosen
images (a gigapixel image is never read whole), and the labelled crops that
measure the features by k-NN."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..reader import ProjectReader
from .augment import two_views


class TwoViews(Dataset):
    """``crops_per_image`` samples of each image per epoch; each reads a
    random window of at most ``window`` pixels a side and returns its two views."""

    def __init__(self, project_root: str, items: list[list[int]], size: int, window: int, crops_per_image: int,
                 min_scale: float):
        self.reader = ProjectReader(str(project_root))
        self.items, self.window, self.repeats = items, window, crops_per_image
        self.views = two_views(size, min_scale)

    def __len__(self) -> int:
        return len(self.items) * self.repeats

    def __getitem__(self, index: int):
        image_id, width, height = self.items[index % len(self.items)]
        w, h = min(width, self.window), min(height, self.window)
        x = int(torch.randint(0, width - w + 1, (1,)))
        y = int(torch.randint(0, height - h + 1, (1,)))
        pixels = torch.from_numpy(np.array(self.reader.window(image_id, x, y, w, h))).permute(2, 0, 1)
        first, second = self.views
        return first(pixels), second(pixels)


def knn_samples(project, limit: int, seed: int) -> dict[str, list[list[int]]]:
    """``[image_id, x, y, w, h, class_id]`` per split for the k-NN probe: one
    crop per annotated shape, and, for images with a label mask but no shape,
    the whole image with its most frequent class; at most ``limit`` per split."""
    from ..classification import samples

    out = samples(project, "crops")
    shaped = {item[0] for items in out.values() for item in items}
    for image_id in project.masks.image_ids():
        image = project.images.get(image_id)
        if image.split not in out or image_id in shaped:
            continue
        counts = np.bincount(project.masks.get(image_id).ravel())
        counts[0] = 0  # no-data
        if counts.any():
            out[image.split].append([image_id, 0, 0, image.width, image.height, int(counts.argmax())])
    rng = np.random.default_rng(seed)
    for split, items in out.items():
        if len(items) > limit:
            out[split] = [items[i] for i in sorted(rng.choice(len(items), limit, replace=False))]
    return out
