import numpy as np
import pytest
from PIL import Image

from core.formats import export_dataset, import_dataset
from core.project import Project


def _ultralytics_labels(yaml_path, split, task):
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = check_det_dataset(str(yaml_path))
    ds = YOLODataset(img_path=data[split], data=data, task=task, imgsz=160, augment=False)
    return data, ds.labels


@pytest.mark.parametrize("task", ["detect", "segment"])
def test_export_is_accepted_by_ultralytics_and_round_trips(demo_copy, tmp_path, task):
    out = tmp_path / "yolo"
    report = export_dataset(demo_copy, "yolo", out, task=task)
    assert report.format == f"yolo-{task}"
    data, labels = _ultralytics_labels(out / "data.yaml", "train", task)
    assert data["nc"] == len(demo_copy.classes.list())
    train = [im for im in demo_copy.images.list() if im.split == "train"]
    assert len(labels) == len(train)
    n_boxes = sum(len(lb["cls"]) for lb in labels)
    expected = sum(demo_copy.annotations.count(im.id) for im in train)
    assert n_boxes == expected
    if task == "segment":
        assert sum(len(lb["segments"]) for lb in labels) == expected

    with Project.init(tmp_path / "back") as back:
        rep = import_dataset(back, "yolo", out)
        assert not rep.skipped
        assert rep.images == demo_copy.images.count()
        assert rep.annotations == demo_copy.annotations.count()
        assert {im.split for im in back.images.list()} == {"train", "val", "test"}
        # a box survives the normalised round trip within a pixel fraction
        src = demo_copy.images.by_name("dive00_0001.jpg")
        dst = back.images.by_name("dive00_0001.jpg")
        a = sorted(x.bbox for x in demo_copy.annotations.for_image(src.id))
        b = sorted(x.bbox for x in back.annotations.for_image(dst.id))
        assert np.allclose(a, b, atol=0.01)


def test_bad_label_lines_are_reported(project, tmp_path):
    root = tmp_path / "ds"
    (root / "images" / "train").mkdir(parents=True)
    (root / "labels" / "train").mkdir(parents=True)
    Image.fromarray(np.zeros((100, 200, 3), np.uint8)).save(root / "images" / "train" / "a.png")
    (root / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n"
        "7 0.5 0.5 0.2 0.2\n"
        "0 0.95 0.5 0.2 0.2\n"
        "x y z\n"
        "1 0.1 0.1 0.3 0.3 0.1 0.3 0.3 0.1\n"
        "0 0.5 0.5\n")
    (root / "data.yaml").write_text("names: [cat, dog]\ntrain: images/train\nval: images/train\n")
    report = import_dataset(project, "yolo", root / "data.yaml")
    assert report.images == 1 and report.annotations == 3
    text = "\n".join(map(str, report.skipped))
    assert "line 2: unknown class index 7" in text and "line 4: not numbers" in text
    assert "line 6: expected 5 values" in text
    assert any("clipped" in str(w) for w in report.warnings)
    assert any("repaired" in str(w) for w in report.warnings)  # the bow-tie polygon on line 5


def test_missing_names_is_a_clear_error(project, tmp_path):
    from core.errors import FormatError

    (tmp_path / "data.yaml").write_text("train: images\n")
    with pytest.raises(FormatError, match="data.yaml: missing 'names'"):
        import_dataset(project, "yolo", tmp_path / "data.yaml")
    (tmp_path / "data.yaml").write_text("names: [a]\ntrain: [unclosed\n")
    with pytest.raises(FormatError, match="data.yaml: malformed YAML"):
        import_dataset(project, "yolo", tmp_path / "data.yaml")
