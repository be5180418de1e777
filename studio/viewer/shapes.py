"""Turning stored annotations into graphics items (drawing only)."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem
from shapely.geometry import MultiPolygon, Point, Polygon


def _pen(color: QColor, width: float) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)  # the same on-screen width at every zoom
    return pen


def _ring(path: QPainterPath, coords) -> None:
    pts = [QPointF(x, y) for x, y in coords]
    if pts:
        path.moveTo(pts[0])
        for p in pts[1:]:
            path.lineTo(p)
        path.closeSubpath()


def make_item(ann, color: QColor, width: float = 1.5, fill_alpha: int = 50,
              prediction: bool = False) -> QGraphicsItem:
    """One item for one annotation, tagged with its id (data 0) and kind
    (data 2).  Model predictions are dashed and barely filled."""
    fill = QColor(color)
    fill.setAlpha(fill_alpha)
    geom = ann.geometry
    if ann.kind in ("box", "mask"):
        x1, y1, x2, y2 = ann.bbox
        item = QGraphicsRectItem(QRectF(x1, y1, x2 - x1, y2 - y1))
    elif isinstance(geom, Point):
        r = 4.0
        item = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r)
        item.setPos(geom.x, geom.y)
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
    else:
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.OddEvenFill)
        for poly in (geom.geoms if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []):
            _ring(path, poly.exterior.coords)
            for hole in poly.interiors:
                _ring(path, hole.coords)
        item = QGraphicsPathItem(path)
    pen = _pen(color, width)
    if prediction:
        pen.setStyle(Qt.PenStyle.DashLine)
        fill.setAlpha(fill_alpha // 3)
    item.setPen(pen)
    item.setBrush(QBrush(fill))
    item.setData(0, ann.id)
    item.setData(2, ann.kind)
    item.setZValue(10)
    return item
