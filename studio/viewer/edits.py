"""Undoable edits.  Each command changes the store in one transaction the
moment it runs (there is no "save"); undo and redo are further transactions."""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from core.project.annotations import NewAnnotation


class AddShape(QUndoCommand):
    def __init__(self, project, item: NewAnnotation, on_change, text: str = "add shape"):
        super().__init__(text)
        self.project, self.item, self.on_change = project, item, on_change
        self.saved = None  # the stored annotation, once added

    def redo(self) -> None:
        if self.saved is None:
            self.saved = self.project.annotations.get(self.project.annotations.add(self.item))
        else:
            self.project.annotations.restore([self.saved])
        self.on_change()

    def undo(self) -> None:
        self.project.annotations.delete([self.saved.id])
        self.on_change()

    @property
    def annotation_id(self) -> int | None:
        return self.saved.id if self.saved else None


class DeleteShapes(QUndoCommand):
    def __init__(self, project, ids: list[int], on_change):
        super().__init__(f"delete {len(ids)} shape{'s' if len(ids) != 1 else ''}")
        self.project, self.ids, self.on_change = project, list(ids), on_change
        self.saved = []

    def redo(self) -> None:
        self.saved = [self.project.annotations.get(i) for i in self.ids]
        self.project.annotations.delete(self.ids)
        self.on_change()

    def undo(self) -> None:
        self.project.annotations.restore(self.saved)
        self.on_change()


class ChangeClass(QUndoCommand):
    def __init__(self, project, ids: list[int], class_id: int, on_change):
        super().__init__("change class")
        self.project, self.ids, self.class_id, self.on_change = project, list(ids), class_id, on_change
        self.before = {i: project.annotations.get(i).class_id for i in self.ids}

    def redo(self) -> None:
        self.project.annotations.set_class({i: self.class_id for i in self.ids})
        self.on_change()

    def undo(self) -> None:
        self.project.annotations.set_class(self.before)
        self.on_change()
