"""Tile pyramids: 256-pixel tiles, each level half the size of the one below,
built lazily and cached under ``cache/pyramids/<checksum>/``; a tile that is
one read of a tiled file's own tiles is not cached (decoding it again takes a
quarter of the time of reading its cached PNG).

Level 0 is full resolution; tile ``(level, row, col)`` covers the full-image
square of side ``256 * 2**level`` at ``(col, row)`` times that side.  Deleting the
cache loses nothing: tiles are rebuilt from the image on demand."""
from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import numpy as np
from PIL import Image

from .reader import ImageSource, open_image

TILE = 256


def level_count(width: int, height: int, tile: int = TILE) -> int:
    """Levels needed until the whole image fits one tile."""
    return max(1, math.ceil(math.log2(max(width, height, 1) / tile)) + 1) if max(width, height) > tile else 1


def downsample2(arr: np.ndarray) -> np.ndarray:
    """Halve an RGB tile by averaging 2x2 blocks (odd edges padded by repeat)."""
    h, w = arr.shape[:2]
    if h % 2 or w % 2:
        arr = np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    a = arr.astype(np.uint16)
    out = (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2] + 2) // 4
    return out.astype(np.uint8)


class TilePyramid:
    def __init__(self, image_path: Path, checksum: str, cache_root: Path, tile: int = TILE):
        self.image_path = Path(image_path)
        self.checksum, self.cache_root = checksum, Path(cache_root)
        self.dir = Path(cache_root) / "pyramids" / checksum
        self.tile = tile
        self._source: ImageSource | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_image(cls, project, image) -> "TilePyramid":
        return cls(image.file(project.root), image.checksum, project.cache_dir)

    @property
    def source(self) -> ImageSource:
        with self._lock:
            if self._source is None:
                self._source = open_image(self.image_path)
            return self._source

    @property
    def width(self) -> int:
        return self.source.width

    @property
    def height(self) -> int:
        return self.source.height

    @property
    def levels(self) -> int:
        return level_count(self.width, self.height, self.tile)

    def grid(self, level: int) -> tuple[int, int]:
        """(rows, cols) of tiles at ``level``."""
        side = self.tile << level
        return -(-self.height // side), -(-self.width // side)

    def level_size(self, level: int) -> tuple[int, int]:
        """(width, height) of the whole image at ``level``."""
        return -(-self.width // (1 << level)), -(-self.height // (1 << level))

    def tile_path(self, level: int, row: int, col: int) -> Path:
        return self.dir / str(level) / f"{row}_{col}.png"

    def get_tile(self, level: int, row: int, col: int) -> np.ndarray:
        """RGB tile; edge tiles are smaller than ``tile`` pixels."""
        rows, cols = self.grid(level)
        if not (0 <= level < self.levels and 0 <= row < rows and 0 <= col < cols):
            raise IndexError(f"no tile {level}/{row}/{col} (levels {self.levels}, grid {rows}x{cols})")
        if self._read_directly(level):
            return self._build(level, row, col)
        path = self.tile_path(level, row, col)
        if path.is_file():
            try:
                with Image.open(path) as im:
                    return np.asarray(im.convert("RGB"))
            except OSError:
                path.unlink(missing_ok=True)  # a damaged cache file is rebuilt
        arr = self._build(level, row, col)
        _write_atomic(path, arr)
        return arr

    def _read_directly(self, level: int) -> bool:
        """The tiles of ``level`` are the file's own tiles (or parts of them)."""
        if not self.source.reads_by_tile:
            return False
        return level == 0 or (1 << level) in self.source.native_levels

    def _build(self, level: int, row: int, col: int) -> np.ndarray:
        t = self.tile
        if level == 0:
            return self.source.read_region(col * t, row * t, t, t)
        native = self.source.native_levels.get(1 << level)
        if native is not None:  # the file has this level itself: no need to decode the ones below
            return self.source.read_level_region(native, col * t, row * t, t, t)
        parts = []
        rows, cols = self.grid(level - 1)
        for r in (2 * row, 2 * row + 1):
            if r >= rows:
                continue
            line = [self.get_tile(level - 1, r, c) for c in (2 * col, 2 * col + 1) if c < cols]
            parts.append(np.concatenate(line, axis=1))
        return downsample2(np.concatenate(parts, axis=0))

    def read_level_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """A region in the pixel coordinates of ``level``, assembled from tiles."""
        lw, lh = self.level_size(level)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(lw, x + w), min(lh, y + h)
        out = np.zeros((max(0, y1 - y0), max(0, x1 - x0), 3), np.uint8)
        t = self.tile
        for row in range(y0 // t, (y1 - 1) // t + 1 if y1 > y0 else 0):
            for col in range(x0 // t, (x1 - 1) // t + 1 if x1 > x0 else 0):
                tile = self.get_tile(level, row, col)
                ty, tx = row * t, col * t
                sy0, sx0, sy1, sx1 = max(y0, ty), max(x0, tx), min(y1, ty + tile.shape[0]), min(x1, tx + tile.shape[1])
                out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = tile[sy0 - ty:sy1 - ty, sx0 - tx:sx1 - tx]
        return out

    def thumbnail(self, size: int = 256) -> np.ndarray:
        """The whole image fitted into ``size`` x ``size``, from the smallest
        level that is still at least ``size`` pixels on its long side; cached."""
        path = self.dir / f"thumb_{size}.png"
        if path.is_file():
            try:
                with Image.open(path) as im:
                    return np.asarray(im.convert("RGB"))
            except OSError:
                path.unlink(missing_ok=True)
        level = 0
        while level + 1 < self.levels and max(self.level_size(level + 1)) >= size:
            level += 1
        lw, lh = self.level_size(level)
        im = Image.fromarray(self.read_level_region(level, 0, 0, lw, lh))
        im.thumbnail((size, size), Image.Resampling.LANCZOS)
        arr = np.asarray(im)
        _write_atomic(path, arr)
        return arr

    def close(self) -> None:
        if self._source is not None:
            self._source.close()
            self._source = None


def _write_atomic(path: Path, arr: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    Image.fromarray(arr).save(tmp, format="PNG", compress_level=1)
    os.replace(tmp, path)
