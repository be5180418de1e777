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
            shapes = project.annotations.drawables_in_viewport(image_id, x1, y1, x2, y2, min_size=min_size)
        w, h = max(1, int(round((x2 - x1) * scale))), max(1, int(round((y2 - y1) * scale)))
        rgba = draw_shapes(shapes, (x1, y1), scale, (w, h), colors, hidden, predictions)
        image = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        try:
            self.signals.ready.emit(self.generation, (x1, y1, x2, y2), image)
        except RuntimeError:  # the viewer closed meanwhile
            pass


def draw_shapes(shapes: dict, origin: tuple, scale: float, size: tuple, colors: dict, hidden: set,
                predictions: bool, fill_alpha: int = 50) -> np.ndarray:
    """An RGBA image (h, w, 4) of ``drawables_in_viewport``'s shapes: filled
    with ``fill_alpha`` (the items' fill) and outlined, in their class colours.
    Whole arrays at a time, no Python loop over shapes: this runs beside the
    UI thread and holds the GIL only briefly."""
    w, h = size
    class_id, geometry = shapes["class_id"], shapes["geometry"]
    keep = ~np.isin(class_id, list(hidden)) & (predictions | ~shapes["model"])
    class_id, geometry = class_id[keep], geometry[keep]
    fill = np.zeros((h, w, 3), np.uint8)
    covered = np.zeros((h, w), np.uint8)
    outline = np.zeros((h, w, 4), np.uint8)
    origin = np.asarray(origin, float)
    point = shapely.get_type_id(geometry) == 0
    for cid, xy in zip(class_id[point], shapely.get_coordinates(geometry[point]) if point.any() else []):
        r, g, b = colors.get(int(cid), (255, 255, 255))
        cx, cy = (xy - origin) * scale
        cv2.circle(outline, (int(cx), int(cy)), 3, (r, g, b, 255), -1)
    parts, owner = shapely.get_parts(geometry[~point], return_index=True)
    part_class = class_id[~point][owner]
    order = np.argsort(part_class, kind="stable")
    part_class = part_class[order]
    coords, index = shapely.get_coordinates(shapely.get_exterior_ring(parts[order]), return_index=True)
    coords = np.round((coords - origin) * scale).astype(np.int32)
    rings = np.split(coords, np.flatnonzero(np.diff(index)) + 1) if len(coords) else []
    starts = np.flatnonzero(np.r_[True, np.diff(part_class) != 0]) if len(part_class) else []
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else len(part_class)
        r, g, b = colors.get(int(part_class[start]), (255, 255, 255))
        chunk = rings[start:stop]
        cv2.fillPoly(fill, chunk, (r, g, b))
        cv2.fillPoly(covered, chunk, 1)
        cv2.polylines(outline, chunk, True, (r, g, b, 255), 1, cv2.LINE_AA)
    rgba = np.zeros((h, w, 4), np.uint8)
    rgba[..., :3] = fill
    rgba[..., 3] = covered * fill_alpha
    edge = outline[..., 3] > 0
    rgba[edge] = outline[edge]
    return np.ascontiguousarray(rgba)


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
