"""What a pipeline's trainer gets from the worker: the job's configuration,
its run folder, and the calls that turn training into events and stored
history (progress, epochs, checkpoints, logs, stop requests)."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..project import Project
from .checkpoints import CheckpointPolicy
from .events import Emitter, clean

log = logging.getLogger("tessera.job")


@dataclass
class TrainResult:
    """What a trainer hands back: the weights file to register as the model."""
    model_path: Path
    architecture: str
    classes: list
    metrics: dict
    epochs_done: int
    stopped: bool = False
    extra: dict = field(default_factory=dict)


class SecondaryRankDone(Exception):
    """Raised in a rank other than 0 when its share of a distributed fit is done:
    what follows (the final model, its evaluation, the store) is rank 0's."""


class JobContext:
    """``is_main``: whether this is the job's process (rank 0 under torchrun, or
    the only one); the other ranks train but record nothing."""

    def __init__(self, project: Project, job_id: int, pipeline, config: dict, emitter: Emitter,
                 stop_event: threading.Event, resume: bool = False, is_main: bool = True):
        self.project, self.job_id, self.pipeline, self.config = project, job_id, pipeline, config
        self.emitter, self.stop_event, self.resume, self.is_main = emitter, stop_event, resume, is_main
        self.run_dir = project.runs_dir / f"job-{job_id:04d}"
        self.run_dir.mkdir(parents=True, exist_ok=True)
        history = project.jobs.history(job_id)
        best = None
        if history:
            values = [m.get(pipeline.main_metric) for m in history.values() if m.get(pipeline.main_metric) is not None]
            if values:
                best = max(values) if pipeline.mode == "max" else min(values)
        self.checkpoints = CheckpointPolicy(
            self.run_dir / "checkpoints", config["save_every"], config["keep_last"], pipeline.mode,
            on_saved=self._saved, on_removed=self._removed, best=best)

    # -- what trainers call ------------------------------------------------
    @property
    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def progress_due(self) -> bool:
        return self.is_main and self.emitter.progress_due()

    def progress(self, **data: Any) -> None:
        if not self.is_main:
            return
        data = clean(data)
        if self.emitter.emit("progress", **data):
            self.project.jobs.heartbeat(self.job_id, data)

    def log(self, message: str, level: str = "info") -> None:
        getattr(log, level if level in ("info", "warning", "error") else "info")(message)
        if self.is_main:
            self.emitter.emit("log", level=level, message=message)

    def epoch_end(self, epoch: int, metrics: dict[str, float]) -> None:
        """Store and announce all metrics of a finished epoch (1-based)."""
        if not self.is_main:
            return
        self.project.jobs.record_epoch(self.job_id, epoch, metrics)
        self.emitter.emit("epoch", epoch=epoch, epochs=self.config["epochs"], metrics=metrics)

    def track_best(self, name: str, metric: str, mode: str) -> None:
        """Also keep checkpoint ``name`` at the best ``metric`` so far (a resumed
        job carries on from the best of its stored epochs)."""
        values = [m[metric] for m in self.project.jobs.history(self.job_id).values() if m.get(metric) is not None]
        best = (max(values) if mode == "max" else min(values)) if values else None
        self.checkpoints.track(name, metric, mode, best)

    @property
    def last_checkpoint(self) -> Path | None:
        path = self.checkpoints.path("last")
        return path if path.is_file() else None

    @property
    def last_checkpoint_epoch(self) -> int:
        """The (1-based) epoch the ``last`` checkpoint holds; 0 when there is none."""
        epochs = [c["epoch"] for c in self.project.jobs.checkpoints(self.job_id) if c["kind"] == "last"]
        return max(epochs) if epochs and self.last_checkpoint else 0

    @property
    def epochs_done(self) -> int:
        history = self.project.jobs.history(self.job_id)
        return max(history) if history else 0

    def _saved(self, kind: str, path: Path, epoch: int, metric) -> None:
        if not self.is_main:
            return
        self.project.jobs.add_checkpoint(self.job_id, epoch, kind, str(path), metric)
        self.emitter.emit("checkpoint", kind=kind, path=str(path), epoch=epoch, metric=metric)

    def _removed(self, path: Path) -> None:
        if self.is_main:
            self.project.jobs.remove_checkpoint(self.job_id, str(path))
