"""Annotation packages: the queue's images out to annotators as one ZIP, and
the annotated ZIP back in.

A package holds ``images/``, ``thumbnails/``, ``annotations.json`` (COCO:
the project's categories, each image's current annotations, and the model's
pre-labels as suggestions when asked) and ``manifest.json`` (the project's
identity, each image's checksum and the digest of its annotations when the
package was made, and a SHA-256 for every file but ``annotations.json``,
which is the one file annotators change).

Receiving checks everything before it writes anything: the ZIP itself
(entries that would land outside its folder, links, oversized members,
absurd compression ratios, truncation), the manifest and checksums, the
images (known to this project, unchanged), the categories (mapped by name)
and the COCO structure.  A package that fails any of these is refused whole
and the store is untouched; then each image's annotations are replaced in
one transaction, reporting every annotation rejected on its own."""
from __future__ import annotations

import hashlib
import io
import json
import posixpath
import stat
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import TesseraError
from ..formats.coco import annotation_from_coco, annotation_to_coco
from ..formats.report import Report
from ..progress import Progress, track
from ..project import Project

FORMAT = "tessera-annotation-package"
VERSION = 1
ANNOTATIONS = "annotations.json"
MANIFEST = "manifest.json"
THUMB = 256
MAX_MEMBER_BYTES = 2 << 30  # one image in a package; larger is not an image an annotator opens
MAX_TOTAL_BYTES = 32 << 30
MAX_MEMBERS = 200_000
MAX_RATIO = 100  # uncompressed / compressed, for members over RATIO_FLOOR: beyond it, a ZIP bomb
RATIO_FLOOR = 1 << 20
SUGGESTION = "suggestion"  # attribute marking a model's pre-label; receive leaves those out


class PackageError(TesseraError):
    """A package refused whole; ``problems`` lists every reason found."""

    def __init__(self, path, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(f"package refused, nothing imported: {shown}", path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def annotations_digest(project: Project, image_id: int) -> str:
    """A digest of an image's human annotations: tells whether they changed
    in the project while a package was out."""
    items = sorted((a.class_id or 0, a.kind, a.geometry.wkb_hex, a.rle or "", json.dumps(a.attributes, sort_keys=True))
                   for a in project.annotations.for_image(image_id))
    return _sha256(json.dumps(items).encode())


# -- out -------------------------------------------------------------------
def write_package(project: Project, out: str | Path, image_ids: list[int] | None = None, top: int | None = None,
                  prelabels: bool = False, conf: float = 0.25, progress: Progress | None = None) -> dict:
    """Write the package; default images: the pending queue (``top`` first).
    Their queue items become ``exported``."""
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise TesseraError("the package file must end in .zip", out)
    queue = project.queue.items("pending")
    if image_ids is None:
        image_ids = [item.image_id for item in queue]
        if not image_ids:
            raise TesseraError("the queue has no pending images: score the pool first (tessera score)")
    if top is not None:
        image_ids = image_ids[:top]
    model_id = next((item.model_id for item in project.queue.items() if item.model_id is not None), None)
    if prelabels:
        if model_id is None:
            raise TesseraError("pre-labels come from the queue's model, and the queue has none: score the pool first")
        from ..predict import predict_image

        for image_id in track(image_ids, progress, message="pre-labelling"):
            predict_image(project, model_id, image_id, conf)
    classes = project.classes.list()
    cat_id = {c.id: c.id for c in classes}
    coco = {"info": {"description": f"Annotation package of Tessera project {project.name}"},
            "categories": [{"id": c.id, "name": c.name, "supercategory": "", "critical": bool(c.critical)}
                           for c in classes],
            "images": [], "annotations": []}
    manifest = {"format": FORMAT, "version": VERSION, "project": {"id": project.identity, "name": project.name},
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "model": model_id,
                "method": queue[0].method if queue else None, "images": [], "files": {}}
    report = Report(action="export", format="package")
    tmp = out.with_name(out.name + ".part")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        def add(name: str, data: bytes, compress: bool = True) -> None:
            zf.writestr(name, data, zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            manifest["files"][name] = {"sha256": _sha256(data), "size": len(data)}

        for image_id in track(image_ids, progress, message="packaging"):
            image = project.images.get(image_id)
            data = image.file(project.root).read_bytes()
            add(f"images/{image.name}", data, compress=False)  # JPEG/PNG do not compress further
            add(f"thumbnails/{Path(image.name).stem}.jpg", _thumbnail(project, image), compress=False)
            coco["images"].append({"id": image.id, "file_name": image.name, "width": image.width,
                                   "height": image.height})
            manifest["images"].append({"id": image.id, "name": image.name, "checksum": image.checksum,
                                       "width": image.width, "height": image.height,
                                       "annotations": annotations_digest(project, image_id)})
            shapes = project.annotations.for_image(image_id)
            if prelabels:
                shapes += project.annotations.for_image(image_id, source="model")
            for ann in shapes:
                item = annotation_to_coco(ann, image.height, image.width, cat_id, report, image.name)
                if item is None:
                    continue
                if ann.source == "model":
                    item["attributes"] = {**item.get("attributes", {}), SUGGESTION: True}
                item["id"] = len(coco["annotations"]) + 1
                coco["annotations"].append(item)
        zf.writestr(ANNOTATIONS, json.dumps(coco, indent=1))
        zf.writestr(MANIFEST, json.dumps(manifest, indent=1))
    tmp.replace(out)
    project.queue.set_state(image_ids, "exported")
    return {"package": str(out), "images": len(image_ids), "annotations": len(coco["annotations"]),
            "suggestions": sum(1 for a in coco["annotations"] if a.get("attributes", {}).get(SUGGESTION)),
            "warnings": [str(w) for w in report.warnings]}


def _thumbnail(project: Project, image) -> bytes:
    from PIL import Image

    from ..imagery.pyramid import TilePyramid

    pyramid = TilePyramid(image.file(project.root), image.checksum, project.cache_dir)
    try:
        pixels = pyramid.thumbnail(THUMB)
    finally:
        pyramid.close()
    buf = io.BytesIO()
    Image.fromarray(pixels).convert("RGB").save(buf, "JPEG", quality=85)
    return buf.getvalue()


# -- back in ---------------------------------------------------------------
@dataclass
class ReceiveReport:
    package: str
    images: int = 0
    annotations: int = 0
    suggestions_left: int = 0
    rejected: list[str] = field(default_factory=list)  # items left out, each with its reason
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def summary(self) -> str:
        line = f"received {self.images} images, {self.annotations} annotations from {Path(self.package).name}"
        if self.suggestions_left:
            line += f"; {self.suggestions_left} unconfirmed suggestions left out"
        if self.rejected:
            line += f"; rejected {len(self.rejected)}"
        return line


def _unsafe_name(name: str) -> str | None:
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute or Windows path"
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../") or "/../" in f"/{name}/":
        return "a path that leaves the package folder"
    return None


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, keep: bool) -> tuple[str, bytes | None]:
    """The member's SHA-256 (and its bytes when ``keep``), read in chunks and
    never past what its header declares (a lying header is refused)."""
    digest, size, kept = hashlib.sha256(), 0, []
    with zf.open(info) as src:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > info.file_size:
                break
            digest.update(chunk)
            if keep:
                kept.append(chunk)
    if size != info.file_size:
        raise ValueError(f"{info.filename} holds more or fewer bytes than its header says")
    return digest.hexdigest(), (b"".join(kept) if keep else None)


def read_package(path: str | Path) -> tuple[dict, dict]:
    """Open and check the ZIP's structure and checksums: ``(manifest, coco)``
    or :class:`PackageError` naming every problem.  Images are hashed as
    they stream, never held in memory."""
    path = Path(path)
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise TesseraError("no such file", path) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(path, [f"not a readable ZIP (truncated or damaged): {exc}"]) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PackageError(path, [f"{len(infos)} entries; a package holds at most {MAX_MEMBERS}"])
        total = 0
        for info in infos:
            why = _unsafe_name(info.filename)
            if why:
                problems.append(f"entry {info.filename!r} is {why}: it would write outside the package folder")
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                problems.append(f"entry {info.filename!r} is a symbolic link")
            if info.file_size > MAX_MEMBER_BYTES:
                problems.append(f"entry {info.filename!r} is {info.file_size:,} bytes uncompressed "
                                f"(over {MAX_MEMBER_BYTES:,})")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(1, info.compress_size):
                problems.append(f"entry {info.filename!r} expands {info.file_size / max(1, info.compress_size):.0f}"
                                f"-fold (over {MAX_RATIO}): refused as a possible ZIP bomb")
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            problems.append(f"{total:,} bytes uncompressed in all (over {MAX_TOTAL_BYTES:,})")
        if problems:
            raise PackageError(path, problems)
        members: dict[str, bytes] = {}  # the two JSON files
        digests: dict[str, str] = {}
        for info in infos:
            if info.is_dir():
                continue
            try:
                digests[info.filename], data = _read_member(zf, info, info.filename in (MANIFEST, ANNOTATIONS))
                if data is not None:
                    members[info.filename] = data
            except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as exc:
                problems.append(f"entry {info.filename!r} cannot be read (truncated or damaged): {exc}")
    if problems:
        raise PackageError(path, problems)
    manifest = _json_member(members, MANIFEST, problems)
    coco = _json_member(members, ANNOTATIONS, problems)
    if problems:
        raise PackageError(path, problems)
    if manifest.get("format") != FORMAT:
        raise PackageError(path, [f"{MANIFEST} is not a Tessera annotation package manifest"])
    if int(manifest.get("version", 0)) > VERSION:
        raise PackageError(path, [f"package version {manifest.get('version')} is newer than this Tessera reads"])
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise PackageError(path, [f"{MANIFEST} has no file list"])
    for name, entry in files.items():
        if name not in digests:
            problems.append(f"{name} is listed in the manifest but missing")
        elif not isinstance(entry, dict) or digests[name] != entry.get("sha256"):
            problems.append(f"{name} does not match its checksum")
    if problems:
        raise PackageError(path, problems)
    return manifest, coco


def _json_member(members: dict, name: str, problems: list[str]) -> dict:
    if name not in members:
        problems.append(f"{name} is missing")
        return {}
    try:
        doc = json.loads(members[name].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        problems.append(f"{name} is not valid JSON: {exc}")
        return {}
    if not isinstance(doc, dict):
        problems.append(f"{name} is not a JSON object")
        return {}
    return doc


def _check_against_project(project: Project, manifest: dict, coco: dict, path: Path) -> tuple[dict, dict]:
    """Everything about the package that concerns this project: ``(image id
    by package image id, class id by package category id)``."""
    problems: list[str] = []
    owner = manifest.get("project") or {}
    if owner.get("id") != project.identity:
        problems.append(f"it was made by project {owner.get('name')!r} ({owner.get('id')}), not by this one "
                        f"({project.name}, {project.identity})")
    for key in ("images", "categories", "annotations"):
        if not isinstance(coco.get(key), list):
            problems.append(f"{ANNOTATIONS}: '{key}' must be a list")
    if problems:
        raise PackageError(path, problems)
    by_name = {c.name: c.id for c in project.classes.list()}
    class_of: dict[int, int] = {}
    for cat in coco["categories"]:
        if not isinstance(cat, dict) or "id" not in cat or "name" not in cat:
            problems.append(f"{ANNOTATIONS}: a category without id and name: {str(cat)[:80]}")
        elif str(cat["name"]) not in by_name:
            problems.append(f"{ANNOTATIONS}: category {cat['name']!r} is not a class of this project")
        else:
            class_of[int(cat["id"])] = by_name[str(cat["name"])]
    packed = {int(m["id"]): m for m in manifest.get("images", []) if isinstance(m, dict) and "id" in m}
    image_of: dict[int, int] = {}
    listed = {img.get("id") for img in coco["images"] if isinstance(img, dict)}
    for img in coco["images"]:
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            problems.append(f"{ANNOTATIONS}: an image entry without id and file_name: {str(img)[:80]}")
            continue
        entry = packed.get(int(img["id"]))
        if entry is None or entry.get("name") != img["file_name"]:
            problems.append(f"{ANNOTATIONS}: image {img['file_name']!r} was not in the package as sent")
            continue
        try:
            record = project.images.get(int(entry["id"]))
        except TesseraError:
            record = None
        if record is None or record.checksum != entry.get("checksum") or record.name != entry.get("name"):
            problems.append(f"image {img['file_name']!r} is not an image of this project (or it changed)")
            continue
        image_of[int(img["id"])] = record.id
    for ann in coco["annotations"]:
        if not isinstance(ann, dict):
            problems.append(f"{ANNOTATIONS}: an annotation that is not an object: {str(ann)[:80]}")
        elif ann.get("image_id") not in listed:
            problems.append(f"{ANNOTATIONS}: annotation {ann.get('id', '?')} refers to unknown image "
                            f"{ann.get('image_id')}")
        elif ann.get("category_id") not in class_of:
            problems.append(f"{ANNOTATIONS}: annotation {ann.get('id', '?')} has unknown category "
                            f"{ann.get('category_id')}")
    if problems:
        raise PackageError(path, problems)
    return image_of, class_of


def receive_package(project: Project, path: str | Path, progress: Progress | None = None) -> ReceiveReport:
    path = Path(path)
    manifest, coco = read_package(path)
    image_of, class_of = _check_against_project(project, manifest, coco, path)
    sent = {int(m["id"]): m for m in manifest["images"]}
    report = ReceiveReport(str(path))
    by_image: dict[int, list[dict]] = {i: [] for i in image_of.values()}
    for ann in coco["annotations"]:
        if (ann.get("attributes") or {}).get(SUGGESTION):
            report.suggestions_left += 1
            continue
        by_image[image_of[ann["image_id"]]].append(ann)
    received = []
    with project.transaction():
        for package_id, image_id in track(list(image_of.items()), progress, message="receiving"):
            image = project.images.get(image_id)
            if annotations_digest(project, image_id) != sent[package_id].get("annotations"):
                report.rejected.append(f"{image.name}: its annotations changed in the project while the package "
                                       f"was out; kept the project's, left the package's out")
                continue
            items_report = Report()
            new = [item for ann in by_image[image_id]
                   if (item := annotation_from_coco({k: v for k, v in ann.items() if k != "score"}, image_id,
                                                    image.width, image.height, class_of, items_report,
                                                    Path(image.name))) is not None]
            report.rejected += [str(i) for i in items_report.skipped]
            report.warnings += [str(i) for i in items_report.warnings]
            project.annotations.delete([a.id for a in project.annotations.for_image(image_id)])
            project.annotations.add_many(new)
            project.images.set_status(image_id, "done")
            received.append(image_id)
            report.images += 1
            report.annotations += len(new)
        project.queue.set_state(received, "annotated")
    return report
