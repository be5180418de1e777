"""One large aerial-like image (20,000 x 20,000 at full size) as a tiled
BigTIFF, with thousands of polygons in a COCO file: material for the viewer."""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..formats.jsonio import write_json

TILE = 256
KINDS = {"building": (1, (170, 90, 80)), "tree": (2, (40, 110, 50)), "pond": (3, (50, 90, 160))}


def _polygons(rng: np.random.Generator, side: int, count: int) -> list[tuple[str, list[tuple[float, float]]]]:
    out = []
    names = list(KINDS)
    for _ in range(count):
        kind = names[int(rng.choice(3, p=[0.5, 0.35, 0.15]))]
        cx, cy = rng.uniform(80, side - 80, 2)
        r = float(rng.uniform(12, 60))
        if kind == "building":
            a = float(rng.uniform(0, math.pi))
            w, h = r, r * float(rng.uniform(0.5, 1.0))
            corners = [(-w, -h), (w, -h), (w, h), (-w, h)]
            pts = [(cx + x * math.cos(a) - y * math.sin(a), cy + x * math.sin(a) + y * math.cos(a)) for x, y in corners]
        else:
            n = int(rng.integers(7, 14))
            pts = [(cx + r * float(rng.uniform(0.7, 1.0)) * math.cos(2 * math.pi * k / n),
                    cy + r * float(rng.uniform(0.7, 1.0)) * math.sin(2 * math.pi * k / n)) for k in range(n)]
        out.append((kind, [(round(x, 2), round(y, 2)) for x, y in pts]))
    return out


def _render(polys, level_side: int, scale: int):
    """Tiles, row by row, of the scene drawn at 1/``scale`` of full resolution."""
    buckets: dict = defaultdict(list)
    for kind, pts in polys:
        pts = [(x / scale, y / scale) for x, y in pts]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        for ty in range(int(min(ys)) // TILE, int(max(ys)) // TILE + 1):
            for tx in range(int(min(xs)) // TILE, int(max(xs)) // TILE + 1):
                buckets[(ty, tx)].append((kind, pts))
    across = -(-level_side // TILE)
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float32)
    for ty in range(across):
        for tx in range(across):
            gx, gy = (xx + tx * TILE) * scale, (yy + ty * TILE) * scale
            field = np.sin(gx / 900.0) * np.cos(gy / 700.0)
            ground = np.stack([120 + 40 * field, 130 + 25 * field, 90 + 15 * np.sin(gy / 300.0)], -1)
            im = Image.fromarray(ground.astype(np.uint8))
            draw = ImageDraw.Draw(im)
            for kind, pts in buckets.get((ty, tx), ()):
                draw.polygon([(x - tx * TILE, y - ty * TILE) for x, y in pts], fill=KINDS[kind][1])
            yield np.asarray(im)


def write_large(root: Path, size: str, seed: int = 0) -> Path:
    """A pyramidal tiled BigTIFF (full resolution plus its own half-size
    levels as SubIFDs, as slide and aerial scanners write them) and a COCO
    file with its polygons."""
    import tifffile

    side, count = (2048, 300) if size == "small" else (20000, 5000)
    rng = np.random.default_rng(seed)
    polys = _polygons(rng, side, count)
    levels = 0
    while -(-side // (1 << (levels + 1))) >= TILE:
        levels += 1
    root.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(root / "large.tif", bigtiff=True) as tif:
        for level in range(levels + 1):
            scale = 1 << level
            level_side = -(-side // scale)
            options = {"subifds": levels} if level == 0 else {"subfiletype": 1}
            tif.write(_render(polys, level_side, scale), shape=(level_side, level_side, 3), dtype=np.uint8,
                      tile=(TILE, TILE), photometric="rgb", compression="zlib", compressionargs={"level": 1},
                      maxworkers=2, **options)
    doc = {"images": [{"id": 1, "file_name": "large.tif", "width": side, "height": side}],
           "categories": [{"id": cid, "name": name} for name, (cid, _) in KINDS.items()],
           "annotations": []}
    for i, (kind, pts) in enumerate(polys, 1):
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        doc["annotations"].append({
            "id": i, "image_id": 1, "category_id": KINDS[kind][0], "iscrowd": 0,
            "bbox": [min(xs), min(ys), round(max(xs) - min(xs), 2), round(max(ys) - min(ys), 2)],
            "segmentation": [[v for p in pts for v in p]]})
    write_json(root / "annotations.json", doc)
    return root / "annotations.json"
