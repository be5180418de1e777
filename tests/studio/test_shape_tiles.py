"""Shapes drawn as tiles: the right shapes in the right places and colours
(boxes as their rectangles, holes open, overlapping shapes each filled,
predictions dashed, filters kept), tiles read from the store, and edits
that arrive while a tile is drawn are never lost."""
import numpy as np
import pytest
import shapely

pytest.importorskip("PySide6")

from core.project import Project  # noqa: E402
from core.project.annotations import NewAnnotation  # noqa: E402
from core.imagery.shape_raster import SIDE, Style, draw_shapes, render_tile, shown, tile_rect  # noqa: E402
from studio.viewer.shape_tiles import ShapeTiles  # noqa: E402


@pytest.fixture
def scene(tmp_path):
    project = Project.init(tmp_path / "p")
    image = project.images.add("a.png", "media/a.png", 400, 200, "0" * 40)
    red, blue = project.classes.ensure("red"), project.classes.ensure("blue")
    project.annotations.add_many([
        NewAnnotation(image_id=image, geometry=shapely.box(10, 10, 50, 40), kind="box", class_id=red),
        NewAnnotation(image_id=image, geometry=shapely.Polygon([(100, 20), (160, 20), (130, 80)]), kind="polygon",
                      class_id=blue),
        NewAnnotation(image_id=image, geometry=shapely.MultiPolygon([shapely.box(200, 100, 220, 120),
                                                                     shapely.box(240, 100, 260, 120)]),
                      kind="polygon", class_id=red),
        NewAnnotation(image_id=image, geometry=shapely.Point(300, 150), kind="point", class_id=blue),
        NewAnnotation(image_id=image, geometry=shapely.box(320, 20, 380, 60), kind="box", class_id=red,
                      source="model", score=0.9),
    ])
    style = Style(colors=((red, (255, 0, 0)), (blue, (0, 0, 255))))
    yield project, image, red, blue, style
    project.close()


def test_drawables_are_drawn_where_they_are_and_filters_hold(scene):
    project, image, red, blue, style = scene
    shapes = project.annotations.drawables_in_viewport(image, 0, 0, 400, 200)
    assert len(shapes["geometry"]) == 5 and shapes["model"].sum() == 1
    assert shapes["bounds"][0].tolist() == [10, 10, 50, 40] and shapes["id"].tolist() == sorted(shapes["id"])
    assert project.annotations.drawables_in_viewport(image, 0, 0, 90, 90)["class_id"].tolist() == [red]
    # half scale: the image is drawn 200 x 100, premultiplied
    rgba = draw_shapes(shapes, (0, 0), 0.5, (200, 100), style)
    assert rgba.shape == (100, 200, 4)
    assert tuple(rgba[12, 15]) == (50, 0, 0, 50)  # inside the box, filled
    assert rgba[5, 15, 0] > 200 and rgba[5, 15, 3] > 200 and rgba[5, 15, 1:3].max() == 0  # its top edge, outlined
    assert tuple(rgba[2, 15]) == (0, 0, 0, 0)  # above it
    assert tuple(rgba[20, 65]) == (0, 0, 50, 50)  # inside the triangle
    assert rgba[55, 105, 3] == 50 and rgba[55, 125, 3] == 50 and rgba[55, 115, 3] == 0  # both parts, not between
    assert tuple(rgba[75, 150]) == (0, 0, 255, 255)  # the point, solid
    assert rgba[20, 175, 3] == 50 // 3  # the prediction: barely filled
    edge = rgba[10, 160:190, 3]  # and dashed: its top edge is drawn in pieces
    assert (edge > 200).sum() > 8 and (edge < 100).sum() > 4
    keep = shown(shapes, Style(colors=style.colors, hidden=frozenset({blue}), predictions=False))
    assert shapes["class_id"][keep].tolist() == [red, red]
    assert shown(shapes, style, exclude={int(shapes["id"][0])}).tolist() == [False, True, True, True, True]


def test_overlapping_shapes_each_fill_and_holes_stay_open():
    ring = shapely.Polygon([(0, 0), (40, 0), (40, 40), (0, 40)], [[(15, 15), (25, 15), (25, 25), (15, 25)]])
    shapes = {"id": np.array([1, 2]), "class_id": np.array([1, 1]), "model": np.array([False, False]),
              "bounds": np.zeros((2, 4)), "geometry": np.array([shapely.box(50, 0, 80, 30), shapely.box(60, 10, 95, 40)])}
    rgba = draw_shapes(shapes, (0, 0), 1.0, (100, 50), Style(colors=((1, (0, 255, 0)),)))
    assert rgba[20, 70, 3] == 50  # where the two boxes overlap: filled, not cancelled out
    holed = {**shapes, "id": np.array([3]), "class_id": np.array([1]), "model": np.array([False]),
             "geometry": np.array([ring])}
    rgba = draw_shapes(holed, (0, 0), 1.0, (100, 50), Style(colors=((1, (0, 255, 0)),)))
    assert rgba[5, 5, 3] == 50 and rgba[20, 20, 3] == 0 and rgba[15, 20, 3] > 200  # fill, hole, hole's edge


def test_a_tile_is_read_from_the_store_with_level_of_detail(scene):
    project, image, red, blue, style = scene
    assert tile_rect(0, 0, 1) == (256, 0, 512, 256) and tile_rect(-1, 2, 3) == (384, 256, 512, 384)
    rgba, ids, _ = render_tile(project.annotations, image, (0, 0, 0), style)  # 0..256: not the point nor the prediction
    assert rgba.shape == (SIDE, SIDE, 4) and len(ids) == 3
    assert len(render_tile(project.annotations, image, (1, 0, 0), style)[1]) == 5
    _, _, bounds = render_tile(project.annotations, image, (3, 0, 0), style)  # 1/8 scale: none under 32 px
    kept = {tuple(b) for b in bounds}
    assert (100, 20, 160, 80) in kept and (10, 10, 50, 40) in kept and (300, 150, 300, 150) not in kept
    rgba, ids, _ = render_tile(project.annotations, image, (0, 5, 5), style)
    assert len(ids) == 0 and not rgba.any()


def test_an_edit_during_a_background_draw_is_never_lost(scene, qtbot):
    """A tile drawn in the background while an edit touches it is drawn again:
    what arrives always holds the edit."""
    project, image, red, blue, style = scene
    tiles = ShapeTiles()
    tiles.show(project.root, image, style)
    arrived = []
    tiles.ready.connect(lambda key, tile: arrived.append(tile))
    assert tiles.request((0, 0, 0)) is None  # started on the drawing thread
    new = project.annotations.add(NewAnnotation(image_id=image, geometry=shapely.box(60, 60, 90, 90), kind="box",
                                                class_id=red))
    tiles.invalidate([(60, 60, 90, 90)])  # as an edit does, maybe while the tile is being drawn
    qtbot.waitUntil(lambda: tiles.current((0, 0, 0)) is not None, timeout=10000)
    assert new in tiles.current((0, 0, 0)).ids.tolist() and arrived[-1] is tiles.current((0, 0, 0))
    far = tiles.request((0, 3, 3))  # a tile the edit does not touch is kept
    qtbot.waitUntil(lambda: tiles.current((0, 3, 3)) is not None, timeout=10000)
    far = tiles.current((0, 3, 3))
    assert tiles.invalidate([(60, 60, 90, 90)]) == [(0, 0, 0)] and tiles.current((0, 3, 3)) is far
    tiles.close()


def test_shape_items_keep_holes_and_parts(qtbot):
    """The items of selected and dragged shapes: a plain polygon, one with a
    hole, and a multipolygon each fill exactly their area."""
    from types import SimpleNamespace

    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QColor

    from studio.viewer.shapes import make_item

    def item(geom):
        return make_item(SimpleNamespace(id=1, kind="polygon", geometry=geom, bbox=geom.bounds), QColor("red"))

    plain = item(shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)]))
    assert plain.shape().contains(QPointF(5, 5)) and not plain.shape().contains(QPointF(15, 5))
    holed = item(shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(4, 4), (6, 4), (6, 6), (4, 6)]]))
    assert holed.path().contains(QPointF(2, 2)) and not holed.path().contains(QPointF(5, 5))  # the fill
    parts = item(shapely.MultiPolygon([shapely.box(0, 0, 2, 2), shapely.box(5, 0, 7, 2)]))
    assert parts.path().contains(QPointF(1, 1)) and parts.path().contains(QPointF(6, 1))
    assert not parts.path().contains(QPointF(3.5, 1))
    assert plain.data(0) == 1 and plain.pen().isCosmetic() and plain.brush().color().alpha() == 50


def test_a_damaged_image_is_one_line_and_its_shapes_still_show(tmp_path, qtbot):
    """The worker that cannot read a tile says so (the viewer passes one line
    naming the image on); the shapes are drawn all the same."""
    from PIL import Image

    from core.formats.media import add_image_file
    from studio.viewer import ImageViewer

    source = tmp_path / "a.png"
    Image.new("RGB", (600, 400), (90, 90, 90)).save(source)
    project = Project.init(tmp_path / "p")
    image_id, _ = add_image_file(project, source, "a.png")
    project.annotations.add(NewAnnotation(image_id=image_id, geometry=shapely.box(10, 10, 200, 150), kind="box"))
    image = project.images.get(image_id)
    image.file(project.root).write_bytes(b"not a png any more")
    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    problems = []
    viewer.problem.connect(problems.append)
    viewer.set_image(project, image)
    viewer.refresh()
    qtbot.waitUntil(lambda: bool(problems) and viewer.pending_shape_tiles == 0, timeout=20000)
    assert problems[0].startswith("a.png: tile (") and "\n" not in problems[0]
    assert viewer.shape_count == 1
    # squares with no shape get no pixmap to paint
    placed = list(viewer._shape_items.values())
    assert all((item is None) == (len(tile.ids) == 0) for item, tile in placed)
    assert any(item is None for item, _ in placed) and any(item is not None for item, _ in placed)
    viewer.detach()
    project.close()


def test_a_tile_worker_that_cannot_start_is_one_line_not_a_hang(qtbot, monkeypatch):
    from studio.viewer import workers

    monkeypatch.setattr(workers, "cli_command", lambda args: ["/nonexistent/tessera", *args])
    pool = workers.TileWorkers({"image": 1})
    jobs = workers.KeyedJobs("image")
    monkeypatch.setattr(workers, "pool", lambda: pool)
    answers = []
    jobs.done.connect(lambda key, tag, result: answers.append(result))
    jobs.submit("k", None, "image_tile", "a.png", "x", "/tmp", 0, 0, 0)
    jobs.wait()
    assert len(answers) == 1 and isinstance(answers[0], RuntimeError)
    assert "does not start" in str(answers[0]) and pool.broken


def test_images_from_arrays_refuse_the_wrong_layout():
    """A wrong array layout is an error, not a read past its end (a crash)."""
    from studio.viewer.tiles import tile_qimage, to_qimage

    rgb, bgra = np.zeros((4, 6, 3), np.uint8), np.zeros((4, 6, 4), np.uint8)
    assert to_qimage(rgb).width() == 6 and tile_qimage(bgra).height() == 4
    with pytest.raises(ValueError, match="RGB bytes"):
        to_qimage(bgra)
    with pytest.raises(ValueError, match="B, G, R, A"):
        tile_qimage(rgb)


def test_until_the_workers_are_ready_image_tiles_are_read_here(tmp_path, qtbot, monkeypatch):
    """A session's first view does not wait for the workers to start: its
    image tiles are read on the GUI thread until one has answered."""
    from PIL import Image

    from studio.viewer import workers

    source = tmp_path / "a.png"
    Image.new("RGB", (300, 200), (10, 20, 30)).save(source)
    monkeypatch.setattr(workers, "cli_command", lambda args: ["/nonexistent/tessera", *args])
    never = workers.TileWorkers({"image": 1})
    monkeypatch.setattr(workers, "pool", lambda: never)
    jobs = workers.KeyedJobs("image")
    answers = []
    jobs.done.connect(lambda key, tag, result: answers.append(result))
    jobs.submit("k", None, "image_tile", str(source), "c", str(tmp_path / "cache"), 0, 0, 0, here_until_ready=True)
    assert not never.ready and not answers  # answered as a worker would be: by the event loop
    qtbot.waitUntil(lambda: bool(answers), timeout=5000)
    assert answers[0].shape == (200, 256, 4)  # the top-left tile of a 300 x 200 image
    assert tuple(answers[0][0, 0]) == (30, 20, 10, 255)


def test_a_worker_with_nothing_of_its_lane_to_do_takes_another_lanes_jobs(qtbot, monkeypatch):
    """The image lane's process, idle once an image's tiles are read, draws shapes too."""
    from studio.viewer import workers

    only_images = workers.TileWorkers({"image": 1, "shapes": 0})
    monkeypatch.setattr(workers, "pool", lambda: only_images)
    jobs = workers.KeyedJobs("shapes")
    answers = []
    jobs.done.connect(lambda key, tag, result: answers.append((key, result)))
    for key in range(5):
        jobs.submit(key, None, "ready")
    qtbot.waitUntil(lambda: len(answers) == 5, timeout=30000)
    assert sorted(answers) == [(k, True) for k in range(5)]
    assert [w.lane for w in only_images._workers] == ["image"]
    only_images.stop()


def test_lanes_grow_with_the_cores_for_shapes():
    from studio.viewer.workers import lane_counts

    assert lane_counts(2) == lane_counts(4) == {"image": 1, "shapes": 1}
    assert lane_counts(8) == {"image": 1, "shapes": 3} and lane_counts(64)["shapes"] == 3
