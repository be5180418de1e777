"""Annotations: geometry as WKB plus its bounding box in an R*Tree.

"What is in this viewport" is an index query (:meth:`AnnotationStore.in_viewport`),
never a scan of the image's shapes."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import ProjectError
from .records import Annotation

if TYPE_CHECKING:
    from .store import Project

KINDS = ("box", "polygon", "mask", "point")
_COLS = "id, image_id, class_id, kind, geometry, x1, y1, x2, y2, source, score, iscrowd, rle, track, attributes"


@dataclass
class NewAnnotation:
    """An annotation to be inserted (no id yet)."""
    image_id: int
    geometry: BaseGeometry
    kind: str
    class_id: int | None = None
    source: str = "human"
    score: float | None = None
    iscrowd: bool = False
    rle: str | None = None
    track: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def _rows(items: Sequence[NewAnnotation]) -> list[tuple]:
    geoms = [a.geometry for a in items]
    for a in items:
        if a.kind not in KINDS:
            raise ProjectError(f"unknown annotation kind {a.kind!r}; expected one of {', '.join(KINDS)}")
        if a.geometry is None or a.geometry.is_empty:
            raise ProjectError(f"{a.kind} annotation on image {a.image_id} has an empty geometry")
    wkb = shapely.to_wkb(geoms)
    bounds = shapely.bounds(geoms)
    return [
        (a.image_id, a.class_id, a.kind, w, float(b[0]), float(b[1]), float(b[2]), float(b[3]),
         a.source, a.score, int(a.iscrowd), a.rle, a.track, json.dumps(a.attributes))
        for a, w, b in zip(items, wkb, bounds)
    ]


def _decode(rows: list[tuple]) -> list[Annotation]:
    if not rows:
        return []
    geoms = shapely.from_wkb([r[4] for r in rows])
    return [
        Annotation(id=r[0], image_id=r[1], class_id=r[2], kind=r[3], geometry=g,
                   bbox=(r[5], r[6], r[7], r[8]), source=r[9], score=r[10], iscrowd=bool(r[11]),
                   rle=r[12], track=r[13], attributes=json.loads(r[14]))
        for r, g in zip(rows, geoms)
    ]


def _viewport_where(image_id: int, x1: float, y1: float, x2: float, y2: float, min_size: float,
                    limit: int | None, by_extent: bool = False) -> tuple[str, list]:
    """The condition on table alias ``r`` for an image's rectangle, with level
    of detail and an optional limit: ``r`` is the R*Tree, or with ``by_extent``
    the annotations themselves through their size index (see :func:`_source`)."""
    if by_extent:
        # The literal bound lets SQLite use the partial index; the index range
        # starts at the first bound, min_size, so it comes first.
        sql = (f"r.image_id = ? AND max(r.x2 - r.x1, r.y2 - r.y1) >= ? AND max(r.x2 - r.x1, r.y2 - r.y1) >= "
               f"{EXTENT_INDEX_MIN} AND r.x1 <= ? AND r.x2 >= ? AND r.y1 <= ? AND r.y2 >= ?")
        args: list = [image_id, min_size, x2, x1, y2, y1]
    else:
        sql = "r.image_lo <= ? AND r.image_hi >= ? AND r.x1 <= ? AND r.x2 >= ? AND r.y1 <= ? AND r.y2 >= ?"
        args = [image_id, image_id, x2, x1, y2, y1]
        if min_size > 0:
            # A point is drawn as a dot of a few screen pixels at any zoom: it
            # stays until the view is far enough out to ask the size index
            # (which holds no points).  Its R*Tree box is a hair wide (32-bit floats).
            points = " OR (r.x2 - r.x1 < 0.5 AND r.y2 - r.y1 < 0.5)" if min_size < EXTENT_INDEX_MIN else ""
            sql += f" AND (r.x2 - r.x1 >= ? OR r.y2 - r.y1 >= ?{points})"
            args += [min_size, min_size]
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    return sql, args


# A view this share of its image or more, zoomed out past the level of detail,
# asks the size index: the R*Tree would visit most shapes of the image to find
# the few that are big enough to see.  The index holds the shapes of
# EXTENT_INDEX_MIN pixels or more (schema step 4).
EXTENT_QUERY_SHARE = 0.25
EXTENT_INDEX_MIN = 32


def _source(conn, image_id: int, x1: float, y1: float, x2: float, y2: float, min_size: float,
            limit: int | None) -> tuple[str, str, list]:
    """(table as ``r``, condition, arguments) for the shapes of a view."""
    by_extent = False
    if min_size >= EXTENT_INDEX_MIN:
        size = conn.execute("SELECT width, height FROM images WHERE id = ?", (image_id,)).fetchone()
        if size and size[0] and size[1]:
            seen = max(0.0, min(x2, size[0]) - max(x1, 0.0)) * max(0.0, min(y2, size[1]) - max(y1, 0.0))
            by_extent = seen >= EXTENT_QUERY_SHARE * size[0] * size[1]
    where, args = _viewport_where(image_id, x1, y1, x2, y2, min_size, limit, by_extent)
    return ("annotations r" if by_extent else "annotation_index r"), where, args


class AnnotationStore:
    def __init__(self, project: "Project"):
        self._p = project

    def add(self, item: NewAnnotation) -> int:
        return self.add_many([item])[0]

    def add_many(self, items: Sequence[NewAnnotation]) -> list[int]:
        """Insert in one transaction; returns the new ids in order."""
        if not items:
            return []
        rows = _rows(items)
        sql = ("INSERT INTO annotations(image_id, class_id, kind, geometry, x1, y1, x2, y2, source, "
               "score, iscrowd, rle, track, attributes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        with self._p.transaction() as c:
            # Inside the write transaction new rowids are max(id)+1, +2, ...: the
            # ids above the old maximum are exactly the new rows, in order.
            before = c.execute("SELECT coalesce(max(id), 0) FROM annotations").fetchone()[0]
            c.executemany(sql, rows)
            ids = [r[0] for r in c.execute("SELECT id FROM annotations WHERE id > ? ORDER BY id", (before,))]
        if len(ids) != len(rows):
            raise ProjectError(f"inserted {len(rows)} annotations but found {len(ids)} new ids")
        return ids

    def restore(self, items: Sequence[Annotation]) -> None:
        """Put deleted annotations back with their old ids (undo of a delete)."""
        new = [NewAnnotation(image_id=a.image_id, geometry=a.geometry, kind=a.kind, class_id=a.class_id,
                             source=a.source, score=a.score, iscrowd=a.iscrowd, rle=a.rle, track=a.track,
                             attributes=a.attributes) for a in items]
        sql = ("INSERT INTO annotations(id, image_id, class_id, kind, geometry, x1, y1, x2, y2, source, "
               "score, iscrowd, rle, track, attributes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        with self._p.transaction() as c:
            c.executemany(sql, [(a.id, *row) for a, row in zip(items, _rows(new))])

    def get(self, annotation_id: int) -> Annotation:
        rows = self._p.conn.execute(f"SELECT {_COLS} FROM annotations WHERE id = ?", (annotation_id,)).fetchall()
        if not rows:
            raise ProjectError(f"no annotation with id {annotation_id}")
        return _decode(rows)[0]

    def for_image(self, image_id: int, source: str | None = "human") -> list[Annotation]:
        """The image's annotations; by default only the human ones (ground truth),
        ``source="model"`` for predictions, ``None`` for both."""
        sql, args = f"SELECT {_COLS} FROM annotations WHERE image_id = ?", [image_id]
        if source:
            sql, args = sql + " AND source = ?", args + [source]
        return _decode(self._p.conn.execute(sql + " ORDER BY id", args).fetchall())

    def in_viewport(self, image_id: int, x1: float, y1: float, x2: float, y2: float,
                    limit: int | None = None, min_size: float = 0.0) -> list[Annotation]:
        """Annotations of ``image_id`` whose bounding box meets the rectangle.
        ``min_size`` drops shapes smaller than that many pixels on both sides
        (level of detail when zoomed far out)."""
        table, where, args = _source(self._p.conn, image_id, x1, y1, x2, y2, min_size, limit)
        sql = (f"SELECT {', '.join('a.' + c.strip() for c in _COLS.split(','))} "
               f"FROM {table} JOIN annotations a ON a.id = r.id WHERE {where}")
        return _decode(self._p.conn.execute(sql, args).fetchall())

    def drawables_in_viewport(self, image_id: int, x1: float, y1: float, x2: float, y2: float,
                              min_size: float = 0.0) -> dict:
        """What drawing ``in_viewport``'s shapes needs, as arrays and without
        an object per shape, in id order: ``id``, ``class_id`` (-1: none),
        ``model`` (a prediction), ``bounds`` (n x 4: x1, y1, x2, y2) and
        ``geometry`` (shapely; boxes and masks as their rectangles)."""
        table, where, args = _source(self._p.conn, image_id, x1, y1, x2, y2, min_size, None)
        rows = self._p.conn.execute(
            "SELECT a.id, coalesce(a.class_id, -1), a.source = 'model', a.kind IN ('box', 'mask'), a.geometry, "
            f"a.x1, a.y1, a.x2, a.y2 FROM {table} JOIN annotations a ON a.id = r.id WHERE {where} ORDER BY a.id",
            args).fetchall()
        if not rows:
            return {"id": np.zeros(0, np.int64), "class_id": np.zeros(0, np.int64), "model": np.zeros(0, bool),
                    "bounds": np.zeros((0, 4)), "geometry": np.empty(0, object)}
        cols = list(zip(*rows))
        rect = np.asarray(cols[3], bool)
        geometry = shapely.from_wkb(np.asarray(cols[4], object))
        bounds = np.asarray(cols[5:9], float).T
        geometry[rect] = shapely.box(*bounds[rect].T)
        return {"id": np.asarray(cols[0], np.int64), "class_id": np.asarray(cols[1], np.int64),
                "model": np.asarray(cols[2], bool), "bounds": bounds, "geometry": geometry}

    def ids_in_viewport(self, image_id: int, x1: float, y1: float, x2: float, y2: float,
                        min_size: float = 0.0, limit: int | None = None) -> list[int]:
        """The ids ``in_viewport`` would return (at most ``limit``); the R*Tree
        alone answers, no geometry is read."""
        table, where, args = _source(self._p.conn, image_id, x1, y1, x2, y2, min_size, limit)
        # One result row, not one per id: sqlite3 gives the GIL up at every row,
        # and a UI thread beside busy threads waits to get it back each time.
        ids = self._p.conn.execute(f"SELECT group_concat(id) FROM (SELECT r.id FROM {table} WHERE {where})",
                                   args).fetchone()[0]
        return [int(i) for i in ids.split(",")] if ids else []

    def get_many(self, ids: Sequence[int]) -> list[Annotation]:
        """These annotations (the ones still stored), in id order."""
        out: list[Annotation] = []
        ids = list(ids)
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            out += _decode(self._p.conn.execute(
                f"SELECT {_COLS} FROM annotations WHERE id IN ({','.join('?' * len(chunk))}) ORDER BY id",
                chunk).fetchall())
        return out

    def count(self, image_id: int | None = None) -> int:
        if image_id is None:
            return self._p.conn.execute("SELECT count(*) FROM annotations").fetchone()[0]
        return self._p.conn.execute(
            "SELECT count(*) FROM annotations WHERE image_id = ?", (image_id,)).fetchone()[0]

    def counts_by_image(self) -> dict[int, int]:
        return dict(self._p.conn.execute("SELECT image_id, count(*) FROM annotations GROUP BY image_id"))

    def update(self, annotation_id: int, geometry: BaseGeometry | None = None,
               class_id: int | None = None, attributes: dict | None = None) -> None:
        """Change one annotation in one transaction."""
        with self._p.transaction() as c:
            if geometry is not None:
                if geometry.is_empty:
                    raise ProjectError("cannot store an empty geometry")
                x1, y1, x2, y2 = geometry.bounds
                c.execute("UPDATE annotations SET geometry = ?, x1 = ?, y1 = ?, x2 = ?, y2 = ?, "
                          "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?",
                          (shapely.to_wkb(geometry), x1, y1, x2, y2, annotation_id))
            if class_id is not None:
                c.execute("UPDATE annotations SET class_id = ? WHERE id = ?", (class_id, annotation_id))
            if attributes is not None:
                c.execute("UPDATE annotations SET attributes = ? WHERE id = ?",
                          (json.dumps(attributes), annotation_id))

    def classes_used(self, image_ids: Iterable[int], kinds: Sequence[str] = KINDS) -> set[int]:
        """Class ids that annotations of these kinds on these images carry."""
        ids = list(image_ids)
        if not ids:
            return set()
        marks, kind_marks = ",".join("?" * len(ids)), ",".join("?" * len(kinds))
        return {r[0] for r in self._p.conn.execute(
            f"SELECT DISTINCT class_id FROM annotations WHERE class_id IS NOT NULL AND source = 'human' "
            f"AND kind IN ({kind_marks}) AND image_id IN ({marks})", [*kinds, *ids])}

    def existing(self, ids: Iterable[int]) -> set[int]:
        """Which of these annotation ids are still stored."""
        ids = list(ids)
        if not ids:
            return set()
        return {r[0] for r in self._p.conn.execute(
            f"SELECT id FROM annotations WHERE id IN ({','.join('?' * len(ids))})", ids)}

    def set_class(self, assignments: dict[int, int | None]) -> None:
        """Give each annotation id its class (``None``: no class), in one transaction."""
        with self._p.transaction() as c:
            c.executemany("UPDATE annotations SET class_id = ? WHERE id = ?",
                          [(cls, ann) for ann, cls in assignments.items()])

    def set_source(self, ids: Iterable[int], source: str) -> None:
        """Mark annotations as human (an accepted prediction) or model-made."""
        with self._p.transaction() as c:
            c.executemany("UPDATE annotations SET source = ? WHERE id = ?", [(source, i) for i in ids])

    def delete(self, ids: Iterable[int]) -> None:
        with self._p.transaction() as c:
            c.executemany("DELETE FROM annotations WHERE id = ?", [(i,) for i in ids])
