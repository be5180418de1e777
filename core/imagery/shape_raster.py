"""Shapes drawn as tiles, the way map viewers draw vector data (no Qt: the
viewer's worker processes draw them).

A shape tile is a 256-pixel image of the shapes inside one square of an
image at one level: level L holds 2**-L tile pixels per image pixel (levels
below 0 for close zooms), and leaves out the shapes smaller than 4 of its
pixels (level of detail).  Drawing is OpenCV over whole arrays, with no
Python loop over pixels."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import shapely

from .viewport import lod_min_size

SIDE = 256  # pixels of a shape tile
FILL_ALPHA = 50  # a shape's fill; a prediction's is a third of it
POINT_RADIUS = 3  # pixels


def tile_rect(level: int, row: int, col: int) -> tuple[float, float, float, float]:
    """The image square (x1, y1, x2, y2) that shape tile (level, row, col) covers."""
    side = SIDE * 2.0 ** level
    return col * side, row * side, (col + 1) * side, (row + 1) * side


@dataclass(frozen=True)
class Style:
    """How shapes are drawn: class colours, hidden classes, whether model
    predictions show, and the outline width in screen pixels."""
    colors: tuple = ()  # ((class id, (r, g, b)), ...)
    hidden: frozenset = frozenset()
    predictions: bool = True
    width: int = 1


def shown(shapes: dict, style: Style, exclude=frozenset()) -> np.ndarray:
    """Which of ``drawables_in_viewport``'s shapes the style draws."""
    keep = ~np.isin(shapes["class_id"], list(style.hidden)) & (style.predictions | ~shapes["model"])
    if exclude:
        keep &= ~np.isin(shapes["id"], list(exclude))
    return keep


def render_tile(annotations, image_id: int, key: tuple, style: Style,
                exclude=frozenset()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shape tile ``key`` = (level, row, col) of an image, from the store:
    (premultiplied RGBA pixels, the ids drawn into it (those reaching into
    its margin too), their boxes n x 4)."""
    level, row, col = key
    scale = 2.0 ** -level
    x1, y1, x2, y2 = tile_rect(level, row, col)
    pad = (style.width + POINT_RADIUS + 2) / scale  # outlines and points of shapes just outside reach in
    shapes = annotations.drawables_in_viewport(image_id, x1 - pad, y1 - pad, x2 + pad, y2 + pad,
                                               min_size=lod_min_size(scale))
    keep = shown(shapes, style, exclude)
    shapes = {k: v[keep] for k, v in shapes.items()}
    return draw_shapes(shapes, (x1, y1), scale, (SIDE, SIDE), style), shapes["id"], shapes["bounds"]


def _dashes(ring: np.ndarray, on: float = 6.0, off: float = 4.0) -> list[np.ndarray]:
    """A closed ring of pixel points as the pieces of a dashed line."""
    closed = np.vstack([ring, ring[:1]]).astype(float)
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(closed, axis=0).T))]
    if along[-1] <= on:
        return [closed.astype(np.int32)]
    t = np.arange(0.0, along[-1], 1.0)
    points = np.stack([np.interp(t, along, closed[:, 0]), np.interp(t, along, closed[:, 1])], -1)
    dash = (t % (on + off)) < on
    starts = np.flatnonzero(dash & ~np.r_[False, dash[:-1]])
    stops = np.flatnonzero(dash & ~np.r_[dash[1:], False]) + 1
    return [np.round(points[a:b]).astype(np.int32) for a, b in zip(starts, stops) if b - a > 1]


def draw_shapes(shapes: dict, origin: tuple, scale: float, size: tuple, style: Style) -> np.ndarray:
    """A premultiplied RGBA image (h, w, 4) of ``drawables_in_viewport``'s
    shapes: each filled (holes left open; overlapping shapes each fill) and
    outlined in its class colour, predictions barely filled and dashed,
    points as dots.  Later ids are drawn over earlier ones, every outline
    over every fill.  OpenCV's antialiased lines blend into the image exactly
    as premultiplied "over" does, so it is drawn in place, with no Python
    loop over pixels."""
    w, h = size
    out = np.zeros((h, w, 4), np.uint8)
    palette = dict(style.colors)
    white = (255, 255, 255)
    geometry, class_id, model = shapes["geometry"], shapes["class_id"], shapes["model"]
    origin = np.asarray(origin, float)
    width = max(1, int(style.width))
    point = shapely.get_type_id(geometry) == 0
    polygons = np.flatnonzero(~point)
    if len(polygons):
        parts, part_owner = shapely.get_parts(geometry[polygons], return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)  # each part's exterior, then its holes
        coords, ring_index = shapely.get_coordinates(rings, return_index=True)
        pixels = np.round((coords - origin) * scale).astype(np.int32)
        cuts = np.r_[0, np.flatnonzero(np.diff(ring_index)) + 1, len(pixels)].tolist()
        ring_list = [pixels[a:b] for a, b in zip(cuts[:-1], cuts[1:])]
        owner = polygons[part_owner[ring_part]]  # the shape of each ring
        bounds = np.flatnonzero(np.r_[True, np.diff(owner) != 0, True])
        fills = {}  # (class, prediction) -> premultiplied fill colour
        for a, b, cid, guess in zip(bounds[:-1].tolist(), bounds[1:].tolist(), class_id[owner[bounds[:-1]]].tolist(),
                                    model[owner[bounds[:-1]]].tolist()):  # one fill per shape: its holes stay open
            color = fills.get((cid, guess))
            if color is None:
                alpha = FILL_ALPHA // 3 if guess else FILL_ALPHA
                color = fills[cid, guess] = (*(c * alpha // 255 for c in palette.get(cid, white)), alpha)
            cv2.fillPoly(out, ring_list[a:b], color)
        exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
        for cid in np.unique(class_id[owner]):
            color = (*palette.get(int(cid), white), 255)
            mine = class_id[owner] == cid
            solid = [ring_list[i] for i in np.flatnonzero(mine & ~model[owner])]
            if solid:
                cv2.polylines(out, solid, True, color, width, cv2.LINE_AA)
            for i in np.flatnonzero(mine & model[owner] & exterior):
                cv2.polylines(out, _dashes(ring_list[i]), False, color, width, cv2.LINE_AA)
    for cid, xy in zip(class_id[point], shapely.get_coordinates(geometry[point]) if point.any() else []):
        cx, cy = np.round((xy - origin) * scale).astype(int)
        cv2.circle(out, (int(cx), int(cy)), POINT_RADIUS + width // 2, (*palette.get(int(cid), white), 255), -1,
                   cv2.LINE_AA)
    return out


def tile_touches(key: tuple, regions: list, width: int) -> bool:
    """Whether any of ``regions`` (image boxes) reaches into tile ``key``,
    its margin for outlines ``width`` pixels wide and points included."""
    level, row, col = key
    x1, y1, x2, y2 = tile_rect(level, row, col)
    pad = (width + POINT_RADIUS + 2) * 2.0 ** level
    return any(r[0] <= x2 + pad and r[2] >= x1 - pad and r[1] <= y2 + pad and r[3] >= y1 - pad for r in regions)
