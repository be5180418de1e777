import base64
import io
import json

import numpy as np
from PIL import Image

from core.formats import export_dataset, import_dataset
from core.project import Project


def _labelme(path, image_name, shapes, w=120, h=80, image_data=None):
    path.write_text(json.dumps({"version": "5.5.0", "flags": {"reviewed": True}, "shapes": shapes,
                                "imagePath": image_name, "imageData": image_data,
                                "imageHeight": h, "imageWidth": w}))


def test_round_trip_and_image_data_fallback(project, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.zeros((80, 120, 3), np.uint8)).save(src / "a.png")
    shapes = [
        {"label": "car", "points": [[10, 10], [50, 40]], "shape_type": "rectangle", "group_id": 2, "flags": {}},
        {"label": "tree", "points": [[60, 10], [90, 10], [90, 50], [60, 50]], "shape_type": "polygon",
         "group_id": None, "flags": {"occluded": True}},
        {"label": "person", "points": [[100, 70]], "shape_type": "point", "group_id": None, "flags": {}},
        {"label": "road", "points": [[0, 0], [10, 10]], "shape_type": "line", "group_id": None, "flags": {}},
    ]
    _labelme(src / "a.json", "a.png", shapes)
    buf = io.BytesIO()
    Image.fromarray(np.full((80, 120, 3), 200, np.uint8)).save(buf, format="PNG")
    _labelme(src / "b.json", "b.png", shapes[:1], image_data=base64.b64encode(buf.getvalue()).decode())
    report = import_dataset(project, "labelme", src)
    assert report.images == 2 and report.annotations == 4
    assert any("line shapes have no area" in str(s) for s in report.skipped)
    b = project.images.by_name("b.png")
    assert (project.root / b.path).is_file()  # restored from imageData

    out = tmp_path / "out"
    export_dataset(project, "labelme", out)
    doc = json.loads((out / "a.json").read_text())
    assert doc["imagePath"] == "a.png" and doc["flags"] == {"reviewed": True}
    got = {(s["label"], s["shape_type"]): s for s in doc["shapes"]}
    assert got[("car", "rectangle")]["points"] == [[10, 10], [50, 40]] and got[("car", "rectangle")]["group_id"] == 2
    assert got[("tree", "polygon")]["flags"] == {"occluded": True}
    assert got[("person", "point")]["points"] == [[100, 70]]
    with Project.init(tmp_path / "back") as back:
        again = import_dataset(back, "labelme", out)
        assert again.images == 2 and again.annotations == 4 and not again.skipped


def test_broken_files_skip_alone(project, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.zeros((80, 120, 3), np.uint8)).save(src / "a.png")
    _labelme(src / "a.json", "a.png", [{"label": "x", "points": [[1, 1], [5, 5]], "shape_type": "rectangle"}])
    (src / "broken.json").write_text("{not json")
    _labelme(src / "escape.json", "../../etc/passwd", [])
    _labelme(src / "gone.json", "gone.png", [])
    report = import_dataset(project, "labelme", src)
    assert report.images == 1
    text = "\n".join(map(str, report.skipped))
    assert "broken.json: malformed JSON" in text
    assert "leaves the dataset folder" in text
    assert "gone.json: image 'gone.png' not found and no imageData" in text
