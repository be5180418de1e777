"""Crops (or whole images) resized to a square, with their class index."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..reader import ProjectReader
from ..segmentation.data import MEAN, STD


def padded(item: list[int], width: int, height: int, padding: float) -> tuple[int, int, int, int]:
    _, x, y, w, h, _ = item
    px, py = int(w * padding), int(h * padding)
    x0, y0 = max(0, x - px), max(0, y - py)
    x1, y1 = min(width, x + w + px), min(height, y + h + py)
    return x0, y0, x1 - x0, y1 - y0


def to_input(pixels: np.ndarray, size: int) -> torch.Tensor:
    img = torch.from_numpy(np.array(pixels, copy=True)).permute(2, 0, 1).float()[None] / 255.0
    img = F.interpolate(img, size=(size, size), mode="bilinear", align_corners=False)[0]
    return (img - MEAN) / STD


class Crops(Dataset):
    def __init__(self, project_root: str, items: list[list[int]], class_ids: list[int], size: int,
                 padding: float, augment: bool):
        self.reader = ProjectReader(str(project_root))
        self.items, self.size, self.padding, self.augment = items, size, padding, augment
        self.index = {cid: i for i, cid in enumerate(class_ids)}

    def __len__(self) -> int:
        return len(self.items)

    def target(self, i: int) -> int:
        return self.index[self.items[i][5]]

    def __getitem__(self, i: int):
        item = self.items[i]
        image = self.reader.project.images.get(item[0])
        x, y, w, h = padded(item, image.width, image.height, self.padding)
        img = to_input(self.reader.window(item[0], x, y, w, h), self.size)
        if self.augment:
            if torch.rand(1) < 0.5:
                img = img.flip(-1)
            img = img * (0.8 + 0.4 * torch.rand(1)) + 0.2 * (torch.rand(1) - 0.5)
        return img, self.target(i)
