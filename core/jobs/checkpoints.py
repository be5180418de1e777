"""Checkpoint files of a run: ``last`` every epoch, ``epoch-N`` every
``save_every`` epochs keeping the newest ``keep_last``, ``best`` by the
pipeline's main metric, and ``final``.  Loading never runs code: only
tensors and plain data are accepted (``torch.load(weights_only=True)``)."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Callable

from ..errors import TesseraError


class CheckpointRefused(TesseraError):
    """A checkpoint that cannot be loaded safely."""


def load_checkpoint(path: str | Path) -> Any:
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointRefused("checkpoint not found", path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unsupported content"
        raise CheckpointRefused(f"refused: the checkpoint holds Python objects that could run code ({first[:120]})",
                                path) from None
    except Exception as exc:  # truncated or foreign files fail in many ways inside torch
        detail = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
        raise CheckpointRefused(f"not a readable checkpoint ({detail})", path) from None


class CheckpointPolicy:
    """Decides which files to write after each epoch and prunes old ones.

    ``save(path)`` is the pipeline's writer; ``on_saved(kind, path, epoch,
    metric)`` is told of every file written (the job records it)."""

    def __init__(self, folder: Path, save_every: int, keep_last: int, mode: str = "max",
                 suffix: str = ".ckpt", on_saved: Callable | None = None, on_removed: Callable | None = None,
                 best: float | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.save_every, self.keep_last, self.mode, self.suffix = save_every, keep_last, mode, suffix
        self.best = best
        self._on_saved = on_saved or (lambda *a: None)
        self._on_removed = on_removed or (lambda *a: None)
        self._tracked: dict[str, tuple[str, str, float | None]] = {}

    def track(self, name: str, metric: str, mode: str, best: float | None = None) -> None:
        """Keep a further best checkpoint ``name`` by ``metric`` (``max`` or
        ``min``), e.g. ``best_loss`` by ``val_loss``; ``best`` the value to beat."""
        self._tracked[name] = (metric, mode, best)

    def path(self, name: str) -> Path:
        return self.folder / f"{name}{self.suffix}"

    def tracked(self) -> dict[str, tuple[str, str, float | None]]:
        """``{name: (metric, mode, best value so far)}`` of the further best checkpoints."""
        return dict(self._tracked)

    def improved(self, metric: float | None, best: float | None = None, mode: str | None = None) -> bool:
        best = self.best if mode is None else best
        if metric is None or (isinstance(metric, float) and math.isnan(metric)):
            return False
        if best is None:
            return True
        return metric > best if (mode or self.mode) == "max" else metric < best

    def after_epoch(self, epoch: int, metric: float | None, save: Callable[[Path], None],
                    metrics: dict | None = None) -> list[str]:
        """Write what epoch ``epoch`` (1-based) calls for; returns the kinds written.

        The state is serialised once (``last``); ``best`` and the numbered copy
        are hard links to that file (``last`` is later replaced, not rewritten,
        so they keep this epoch's content)."""
        last = self._write("last", epoch, metric, save)
        written = ["last"]
        if epoch % self.save_every == 0:
            self._write(f"epoch-{epoch:04d}", epoch, metric, lambda p: _link_or_copy(last, p), kind="periodic")
            written.append("periodic")
            self._prune()
        if self.improved(metric):
            self.best = metric
            self._write("best", epoch, metric, lambda p: _link_or_copy(last, p))
            written.append("best")
        for name, (key, mode, best) in list(self._tracked.items()):
            value = (metrics or {}).get(key)
            if self.improved(value, best, mode):
                self._tracked[name] = (key, mode, value)
                self._write(name, epoch, value, lambda p: _link_or_copy(last, p))
                written.append(name)
        return written

    def final(self, epoch: int, metric: float | None, save: Callable[[Path], None]) -> Path:
        return self._write("final", epoch, metric, save)

    def _write(self, name: str, epoch: int, metric, save, kind: str | None = None) -> Path:
        path = self.path(name)
        tmp = path.with_name(path.name + ".part")
        save(tmp)
        os.replace(tmp, path)
        self._on_saved(kind or name, path, epoch, metric)
        return path

    def periodic(self) -> list[Path]:
        return sorted(self.folder.glob(f"epoch-*{self.suffix}"))

    def _prune(self) -> None:
        for old in self.periodic()[:-self.keep_last]:
            old.unlink(missing_ok=True)
            self._on_removed(old)


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copyfile(src, dst)
