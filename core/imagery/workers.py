"""What the viewer's worker processes run (no Qt): an image tile from its
pyramid, a shape tile from the store.  Decoding and drawing there, not in
threads of the GUI process, keeps them from holding the GUI's interpreter
lock: its frames do not wait for them.  Each process keeps the pyramids and
the store connection it opened, for the next tiles of the same image.

``tessera tile-worker`` runs :func:`serve`: jobs come in on stdin and results
go out on stdout, each a pickle after its length (4 bytes, little-endian)."""
from __future__ import annotations

import os
import pickle
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import cv2

from .pyramid import TilePyramid
from .shape_raster import Style, render_tile

_pyramids: dict[tuple, TilePyramid] = {}
_projects: dict[str, object] = {}


def image_tile(image_path: str, checksum: str, cache_root: str, level: int, row: int, col: int) -> np.ndarray:
    """Pyramid tile (level, row, col) of an image (built and cached on demand),
    as B, G, R, 255 bytes: Qt's own 32-bit layout, shown with no conversion."""
    key = (image_path, checksum, cache_root)
    pyramid = _pyramids.get(key)
    if pyramid is None:
        if len(_pyramids) >= 8:  # images seen long ago: let their files go
            for old in _pyramids.values():
                old.close()
            _pyramids.clear()
        pyramid = _pyramids[key] = TilePyramid(Path(image_path), checksum, Path(cache_root))
    return cv2.cvtColor(pyramid.get_tile(level, row, col), cv2.COLOR_RGB2BGRA)


def shape_tile_pixels(annotations, image_id: int, key: tuple, style: Style,
                      exclude=frozenset()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`core.imagery.shape_raster.render_tile`, its pixels as
    premultiplied B, G, R, A bytes (Qt's own layout)."""
    rgba, ids, bounds = render_tile(annotations, image_id, key, style, exclude)
    return cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA), ids, bounds


def shape_tile(root: str, image_id: int, key: tuple, style: Style,
               exclude: frozenset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shape tile ``key`` of an image of the project at ``root``: see
    :func:`shape_tile_pixels`."""
    from core.project import Project

    root = str(root)
    project = _projects.get(root)
    if project is None:
        for old in _projects.values():  # one project at a time
            old.close()
        _projects.clear()
        project = _projects[root] = Project.open(Path(root))
    return shape_tile_pixels(project.annotations, image_id, key, style, exclude)


def ready() -> bool:
    """The first job of a worker: it has started and imported all it needs."""
    return True


FUNCTIONS = {"image_tile": image_tile, "shape_tile": shape_tile, "ready": ready}


SLOT_BYTES = 256 * 256 * 4  # the pixels of one tile, passed through shared memory


def frame(obj) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return struct.pack("<I", len(data)) + data


def _into_slot(result, slot: memoryview) -> tuple[bool, tuple]:
    """The result as (whether it was a tuple, its parts), its pixels (its
    first large array) moved into ``slot``: a pipe would carry them 64 KB at
    a time, each waiting for the GUI to read."""
    whole = isinstance(result, tuple)
    parts = list(result) if whole else [result]
    for i, part in enumerate(parts):
        if isinstance(part, np.ndarray) and SLOT_BYTES >= part.nbytes >= 4096:
            part = np.ascontiguousarray(part)
            slot[:part.nbytes] = part.reshape(-1).view(np.uint8)
            parts[i] = _InSlot(part.shape, part.dtype.str)
            break
    return whole, tuple(parts)


@dataclass(frozen=True)
class _InSlot:
    """Where an array was; its bytes are in the job's slot."""
    shape: tuple
    dtype: str


def from_slot(sent: tuple[bool, tuple], slot: memoryview, copy: bool = True):
    """The other side of :func:`_into_slot`: the result, its pixels copied out
    of ``slot`` (or, with ``copy=False``, a view of it, valid until the slot
    is used again)."""
    whole, parts = sent
    parts = list(parts)
    for i, part in enumerate(parts):
        if isinstance(part, _InSlot):
            count = int(np.prod(part.shape))
            parts[i] = np.frombuffer(slot, dtype=np.dtype(part.dtype), count=count).reshape(part.shape)
            if copy:
                parts[i] = parts[i].copy()
    return tuple(parts) if whole else parts[0]


def _yield_to_the_gui() -> None:
    """The GUI thread comes first: its frames do not wait for tiles.  The
    lowest priority, not SCHED_IDLE: beside a training job that keeps every
    core busy, tiles still get drawn, slowly."""
    import psutil

    try:
        psutil.Process().nice(19 if hasattr(os, "nice") else psutil.IDLE_PRIORITY_CLASS)
    except (psutil.Error, OSError):
        pass


def serve(slots_path: str) -> int:
    """Run jobs ``(job id, function name, args, slot)`` until stdin closes;
    answer each with ``(job id, True, result)`` (its pixels in shared-memory
    slot ``slot`` of the file at ``slots_path``) or ``(job id, False, error text)``."""
    import mmap

    import core.project  # noqa: F401  (now, while the studio is still opening; not at the first shape tile)

    _yield_to_the_gui()
    with open(slots_path, "r+b") as f:
        shared = memoryview(mmap.mmap(f.fileno(), 0))
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not break the answers
    source = sys.stdin.buffer
    while True:
        head = source.read(4)
        if len(head) < 4:
            return 0
        job_id, name, args, slot = pickle.loads(source.read(struct.unpack("<I", head)[0]))
        try:
            result = FUNCTIONS[name](*args)
            answer = (job_id, True, _into_slot(result, shared[slot * SLOT_BYTES:(slot + 1) * SLOT_BYTES]))
        except Exception as exc:  # a damaged file, a store that went away: the viewer says so
            answer = (job_id, False, f"{type(exc).__name__}: {exc}")
        out.write(frame(answer))
        out.flush()


def ask(command: list[str], jobs: list[tuple[str, tuple]], timeout: float = 120.0, env: dict | None = None) -> list:
    """Start a tile worker with ``command`` (``tessera tile-worker`` as a
    subprocess command, without the slots file), run ``jobs`` (function
    name, args) through it one at a time and return their results (an error
    as a ``RuntimeError``).  Without Qt: for tests and diagnostics; the
    studio's own client is :mod:`studio.viewer.workers`."""
    import mmap
    import subprocess
    import tempfile

    handle, slots_path = tempfile.mkstemp(prefix="tessera-tiles-")
    try:
        os.ftruncate(handle, SLOT_BYTES)
        shared = mmap.mmap(handle, 0)
        worker = subprocess.Popen([*command, slots_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        results = []
        try:
            for job_id, (name, args) in enumerate(jobs):
                worker.stdin.write(frame((job_id, name, args, 0)))
                worker.stdin.flush()
                head = worker.stdout.read(4)
                if len(head) < 4:
                    raise RuntimeError(f"the tile worker stopped (exit status {worker.wait(timeout)})")
                answer_id, ok, result = pickle.loads(worker.stdout.read(struct.unpack("<I", head)[0]))
                results.append(from_slot(result, memoryview(shared)) if ok else RuntimeError(result))
        finally:
            worker.stdin.close()
            worker.wait(timeout)
        shared.close()
        return results
    finally:
        os.close(handle)
        os.unlink(slots_path)
