"""The viewer's shape tiles (see :mod:`core.imagery.shape_raster`): drawn in
the worker processes, kept in a bounded cache as QImages, and shown as
pixmaps, so panning and zooming cost the GUI thread a few pixmaps however
many shapes the view holds.  An edit redraws only the tiles its shapes touch
(:meth:`ShapeTiles.invalidate`)."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from core.imagery.shape_raster import Style, tile_touches
from core.imagery.workers import shape_tile_pixels

from .tiles import qimage_of
from .workers import KeyedJobs


@dataclass
class ShapeTile:
    image: QImage | None  # None where no shape reaches in
    ids: np.ndarray  # the shapes drawn into it (those reaching into its margin too)
    bounds: np.ndarray  # their boxes, n x 4


def _tile(drawn: tuple) -> ShapeTile:
    """A shape tile from its premultiplied B, G, R, A bytes (Qt's own layout: no conversion to show it)."""
    bgra, ids, bounds = drawn
    if not len(ids):
        return ShapeTile(None, ids, bounds)
    return ShapeTile(qimage_of(bgra, QImage.Format.Format_ARGB32_Premultiplied, "premultiplied B, G, R, A"),
                     ids, bounds)


class ShapeTiles(QObject):
    """The shape tiles of the image shown: ``request(key)`` returns a cached
    tile or starts drawing it; ``ready(key, ShapeTile)`` arrives on the GUI
    thread when it is drawn."""

    ready = Signal(object, object)  # key, ShapeTile
    failed = Signal(str)

    def __init__(self, max_tiles: int = 512, parent=None):
        super().__init__(parent)
        self.max_tiles = max_tiles
        self._cache: OrderedDict[tuple, ShapeTile] = OrderedDict()
        self._jobs = KeyedJobs("shapes", self)
        self._jobs.done.connect(self._done)
        self._pending: dict[tuple, int] = {}  # key -> the epoch its drawing started in
        self.root: str | None = None
        self.image_id: int | None = None
        self.style = Style()
        self.exclude: frozenset = frozenset()  # shapes being dragged: drawn as an item instead
        self.epoch = 0
        self._void_before = 0  # drawings started before this epoch are stale
        self._marks: list[tuple[int, list]] = []  # (epoch, regions) of partial invalidations

    def show(self, root, image_id: int, style: Style) -> None:
        """Draw the shapes of ``image_id`` in the project at ``root`` from now on."""
        self.root, self.image_id, self.style, self.exclude = str(root), image_id, style, frozenset()
        self.invalidate()

    def set_style(self, style: Style) -> None:
        if style != self.style:
            self.style = style
            self.invalidate()

    def request(self, key: tuple) -> ShapeTile | None:
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending and self.root is not None:
            self._pending[key] = self.epoch
            self._jobs.submit(key, self.epoch, "shape_tile", self.root, self.image_id, key, self.style, self.exclude)
        return None

    def retain(self, keys: list) -> None:
        """Drop the drawings of tiles not in ``keys`` that have not started
        (the view moved on); draw the others in the order of ``keys``."""
        under_way = set(self._jobs.retain(keys))
        self._pending = {k: e for k, e in self._pending.items() if k in under_way}

    def render_now(self, annotations, key: tuple) -> ShapeTile:
        """Draw ``key`` on the calling thread with ``annotations`` (the GUI's store)."""
        tile = _tile(shape_tile_pixels(annotations, self.image_id, key, self.style, self.exclude))
        self._pending.pop(key, None)  # a drawing under way is older than this one
        self._keep(key, tile)
        return tile

    def current(self, key: tuple) -> ShapeTile | None:
        return self._cache.get(key)

    def invalidate(self, regions: list | None = None) -> list[tuple]:
        """Forget the tiles that ``regions`` (image boxes x1, y1, x2, y2)
        touch, or all of them; drawings under way that touch them are
        dropped when they arrive.  Returns the keys forgotten."""
        self.epoch += 1
        if regions is None:
            self._void_before = self.epoch
            self._marks = []
            gone = list(self._cache)
            self._cache.clear()
            self._jobs.cancel()
            self._pending.clear()
            return gone
        regions = [tuple(r) for r in regions]
        self._marks.append((self.epoch, regions))
        gone = [k for k in self._cache if tile_touches(k, regions, self.style.width)]
        for key in gone:
            del self._cache[key]
        return gone

    def wait(self) -> None:
        """Until the drawings under way are done (their tiles still arrive as events)."""
        self._jobs.wait()

    def close(self) -> None:
        self._jobs.cancel()
        self._pending.clear()
        self._cache.clear()
        self.root = None

    def _stale(self, key: tuple, epoch: int) -> bool:
        return epoch < self._void_before or any(e > epoch and tile_touches(key, regions, self.style.width)
                                                for e, regions in self._marks)

    def _keep(self, key: tuple, tile: ShapeTile) -> None:
        self._cache[key] = tile
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_tiles:
            self._cache.popitem(last=False)

    def _done(self, key: tuple, epoch: int, result) -> None:
        if self._pending.get(key) != epoch:
            return  # dropped meanwhile (another image, a new style) or drawn here since
        del self._pending[key]
        if isinstance(result, BaseException):
            self.failed.emit(f"shape tile {key}: {result}")
            return
        if self._stale(key, epoch):  # an edit touched it while it was drawn: draw it again
            self.request(key)
            return
        tile = _tile(result)
        self._keep(key, tile)
        if not self._pending:  # no drawing under way that an earlier edit could have touched
            self._marks = []
        self.ready.emit(key, tile)

    def __len__(self) -> int:
        return len(self._cache)
