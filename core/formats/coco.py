"""COCO detection / instance segmentation JSON, both ways.

Boxes, polygons, RLE masks and ``iscrowd`` go through pycocotools' mask API;
category ids may be non-contiguous (kept as the classes' ``ext_id``); images
without annotations are kept.  Export writes ``OUT/annotations.json`` and
``OUT/images/``."""
from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from shapely.geometry import MultiPolygon, Point, box

from ..errors import FormatError, TesseraError
from ..progress import Progress, track
from ..project import Annotation, Project
from ..project.annotations import NewAnnotation
from .geometry import GeometryProblem, clip_box, flat_exterior, polygon_from_flat, polygons_of, repair
from .jsonio import read_json, require, write_json
from .media import import_image, resolve_inside
from .report import Report

_KNOWN_KEYS = {"id", "image_id", "category_id", "bbox", "segmentation", "area", "iscrowd", "score"}


def import_coco(project: Project, json_path: str | Path, images_dir: str | Path | None = None,
                split: str | None = None, progress: Progress | None = None) -> Report:
    json_path = Path(json_path)
    # Default: the JSON's folder, or its images/ subfolder (the layout export writes).
    roots = [Path(images_dir)] if images_dir else [json_path.parent, json_path.parent / "images"]
    data = read_json(json_path)
    images = require(data, "images", list, json_path)
    categories = data.get("categories", [])
    annotations = data.get("annotations", [])
    if not isinstance(categories, list) or not isinstance(annotations, list):
        raise FormatError("'categories' and 'annotations' must be lists", json_path)
    report = Report(format="coco")

    class_of: dict[int, int] = {}
    for cat in categories:
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            report.skip(json_path, f"category without id and name: {str(cat)[:80]}")
            continue
        class_of[int(cat["id"])] = project.classes.ensure(str(cat["name"]), ext_id=int(cat["id"]))

    by_image: dict = defaultdict(list)
    for ann in annotations:
        if not isinstance(ann, dict) or "image_id" not in ann:
            report.skip(json_path, f"annotation without image_id: {str(ann)[:80]}")
            continue
        by_image[ann["image_id"]].append(ann)
    known_ids = {img.get("id") for img in images if isinstance(img, dict)}
    for image_id, anns in by_image.items():
        if image_id not in known_ids:
            report.skip(json_path, f"{len(anns)} annotations refer to unknown image id {image_id}")

    for img in track(images, progress, message="importing COCO"):
        if not isinstance(img, dict) or "file_name" not in img or "id" not in img:
            report.skip(json_path, f"image entry without id and file_name: {str(img)[:80]}")
            continue
        name = str(img["file_name"])
        try:
            file = next((f for f in (resolve_inside(r, name, json_path) for r in roots) if f.is_file()),
                        resolve_inside(roots[0], name, json_path))
            import_image(project, file, name, report, split=split, source=f"coco:{json_path.name}",
                         annotate=lambda record: [
                             item for ann in by_image.get(img["id"], [])
                             if (item := annotation_from_coco(ann, record.id, record.width, record.height,
                                                               class_of, report, file)) is not None])
        except TesseraError as exc:
            report.skip(exc.path or name, exc.problem)
    return report


def annotation_from_coco(ann: dict, image_id: int, width: int, height: int, class_of: dict,
                          report: Report, file: Path) -> NewAnnotation | None:
    where = f"{file.name} annotation {ann.get('id', '?')}"
    cat = ann.get("category_id")
    if cat is None or int(cat) not in class_of:
        report.skip(file, f"annotation {ann.get('id', '?')}: unknown category id {cat}")
        return None
    extra = {k: v for k, v in ann.items() if k not in _KNOWN_KEYS}
    attributes = extra.pop("attributes", {}) if isinstance(extra.get("attributes"), dict) else {}
    attributes.update(extra)
    common = dict(image_id=image_id, class_id=class_of[int(cat)], iscrowd=bool(ann.get("iscrowd", 0)),
                  score=ann.get("score"), source="model" if "score" in ann else "human",
                  attributes=attributes)
    seg = ann.get("segmentation")
    try:
        if isinstance(seg, dict) or (seg and ann.get("iscrowd")):
            rle = _to_rle(seg, height, width)
            if list(rle["size"]) != [height, width]:
                raise GeometryProblem(f"RLE size {rle['size']} does not match the image {height}x{width}")
            x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
            if w <= 0 or h <= 0:
                raise GeometryProblem("empty RLE mask")
            return NewAnnotation(geometry=box(x, y, x + w, y + h), kind="mask",
                                 rle=json.dumps({"size": rle["size"], "counts": rle["counts"].decode("ascii")}),
                                 **common)
        if isinstance(seg, list) and seg:
            polys = [polygon_from_flat(p) for p in seg if isinstance(p, list) and len(p) >= 6]
            if not polys:
                raise GeometryProblem("segmentation has no polygon with 3 or more points")
            geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
            geom, notes = repair(geom, width, height)
            for note in notes:
                report.warn(file, f"annotation {ann.get('id', '?')}: {note}")
            return NewAnnotation(geometry=geom, kind="polygon", **common)
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4):
            raise GeometryProblem("no segmentation and no 4-number bbox")
        x, y, w, h = (float(v) for v in bbox)
        (x1, y1, x2, y2), warning = clip_box(x, y, x + w, y + h, width, height)
        if warning:
            report.warn(file, f"annotation {ann.get('id', '?')}: {warning}")
        return NewAnnotation(geometry=box(x1, y1, x2, y2), kind="box", **common)
    except (GeometryProblem, ValueError, TypeError) as exc:
        report.skip(file, f"{where}: {exc}")
        return None


def _to_rle(seg, height: int, width: int) -> dict:
    if isinstance(seg, dict):
        if isinstance(seg.get("counts"), list):
            return mask_utils.frPyObjects(seg, *seg["size"])
        counts = seg["counts"]
        return {"size": seg["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    rles = mask_utils.frPyObjects(seg, height, width)
    return mask_utils.merge(rles)


def export_coco(project: Project, out: str | Path, progress: Progress | None = None,
                image_ids=None, copy_images: bool = True) -> Report:
    out = Path(out)
    report = Report(action="export", format="coco", output=str(out))
    classes = project.classes.list()
    ext = [c.ext_id for c in classes]
    use_ext = all(e is not None for e in ext) and len(set(ext)) == len(ext)
    cat_id = {c.id: (c.ext_id if use_ext else i + 1) for i, c in enumerate(classes)}
    doc = {
        "info": {"description": f"Exported from Tessera project {project.name}", "version": "1.0"},
        "licenses": [],
        "categories": [{"id": cat_id[c.id], "name": c.name, "supercategory": ""} for c in classes],
        "images": [],
        "annotations": [],
    }
    for image in track(project.images.list(ids=image_ids), progress, message="exporting COCO"):
        doc["images"].append({"id": image.id, "file_name": image.name, "width": image.width,
                              "height": image.height})
        if copy_images:
            _copy(image.file(project.root), out / "images" / image.name)
        report.images += 1
        for ann in project.annotations.for_image(image.id):
            item = annotation_to_coco(ann, image.height, image.width, cat_id, report, image.name)
            if item is not None:
                item["id"] = len(doc["annotations"]) + 1
                doc["annotations"].append(item)
                report.annotations += 1
    write_json(out / "annotations.json", doc)
    return report


def annotation_to_coco(ann: Annotation, height: int, width: int, cat_id: dict, report: Report,
                        name: str) -> dict | None:
    if ann.class_id is None:
        report.warn(name, f"annotation {ann.id} has no class; not exported")
        return None
    x1, y1, x2, y2 = ann.bbox
    item = {"image_id": ann.image_id, "category_id": cat_id[ann.class_id],
            "bbox": [x1, y1, x2 - x1, y2 - y1], "iscrowd": int(ann.iscrowd)}
    if ann.kind == "box":
        item.update(segmentation=[], area=(x2 - x1) * (y2 - y1))
    elif ann.kind == "polygon":
        polys = polygons_of(ann.geometry)
        if any(p.interiors for p in polys):
            rle = _rasterize_with_holes(polys, height, width)
            item.update(segmentation=rle, area=float(mask_utils.area(_as_bytes(rle))))
            report.warn(name, f"annotation {ann.id}: polygon with holes written as an RLE mask")
        else:
            item.update(segmentation=[flat_exterior(p) for p in polys], area=float(ann.geometry.area))
    elif ann.kind == "mask":
        rle = json.loads(ann.rle) if ann.rle else None
        if rle is None:
            report.warn(name, f"annotation {ann.id}: mask without RLE data; not exported")
            return None
        item.update(segmentation=rle, area=float(mask_utils.area(_as_bytes(rle))))
    elif isinstance(ann.geometry, Point):
        report.warn(name, f"annotation {ann.id}: COCO has no point shape; not exported")
        return None
    if ann.score is not None:
        item["score"] = ann.score
    if ann.attributes:
        item["attributes"] = ann.attributes
    return item


def _as_bytes(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": rle["size"], "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def _rasterize_with_holes(polys, height: int, width: int) -> dict:
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for p in polys:
        draw.polygon([tuple(c) for c in p.exterior.coords], fill=1)
        for hole in p.interiors:
            draw.polygon([tuple(c) for c in hole.coords], fill=0)
    rle = mask_utils.encode(np.asfortranarray(np.asarray(canvas, dtype=np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists() or dst.stat().st_size != src.stat().st_size:
        shutil.copyfile(src, dst)
