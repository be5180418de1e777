"""The Models panel: every model of the project with its pipeline,
architecture, date and main metrics; evaluate one; compare several side by
side (the benchmark report, rendered here).  Evaluation and reports run as
``tessera`` subprocesses (:class:`CoreTask`)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QPushButton, QSplitter, QTableWidgetItem,
                               QTextBrowser, QVBoxLayout, QWidget)

from core.pipelines import get_pipeline

from ..widgets.tables import record_table
from .core_task import CoreTask
from .export_dialog import ExportDialog

EXPORTABLE = ("segmentation", "detection", "classification", "pairs-stage1", "pairs-stage2")
SHOWN_METRICS = ("val_miou", "val_map50_95", "val_map50", "val_accuracy", "val_f1", "val_loss")


def _number(value) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else ""


class ModelsPanel(QWidget):
    message = Signal(str)
    reportShown = Signal(str)  # the report's path
    predicted = Signal(int, int)  # image id, how many predictions it now holds
    mineRequested = Signal(int)  # a detection model to mine hard negatives from

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self.task: CoreTask | None = None
        self.table = record_table(["model", "pipeline", "architecture", "trained", "main metric", "job"], "models",
                                  several=True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("accuracy on the validation images, parameters, FLOPs, latency")
        self.evaluate_button.clicked.connect(self.evaluate_selected)
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setToolTip("the benchmark report of the selected models, side by side")
        self.compare_button.clicked.connect(self.compare_selected)
        self.predict_button = QPushButton("Predict on this image")
        self.predict_button.setToolTip("run the selected model on the image in the viewer: its predictions become "
                                       "the dashed prediction layer (H shows / hides it, Y accepts)")
        self.predict_button.clicked.connect(lambda: self.predict_on(self.current_image()))
        self.mine_button = QPushButton("Mine hard negatives…")
        self.mine_button.setToolTip("a detection-mining job from the selected detection model: rounds of predict on "
                                    "the training images, collect false positives, add them as hard negatives, "
                                    "retrain")
        self.mine_button.clicked.connect(lambda: self.mineRequested.emit(self.selected_ids()[0]))
        self.export_button = QPushButton("Export for deployment…")
        self.export_button.setToolTip("ONNX, FP16 ONNX and TensorRT, each validated against this model on its "
                                      "validation images, as a package that runs without PyTorch")
        self.export_button.clicked.connect(lambda: self.export_model(self.selected_ids()[0]))
        self.export_dialog = None
        self.current_image = lambda: None  # the window tells which image is shown
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.report = QTextBrowser()
        self.report.setObjectName("report")
        self.report.setOpenExternalLinks(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.evaluate_button)
        buttons.addWidget(self.compare_button)
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.mine_button)
        buttons.addWidget(self.export_button)
        buttons.addStretch(1)
        left = QWidget()
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.table, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.report)
        split.setSizes([520, 900])
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(split)
        self._reports = tempfile.TemporaryDirectory(prefix="tessera-reports-")
        self._update_buttons()

    def set_project(self, project) -> None:
        self.shutdown()
        self.project = project
        self.report.clear()
        self.status.clear()
        self.refresh()

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.kill()
            self.task = None
        if self.export_dialog is not None:
            self.export_dialog.close()
            self.export_dialog = None

    def refresh(self) -> None:
        models = self.project.jobs.models() if self.project is not None else []
        self.table.setRowCount(len(models))
        for row, model in enumerate(reversed(models)):  # newest first
            metric_name = get_pipeline(model.pipeline).main_metric
            metric = model.metrics.get(metric_name, model.metrics.get(metric_name.replace("val_", "")))
            cells = [str(model.id), model.pipeline, model.architecture or "", model.created_at[:16].replace("T", " "),
                     f"{metric_name} {_number(metric)}" if isinstance(metric, (int, float)) else "",
                     str(model.job_id or "")]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, model.id)
                tip = "\n".join(f"{k}: {_number(v)}" for k, v in model.metrics.items() if k in SHOWN_METRICS)
                item.setToolTip(tip)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()
        self._update_buttons()

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectedItems()})
        return [self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in rows]

    def select(self, model_ids: list[int]) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) in model_ids:
                self.table.selectRow(row)
        self.table.setSelectionMode(mode)

    def _update_buttons(self) -> None:
        models = [self.project.jobs.model(i) for i in self.selected_ids()] if self.project is not None else []
        # a pre-trained backbone makes features, not predictions: nothing to evaluate, compare or run
        busy = self.task is not None or any(m.kind == "backbone" for m in models)
        n = len(models)
        self.evaluate_button.setEnabled(n == 1 and not busy)
        self.compare_button.setEnabled(n >= 1 and not busy)
        self.predict_button.setEnabled(n == 1 and not busy)
        pipeline = models[0].pipeline if n == 1 else None
        self.mine_button.setEnabled(pipeline == "detection")
        self.export_button.setEnabled(pipeline in EXPORTABLE)

    def export_model(self, model_id: int) -> ExportDialog:
        """The export dialog for ``model_id`` (one at a time; it runs its own subprocess)."""
        if self.export_dialog is not None:
            self.export_dialog.close()
        self.export_dialog = ExportDialog(self.project, model_id, self)
        self.export_dialog.exported.connect(lambda s: self.message.emit(
            f"model {model_id} exported to {s['folder']}: validation {'passed' if s['passed'] else 'FAILED'}"))
        self.export_dialog.show()
        return self.export_dialog

    # -- evaluate / compare, in subprocesses ------------------------------------
    def evaluate_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) == 1:
            self._run(["evaluate", str(self.project.root), "--model", str(ids[0]), "--json"],
                      f"evaluating model {ids[0]}…", self._evaluated)

    def compare_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            out = Path(self._reports.name) / "-".join(map(str, ids))
            self._run(["benchmark", str(self.project.root), "--models", ",".join(map(str, ids)), "--out", str(out),
                       "--overlays", "2"], f"comparing models {', '.join(map(str, ids))}…",
                      lambda out_text: self.show_report(out / "report.html"))

    def predict_on(self, image) -> None:
        """The selected model on ``image`` (an image record), as a subprocess."""
        ids = self.selected_ids()
        if image is None or len(ids) != 1:
            self.message.emit("select one model, and show an image in the viewer")
            return
        self._run(["predict", str(self.project.root), "--model", str(ids[0]), "--image", str(image.id), "--json"],
                  f"model {ids[0]} on {image.name}…",
                  lambda out: self._predicted(json.loads(out)))

    def _predicted(self, result: dict) -> None:
        self.status.setText(f"{result['predictions']} predictions of model {result['model']} on the image")
        self.predicted.emit(int(result["image"]), int(result["predictions"]))

    def _run(self, args: list[str], what: str, on_success) -> None:
        self.status.setText(what)
        self.task = CoreTask(args, self)
        self.task.progress.connect(lambda line: self.status.setText(f"{what} {line[-120:]}"))
        self.task.finished.connect(lambda ok, out, err: self._finished(ok, out, err, on_success))
        self._update_buttons()
        self.task.start()

    def _finished(self, ok: bool, out: str, error: str, on_success) -> None:
        self.task = None
        self._update_buttons()
        if not ok:
            self.status.setText(f"<span style='color:#e0564c'>{error}</span>")
            self.message.emit(error)
            return
        self.status.setText("done")
        try:
            on_success(out)
        except (ValueError, KeyError) as exc:  # output that is not what the command promises
            self.status.setText(f"<span style='color:#e0564c'>unexpected output: {exc}</span>")
        self.refresh()

    def _evaluated(self, out: str) -> None:
        result = json.loads(out)
        rows = "".join(f"<tr><td>{k}</td><td align='right'>{_number(v)}</td></tr>"
                       for k, v in result.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("model", "images"))
        eff = result.get("efficiency") or {}
        batch1 = eff.get("batch_1") or {}
        extra = "".join(f"<tr><td>{k}</td><td align='right'>{v}</td></tr>" for k, v in (
            ("parameters", f"{eff.get('parameters', 0):,}"), ("FLOPs", f"{eff.get('flops', 0):,}"),
            ("latency, batch 1 (ms)", _number(batch1.get("latency_ms"))), ("FPS, batch 1", _number(batch1.get("fps"))),
            ("peak memory (MB)", _number(eff.get("peak_memory_mb")))) if eff)
        self.report.setHtml(f"<h3>model {result.get('model')} · {result.get('pipeline')} · {result.get('architecture')}"
                            f"</h3><p>{result.get('images')} validation images</p><table>{rows}{extra}</table>")

    def show_report(self, path: Path) -> None:
        self.report.setSearchPaths([str(path.parent)])
        self.report.setSource(QUrl.fromLocalFile(str(path)))
        self.reportShown.emit(str(path))
