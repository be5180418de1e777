"""LoveDA-like land-cover tiles, written as LoveDA folders."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..formats.loveda import DOMAINS

# RGB means per LoveDA value (1..7): background, building, road, water,
# barren, forest, agriculture; index 0 is no-data (black).
PALETTE = np.array([[0, 0, 0], [128, 128, 120], [190, 80, 70], [160, 160, 160], [40, 70, 140],
                    [170, 150, 110], [40, 100, 50], [150, 170, 80]], dtype=np.float32)


def _smooth_field(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    low = rng.random((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(low, mode="F").resize((size, size), Image.Resampling.BICUBIC))


def make_tile(rng: np.random.Generator, size: int, urban: bool) -> tuple[np.ndarray, np.ndarray]:
    """(RGB image, LoveDA mask with values 0..7) for one tile."""
    natural = [1, 4, 5, 6, 7]  # background, water, barren, forest, agriculture
    weights = np.array([1.0, 0.5, 0.4, 1.0, 1.4]) if not urban else np.array([1.6, 0.3, 0.3, 0.5, 0.3])
    fields = np.stack([_smooth_field(rng, size, 4) * w for w in weights])
    mask = np.asarray(natural, np.uint8)[fields.argmax(0)]
    canvas = Image.fromarray(mask)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 3) if urban else rng.integers(0, 2))):
        pts = [tuple(rng.integers(0, size, 2).tolist()) for _ in range(2)]
        draw.line(pts, fill=3, width=max(2, size // 40))
    for _ in range(int(rng.integers(6, 14) if urban else rng.integers(0, 4))):
        x, y = rng.integers(0, size - size // 8, 2)
        w, h = rng.integers(size // 24, size // 8, 2)
        draw.rectangle([int(x), int(y), int(x + w), int(y + h)], fill=2)
    mask = np.asarray(canvas).copy()
    if rng.random() < 0.3:  # a no-data strip, as at the edge of a LoveDA scene
        mask[:, : int(size * rng.uniform(0.05, 0.2))] = 0
    texture = rng.normal(0, 9, (size, size, 3)).astype(np.float32)
    shade = (_smooth_field(rng, size, 8)[..., None] - 0.5) * 30
    image = np.clip(PALETTE[mask] + texture + shade, 0, 255).astype(np.uint8)
    image[mask == 0] = 0
    return image, mask


def write_loveda(root: Path, size: str, seed: int = 0) -> Path:
    tile, counts = (128, {"Train": 3, "Val": 1, "Test": 1}) if size == "small" else \
        (512, {"Train": 16, "Val": 4, "Test": 4})
    rng = np.random.default_rng(seed)
    n = 0
    for folder, per_domain in counts.items():
        for domain in DOMAINS:
            for _ in range(per_domain):
                image, mask = make_tile(rng, tile, urban=domain == "Urban")
                d = root / folder / domain
                (d / "images_png").mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(d / "images_png" / f"{n}.png")
                (d / "masks_png").mkdir(parents=True, exist_ok=True)  # test masks too, for evaluation
                Image.fromarray(mask).save(d / "masks_png" / f"{n}.png")
                n += 1
    return root
