"""The properties dock: what the selected shape is (class, kind, source and
score, size, the pairs and group it belongs to), with its class editable."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QWidget


class PropertiesPanel(QWidget):
    classChosen = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.title = QLabel("nothing selected")
        self.form.addRow(self.title)
        self.cls = QComboBox()
        self.cls.activated.connect(lambda i: self.classChosen.emit(self.cls.itemData(i)))
        self.form.addRow("class", self.cls)
        self.fields = {}
        for name in ("kind", "source", "bounds", "size", "area", "relations"):
            self.fields[name] = QLabel("")
            self.fields[name].setWordWrap(True)
            self.form.addRow(name, self.fields[name])
        self.show_selection(None, set())

    def show_selection(self, project, ids: set[int]) -> None:
        self.cls.setEnabled(bool(ids))
        for label in self.fields.values():
            label.setText("")
        if not ids or project is None:
            self.title.setText("nothing selected")
            self.cls.clear()
            return
        self.cls.clear()
        for c in project.classes.list():
            self.cls.addItem(c.name, c.id)
        anns = [project.annotations.get(i) for i in sorted(ids)]
        classes = {a.class_id for a in anns}
        self.cls.setCurrentIndex(self.cls.findData(classes.pop()) if len(classes) == 1 else -1)
        if len(anns) > 1:
            self.title.setText(f"{len(anns)} shapes selected")
            return
        a = anns[0]
        self.title.setText(f"shape {a.id}")
        x1, y1, x2, y2 = a.bbox
        self.fields["kind"].setText(a.kind + (" (crowd)" if a.iscrowd else ""))
        self.fields["source"].setText(a.source + (f", score {a.score:.3f}" if a.score is not None else ""))
        self.fields["bounds"].setText(f"{x1:.0f}, {y1:.0f} – {x2:.0f}, {y2:.0f}")
        self.fields["size"].setText(f"{x2 - x1:.1f} × {y2 - y1:.1f} px")
        self.fields["area"].setText(f"{a.geometry.area:,.1f} px²" if a.kind != "point" else "–")
        involved = project.relations.involving([a.id])
        pairs = [f"pair with {p.b_id if p.a_id == a.id else p.a_id} ({', '.join(p.labels) or 'no label'})"
                 for p in involved["pairs"]]
        groups = [f"group {g}" for g, _ in involved["members"]]
        self.fields["relations"].setText("\n".join(pairs + groups) or "none")
