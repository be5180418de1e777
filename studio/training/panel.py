"""The Training panel: pipelines, the New-job form, Start; a running job's
progress, live curves and log tail with Stop; the project's job history with
each job's curves and Resume.  Jobs run in worker subprocesses through
:class:`~studio.training.jobs.JobQueue`; this widget only shows their events."""
from __future__ import annotations

from collections import deque

from PySide6.QtCore import Qt, QThread, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPlainTextEdit, QProgressBar,
                               QPushButton, QScrollArea, QSplitter, QTableWidgetItem, QVBoxLayout, QWidget)

from core.jobs.events import Event
from core.pipelines import all_pipelines, get_pipeline

from ..widgets.tables import record_table
from .curves import CurvesWidget
from .job_form import JobForm
from .sampling_preview import SamplingPreview
from .jobs import JobQueue

LOG_LINES = 500
RESUMABLE = ("stopped", "interrupted", "failed")
STATE_COLORS = {"running": "#4c9be8", "completed": "#5cb85c", "failed": "#e0564c", "interrupted": "#f0a340",
                "stopped": "#6c757d", "queued": "#8a9099", "stopping": "#6c757d"}


def _eta(seconds) -> str:
    if not isinstance(seconds, (int, float)):
        return ""
    seconds = int(seconds)
    return f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"ETA {seconds // 60}:{seconds % 60:02d}"


class _CreateJob(QThread):
    """``create_job`` checks the training data (it may read every mask): off the UI thread."""

    done = Signal(object, str)  # job id (None on failure), error

    def __init__(self, project_dir, pipeline: str, values: dict, parent=None):
        super().__init__(parent)
        self.project_dir, self.pipeline, self.values = project_dir, pipeline, values

    def run(self) -> None:
        from core.errors import TesseraError
        from core.jobs.runner import create_job
        from core.project import Project

        try:
            with Project.open(self.project_dir) as project:
                self.done.emit(create_job(project, self.pipeline, self.values), "")
        except TesseraError as exc:
            self.done.emit(None, str(exc))


class TrainingPanel(QWidget):
    modelRegistered = Signal(int)  # a job finished and registered this model
    message = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self.defaults: dict[str, str] = {}  # new forms start with these (the user's settings)
        self.queue: JobQueue | None = None
        self.form: JobForm | None = None
        self.preview: SamplingPreview | None = None
        self.shown_job: int | None = None
        self.logs: dict[int, deque] = {}
        self._creating: _CreateJob | None = None

        # left: pipelines, the form, Start
        self.pipelines = QListWidget()
        self.pipelines.setObjectName("pipelines")
        for spec in all_pipelines():
            item = QListWidgetItem(f"{spec.name}\n    {spec.description}")
            item.setData(Qt.ItemDataRole.UserRole, spec.name)
            item.setToolTip(spec.description)
            self.pipelines.addItem(item)
        self.pipelines.currentItemChanged.connect(lambda *_: self.new_job())
        self.pipelines.setMinimumHeight(110)
        self.form_area = QScrollArea()
        self.form_area.setWidgetResizable(True)
        self.start_button = QPushButton("Start")
        self.start_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.form_status = QLabel()
        self.form_status.setWordWrap(True)
        left = QWidget()
        left.setMinimumWidth(330)
        lay = QVBoxLayout(left)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(QLabel("<b>Pipelines</b>"))
        lay.addWidget(self.pipelines, 1)
        lay.addWidget(QLabel("<b>New job</b>"))
        lay.addWidget(self.form_area, 3)
        lay.addWidget(self.form_status)
        lay.addWidget(self.start_button)

        # middle: the history
        self.history = record_table(["job", "pipeline", "state", "epoch", "main metric", "note"], "history")
        self.history.itemSelectionChanged.connect(self._history_selected)

        # right: the shown job
        self.job_title = QLabel("No job yet: pick a pipeline, fill in the form, Start.")
        self.job_title.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress_text = QLabel()
        self.curves = CurvesWidget()
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(LOG_LINES)
        self.log.setObjectName("log")
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_shown)
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(self.resume_shown)
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.resume_button)
        buttons.addStretch(1)
        right = QWidget()
        rlay = QVBoxLayout(right)
        rlay.setContentsMargins(0, 0, 0, 0)
        rlay.addWidget(self.job_title)
        rlay.addWidget(self.progress)
        rlay.addWidget(self.progress_text)
        rlay.addWidget(self.curves, 4)
        rlay.addWidget(self.log, 1)
        rlay.addLayout(buttons)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.history)
        split.addWidget(right)
        split.setSizes([340, 420, 900])
        split.setStretchFactor(2, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 4, 4, 4)
        outer.addWidget(split)
        self._update_buttons()

    # -- project -----------------------------------------------------------------
    def set_project(self, project) -> None:
        self.shutdown()
        self.project = project
        self.queue = JobQueue(project.root, parent=self) if project is not None else None
        if self.queue is not None:
            self.queue.event.connect(self._on_event)
            self.queue.changed.connect(self.refresh_history)
            project.jobs.mark_vanished()  # jobs whose worker is gone are interrupted, resumable
            self.queue.follow([j.id for j in project.jobs.list() if j.state in ("running", "stopping")])
        self.logs.clear()
        self.shown_job = None
        if self.pipelines.currentRow() < 0 and self.pipelines.count():
            self.pipelines.setCurrentRow(0)
        else:
            self.new_job()
        self.refresh_history()
        jobs = project.jobs.list() if project is not None else []
        if jobs:
            self.show_job(jobs[-1].id)

    def shutdown(self) -> None:
        """The studio closes: running jobs finish their batch, save and stop (resumable)."""
        if self.preview is not None:
            self.preview.shutdown()
        if self.queue is not None:
            self.queue.event.disconnect(self._on_event)  # the project is closing: nothing more to show
            self.queue.changed.disconnect(self.refresh_history)
            self.queue.shutdown()
            self.queue = None

    # -- new job -------------------------------------------------------------------
    def new_job(self, pipeline: str | None = None) -> JobForm | None:
        if pipeline is not None:
            for row in range(self.pipelines.count()):
                if self.pipelines.item(row).data(Qt.ItemDataRole.UserRole) == pipeline:
                    self.pipelines.setCurrentRow(row)  # builds the form through the signal
                    return self.form
        item = self.pipelines.currentItem()
        if item is None or self.project is None:
            return None
        if self.preview is not None:
            self.preview.shutdown()
            self.preview = None
        spec = get_pipeline(item.data(Qt.ItemDataRole.UserRole))
        self.form = JobForm(spec, self.project)
        for name, value in self.defaults.items():  # the user's settings (device, workers)
            if name in self.form.fields and _accepts(spec.param(name), value):  # detection: no cuda:all
                self.form.set_value(name, value)
        if spec.task == "pairs":
            self.preview = SamplingPreview(self.form, self.project.root)
            self.form.add_section(self.preview)
        self.form.validityChanged.connect(self._update_buttons)
        self.form_area.setWidget(self.form)
        self.form_status.clear()
        self._update_buttons()
        return self.form

    def start(self) -> None:
        if self.form is None or not self.form.check() or self._creating is not None:
            return
        self.start_button.setEnabled(False)
        self.form_status.setText("checking the training data…")
        self._creating = _CreateJob(self.project.root, self.form.spec.name, self.form.values(), self)
        self._creating.done.connect(self._created)  # connected before the thread starts
        self._creating.start()

    def _created(self, job_id, error: str) -> None:
        self._creating.wait()
        self._creating = None
        self._update_buttons()
        if job_id is None:
            self.form_status.setText(f"<span style='color:#e0564c'>{error}</span>")
            self.message.emit(error)
            return
        self.form_status.setText(f"job {job_id} submitted: it runs when no other job is running")
        self.queue.submit(job_id)
        self.show_job(job_id)
        self.refresh_history()

    # -- the shown job ------------------------------------------------------------
    def show_job(self, job_id: int) -> None:
        job = self.project.jobs.get(job_id)
        self.shown_job = job_id
        task = get_pipeline(job.pipeline).task
        self.curves.show_history(task, self.project.jobs.history(job_id))
        self.log.setPlainText("\n".join(self.logs.get(job_id, [])) or self._log_tail(job_id))
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())  # the newest lines
        self._show_state(job)
        for row in range(self.history.rowCount()):
            if self.history.item(row, 0).data(Qt.ItemDataRole.UserRole) == job_id:
                self.history.blockSignals(True)
                self.history.selectRow(row)
                self.history.blockSignals(False)

    def _show_state(self, job) -> None:
        state = "queued" if self.queue and job.id in dict(self.queue.queued) else job.state
        text = f"<b>job {job.id}</b> · {job.pipeline} · <span style='color:{STATE_COLORS.get(state, '#fff')}'>{state}</span>"
        if job.error:
            text += f"<br><span style='color:#e0564c'>{job.error}</span>"
        self.job_title.setText(text)
        epochs = job.config.get("epochs", 0)
        if job.state == "completed":
            self.progress.setValue(1000)
            self.progress_text.setText(f"{job.epoch}/{epochs} epochs")
        elif job.progress and job.state in ("running", "stopping"):
            self._show_progress(job.progress)
        else:
            self.progress.setValue(int(1000 * job.epoch / max(1, epochs)))
            self.progress_text.setText(f"{job.epoch}/{epochs} epochs")
        self._update_buttons()

    def _log_tail(self, job_id: int, size: int = 6000) -> str:
        """The end of a job's worker log (a job of an earlier session), read once."""
        path = self.project.runs_dir / f"job-{job_id:04d}" / "worker.log"
        try:
            with open(path, "rb") as f:
                f.seek(max(0, path.stat().st_size - size))
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[1:] if len(lines) > 1 else lines)

    def _show_progress(self, data: dict) -> None:
        fraction = data.get("fraction")
        if isinstance(fraction, (int, float)):
            self.progress.setValue(int(1000 * fraction))
        parts = [f"epoch {data.get('epoch')}/{data.get('epochs')}"]
        if data.get("batch") is not None:
            parts.append(f"batch {data.get('batch')}/{data.get('batches')}")
        if isinstance(data.get("loss"), (int, float)):
            parts.append(f"loss {data['loss']:.4f}")
        parts.append(_eta(data.get("eta_s")))
        self.progress_text.setText(" · ".join(p for p in parts if p))

    def stop_shown(self) -> None:
        if self.shown_job is not None and self.queue is not None:
            from core.errors import TesseraError

            try:
                self.queue.stop(self.shown_job)
            except TesseraError as exc:  # it ended meanwhile, or its process is gone
                self.message.emit(str(exc))
                self.refresh_history()
                return
            self.message.emit(f"job {self.shown_job}: stopping after this batch (a checkpoint is saved)")

    def resume_shown(self) -> None:
        if self.shown_job is None or self.queue is None:
            return
        job = self.project.jobs.get(self.shown_job)
        if job.state in RESUMABLE and not self.queue.is_active(job.id):
            self.queue.submit(job.id, resume=True)
            self.refresh_history()
            self.show_job(job.id)

    def _update_buttons(self, *_) -> None:
        self.start_button.setEnabled(self.form is not None and self.form.valid and self._creating is None)
        job = self.project.jobs.get(self.shown_job) if self.project is not None and self.shown_job else None
        active = job is not None and self.queue is not None and self.queue.is_active(job.id)
        self.stop_button.setEnabled(active)
        self.resume_button.setEnabled(job is not None and job.state in RESUMABLE and not active)

    # -- events -------------------------------------------------------------------
    def _on_event(self, job_id: int, event: Event) -> None:
        line = self._log_line(event)
        if line:
            self.logs.setdefault(job_id, deque(maxlen=LOG_LINES)).append(line)
            if job_id == self.shown_job:
                self.log.appendPlainText(line)
        if event.type in ("started", "completed", "stopped", "failed"):
            self.refresh_history()
        if event.type == "completed" and event.get("model") is not None:
            self.modelRegistered.emit(int(event.get("model")))
            self.message.emit(f"job {job_id} completed: model {event.get('model')} is ready")
        if event.type == "failed":
            self.message.emit(f"job {job_id} failed: {event.get('error')}")
        if job_id != self.shown_job:
            return
        if event.type == "progress":
            self._show_progress(event.data)
        elif event.type == "epoch":
            self.curves.add_epoch(event.get("epoch"), event.get("metrics") or {})
            self.refresh_history()
        if event.type in ("started", "completed", "stopped", "failed"):
            self._show_state(self.project.jobs.get(job_id))

    @staticmethod
    def _log_line(event: Event) -> str | None:
        if event.type == "log":
            return f"[{event.get('level', 'info')}] {event.get('message')}"
        if event.type == "epoch":
            metrics = event.get("metrics") or {}
            shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items()
                              if isinstance(v, (int, float)) and "/" not in k and k != "epoch_seconds")
            return f"epoch {event.get('epoch')}/{event.get('epochs')}: {shown}"
        if event.type == "checkpoint":
            return f"checkpoint {event.get('kind')} (epoch {event.get('epoch')})"
        if event.type in ("started", "completed", "stopped", "failed"):
            extra = event.get("error") or (f"model {event.get('model')}" if event.get("model") else "")
            return f"{event.type} {extra}".strip()
        return None

    # -- history ----------------------------------------------------------------
    def refresh_history(self) -> None:
        if self.project is None:
            self.history.setRowCount(0)
            return
        jobs = self.project.jobs.list()
        lasts = self.project.jobs.last_epochs()
        queued = dict(self.queue.queued) if self.queue else {}
        self.history.blockSignals(True)
        self.history.setRowCount(len(jobs))
        for row, job in enumerate(reversed(jobs)):  # newest first
            spec = get_pipeline(job.pipeline)
            metric = lasts.get(job.id, {}).get(spec.main_metric)
            state = "queued" if job.id in queued else job.state
            cells = [str(job.id), job.pipeline, state, f"{job.epoch}/{job.config.get('epochs', '?')}",
                     f"{spec.main_metric} {metric:.3f}" if isinstance(metric, (int, float)) else "",
                     job.error or ""]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, job.id)
                if col == 2:
                    item.setForeground(QColor(STATE_COLORS.get(state, "#ffffff")))
                if col == 5 and job.error:
                    item.setToolTip(job.error)
                self.history.setItem(row, col, item)
            if job.id == self.shown_job:
                self.history.selectRow(row)
        self.history.blockSignals(False)
        self.history.resizeColumnsToContents()
        if self.shown_job is not None:
            self._update_buttons()

    def _history_selected(self) -> None:
        items = self.history.selectedItems()
        if items:
            self.show_job(items[0].data(Qt.ItemDataRole.UserRole))


def _accepts(param, value) -> bool:
    from core.pipelines.params import ParamError

    try:
        param.convert(value, "")
    except ParamError:
        return False
    return True
