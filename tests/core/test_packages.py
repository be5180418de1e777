"""Annotation packages out and back: a round trip through a script that
plays the annotator, and tampered packages refused with the store untouched."""
import json
import zipfile

import pytest

from core.active.package import PackageError, read_package, receive_package, write_package
from core.errors import TesseraError


def _state(project):
    """Everything a refused package must leave as it was."""
    anns = sorted((a.image_id, a.class_id, a.kind, a.geometry.wkb_hex, a.source)
                  for im in project.images.list() for a in project.annotations.for_image(im.id, source=None))
    return anns, [(q.image_id, q.state) for q in project.queue.items()], \
        [(im.id, im.status) for im in project.images.list()]


@pytest.fixture
def packaged(demo_copy, tmp_path):
    """Three detection images queued (the first two without annotations), packed."""
    project = demo_copy
    dives = [im for im in project.images.list() if im.name.startswith("dive")][:3]
    for im in dives[:2]:
        project.annotations.delete([a.id for a in project.annotations.for_image(im.id)])
    project.queue.replace(None, "entropy", [(im.id, 0.9 - 0.1 * k, {}) for k, im in enumerate(dives)])
    out = tmp_path / "pkg.zip"
    result = write_package(project, out, top=2)
    return project, out, dives, result


def _rewrite(src, dst, change=None, add=None, drop_from_manifest=False):
    """Copy a package, changing members: ``change(name, data) -> data``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, change(info.filename, data) if change else data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def _annotate(name, data):
    """The annotator: one fish box on each image (by the category's name)."""
    if name != "annotations.json":
        return data
    coco = json.loads(data)
    fish = next(c["id"] for c in coco["categories"] if c["name"] == "fish")
    coco["annotations"] = [{"id": k + 1, "image_id": img["id"], "category_id": fish, "bbox": [10, 20, 30, 15],
                            "iscrowd": 0, "area": 450} for k, img in enumerate(coco["images"])]
    return json.dumps(coco).encode()


def test_package_holds_images_thumbnails_coco_and_a_manifest_and_marks_the_queue(packaged):
    project, out, dives, result = packaged
    assert result["images"] == 2
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        coco = json.loads(zf.read("annotations.json"))
    assert {f"images/{d.name}" for d in dives[:2]} <= names
    assert sum(n.startswith("thumbnails/") for n in names) == 2
    assert manifest["project"]["id"] == project.identity
    assert set(manifest["files"]) == names - {"manifest.json", "annotations.json"}
    assert {c["name"] for c in coco["categories"]} == {c.name for c in project.classes.list()}
    assert [im["file_name"] for im in coco["images"]] == [d.name for d in dives[:2]]
    states = {q.image_id: q.state for q in project.queue.items()}
    assert states == {dives[0].id: "exported", dives[1].id: "exported", dives[2].id: "pending"}


def test_round_trip_imports_the_annotations_and_updates_the_queue(packaged, tmp_path):
    project, out, dives, _ = packaged
    back = _rewrite(out, tmp_path / "back.zip", change=_annotate)
    report = receive_package(project, back)
    assert (report.images, report.annotations, report.rejected) == (2, 2, [])
    fish = next(c.id for c in project.classes.list() if c.name == "fish")
    for im in dives[:2]:
        anns = project.annotations.for_image(im.id)
        assert [(a.class_id, a.kind, a.source) for a in anns] == [(fish, "box", "human")]
        assert anns[0].bbox == pytest.approx((10, 20, 40, 35))
        assert project.images.get(im.id).status == "done"
    states = {q.image_id: q.state for q in project.queue.items()}
    assert states == {dives[0].id: "annotated", dives[1].id: "annotated", dives[2].id: "pending"}
    assert project.queue.next_pending().image_id == dives[2].id


def test_an_image_edited_in_the_project_meanwhile_keeps_its_annotations(packaged, tmp_path):
    from shapely.geometry import box

    from core.project.annotations import NewAnnotation

    project, out, dives, _ = packaged
    star = next(c.id for c in project.classes.list() if c.name == "starfish")
    project.annotations.add(NewAnnotation(image_id=dives[0].id, geometry=box(1, 1, 9, 9), kind="box", class_id=star))
    report = receive_package(project, _rewrite(out, tmp_path / "back.zip", change=_annotate))
    assert report.images == 1 and "changed in the project" in report.rejected[0]
    assert [a.class_id for a in project.annotations.for_image(dives[0].id)] == [star]


@pytest.mark.parametrize("tamper, message", [
    ("checksum", "does not match its checksum"),
    ("escape", "outside the package folder"),
    ("absolute", "outside the package folder"),
    ("category", "is not a class of this project"),
    ("truncated", "truncated or damaged"),
    ("bomb", "ZIP bomb"),
    ("foreign", "not by this one"),
    ("unknown image", "was not in the package as sent"),
])
def test_tampered_packages_are_refused_and_change_nothing(packaged, tmp_path, tamper, message):
    project, out, dives, _ = packaged
    bad = tmp_path / "bad.zip"
    if tamper == "checksum":
        _rewrite(out, bad, change=lambda n, d: d[:-10] + b"0123456789" if n.startswith("images/") else _annotate(n, d))
    elif tamper == "escape":
        _rewrite(out, bad, change=_annotate, add={"../../evil.txt": b"x"})
    elif tamper == "absolute":
        _rewrite(out, bad, change=_annotate, add={"/etc/evil.txt": b"x"})
    elif tamper == "category":
        def rename(n, d):
            if n != "annotations.json":
                return d
            coco = json.loads(_annotate(n, d))
            coco["categories"] = [{**c, "name": "kraken"} if c["name"] == "fish" else c for c in coco["categories"]]
            return json.dumps(coco).encode()
        _rewrite(out, bad, change=rename)
    elif tamper == "truncated":
        data = _rewrite(out, tmp_path / "full.zip", change=_annotate).read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif tamper == "bomb":
        _rewrite(out, bad, change=_annotate, add={"padding.bin": bytes(50 << 20)})
    elif tamper == "foreign":
        def foreign(n, d):
            if n != "manifest.json":
                return _annotate(n, d)
            m = json.loads(d)
            m["project"] = {"id": "0" * 32, "name": "elsewhere"}
            return json.dumps(m).encode()
        _rewrite(out, bad, change=foreign)
    elif tamper == "unknown image":
        def extra(n, d):
            if n != "annotations.json":
                return d
            coco = json.loads(_annotate(n, d))
            coco["images"].append({"id": 99999, "file_name": "stranger.jpg", "width": 10, "height": 10})
            return json.dumps(coco).encode()
        _rewrite(out, bad, change=extra)
    before = _state(project)
    with pytest.raises(PackageError, match=message) as err:
        receive_package(project, bad)
    assert "nothing imported" in str(err.value) and str(bad) in str(err.value)
    assert _state(project) == before


def test_a_package_needs_a_pending_queue_and_a_zip_name(project, tmp_path):
    with pytest.raises(TesseraError, match="no pending images"):
        write_package(project, tmp_path / "p.zip")
    with pytest.raises(TesseraError, match="must end in .zip"):
        write_package(project, tmp_path / "p.tar", image_ids=[])
    (tmp_path / "not.zip").write_text("hello")
    with pytest.raises(PackageError, match="not a readable ZIP"):
        read_package(tmp_path / "not.zip")


def test_cli_package_and_receive(packaged, tmp_path, capsys):
    from core.cli.main import main

    project, out, dives, _ = packaged
    root = project.root
    project.queue.set_state([d.id for d in dives], "pending")
    cli_out = tmp_path / "cli.zip"
    assert main(["package", str(root), "--out", str(cli_out), "--images", dives[2].name, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["images"] == 1
    back = _rewrite(cli_out, tmp_path / "cli-back.zip", change=_annotate)
    assert main(["receive", str(root), str(back), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["annotations"] == 1
    bad = _rewrite(back, tmp_path / "cli-bad.zip", add={"../x": b"1"})
    assert main(["receive", str(root), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cli-bad.zip" in err[0] and "outside the package folder" in err[0]
