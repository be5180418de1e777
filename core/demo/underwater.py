"""An underwater-like detection set: several species on murky blue-green
water, written as COCO (non-contiguous category ids, boxes and polygons)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ..formats.jsonio import write_json

# name: (COCO id, colour, critical)
SPECIES = {
    "fish": (1, (230, 160, 40), False),
    "jellyfish": (3, (235, 140, 220), True),
    "starfish": (7, (220, 70, 50), False),
    "sea_urchin": (12, (60, 30, 80), False),
    "shark": (20, (120, 130, 140), True),
}
CRITICAL = [name for name, (_, _, critical) in SPECIES.items() if critical]


def _water(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    top, bottom = np.array([40, 140, 170], np.float32), np.array([5, 40, 70], np.float32)
    base = top * (1 - y) + bottom * y + rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    return Image.fromarray(np.clip(base, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))


def _shape(species: str, cx: float, cy: float, s: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    """The outline of one animal, as a polygon."""
    if species == "starfish":
        pts = []
        for k in range(10):
            r = s if k % 2 == 0 else s * 0.42
            a = k * math.pi / 5 + rng.uniform(-0.1, 0.1)
            pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
        return pts
    if species == "sea_urchin":
        return [(cx + s * (0.8 + 0.25 * (k % 2)) * math.cos(k * math.pi / 12),
                 cy + s * (0.8 + 0.25 * (k % 2)) * math.sin(k * math.pi / 12)) for k in range(24)]
    if species == "jellyfish":
        dome = [(cx + s * math.cos(a), cy - s * 0.8 * math.sin(a)) for a in np.linspace(0, math.pi, 12)]
        return dome + [(cx - s * 0.8, cy + s * 1.2), (cx, cy + s * 0.6), (cx + s * 0.8, cy + s * 1.2)]
    length = s * (2.6 if species == "shark" else 1.8)
    flip = -1 if rng.random() < 0.5 else 1
    body = [(cx + flip * length * 0.5 * math.cos(a), cy + s * 0.45 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 16, endpoint=False)]
    tail_x = cx - flip * length * 0.5
    return body[:8] + [(tail_x - flip * s * 0.5, cy + s * 0.5), (tail_x - flip * s * 0.5, cy - s * 0.5)] + body[8:]


def write_coco(root: Path, size: str, seed: int = 0) -> Path:
    """Images in ``root/images`` and ``root/annotations.json``; returns the JSON path."""
    n_images, (w, h) = (24, (320, 240)) if size == "small" else (120, (640, 480))
    rng = np.random.default_rng(seed)
    names = list(SPECIES)
    doc = {"images": [], "annotations": [],
           "categories": [{"id": cid, "name": n, "supercategory": "animal"} for n, (cid, _, _) in SPECIES.items()]}
    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(n_images):
        img = _water(rng, w, h)
        draw = ImageDraw.Draw(img)
        image_id = 100 + i * 3  # non-contiguous image ids too
        for _ in range(int(rng.integers(0, 5)) if i % 8 else 0):  # every 8th image is empty water
            sp = names[int(rng.choice(len(names), p=[0.4, 0.15, 0.2, 0.15, 0.1]))]
            s = float(rng.uniform(0.05, 0.11) * min(w, h))
            cx, cy = float(rng.uniform(s * 1.5, w - s * 1.5)), float(rng.uniform(s * 1.5, h - s * 1.5))
            pts = _shape(sp, cx, cy, s, rng)
            colour = tuple(int(c + rng.integers(-20, 20)) for c in SPECIES[sp][1])
            draw.polygon(pts, fill=colour, outline=(0, 0, 0))
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            x0, y0 = max(0.0, min(xs)), max(0.0, min(ys))
            bbox = [round(x0, 2), round(y0, 2), round(min(w, max(xs)) - x0, 2), round(min(h, max(ys)) - y0, 2)]
            ann = {"id": len(doc["annotations"]) + 1, "image_id": image_id, "category_id": SPECIES[sp][0],
                   "bbox": bbox, "area": round(bbox[2] * bbox[3], 2), "iscrowd": 0}
            # starfish and urchins come with outlines; the others as boxes only
            ann["segmentation"] = [[round(v, 2) for p in pts for v in p]] if sp in ("starfish", "sea_urchin") else []
            doc["annotations"].append(ann)
        name = f"dive{i // 12:02d}_{i:04d}.jpg"
        img.save(root / "images" / name, quality=92)
        doc["images"].append({"id": image_id, "file_name": name, "width": w, "height": h})
    write_json(root / "annotations.json", doc)
    return root / "annotations.json"
