"""The active-learning queue: one score per image from a scoring run (the
model, the method, a rank, what the score is made of) and each item's
state: pending, exported, annotated or skipped."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from ..errors import ProjectError

if TYPE_CHECKING:
    from .store import Project

STATES = ("pending", "exported", "annotated", "skipped")


@dataclass
class QueueItem:
    id: int
    image_id: int
    model_id: int | None
    method: str
    score: float
    rank: int
    state: str
    details: dict = field(default_factory=dict)


class QueueStore:
    def __init__(self, project: "Project"):
        self._p = project

    def replace(self, model_id: int | None, method: str, scored: Iterable[tuple[int, float, dict]],
                ranking: list[int] | None = None) -> int:
        """A new scoring run's ``(image_id, score, details)`` become the queue,
        ranked by score (highest first) or by ``ranking`` (image ids in order,
        e.g. a diversity selection; the others follow by score).  An image
        already exported, annotated or skipped keeps that state."""
        scored = list(scored)
        order = sorted(scored, key=lambda s: -s[1])
        if ranking is not None:
            first = {image_id: i for i, image_id in enumerate(ranking)}
            order = sorted(order, key=lambda s: first.get(s[0], len(first)))
        with self._p.transaction() as c:
            kept = dict(c.execute("SELECT image_id, state FROM queue WHERE state != 'pending'").fetchall())
            c.execute("DELETE FROM queue")
            c.executemany(
                "INSERT INTO queue(image_id, model_id, method, score, rank, state, details) VALUES (?,?,?,?,?,?,?)",
                [(image_id, model_id, method, float(score), rank, kept.get(image_id, "pending"), json.dumps(details))
                 for rank, (image_id, score, details) in enumerate(order, start=1)])
        return len(order)

    def items(self, state: str | None = None, limit: int | None = None) -> list[QueueItem]:
        sql = "SELECT id, image_id, model_id, method, score, rank, state, details FROM queue"
        args: list = []
        if state is not None:
            sql, args = sql + " WHERE state = ?", [state]
        sql += " ORDER BY rank"
        if limit is not None:
            sql, args = sql + " LIMIT ?", args + [int(limit)]
        return [QueueItem(*row[:7], json.loads(row[7])) for row in self._p.conn.execute(sql, args)]

    def set_state(self, image_ids: Iterable[int], state: str) -> None:
        if state not in STATES:
            raise ProjectError(f"unknown queue state {state!r}; use one of {', '.join(STATES)}")
        with self._p.transaction() as c:
            c.executemany("UPDATE queue SET state = ? WHERE image_id = ?", [(state, int(i)) for i in image_ids])

    def next_pending(self) -> QueueItem | None:
        items = self.items("pending", limit=1)
        return items[0] if items else None

    def scores(self) -> dict[int, float]:
        """Image id -> score, for the image list's score column."""
        return dict(self._p.conn.execute("SELECT image_id, score FROM queue").fetchall())
