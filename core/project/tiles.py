"""Tile sets: training windows cut from (large) images, with how much of each
window is annotated, so a training job can select "the annotated tiles"."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np

from ..errors import ProjectError
from ..imagery.tiling import tile_grid
from ..progress import Progress, track

if TYPE_CHECKING:
    from .store import Project


@dataclass
class Tile:
    id: int
    image_id: int
    x: int
    y: int
    w: int
    h: int
    annotations: int
    labelled_pixels: int

    @property
    def annotated(self) -> bool:
        return self.annotations > 0 or self.labelled_pixels > 0


class TileStore:
    def __init__(self, project: "Project"):
        self._p = project

    def create(self, name: str, tile_size: int, overlap: int = 0,
               image_ids: Iterable[int] | None = None, progress: Progress | None = None) -> int:
        """Cut every chosen image (all by default) into a grid and record, for
        each tile, how many shapes meet it and how many mask pixels are labelled."""
        images = self._p.images.list(ids=image_ids)
        conn = self._p.conn
        if conn.execute("SELECT 1 FROM tile_sets WHERE name = ?", (name,)).fetchone():
            raise ProjectError(f"a tile set named {name!r} already exists")
        rows = []
        for image in track(images, progress, message=f"tiling {name}"):
            mask = self._p.masks.get(image.id)
            for x, y, w, h in tile_grid(image.width, image.height, tile_size, overlap):
                n = len(self._p.annotations.ids_in_viewport(image.id, x, y, x + w, y + h))
                px = int(np.count_nonzero(mask[y:y + h, x:x + w])) if mask is not None else 0
                rows.append((image.id, x, y, w, h, n, px))
        with self._p.transaction() as c:
            sid = c.execute("INSERT INTO tile_sets(name, tile_size, overlap) VALUES (?, ?, ?)",
                            (name, tile_size, overlap)).lastrowid
            c.executemany("INSERT INTO tiles(tile_set_id, image_id, x, y, w, h, annotations, labelled_pixels) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [(sid, *r) for r in rows])
        return sid

    def names(self) -> list[str]:
        return [r[0] for r in self._p.conn.execute("SELECT name FROM tile_sets ORDER BY id")]

    def tiles(self, name: str, annotated_only: bool = False) -> list[Tile]:
        row = self._p.conn.execute("SELECT id FROM tile_sets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ProjectError(f"no tile set named {name!r}")
        sql = ("SELECT id, image_id, x, y, w, h, annotations, labelled_pixels FROM tiles "
               "WHERE tile_set_id = ?")
        if annotated_only:
            sql += " AND (annotations > 0 OR labelled_pixels > 0)"
        return [Tile(*r) for r in self._p.conn.execute(sql + " ORDER BY id", (row[0],))]
