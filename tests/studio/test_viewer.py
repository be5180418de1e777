"""The studio window, offscreen: it opens a project, shows tiles and only the
shapes of the visible region."""
import pytest
from shapely.geometry import box

from core.project.annotations import NewAnnotation

pytest.importorskip("PySide6")


def _settle(qtbot, viewer):
    for _ in range(5):
        viewer.loader.wait()
        qtbot.wait(50)
        viewer.settle()


def test_window_lists_images_and_classes(window):
    assert window.images.list.count() == window.project.images.count()
    assert window.palette.count() == len(window.project.classes.list())
    assert window.viewer.image is not None


def test_large_image_shows_tiles_and_only_visible_shapes(window, qtbot):
    viewer = window.viewer
    large = window.project.images.by_name("large.tif")
    window.images.select(large.id)
    _settle(qtbot, viewer)
    assert viewer.image.id == large.id and viewer._tiles
    total = window.project.annotations.count(large.id)
    viewer.set_view(2.0, (1024, 1024))
    _settle(qtbot, viewer)
    rect = viewer.visible_rect()
    in_view = window.project.annotations.ids_in_viewport(large.id, rect.left(), rect.top(), rect.right(), rect.bottom())
    assert viewer.shape_ids() == set(in_view)  # exactly the R*Tree's answer
    assert 0 < viewer.shape_count < total  # shapes outside the view are not items
    assert {k[1] for k in viewer._tiles} == {0}  # full-resolution tiles at this zoom


def test_hiding_a_class_removes_its_shapes(window, qtbot):
    viewer = window.viewer
    large = window.project.images.by_name("large.tif")
    window.images.select(large.id)
    _settle(qtbot, viewer)
    building = window.project.classes.by_name("building").id
    window._hide_classes({building})
    _settle(qtbot, viewer)
    shown = [window.project.annotations.get(i).class_id for i in viewer.shape_ids()]
    assert shown and building not in shown


def test_segmentation_tile_shows_its_mask(window, qtbot):
    tile = next(im for im in window.project.images.list() if window.project.masks.has(im.id))
    window.images.select(tile.id)
    _settle(qtbot, window.viewer)
    assert window.viewer._mask_item is not None
    window.mask_slider.setValue(80)
    assert window.viewer._mask_item.opacity() == pytest.approx(0.8)


def _opaque_pixels(viewer) -> int:
    import numpy as np

    total = 0
    for key in viewer._shape_wanted:
        image = viewer.shape_tiles.current(key).image
        if image is not None:  # (a square with no shape has no image)
            total += int((np.frombuffer(image.constBits(), np.uint8)[3::4] > 128).sum())
    return total


def test_outline_width_applies_to_shapes(window, qtbot):
    viewer = window.viewer
    image = next(im for im in window.project.images.list() if window.project.annotations.count(im.id))
    window.images.select(image.id)
    _settle(qtbot, viewer)
    thin = _opaque_pixels(viewer)
    viewer.set_selection({next(iter(viewer.shape_ids()))})
    window.outline_slider.setValue(4)
    _settle(qtbot, viewer)
    assert viewer.shape_tiles.style.width == 3 and _opaque_pixels(viewer) > 1.5 * thin > 0  # the tiles, redrawn
    assert [item.pen().widthF() for item in viewer._selection_items] == [5.0]  # the selection, wider still


def test_panorama_draws_pairs_and_groups_across_the_seam(window, qtbot):
    from studio.viewer.relations import group_frames, pair_segments

    frame = next(im for im in window.project.images.list() if im.meta.get("panorama"))
    window.images.select(frame.id)
    _settle(qtbot, window.viewer)
    pairs = window.project.relations.pairs(frame.id)
    assert pairs and window.viewer.relation_count >= len(pairs)
    # a pair 70 px apart across the seam of a 3760-wide panorama: two short segments to the edges
    segs = pair_segments((3700, 100, 3740, 300), (10, 100, 50, 300), 3760, wraps=True)
    assert len(segs) == 2 and {segs[0][2], segs[1][2]} == {0.0, 3760.0}
    assert len(pair_segments((100, 0, 140, 10), (300, 0, 340, 10), 3760, wraps=True)) == 1
    left, right = group_frames([(3700, 100, 3750, 300), (3740, 100, 3790, 300), (5, 100, 60, 300)], 3760, wraps=True)
    assert left[0] == 0.0 and left[2] == 68  # up to the right edge of the box at 5..60
    assert right[0] == 3692 and right[2] == 3760.0


def test_shapes_are_drawn_as_tiles_off_the_ui_thread_at_every_zoom(window, qtbot):
    """Far out, the view's thousands of shapes arrive as a few tiles drawn in
    the background, with level of detail; no shape is a graphics item except
    the selected one.  Zoomed in, the tiles hold exactly the R*Tree's answer."""
    from PySide6.QtWidgets import QGraphicsPixmapItem

    viewer = window.viewer
    large = window.project.images.by_name("large.tif")
    window.images.select(large.id)
    viewer.set_view(0.3, (large.width / 2, large.height / 2))
    viewer.refresh()
    assert viewer.pending_shape_tiles > 0  # asked of the drawing thread, not drawn here
    qtbot.waitUntil(lambda: viewer.pending_shape_tiles == 0, timeout=20000)
    assert {key[0] for key in viewer._shape_wanted} == {2}  # 1/4 scale tiles for a 0.3 zoom
    assert _opaque_pixels(viewer) > 0
    rect = viewer.visible_rect()
    assert viewer.shape_ids() == set(window.project.annotations.ids_in_viewport(
        large.id, rect.left(), rect.top(), rect.right(), rect.bottom(), viewer.min_size)) != set()
    assert viewer.min_size == 16 and "shapes (under 16 px: zoom in)" in window.status.text()
    others = [item for item in viewer.scene().items() if not isinstance(item, QGraphicsPixmapItem)]
    chosen = next(iter(viewer.shape_ids()))
    viewer.set_selection({chosen})
    shapes = [item for item in viewer.scene().items() if item.data(0) is not None]
    assert [item.data(0) for item in shapes] == [chosen] and len(others) < 10  # relations and the like, no shapes
    assert viewer.shapes_shown_share == 1.0
    viewer.set_view(0.55, (large.width / 2, large.height / 2))  # zoomed in: 1/2 scale tiles, none drawn yet
    viewer.refresh()
    assert viewer.pending_shape_tiles == len(viewer._shape_wanted) > 0
    assert viewer.shapes_shown_share == 1.0  # meanwhile the previous zoom's tiles show the shapes
    viewer.set_view(4.0, (large.width / 2, large.height / 2))
    _settle(qtbot, viewer)
    assert "zoom in" not in window.status.text()  # every shape drawn, however small
    rect = viewer.visible_rect()
    assert viewer.shape_ids() == set(window.project.annotations.ids_in_viewport(
        large.id, rect.left(), rect.top(), rect.right(), rect.bottom(), viewer.min_size))
    viewer.set_view(0.12, (large.width / 2, large.height / 2))  # far out: the close zoom's tiles cover too little
    viewer.refresh()
    assert viewer.pending_shape_tiles > 0 and viewer.shapes_shown_share == 0.0


def test_an_edit_redraws_only_the_tiles_it_touches_at_once(window, qtbot):
    """After an edit, undo or redo the view is whole at once: the touched tiles
    are drawn again on the spot, every other tile is kept as it was."""
    viewer = window.viewer
    large = window.project.images.by_name("large.tif")
    window.images.select(large.id)
    viewer.set_view(1.0, (1000, 1000))
    _settle(qtbot, viewer)
    before = {key: viewer._shape_items[key][1] for key in viewer._shape_wanted}
    window.editor.add_box(900, 900, 950, 950)
    new = max(a.id for a in window.project.annotations.for_image(large.id))
    assert new in viewer.shape_ids() and viewer.pending_shape_tiles == 0  # no waiting for the drawing thread
    changed = {key for key in before if viewer._shape_items[key][1] is not before[key]}
    assert changed == {(0, 3, 3)}  # the tile of 768..1024 x 768..1024 that holds the box
    window.undo_stack.undo()
    assert new not in viewer.shape_ids() and viewer.pending_shape_tiles == 0
    window.undo_stack.redo()
    assert new in viewer.shape_ids()


def test_a_click_picks_the_shape_under_it_from_the_store(window, qtbot):
    """Shapes are not items, so what is under the pointer is asked of the store:
    the smaller of two nested shapes, an edge within a few pixels, never a
    hidden class."""
    viewer, project = window.viewer, window.project
    large = project.images.by_name("large.tif")
    window.images.select(large.id)
    viewer.set_view(2.0, (15000, 15000))
    _settle(qtbot, viewer)
    cls = project.classes.list()[0].id
    outer = project.annotations.add(NewAnnotation(image_id=large.id, geometry=box(14900, 14900, 15100, 15100),
                                                  kind="box", class_id=cls))
    inner = project.annotations.add(NewAnnotation(image_id=large.id, geometry=box(14990, 14990, 15010, 15010),
                                                  kind="polygon", class_id=cls))
    viewer.reload_shapes([(14900, 14900, 15100, 15100)])
    viewer.select_at(15000, 15000)
    assert viewer.selected == {inner}
    viewer.select_at(14950, 14950)
    assert viewer.selected == {outer}
    viewer.select_at(14899, 14950)  # 2 screen pixels outside its edge
    assert viewer.selected == {outer}
    viewer.set_hidden_classes({cls})
    viewer.select_at(15000, 15000)
    assert not viewer.selected & {inner, outer}
