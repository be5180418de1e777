""""Export for deployment": the formats (TensorRT shown as available or
not, and why), the gate's thresholds, test-time augmentation and confidence
calibration, the package folder; the export runs as
a ``tessera export-model`` subprocess with its progress shown, and ends with
the validation report — every format's metric, its change against the
PyTorch model, the output difference, latency and PASS / FAIL — and a
button that opens the package folder."""
from __future__ import annotations

import html
import importlib.util
import json

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QTextBrowser, QVBoxLayout)

from core.export.card import REFINED, task_of
from core.export.tta import KINDS as TTA_KINDS

from .core_task import CoreTask

TTA_TEXT = {"flip": "horizontal flip", "rotate": "rotations 90/180/270", "scale": "scales 0.9/1.1"}
CALIBRATION = [("per class", "per-class"), ("critical classes only", "critical")]
FORMATS = [("ONNX", "onnx"), ("ONNX + FP16 ONNX", "onnx-fp16"), ("ONNX + FP16 ONNX + TensorRT engine", "tensorrt")]
THRESHOLDS = {"onnx": 0.001, "onnx-fp16": 0.01, "tensorrt": 0.01}
PASS, FAIL = "#3fa34d", "#e0564c"


def tensorrt_status() -> tuple[bool, str]:
    """Whether TensorRT can build engines here; the import of torch this
    needs is made only when TensorRT is installed at all."""
    if importlib.util.find_spec("tensorrt") is None:
        return False, "TensorRT is not installed: the ONNX files are exported and validated without it"
    from core.export.tensorrt import availability

    return availability()


def report_html(summary: dict) -> str:
    report = summary["validation"]
    metric = report["metric"]
    ref = report["pytorch"]
    rows = [f"<tr><td>PyTorch</td><td align='right'>{ref[metric]:.4f}</td><td></td><td></td><td></td>"
            f"<td align='right'>{ref.get('latency_ms', 0):.1f}</td><td></td></tr>"]
    for fmt, e in report["formats"].items():
        colour = PASS if e["passed"] else FAIL
        rows.append(f"<tr><td>{fmt}</td><td align='right'>{e[metric]:.4f}</td>"
                    f"<td align='right'>{e['change']:+.4f}</td><td align='right'>±{e['threshold']}</td>"
                    f"<td align='right'>{e['max_abs_difference']:.1e}</td>"
                    f"<td align='right'>{e.get('latency_ms', 0):.1f}</td>"
                    f"<td><b style='color:{colour}'>{'PASS' if e['passed'] else 'FAIL'}</b></td></tr>")
    verdict = (f"<b style='color:{PASS}'>passed</b>: every export behaves like its model" if report["passed"] else
               f"<b style='color:{FAIL}'>failed</b>: an export's {metric} moved past its threshold")
    notes = "".join(f"<p><i>{html.escape(n)}</i></p>" for n in summary.get("notes", []))
    if report.get("tta"):
        t = report["tta"]
        notes += (f"<p>With test-time augmentation ({html.escape(', '.join(t['kinds']))}, {len(t['views'])} views): "
                  f"{metric} <b>{t[metric]:.4f}</b>, {t['change']:+.4f} against the same package without it.</p>")
    if report.get("calibration"):
        from core.cli.deploy import calibration_text

        notes += f"<p>Calibration: {html.escape(calibration_text(report['calibration'], metric))}.</p>"
    return (f"<h3>Validation of model {report['model']} ({report['task']}), {metric} on its validation images</h3>"
            f"<table cellspacing='0' cellpadding='4' border='1'><tr><th>format</th><th>{metric}</th><th>change</th>"
            f"<th>allowed</th><th>max |diff|</th><th>ms / image</th><th></th></tr>{''.join(rows)}</table>"
            f"<p>{verdict}</p>{notes}<p>package: {html.escape(summary['folder'])}<br>zip: "
            f"{html.escape(summary['zip'])}</p>")


class ExportDialog(QDialog):
    exported = Signal(dict)  # the command's summary (files, validation report)

    def __init__(self, project, model_id: int, parent=None):
        super().__init__(parent)
        self.project, self.model_id = project, model_id
        model = project.jobs.model(model_id)
        self.setWindowTitle(f"Export model {model_id} for deployment")
        self.task: CoreTask | None = None
        self.summary: dict | None = None
        self.format = QComboBox()
        for text, value in FORMATS:
            self.format.addItem(text, value)
        self.trt_ok, why = tensorrt_status()
        self.trt_label = QLabel(("✔ " if self.trt_ok else "✘ ") + why)
        self.trt_label.setWordWrap(True)
        self.trt_label.setStyleSheet(f"color: {PASS if self.trt_ok else FAIL}")
        self.format.setCurrentIndex(2 if self.trt_ok else 1)
        self.thresholds = {}
        for fmt, value in THRESHOLDS.items():
            box = QDoubleSpinBox()
            box.setDecimals(4)
            box.setRange(0.0, 1.0)
            box.setSingleStep(0.001)
            box.setValue(value)
            box.setToolTip(f"the largest change of the metric the {fmt} export may show against the PyTorch model")
            self.thresholds[fmt] = box
        self.task_kind = task_of(model.pipeline)
        refined = self.task_kind in REFINED
        self.tta = {}
        tta_row = QHBoxLayout()
        for kind in TTA_KINDS:
            box = QCheckBox(TTA_TEXT[kind])
            box.setEnabled(refined)
            self.tta[kind] = box
            tta_row.addWidget(box)
        tta_row.addStretch(1)
        if not refined:
            self.tta["flip"].setToolTip("test-time augmentation is for segmentation and detection models")
        self.calibrate = QCheckBox("fit a confidence temperature (ECE before / after in the report)")
        self.calibration_mode = QComboBox()
        for text, value in CALIBRATION:
            self.calibration_mode.addItem(text, value)
        self.calibration_mode.setVisible(self.task_kind == "detection")
        self.calibration_mode.setEnabled(False)
        self.calibrate.toggled.connect(self.calibration_mode.setEnabled)
        calibration_row = QHBoxLayout()
        calibration_row.addWidget(self.calibrate)
        calibration_row.addWidget(self.calibration_mode)
        calibration_row.addStretch(1)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText(f"exports/model-{model_id}-<time> in the project")
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("model", QLabel(f"{model_id} · {model.pipeline} · {model.architecture or ''}"))
        form.addRow("formats", self.format)
        form.addRow("TensorRT", self.trt_label)
        for fmt, box in self.thresholds.items():
            form.addRow(f"allowed change, {fmt}", box)
        form.addRow("test-time augmentation", tta_row)
        form.addRow("calibration", calibration_row)
        form.addRow("package folder", folder_row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status = QLabel("The export is validated against the PyTorch model on its validation images.")
        self.status.setWordWrap(True)
        self.report = QTextBrowser()
        self.report.setObjectName("exportReport")
        self.start_button = QPushButton("Export")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.open_button = QPushButton("Open folder")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_folder)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(self.report, 1)
        lay.addLayout(buttons)
        self.resize(780, 680)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Package folder", str(self.project.exports_dir))
        if path:
            self.folder.setText(path)

    def command(self) -> list[str]:
        args = ["export-model", str(self.project.root), "--model", str(self.model_id),
                "--format", self.format.currentData(), "--json"]
        if self.folder.text().strip():
            args += ["--out", self.folder.text().strip()]
        for fmt, box in self.thresholds.items():
            args += ["--threshold", f"{fmt}={box.value():g}"]
        kinds = [k for k, box in self.tta.items() if box.isChecked() and box.isEnabled()]
        if kinds:
            args += ["--tta", ",".join(kinds)]
        if self.calibrate.isChecked():
            args += ["--calibrated", self.calibration_mode.currentData()]
        return args

    def start(self) -> None:
        if self.task is not None:
            return
        self.summary = None
        self.report.clear()
        self.open_button.setEnabled(False)
        self.start_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the first progress line
        self.status.setText("exporting…")
        self.task = CoreTask(self.command(), self)
        self.task.fraction.connect(self._fraction)
        self.task.progress.connect(lambda line: self.status.setText(line[-160:]))
        self.task.finished.connect(self._finished)
        self.task.start()

    def _fraction(self, done: int, total: int, message: str) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        self.status.setText(message)

    def _finished(self, ok: bool, out: str, error: str) -> None:
        self.task = None
        self.start_button.setEnabled(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if out.strip() else 0)
        try:  # a failed gate exits 1 but still prints its report
            self.summary = json.loads(out) if out.strip() else None
        except ValueError:
            self.summary = None
        if self.summary is None:
            self.status.setText(f"<span style='color:{FAIL}'>{html.escape(error or 'the export failed')}</span>")
            return
        self.status.setText("exported and validated" if self.summary["passed"] else
                            f"<span style='color:{FAIL}'>exported, but the validation failed</span>")
        self.report.setHtml(report_html(self.summary))
        self.open_button.setEnabled(True)
        self.exported.emit(self.summary)

    def open_folder(self) -> None:
        if self.summary:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.summary["folder"]))

    def closeEvent(self, event) -> None:
        if self.task is not None:
            self.task.kill()
            self.task = None
        super().closeEvent(event)
