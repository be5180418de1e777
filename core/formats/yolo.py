"""YOLO detection and segmentation text labels with ``data.yaml``, both ways.

Layout (ultralytics'): ``images/<split>/*.jpg`` with ``labels/<split>/*.txt``;
a line is ``cls cx cy w h`` (detection) or ``cls x1 y1 x2 y2 ...``
(segmentation), all normalised to 0..1."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import yaml
from shapely.geometry import box

from ..errors import FormatError, TesseraError
from ..progress import Progress, track
from ..project import Project
from ..project.annotations import NewAnnotation
from .geometry import GeometryProblem, clip_box, polygon_from_points, polygons_of, repair
from .media import import_image, is_image_file
from .report import Report

SPLIT_KEYS = ("train", "val", "test")


def _load_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FormatError("file not found", path) from None
    except yaml.YAMLError as exc:
        raise FormatError(f"malformed YAML: {str(exc).splitlines()[0]}", path) from None
    if not isinstance(data, dict):
        raise FormatError("data.yaml should hold a mapping with 'names' and split folders", path)
    return data


def _names(data: dict, path: Path) -> list[str]:
    names = data.get("names")
    if isinstance(names, dict):
        try:
            order = sorted(int(k) for k in names)
        except ValueError:
            raise FormatError("'names' keys must be class indices", path) from None
        if order != list(range(len(order))):
            raise FormatError("'names' indices must run 0..n-1", path)
        return [str(names[k] if k in names else names[str(k)]) for k in order]
    if isinstance(names, list):
        return [str(n) for n in names]
    raise FormatError("missing 'names' (a list or an index: name mapping)", path)


def _split_images(root: Path, entry, yaml_path: Path) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    files: list[Path] = []
    for e in entries:
        p = (root / str(e))
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and is_image_file(f))
        elif p.is_file() and p.suffix == ".txt":
            for line in p.read_text().splitlines():
                if line.strip():
                    f = Path(line.strip())
                    files.append(f if f.is_absolute() else (p.parent / f))
        else:
            raise FormatError(f"split folder {e!r} not found under {root}", yaml_path)
    return files


def label_path(image: Path) -> Path:
    """ultralytics' rule: the last ``/images/`` becomes ``/labels/``, suffix ``.txt``."""
    s = str(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if sa in s:
        s = sb.join(s.rsplit(sa, 1))
    return Path(s).with_suffix(".txt")


def import_yolo(project: Project, source: str | Path, split: str | None = None,
                progress: Progress | None = None) -> Report:
    source = Path(source)
    yaml_path = source / "data.yaml" if source.is_dir() else source
    data = _load_yaml(yaml_path)
    root = Path(data["path"]) if data.get("path") and Path(str(data["path"])).is_absolute() else yaml_path.parent
    names = _names(data, yaml_path)
    class_ids = [project.classes.ensure(n) for n in names]
    report = Report(format="yolo")
    work: list[tuple[Path, str | None, Path]] = []
    seen = set()
    for key in SPLIT_KEYS:
        if not data.get(key):
            continue
        base = root / str(data[key]) if not isinstance(data[key], list) else root
        for f in _split_images(root, data[key], yaml_path):
            if f.resolve() in seen:
                continue  # val: the train folder again
            seen.add(f.resolve())
            work.append((f, split or key, base if base.is_dir() else f.parent))
    for file, split_name, base in track(work, progress, message="importing YOLO"):
        try:
            name = file.relative_to(base).as_posix() if file.is_relative_to(base) else file.name
            import_image(project, file, name, report, split=split_name, source="yolo",
                         annotate=lambda image: _read_labels(label_path(file), image.id, image.width,
                                                             image.height, class_ids, report))
        except TesseraError as exc:
            report.skip(exc.path or file, exc.problem)
    return report


def _read_labels(path: Path, image_id: int, width: int, height: int, class_ids: list[int],
                 report: Report) -> list[NewAnnotation]:
    if not path.is_file():
        return []
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        tokens = line.split()
        if not tokens:
            continue
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            report.skip(path, f"line {n}: not numbers: {line[:60]!r}")
            continue
        cls = int(values[0])
        if values[0] != cls or not 0 <= cls < len(class_ids):
            report.skip(path, f"line {n}: unknown class index {tokens[0]}")
            continue
        try:
            if len(values) == 5:
                cx, cy, w, h = values[1:]
                (x1, y1, x2, y2), warning = clip_box((cx - w / 2) * width, (cy - h / 2) * height,
                                                     (cx + w / 2) * width, (cy + h / 2) * height, width, height)
                if warning:
                    report.warn(path, f"line {n}: {warning}")
                out.append(NewAnnotation(image_id=image_id, class_id=class_ids[cls], kind="box",
                                         geometry=box(x1, y1, x2, y2)))
            elif len(values) >= 7 and len(values) % 2 == 1:
                pts = np.asarray(values[1:]).reshape(-1, 2) * (width, height)
                geom, notes = repair(polygon_from_points(pts.tolist()), width, height)
                for note in notes:
                    report.warn(path, f"line {n}: {note}")
                out.append(NewAnnotation(image_id=image_id, class_id=class_ids[cls], kind="polygon",
                                         geometry=geom))
            else:
                report.skip(path, f"line {n}: expected 5 values or an odd number >= 7, got {len(values)}")
        except GeometryProblem as exc:
            report.skip(path, f"line {n}: {exc}")
    return out


def _export_name(name: str) -> str:
    parts = name.split("/")
    return "__".join(parts) if any(p in ("images", "labels") for p in parts[:-1]) else name


def export_yolo(project: Project, out: str | Path, task: str = "auto",
                progress: Progress | None = None, image_ids=None, class_ids: list[int] | None = None,
                split_of: dict[int, str] | None = None, link: bool = False) -> Report:
    """``task``: ``detect`` (boxes), ``segment`` (polygons; boxes become
    rectangles) or ``auto`` (segment when the project has polygons or masks).
    ``class_ids`` picks and orders the classes written (others are left out);
    ``split_of`` overrides images' splits; ``link`` hard-links images instead
    of copying them (training snapshots)."""
    out = Path(out)
    if task == "auto":
        kinds = {k for (k,) in project.conn.execute("SELECT DISTINCT kind FROM annotations")}
        task = "segment" if kinds & {"polygon", "mask"} else "detect"
    if task not in ("detect", "segment"):
        raise TesseraError(f"unknown YOLO task {task!r}; expected detect, segment or auto")
    report = Report(action="export", format=f"yolo-{task}", output=str(out))
    by_id = {c.id: c for c in project.classes.list()}
    classes = [by_id[i] for i in class_ids] if class_ids is not None else list(by_id.values())
    index = {c.id: i for i, c in enumerate(classes)}
    used_splits = set()
    for image in track(project.images.list(ids=image_ids), progress, message="exporting YOLO"):
        split = (split_of or {}).get(image.id, image.split)
        split = split if split in SPLIT_KEYS else "train"
        used_splits.add(split)
        dst = out / "images" / split / _export_name(image.name)
        _place(image.file(project.root), dst, link)
        lines = []
        for ann in project.annotations.for_image(image.id):
            if class_ids is not None and ann.class_id not in index:
                continue
            if ann.class_id is None or ann.kind == "point":
                report.warn(image.name, f"annotation {ann.id} ({ann.kind}) not representable in YOLO; skipped")
                continue
            lines += _label_lines(ann, index[ann.class_id], image.width, image.height, task, report, image.name)
        lab = label_path(dst)
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text("".join(line + "\n" for line in lines))
        report.images += 1
        report.annotations += len(lines)
    spec = {"names": {i: c.name for i, c in enumerate(classes)}, "nc": len(classes)}
    for key in SPLIT_KEYS:
        if key in used_splits:
            spec[key] = f"images/{key}"
    spec.setdefault("train", "images/train")
    spec.setdefault("val", spec["train"])
    (out / "data.yaml").write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return report


def _place(src: Path, dst: Path, link: bool) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


def _label_lines(ann, cls: int, width: int, height: int, task: str, report: Report, name: str) -> list[str]:
    x1, y1, x2, y2 = ann.bbox
    if task == "detect":
        cx, cy, w, h = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height, (x2 - x1) / width, (y2 - y1) / height
        return [f"{cls} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"]
    if ann.kind == "box":
        polys = [box(x1, y1, x2, y2)]
    elif ann.kind == "mask":
        polys = _mask_polygons(ann.rle, width, height)
        report.warn(name, f"annotation {ann.id}: RLE mask traced to {len(polys)} polygon(s)")
    else:
        polys = polygons_of(ann.geometry)
    lines = []
    for p in polys:
        coords = np.asarray(p.exterior.coords)[:-1] / (width, height)
        lines.append(f"{cls} " + " ".join(f"{v:.6f}" for v in coords.ravel()))
    return lines


def _mask_polygons(rle_json: str | None, width: int, height: int):
    import cv2
    from pycocotools import mask as mask_utils

    if not rle_json:
        return []
    rle = json.loads(rle_json)
    m = mask_utils.decode({"size": rle["size"], "counts": rle["counts"].encode("ascii")})
    contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = []
    for c in contours:
        if len(c) >= 3:
            try:
                polys.append(polygon_from_points(c[:, 0, :].tolist()))
            except GeometryProblem:
                pass
    return polys
