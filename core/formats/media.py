"""Bringing image files into a project: safe names, checksums, copies into
``media/``, and one image record each (re-importing the same file reuses it)."""
from __future__ import annotations

import hashlib
import os
import shutil
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from ..errors import ImageError, UnsafePathError
from ..imagery.reader import IMAGE_SUFFIXES, open_image
from ..project import Project

#: Files larger than this are referenced where they are instead of copied.
COPY_LIMIT_BYTES = int(os.environ.get("TESSERA_COPY_LIMIT", 512 * 1024 * 1024))
_hardlinks = False


@contextmanager
def prefer_hardlinks():
    """Within this block, files are hard-linked into ``media/`` when they are on
    the same file system (for sources that are deleted afterwards, as the demo's)."""
    global _hardlinks
    old, _hardlinks = _hardlinks, True
    try:
        yield
    finally:
        _hardlinks = old


def safe_relative(name: str, context: str | Path = "") -> PurePosixPath:
    """A dataset-relative file name, refused when it is absolute or climbs out
    of the dataset folder (``../``)."""
    raw = name.replace("\\", "/")
    rel = PurePosixPath(raw)
    if not raw or rel.is_absolute() or (len(raw) > 1 and raw[1] == ":") or ".." in rel.parts:
        raise UnsafePathError(f"file name {name!r} leaves the dataset folder", context or name)
    parts = [p for p in rel.parts if p not in ("", ".")]
    if not parts:
        raise UnsafePathError(f"empty file name {name!r}", context or name)
    return PurePosixPath(*parts)


def resolve_inside(root: Path, name: str, context: str | Path = "") -> Path:
    """``root / name`` after checking that ``name`` stays inside ``root``
    (symbolic links included)."""
    rel = safe_relative(name, context)
    path = root / Path(*rel.parts)
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        raise UnsafePathError(f"file name {name!r} leads outside {root}", context or name) from None
    return path


def file_checksum(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def add_image_file(project: Project, file: Path, name: str, split: str | None = None,
                   source: str | None = None, meta: dict | None = None) -> tuple[int, bool]:
    """Register ``file`` under ``name``.  Returns ``(image_id, created)``.

    The file is opened (and small files fully decoded) first, so a corrupt or
    oversized image raises :class:`ImageError` before anything is stored.  The
    same name with the same content reuses the existing record; the same name
    with other content gets a numbered name."""
    with open_image(file, verify=True) as src:
        width, height = src.width, src.height
    checksum = file_checksum(file)
    rel = safe_relative(name, file)
    existing = project.images.by_name(str(rel))
    if existing is not None and existing.checksum == checksum:
        if split and existing.split != split:
            project.images.set_split({existing.id: split})
        return existing.id, False
    taken = project.images.names()
    final = rel
    n = 2
    while str(final) in taken:
        final = rel.with_name(f"{rel.stem}~{n}{rel.suffix}")
        n += 1
    meta = dict(meta or {})
    if file.stat().st_size > COPY_LIMIT_BYTES and not _hardlinks:
        stored = str(file.resolve())
        meta["linked"] = True
    else:
        target = project.media_dir / Path(*final.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or file_checksum(target) != checksum:
            tmp = target.with_name(target.name + ".part")
            tmp.unlink(missing_ok=True)
            try:
                if not _hardlinks:
                    raise OSError
                os.link(file, tmp)
            except OSError:
                shutil.copyfile(file, tmp)
            os.replace(tmp, target)
        stored = str(PurePosixPath("media", final))
    image_id = project.images.add(str(final), stored, width, height, checksum,
                                  split=split, source=source, meta=meta)
    return image_id, True


__all__ = ["safe_relative", "resolve_inside", "file_checksum", "add_image_file", "is_image_file",
           "ImageError", "UnsafePathError"]


def import_image(project: Project, file: Path, name: str, report, annotate=None, relate=None,
                 split: str | None = None, source: str | None = None, meta: dict | None = None) -> int | None:
    """Bring one image and its annotations in as one transaction.

    ``annotate(image_record)`` returns the image's ``NewAnnotation`` list (and
    may store a mask); ``relate(image_record, new_ids)`` then links them (pairs,
    groups).  An image already in the project with the same content is not
    annotated a second time: the report says so.  Returns the image id, or
    ``None`` when the image was already there."""
    with project.transaction():
        image_id, created = add_image_file(project, file, name, split=split, source=source, meta=meta)
        if not created:
            report.warn(file, f"already in the project as {name}; its annotations were not imported again")
            return None
        image = project.images.get(image_id)
        items = annotate(image) if annotate else []
        ids = project.annotations.add_many(items)
        if relate:
            relate(image, ids)
        if items or project.masks.has(image_id):
            project.images.set_status(image_id, "done")
    report.images += 1
    report.annotations += len(items)
    return image_id
