"""Level of detail for crowded views: when a view holds more shapes than the
viewer makes items of, they are drawn instead into one screen-sized image,
off the UI thread (its own store connection, OpenCV drawing), and shown as a
single pixmap.  Zooming in far enough brings the editable items back."""
from __future__ import annotations

import cv2
import numpy as np
import shapely
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from core.project import Project


class _Signals(QObject):
    ready = Signal(int, object, QImage)  # generation, (x1, y1, x2, y2), image


class _Render(QRunnable):
    def __init__(self, signals, generation: int, root, image_id: int, rect: tuple, scale: float,
                 min_size: float, colors: dict, hidden: set, predictions: bool):
        super().__init__()
        self.signals, self.generation = signals, generation
        self.args = (root, image_id, rect, scale, min_size, colors, hidden, predictions)

    def run(self) -> None:
        root, image_id, (x1, y1, x2, y2), scale, min_size, colors, hidden, predictions = self.args
        with Project.open(root) as project:
            anns = project.annotations.in_viewport(image_id, x1, y1, x2, y2, min_size=min_size)
        w, h = max(1, int(round((x2 - x1) * scale))), max(1, int(round((y2 - y1) * scale)))
        fill = np.zeros((h, w, 3), np.uint8)
        covered = np.zeros((h, w), np.uint8)
        outline = np.zeros((h, w, 4), np.uint8)
        by_class: dict = {}
        for a in anns:
            if a.class_id in hidden or (a.source == "model" and not predictions):
                continue
            geom = a.geometry if a.kind not in ("box", "mask") else shapely.box(*a.bbox)
            by_class.setdefault(a.class_id, []).append(geom)
        for class_id, geoms in by_class.items():
            r, g, b = colors.get(class_id, (255, 255, 255))
            rings = []
            for geom in geoms:
                if geom.geom_type == "Point":
                    cx, cy = (geom.x - x1) * scale, (geom.y - y1) * scale
                    cv2.circle(outline, (int(cx), int(cy)), 3, (r, g, b, 255), -1)
                    continue
                for part in getattr(geom, "geoms", [geom]):
                    ring = (np.asarray(part.exterior.coords) - (x1, y1)) * scale
                    rings.append(np.round(ring).astype(np.int32))
            if rings:
                cv2.fillPoly(fill, rings, (r, g, b))
                cv2.fillPoly(covered, rings, 1)
                cv2.polylines(outline, rings, True, (r, g, b, 255), 1, cv2.LINE_AA)
        rgba = np.zeros((h, w, 4), np.uint8)
        rgba[..., :3] = fill
        rgba[..., 3] = covered * 50  # the items' fill alpha
        edge = outline[..., 3] > 0
        rgba[edge] = outline[edge]
        rgba = np.ascontiguousarray(rgba)
        image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        try:
            self.signals.ready.emit(self.generation, (x1, y1, x2, y2), image)
        except RuntimeError:  # the viewer closed meanwhile
            pass


class OverlayRenderer(QObject):
    """``request(...)`` renders in the background; ``ready(rect, QImage)``
    arrives on the UI thread for the newest request only."""
    ready = Signal(object, QImage)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._signals = _Signals()
        self._signals.ready.connect(self._done)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.generation = 0

    def request(self, root, image_id: int, rect: tuple, scale: float, min_size: float, colors: dict,
                hidden: set, predictions: bool) -> None:
        self.generation += 1
        self._pool.clear()  # only the newest view matters
        self._pool.start(_Render(self._signals, self.generation, root, image_id, rect, scale, min_size,
                                 colors, set(hidden), predictions))

    def cancel(self) -> None:
        self.generation += 1
        self._pool.clear()

    def wait(self) -> None:
        self._pool.waitForDone()

    def _done(self, generation: int, rect: tuple, image: QImage) -> None:
        if generation == self.generation:
            self.ready.emit(rect, image)
