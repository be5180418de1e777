"""The graphics items that show image and shape tiles: a pixmap placed and
scaled over its square of the image, drawn with the nearest pixel while the
view moves and smooth once it is still."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem


def set_mode(item: QGraphicsPixmapItem, smooth: bool) -> None:
    item.setTransformationMode(Qt.TransformationMode.SmoothTransformation if smooth
                               else Qt.TransformationMode.FastTransformation)


def pixmap_item(image: QImage, x: float, y: float, scale: float, z: float, smooth: bool) -> QGraphicsPixmapItem:
    """A tile's pixmap at (x, y) in the image, ``scale`` image pixels to a pixel."""
    item = QGraphicsPixmapItem(QPixmap.fromImage(image))
    set_mode(item, smooth)
    item.setPos(x, y)
    item.setScale(scale)
    item.setZValue(z)
    return item
