"""Deterministic synthetic demo data shaped like the source datasets, written
in their real formats and imported through the real importers."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..errors import TesseraError
from ..formats import Report, import_dataset
from ..formats.media import prefer_hardlinks
from ..progress import Progress
from ..project import Project
from ..project.splits import assign_splits
from .landcover import write_loveda
from .large import write_large
from .panorama import write_jrdb
from .underwater import CRITICAL, write_coco

KINDS = ("segmentation", "detection", "pairs", "large")
SIZES = ("small", "full")


def build_demo(root: str | Path, kind: str = "all", size: str = "small", seed: int = 0,
               progress: Progress | None = None) -> tuple[Project, list[Report]]:
    """Create (or add to) the project at ``root`` with demo data of ``kind``."""
    kinds = KINDS if kind == "all" else (kind,)
    if any(k not in KINDS for k in kinds):
        raise TesseraError(f"unknown demo kind {kind!r}; expected one of {', '.join(KINDS)} or all")
    if size not in SIZES:
        raise TesseraError(f"unknown demo size {size!r}; expected small or full")
    project = Project.init(root)
    reports = []
    # Sources are written next to the project (same file system, so importing
    # hard-links instead of copying) and removed afterwards.
    with tempfile.TemporaryDirectory(prefix=".demo-", dir=project.root) as tmp, prefer_hardlinks():
        tmp = Path(tmp)
        for k in kinds:
            src = tmp / k
            if k == "segmentation":
                reports.append(import_dataset(project, "loveda", write_loveda(src, size, seed), progress=progress))
            elif k == "detection":
                before = {im.id for im in project.images.list()}
                reports.append(import_dataset(project, "coco", write_coco(src, size, seed), progress=progress))
                for name in CRITICAL:
                    project.classes.set_critical(name)
                assign_splits(project, seed=seed, image_ids=[
                    im.id for im in project.images.list() if im.id not in before])
            elif k == "pairs":
                before = {im.id for im in project.images.list()}
                reports.append(import_dataset(project, "jrdb", write_jrdb(src, size, seed), progress=progress))
                assign_splits(project, seed=seed, image_ids=[
                    im.id for im in project.images.list() if im.id not in before])
            elif k == "large":
                reports.append(import_dataset(project, "coco", write_large(src, size, seed),
                                              split="train", progress=progress))
                if "large-512" not in project.tiles.names():
                    large = [im.id for im in project.images.list() if im.name == "large.tif"]
                    project.tiles.create("large-512", 512, 64, image_ids=large, progress=progress)
            shutil.rmtree(src, ignore_errors=True)
    for report in reports:
        if report.skipped:
            raise TesseraError(f"demo data did not import cleanly: {report.skipped[0]}")
    return project, reports


__all__ = ["build_demo", "KINDS", "SIZES"]
