"""Geometry checks shared by the importers: boxes clipped to the image,
self-intersecting polygons repaired, conversions to and from flat point lists."""
from __future__ import annotations

from typing import Sequence

import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry


class GeometryProblem(ValueError):
    """A shape that cannot be kept (degenerate, empty after clipping)."""


def clip_box(x1: float, y1: float, x2: float, y2: float, width: int, height: int,
             wrap: bool = False) -> tuple[tuple[float, float, float, float], str | None]:
    """The box inside the image, and a warning when it had to be clipped.
    With ``wrap`` (360-degree panoramas) x may run past the right edge."""
    if x2 < x1:
        x1, x2 = x2, x1
    if y2 < y1:
        y1, y2 = y2, y1
    cx1, cy1 = max(0.0, x1), max(0.0, y1)
    cx2 = x2 if wrap else min(float(width), x2)
    cy2 = min(float(height), y2)
    if wrap:
        cx1 = x1 % width if x1 < 0 or x1 >= width else x1
        cx2 = cx1 + (x2 - x1)
    if cx2 - cx1 <= 0 or cy2 - cy1 <= 0:
        raise GeometryProblem(f"box {x1:g},{y1:g},{x2:g},{y2:g} lies outside the {width}x{height} image")
    out = (cx1, cy1, cx2, cy2)
    warning = None
    if out != (x1, y1, x2, y2) and not (wrap and cy1 == y1 and cy2 == y2):
        warning = (f"box {x1:g},{y1:g},{x2:g},{y2:g} reaches outside the {width}x{height} image; "
                   f"clipped to {cx1:g},{cy1:g},{cx2:g},{cy2:g}")
    return out, warning


def polygon_from_points(points: Sequence[Sequence[float]]) -> Polygon:
    if len(points) < 3:
        raise GeometryProblem(f"polygon with {len(points)} points (needs at least 3)")
    return Polygon([(float(x), float(y)) for x, y in points])


def polygon_from_flat(coords: Sequence[float]) -> Polygon:
    if len(coords) % 2:
        raise GeometryProblem("polygon has an odd number of coordinates")
    return polygon_from_points(list(zip(coords[0::2], coords[1::2])))


def repair(geom: BaseGeometry, width: int, height: int) -> tuple[BaseGeometry, list[str]]:
    """Make a polygonal geometry valid and keep it inside the image.  Returns
    the geometry and what was changed (empty when it was fine)."""
    notes = []
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        polys = [g for g in getattr(fixed, "geoms", [fixed]) if isinstance(g, (Polygon, MultiPolygon))]
        parts = []
        for g in polys:
            parts.extend(g.geoms if isinstance(g, MultiPolygon) else [g])
        if not parts:
            raise GeometryProblem(f"invalid polygon ({reason}) has no area once repaired")
        geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        notes.append(f"invalid polygon ({reason}) repaired")
    frame = box(0, 0, width, height)
    if not frame.contains(geom):
        clipped = geom.intersection(frame)
        polys = [g for g in getattr(clipped, "geoms", [clipped]) if isinstance(g, Polygon) and not g.is_empty]
        if not polys:
            raise GeometryProblem("polygon lies outside the image")
        geom = polys[0] if len(polys) == 1 else MultiPolygon(polys)
        notes.append("polygon reaches outside the image; clipped")
    if geom.area <= 0:
        raise GeometryProblem("polygon has no area")
    return geom, notes


def polygons_of(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return []


def flat_exterior(poly: Polygon) -> list[float]:
    """Exterior ring as ``[x1, y1, x2, y2, ...]`` without the closing point."""
    coords = list(poly.exterior.coords)[:-1]
    return [round(float(v), 3) for xy in coords for v in xy]
