"""LoveDA land-cover folders, both ways, bit-exact.

``{Train,Val,Test}/{Urban,Rural}/{images_png,masks_png}/<n>.png``; mask value
0 = no-data (ignored), 1..7 = the seven classes below.  In the project a mask
pixel holds the class id (0 stays no-data); export maps it back."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import FormatError, TesseraError
from ..progress import Progress, track
from ..project import Project
from .media import import_image
from .report import Report

CLASSES = ("background", "building", "road", "water", "barren", "forest", "agriculture")
COLORS = ("#ffffff", "#ff0000", "#ffff00", "#0000ff", "#9f81b7", "#00ff00", "#ffc380")
SPLITS = {"Train": "train", "Val": "val", "Test": "test"}
DOMAINS = ("Urban", "Rural")


def ensure_classes(project: Project) -> dict[int, int]:
    """LoveDA value (1..7) -> project class id."""
    return {v: project.classes.ensure(name, color=COLORS[v - 1], ext_id=v)
            for v, name in enumerate(CLASSES, start=1)}


def read_mask(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
            arr = np.asarray(im)
    except (OSError, SyntaxError, ValueError) as exc:
        raise FormatError(f"corrupt or truncated mask ({exc})", path) from None
    if arr.ndim != 2:
        raise FormatError(f"a LoveDA mask must be single-channel, got shape {arr.shape}", path)
    return arr


def import_loveda(project: Project, root: str | Path, progress: Progress | None = None) -> Report:
    root = Path(root)
    work = []
    for folder, split in SPLITS.items():
        for domain in DOMAINS:
            images_dir = root / folder / domain / "images_png"
            if images_dir.is_dir():
                work += [(f, split, domain) for f in sorted(images_dir.glob("*.png"))]
    if not work:
        raise FormatError("no LoveDA images found (expected {Train,Val,Test}/{Urban,Rural}/images_png/*.png)", root)
    value_to_class = ensure_classes(project)
    lut = np.zeros(256, np.uint16)
    for v, cid in value_to_class.items():
        lut[v] = cid
    report = Report(format="loveda")
    for file, split, domain in track(work, progress, message="importing LoveDA"):
        mask_file = file.parent.parent / "masks_png" / file.name
        folder = next(k for k, v in SPLITS.items() if v == split)
        name = f"{folder}/{domain}/{file.name}"
        try:
            mask = None
            if mask_file.is_file():
                mask = read_mask(mask_file)
                bad = np.setdiff1d(np.unique(mask), np.arange(len(CLASSES) + 1))
                if bad.size:
                    raise FormatError(f"mask values {bad.tolist()[:5]} outside LoveDA's 0..7", mask_file)

            def store_mask(image, mask=mask, mask_file=mask_file):
                if mask is not None:
                    if mask.shape != (image.height, image.width):
                        raise FormatError(f"mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
                                          f"{image.width}x{image.height}", mask_file)
                    project.masks.set(image.id, lut[mask])
                    report.masks += 1
                return []

            import_image(project, file, name, report, annotate=store_mask, split=split, source="loveda",
                         meta={"domain": domain})
        except TesseraError as exc:
            report.skip(exc.path or file, exc.problem)
    return report


def export_loveda(project: Project, out: str | Path, progress: Progress | None = None,
                  image_ids=None) -> Report:
    out = Path(out)
    report = Report(action="export", format="loveda", output=str(out))
    by_name = {c.name: c.id for c in project.classes.list()}
    lut = {}
    for v, name in enumerate(CLASSES, start=1):
        if name in by_name:
            lut[by_name[name]] = v
    for image in track(project.images.list(ids=image_ids), progress, message="exporting LoveDA"):
        folder = {v: k for k, v in SPLITS.items()}.get(image.split or "train", "Train")
        domain = image.meta.get("domain", "Urban")
        stem = Path(image.name).stem
        dst = out / folder / domain / "images_png" / f"{stem}.png"
        dst.parent.mkdir(parents=True, exist_ok=True)
        src = image.file(project.root)
        if src.suffix.lower() == ".png":
            shutil.copyfile(src, dst)
        else:
            with Image.open(src) as im:
                im.convert("RGB").save(dst)
        report.images += 1
        mask = project.masks.get(image.id)
        if mask is None:
            continue
        values = np.unique(mask)
        unknown = [int(v) for v in values if v != 0 and int(v) not in lut]
        if unknown:
            report.warn(image.name, f"mask classes {unknown} are not LoveDA classes; written as 0 (no-data)")
        table = np.zeros(int(values.max()) + 1, np.uint8)
        for cid, v in lut.items():
            if cid < table.size:
                table[cid] = v
        mdst = out / folder / domain / "masks_png" / f"{stem}.png"
        mdst.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(table[mask]).save(mdst)
        report.masks += 1
    return report
