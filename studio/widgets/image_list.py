"""The image list dock: name, split, shape count and status; filter by text."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget


class ImageList(QWidget):
    imageSelected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="filter images…")
        self.list = QListWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        self.search.textChanged.connect(self._filter)
        self.list.currentItemChanged.connect(
            lambda item, _: item is not None and self.imageSelected.emit(item.data(Qt.ItemDataRole.UserRole)))

    def load(self, project) -> None:
        counts = project.annotations.counts_by_image()
        self.list.clear()
        for image in project.images.list():
            text = f"{image.name}\n{image.split or '-'} · {counts.get(image.id, 0)} shapes · {image.status}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, image.id)
            item.setToolTip(f"{image.width}x{image.height}  {image.path}")
            self.list.addItem(item)
        self._filter(self.search.text())

    def select(self, image_id: int) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == image_id:
                self.list.setCurrentRow(row)
                return

    def step(self, delta: int) -> None:
        rows = [r for r in range(self.list.count()) if not self.list.item(r).isHidden()]
        if not rows:
            return
        current = self.list.currentRow()
        later = [r for r in rows if (r > current if delta > 0 else r < current)]
        if later:
            self.list.setCurrentRow(later[0] if delta > 0 else later[-1])

    def _filter(self, text: str) -> None:
        needle = text.lower().strip()
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setHidden(bool(needle) and needle not in item.text().lower())
