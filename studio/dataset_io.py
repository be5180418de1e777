"""Import and export from the window: a dialog to choose the format and the
files, the work in a thread of its own (with its own store connection) and a
progress dialog, and the report at the end."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QThread, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLineEdit, QMessageBox, QProgressDialog, QPushButton, QWidget)

from core.errors import TesseraError
from core.formats import EXPORT_FORMATS, IMPORT_FORMATS, export_dataset, import_dataset
from core.project import Project

IMPORT_HELP = {
    "coco": "a COCO annotations .json (images: the folder its file names are relative to)",
    "yolo": "a YOLO dataset folder or its data.yaml",
    "loveda": "a LoveDA folder (Train/Val/Test with images_png and masks_png)",
    "labelme": "a folder of labelme .json files",
    "jrdb": "a JRDB-style folder of panoramas and labels",
    "images": "a folder of images, searched recursively, without annotations",
}


class DatasetTask(QThread):
    """One import or export, run on its own connection to the project."""
    progressed = Signal(int, int, str)  # done, total (0 unknown), message
    done = Signal(object)  # the Report
    failed = Signal(str)

    def __init__(self, project_root: Path, action: str, fmt: str, path: str, images: str | None = None,
                 split: str | None = None, parent=None):
        super().__init__(parent)
        self.args = (Path(project_root), action, fmt, path, images, split)

    def run(self) -> None:
        root, action, fmt, path, images, split = self.args
        progress = lambda done, total, message="": self.progressed.emit(done, total or 0, message)  # noqa: E731
        try:
            with Project.open(root) as project:
                if action == "import":
                    report = import_dataset(project, fmt, path, images or None, split or None, progress=progress)
                else:
                    report = export_dataset(project, fmt, path, progress=progress)
        except (TesseraError, OSError) as exc:
            self.failed.emit(str(exc))
            return
        self.done.emit(report)


def _path_row(parent: QWidget, folder: bool, file_filter: str = "") -> tuple[QWidget, QLineEdit]:
    row, edit = QWidget(parent), QLineEdit()
    browse = QPushButton("Browse…")

    def pick() -> None:
        if folder:
            chosen = QFileDialog.getExistingDirectory(parent, "Choose a folder", edit.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(parent, "Choose a file", edit.text(), file_filter)
        if chosen:
            edit.setText(chosen)

    browse.clicked.connect(pick)
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit)
    layout.addWidget(browse)
    return row, edit


def _ok_cancel(dialog: QDialog) -> QDialogButtonBox:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class ImportDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import a dataset")
        form = QFormLayout(self)
        self.format = QComboBox()
        self.format.addItems(IMPORT_FORMATS)
        self.help = QLineEdit(readOnly=True, frame=False)
        row, self.source = _path_row(self, folder=False, file_filter="Annotations (*.json *.yaml *.yml);;All (*)")
        folder_row, folder = _path_row(self, folder=True)
        folder.textChanged.connect(self.source.setText)
        images_row, self.images = _path_row(self, folder=True)
        self.split = QComboBox()
        self.split.addItems(["(as the dataset says)", "train", "val", "test"])
        form.addRow("format", self.format)
        form.addRow("", self.help)
        form.addRow("annotation file", row)
        form.addRow("or folder", folder_row)
        form.addRow("images folder", images_row)
        form.addRow("split", self.split)
        form.addRow(_ok_cancel(self))
        self.format.currentTextChanged.connect(lambda f: self.help.setText(IMPORT_HELP.get(f, "")))
        self.help.setText(IMPORT_HELP[IMPORT_FORMATS[0]])

    def values(self) -> dict:
        split = self.split.currentText()
        return {"fmt": self.format.currentText(), "path": self.source.text().strip(),
                "images": self.images.text().strip() or None, "split": None if split.startswith("(") else split}


class ExportDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export the project")
        form = QFormLayout(self)
        self.format = QComboBox()
        self.format.addItems(EXPORT_FORMATS)
        row, self.out = _path_row(self, folder=True)
        form.addRow("format", self.format)
        form.addRow("into folder", row)
        form.addRow(_ok_cancel(self))

    def values(self) -> dict:
        return {"fmt": self.format.currentText(), "path": self.out.text().strip()}


def report_text(report) -> str:
    lines = [report.summary()]
    if report.output:
        lines.append(f"written to {report.output}")
    for title, issues in (("skipped", report.skipped), ("warnings", report.warnings)):
        if issues:
            lines.append(f"\n{title}:")
            lines += [f"  {i}" for i in issues[:200]]
            if len(issues) > 200:
                lines.append(f"  … and {len(issues) - 200} more")
    return "\n".join(lines)


def start_task(parent: QWidget, project_root: Path, action: str, fmt: str, path: str, images: str | None = None,
               split: str | None = None, on_done=None, show_report: bool = True) -> DatasetTask:
    """Run an import / export in a thread with a progress dialog; the report
    (or the one-line error) is shown at the end and passed to
    ``on_done(report, error)``."""
    task = DatasetTask(project_root, action, fmt, path, images, split, parent)
    dialog = QProgressDialog(f"{action}ing {fmt}…", None, 0, 0, parent)
    dialog.setWindowTitle(f"{action.capitalize()} {fmt}")
    dialog.setMinimumDuration(300)

    def progressed(done: int, total: int, message: str) -> None:
        dialog.setMaximum(total)
        dialog.setValue(min(done, total) if total else 0)
        if message:
            dialog.setLabelText(f"{message} ({done}/{total})" if total else message)

    def finished(report) -> None:
        dialog.close()
        if on_done is not None:
            on_done(report, "")
        if show_report:
            box = QMessageBox(QMessageBox.Icon.Information if not report.skipped else QMessageBox.Icon.Warning,
                              f"{action.capitalize()} finished", report.summary(), parent=parent)
            if report.skipped or report.warnings:
                box.setDetailedText(report_text(report))
            box.open()

    def failed(message: str) -> None:
        dialog.close()
        if on_done is not None:
            on_done(None, message)
        if show_report:
            QMessageBox.warning(parent, f"{action.capitalize()} failed", message)

    task.progressed.connect(progressed)
    task.done.connect(finished)
    task.failed.connect(failed)
    task.finished.connect(task.deleteLater)
    task.start()
    return task
