"""MoCo v3's two asymmetric views of an image (BYOL's recipe): random
resized crop, flip, colour jitter, grayscale, then Gaussian blur always on the
first view and rarely on the second, solarisation on the second only."""
from __future__ import annotations

import torch
from torchvision.transforms import v2

from ..segmentation.data import MEAN, STD


def view(size: int, blur: float, solarize: float, min_scale: float) -> v2.Compose:
    kernel = max(3, int(size * 0.1) // 2 * 2 + 1)  # about a tenth of the crop, odd
    return v2.Compose([
        v2.RandomResizedCrop(size, scale=(min_scale, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.RandomApply([v2.GaussianBlur(kernel, sigma=(0.1, 2.0))], p=blur),
        v2.RandomSolarize(128, p=solarize),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(MEAN.flatten().tolist(), STD.flatten().tolist()),
    ])


def two_views(size: int, min_scale: float = 0.08) -> tuple[v2.Compose, v2.Compose]:
    return view(size, 1.0, 0.0, min_scale), view(size, 0.1, 0.2, min_scale)
