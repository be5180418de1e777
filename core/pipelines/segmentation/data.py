"""Windows of images and their label masks, as tensors, with augmentations
applied identically to image and mask."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ..reader import ProjectReader

IGNORE = 255
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def class_lut(classes: list[dict]) -> np.ndarray:
    """Project class id -> channel index; everything else (0 = no-data) -> IGNORE."""
    lut = np.full(65536, IGNORE, np.uint8)  # masks are uint8 or uint16
    for i, c in enumerate(classes):
        lut[c["id"]] = i
    return lut


class SegmentationWindows(Dataset):
    def __init__(self, project_root: str, items: list[list[int]], lut: np.ndarray, size: int, augment: bool,
                 seed: int = 0):
        self.reader = ProjectReader(str(project_root))
        self.items, self.lut, self.size, self.augment, self.seed = items, lut, size, augment, seed

    def __len__(self) -> int:
        return len(self.items)

    def labels(self, index: int) -> np.ndarray:
        image_id, x, y, w, h = self.items[index]
        return self.lut[self.reader.mask(image_id)[y:y + h, x:x + w]]

    def __getitem__(self, index: int):
        image_id, x, y, w, h = self.items[index]
        pixels = self.reader.window(image_id, x, y, w, h)
        labels = self.labels(index)
        img = torch.from_numpy(np.array(pixels, copy=True)).permute(2, 0, 1).float() / 255.0
        lab = torch.from_numpy(labels.astype(np.int64))
        if self.augment:
            img, lab = augment(img, lab, self.size, torch.Generator().manual_seed(
                hash((self.seed, index, torch.initial_seed())) % (2**63)))
        else:
            img, lab = fit(img, lab, self.size)
        return (img - MEAN) / STD, lab


def fit(img: torch.Tensor, lab: torch.Tensor, size: int):
    """Resize to ``size`` when larger; pad (mask: IGNORE) when smaller."""
    import torch.nn.functional as F

    h, w = lab.shape
    if max(h, w) > size:
        scale = size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        img = F.interpolate(img[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
        lab = F.interpolate(lab[None, None].float(), size=(nh, nw), mode="nearest")[0, 0].long()
        h, w = nh, nw
    # Pad to a multiple of 32 so every encoder's strides line up.
    th, tw = _round_up(max(h, 32)), _round_up(max(w, 32))
    if (th, tw) != (h, w):
        img = F.pad(img, (0, tw - w, 0, th - h))
        lab = F.pad(lab, (0, tw - w, 0, th - h), value=IGNORE)
    return img, lab


def _round_up(v: int, m: int = 32) -> int:
    return -(-v // m) * m


def augment(img: torch.Tensor, lab: torch.Tensor, size: int, g: torch.Generator):
    import torch.nn.functional as F

    def rand() -> float:
        return float(torch.rand(1, generator=g))

    scale = 0.75 + 0.5 * rand()
    h, w = lab.shape
    nh, nw = max(8, round(h * scale)), max(8, round(w * scale))
    img = F.interpolate(img[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
    lab = F.interpolate(lab[None, None].float(), size=(nh, nw), mode="nearest")[0, 0].long()
    if nh > size or nw > size:  # random crop
        y0 = int(rand() * max(0, nh - size + 1))
        x0 = int(rand() * max(0, nw - size + 1))
        img, lab = img[:, y0:y0 + size, x0:x0 + size], lab[y0:y0 + size, x0:x0 + size]
    if rand() < 0.5:
        img, lab = img.flip(-1), lab.flip(-1)
    if rand() < 0.5:
        img, lab = img.flip(-2), lab.flip(-2)
    k = int(rand() * 4)
    if k:
        img, lab = torch.rot90(img, k, (-2, -1)), torch.rot90(lab, k, (-2, -1))
    brightness, contrast = 0.8 + 0.4 * rand(), 0.8 + 0.4 * rand()
    mean = img.mean()
    img = ((img - mean) * contrast + mean) * brightness
    return fit(img.clamp(0, 1), lab, size)


def pixel_counts(dataset: SegmentationWindows, classes: int) -> np.ndarray:
    """Labelled pixels per class over the dataset (for weights and sampling)."""
    counts = np.zeros(classes, np.int64)
    for i in range(len(dataset)):
        lab = dataset.labels(i)
        counts += np.bincount(lab[lab != IGNORE].ravel(), minlength=classes)[:classes]
    return counts


def sample_weights(dataset: SegmentationWindows, class_freq: np.ndarray) -> np.ndarray:
    """Per-window weight: the mean rarity of the classes it holds."""
    rarity = 1.0 / np.maximum(class_freq / max(1, class_freq.sum()), 1e-6)
    out = np.ones(len(dataset))
    for i in range(len(dataset)):
        lab = dataset.labels(i)
        present = np.unique(lab[lab != IGNORE])
        if present.size:
            out[i] = float(np.mean(np.sqrt(rarity[present])))
    return out / out.mean()
