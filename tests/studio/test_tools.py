"""The mask, relation, vertex and prediction tools: each edit stored at once,
undone and redone, and found again by a second connection."""
import pytest
from PySide6.QtCore import QPoint, Qt

from core.project import Project
from core.project.annotations import NewAnnotation


def _drag(qtbot, viewer, points: list[QPoint]) -> None:
    port = viewer.viewport()
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=points[0])
    for p in points[1:]:
        qtbot.mouseMove(port, pos=p)
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=points[-1])


def _open(window, qtbot, predicate):
    image = next(im for im in window.project.images.list() if predicate(im))
    window.images.select(image.id)
    qtbot.wait(50)
    return window.viewer.image


def test_brush_eraser_and_fill_on_a_segmentation_tile(window, qtbot):
    viewer, project = window.viewer, window.project
    image = _open(window, qtbot, lambda im: project.masks.has(im.id))
    before = project.masks.get(image.id).copy()
    window.pick_class(2)
    value = window.current_class()
    window.set_tool("brush")
    viewer.set_brush_radius(4)
    y = image.height / 2
    a, b = viewer.mapFromScene(image.width * 0.2, y), viewer.mapFromScene(image.width * 0.8, y)
    _drag(qtbot, viewer, [a, (a + b) / 2, b])
    painted = project.masks.get(image.id)
    row = painted[int(y), int(image.width * 0.25):int(image.width * 0.75)]
    assert (row == value).all()
    assert (painted[:int(y) - 20] == before[:int(y) - 20]).all()  # nothing else touched

    window.set_tool("eraser")
    _drag(qtbot, viewer, [a, b])
    assert (project.masks.get(image.id)[int(y), int(image.width * 0.25):int(image.width * 0.75)] == 0).all()

    window.undo_stack.undo()  # the eraser
    window.undo_stack.undo()  # the brush
    assert (project.masks.get(image.id) == before).all()
    window.undo_stack.redo()
    with Project.open(project.root) as again:
        assert (again.masks.get(image.id)[int(y), int(image.width * 0.25):int(image.width * 0.75)] == value).all()

    window.set_tool("fill")
    corner = viewer.mapFromScene(2, 2)
    qtbot.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton, pos=corner)
    filled = project.masks.get(image.id)
    assert filled[2, 2] == value and (filled == value).sum() > (painted == value).sum()
    window.undo_stack.undo()
    assert (project.masks.get(image.id)[int(y), int(image.width * 0.25):int(image.width * 0.75)] == value).all()


def test_relation_tool_links_a_pair_and_g_groups_persons(window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    viewer, project = window.viewer, window.project
    image = _open(window, qtbot, lambda im: im.source == "jrdb")
    boxes = [a for a in project.annotations.for_image(image.id) if a.kind == "box"]
    viewer.set_view(0.5, ((boxes[0].bbox[0] + boxes[1].bbox[2]) / 2, image.height / 2))
    viewer.settle()  # every shape tile of the view drawn
    pairs_before = len(project.relations.pairs(image.id))
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("talking, walking together", True))
    window.set_tool("relation")
    free = [b for b in boxes if b.id in viewer.shape_ids()]
    first, second = free[0], free[1]
    for ann in (first, second):
        x1, y1, x2, y2 = ann.bbox
        qtbot.mouseClick(viewer.viewport(), Qt.MouseButton.LeftButton,
                         pos=viewer.mapFromScene((x1 + x2) / 2, (y1 + y2) / 2))
    pairs = project.relations.pairs(image.id)
    assert len(pairs) == pairs_before + 1
    new = pairs[-1]
    assert {new.a_id, new.b_id} == {first.id, second.id}
    assert new.labels == {"talking": 1.0, "walking together": 1.0}
    window.undo_stack.undo()
    assert len(project.relations.pairs(image.id)) == pairs_before
    window.undo_stack.redo()
    assert len(project.relations.pairs(image.id)) == pairs_before + 1

    groups_before = {g.id: g.members for g in project.relations.groups(image.id)}
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("a new group", True))
    viewer.set_selection({first.id, second.id})
    window._ask_group()
    groups = {g.id: g.members for g in project.relations.groups(image.id)}
    created = set(groups) - set(groups_before)
    assert len(created) == 1 and groups[created.pop()] == sorted([first.id, second.id])
    for gid, members in groups.items():  # a person is in one group at a time
        if gid in groups_before:
            assert first.id not in members and second.id not in members
    window.undo_stack.undo()
    assert {g.id: g.members for g in project.relations.groups(image.id)} == groups_before


def test_move_a_shape_and_drag_a_vertex(window, qtbot):
    viewer, project = window.viewer, window.project
    image = _open(window, qtbot, lambda im: im.name == "dive00_0000.jpg")
    window.editor.add_box(100, 100, 160, 140)
    new = max(a.id for a in project.annotations.for_image(image.id))
    window.set_tool("pan")
    viewer.set_view(2.0, (130, 120))
    qtbot.wait(30)
    viewer.set_selection({new})
    start = viewer.mapFromScene(130, 120)
    _drag(qtbot, viewer, [start, start + QPoint(10, 0), start + QPoint(40, 20)])  # 20, 10 image px at 2x
    assert project.annotations.get(new).bbox == pytest.approx((120, 110, 180, 150), abs=1)
    # back in its tiles, drawn where it now is: no dragged item left, nothing left out of the tiles
    assert viewer._drag_item is None and not viewer.shape_tiles.exclude and viewer.pending_shape_tiles == 0
    drawn = {key: tile for key, (_, tile) in viewer._shape_items.items()}
    assert any(new in tile.ids.tolist() for tile in drawn.values())
    corner = viewer.mapFromScene(180, 150)  # the bottom-right handle
    _drag(qtbot, viewer, [corner, corner + QPoint(20, 20)])
    assert project.annotations.get(new).bbox == pytest.approx((120, 110, 190, 160), abs=1)
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert project.annotations.get(new).bbox == pytest.approx((100, 100, 160, 140))
    assert window.properties.title.text() == f"shape {new}"


def test_predictions_are_a_layer_that_hides_and_is_accepted(window, qtbot):
    viewer, project = window.viewer, window.project
    image = _open(window, qtbot, lambda im: im.name == "dive00_0000.jpg")
    from shapely.geometry import box

    ids = project.annotations.add_many([NewAnnotation(image_id=image.id, geometry=box(5, 5, 60, 60), kind="box",
                                                      class_id=project.classes.list()[0].id, source="model",
                                                      score=0.8)])
    viewer.reload_shapes()
    assert ids[0] in viewer.shape_ids()
    window._show_predictions(False)
    viewer.settle()
    assert ids[0] not in viewer.shape_ids()
    window._show_predictions(True)
    viewer.settle()
    assert ids[0] in viewer.shape_ids()
    assert ids[0] not in {a.id for a in project.annotations.for_image(image.id)}  # not ground truth yet
    window._accept_predictions()
    assert ids[0] in {a.id for a in project.annotations.for_image(image.id)}
    window.undo_stack.undo()
    assert project.annotations.get(ids[0]).source == "model"


def test_import_in_a_thread_shows_the_report_and_the_new_images(window, qtbot, demo_sources):
    before = window.images.list.count()
    with qtbot.waitSignal(window.datasetTaskDone, timeout=60000) as blocker:  # connected before the thread starts
        window.import_data("coco", str(demo_sources["coco"]), show_report=False)
    report, error = blocker.args
    qtbot.wait(50)
    assert report.images == 0 and report.warnings and not error  # the demo has them already: nothing twice
    assert window.images.list.count() == before
    with qtbot.waitSignal(window.datasetTaskDone, timeout=60000) as blocker:
        window.import_data("coco", str(demo_sources["coco"].parent / "missing.json"), show_report=False)
    assert blocker.args[0] is None
    assert "missing.json" in blocker.args[1]


def test_minimap_help_overlay_and_image_status(window, qtbot):
    viewer = window.viewer
    image = _open(window, qtbot, lambda im: im.name == "dive00_0000.jpg")
    viewer.set_view(4.0, (10, 10))
    qtbot.wait(30)
    window.minimap.centerRequested.emit(image.width / 2, image.height / 2)
    centre = viewer.visible_rect().center()
    assert abs(centre.x() - image.width / 2) < 5 and abs(centre.y() - image.height / 2) < 5
    window.help.toggle()
    assert window.help.isVisible() and "Brush" in window.help.label.text() and "Ctrl+Z" in window.help.label.text()
    window.help.toggle()
    window.project.images.set_status(image.id, "unlabeled")
    window.editor.add_point(5, 5)
    assert window.project.images.get(image.id).status == "in_progress"
    window._set_status("done")
    assert window.project.images.get(image.id).status == "done"
    window.images.status_filter.setCurrentText("done")
    shown = [window.images.list.item(r) for r in range(window.images.list.count())
             if not window.images.list.item(r).isHidden()]
    assert image.id in [i.data(Qt.ItemDataRole.UserRole) for i in shown]
    assert all(window.project.images.get(i.data(Qt.ItemDataRole.UserRole)).status == "done" for i in shown)
    window.images.status_filter.setCurrentText("in progress")
    assert window.images._items[image.id].isHidden()


def test_import_and_export_dialogs_give_what_was_chosen(qtbot, tmp_path):
    from studio.dataset_io import ExportDialog, ImportDialog

    dialog = ImportDialog()
    qtbot.addWidget(dialog)
    dialog.format.setCurrentText("yolo")
    assert "YOLO" in dialog.help.text()
    dialog.source.setText(str(tmp_path / "data.yaml"))
    dialog.split.setCurrentText("val")
    assert dialog.values() == {"fmt": "yolo", "path": str(tmp_path / "data.yaml"), "images": None, "split": "val"}
    export = ExportDialog()
    qtbot.addWidget(export)
    export.format.setCurrentText("coco")
    export.out.setText(str(tmp_path))
    assert export.values() == {"fmt": "coco", "path": str(tmp_path)}


def test_predicted_pairs_hide_with_the_predictions_and_are_accepted(window, qtbot):
    project, viewer = window.project, window.viewer
    image = _open(window, qtbot, lambda im: bool(im.meta.get("panorama")))
    persons = [a.id for a in project.annotations.for_image(image.id) if a.kind == "box"]
    human = viewer.relation_count
    pair_id = project.relations.add_pair(image.id, persons[0], persons[-1], {"conversation": 0.83}, source="model")
    viewer.reload_shapes()
    assert viewer.relation_count > human
    window._show_predictions(False)
    assert viewer.relation_count == human
    window._show_predictions(True)
    window._accept_predictions()
    accepted = next(p for p in project.relations.pairs(image.id) if p.id == pair_id)
    assert accepted.source == "human" and accepted.labels == {"conversation": 1.0}
    window.undo_stack.undo()
    undone = next(p for p in project.relations.pairs(image.id) if p.id == pair_id)
    assert undone.source == "model" and undone.labels == {"conversation": 0.83}


def test_dragging_the_image_pans_it_with_no_scroll_bars(window, qtbot):
    """The pan tool drags the image; the view has no scroll bars (the minimap
    shows where it is) to repaint at every step."""
    from PySide6.QtCore import QPointF

    viewer = window.viewer
    large = _open(window, qtbot, lambda im: im.name == "large.tif")
    window.set_tool("pan")
    viewer.set_view(1.0, (1024, 1024))
    qtbot.wait(30)
    assert not viewer.horizontalScrollBar().isVisible() and not viewer.verticalScrollBar().isVisible()
    port = viewer.viewport().rect()
    start = next(QPoint(x, y) for x in range(40, port.width() - 40, 25) for y in range(40, port.height() - 40, 25)
                 if viewer._shape_at(viewer.mapToScene(QPoint(x, y))) is None)  # a spot with no shape
    before = viewer.visible_rect().center()
    _drag(qtbot, viewer, [start, start - QPoint(60, 0), start - QPoint(120, 50)])
    moved = viewer.visible_rect().center() - before
    assert moved == QPointF(120, 50) or (abs(moved.x() - 120) <= 1 and abs(moved.y() - 50) <= 1)
    assert viewer.image.id == large.id and viewer.selected == set()
