from core.imagery.viewport import level_for_scale, lod_min_size, visible_tiles


def test_level_follows_zoom():
    assert level_for_scale(1.0, 8) == 0 and level_for_scale(2.0, 8) == 0
    assert level_for_scale(0.5, 8) == 1 and level_for_scale(0.3, 8) == 1 and level_for_scale(0.25, 8) == 2
    assert level_for_scale(1e-6, 8) == 7


def test_visible_tiles_cover_the_view_and_stay_inside():
    tiles = visible_tiles(1000, 1000, 1500, 1300, 20000, 20000, 0, margin=0)
    assert {(r, c) for r, c in tiles} == {(r, c) for r in range(3, 6) for c in range(3, 6)}
    assert visible_tiles(-500, -500, 100, 100, 600, 600, 0, margin=1) == sorted(
        [(0, 0), (0, 1), (1, 0), (1, 1)], key=lambda rc: (rc[0] - 0.5) ** 2 + (rc[1] - 0.5) ** 2)
    whole = visible_tiles(0, 0, 20000, 20000, 20000, 20000, 6, margin=0)
    assert len(whole) == 4  # 20000 / (256 * 64) -> 2 x 2 tiles
    assert visible_tiles(30000, 30000, 40000, 40000, 20000, 20000, 0, margin=0) == []
    assert lod_min_size(0.01) == 400.0 and lod_min_size(0.01, 2.0) == 200.0


def test_a_square_is_covered_where_in_view_and_in_the_image():
    from core.imagery.viewport import covered

    def is_placed(row: int, col: int) -> bool:
        return (row, col) in {(0, 0), (0, 1)}

    # a 512-square over tiles of 256: its top row is placed, its bottom row is not
    assert not covered((0, 0, 512, 512), (0, 0, 1000, 1000), (1000, 1000), 256, is_placed)
    assert covered((0, 0, 512, 512), (0, 0, 1000, 200), (1000, 1000), 256, is_placed)  # only the top row in view
    assert covered((0, 0, 512, 512), (0, 0, 1000, 1000), (1000, 200), 256, is_placed)  # the image ends at 200
    assert covered((2000, 2000, 2100, 2100), (0, 0, 1000, 1000), (3000, 3000), 256, is_placed)  # out of view
