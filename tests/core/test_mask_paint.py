import numpy as np
import pytest

from core.errors import ProjectError
from core.project.mask_paint import blank_mask, flood_fill, stroke


def test_a_stroke_paints_a_band_of_the_brush_width_and_undoes_exactly():
    mask = np.zeros((100, 200), np.uint8)
    mask[:, 150:] = 2
    original = mask.copy()
    mask, patch = stroke(mask, [(20, 50), (120, 50)], radius=5, value=3)
    assert patch is not None
    assert (mask[50, 20:121] == 3).all()
    assert (mask[45:56, 60] == 3).all() and mask[43, 60] == 0 and mask[57, 60] == 0
    assert mask[50, 14] == 0 and mask[50, 16] == 3  # round end, radius 5
    assert (mask[:, 150:] == 2).all()  # untouched outside the stroke
    patch.apply(mask, undo=True)
    assert np.array_equal(mask, original)
    patch.apply(mask)
    assert (mask[50, 20:121] == 3).all()


def test_eraser_is_a_stroke_of_zero_and_a_stroke_off_the_image_changes_nothing():
    mask = np.full((50, 50), 4, np.uint8)
    mask, patch = stroke(mask, [(25, 25)], radius=3, value=0)
    assert mask[25, 25] == 0 and mask[25, 29] == 4
    _, nothing = stroke(mask, [(-100, -100)], radius=3, value=1)
    assert nothing is None


def test_flood_fill_fills_the_connected_region_only():
    mask = np.zeros((40, 40), np.uint8)
    mask[:, 20] = 1  # a wall
    mask, patch = flood_fill(mask, 5, 5, 7)
    assert (mask[:, :20] == 7).all() and (mask[:, 21:] == 0).all() and (mask[:, 20] == 1).all()
    assert patch.x == 0 and patch.before.shape == (40, 20)
    assert flood_fill(mask, 5, 5, 7)[1] is None  # already that label


def test_labels_over_255_widen_the_mask():
    mask, _ = stroke(np.zeros((10, 10), np.uint8), [(5, 5)], 2, 300)
    assert mask.dtype == np.uint16 and mask[5, 5] == 300


def test_gigapixel_images_are_not_painted_whole():
    with pytest.raises(ProjectError, match="tiles"):
        blank_mask(20000, 20000, "big.tif")


def test_painting_is_stored_at_once_and_undo_restores_the_store(demo_copy):
    project = demo_copy
    image = next(i for i in project.images.list() if not project.masks.has(i.id))
    patch = project.masks.paint(image.id, lambda m: stroke(m, [(10, 10), (40, 10)], 4, 2))
    assert project.masks.get(image.id)[10, 25] == 2
    project.masks.apply_patch(image.id, patch, undo=True)
    assert project.masks.get(image.id).max() == 0
