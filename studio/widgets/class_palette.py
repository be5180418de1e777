"""The class palette dock: colour, name, shortcut 1-9, critical flag; a
checkbox per class shows or hides its shapes."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem


def swatch(color: str, size: int = 14) -> QIcon:
    pix = QPixmap(size, size)
    pix.fill(QColor(color))
    return QIcon(pix)


class ClassPalette(QListWidget):
    visibilityChanged = Signal(set)  # hidden class ids

    def __init__(self, parent=None):
        super().__init__(parent)
        self.itemChanged.connect(lambda _: self.visibilityChanged.emit(self.hidden()))

    def load(self, project) -> None:
        self.blockSignals(True)
        self.clear()
        for n, c in enumerate(project.classes.list()):
            key = f"  [{n + 1}]" if n < 9 else ""
            item = QListWidgetItem(swatch(c.color), f"{c.name}{key}{'  ⚠ critical' if c.critical else ''}")
            item.setData(Qt.ItemDataRole.UserRole, c.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked)
            self.addItem(item)
        self.blockSignals(False)

    def hidden(self) -> set[int]:
        return {self.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.count())
                if self.item(r).checkState() != Qt.CheckState.Checked}
