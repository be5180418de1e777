"""The worker's event protocol: one JSON object per line on stdout.

``{"v": 1, "type": ..., "job": ID, "time": UNIX_SECONDS, ...}`` with types
``started``, ``progress``, ``epoch``, ``checkpoint``, ``log``, ``heartbeat`` and
one final ``completed``, ``stopped`` or ``failed``.  :func:`parse_line` is the
one parser every reader uses; :class:`Emitter` is the one writer."""
from __future__ import annotations

import json
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

VERSION = 1
TYPES = ("started", "progress", "epoch", "checkpoint", "log", "heartbeat", "completed", "stopped", "failed")
FINAL = ("completed", "stopped", "failed")


@dataclass
class Event:
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        return self.type in FINAL

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


class EventError(ValueError):
    """A line that looks like an event but breaks the protocol."""


def parse_line(line: str | bytes) -> Event | None:
    """The event on ``line``; ``None`` for lines that are not events (library
    noise that reached stdout).  A JSON object with ``"v"`` but an unknown
    version or type raises :class:`EventError`."""
    if isinstance(line, bytes):
        line = line.decode("utf-8", errors="replace")
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        obj = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or "v" not in obj:
        return None
    if obj["v"] != VERSION:
        raise EventError(f"event version {obj['v']!r} is not {VERSION}")
    kind = obj.get("type")
    if kind not in TYPES:
        raise EventError(f"unknown event type {kind!r}")
    data = {k: v for k, v in obj.items() if k not in ("v", "type")}
    return Event(kind, data)


def clean(value: Any) -> Any:
    """JSON has no NaN or infinity: they travel as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return clean(value.item())
    return value


def format_event(kind: str, /, **data: Any) -> str:
    if kind not in TYPES:
        raise EventError(f"unknown event type {kind!r}")
    return json.dumps({"v": VERSION, "type": kind, "time": round(time.time(), 3), **clean(data)},
                      allow_nan=False)


class Emitter:
    """Writes events to a stream (the worker's real stdout), thread-safe;
    ``progress`` events are throttled to ``max_rate`` per second."""

    def __init__(self, stream: IO[str] | None = None, job: int | None = None, max_rate: float = 4.0):
        self._stream = stream or sys.stdout
        self._job = job
        self._lock = threading.Lock()
        self._min_gap = 1.0 / max_rate
        self._last_progress = 0.0
        self.last: dict[str, Any] = {}

    def progress_due(self) -> bool:
        """Whether a ``progress`` event would be written now: callers skip
        gathering its figures (a GPU sync for the loss) when it would not."""
        return time.monotonic() - self._last_progress >= self._min_gap

    def emit(self, kind: str, /, **data: Any) -> bool:
        if kind == "progress":
            now = time.monotonic()
            force = data.pop("force", False)
            self.last = dict(data)
            if now - self._last_progress < self._min_gap and not force:
                return False
            self._last_progress = now
        if self._job is not None:
            data.setdefault("job", self._job)
        line = format_event(kind, **data)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
        return True
