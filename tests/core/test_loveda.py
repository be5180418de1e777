import numpy as np
import pytest
from PIL import Image

from core.formats import export_dataset, import_dataset
from core.formats.loveda import CLASSES


def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))


def test_mask_round_trip_is_bit_exact(project, demo_sources, tmp_path):
    src = demo_sources["loveda"]
    report = import_dataset(project, "loveda", src)
    assert report.images == report.masks == len(_files(src)) // 2 and not report.skipped
    assert [c.name for c in project.classes.list()] == list(CLASSES)
    assert {im.split for im in project.images.list()} == {"train", "val", "test"}
    out = tmp_path / "out"
    export_dataset(project, "loveda", out)
    assert _files(out) == _files(src)
    for rel in _files(src):
        a, b = np.asarray(Image.open(src / rel)), np.asarray(Image.open(out / rel))
        assert a.dtype == b.dtype and np.array_equal(a, b), rel
    all_values = np.unique(np.concatenate([np.asarray(Image.open(p)).ravel() for p in src.rglob("masks_png/*.png")]))
    assert 0 in all_values and set(all_values) <= set(range(8))


def test_bad_mask_values_and_sizes_skip_that_tile(project, tmp_path):
    d = tmp_path / "Train" / "Urban"
    (d / "images_png").mkdir(parents=True)
    (d / "masks_png").mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(d / "images_png" / f"{i}.png")
    Image.fromarray(np.ones((32, 32), np.uint8)).save(d / "masks_png" / "0.png")
    Image.fromarray(np.full((32, 32), 9, np.uint8)).save(d / "masks_png" / "1.png")
    Image.fromarray(np.ones((16, 32), np.uint8)).save(d / "masks_png" / "2.png")
    report = import_dataset(project, "loveda", tmp_path)
    assert report.images == 1 and report.masks == 1
    text = "\n".join(map(str, report.skipped))
    assert "1.png: mask values [9] outside LoveDA's 0..7" in text
    assert "2.png: mask is 32x16 but the image is 32x32" in text
    assert project.images.count() == 1  # the bad tiles left nothing behind


def test_not_a_loveda_folder(project, tmp_path):
    from core.errors import FormatError

    with pytest.raises(FormatError, match="no LoveDA images found"):
        import_dataset(project, "loveda", tmp_path)
