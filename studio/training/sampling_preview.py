"""The pair sampling report of the training frames, shown in the job form
of the pair pipelines and recomputed (by ``tessera pairs-preview`` in a
subprocess) a moment after a sampling parameter changes."""
from __future__ import annotations

import html
import json

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout

from core.pipelines.pairs.frames import CLASS_PARAMS, SAMPLING_PARAMS
from core.pipelines.params import SEED

from .core_task import CoreTask

NAMES = tuple(p.name for p in SAMPLING_PARAMS + CLASS_PARAMS + [SEED])
DELAY_MS = 400


def _pct(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def report_html(r: dict) -> str:
    """The report as a small table: what the distance limit removes and
    keeps, the balance before and after sampling, the stage-2 classes."""
    rows = [
        ("frames", f"{r['frames']}"),
        ("pairs (all → within distance)", f"{r['pairs_all']:,} → {r['pairs_within_distance']:,} "
                                          f"({_pct(r.get('pair_reduction_of_distance_limit'))} fewer)"),
        ("interacting pairs kept by the limit", f"{r['positives_within_distance']:,} of {r['positives_all']:,} "
                                                f"({_pct(r.get('positive_recall_of_distance_limit'))})"),
        ("stage 1 per epoch", f"{r['positives_sampled']:,} interacting + {r['negatives_sampled']:,} not"),
        ("negatives per positive", f"{(r.get('negatives_per_positive_before') or 0):.2f} → "
                                   f"{(r.get('negatives_per_positive_after') or 0):.2f} after sampling"),
        ("stage 2 types", ", ".join(f"{html.escape(k)} {v}" for k, v in r["stage2_class_counts"].items())),
    ]
    return "<table>" + "".join(f"<tr><td>{html.escape(k)}&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows) \
        + "</table>"


class SamplingPreview(QGroupBox):
    def __init__(self, form, project_root, parent=None):
        super().__init__("Pair sampling of the training frames (before training)", parent)
        self.setObjectName("sampling-preview")
        self.form, self.root = form, str(project_root)
        self.text = QLabel("computing…")
        self.text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        self.task: CoreTask | None = None
        self.report: dict | None = None
        self._asked: dict | None = None
        self.timer = QTimer(self, singleShot=True, interval=DELAY_MS)
        self.timer.timeout.connect(self._run)
        form.changed.connect(self.refresh)
        self.refresh()

    def values(self) -> dict:
        errors = self.form.errors()
        return {k: v for k, v in self.form.values().items() if k in NAMES and k not in errors}

    def refresh(self) -> None:
        if self.values() != self._asked or self.report is None:
            self.timer.start()

    def _run(self) -> None:
        if self.task is not None and self.task.running():
            self.timer.start()  # one at a time: ask again once this one is done
            return
        values = self.values()
        self._asked = values
        args = ["pairs-preview", self.root, "--json"]
        for k, v in values.items():
            args += ["--set", f"{k}={v}"]
        self.text.setText("computing…")
        self.task = CoreTask(args, self)
        self.task.finished.connect(self._done)
        self.task.start()

    def _done(self, ok: bool, out: str, error: str) -> None:
        if not ok:
            self.report = None
            self.text.setText(f"<span style='color:#e0564c'>{html.escape(error)}</span>")
            return
        self.report = json.loads(out)
        self.text.setText(report_html(self.report))

    def shutdown(self) -> None:
        self.timer.stop()
        if self.task is not None:
            self.task.kill()
