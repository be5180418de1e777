import json

from core.formats import export_dataset, import_dataset
from core.formats.jrdb import BOXES, SOCIAL


def _load(root, sub):
    return {p.stem: json.loads(p.read_text()) for p in (root / sub).glob("*.json")}


def test_round_trip_is_equal(project, demo_sources, tmp_path):
    src = demo_sources["jrdb"]
    report = import_dataset(project, "jrdb", src)
    assert not report.skipped and report.relations > 0 and report.groups > 0
    out = tmp_path / "out"
    export_dataset(project, "jrdb", out)
    assert _load(out, BOXES) == _load(src, BOXES)
    assert _load(out, SOCIAL) == _load(src, SOCIAL)
    frames = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.jpg"))
    assert frames == sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))


def test_persons_groups_pairs_and_the_seam(project, demo_sources):
    import_dataset(project, "jrdb", demo_sources["jrdb"])
    image = project.images.list()[0]
    assert image.width == 3760 and image.meta["panorama"]
    anns = project.annotations.for_image(image.id)
    assert all(a.track.startswith("pedestrian:") for a in anns)
    straddling = [a for a in anns if a.bbox[2] > image.width]
    assert straddling, "the demo has a group across the seam; its boxes run past the right edge"
    groups = project.relations.groups(image.id)
    seam_group = next(g for g in groups if any(a.id in g.members for a in straddling))
    xs = [next(a for a in anns if a.id == m).bbox[0] for m in seam_group.members]
    assert min(xs) < 200 or max(xs) > 3500
    pairs = project.relations.pairs(image.id)
    assert pairs and all(p.labels for p in pairs)
    member_sets = [set(g.members) for g in groups]
    assert all(any({p.a_id, p.b_id} <= s for s in member_sets) for p in pairs)


def test_pair_with_unknown_person_is_reported(project, tmp_path, demo_sources):
    import shutil

    src = tmp_path / "jrdb"
    shutil.copytree(demo_sources["jrdb"], src)
    social = next((src / SOCIAL).glob("*.json"))
    doc = json.loads(social.read_text())
    frame = next(iter(doc["labels"]))
    doc["labels"][frame][0].setdefault("H-interaction", []).append(
        {"pair": "pedestrian:999", "box_pair": [0, 0, 1, 1], "inter_labels": {"conversation": 1}})
    social.write_text(json.dumps(doc))
    report = import_dataset(project, "jrdb", src)
    assert any("interaction with unknown person pedestrian:999" in str(s) for s in report.skipped)
    assert report.images == len(list(src.rglob("*.jpg")))
