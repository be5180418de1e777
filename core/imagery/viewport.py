"""What a viewer must fetch for a view: the pyramid level that matches the
zoom, and the tiles of that level that the view rectangle touches.  Pure
arithmetic, no Qt, so it is tested on its own."""
from __future__ import annotations

import math

from .pyramid import TILE


def level_for_scale(scale: float, levels: int) -> int:
    """Screen pixels per image pixel -> the coarsest level still at least as
    sharp as the screen (level L holds one pixel per 2**L image pixels)."""
    if scale <= 0:
        return levels - 1
    level = int(math.floor(math.log2(1.0 / scale))) if scale < 1 else 0
    return max(0, min(levels - 1, level))


def visible_tiles(x1: float, y1: float, x2: float, y2: float, width: int, height: int, level: int,
                  tile: int = TILE, margin: int = 1) -> list[tuple[int, int]]:
    """(row, col) of the tiles at ``level`` that meet the image rectangle
    (x1, y1)-(x2, y2) given in full-resolution pixels, plus ``margin`` tiles
    around it so a small pan finds them loaded."""
    side = tile * 2.0 ** level  # levels below 0 (shape tiles zoomed in) cover less than a tile of pixels
    rows, cols = math.ceil(height / side), math.ceil(width / side)
    r0 = max(0, int(max(0.0, y1) // side) - margin)
    c0 = max(0, int(max(0.0, x1) // side) - margin)
    r1 = min(rows - 1, int(min(float(height - 1), y2) // side) + margin)
    c1 = min(cols - 1, int(min(float(width - 1), x2) // side) + margin)
    if r1 < r0 or c1 < c0:
        return []
    # nearest the centre first, so the middle of the screen fills in first
    cr, cc = (r0 + r1) / 2, (c0 + c1) / 2
    return sorted(((r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)),
                  key=lambda rc: (rc[0] - cr) ** 2 + (rc[1] - cc) ** 2)


def shape_level(scale: float, lowest: int = -6) -> int:
    """The level of the shape tiles for a zoom: the one whose 2**-L tile
    pixels per image pixel is nearest the screen's (a tile is shown between
    0.7 and 1.4 times its size), down to ``lowest`` (64x zoom)."""
    return max(lowest, round(math.log2(1.0 / scale))) if scale > 0 else 0


def lod_min_size(scale: float, screen_pixels: float = 4.0) -> float:
    """Shapes smaller than this many image pixels are under ``screen_pixels``
    on screen and are not drawn."""
    return screen_pixels / scale if scale > 0 else float("inf")


def covered(rect: tuple, view: tuple, size: tuple, side: float, placed) -> bool:
    """Whether the part of ``rect`` (x1, y1, x2, y2) in ``view`` and in the
    image (``size``) is covered by tiles of ``side`` that are placed
    (``placed(row, col)``); true too when no part of it is in view."""
    x1, y1 = max(rect[0], view[0], 0.0), max(rect[1], view[1], 0.0)
    x2, y2 = min(rect[2], view[2], float(size[0])), min(rect[3], view[3], float(size[1]))
    if x2 <= x1 or y2 <= y1:
        return True
    return all(placed(row, col) for row in range(int(y1 // side), int(math.ceil(y2 / side)))
               for col in range(int(x1 // side), int(math.ceil(x2 / side))))
