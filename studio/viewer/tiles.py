"""Loading pyramid tiles in the worker processes (:mod:`.workers`) into a bounded cache of QImages."""
from __future__ import annotations

import ctypes
import sys
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from .workers import KeyedJobs


def keep_tile_memory() -> None:
    """glibc hands out blocks of 128 KB and more as fresh pages, faulted in
    anew each time (0.2 ms for a 256 KB tile on the GUI thread); tiles come
    and go all the time, so they are served from the heap, and the heap is
    kept rather than given back (a tile's copy then costs a fifth)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return
    libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD


def qimage_of(arr: np.ndarray, fmt: QImage.Format, layout: str) -> QImage:
    """A QImage of its own (a copy) of a uint8 array (h, w, channels), its
    bytes in ``fmt`` (3 channels for RGB888, 4 for the 32-bit formats); a
    wrong layout is an error, not a read past the array's end."""
    channels = 3 if fmt == QImage.Format.Format_RGB888 else 4
    arr = np.ascontiguousarray(arr)
    if arr.ndim != 3 or arr.shape[2] != channels or arr.dtype != np.uint8:
        raise ValueError(f"expected {layout} bytes (h, w, {channels}), got {arr.dtype} {arr.shape}")
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, channels * w, fmt).copy()


def to_qimage(rgb: np.ndarray) -> QImage:
    """An RGB array (h, w, 3), as thumbnails are."""
    return qimage_of(rgb, QImage.Format.Format_RGB888, "RGB")


def tile_qimage(bgra: np.ndarray) -> QImage:
    """A tile's B, G, R, 255 bytes as Qt's RGB32 image, which a pixmap takes with no conversion."""
    return qimage_of(bgra, QImage.Format.Format_RGB32, "B, G, R, A")


class TileLoader(QObject):
    """``request(pyramid, key)`` returns a cached tile or starts loading it;
    ``tileReady(key, QImage)`` arrives on the UI thread when it is loaded."""

    failed = Signal(object, str)
    tileReady = Signal(object, QImage)

    def __init__(self, max_tiles: int = 1024, parent=None):
        super().__init__(parent)
        self.max_tiles = max_tiles
        self._cache: OrderedDict[tuple, QImage] = OrderedDict()
        self._jobs = KeyedJobs("image", self)
        self._jobs.done.connect(self._store)

    def request(self, pyramid, key: tuple) -> QImage | None:
        """``key`` = (image key, level, row, col)."""
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key not in self._jobs:
            _, level, row, col = key
            self._jobs.submit(key, None, "image_tile", str(pyramid.image_path), pyramid.checksum,
                              str(pyramid.cache_root), level, row, col, here_until_ready=True)
        return None

    def retain(self, keys: list) -> None:
        """Drop the loads of tiles not in ``keys`` that have not started (the
        view moved on); load the others in the order of ``keys``."""
        self._jobs.retain(keys)

    def cancel_pending(self) -> None:
        self._jobs.cancel()

    def _store(self, key: tuple, _, result) -> None:
        if isinstance(result, BaseException):  # a damaged file: say so, keep loading the others
            self.failed.emit(key, f"tile {key[1:]} not loaded: {result}")
            return
        image = tile_qimage(result)
        self._cache[key] = image
        while len(self._cache) > self.max_tiles:
            self._cache.popitem(last=False)
        self.tileReady.emit(key, image)

    def wait(self) -> None:
        """Until the loads under way are done (their tiles still arrive as events)."""
        self._jobs.wait()

    def __len__(self) -> int:
        return len(self._cache)
