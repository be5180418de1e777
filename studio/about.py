"""Help → About: the app's environment as ``tessera doctor`` reports it
(run in a subprocess: the studio itself never imports torch for this)."""
from __future__ import annotations

import json

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout

from core.doctor import text

from .training.core_task import CoreTask


class AboutDialog(QDialog):
    def __init__(self, project_dir: str | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("About Tessera Studio")
        self.resize(760, 520)
        self.report: dict | None = None
        self.heading = QLabel("<h2>Tessera Studio</h2><p>A local annotation-and-training studio for computer "
                              "vision. What this installation runs on:</p>")
        self.body = QPlainTextEdit(readOnly=True)
        self.body.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.body.setPlainText("checking the environment (tessera doctor) …")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy = QPushButton("Copy")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.body.toPlainText()))
        buttons.addButton(self.copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(self.body)
        layout.addWidget(buttons)
        self.task = CoreTask(["doctor", "--json"] + ([str(project_dir)] if project_dir else []), self)
        self.task.finished.connect(self._done)
        self.task.start()

    def _done(self, ok: bool, out: str, error: str) -> None:
        try:
            self.report = json.loads(out) if ok else None
        except json.JSONDecodeError:
            self.report = None
        self.body.setPlainText(text(self.report) if self.report else f"tessera doctor failed: {error}")
        self.copy.setEnabled(True)
        self.task = None

    def done(self, result: int) -> None:
        if self.task is not None:
            self.task.kill()
        super().done(result)
