"""A plain folder of images (searched recursively), without annotations."""
from __future__ import annotations

from pathlib import Path

from ..errors import FormatError, TesseraError
from ..progress import Progress, track
from ..project import Project
from .media import import_image, is_image_file
from .report import Report


def import_images(project: Project, source: str | Path, split: str | None = None,
                  progress: Progress | None = None) -> Report:
    source = Path(source)
    if source.is_file():
        files, root = [source], source.parent
    elif source.is_dir():
        files, root = sorted(f for f in source.rglob("*") if f.is_file() and is_image_file(f)), source
    else:
        raise FormatError("no such file or folder", source)
    if not files:
        raise FormatError("no image files found", source)
    report = Report(format="images")
    for file in track(files, progress, message="importing images"):
        try:
            import_image(project, file, file.relative_to(root).as_posix(), report, split=split, source="images")
        except TesseraError as exc:
            report.skip(exc.path or file, exc.problem)
    return report
