"""The viewer's worker processes, shared by every viewer of the application:
image tiles are decoded and shape tiles drawn there (``tessera tile-worker``,
:mod:`core.imagery.workers`), so the GUI thread never waits on a busy
decoding thread for its interpreter lock.  The GUI side has no thread either:
jobs wait in a queue here, each process gets a few at a time, and answers
are read by the event loop as they come (a job not yet sent is cancelled by
dropping it).  Image tiles and shape tiles are lanes with processes of their
own, so a slow first build of an image's pyramid never holds its shapes
back; a process with nothing of its lane to do helps the other.  They start
with the first viewer, so a first image rarely waits for them."""
from __future__ import annotations

import atexit
import mmap
import os
import pickle
import struct
import tempfile
from dataclasses import dataclass

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from core.imagery.workers import FUNCTIONS, SLOT_BYTES, frame, from_slot
from core.jobs.runner import cli_command


IN_FLIGHT = 6  # jobs sent to a worker ahead of its answers (those cannot be dropped any more)


@dataclass
class _Job:
    id: int
    owner: "KeyedJobs"
    key: object
    tag: object
    name: str
    args: tuple


class _Worker:
    def __init__(self, pool: "TileWorkers", lane: str):
        self.lane = lane  # the jobs it takes first; it takes the other lanes' when it has none
        # the pixels of its answers come through a file both map (a slot per job under way)
        handle, self.slots_path = tempfile.mkstemp(prefix="tessera-tiles-")
        os.ftruncate(handle, IN_FLIGHT * SLOT_BYTES)
        self.shared = mmap.mmap(handle, 0)
        os.close(handle)
        self.free_slots = list(range(IN_FLIGHT))
        self.process = QProcess()
        self.process.setProcessChannelMode(QProcess.ProcessChannelMode.ForwardedErrorChannel)
        self.process.readyReadStandardOutput.connect(lambda: pool._read(self))
        self.process.finished.connect(lambda *_: pool._died(self))
        program, *args = cli_command(["tile-worker", self.slots_path])
        self.process.start(program, args)
        self.started = self.process.waitForStarted(10000)
        self.buffer = b""
        self.jobs: list[tuple[_Job, int]] = []  # sent, in order, not answered yet, with their slots

    def slot(self, index: int) -> memoryview:
        return memoryview(self.shared)[index * SLOT_BYTES:(index + 1) * SLOT_BYTES]

    def close(self) -> None:
        self.shared.close()
        try:
            os.unlink(self.slots_path)
        except OSError:
            pass


class TileWorkers(QObject):
    """Worker processes in lanes: ``counts`` says how many take each lane's
    jobs first.  A worker with none of its own lane's jobs waiting takes
    another's, one at a time (the image lane's worker, idle once an image's tiles
    are read, draws shapes; a slow pyramid build still leaves the shape
    workers most of their time)."""

    def __init__(self, counts: dict[str, int]):
        super().__init__()
        self.counts = dict(counts)
        self._workers: list[_Worker] = []
        self._queues: dict[str, list[_Job]] = {lane: [] for lane in counts}
        self._next_id = 0
        self._failed_starts = 0
        self.broken: str | None = None  # why no worker can be started (the jobs fail with it)
        self.ready = False  # a worker has answered its first job (it has imported all it needs)

    def start(self) -> None:
        for lane, count in self.counts.items():
            while sum(w.lane == lane for w in self._workers) < count and self.broken is None:
                worker = _Worker(self, lane)
                if worker.started:
                    self._failed_starts = 0
                    self._workers.append(worker)
                    self._next_id += 1
                    self._queues[lane].insert(0, _Job(self._next_id, _Ready(self), None, None, "ready", ()))
                    self._pump()
                    continue
                self._failed_starts += 1
                if self._failed_starts >= 3:  # not again at every frame
                    self.broken = f"the tile worker does not start ({worker.process.errorString()})"
                worker.close()
                break
        if self.broken is not None and not self._workers:
            for queue in self._queues.values():
                queued, queue[:] = list(queue), []
                for job in queued:
                    job.owner._answer(job, RuntimeError(self.broken))

    def submit(self, owner: "KeyedJobs", lane: str, key, tag, name: str, args: tuple) -> _Job:
        self._next_id += 1
        job = _Job(self._next_id, owner, key, tag, name, args)
        self._queues[lane].append(job)
        self.start()
        self._pump()
        return job

    def drop(self, jobs: list[_Job]) -> None:
        """Forget these jobs if they are still queued."""
        gone = {j.id for j in jobs}
        for queue in self._queues.values():
            queue[:] = [j for j in queue if j.id not in gone]

    def reorder(self, rank) -> None:
        """Sort the queued jobs by ``rank(job)`` (stable)."""
        for queue in self._queues.values():
            queue.sort(key=rank)

    def under_way(self, job: _Job) -> bool:
        return any(job is j for w in self._workers for j, _ in w.jobs)

    def wait(self, jobs: list[_Job]) -> None:
        """Until these jobs have answered (their answers are delivered meanwhile)."""
        ids = {j.id for j in jobs}
        while (any(j.id in ids for queue in self._queues.values() for j in queue)
               or any(j.id in ids for w in self._workers for j, _ in w.jobs)):
            busy = [w for w in self._workers if w.jobs]
            if not busy:
                self.start()  # again, if one stopped
                self._pump()  # (if none can start, start() has answered the jobs with why)
                continue
            # the workers holding these jobs first (else any: a free slot lets a queued one go);
            # briefly each, so one busy with a long job does not keep the others' answers waiting
            holders = [w for w in busy if any(j.id in ids for j, _ in w.jobs)] or busy
            for worker in holders:
                if worker.process.waitForReadyRead(5):
                    self._read(worker)
                elif worker.process.state() == QProcess.ProcessState.NotRunning:
                    self._died(worker)

    def _next_for(self, worker: _Worker) -> _Job | None:
        """Its own lane's next job; else, with few of its jobs under way, another lane's."""
        if self._queues[worker.lane]:
            return self._queues[worker.lane].pop(0)
        if len(worker.jobs) < BORROWED:
            for queue in self._queues.values():
                if queue:
                    return queue.pop(0)
        return None

    def _pump(self) -> None:
        """Keep each worker a few jobs ahead: it works on while the GUI thread is busy
        (and a queued job can still be dropped)."""
        for worker in self._workers:
            while worker.free_slots and worker.process.state() != QProcess.ProcessState.NotRunning:
                job = self._next_for(worker)
                if job is None:
                    break
                slot = worker.free_slots.pop()
                worker.jobs.append((job, slot))
                worker.process.write(frame((job.id, job.name, job.args, slot)))

    def _read(self, worker: _Worker) -> None:
        worker.buffer += bytes(worker.process.readAllStandardOutput())
        while len(worker.buffer) >= 4:
            size = struct.unpack("<I", worker.buffer[:4])[0]
            if len(worker.buffer) < 4 + size:
                break
            job_id, ok, result = pickle.loads(worker.buffer[4:4 + size])
            worker.buffer = worker.buffer[4 + size:]
            sent = next((s for s in worker.jobs if s[0].id == job_id), None)
            if sent is not None:
                worker.jobs.remove(sent)
                job, slot = sent
                # the pixels are read in place: each owner makes its QImage (a copy) at once, in _answer
                job.owner._answer(job, from_slot(result, worker.slot(slot), copy=False) if ok else RuntimeError(result))
                worker.free_slots.append(slot)
        self._pump()

    def _died(self, worker: _Worker) -> None:
        if worker not in self._workers:
            return
        self._workers.remove(worker)
        jobs, worker.jobs = worker.jobs, []
        worker.close()
        for job, _ in jobs:
            job.owner._answer(job, RuntimeError(f"the tile worker stopped ({worker.process.exitCode()})"))
        self._pump()

    def stop(self) -> None:
        """End the workers (they also end by themselves when this process does: their stdin closes)."""
        workers, self._workers = self._workers, []  # (one that ends is not "died" then)
        for worker in workers:
            try:
                worker.process.closeWriteChannel()
                if not worker.process.waitForFinished(2000):
                    worker.process.kill()
            except RuntimeError:  # Qt has already deleted it, at exit
                pass
            worker.close()


def lane_counts(cores: int) -> dict[str, int]:
    """Processes per lane: one for image tiles (reading a tiled file's tiles
    is quick) and, for shapes (the slow part), one per two cores beyond the
    GUI's and the image worker's, up to three."""
    return {"image": 1, "shapes": max(1, min(3, (cores - 2) // 2))}


BORROWED = 1  # another lane's jobs a worker takes at a time (its own lane's may come meanwhile: they wait for one at most)
_pool: TileWorkers | None = None


class _Ready:
    """The owner of a worker's first job: its answer says the workers are ready."""

    def __init__(self, workers: TileWorkers):
        self.workers = workers

    def _answer(self, job: _Job, result) -> None:
        self.workers.ready = self.workers.ready or result is True


def pool() -> TileWorkers:
    """This application's tile worker processes (started on first use)."""
    global _pool
    if _pool is None:
        _pool = TileWorkers(lane_counts(os.cpu_count() or 2))
        _pool.start()
        atexit.register(_pool.stop)
    return _pool


def start() -> None:
    pool()


class KeyedJobs(QObject):
    """Jobs in the worker processes, one per key; ``done(key, tag, result)``
    arrives on the GUI thread (``result`` is an exception when one failed).
    Jobs no longer wanted are dropped before they start."""

    done = Signal(object, object, object)  # the pixels in a result are valid during the call only

    def __init__(self, lane: str, parent=None):
        super().__init__(parent)
        self.lane = lane
        self._jobs: dict[object, _Job] = {}

    def submit(self, key, tag, name: str, *args, here_until_ready: bool = False) -> None:
        """Run ``name(*args)`` in a worker; with ``here_until_ready``, on this
        thread while the workers are still starting (the first view of a
        session does not wait half a second for them to import)."""
        workers = pool()
        if not (here_until_ready and not workers.ready):
            self._jobs[key] = workers.submit(self, self.lane, key, tag, name, args)
            return
        try:
            result = FUNCTIONS[name](*args)
        except Exception as exc:
            result = RuntimeError(f"{type(exc).__name__}: {exc}")
        job = self._jobs[key] = _Job(0, self, key, tag, name, args)
        QTimer.singleShot(0, self, lambda: self._answer(job, result))  # as a worker's answer would come

    def _answer(self, job: _Job, result) -> None:
        if self._jobs.get(job.key) is job:
            del self._jobs[job.key]
        try:
            self.done.emit(job.key, job.tag, result)
        except RuntimeError:  # its viewer is gone
            pass

    def retain(self, keys: list) -> list:
        """Drop the queued jobs of keys not in ``keys`` and queue the others in
        its order (the middle of the view first: a fast pan or zoom does not
        wait for tiles it has left); returns the keys still under way."""
        workers = pool()
        rank = {key: i for i, key in enumerate(keys)}
        gone = [job for key, job in self._jobs.items() if key not in rank and not workers.under_way(job)]
        workers.drop(gone)
        for job in gone:
            del self._jobs[job.key]
        workers.reorder(lambda job: rank.get(job.key, -1) if job.owner is self else -1)
        return list(self._jobs)

    def cancel(self) -> None:
        pool().drop(list(self._jobs.values()))
        self._jobs.clear()

    def wait(self) -> None:
        pool().wait(list(self._jobs.values()))

    def __contains__(self, key) -> bool:
        return key in self._jobs
