"""The page the studio shows with no project open: create a project, open
one, reopen a recent one, or open the demo (built on first use by
``tessera demo`` in a subprocess, with a progress bar)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from .resources import app_icon
from .training.core_task import CoreTask


class WelcomePage(QWidget):
    """``openRequested(path)`` when a project is picked or the demo is ready;
    ``newRequested`` / ``browseRequested`` for the file dialogs (the window's)."""

    openRequested = Signal(str)
    newRequested = Signal()
    browseRequested = Signal()

    def __init__(self, demo_dir: Path, parent=None):
        super().__init__(parent)
        self.demo_dir = Path(demo_dir)
        self.task: CoreTask | None = None
        title = QLabel("<h1>Tessera Studio</h1><p>Annotate images and gigapixel tiles, train segmentation, "
                       "detection and relation models, and export them — all on this machine.</p>")
        title.setWordWrap(True)
        self.new_button = QPushButton("New project…")
        self.open_button = QPushButton("Open project…")
        self.demo_button = QPushButton()
        for button in (self.new_button, self.open_button, self.demo_button):
            button.setMinimumHeight(36)
        self.new_button.clicked.connect(self.newRequested)
        self.open_button.clicked.connect(self.browseRequested)
        self.demo_button.clicked.connect(self.open_demo)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.open_button, self.demo_button):
            buttons.addWidget(button)
        self.progress = QProgressBar()
        self.progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.recent = QListWidget()
        self.recent.itemActivated.connect(lambda item: self.openRequested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self.recent_label = QLabel("<b>Recent projects</b> (double-click to open)")
        card = QFrame()
        card.setFrameShape(QFrame.Shape.StyledPanel)
        card.setMaximumWidth(760)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(28, 24, 28, 24)
        head = QHBoxLayout()
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        head.addSpacing(12)
        head.addWidget(title, 1)
        inner.addLayout(head)
        inner.addLayout(buttons)
        inner.addWidget(self.progress)
        inner.addWidget(self.status)
        inner.addSpacing(12)
        inner.addWidget(self.recent_label)
        inner.addWidget(self.recent)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(card)
        column.addStretch(2)
        outer.addLayout(column, 3)
        outer.addStretch(1)
        self.refresh([])

    def refresh(self, recent: list[str]) -> None:
        built = (self.demo_dir / "project.db").is_file()
        self.demo_button.setText("Open the demo" if built else "Build and open the demo")
        self.demo_button.setToolTip(str(self.demo_dir) + ("" if built else ": built on first use (a minute or two)"))
        self.recent.clear()
        for path in recent:
            exists = (Path(path) / "project.db").is_file()
            item = QListWidgetItem(path + ("" if exists else "  (missing)"))
            item.setData(Qt.ItemDataRole.UserRole, path)
            if not exists:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
            self.recent.addItem(item)
        self.recent.setVisible(bool(recent))
        self.recent_label.setVisible(bool(recent))

    def open_demo(self) -> None:
        if (self.demo_dir / "project.db").is_file():
            self.openRequested.emit(str(self.demo_dir))
            return
        if self.task is not None:
            return
        for button in (self.new_button, self.open_button, self.demo_button):
            button.setEnabled(False)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText(f"Building the demo project in {self.demo_dir} …")
        self.task = CoreTask(["demo", str(self.demo_dir), "--size", "small"], self)
        self.task.fraction.connect(self._progress)
        self.task.finished.connect(self._built)
        self.task.start()

    def _progress(self, done: int, total: int, message: str) -> None:
        if total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
        if message:
            self.status.setText(f"Building the demo project: {message}")

    def _built(self, ok: bool, _out: str, error: str) -> None:
        self.task = None
        self.progress.hide()
        for button in (self.new_button, self.open_button, self.demo_button):
            button.setEnabled(True)
        if ok:
            self.status.clear()
            self.refresh([self.recent.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.recent.count())])
            self.openRequested.emit(str(self.demo_dir))
        else:
            self.status.setText(f"The demo could not be built: {error}")

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.kill()
            self.task = None
