"""The shortcut overlay (F1 or ?): every action with its keys, over the window."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class HelpOverlay(QWidget):
    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, False)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setStyleSheet("color: #f0f0f0; font-size: 13px;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.label, alignment=Qt.AlignmentFlag.AlignCenter)
        self.hide()

    def set_actions(self, actions, extra: tuple = ()) -> None:
        """``extra``: (keys, text) rows for shortcuts that are not actions of their own."""
        rows = []
        for action in actions:
            keys = ", ".join(k.toString(k.SequenceFormat.NativeText) for k in action.shortcuts())
            if keys:
                rows.append(f"<tr><td align='right' style='padding-right:14px; color:#ffd400'><b>{keys}</b></td>"
                            f"<td>{action.text().replace('&', '')}</td></tr>")
        rows += [f"<tr><td align='right' style='padding-right:14px; color:#ffd400'><b>{keys}</b></td>"
                 f"<td>{text}</td></tr>" for keys, text in extra]
        half = (len(rows) + 1) // 2
        table = "".join(f"<td valign='top' style='padding:0 24px'><table>{''.join(part)}</table></td>"
                        for part in (rows[:half], rows[half:]))
        self.label.setText(f"<h2 style='color:#ffffff'>Keyboard shortcuts</h2><table><tr>{table}</tr></table>"
                           "<p style='color:#aaaaaa'>F1 or ? shows and hides this; Esc hides it.</p>")

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
        else:
            self.setGeometry(self.parentWidget().rect())
            self.raise_()
            self.show()
            self.setFocus()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(10, 12, 16, 215))
        painter.end()

    def mousePressEvent(self, event) -> None:
        self.hide()

    def keyPressEvent(self, event) -> None:
        self.hide()
