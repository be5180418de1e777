"""Images of a project: where the file is, its size, checksum, split, status."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Iterable

from ..errors import ProjectError
from .records import ImageRecord

if TYPE_CHECKING:
    from .store import Project

_COLS = "id, name, path, width, height, checksum, split, source, status, meta"
STATUSES = ("unlabeled", "in_progress", "done")


class ImageStore:
    def __init__(self, project: "Project"):
        self._p = project

    def add(self, name: str, path: str, width: int, height: int, checksum: str,
            split: str | None = None, source: str | None = None, meta: dict | None = None) -> int:
        with self._p.transaction() as c:
            cur = c.execute(
                "INSERT INTO images(name, path, width, height, checksum, split, source, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name, path, int(width), int(height), checksum, split, source, json.dumps(meta or {})))
            return cur.lastrowid

    def get(self, image_id: int) -> ImageRecord:
        row = self._p.conn.execute(f"SELECT {_COLS} FROM images WHERE id = ?", (image_id,)).fetchone()
        if row is None:
            raise ProjectError(f"no image with id {image_id}")
        return ImageRecord.from_row(row)

    def by_name(self, name: str) -> ImageRecord | None:
        row = self._p.conn.execute(f"SELECT {_COLS} FROM images WHERE name = ?", (name,)).fetchone()
        return ImageRecord.from_row(row) if row else None

    def find(self, text: str) -> ImageRecord:
        """An image by its name, or by its id: what a user types on the command line."""
        record = self.by_name(text)
        if record is None and text.strip().isdigit():
            record = next(iter(self.list(ids=[int(text)])), None)
        if record is None:
            raise ProjectError(f"no image {text!r} in the project")
        return record

    def by_checksum(self, checksum: str) -> list[ImageRecord]:
        rows = self._p.conn.execute(f"SELECT {_COLS} FROM images WHERE checksum = ?", (checksum,))
        return [ImageRecord.from_row(r) for r in rows]

    def list(self, split: str | None = None, ids: Iterable[int] | None = None) -> list[ImageRecord]:
        sql, args = f"SELECT {_COLS} FROM images", []
        if split is not None:
            sql, args = sql + " WHERE split IS ?", [split]
        rows = self._p.conn.execute(sql + " ORDER BY id", args).fetchall()
        records = [ImageRecord.from_row(r) for r in rows]
        if ids is not None:
            wanted = set(ids)
            records = [r for r in records if r.id in wanted]
        return records

    def count(self) -> int:
        return self._p.conn.execute("SELECT count(*) FROM images").fetchone()[0]

    def names(self) -> set[str]:
        return {r[0] for r in self._p.conn.execute("SELECT name FROM images")}

    def set_split(self, assignments: dict[int, str | None]) -> None:
        with self._p.transaction() as c:
            c.executemany("UPDATE images SET split = ? WHERE id = ?",
                          [(split, image_id) for image_id, split in assignments.items()])

    def set_status(self, image_id: int, status: str) -> None:
        if status not in STATUSES:
            raise ProjectError(f"unknown image status {status!r}; expected one of {', '.join(STATUSES)}")
        with self._p.transaction() as c:
            c.execute("UPDATE images SET status = ? WHERE id = ?", (status, image_id))

    def update_meta(self, image_id: int, **values) -> None:
        with self._p.transaction() as c:
            meta = json.loads(c.execute("SELECT meta FROM images WHERE id = ?", (image_id,)).fetchone()[0])
            meta.update(values)
            c.execute("UPDATE images SET meta = ? WHERE id = ?", (json.dumps(meta), image_id))

    def delete(self, image_id: int) -> None:
        with self._p.transaction() as c:
            c.execute("DELETE FROM images WHERE id = ?", (image_id,))
