"""The Queue dock: Next opens the highest-ranked pending image, states move
it along, the image list shows and sorts by the scores, and a package goes
out and comes back through the dock (subprocesses)."""
import json
import zipfile

from PySide6.QtCore import Qt


def _queue(window, names_scores):
    project = window.project
    scored = [(project.images.by_name(n).id, s, {"boxes": 1, "confidence_below": 1, "aggregate": "max"})
              for n, s in names_scores]
    project.queue.replace(None, "entropy", scored)
    window.queue.refresh()
    window.queue.queueChanged.emit()
    return [i for i, _, _ in scored]


def test_next_opens_the_highest_ranked_pending_image(window, qtbot):
    dives = sorted(im.name for im in window.project.images.list() if im.name.startswith("dive"))
    ids = _queue(window, [(dives[3], 0.4), (dives[0], 0.9), (dives[5], 0.7)])
    assert window.queue.table.rowCount() == 3 and window.queue.table.item(0, 1).text().startswith(dives[0])
    assert window.queue.next() == ids[1]
    assert window.viewer.image.id == ids[1] and window.images.list.currentItem().data(Qt.ItemDataRole.UserRole) == ids[1]
    window.queue.table.selectRow(0)
    window.queue.mark("annotated")
    assert window.queue.table.item(0, 3).text() == "annotated"
    qtbot.mouseClick(window.queue.next_button, Qt.MouseButton.LeftButton)
    assert window.viewer.image.id == ids[2]
    window.queue.table.selectRow(1)
    window.queue.mark("skipped")
    window.queue.next()
    assert window.viewer.image.id == ids[0]
    # the image list shows the scores and sorts by them
    window.images.order.setCurrentText("by score")
    first = window.images.list.item(0)
    assert first.data(Qt.ItemDataRole.UserRole) == ids[1] and "\nscore 0.900 · " in first.text()
    window.images.order.setCurrentText("by name")
    assert window.images.list.item(0).data(Qt.ItemDataRole.UserRole) == min(im.id for im in window.project.images.list())


def test_a_package_goes_out_and_comes_back_through_the_dock(window, qtbot, tmp_path):
    dives = sorted(im.name for im in window.project.images.list() if im.name.startswith("dive"))
    ids = _queue(window, [(dives[1], 0.8), (dives[2], 0.6)])
    out = tmp_path / "pkg.zip"
    window.queue.export_package(str(out))
    qtbot.waitUntil(lambda: window.queue.task is None, timeout=60000)
    assert out.is_file(), window.queue.status.text()
    assert [window.queue.table.item(r, 3).text() for r in range(2)] == ["exported", "exported"]
    back = tmp_path / "back.zip"
    with zipfile.ZipFile(out) as zin, zipfile.ZipFile(back, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "annotations.json":
                coco = json.loads(data)
                fish = next(c["id"] for c in coco["categories"] if c["name"] == "fish")
                coco["annotations"] = [{"id": 1, "image_id": ids[0], "category_id": fish, "bbox": [5, 5, 20, 20],
                                        "iscrowd": 0}]
                data = json.dumps(coco).encode()
            zout.writestr(info.filename, data)
    window.queue.receive_package(str(back), show_report=False)
    qtbot.waitUntil(lambda: window.queue.task is None, timeout=60000)
    assert "received 2 images, 1 annotations" in window.queue.status.text()
    assert [window.queue.table.item(r, 3).text() for r in range(2)] == ["annotated", "annotated"]
    assert len(window.project.annotations.for_image(ids[0])) == 1
    assert window.project.annotations.for_image(ids[1]) == []  # returned with nothing on it: confirmed empty
    # a tampered package: refused, said in one line, nothing changed
    bad = tmp_path / "bad.zip"
    bad.write_bytes(back.read_bytes()[:500])
    window.queue.receive_package(str(bad), show_report=False)
    qtbot.waitUntil(lambda: window.queue.task is None, timeout=60000)
    assert "refused" in window.queue.status.text() and "bad.zip" in window.queue.status.text()
    assert len(window.project.annotations.for_image(ids[0])) == 1
