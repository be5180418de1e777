"""One job, in its own process: ``python -m core.jobs.worker --project P --job ID``.

Events go to the real stdout, one JSON object per line; everything else
libraries print goes to stderr (the run's log).  Stop: ``{"cmd": "stop"}`` on
stdin or SIGTERM; the trainer finishes its batch, saves and reports ``stopped``."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback

HEARTBEAT_S = 5.0


def _events_stream():
    """Keep the real stdout for events; point fd 1 (and print) at stderr."""
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return events


def _listen_for_stop(stop: threading.Event) -> None:
    """Watch stdin for ``{"cmd": "stop"}`` with raw ``os.read`` on a private fd.

    sys.stdin itself is pointed at /dev/null: a thread blocked reading the
    Python stdin object holds its lock, and a forked data-loader process that
    closes stdin (multiprocessing does) would wait on that lock for ever."""
    fd = os.dup(0)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(os.devnull, encoding="utf-8")

    def read() -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    if json.loads(line).get("cmd") == "stop":
                        stop.set()
                except (ValueError, AttributeError):
                    continue

    threading.Thread(target=read, daemon=True, name="stdin").start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the runner, which asks us to stop


def _heartbeat(emitter, project, job_id: int, done: threading.Event) -> None:
    def beat() -> None:
        while not done.wait(HEARTBEAT_S):
            emitter.emit("heartbeat")
            try:
                project.jobs.heartbeat(job_id)
            except Exception:  # the store may be busy; the next beat tries again
                pass

    threading.Thread(target=beat, daemon=True, name="heartbeat").start()


def run_job(project_dir: str, job_id: int, resume: bool = False) -> int:
    from ..appdirs import configure_environment
    from . import distributed

    configure_environment()
    events = _events_stream()
    ranks = f"rank {distributed.rank()}/{distributed.world_size()} " if distributed.world_size() > 1 else ""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format=f"%(asctime)s {ranks}%(name)s %(levelname)s %(message)s")
    if not distributed.is_main():
        events.close()
        return _run_secondary(project_dir, job_id, resume)
    from ..pipelines import get_pipeline
    from ..project import Project
    from .context import JobContext
    from .events import Emitter

    emitter = Emitter(events, job=job_id)
    stop, done = threading.Event(), threading.Event()
    _listen_for_stop(stop)
    project = Project.open(project_dir)
    try:
        job = project.jobs.get(job_id)
        spec = get_pipeline(job.pipeline)
        project.jobs.set_state(job_id, "running", pid=os.getpid())
        _heartbeat(emitter, project, job_id, done)
        emitter.emit("started", pipeline=job.pipeline, config=job.config, resume=resume, pid=os.getpid())
        ctx = JobContext(project, job_id, spec, job.config, emitter, stop, resume=resume)
        ctx.log(f"worker {os.getpid()}: {sys.executable}" + (" (packaged app)" if getattr(sys, "frozen", False) else "")
                + (f", rank 0 of {distributed.world_size()} processes" if ranks else ""))
        result = spec.train_function()(ctx)
        if result.stopped:
            project.jobs.set_state(job_id, "stopped")
            emitter.emit("stopped", epoch=result.epochs_done, checkpoint=str(ctx.last_checkpoint or ""))
            return 0
        model_id = project.jobs.register_model(job_id, spec.model_pipeline, str(result.model_path), result.architecture,
                                               result.classes, result.metrics, kind=spec.model_kind)
        project.jobs.set_state(job_id, "completed")
        emitter.emit("completed", model=model_id, path=str(result.model_path), metrics=result.metrics,
                     epoch=result.epochs_done)
        return 0
    except BaseException as exc:  # noqa: BLE001 - every failure must reach the parent as an event
        message = f"{type(exc).__name__}: {exc}".strip()
        traceback.print_exc(file=sys.stderr)
        try:
            project.jobs.set_state(job_id, "failed", error=message)
        finally:
            emitter.emit("failed", error=message)
        return 1
    finally:
        done.set()
        project.close()


def _run_secondary(project_dir: str, job_id: int, resume: bool) -> int:
    """A rank other than 0 of a distributed job: the same trainer, recording
    nothing (no events, no store writes, no checkpoint files); it stops when
    rank 0 does (the trainer's collective stop check) or on SIGTERM."""
    from ..pipelines import get_pipeline
    from ..project import Project
    from .context import JobContext, SecondaryRankDone
    from .events import Emitter

    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # stop requests on stdin are rank 0's
    os.close(null)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    project = Project.open(project_dir)
    try:
        job = project.jobs.get(job_id)
        spec = get_pipeline(job.pipeline)
        ctx = JobContext(project, job_id, spec, job.config, Emitter(open(os.devnull, "w", encoding="utf-8")), stop,
                         resume=resume, is_main=False)
        spec.train_function()(ctx)
        return 0
    except SecondaryRankDone:
        return 0
    except BaseException:  # noqa: BLE001 - rank 0 reports the job's failure; this rank's cause goes to the log
        traceback.print_exc(file=sys.stderr)
        return 1
    finally:
        project.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tessera worker")
    parser.add_argument("--project", required=True)
    parser.add_argument("--job", type=int, required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    return run_job(args.project, args.job, args.resume)


if __name__ == "__main__":
    sys.exit(main())
