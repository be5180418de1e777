"""Edits in the studio are stored the moment they are made, and undo / redo
are stored too: reopening the project finds exactly what was on screen."""
import pytest
from PySide6.QtCore import QPoint, Qt

from core.project import Project


@pytest.fixture
def window(window, qtbot):
    """The studio on a small underwater image."""
    tile = next(im for im in window.project.images.list() if im.name == "dive00_0000.jpg")
    window.images.select(tile.id)
    qtbot.wait(50)
    return window


def _drag(qtbot, viewer, start: QPoint, end: QPoint) -> None:
    port = viewer.viewport()
    qtbot.mousePress(port, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(port, pos=end)
    qtbot.mouseRelease(port, Qt.MouseButton.LeftButton, pos=end)


def test_box_tool_undo_redo_and_reopen(window, qtbot):
    viewer, project = window.viewer, window.project
    image = viewer.image
    before = project.annotations.count(image.id)
    window.pick_class(1)
    viewer.set_tool("box")
    centre = viewer.mapFromScene(image.width / 2, image.height / 2)
    _drag(qtbot, viewer, centre - QPoint(40, 30), centre + QPoint(40, 30))
    assert project.annotations.count(image.id) == before + 1
    new = max(a.id for a in project.annotations.for_image(image.id))
    ann = project.annotations.get(new)
    assert ann.kind == "box" and ann.class_id == window.current_class()
    assert new in viewer.shape_ids()
    x1, y1, x2, y2 = ann.bbox
    assert x1 < image.width / 2 < x2 and y1 < image.height / 2 < y2

    window.undo_stack.undo()
    assert project.annotations.count(image.id) == before and new not in viewer.shape_ids()
    window.undo_stack.redo()
    assert project.annotations.get(new).bbox == ann.bbox  # the same id comes back

    root = project.root
    with Project.open(root) as again:  # a second connection sees it: nothing waits for a save
        assert again.annotations.get(new).bbox == ann.bbox


def test_select_change_class_delete_and_undo(window, qtbot):
    viewer, project = window.viewer, window.project
    image = viewer.image
    viewer.set_tool("box")
    centre = viewer.mapFromScene(image.width / 2, image.height / 2)
    _drag(qtbot, viewer, centre - QPoint(30, 30), centre + QPoint(30, 30))
    new = max(a.id for a in project.annotations.for_image(image.id))
    viewer.set_tool("pan")
    viewer.select_at(image.width / 2, image.height / 2)
    assert new in viewer.selected
    old_class = project.annotations.get(new).class_id
    window.pick_class(2)
    assert project.annotations.get(new).class_id == window.current_class() != old_class
    window.undo_stack.undo()
    assert project.annotations.get(new).class_id == old_class
    viewer.select_at(image.width / 2, image.height / 2)
    window.delete_selected()
    assert new not in {a.id for a in project.annotations.for_image(image.id)}
    window.undo_stack.undo()
    assert project.annotations.get(new).class_id == old_class


def test_edits_survive_a_killed_window(tmp_path, demo_small):
    """Edits made in a studio process are in the store even when that process is SIGKILLed."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = tmp_path / "p"
    shutil.copytree(demo_small, root)
    script = f"""
import sys
from PySide6.QtWidgets import QApplication
from studio.main_window import MainWindow
app = QApplication([])
w = MainWindow({str(root)!r})
w.show()
image = w.viewer.image
w.pick_class(0)
for k in range(3):
    w.editor.add_box(10 + k * 5, 10, 30 + k * 5, 40)
w.undo_stack.undo()  # the third box is taken back
w.editor.paint_stroke([(50.0, 60.0), (90.0, 60.0)], 3.0, False)
print("edited", image.id, w.editor.class_id, flush=True)
import time
time.sleep(60)
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=repo, env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("edited"), line
        image_id, class_id = int(line.split()[1]), int(line.split()[2])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with Project.open(root) as project:
        boxes = sorted(a.bbox for a in project.annotations.for_image(image_id) if a.bbox[1] == 10 and a.bbox[3] == 40)
        assert boxes == [(10.0, 10.0, 30.0, 40.0), (15.0, 10.0, 35.0, 40.0)]
        mask = project.masks.get(image_id)
        assert (mask[60, 50:91] == class_id).all()


def test_polygon_and_point_tools(window, qtbot):
    viewer, project = window.viewer, window.project
    image = viewer.image
    port = viewer.viewport()
    c = viewer.mapFromScene(image.width / 2, image.height / 2)
    viewer.set_tool("polygon")
    for dx, dy in ((-40, -30), (40, -30), (40, 30), (-40, 30)):
        qtbot.mouseClick(port, Qt.MouseButton.LeftButton, pos=c + QPoint(dx, dy))
    qtbot.keyClick(viewer, Qt.Key.Key_Return)
    polys = [a for a in project.annotations.for_image(image.id) if a.kind == "polygon"]
    assert len(polys) == 1 and polys[0].geometry.is_valid and polys[0].geometry.area > 0
    viewer.set_tool("point")
    qtbot.mouseClick(port, Qt.MouseButton.LeftButton, pos=c)
    points = [a for a in project.annotations.for_image(image.id) if a.kind == "point"]
    assert len(points) == 1
    assert abs(points[0].geometry.x - image.width / 2) < 2 and abs(points[0].geometry.y - image.height / 2) < 2
    viewer.set_tool("polygon")  # two clicks and Enter: not a polygon, nothing stored
    qtbot.mouseClick(port, Qt.MouseButton.LeftButton, pos=c)
    qtbot.mouseClick(port, Qt.MouseButton.LeftButton, pos=c + QPoint(10, 10))
    qtbot.keyClick(viewer, Qt.Key.Key_Return)
    assert len([a for a in project.annotations.for_image(image.id) if a.kind == "polygon"]) == 1
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert not [a for a in project.annotations.for_image(image.id) if a.kind in ("polygon", "point")]
