"""The project's record of model exports: which model, which formats, where
the package is, and its validation report."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ProjectError

if TYPE_CHECKING:
    from .store import Project


@dataclass
class ExportRecord:
    id: int
    model_id: int | None
    format: str
    path: str
    created_at: str
    report: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        return self.report.get("passed")


class ExportStore:
    def __init__(self, project: "Project"):
        self._p = project

    def add(self, model_id: int, formats: str, path: str, report: dict) -> int:
        with self._p.transaction() as c:
            return c.execute("INSERT INTO exports(model_id, format, path, report) VALUES (?, ?, ?, ?)",
                             (model_id, formats, path, json.dumps(report))).lastrowid

    def get(self, export_id: int) -> ExportRecord:
        row = self._p.conn.execute("SELECT id, model_id, format, path, created_at, report FROM exports "
                                   "WHERE id = ?", (export_id,)).fetchone()
        if row is None:
            raise ProjectError(f"no export {export_id} in this project")
        return ExportRecord(*row[:5], report=json.loads(row[5]))

    def list(self, model_id: int | None = None) -> list[ExportRecord]:
        ids = [r[0] for r in self._p.conn.execute(
            "SELECT id FROM exports WHERE ? IS NULL OR model_id = ? ORDER BY id", (model_id, model_id))]
        return [self.get(i) for i in ids]
