"""Vertex handles of the selected shape, and the geometry a drag makes of it.

The geometry arithmetic is plain shapely; the handles are small items that
keep their on-screen size at every zoom."""
from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsItemGroup, QGraphicsRectItem
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry import box as shapely_box

HANDLE_PX = 7


def vertices(kind: str, geometry) -> list[tuple[float, float]]:
    """The draggable points of a shape: a box's four corners, a polygon's
    outer vertices (every part of a multi-polygon), a point itself."""
    if kind == "box":
        x1, y1, x2, y2 = geometry.bounds
        return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
    if isinstance(geometry, Point):
        return [(geometry.x, geometry.y)]
    parts = geometry.geoms if isinstance(geometry, MultiPolygon) else [geometry]
    return [c for p in parts if isinstance(p, Polygon) for c in list(p.exterior.coords)[:-1]]


def move_vertex(kind: str, geometry, index: int, x: float, y: float):
    """The shape with vertex ``index`` moved to (x, y)."""
    if kind == "box":
        corners = vertices(kind, geometry)
        ox, oy = corners[(index + 2) % 4]  # the opposite corner stays
        return shapely_box(min(ox, x), min(oy, y), max(ox, x), max(oy, y))
    if isinstance(geometry, Point):
        return Point(x, y)
    parts = list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]
    out, seen = [], 0
    for part in parts:
        ring = list(part.exterior.coords)[:-1]
        if seen <= index < seen + len(ring):
            ring[index - seen] = (x, y)
        seen += len(ring)
        out.append(Polygon(ring, [list(h.coords) for h in part.interiors]))
    return MultiPolygon(out) if isinstance(geometry, MultiPolygon) else out[0]


def translate(geometry, dx: float, dy: float):
    return affinity.translate(geometry, dx, dy)


def handle_items(points: list[tuple[float, float]]) -> QGraphicsItemGroup:
    """One small square per vertex; each carries its vertex index as data(1)."""
    group = QGraphicsItemGroup()
    pen = QPen(QColor("#101010"), 1)
    pen.setCosmetic(True)
    for i, (x, y) in enumerate(points):
        item = QGraphicsRectItem(QRectF(-HANDLE_PX / 2, -HANDLE_PX / 2, HANDLE_PX, HANDLE_PX))
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        item.setPos(x, y)
        item.setPen(pen)
        item.setBrush(QBrush(QColor("#ffd400")))
        item.setData(1, i)
        group.addToGroup(item)
    group.setZValue(60)
    group.setHandlesChildEvents(False)
    return group
