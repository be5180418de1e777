"""Classes (categories) of a project: name, colour, critical flag, order."""
from __future__ import annotations

import colorsys
from typing import TYPE_CHECKING

from ..errors import ProjectError
from .records import ClassInfo

if TYPE_CHECKING:
    from .store import Project


def default_color(index: int) -> str:
    """Well-separated colours: golden-ratio steps around the hue circle."""
    hue = (index * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


class ClassStore:
    def __init__(self, project: "Project"):
        self._p = project

    def list(self) -> list[ClassInfo]:
        rows = self._p.conn.execute(
            "SELECT id, name, color, critical, position, ext_id FROM classes ORDER BY position, id")
        return [ClassInfo(i, n, c, bool(cr), p, e) for i, n, c, cr, p, e in rows]

    def by_name(self, name: str) -> ClassInfo | None:
        return next((c for c in self.list() if c.name == name), None)

    def get(self, class_id: int) -> ClassInfo:
        found = next((c for c in self.list() if c.id == class_id), None)
        if found is None:
            raise ProjectError(f"no class with id {class_id}")
        return found

    def ensure(self, name: str, color: str | None = None, ext_id: int | None = None,
               critical: bool | None = None) -> int:
        """The id of class ``name``, created if missing.  An existing class keeps
        its colour; a missing ``ext_id`` is filled in."""
        name = name.strip()
        if not name:
            raise ProjectError("a class needs a non-empty name")
        with self._p.transaction() as c:
            row = c.execute("SELECT id, ext_id FROM classes WHERE name = ?", (name,)).fetchone()
            if row:
                if row[1] is None and ext_id is not None:
                    c.execute("UPDATE classes SET ext_id = ? WHERE id = ?", (ext_id, row[0]))
                if critical is not None:
                    c.execute("UPDATE classes SET critical = ? WHERE id = ?", (int(critical), row[0]))
                return row[0]
            n = c.execute("SELECT count(*), coalesce(max(position), -1) FROM classes").fetchone()
            cur = c.execute(
                "INSERT INTO classes(name, color, critical, position, ext_id) VALUES (?, ?, ?, ?, ?)",
                (name, color or default_color(n[0]), int(bool(critical)), n[1] + 1, ext_id))
            return cur.lastrowid

    def set_critical(self, name: str, critical: bool = True) -> None:
        with self._p.transaction() as c:
            if c.execute("UPDATE classes SET critical = ? WHERE name = ?", (int(critical), name)).rowcount == 0:
                raise ProjectError(f"no class named {name!r}")

    def set_color(self, class_id: int, color: str) -> None:
        with self._p.transaction() as c:
            c.execute("UPDATE classes SET color = ? WHERE id = ?", (color, class_id))

    def rename(self, class_id: int, name: str) -> None:
        with self._p.transaction() as c:
            c.execute("UPDATE classes SET name = ? WHERE id = ?", (name, class_id))
