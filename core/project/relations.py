"""Relations between annotations: interacting pairs (with multi-label
interaction labels) and social groups of persons."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from ..errors import ProjectError

if TYPE_CHECKING:
    from .store import Project


@dataclass
class Pair:
    id: int
    image_id: int
    a_id: int
    b_id: int
    labels: dict[str, float]
    source: str = "human"
    attributes: dict = field(default_factory=dict)


@dataclass
class Group:
    id: int
    image_id: int
    ext_id: int | None
    members: list[int]
    attributes: dict = field(default_factory=dict)


class RelationStore:
    def __init__(self, project: "Project"):
        self._p = project

    # -- pairs -------------------------------------------------------------
    def add_pair(self, image_id: int, a_id: int, b_id: int, labels: dict[str, float] | None = None,
                 source: str = "human", attributes: dict | None = None) -> int:
        if a_id == b_id:
            raise ProjectError(f"a pair needs two different annotations (got {a_id} twice)")
        with self._p.transaction() as c:
            owners = {r[0] for r in c.execute(
                "SELECT image_id FROM annotations WHERE id IN (?, ?)", (a_id, b_id))}
            if owners != {image_id}:
                raise ProjectError(f"annotations {a_id} and {b_id} are not both on image {image_id}")
            return c.execute(
                "INSERT INTO relations(image_id, a_id, b_id, labels, source, attributes) VALUES (?,?,?,?,?,?)",
                (image_id, a_id, b_id, json.dumps(labels or {}), source, json.dumps(attributes or {}))).lastrowid

    def pairs(self, image_id: int | None = None) -> list[Pair]:
        sql = "SELECT id, image_id, a_id, b_id, labels, source, attributes FROM relations"
        args: tuple = ()
        if image_id is not None:
            sql, args = sql + " WHERE image_id = ?", (image_id,)
        return [Pair(i, im, a, b, json.loads(lab), s, json.loads(at))
                for i, im, a, b, lab, s, at in self._p.conn.execute(sql + " ORDER BY id", args)]

    def set_pair_labels(self, pair_id: int, labels: dict[str, float]) -> None:
        with self._p.transaction() as c:
            c.execute("UPDATE relations SET labels = ? WHERE id = ?", (json.dumps(labels), pair_id))

    def set_pair(self, pair_id: int, labels: dict[str, float], source: str) -> None:
        """A pair's labels and source at once (a model's pair accepted, or that undone)."""
        with self._p.transaction() as c:
            c.execute("UPDATE relations SET labels = ?, source = ? WHERE id = ?", (json.dumps(labels), source, pair_id))

    def delete_pairs(self, ids: Iterable[int]) -> None:
        with self._p.transaction() as c:
            c.executemany("DELETE FROM relations WHERE id = ?", [(i,) for i in ids])

    # -- groups ------------------------------------------------------------
    def add_group(self, image_id: int, members: Iterable[int], ext_id: int | None = None,
                  attributes: dict | None = None) -> int:
        members = list(dict.fromkeys(members))
        with self._p.transaction() as c:
            gid = c.execute("INSERT INTO groups(image_id, ext_id, attributes) VALUES (?, ?, ?)",
                            (image_id, ext_id, json.dumps(attributes or {}))).lastrowid
            c.executemany("INSERT INTO group_members(group_id, annotation_id) VALUES (?, ?)",
                          [(gid, m) for m in members])
            return gid

    def groups(self, image_id: int | None = None) -> list[Group]:
        sql = "SELECT id, image_id, ext_id, attributes FROM groups"
        args: tuple = ()
        if image_id is not None:
            sql, args = sql + " WHERE image_id = ?", (image_id,)
        out = []
        for gid, im, ext, attrs in self._p.conn.execute(sql + " ORDER BY id", args).fetchall():
            members = [r[0] for r in self._p.conn.execute(
                "SELECT annotation_id FROM group_members WHERE group_id = ? ORDER BY annotation_id", (gid,))]
            out.append(Group(gid, im, ext, members, json.loads(attrs)))
        return out

    def set_group_members(self, group_id: int, members: Iterable[int]) -> None:
        with self._p.transaction() as c:
            c.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            c.executemany("INSERT INTO group_members(group_id, annotation_id) VALUES (?, ?)",
                          [(group_id, m) for m in dict.fromkeys(members)])

    def delete_group(self, group_id: int) -> None:
        with self._p.transaction() as c:
            c.execute("DELETE FROM groups WHERE id = ?", (group_id,))

    # -- keeping relations across a delete and its undo -------------------------
    def involving(self, annotation_ids: Iterable[int]) -> dict:
        """The pairs and group memberships that these annotations take part in
        (deleting the annotations deletes them too)."""
        ids = list(annotation_ids)
        if not ids:
            return {"pairs": [], "members": []}
        marks = ",".join("?" * len(ids))
        pairs = [Pair(i, im, a, b, json.loads(lab), s, json.loads(at)) for i, im, a, b, lab, s, at in
                 self._p.conn.execute("SELECT id, image_id, a_id, b_id, labels, source, attributes FROM relations "
                                      f"WHERE a_id IN ({marks}) OR b_id IN ({marks})", ids + ids)]
        members = self._p.conn.execute(
            f"SELECT group_id, annotation_id FROM group_members WHERE annotation_id IN ({marks})", ids).fetchall()
        return {"pairs": pairs, "members": [tuple(m) for m in members]}

    def restore(self, saved: dict) -> None:
        """Put back what :meth:`involving` saved (after the annotations are back)."""
        with self._p.transaction() as c:
            c.executemany(
                "INSERT OR IGNORE INTO relations(id, image_id, a_id, b_id, labels, source, attributes) "
                "VALUES (?,?,?,?,?,?,?)",
                [(p.id, p.image_id, p.a_id, p.b_id, json.dumps(p.labels), p.source, json.dumps(p.attributes))
                 for p in saved["pairs"]])
            c.executemany("INSERT OR IGNORE INTO group_members(group_id, annotation_id) VALUES (?, ?)",
                          saved["members"])
