"""Loading pyramid tiles on a thread pool into a bounded cache of QImages."""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage


def to_qimage(arr: np.ndarray) -> QImage:
    arr = np.ascontiguousarray(arr)
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class _Job(QRunnable):
    def __init__(self, loader: "TileLoader", pyramid, key: tuple):
        super().__init__()
        self.loader, self.pyramid, self.key = loader, pyramid, key

    def run(self) -> None:
        _, level, row, col = self.key
        try:
            try:
                image = to_qimage(self.pyramid.get_tile(level, row, col))
            except Exception as exc:  # a damaged file: say so once, do not kill the thread pool
                self.loader.failed.emit(self.key, str(exc))
                return
            self.loader.loaded.emit(self.key, image)
        except RuntimeError:  # the viewer closed while this tile was loading
            return


class TileLoader(QObject):
    """``request(pyramid, key)`` returns a cached tile or starts loading it;
    ``tileReady(key, QImage)`` arrives on the UI thread when it is loaded."""

    loaded = Signal(object, QImage)
    failed = Signal(object, str)
    tileReady = Signal(object, QImage)

    def __init__(self, max_tiles: int = 1024, threads: int | None = None, parent=None):
        super().__init__(parent)
        self.max_tiles = max_tiles
        self._cache: OrderedDict[tuple, QImage] = OrderedDict()
        self._pending: set[tuple] = set()
        self._pool = QThreadPool(self)
        # One core stays with the UI thread: on a 2-core machine two decoding
        # threads halved its frame rate (they share the GIL and the cores).
        self._pool.setMaxThreadCount(threads or max(1, min(4, (os.cpu_count() or 2) - 1)))
        self.loaded.connect(self._store)
        self.failed.connect(lambda key, _: self._pending.discard(key))

    def request(self, pyramid, key: tuple) -> QImage | None:
        """``key`` = (image key, level, row, col)."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._pending:
            self._pending.add(key)
            self._pool.start(_Job(self, pyramid, key))
        return None

    def cancel_pending(self) -> None:
        self._pool.clear()
        self._pending.clear()

    def _store(self, key: tuple, image: QImage) -> None:
        self._pending.discard(key)
        self._cache[key] = image
        while len(self._cache) > self.max_tiles:
            self._cache.popitem(last=False)
        self.tileReady.emit(key, image)

    def wait(self) -> None:
        self._pool.waitForDone()

    def __len__(self) -> int:
        return len(self._cache)
