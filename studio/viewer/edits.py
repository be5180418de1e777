"""Undoable edits.  Each command changes the store in one transaction the
moment it runs (there is no "save"); undo and redo are further transactions.
After each, a shape command calls ``on_change(regions)`` with the image boxes
its shapes occupy or occupied, so the viewer redraws only there; a relation
command calls it with no region (only pairs and groups are drawn again)."""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from core.project.annotations import NewAnnotation
from core.project.mask_paint import MaskPatch


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
        self.on_change([self.saved.bbox])

    def undo(self) -> None:
        self.project.annotations.delete([self.saved.id])
        self.on_change([self.saved.bbox])

    @property
    def annotation_id(self) -> int | None:
        return self.saved.id if self.saved else None


class DeleteShapes(QUndoCommand):
    """Deletes shapes; undo brings them back with their pairs and group places."""

    def __init__(self, project, ids: list[int], on_change):
        super().__init__(f"delete {len(ids)} shape{'s' if len(ids) != 1 else ''}")
        self.project, self.ids, self.on_change = project, list(ids), on_change
        self.saved, self.relations = [], {"pairs": [], "members": []}

    def redo(self) -> None:
        self.saved = [self.project.annotations.get(i) for i in self.ids]
        self.relations = self.project.relations.involving(self.ids)
        self.project.annotations.delete(self.ids)
        self.on_change([a.bbox for a in self.saved])

    def undo(self) -> None:
        with self.project.transaction():
            self.project.annotations.restore(self.saved)
            self.project.relations.restore(self.relations)
        self.on_change([a.bbox for a in self.saved])


class ChangeClass(QUndoCommand):
    def __init__(self, project, ids: list[int], class_id: int, on_change):
        super().__init__("change class")
        self.project, self.ids, self.class_id, self.on_change = project, list(ids), class_id, on_change
        anns = project.annotations.get_many(self.ids)
        self.before = {a.id: a.class_id for a in anns}
        self.regions = [a.bbox for a in anns]

    def redo(self) -> None:
        self.project.annotations.set_class({i: self.class_id for i in self.ids})
        self.on_change(self.regions)

    def undo(self) -> None:
        self.project.annotations.set_class(self.before)
        self.on_change(self.regions)


class EditGeometry(QUndoCommand):
    """A moved shape or a dragged vertex."""

    def __init__(self, project, ann_id: int, geometry, on_change, text: str = "edit shape"):
        super().__init__(text)
        self.project, self.ann_id, self.on_change = project, ann_id, on_change
        self.before, self.after = project.annotations.get(ann_id).geometry, geometry

    def redo(self) -> None:
        self.project.annotations.update(self.ann_id, geometry=self.after)
        self.on_change([self.before.bounds, self.after.bounds])

    def undo(self) -> None:
        self.project.annotations.update(self.ann_id, geometry=self.before)
        self.on_change([self.before.bounds, self.after.bounds])


class PaintMask(QUndoCommand):
    """A brush or eraser stroke or a fill, already stored when pushed."""

    def __init__(self, project, image_id: int, patch: MaskPatch, on_change, text: str):
        super().__init__(text)
        self.project, self.image_id, self.patch, self.on_change = project, image_id, patch, on_change
        self._first = True

    def redo(self) -> None:
        if self._first:  # the stroke was stored as it was painted
            self._first = False
        else:
            self.project.masks.apply_patch(self.image_id, self.patch)
        self.on_change()

    def undo(self) -> None:
        self.project.masks.apply_patch(self.image_id, self.patch, undo=True)
        self.on_change()


class AcceptPredictions(QUndoCommand):
    """Model predictions become human annotations (ground truth)."""

    def __init__(self, project, ids: list[int], on_change):
        super().__init__(f"accept {len(ids)} prediction{'s' if len(ids) != 1 else ''}")
        self.project, self.ids, self.on_change = project, list(ids), on_change
        self.regions = [a.bbox for a in project.annotations.get_many(self.ids)]

    def redo(self) -> None:
        self.project.annotations.set_source(self.ids, "human")
        self.on_change(self.regions)

    def undo(self) -> None:
        self.project.annotations.set_source(self.ids, "model")
        self.on_change(self.regions)


class AcceptPairs(QUndoCommand):
    """A model's predicted pairs become human pairs: each keeps its type as
    a label, its probability becomes 1."""

    def __init__(self, project, pairs: list, on_change):
        super().__init__(f"accept {len(pairs)} predicted pair{'s' if len(pairs) != 1 else ''}")
        self.project, self.pairs, self.on_change = project, list(pairs), on_change

    def redo(self) -> None:
        with self.project.transaction():
            for pair in self.pairs:
                self.project.relations.set_pair(pair.id, {k: 1.0 for k in pair.labels}, "human")
        self.on_change([])

    def undo(self) -> None:
        with self.project.transaction():
            for pair in self.pairs:
                self.project.relations.set_pair(pair.id, pair.labels, "model")
        self.on_change([])


class AddPair(QUndoCommand):
    """Two persons linked as an interacting pair with interaction labels."""

    def __init__(self, project, image_id: int, a_id: int, b_id: int, labels: dict[str, float], on_change):
        super().__init__(f"link pair ({', '.join(labels) or 'no label'})")
        self.project, self.on_change = project, on_change
        self.args = (image_id, a_id, b_id, labels)
        self.pair_id = None

    def redo(self) -> None:
        self.pair_id = self.project.relations.add_pair(*self.args)
        self.on_change([])

    def undo(self) -> None:
        self.project.relations.delete_pairs([self.pair_id])
        self.on_change([])


class AssignGroup(QUndoCommand):
    """Persons put into one social group (a new one when ``group_id`` is None);
    a person is in one group at a time, so they leave any other."""

    def __init__(self, project, image_id: int, member_ids: list[int], group_id: int | None, on_change):
        super().__init__(f"group {len(member_ids)} person{'s' if len(member_ids) != 1 else ''}")
        self.project, self.image_id, self.on_change = project, image_id, on_change
        self.members, self.group_id = list(member_ids), group_id
        self.before = {g.id: g.members for g in project.relations.groups(image_id)}
        self.created = None

    def redo(self) -> None:
        rel = self.project.relations
        with self.project.transaction():
            for gid, members in self.before.items():
                if gid != self.group_id and set(members) & set(self.members):
                    rel.set_group_members(gid, [m for m in members if m not in self.members])
            if self.group_id is None:
                self.created = rel.add_group(self.image_id, self.members)
            else:
                rel.set_group_members(self.group_id, list(self.before[self.group_id]) + self.members)
        self.on_change([])

    def undo(self) -> None:
        rel = self.project.relations
        with self.project.transaction():
            if self.created is not None:
                rel.delete_group(self.created)
            for gid, members in self.before.items():
                rel.set_group_members(gid, members)
        self.on_change([])
