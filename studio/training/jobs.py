"""Jobs as the studio sees them: the core runner's worker subprocess, its
events read on a thread and delivered to the UI thread as signals, and a
queue that runs one job at a time.  Nothing here trains: the worker does."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal

from core.jobs.events import Event
from core.jobs.runner import JobProcess


class _EventReader(QThread):
    """Reads one worker's events (blocking reads, off the UI thread)."""

    event = Signal(int, object)

    def __init__(self, process: JobProcess, parent=None):
        super().__init__(parent)
        self.process = process

    def run(self) -> None:
        for event in self.process.events():
            self.event.emit(self.process.job_id, event)


class _StoreFollower(QThread):
    """Jobs running in a worker this studio did not start (a terminal, an
    earlier session of the studio): their epochs, progress and end are read
    from the store on this thread and delivered as the same events."""

    event = Signal(int, object)
    POLL_MS = 1000

    def __init__(self, project_dir: Path, job_ids: list[int], parent=None):
        super().__init__(parent)
        self.project_dir, self.job_ids = project_dir, list(job_ids)

    def run(self) -> None:
        from core.project import Project

        with Project.open(self.project_dir) as project:
            seen = {j: max(project.jobs.history(j), default=0) for j in self.job_ids}
            progress: dict[int, dict] = {}
            while self.job_ids and not self.isInterruptionRequested():
                project.jobs.mark_vanished()  # a worker that died becomes interrupted
                for job_id in list(self.job_ids):
                    job = project.jobs.get(job_id)
                    history = project.jobs.history(job_id)
                    for epoch in sorted(e for e in history if e > seen[job_id]):
                        self.event.emit(job_id, Event("epoch", {"epoch": epoch, "epochs": job.config.get("epochs"),
                                                                "metrics": history[epoch]}))
                        seen[job_id] = epoch
                    if job.progress and job.progress != progress.get(job_id):
                        progress[job_id] = job.progress
                        self.event.emit(job_id, Event("progress", dict(job.progress)))
                    if job.state not in ("running", "stopping"):
                        kind = job.state if job.state in ("completed", "stopped") else "failed"
                        model = next((m.id for m in project.jobs.models() if m.job_id == job_id), None)
                        self.event.emit(job_id, Event(kind, {"error": job.error, "model": model}))
                        self.job_ids.remove(job_id)
                for _ in range(self.POLL_MS // 50):
                    if self.isInterruptionRequested():
                        return
                    self.msleep(50)


class JobQueue(QObject):
    """Queued jobs of one project, run one at a time (``parallel`` at a time).

    ``event(job_id, Event)`` carries every event of a running job;
    ``changed()`` says the set of queued / running jobs changed."""

    event = Signal(int, object)
    changed = Signal()

    def __init__(self, project_dir: Path, parallel: int = 1, parent=None):
        super().__init__(parent)
        self.project_dir = Path(project_dir)
        self.parallel = parallel
        self.queued: list[tuple[int, bool]] = []  # (job id, resume)
        self.running: dict[int, tuple[JobProcess, _EventReader]] = {}
        self._finishing: set[_EventReader] = set()  # readers whose worker is exiting
        self.followed: set[int] = set()  # running in a worker started elsewhere
        self._follower: _StoreFollower | None = None

    def follow(self, job_ids: list[int]) -> None:
        """Show the events of jobs another process started (read from the store)."""
        if not job_ids:
            return
        self.followed |= set(job_ids)
        self._follower = _StoreFollower(self.project_dir, job_ids, self)
        self._follower.event.connect(self._on_followed)  # connected before the thread starts
        self._follower.start()

    def _on_followed(self, job_id: int, event: Event) -> None:
        if event.final:
            self.followed.discard(job_id)
        self.event.emit(job_id, event)
        if event.final:
            self.changed.emit()

    def submit(self, job_id: int, resume: bool = False) -> None:
        self.queued.append((job_id, resume))
        self._start_next()
        self.changed.emit()

    def stop(self, job_id: int) -> None:
        """A queued job leaves the queue; a running one finishes its batch, saves and stops."""
        before = len(self.queued)
        self.queued = [(j, r) for j, r in self.queued if j != job_id]
        if len(self.queued) != before:
            self.changed.emit()
        if job_id in self.running:
            self.running[job_id][0].stop()
        elif job_id in self.followed:
            from core.jobs.runner import stop_job
            from core.project import Project

            with Project.open(self.project_dir) as project:
                stop_job(project, job_id)  # SIGTERM: the worker finishes its batch and saves

    def is_active(self, job_id: int) -> bool:
        return job_id in self.running or job_id in self.followed or any(j == job_id for j, _ in self.queued)

    def shutdown(self, grace: float = 30.0) -> None:
        """The studio is closing: the jobs it started are asked to stop and save
        (jobs started elsewhere go on)."""
        if self._follower is not None:
            self._follower.requestInterruption()
            self._follower.wait()
            self._follower = None
        self.queued.clear()
        for process, reader in list(self.running.values()):
            process.stop_and_wait(grace)
            reader.wait()
        self.running.clear()
        for reader in list(self._finishing):
            reader.wait()
        self._finishing.clear()

    def _start_next(self) -> None:
        while self.queued and len(self.running) < self.parallel:
            job_id, resume = self.queued.pop(0)
            process = JobProcess(self.project_dir, job_id, resume=resume)
            reader = _EventReader(process, self)
            reader.event.connect(self._on_event)  # connected before the thread starts
            try:
                process.start()
            except Exception as exc:  # e.g. a job that is not resumable any more
                self.event.emit(job_id, Event("failed", {"error": str(exc), "job": job_id}))
                continue
            self.running[job_id] = (process, reader)
            reader.start()

    def _on_event(self, job_id: int, event: Event) -> None:
        self.event.emit(job_id, event)
        if event.final and job_id in self.running:
            _, reader = self.running.pop(job_id)
            # the reader still waits for the worker process to exit: never on the UI thread
            self._finishing.add(reader)
            reader.finished.connect(lambda r=reader: (self._finishing.discard(r), r.deleteLater()))
            if reader.isFinished():
                self._finishing.discard(reader)
            self._start_next()
            self.changed.emit()
