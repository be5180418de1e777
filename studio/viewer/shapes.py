"""Turning stored annotations into graphics items (drawing only)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem, QGraphicsPolygonItem,
                               QGraphicsRectItem)
from pyqtgraph.functions import create_qpolygonf, ndarray_from_qpolygonf
from shapely.geometry import MultiPolygon, Point, Polygon


def _pen(color: QColor, width: float) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)  # the same on-screen width at every zoom
    return pen


@lru_cache(maxsize=256)
def _style(rgba: int, width: float, fill_alpha: int, prediction: bool) -> tuple[QPen, QBrush]:
    """The pen and brush of a shape (shared: a view has few distinct ones)."""
    color = QColor.fromRgba(rgba)
    fill = QColor(color)
    fill.setAlpha(fill_alpha // 3 if prediction else fill_alpha)
    pen = _pen(color, width)
    if prediction:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen, QBrush(fill)


def _polygon(coords) -> QPolygonF:
    """A QPolygonF filled from a coordinate array in one copy (no QPointF per vertex)."""
    coords = np.asarray(coords, float)
    polygon = create_qpolygonf(len(coords))
    ndarray_from_qpolygonf(polygon)[:] = coords[:, :2]
    return polygon


def _ring(path: QPainterPath, coords) -> None:
    path.addPolygon(_polygon(coords))
    path.closeSubpath()


def make_item(ann, color: QColor, width: float = 1.5, fill_alpha: int = 50,
              prediction: bool = False) -> QGraphicsItem:
    """One item for one annotation, tagged with its id (data 0) and kind
    (data 2).  Model predictions are dashed and barely filled."""
    geom = ann.geometry
    if ann.kind in ("box", "mask"):
        x1, y1, x2, y2 = ann.bbox
        item = QGraphicsRectItem(QRectF(x1, y1, x2 - x1, y2 - y1))
    elif isinstance(geom, Point):
        r = 4.0
        item = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r)
        item.setPos(geom.x, geom.y)
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
    elif geom.geom_type == "Polygon" and shapely.get_num_interior_rings(geom) == 0:  # the common case, cheaply
        item = QGraphicsPolygonItem(_polygon(shapely.get_coordinates(geom)))
    else:
        path = QPainterPath()
        path.setFillRule(Qt.FillRule.OddEvenFill)
        for poly in (geom.geoms if isinstance(geom, MultiPolygon) else [geom] if isinstance(geom, Polygon) else []):
            _ring(path, poly.exterior.coords)
            for hole in poly.interiors:
                _ring(path, hole.coords)
        item = QGraphicsPathItem(path)
    pen, brush = _style(color.rgba(), width, fill_alpha, prediction)
    item.setPen(pen)
    item.setBrush(brush)
    item.setData(0, ann.id)
    item.setData(2, ann.kind)
    item.setZValue(10)
    return item
