import numpy as np
import pytest
import tifffile
from PIL import Image

from core.errors import ImageError
from core.imagery import TilePyramid, level_count, open_image, tile_grid
from core.imagery.reader import TiledTiffSource
from helpers import png_header_only


@pytest.fixture
def tiled(tmp_path):
    data = np.random.default_rng(0).integers(0, 255, (1000, 1300, 3), dtype=np.uint8)
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, data, tile=(256, 256), compression="zlib", photometric="rgb")
    return path, data


def test_tiled_tiff_regions_read_only_needed_tiles(tiled, monkeypatch):
    path, data = tiled
    with open_image(path) as src:
        assert isinstance(src, TiledTiffSource) and (src.width, src.height) == (1300, 1000)
        decoded = []
        real = src._tile
        monkeypatch.setattr(src, "_tile", lambda r, c, level=0: decoded.append((r, c)) or real(r, c, level))
        region = src.read_region(250, 500, 20, 30)
        assert np.array_equal(region, data[500:530, 250:270])
        assert sorted(decoded) == [(1, 0), (1, 1), (2, 0), (2, 1)]
        assert np.array_equal(src.read_region(1200, 900, 500, 500), data[900:, 1200:])


def test_untiled_large_image_over_limit_is_refused(tmp_path):
    bomb = tmp_path / "bomb.png"
    png_header_only(bomb, 60000, 60000)
    with pytest.raises(ImageError, match=r"bomb.png: 60000x60000 pixels is over the .*tiled TIFF"):
        open_image(bomb)


def test_truncated_and_corrupt_images_name_the_file(tmp_path):
    good = tmp_path / "good.jpg"
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(good)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[:300])
    with pytest.raises(ImageError, match="cut.jpg: corrupt or truncated"):
        open_image(cut, verify=True)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"definitely not a png" * 10)
    with pytest.raises(ImageError, match="junk.png: not an image"):
        open_image(junk)


def test_pyramid_levels_and_tiles(tiled, tmp_path):
    path, data = tiled
    pyr = TilePyramid(path, "abc", tmp_path / "cache")
    assert pyr.levels == level_count(1300, 1000) == 4  # 1300 -> 650 -> 325 -> 163 fits 256
    assert pyr.grid(0) == (4, 6) and pyr.grid(1) == (2, 3)
    t = pyr.get_tile(0, 1, 2)
    assert np.array_equal(t, data[256:512, 512:768])
    edge = pyr.get_tile(0, 3, 5)
    assert edge.shape == (1000 - 768, 1300 - 1280, 3)
    top = pyr.get_tile(pyr.levels - 1, 0, 0)
    assert top.shape[:2] == (-(-1000 // 8), -(-1300 // 8))
    expected = data[:2, :2].astype(float).mean(axis=(0, 1))
    assert np.allclose(pyr.get_tile(1, 0, 0)[0, 0], expected, atol=1)
    cache = tmp_path / "cache" / "pyramids" / "abc"
    assert (cache / "1" / "0_0.png").is_file()  # built by averaging level 0: cached
    assert not (cache / "0").exists()  # the file's own tiles: read again, not cached
    region = pyr.read_level_region(1, 100, 100, 300, 50)
    assert region.shape == (50, 300, 3)
    thumb = pyr.thumbnail(128)
    assert max(thumb.shape[:2]) == 128


def test_damaged_cache_tile_is_rebuilt(tiled, tmp_path):
    path, data = tiled
    pyr = TilePyramid(path, "abc", tmp_path / "cache")
    built = pyr.get_tile(1, 0, 0)
    pyr.tile_path(1, 0, 0).write_bytes(b"garbage")
    assert np.array_equal(pyr.get_tile(1, 0, 0), built)


def test_tile_grid_covers_the_image():
    tiles = tile_grid(1000, 600, 256, 32)
    covered = np.zeros((600, 1000), bool)
    for x, y, w, h in tiles:
        assert (w, h) == (256, 256)
        covered[y:y + h, x:x + w] = True
    assert covered.all()
    assert tile_grid(100, 80, 256) == [(0, 0, 100, 80)]


def test_pyramidal_tiff_levels_are_used_without_decoding_full_resolution(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    full = rng.integers(0, 255, (1024, 1024, 3), dtype=np.uint8)
    half = rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)  # distinct, to see which level was read
    quarter = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    path = tmp_path / "pyr.tif"
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        tif.write(full, tile=(256, 256), photometric="rgb", subifds=2)
        tif.write(half, tile=(256, 256), photometric="rgb", subfiletype=1)
        tif.write(quarter, tile=(256, 256), photometric="rgb", subfiletype=1)
    pyr = TilePyramid(path, "p", tmp_path / "cache")
    assert pyr.source.native_levels == {1: 0, 2: 1, 4: 2}
    calls = []
    real = pyr.source._tile
    monkeypatch.setattr(pyr.source, "_tile", lambda r, c, level=0: calls.append(level) or real(r, c, level))
    assert np.array_equal(pyr.get_tile(2, 0, 0), quarter)
    assert np.array_equal(pyr.get_tile(1, 1, 0), half[256:512, :256])
    assert 0 not in calls and pyr.thumbnail(128).shape[:2] == (128, 128)
    assert not (tmp_path / "cache" / "pyramids" / "p" / "2").exists()  # the file's own level: not cached
