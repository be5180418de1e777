"""The Queue dock: score the pool with a model (a ``tessera score``
subprocess, with its progress), the ranked list with thumbnails and scores,
Next, mark annotated / skip, and annotation packages out and back."""
from __future__ import annotations

import json

from PySide6.QtCore import QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QProgressBar, QPushButton,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from core.active.scoring import DEFAULT_SELECTION, DIVERSITY, METHODS, SCORED_PIPELINES

from ..training.core_task import CoreTask
from ..widgets.image_list import ThumbJob, Thumbs

THUMB = 48
SUBSETS = ("unlabeled", "all", "split=train", "split=val", "split=test")
COLUMNS = ["#", "image", "score", "state", "why"]


def _why(details: dict) -> str:
    if "boxes" in details:
        if not details["boxes"]:
            return "nothing found"
        under = f" under {details['threshold']:.2f}" if "threshold" in details else " doubtful"
        return f"{details['boxes']} boxes, {details['confidence_below']}{under} ({details.get('aggregate', 'max')})"
    if "predicted" in details:
        return f"{details['predicted']} {details['probability']:.2f}"
    if details.get("per_class"):
        worst = max(details["per_class"].items(), key=lambda kv: kv[1])
        return f"least sure of {worst[0]} ({worst[1]:.2f})"
    return ""


class QueuePanel(QWidget):
    imageRequested = Signal(int)
    queueChanged = Signal()  # scores or states changed: the image list shows them
    imagesChanged = Signal()  # a package brought annotations in
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self.task: CoreTask | None = None
        self.model = QComboBox()
        self.model.setToolTip("the model that scores the pool")
        self.method = QComboBox()
        self.method.addItems(METHODS)
        self.method.setCurrentText("entropy")
        self.method.setToolTip("least_confidence / margin / entropy: uncertainty; coreset: the images farthest "
                               "from what is labelled (backbone embeddings); hybrid: the most uncertain, then "
                               "a diverse subset of them")
        self.subset = QComboBox()
        self.subset.addItems(SUBSETS)
        self.top = QSpinBox(minimum=1, maximum=100000, value=DEFAULT_SELECTION)
        self.top.setToolTip("coreset / hybrid: how many images to select")
        self.score_button = QPushButton("Score pool")
        self.score_button.clicked.connect(self.score)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 4)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.cellDoubleClicked.connect(lambda row, _: self.imageRequested.emit(self._row_image(row)))
        self.next_button = QPushButton("Next")
        self.next_button.setToolTip("open the highest-ranked pending image")
        self.next_button.clicked.connect(self.next)
        self.annotated_button = QPushButton("Mark annotated")
        self.annotated_button.clicked.connect(lambda: self.mark("annotated"))
        self.skip_button = QPushButton("Skip")
        self.skip_button.clicked.connect(lambda: self.mark("skipped"))
        self.export_button = QPushButton("Export package…")
        self.export_button.clicked.connect(self._ask_export)
        self.receive_button = QPushButton("Receive package…")
        self.receive_button.clicked.connect(self._ask_receive)
        self.status = QLabel()
        self.status.setWordWrap(True)
        pick = QHBoxLayout()
        for label, widget in (("model", self.model), ("method", self.method), ("pool", self.subset),
                              ("select", self.top)):
            pick.addWidget(QLabel(label))
            pick.addWidget(widget, 1 if widget is self.model else 0)
        pick.addWidget(self.score_button)
        work = QHBoxLayout()
        for button in (self.next_button, self.annotated_button, self.skip_button):
            work.addWidget(button)
        work.addStretch(1)
        work.addWidget(self.export_button)
        work.addWidget(self.receive_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(pick)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        layout.addLayout(work)
        layout.addWidget(self.status)
        self._thumbs = Thumbs()
        self._thumbs.ready.connect(self._set_thumb)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self.method.currentTextChanged.connect(self._update_buttons)
        self._update_buttons()

    # -- project ---------------------------------------------------------------
    def set_project(self, project) -> None:
        self.shutdown()
        self.project = project
        self.refresh_models()
        self.refresh()

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.kill()
            self.task = None
        self._pool.clear()
        self._pool.waitForDone()  # no thumbnail may arrive for the project being left

    def refresh_models(self) -> None:
        current = self.model.currentData()
        self.model.clear()
        for m in reversed(self.project.jobs.models() if self.project else []):
            if m.pipeline in SCORED_PIPELINES:
                self.model.addItem(f"{m.id} · {m.pipeline} · {m.architecture or ''}", m.id)
        if current is not None and self.model.findData(current) >= 0:
            self.model.setCurrentIndex(self.model.findData(current))
        self._update_buttons()

    def refresh(self) -> None:
        self._pool.clear()
        items = self.project.queue.items() if self.project else []
        self.table.setRowCount(len(items))
        self._rows: dict[int, int] = {}
        blank = QPixmap(THUMB, THUMB)
        blank.fill(Qt.GlobalColor.darkGray)
        images = {im.id: im for im in self.project.images.list()} if items else {}
        for row, item in enumerate(items):
            image = images[item.image_id]
            mark = " ★" if item.details.get("selected") else ""
            cells = [str(item.rank), image.name + mark, f"{item.score:.4f}", item.state, _why(item.details)]
            for col, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setData(Qt.ItemDataRole.UserRole, item.image_id)
                if col == 1:
                    cell.setIcon(QIcon(blank))
                    cell.setToolTip(json.dumps(item.details, indent=1)[:2000])
                self.table.setItem(row, col, cell)
            self._rows[item.image_id] = row
            self._pool.start(ThumbJob(self._thumbs, image.id, image.file(self.project.root), image.checksum,
                                       self.project.cache_dir, THUMB))
        self.table.resizeColumnsToContents()
        if items:
            first = items[0]
            pending = sum(i.state == "pending" for i in items)
            self.status.setText(f"{len(items)} images ranked by model {first.model_id} ({first.method}); "
                                f"{pending} pending")
        self._update_buttons()

    def _set_thumb(self, image_id: int, image: QImage) -> None:
        row = self._rows.get(image_id)
        if row is not None and self.table.item(row, 1) is not None:
            self.table.item(row, 1).setIcon(QIcon(QPixmap.fromImage(image)))

    def _row_image(self, row: int) -> int:
        return self.table.item(row, 0).data(Qt.ItemDataRole.UserRole)

    def selected_images(self) -> list[int]:
        return [self._row_image(r) for r in sorted({i.row() for i in self.table.selectedItems()})]

    def _update_buttons(self, *_) -> None:
        busy = self.task is not None
        has_queue = self.table.rowCount() > 0
        self.score_button.setEnabled(not busy and self.model.count() > 0)
        self.top.setEnabled(self.method.currentText() in DIVERSITY)
        for button in (self.next_button, self.annotated_button, self.skip_button, self.export_button):
            button.setEnabled(has_queue and not busy)
        self.receive_button.setEnabled(self.project is not None and not busy)

    # -- working through the queue ----------------------------------------------
    def next(self) -> int | None:
        item = self.project.queue.next_pending() if self.project else None
        if item is None:
            self.status.setText("no pending image left in the queue")
            return None
        self.table.selectRow(self._rows.get(item.image_id, 0))
        self.imageRequested.emit(item.image_id)
        return item.image_id

    def mark(self, state: str) -> None:
        ids = self.selected_images()
        if not ids:
            self.status.setText("select images in the queue first")
            return
        self.project.queue.set_state(ids, state)
        self.refresh()
        self.queueChanged.emit()

    # -- subprocesses -------------------------------------------------------------
    def score(self) -> None:
        model_id = self.model.currentData()
        if model_id is None:
            return
        args = ["score", str(self.project.root), "--model", str(model_id), "--method", self.method.currentText(),
                "--subset", self.subset.currentText(), "--json"]
        if self.method.currentText() in DIVERSITY:
            args += ["--top", str(self.top.value())]
        self._run(args, f"scoring the {self.subset.currentText()} pool with model {model_id}…", self._scored)

    def _scored(self, out: str) -> None:
        result = json.loads(out)
        self.refresh()
        self.queueChanged.emit()
        skipped = f"; skipped {len(result['skipped'])}" if result["skipped"] else ""
        self.status.setText(f"scored {result['scored']} images with model {result['model']} "
                            f"({result['method']}){skipped}")

    def _ask_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export annotation package", str(self.project.root / "exports"
                                                                                        / "package.zip"),
                                              "Annotation package (*.zip)")
        if path:
            self.export_package(path)

    def export_package(self, path: str, top: int | None = None) -> None:
        args = ["package", str(self.project.root), "--out", path, "--json"] + (["--top", str(top)] if top else [])
        self._run(args, "writing the package…", self._exported)

    def _exported(self, out: str) -> None:
        result = json.loads(out)
        self.refresh()
        self.queueChanged.emit()
        self.status.setText(f"package {result['package']}: {result['images']} images, "
                            f"{result['annotations']} annotations")

    def _ask_receive(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Receive annotation package", str(self.project.root),
                                              "Annotation package (*.zip)")
        if path:
            self.receive_package(path)

    def receive_package(self, path: str, show_report: bool = True) -> None:
        self._show_report = show_report
        self._run(["receive", str(self.project.root), path, "--json"], "checking the package…", self._received)

    def _received(self, out: str) -> None:
        report = json.loads(out)
        self.refresh()
        self.queueChanged.emit()
        self.imagesChanged.emit()
        text = (f"received {report['images']} images, {report['annotations']} annotations"
                + (f"; {report['suggestions_left']} unconfirmed suggestions left out" if report["suggestions_left"]
                   else ""))
        self.status.setText(text + (f"; rejected {len(report['rejected'])}" if report["rejected"] else ""))
        if self._show_report:
            box = QMessageBox(QMessageBox.Icon.Information, "Package received", text, parent=self)
            if report["rejected"] or report["warnings"]:
                box.setDetailedText("\n".join([*(f"rejected: {r}" for r in report["rejected"]),
                                               *(f"warning: {w}" for w in report["warnings"])]))
            box.exec()

    def _run(self, args: list[str], what: str, on_success) -> None:
        self.status.setText(what)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.task = CoreTask(args, self)
        self.task.fraction.connect(self._fraction)
        self.task.finished.connect(lambda ok, out, err: self._finished(ok, out, err, on_success))
        self._update_buttons()
        self.task.start()

    def _fraction(self, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)
        self.progress.setFormat(f"{message} %v / %m")

    def _finished(self, ok: bool, out: str, error: str, on_success) -> None:
        self.task = None
        self.progress.setVisible(False)
        self._update_buttons()
        if not ok:
            self.status.setText(f"<span style='color:#e0564c'>{error}</span>")
            self.message.emit(error)
            return
        try:
            on_success(out)
        except (ValueError, KeyError) as exc:
            self.status.setText(f"<span style='color:#e0564c'>unexpected output: {exc}</span>")
