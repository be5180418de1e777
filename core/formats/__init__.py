"""Dataset formats, in and out: COCO, YOLO, LoveDA, labelme, JRDB, plain images.

``import_dataset`` and ``export_dataset`` dispatch by format name; each
returns a :class:`Report` naming every skipped item with its file and reason."""
from __future__ import annotations

from pathlib import Path

from ..errors import TesseraError
from ..progress import Progress
from ..project import Project
from .coco import export_coco, import_coco
from .images import import_images
from .jrdb import export_jrdb, import_jrdb
from .labelme import export_labelme, import_labelme
from .loveda import export_loveda, import_loveda
from .report import Issue, Report
from .yolo import export_yolo, import_yolo

IMPORT_FORMATS = ("coco", "yolo", "loveda", "labelme", "jrdb", "images")
EXPORT_FORMATS = ("coco", "yolo", "loveda", "labelme", "jrdb")


def import_dataset(project: Project, fmt: str, source: str | Path, images: str | Path | None = None,
                   split: str | None = None, progress: Progress | None = None) -> Report:
    source = Path(source)
    if not source.exists():
        raise TesseraError("no such file or folder", source)
    if fmt == "coco":
        return import_coco(project, source, images, split=split, progress=progress)
    if fmt == "yolo":
        return import_yolo(project, source, split=split, progress=progress)
    if fmt == "loveda":
        return import_loveda(project, source, progress=progress)
    if fmt == "labelme":
        return import_labelme(project, source, split=split, progress=progress)
    if fmt == "jrdb":
        return import_jrdb(project, source, progress=progress)
    if fmt == "images":
        return import_images(project, source, split=split, progress=progress)
    raise TesseraError(f"unknown import format {fmt!r}; expected one of {', '.join(IMPORT_FORMATS)}")


def export_dataset(project: Project, fmt: str, out: str | Path, progress: Progress | None = None,
                   **options) -> Report:
    exporters = {"coco": export_coco, "yolo": export_yolo, "loveda": export_loveda,
                 "labelme": export_labelme, "jrdb": export_jrdb}
    if fmt not in exporters:
        raise TesseraError(f"unknown export format {fmt!r}; expected one of {', '.join(EXPORT_FORMATS)}")
    return exporters[fmt](project, out, progress=progress, **options)


__all__ = ["import_dataset", "export_dataset", "Report", "Issue", "IMPORT_FORMATS", "EXPORT_FORMATS"]
