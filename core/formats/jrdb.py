"""JRDB stitched panoramas with persons, social groups and pair interactions.

Layout::

    images/image_stitched/<seq>/<frame>.jpg
    labels/labels_2d_stitched/<seq>.json                  {"labels": {frame: [person, ...]}}
    labels/labels_2d_activity_social_stitched/<seq>.json  (optional) persons with
        social_group.cluster_ID and H-interaction [{pair, box_pair, inter_labels}]

Boxes are ``x y w h`` on a 360-degree panorama (3760 wide) whose left and
right edges touch, so a box may run past the right edge: it is kept that way
(``x2 > width``), never clipped.  Everything else a person entry holds is kept
in the annotation's attributes so that an export gives back the same files."""
from __future__ import annotations

import copy
import shutil
from collections import defaultdict
from pathlib import Path

from shapely.geometry import box

from ..errors import FormatError, TesseraError
from ..progress import Progress, track
from ..project import Project
from ..project.annotations import NewAnnotation
from .geometry import GeometryProblem, clip_box
from .jsonio import read_json, write_json
from .media import import_image, is_image_file, resolve_inside, safe_relative
from .report import Report

IMAGES = Path("images/image_stitched")
BOXES = Path("labels/labels_2d_stitched")
SOCIAL = Path("labels/labels_2d_activity_social_stitched")


def _labels(path: Path) -> dict:
    data = read_json(path)
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, dict):
        raise FormatError("expected {\"labels\": {frame: [persons]}}", path)
    return labels


def import_jrdb(project: Project, root: str | Path, progress: Progress | None = None) -> Report:
    root = Path(root)
    if not (root / IMAGES).is_dir():
        raise FormatError(f"no {IMAGES} folder: not a JRDB dataset", root)
    report = Report(format="jrdb")
    seqs = sorted({p.name for p in (root / IMAGES).iterdir() if p.is_dir()} |
                  {p.stem for p in (root / BOXES).glob("*.json")})
    frames: list[tuple[str, str, list, list | None]] = []
    for seq in seqs:
        try:
            safe_relative(seq)
            boxes = _labels(root / BOXES / f"{seq}.json") if (root / BOXES / f"{seq}.json").is_file() else {}
            social_file = root / SOCIAL / f"{seq}.json"
            social = _labels(social_file) if social_file.is_file() else None
        except TesseraError as exc:
            report.skip(exc.path or seq, exc.problem)
            continue
        on_disk = {p.name for p in (root / IMAGES / seq).glob("*") if is_image_file(p)} \
            if (root / IMAGES / seq).is_dir() else set()
        names = sorted(set(boxes) | set(social or {}) | on_disk)
        for frame in names:
            frames.append((seq, frame, boxes.get(frame, []),
                           None if social is None else social.get(frame, [])))
    project.classes.ensure("pedestrian")
    for seq, frame, people, social in track(frames, progress, message="importing JRDB"):
        try:
            _import_frame(project, root, seq, frame, people, social, report)
        except TesseraError as exc:
            report.skip(exc.path or f"{seq}/{frame}", exc.problem)
    return report


def _import_frame(project: Project, root: Path, seq: str, frame: str, people: list,
                  social: list | None, report: Report) -> None:
    file = resolve_inside(root / IMAGES / seq, frame, root / BOXES / f"{seq}.json")
    where = f"{seq}/{frame}"
    persons: dict[str, dict] = {}
    for source, entries in (("2d", people), ("social", social or [])):
        if not isinstance(entries, list):
            raise FormatError(f"frame {frame}: expected a list of persons", root / BOXES / f"{seq}.json")
        for e in entries:
            if not isinstance(e, dict) or "label_id" not in e or not _is_box(e.get("box")):
                report.skip(where, f"{source} entry without label_id and a 4-number box: {str(e)[:80]}")
                continue
            p = persons.setdefault(str(e["label_id"]), {"box": e["box"], "in": []})
            p["in"].append(source)
            p[source] = {k: v for k, v in e.items() if k not in ("label_id", "box", "H-interaction")}
            if source == "social":
                p["interactions"] = e.get("H-interaction", []) or []
                p["has_interaction_key"] = "H-interaction" in e
    order: list[str] = []

    def annotate(image) -> list[NewAnnotation]:
        new = []
        for label_id, p in persons.items():
            x, y, w, h = (float(v) for v in p["box"])
            try:
                (x1, y1, x2, y2), warning = clip_box(x, y, x + w, y + h, image.width, image.height, wrap=True)
            except GeometryProblem as exc:
                report.skip(where, f"{label_id}: {exc}")
                continue
            if warning:
                report.warn(where, f"{label_id}: {warning}")
            attrs = {"jrdb_in": p["in"]}
            attrs.update({f"jrdb_{k}": p[k] for k in ("2d", "social") if k in p})
            if p.get("has_interaction_key"):
                attrs["jrdb_h_interaction"] = True
            cls = project.classes.ensure(label_id.split(":")[0] or "pedestrian")
            new.append(NewAnnotation(image_id=image.id, class_id=cls, kind="box", track=label_id,
                                     geometry=box(x1, y1, x2, y2), attributes=attrs))
            order.append(label_id)
        return new

    def relate(image, new_ids: list[int]) -> None:
        ids = dict(zip(order, new_ids))
        groups: dict = defaultdict(list)
        for label_id, p in persons.items():
            cluster = (p.get("social") or {}).get("social_group", {})
            if isinstance(cluster, dict) and cluster.get("cluster_ID") is not None and label_id in ids:
                groups[cluster["cluster_ID"]].append(ids[label_id])
        for ext, members in groups.items():
            project.relations.add_group(image.id, members, ext_id=int(ext))
            report.groups += 1
        for label_id, p in persons.items():
            for inter in p.get("interactions", []):
                other = str(inter.get("pair")) if isinstance(inter, dict) else None
                if label_id not in ids or other not in ids:
                    report.skip(where, f"{label_id}: interaction with unknown person {other}")
                    continue
                extra = {k: v for k, v in inter.items() if k not in ("pair", "box_pair", "inter_labels")}
                project.relations.add_pair(image.id, ids[label_id], ids[other],
                                           labels=dict(inter.get("inter_labels") or {}), attributes=extra)
                report.relations += 1

    import_image(project, file, where, report, annotate=annotate, relate=relate, source="jrdb",
                 meta={"seq": seq, "frame": frame, "panorama": True, "social": social is not None})


def _is_box(value) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(isinstance(v, (int, float)) for v in value)


def _num(v: float):
    return int(v) if float(v).is_integer() else round(float(v), 3)


def export_jrdb(project: Project, out: str | Path, progress: Progress | None = None,
                image_ids=None) -> Report:
    out = Path(out)
    report = Report(action="export", format="jrdb", output=str(out))
    boxes_out: dict = defaultdict(dict)
    social_out: dict = defaultdict(dict)
    social_seqs = set()
    images = project.images.list(ids=image_ids)
    for image in track(images, progress, message="exporting JRDB"):
        seq = image.meta.get("seq") or "sequence"
        frame = image.meta.get("frame") or Path(image.name).name
        dst = out / IMAGES / seq / frame
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image.file(project.root), dst)
        report.images += 1
        anns = [a for a in project.annotations.for_image(image.id) if a.kind == "box"]
        by_id = {a.id: a for a in anns}
        label = {a.id: a.track or f"pedestrian:{a.id}" for a in anns}
        box_of = {a.id: [_num(a.bbox[0]), _num(a.bbox[1]), _num(a.bbox[2] - a.bbox[0]),
                         _num(a.bbox[3] - a.bbox[1])] for a in anns}
        cluster = {}
        for g in project.relations.groups(image.id):
            for m in g.members:
                cluster[m] = g.ext_id if g.ext_id is not None else g.id
        inters: dict = defaultdict(list)
        for pair in project.relations.pairs(image.id):
            if pair.a_id in by_id and pair.b_id in by_id:
                inters[pair.a_id].append({"pair": label[pair.b_id], "box_pair": box_of[pair.b_id],
                                          "inter_labels": pair.labels, **pair.attributes})
                report.relations += 1
        has_social = image.meta.get("social") or bool(cluster) or bool(inters)
        if has_social:
            social_seqs.add(seq)
        frame_boxes, frame_social = [], []
        for a in anns:
            where = a.attributes.get("jrdb_in", ["2d", "social"])
            if "2d" in where:
                entry = {"label_id": label[a.id], "box": box_of[a.id]}
                entry.update(copy.deepcopy(a.attributes.get("jrdb_2d", {})))
                frame_boxes.append(entry)
            if has_social and ("social" in where or a.id in cluster or a.id in inters):
                entry = {"label_id": label[a.id], "box": box_of[a.id]}
                entry.update(copy.deepcopy(a.attributes.get("jrdb_social", {})))
                if a.id in cluster:
                    group = entry.get("social_group") if isinstance(entry.get("social_group"), dict) else {}
                    entry["social_group"] = {**group, "cluster_ID": cluster[a.id]}
                else:
                    entry.pop("social_group", None)
                if a.id in inters or a.attributes.get("jrdb_h_interaction"):
                    entry["H-interaction"] = inters.get(a.id, [])
                frame_social.append(entry)
            report.annotations += 1
        boxes_out[seq][frame] = frame_boxes
        if has_social:
            social_out[seq][frame] = frame_social
    for seq, labels in boxes_out.items():
        write_json(out / BOXES / f"{seq}.json", {"labels": labels})
        if seq in social_seqs:
            write_json(out / SOCIAL / f"{seq}.json", {"labels": social_out[seq]})
    report.groups = sum(len(project.relations.groups(i.id)) for i in images)
    return report
