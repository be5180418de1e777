"""A crowded view's shapes drawn as one image: the right shapes, in the right
places and colours (boxes as their rectangles, hidden classes and hidden
predictions left out)."""
import numpy as np
import pytest
import shapely

pytest.importorskip("PySide6")

from core.project import Project  # noqa: E402
from core.project.annotations import NewAnnotation  # noqa: E402
from studio.viewer.overlay import draw_shapes  # noqa: E402


def test_drawables_are_drawn_where_they_are_and_filters_hold(tmp_path):
    project = Project.init(tmp_path / "p")
    image = project.images.add("a.png", "media/a.png", 400, 200, "0" * 40)
    red = project.classes.ensure("red")
    blue = project.classes.ensure("blue")
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
    shapes = project.annotations.drawables_in_viewport(image, 0, 0, 400, 200)
    assert len(shapes["geometry"]) == 5 and shapes["model"].sum() == 1
    assert project.annotations.drawables_in_viewport(image, 0, 0, 90, 90)["class_id"].tolist() == [red]
    colors = {red: (255, 0, 0), blue: (0, 0, 255)}
    # half scale: the image is drawn 200 x 100
    rgba = draw_shapes(shapes, (0, 0), 0.5, (200, 100), colors, hidden=set(), predictions=True)
    assert rgba.shape == (100, 200, 4)
    assert tuple(rgba[12, 15]) == (255, 0, 0, 50)  # inside the box, filled
    assert tuple(rgba[2, 15]) == (0, 0, 0, 0)  # above it
    assert tuple(rgba[20, 65]) == (0, 0, 255, 50)  # inside the triangle
    assert rgba[55, 105, 3] == 50 and rgba[55, 125, 3] == 50 and rgba[55, 115, 3] == 0  # both parts, not between
    assert tuple(rgba[75, 150]) == (0, 0, 255, 255)  # the point, solid
    assert rgba[20, 175, 0] == 255  # the prediction
    hidden = draw_shapes(shapes, (0, 0), 0.5, (200, 100), colors, hidden={blue}, predictions=False)
    assert hidden[20, 65, 3] == 0 and hidden[75, 150, 3] == 0 and hidden[20, 175, 3] == 0
    assert tuple(hidden[12, 15]) == (255, 0, 0, 50)
    # a window away from the origin, at full scale
    window = draw_shapes(project.annotations.drawables_in_viewport(image, 100, 0, 200, 100), (100, 0), 1.0,
                         (100, 100), colors, set(), True)
    assert tuple(window[40, 30]) == (0, 0, 255, 50) and window[5, 5, 3] == 0
    empty = draw_shapes(project.annotations.drawables_in_viewport(image, 0, 150, 50, 200), (0, 150), 1.0,
                        (50, 50), colors, set(), True)
    assert not np.any(empty)
    project.close()


def test_shape_items_keep_holes_and_parts(qtbot):
    """The items drawn at closer zoom: a plain polygon, one with a hole, and
    a multipolygon each fill exactly their area."""
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
