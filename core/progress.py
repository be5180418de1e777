"""Progress reporting without a UI dependency.

Core functions take an optional ``progress`` callable ``(done, total, message)``.
The command line turns it into a tqdm bar on stderr; the GUI into a signal."""
from __future__ import annotations

import sys
from typing import Callable, Iterable, Iterator, Optional, TypeVar

Progress = Callable[[int, Optional[int], str], None]
T = TypeVar("T")


def null_progress(done: int, total: int | None, message: str = "") -> None:
    return None


def track(items: Iterable[T], progress: Progress | None, total: int | None = None,
          message: str = "") -> Iterator[T]:
    """Yield ``items`` while reporting each step to ``progress``."""
    report = progress or null_progress
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    report(0, total, message)
    done = 0
    for item in items:
        yield item
        done += 1
        report(done, total, message)


class TqdmProgress:
    """A ``Progress`` that draws tqdm bars on stderr, one per message."""

    def __init__(self, disable: bool | None = None):
        self._bar = None
        self._message = None
        self._disable = (not sys.stderr.isatty()) if disable is None else disable

    def __call__(self, done: int, total: int | None, message: str = "") -> None:
        from tqdm import tqdm

        if self._bar is None or message != self._message:
            self.close()
            self._bar = tqdm(total=total, desc=message or None, unit="it",
                             file=sys.stderr, disable=self._disable, leave=False)
            self._message = message
        if total is not None and self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


PROGRESS_ENV = "TESSERA_PROGRESS"  # "json": progress as JSON lines on stderr (the studio follows those)


class JsonLinesProgress:
    """A ``Progress`` that writes ``{"v":1,"type":"progress",...}`` lines on
    stderr, at most a few per second, for a parent process to follow."""

    def __init__(self, stream=None, interval: float = 0.2):
        self._stream, self._interval, self._last = stream or sys.stderr, interval, 0.0

    def __call__(self, done: int, total: int | None, message: str = "") -> None:
        import json
        import time

        now = time.monotonic()
        if done not in (0, total) and now - self._last < self._interval:
            return
        self._last = now
        self._stream.write(json.dumps({"v": 1, "type": "progress", "done": done, "total": total,
                                       "message": message}) + "\n")
        self._stream.flush()

    def close(self) -> None:
        return None


def cli_progress():
    """The command line's progress: tqdm bars, or JSON lines when the studio
    runs the command (``TESSERA_PROGRESS=json``)."""
    import os

    return JsonLinesProgress() if os.environ.get(PROGRESS_ENV) == "json" else TqdmProgress()
