
import pytest

from core.demo import build_demo
from core.imagery import TilePyramid, open_image


def test_demo_holds_every_kind(demo_small):
    from core.project import Project

    with Project.open(demo_small) as p:
        s = p.summary()
        assert s["masks"] >= 10 and s["relations"] > 0 and s["groups"] > 0
        assert {"fish", "pedestrian", "building", "agriculture"} <= set(s["classes"])
        assert s["critical_classes"] == ["jellyfish", "shark"]
        assert s["tile_sets"]["large-512"] > 0
        large = p.images.by_name("large.tif")
        assert p.annotations.count(large.id) == 300
        assert p.tiles.tiles("large-512", annotated_only=True)


def test_demo_is_deterministic(tmp_path):
    a, _ = build_demo(tmp_path / "a", "segmentation")
    b, _ = build_demo(tmp_path / "b", "segmentation")
    assert [i.checksum for i in a.images.list()] == [i.checksum for i in b.images.list()]
    a.close(), b.close()


def test_demo_twice_adds_nothing(tmp_path):
    p, _ = build_demo(tmp_path / "a", "pairs")
    n = p.summary()
    p.close()
    p, _ = build_demo(tmp_path / "a", "pairs")
    assert p.summary()["images"] == n["images"]
    p.close()


@pytest.mark.slow
def test_full_size_large_image_opens_without_decoding_it_whole(tmp_path):
    p, _ = build_demo(tmp_path / "big", "large", "full")
    image = p.images.by_name("large.tif")
    assert image.width >= 20000 and image.height >= 20000
    assert p.annotations.count(image.id) >= 1000
    with open_image(image.file(p.root)) as src:
        region = src.read_region(10000, 10000, 512, 512)
        assert region.shape == (512, 512, 3)
    pyr = TilePyramid.for_image(p, image)
    assert pyr.levels == 8
    view = p.annotations.in_viewport(image.id, 10000, 10000, 10512, 10512)
    assert 0 < len(view) < 50
    assert pyr.thumbnail(256).shape[:2] == (256, 256)
    p.close()
