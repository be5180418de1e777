"""Cutting a large image into training tiles (size, overlap)."""
from __future__ import annotations

from ..errors import TesseraError


def tile_grid(width: int, height: int, size: int, overlap: int = 0) -> list[tuple[int, int, int, int]]:
    """Windows ``(x, y, w, h)`` of ``size`` pixels that cover the whole image,
    neighbours sharing ``overlap`` pixels.  The last row and column are shifted
    back inside the image rather than padded, so every tile is full-size when
    the image is at least ``size`` wide and high."""
    if size <= 0:
        raise TesseraError(f"tile size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise TesseraError(f"tile overlap must be in 0..{size - 1}, got {overlap}")
    return [(x, y, min(size, width), min(size, height))
            for y in _starts(height, size, size - overlap)
            for x in _starts(width, size, size - overlap)]


def _starts(length: int, size: int, stride: int) -> list[int]:
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts
