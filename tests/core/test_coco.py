import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from core.errors import FormatError
from core.formats import export_dataset, import_dataset

from helpers import png_header_only


def _by_name(doc):
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    names = {im["id"]: im["file_name"] for im in doc["images"]}
    out = {}
    for a in doc["annotations"]:
        out.setdefault(names[a["image_id"]], []).append(
            (cats[a["category_id"]], len(a["segmentation"]) > 0, tuple(a["bbox"])))
    return {k: sorted(v) for k, v in out.items()}


def assert_same_annotations(a, b):
    a, b = _by_name(a), _by_name(b)
    assert a.keys() == b.keys()
    for name in a:
        assert [x[:2] for x in a[name]] == [x[:2] for x in b[name]], name
        assert np.allclose([x[2] for x in a[name]], [x[2] for x in b[name]], atol=0.02), name


def test_round_trip_keeps_everything_and_cocoeval_runs(project, demo_sources, tmp_path):
    src = demo_sources["coco"]
    report = import_dataset(project, "coco", src)
    original = json.loads(src.read_text())
    assert report.images == len(original["images"]) and report.annotations == len(original["annotations"])
    assert not report.skipped
    empty = {im["file_name"] for im in original["images"]} - {
        im["file_name"] for im in original["images"] if any(a["image_id"] == im["id"] for a in original["annotations"])}
    assert empty and all(project.images.by_name(n) for n in empty)  # images without annotations kept

    out = tmp_path / "out"
    export_dataset(project, "coco", out)
    exported = json.loads((out / "annotations.json").read_text())
    assert sorted(c["id"] for c in exported["categories"]) == [1, 3, 7, 12, 20]  # non-contiguous ids kept
    assert_same_annotations(exported, original)
    assert all((out / "images" / im["file_name"]).is_file() for im in exported["images"])

    gt = COCO(str(out / "annotations.json"))
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
            for a in exported["annotations"]]
    ev = COCOeval(gt, gt.loadRes(dets), "bbox")
    ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)

    # exported folder imports back with the default images folder (OUT/images)
    from core.project import Project
    with Project.init(tmp_path / "again") as again:
        back = import_dataset(again, "coco", out / "annotations.json")
        assert back.images == report.images and back.annotations == report.annotations


def _write(tmp_path, doc, images):
    (tmp_path / "ds").mkdir(exist_ok=True)
    for name, arr in images.items():
        Image.fromarray(arr).save(tmp_path / "ds" / name)
    path = tmp_path / "ds" / "ann.json"
    path.write_text(json.dumps(doc))
    return path


def test_rle_and_crowd_round_trip(project, tmp_path):
    m = np.zeros((40, 60), np.uint8, order="F")
    m[5:20, 10:30] = 1
    m[25:35, 40:55] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    uncompressed = {"size": [40, 60], "counts": _uncompressed(m)}
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": 60, "height": 40}],
           "categories": [{"id": 5, "name": "crowd"}],
           "annotations": [
               {"id": 1, "image_id": 1, "category_id": 5, "iscrowd": 1, "bbox": [10, 5, 45, 30],
                "segmentation": {"size": [40, 60], "counts": rle["counts"].decode()}},
               {"id": 2, "image_id": 1, "category_id": 5, "iscrowd": 1, "bbox": [10, 5, 45, 30],
                "segmentation": uncompressed}]}
    path = _write(tmp_path, doc, {"a.png": np.zeros((40, 60, 3), np.uint8)})
    report = import_dataset(project, "coco", path)
    assert report.annotations == 2 and not report.skipped
    anns = project.annotations.for_image(1)
    assert {a.kind for a in anns} == {"mask"} and all(a.iscrowd for a in anns)
    export_dataset(project, "coco", tmp_path / "out")
    exported = json.loads((tmp_path / "out" / "annotations.json").read_text())
    for a in exported["annotations"]:
        seg = a["segmentation"]
        decoded = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()})
        assert np.array_equal(decoded, m) and a["iscrowd"] == 1 and a["area"] == m.sum()


def _uncompressed(m):
    flat = m.flatten(order="F")
    counts, current, run = [], 0, 0
    for v in flat:
        if v == current:
            run += 1
        else:
            counts.append(run)
            current, run = v, 1
    counts.append(run)
    return counts


def test_bad_inputs_are_reported_and_the_rest_imported(project, tmp_path):
    rgb = np.full((50, 80, 3), 90, np.uint8)
    doc = {
        "images": [{"id": 1, "file_name": "ok.png", "width": 80, "height": 50},
                   {"id": 2, "file_name": "cut.jpg", "width": 80, "height": 50},
                   {"id": 3, "file_name": "../../escape.png", "width": 80, "height": 50},
                   {"id": 4, "file_name": "missing.png", "width": 80, "height": 50},
                   {"id": 5, "file_name": "bomb.png", "width": 60000, "height": 60000}],
        "categories": [{"id": 1, "name": "thing"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [70, 40, 30, 30]},           # outside: clipped
            {"id": 2, "image_id": 1, "category_id": 99, "bbox": [1, 1, 5, 5]},             # unknown category
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [0, 0, 20, 20],
             "segmentation": [[0, 0, 20, 20, 20, 0, 0, 20]]},                             # bow-tie: repaired
            {"id": 4, "image_id": 1, "category_id": 1, "bbox": [200, 200, 5, 5]},          # entirely outside
            {"id": 5, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5]},
        ]}
    path = _write(tmp_path, doc, {"ok.png": rgb})
    Image.fromarray(rgb).save(tmp_path / "ds" / "full.jpg")
    (tmp_path / "ds" / "cut.jpg").write_bytes((tmp_path / "ds" / "full.jpg").read_bytes()[:200])
    png_header_only(tmp_path / "ds" / "bomb.png", 60000, 60000)

    report = import_dataset(project, "coco", path)
    assert report.images == 1 and report.annotations == 2
    reasons = "\n".join(str(s) for s in report.skipped)
    assert "unknown category id 99" in reasons
    assert "cut.jpg: corrupt or truncated" in reasons
    assert "leaves the dataset folder" in reasons
    assert "missing.png: file not found" in reasons
    assert "bomb.png: 60000x60000 pixels is over" in reasons
    assert "lies outside" in reasons
    warnings = "\n".join(str(w) for w in report.warnings)
    assert "clipped to 70,40,80,50" in warnings and "repaired" in warnings
    kinds = sorted(a.kind for a in project.annotations.for_image(1))
    assert kinds == ["box", "polygon"]
    poly = next(a for a in project.annotations.for_image(1) if a.kind == "polygon")
    assert poly.geometry.is_valid and poly.geometry.area == pytest.approx(200)


def test_malformed_json_names_the_file_and_changes_nothing(project, demo_sources, tmp_path):
    import_dataset(project, "coco", demo_sources["coco"])
    before = project.summary()
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [ {"id": 1, ')
    with pytest.raises(FormatError, match=r"broken.json: malformed JSON: .* line 1"):
        import_dataset(project, "coco", bad)
    no_images = tmp_path / "noimages.json"
    no_images.write_text('{"annotations": []}')
    with pytest.raises(FormatError, match="noimages.json: missing 'images'"):
        import_dataset(project, "coco", no_images)
    assert project.summary() == before


def test_reimport_is_idempotent(project, demo_sources):
    first = import_dataset(project, "coco", demo_sources["coco"])
    n, k = project.images.count(), project.annotations.count()
    again = import_dataset(project, "coco", demo_sources["coco"])
    assert project.images.count() == n == first.images
    assert project.annotations.count() == k  # no duplicates
    assert again.images == 0 and len(again.warnings) == n
    assert "already in the project" in str(again.warnings[0])
