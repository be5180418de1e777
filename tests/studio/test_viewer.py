"""The studio window, offscreen: it opens a project, shows tiles and only the
shapes of the visible region."""
import pytest

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


def test_outline_width_applies_to_shapes(window, qtbot):
    viewer = window.viewer
    image = next(im for im in window.project.images.list() if window.project.annotations.count(im.id))
    window.images.select(image.id)
    _settle(qtbot, viewer)
    window.outline_slider.setValue(4)
    widths = {item.pen().widthF() for item in viewer._shapes.values()}
    assert widths == {3.0}


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


def test_a_crowded_view_is_drawn_as_one_image_off_the_ui_thread(window, qtbot, monkeypatch):
    """More shapes in view than the item budget: no items, one rendered image
    (drawn in the background); zooming in brings the editable items back."""
    import numpy as np

    from studio.viewer import view as view_module

    viewer = window.viewer
    large = window.project.images.by_name("large.tif")
    window.images.select(large.id)
    monkeypatch.setattr(view_module, "ITEM_BUDGET", 50)
    viewer.set_view(0.3, (large.width / 2, large.height / 2))
    _settle(qtbot, viewer)
    viewer.overlay.wait()
    qtbot.waitUntil(lambda: viewer._overlay_item is not None, timeout=10000)
    assert viewer.drawn_as_image and viewer.shape_count == 0
    image = viewer._overlay_item.pixmap().toImage()
    pixels = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    assert pixels.any()  # shapes were drawn into it
    viewer.set_view(4.0, (large.width / 2, large.height / 2))
    _settle(qtbot, viewer)
    assert not viewer.drawn_as_image and viewer._overlay_item is None
    rect = viewer.visible_rect()
    assert viewer.shape_ids() == set(window.project.annotations.ids_in_viewport(
        large.id, rect.left(), rect.top(), rect.right(), rect.bottom()))


def test_shape_items_arrive_over_frames_within_a_budget_and_edits_are_whole_at_once(window, qtbot, monkeypatch):
    """A frame makes only the items its time budget allows; the rest follow on
    the next turns of the event loop, until the view holds exactly the
    R*Tree's answer.  After an edit the view is whole at once."""
    from core.imagery.viewport import lod_min_size
    from studio.viewer import view as view_module

    viewer = window.viewer
    large = window.project.images.by_name("large.tif")
    window.images.select(large.id)
    _settle(qtbot, viewer)
    monkeypatch.setattr(view_module, "BUILD_BUDGET_S", 0.0)  # one shape per frame
    viewer.set_view(0.5, (large.width / 2, large.height / 2))
    viewer.set_hidden_classes(set())  # a filter change: the view's items are made afresh

    def in_view() -> set:
        r = viewer.visible_rect()
        return set(window.project.annotations.ids_in_viewport(large.id, r.left(), r.top(), r.right(), r.bottom(),
                                                              min_size=lod_min_size(viewer.scale_factor)))

    viewer.refresh()
    assert len(in_view()) > 3 and viewer.shape_count < len(in_view()) and viewer._to_build
    qtbot.waitUntil(lambda: not viewer._to_build and not viewer._refresh.isActive(), timeout=10000)
    assert viewer.shape_ids() == in_view()
    viewer.reload_shapes()  # what every edit, undo and redo calls
    assert viewer.shape_ids() == in_view() and not viewer._to_build
