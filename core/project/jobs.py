"""Jobs, their per-epoch metrics, checkpoints and the models they register.

The worker writes here as it goes, so the GUI after a crash, or the command
line, sees the same history as the live event stream."""
from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ProjectError

if TYPE_CHECKING:
    from .store import Project

STATES = ("queued", "running", "stopping", "stopped", "interrupted", "failed", "completed")
FINISHED = ("stopped", "interrupted", "failed", "completed")
_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


@dataclass
class Job:
    id: int
    pipeline: str
    state: str
    config: dict
    pid: int | None
    error: str | None
    epoch: int
    progress: dict
    created_at: str
    started_at: str | None
    heartbeat_at: str | None
    ended_at: str | None
    host: str | None = None  # the machine its worker runs on


@dataclass
class Model:
    id: int
    job_id: int | None
    pipeline: str
    kind: str
    architecture: str | None
    classes: list
    metrics: dict
    path: str
    created_at: str
    extra: dict = field(default_factory=dict)


_JOB_COLS = ("id, pipeline, state, config, pid, error, epoch, progress, created_at, started_at, heartbeat_at, "
             "ended_at, host")
# A job running on another machine (a torchrun node) is judged by its heartbeat,
# which its worker writes every few seconds (core.jobs.worker.HEARTBEAT_S).
REMOTE_SILENCE_S = 120


def _job(row) -> Job:
    r = list(row)
    r[3], r[7] = json.loads(r[3]), json.loads(r[7])
    return Job(*r)


class JobStore:
    def __init__(self, project: "Project"):
        self._p = project

    def create(self, pipeline: str, config: dict) -> int:
        with self._p.transaction() as c:
            return c.execute("INSERT INTO jobs(pipeline, config) VALUES (?, ?)",
                             (pipeline, json.dumps(config))).lastrowid

    def get(self, job_id: int) -> Job:
        row = self._p.conn.execute(f"SELECT {_JOB_COLS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise ProjectError(f"no job {job_id} in this project")
        return _job(row)

    def list(self) -> list[Job]:
        return [_job(r) for r in self._p.conn.execute(f"SELECT {_JOB_COLS} FROM jobs ORDER BY id")]

    def set_state(self, job_id: int, state: str, error: str | None = None, pid: int | None = None) -> None:
        if state not in STATES:
            raise ProjectError(f"unknown job state {state!r}")
        sets, args = ["state = ?"], [state]
        if state == "running":
            sets += [f"started_at = coalesce(started_at, {_NOW})", f"heartbeat_at = {_NOW}", "ended_at = NULL",
                     "error = NULL"]
        if state in FINISHED:
            sets.append(f"ended_at = {_NOW}")
        if error is not None:
            sets.append("error = ?")
            args.append(error)
        if pid is not None:
            sets += ["pid = ?", "host = ?"]
            args += [pid, socket.gethostname()]
        with self._p.transaction() as c:
            c.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE id = ?", (*args, job_id))

    def heartbeat(self, job_id: int, progress: dict | None = None) -> None:
        with self._p.transaction() as c:
            if progress is None:
                c.execute(f"UPDATE jobs SET heartbeat_at = {_NOW} WHERE id = ?", (job_id,))
            else:
                c.execute(f"UPDATE jobs SET heartbeat_at = {_NOW}, progress = ? WHERE id = ?",
                          (json.dumps(progress), job_id))

    def record_epoch(self, job_id: int, epoch: int, metrics: dict[str, float]) -> None:
        """Store every metric of one epoch (replacing a re-run of that epoch)."""
        with self._p.transaction() as c:
            c.executemany("INSERT OR REPLACE INTO metrics(job_id, epoch, name, value) VALUES (?, ?, ?, ?)",
                          [(job_id, epoch, k, None if v is None else float(v)) for k, v in metrics.items()])
            c.execute("UPDATE jobs SET epoch = ? WHERE id = ?", (epoch, job_id))

    def history(self, job_id: int) -> dict[int, dict[str, float]]:
        """``{epoch: {metric: value}}`` in epoch order."""
        out: dict[int, dict[str, float]] = {}
        for epoch, name, value in self._p.conn.execute(
                "SELECT epoch, name, value FROM metrics WHERE job_id = ? ORDER BY epoch, name", (job_id,)):
            out.setdefault(epoch, {})[name] = value
        return out

    def last_epochs(self) -> dict[int, dict[str, float]]:
        """Every job's metrics of its last recorded epoch, in one query (job lists)."""
        out: dict[int, dict[str, float]] = {}
        for job_id, name, value in self._p.conn.execute(
                "SELECT m.job_id, m.name, m.value FROM metrics m JOIN "
                "(SELECT job_id, max(epoch) AS epoch FROM metrics GROUP BY job_id) last "
                "ON m.job_id = last.job_id AND m.epoch = last.epoch"):
            out.setdefault(job_id, {})[name] = value
        return out

    def truncate_history(self, job_id: int, after_epoch: int) -> None:
        """Drop metrics of epochs after ``after_epoch`` (they are re-run on resume)."""
        with self._p.transaction() as c:
            c.execute("DELETE FROM metrics WHERE job_id = ? AND epoch > ?", (job_id, after_epoch))

    def add_checkpoint(self, job_id: int, epoch: int, kind: str, path: str, metric: float | None) -> None:
        with self._p.transaction() as c:
            c.execute("DELETE FROM checkpoints WHERE job_id = ? AND path = ?", (job_id, path))
            c.execute("INSERT INTO checkpoints(job_id, epoch, kind, path, metric) VALUES (?, ?, ?, ?, ?)",
                      (job_id, epoch, kind, path, metric))

    def remove_checkpoint(self, job_id: int, path: str) -> None:
        with self._p.transaction() as c:
            c.execute("DELETE FROM checkpoints WHERE job_id = ? AND path = ?", (job_id, path))

    def checkpoints(self, job_id: int) -> list[dict]:
        rows = self._p.conn.execute(
            "SELECT epoch, kind, path, metric FROM checkpoints WHERE job_id = ? ORDER BY id", (job_id,))
        return [{"epoch": e, "kind": k, "path": p, "metric": m} for e, k, p, m in rows]

    def mark_vanished(self) -> list[int]:
        """Jobs recorded as running whose process is gone become ``interrupted``."""
        gone = [j.id for j in self.list() if j.state in ("running", "stopping") and not self._running(j)]
        for job_id in gone:
            self.set_state(job_id, "interrupted", error="the worker process ended without a final event")
        return gone

    def _running(self, job: Job) -> bool:
        if job.host and job.host != socket.gethostname():
            silence = self._p.conn.execute(
                "SELECT (julianday('now') - julianday(heartbeat_at)) * 86400 FROM jobs WHERE id = ?",
                (job.id,)).fetchone()[0]
            return silence is not None and silence < REMOTE_SILENCE_S
        return _alive(job.pid)

    # -- models --------------------------------------------------------------
    def register_model(self, job_id: int | None, pipeline: str, path: str, architecture: str | None,
                       classes: list, metrics: dict, kind: str = "model") -> int:
        with self._p.transaction() as c:
            return c.execute(
                "INSERT INTO models(job_id, pipeline, kind, architecture, classes, metrics, path) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, pipeline, kind, architecture, json.dumps(classes), json.dumps(metrics), path)).lastrowid

    def update_model_metrics(self, model_id: int, values: dict) -> None:
        """Merge ``values`` into a model's stored metrics (e.g. its calibration)."""
        metrics = {**self.model(model_id).metrics, **values}
        with self._p.transaction() as c:
            c.execute("UPDATE models SET metrics = ? WHERE id = ?", (json.dumps(metrics), model_id))

    def model(self, model_id: int) -> Model:
        row = self._p.conn.execute(
            "SELECT id, job_id, pipeline, kind, architecture, classes, metrics, path, created_at "
            "FROM models WHERE id = ?", (model_id,)).fetchone()
        if row is None:
            raise ProjectError(f"no model {model_id} in this project")
        r = list(row)
        r[5], r[6] = json.loads(r[5]), json.loads(r[6])
        return Model(*r)

    def models(self, pipeline: str | None = None) -> list[Model]:
        ids = [r[0] for r in self._p.conn.execute(
            "SELECT id FROM models WHERE ? IS NULL OR pipeline = ? ORDER BY id", (pipeline, pipeline))]
        return [self.model(i) for i in ids]


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (finished, not yet reaped) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True
