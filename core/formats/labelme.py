"""labelme JSON (one file per image), both ways.

Shapes: polygon, rectangle, point, circle (as a polygon), line and linestrip
(skipped: no area); ``group_id``, ``flags`` and ``description`` are kept as
attributes.  An image missing on disk is restored from ``imageData``."""
from __future__ import annotations

import base64
import math
import shutil
import tempfile
from pathlib import Path

from shapely.geometry import Point, box

from ..errors import FormatError, TesseraError
from ..progress import Progress, track
from ..project import Project
from ..project.annotations import NewAnnotation
from .geometry import GeometryProblem, clip_box, polygon_from_points, polygons_of, repair
from .jsonio import read_json, require, write_json
from .media import import_image, resolve_inside
from .report import Report

LABELME_VERSION = "5.5.0"


def import_labelme(project: Project, source: str | Path, split: str | None = None,
                   progress: Progress | None = None) -> Report:
    source = Path(source)
    files = sorted(source.rglob("*.json")) if source.is_dir() else [source]
    if not files:
        raise FormatError("no labelme .json files found", source)
    report = Report(format="labelme")
    for file in track(files, progress, message="importing labelme"):
        try:
            _import_one(project, file, source if source.is_dir() else file.parent, split, report)
        except TesseraError as exc:
            report.skip(exc.path or file, exc.problem)
    return report


def _import_one(project: Project, file: Path, root: Path, split: str | None, report: Report) -> None:
    data = read_json(file)
    shapes = require(data, "shapes", list, file)
    image_path = require(data, "imagePath", str, file)
    image_file = resolve_inside(file.parent, image_path, file) if not Path(image_path).is_absolute() else None
    if image_file is None:
        raise FormatError(f"imagePath {image_path!r} is absolute; labelme files must point next to themselves", file)
    rel_json = file.relative_to(root).parent
    name = (rel_json / Path(image_path).name).as_posix()
    tmpdir = None
    try:
        if not image_file.is_file():
            if not data.get("imageData"):
                raise FormatError(f"image {image_path!r} not found and no imageData inside", file)
            tmpdir = tempfile.TemporaryDirectory()
            image_file = Path(tmpdir.name) / Path(image_path).name
            try:
                image_file.write_bytes(base64.b64decode(data["imageData"], validate=True))
            except ValueError:
                raise FormatError("imageData is not valid base64", file) from None
        meta = {"labelme_flags": data["flags"]} if data.get("flags") else None
        import_image(project, image_file, name, report, split=split, source="labelme", meta=meta,
                     annotate=lambda image: [
                         item for i, shape in enumerate(shapes)
                         if (item := _shape(shape, i, image.id, image.width, image.height, project,
                                            report, file)) is not None])
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()


def _shape(shape: dict, i: int, image_id: int, width: int, height: int, project: Project,
           report: Report, file: Path) -> NewAnnotation | None:
    if not isinstance(shape, dict) or not shape.get("label") or not isinstance(shape.get("points"), list):
        report.skip(file, f"shape {i}: needs a label and points")
        return None
    kind = shape.get("shape_type") or "polygon"
    attrs = {k: shape[k] for k in ("group_id", "flags", "description") if shape.get(k) not in (None, {}, "")}
    pts = shape["points"]
    try:
        if kind == "rectangle":
            (x1, y1), (x2, y2) = pts[0], pts[1]
            (x1, y1, x2, y2), warning = clip_box(x1, y1, x2, y2, width, height)
            if warning:
                report.warn(file, f"shape {i}: {warning}")
            geom, akind = box(x1, y1, x2, y2), "box"
        elif kind == "point":
            x, y = pts[0]
            if not (0 <= x <= width and 0 <= y <= height):
                raise GeometryProblem(f"point {x:g},{y:g} lies outside the image")
            geom, akind = Point(float(x), float(y)), "point"
        elif kind == "circle":
            (cx, cy), (px, py) = pts[0], pts[1]
            r = math.hypot(px - cx, py - cy)
            geom, notes = repair(Point(cx, cy).buffer(r, 16), width, height)
            akind = "polygon"
            attrs["labelme_shape"] = "circle"
        elif kind == "polygon":
            geom, notes = repair(polygon_from_points(pts), width, height)
            for note in notes:
                report.warn(file, f"shape {i}: {note}")
            akind = "polygon"
        else:
            report.skip(file, f"shape {i}: {kind} shapes have no area; not imported")
            return None
    except (GeometryProblem, ValueError, TypeError, IndexError) as exc:
        report.skip(file, f"shape {i}: {exc}")
        return None
    return NewAnnotation(image_id=image_id, class_id=project.classes.ensure(str(shape["label"])),
                         kind=akind, geometry=geom, attributes=attrs)


def export_labelme(project: Project, out: str | Path, progress: Progress | None = None,
                   image_ids=None) -> Report:
    out = Path(out)
    report = Report(action="export", format="labelme", output=str(out))
    names = {c.id: c.name for c in project.classes.list()}
    for image in track(project.images.list(ids=image_ids), progress, message="exporting labelme"):
        dst = out / image.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image.file(project.root), dst)
        shapes = []
        for ann in project.annotations.for_image(image.id):
            if ann.class_id is None:
                report.warn(image.name, f"annotation {ann.id} has no class; not exported")
                continue
            base = {"label": names[ann.class_id], "group_id": ann.attributes.get("group_id"),
                    "description": ann.attributes.get("description", ""),
                    "flags": ann.attributes.get("flags", {}), "mask": None}
            x1, y1, x2, y2 = ann.bbox
            if ann.kind in ("box", "mask"):
                shapes.append({**base, "shape_type": "rectangle", "points": [[x1, y1], [x2, y2]]})
                if ann.kind == "mask":
                    report.warn(image.name, f"annotation {ann.id}: RLE mask written as its box")
            elif ann.kind == "point":
                shapes.append({**base, "shape_type": "point", "points": [[ann.geometry.x, ann.geometry.y]]})
            else:
                for p in polygons_of(ann.geometry):
                    pts = [[round(x, 3), round(y, 3)] for x, y in list(p.exterior.coords)[:-1]]
                    shapes.append({**base, "shape_type": "polygon", "points": pts})
            report.annotations += 1
        write_json(dst.with_suffix(".json"), {
            "version": LABELME_VERSION, "flags": image.meta.get("labelme_flags", {}), "shapes": shapes,
            "imagePath": Path(image.name).name, "imageData": None,
            "imageHeight": image.height, "imageWidth": image.width}, indent=2)
        report.images += 1
    return report
