"""Starting jobs and following them: the parent side of the worker protocol.

:func:`create_job` validates a configuration against the pipeline's
declaration and the project's data before any work starts;
:class:`JobProcess` runs ``python -m core.jobs.worker`` and turns its stdout
into :class:`~core.jobs.events.Event` objects (an iterator, or callbacks)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

from ..errors import TesseraError
from ..project import Project
from .events import Event, EventError, parse_line

STOP_GRACE_S = 60.0
RESUMABLE = ("stopped", "interrupted", "failed")


def create_job(project: Project, pipeline: str, values: dict, from_model: int | None = None) -> int:
    """Check everything a user can get wrong, then store the job (queued)."""
    from ..pipelines import get_pipeline
    from ..pipelines.backbones import check_encoder_from

    spec = get_pipeline(pipeline)
    if from_model is not None:
        values = {**values, "from_model": from_model}
    config = spec.validate(values)
    if spec.needs_model and config.get("from_model") is None:
        first = spec.start_pipelines()[0]
        ids = [m.id for m in project.jobs.models(first)]
        known = (f"{first} models of this project: {', '.join(map(str, ids))}" if ids
                 else f"this project has none yet: train {first} first")
        raise TesseraError(f"{pipeline} starts from a finished {first} model: set from_model=ID ({known})")
    if config.get("from_model") is not None:
        model = project.jobs.model(config["from_model"])
        if not spec.accepts_model_of(model.pipeline):
            if model.kind == "backbone":
                raise TesseraError(f"model {model.id} is a pre-trained backbone: start from it with "
                                   f"encoder_from={model.id}, not from_model")
            raise TesseraError(f"model {model.id} was trained by pipeline {model.pipeline!r}; "
                               f"{pipeline!r} cannot start from it")
        if (model.architecture or "").startswith("ensemble"):
            raise TesseraError(f"model {model.id} is an ensemble of three networks; a job starts from a single "
                               "model's weights")
    check_encoder_from(project, pipeline, config)
    if spec.check is not None:
        config.update(spec.check(project, config) or {})
    return project.jobs.create(pipeline, config)


# glibc's malloc hands every block over its (adaptive) mmap threshold back to
# the kernel when freed, so each training step faults in its large activation
# and gradient buffers afresh: on the demo's segmentation job that was 13 s of
# system time out of 83 and 20 % slower epochs.  Keeping them in the heap (and
# not trimming it) lets the next step reuse the memory.  Other C libraries
# ignore these variables; a user's own settings win.
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(4 << 30),
                 "MALLOC_TOP_PAD_": str(256 << 20)}


def worker_environment(base: dict | None = None) -> dict:
    """The environment a job's worker runs in."""
    env = dict(os.environ if base is None else base, PYTHONUNBUFFERED="1")
    for key, value in WORKER_MALLOC.items():
        env.setdefault(key, value)
    root = Path(__file__).resolve().parents[2]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    return env


def cli_command(args: list[str]) -> list[str]:
    """``tessera ARGS`` as a subprocess command (the packaged app is its own CLI)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "core.cli.main", *args]


def worker_command(project_dir: Path, job_id: int, resume: bool, processes: str | None = None) -> list[str]:
    """The worker of one job; with ``processes`` (torchrun's ``--nproc-per-node``)
    that many of them under torchrun, rank 0 the job's voice."""
    if getattr(sys, "frozen", False):  # the packaged app is its own worker
        cmd = [sys.executable, "worker"]
    else:
        cmd = [sys.executable, "-m", "core.jobs.worker"]
    cmd += ["--project", str(project_dir), "--job", str(job_id)] + (["--resume"] if resume else [])
    if processes is None:
        return cmd
    from .distributed import torchrun_args

    return cli_command(["torchrun", *torchrun_args(processes), *cmd])


class JobProcess:
    def __init__(self, project_dir: str | Path, job_id: int, resume: bool = False):
        self.project_dir = Path(project_dir)
        self.job_id = job_id
        self.resume = resume
        self.proc: subprocess.Popen | None = None
        self.final: Event | None = None
        self.log_path = self.project_dir / "runs" / f"job-{job_id:04d}" / "worker.log"

    def start(self) -> "JobProcess":
        from .distributed import processes

        with Project.open(self.project_dir) as project:
            job = project.jobs.get(self.job_id)
        if self.resume and job.state not in RESUMABLE:
            raise TesseraError(f"job {self.job_id} is {job.state}; only {', '.join(RESUMABLE)} jobs can be resumed")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "a", encoding="utf-8")
        nproc = processes(job.config.get("device", "auto"))
        self.proc = subprocess.Popen(worker_command(self.project_dir, self.job_id, self.resume, nproc),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True,
                                     bufsize=1, start_new_session=True, env=worker_environment())
        log.close()
        return self

    def events(self) -> Iterator[Event]:
        """Events as they arrive, ending with the final one (or a synthetic
        ``failed`` when the worker died without saying so)."""
        assert self.proc is not None and self.proc.stdout is not None, "start() first"
        for line in self.proc.stdout:
            try:
                event = parse_line(line)
            except EventError as exc:
                event = Event("log", {"level": "warning", "message": f"unreadable event: {exc}"})
            if event is None:
                continue
            if event.final:
                self.final = event
            yield event
        self.proc.wait()
        if self.final is None:
            self.final = Event("failed", {"error": f"worker exited with status {self.proc.returncode} "
                                                   f"without a final event; see {self.log_path}"})
            with Project.open(self.project_dir) as project:
                project.jobs.mark_vanished()
            yield self.final

    def run(self, on_event: Callable[[Event], None] | None = None) -> Event:
        for event in self.events():
            if on_event:
                on_event(event)
        return self.final

    def stop(self) -> None:
        """Ask the worker to finish its batch, save and stop."""
        if self.proc and self.proc.poll() is None and self.proc.stdin:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            import psutil

            try:  # torchrun starts each rank in a session of its own
                ranks = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.Error:
                ranks = []
            os.killpg(self.proc.pid, signal.SIGKILL)
            for child in ranks:
                try:
                    child.kill()
                except psutil.Error:
                    pass

    def stop_and_wait(self, grace: float = STOP_GRACE_S) -> int:
        """Stop, then kill the process group if it has not ended after ``grace``."""
        self.stop()
        deadline = time.monotonic() + grace
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.proc.poll() is None:
            self.kill()
        return self.proc.wait()


def stop_job(project: Project, job_id: int) -> None:
    """Stop a job started elsewhere (another terminal, the GUI): SIGTERM."""
    job = project.jobs.get(job_id)
    if job.state not in ("running", "stopping") or not job.pid:
        raise TesseraError(f"job {job_id} is {job.state}, not running")
    if job.host and job.host != socket.gethostname():
        raise TesseraError(f"job {job_id} runs on {job.host}: stop it there (tessera stop), or send SIGTERM to its "
                           "torchrun")
    try:
        os.kill(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        project.jobs.mark_vanished()
        raise TesseraError(f"job {job_id}'s process is gone; it is now marked interrupted") from None
    project.jobs.set_state(job_id, "stopping")
