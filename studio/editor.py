"""Turning what the user does in the viewer into undoable edits of the store.

Each edit is one transaction the moment it happens (there is no "save");
the undo stack holds the commands that reverse and repeat them."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack
from shapely.geometry import Point, Polygon
from shapely.geometry import box as shapely_box

from core.errors import TesseraError
from core.formats.geometry import GeometryProblem, repair
from core.project.annotations import NewAnnotation
from core.project.mask_paint import flood_fill, stroke

from .viewer import ImageViewer
from .viewer.edits import (AcceptPairs, AcceptPredictions, AddPair, AddShape, AssignGroup, ChangeClass, DeleteShapes,
                           EditGeometry, PaintMask)


class Editor(QObject):
    message = Signal(str)  # a one-line note for the status bar
    edited = Signal()  # the store changed (any edit, undo or redo)

    def __init__(self, viewer: ImageViewer, parent=None):
        super().__init__(parent)
        self.viewer = viewer
        self.project = None
        self.class_id: int | None = None
        self.undo_stack = QUndoStack(self)
        viewer.boxDrawn.connect(self.add_box)
        viewer.polygonDrawn.connect(self.add_polygon)
        viewer.pointDrawn.connect(self.add_point)
        viewer.strokeDrawn.connect(self.paint_stroke)
        viewer.fillAt.connect(self.fill)
        viewer.geometryEdited.connect(self.edit_geometry)

    def attach(self, project) -> None:
        self.project = project
        self.undo_stack.clear()

    @property
    def image(self):
        return self.viewer.image

    def _shapes_changed(self, regions: list | None = None) -> None:
        self.viewer.reload_shapes(regions)
        self.edited.emit()

    def _mask_changed(self) -> None:
        self.viewer.reload_mask()
        self.edited.emit()

    def _push(self, command) -> None:
        try:
            self.undo_stack.push(command)
        except TesseraError as exc:
            self.message.emit(str(exc))

    # -- shapes ----------------------------------------------------------------
    def add_box(self, x1: float, y1: float, x2: float, y2: float) -> None:
        if self.image is not None:
            item = NewAnnotation(image_id=self.image.id, geometry=shapely_box(x1, y1, x2, y2), kind="box",
                                 class_id=self.class_id)
            self._push(AddShape(self.project, item, self._shapes_changed, "draw box"))

    def add_polygon(self, points: list) -> None:
        if self.image is None:
            return
        try:
            geom, notes = repair(Polygon(points), self.image.width, self.image.height)
        except GeometryProblem as exc:
            self.message.emit(f"polygon not added: {exc}")
            return
        if notes:
            self.message.emit("; ".join(notes))
        item = NewAnnotation(image_id=self.image.id, geometry=geom, kind="polygon", class_id=self.class_id)
        self._push(AddShape(self.project, item, self._shapes_changed, "draw polygon"))

    def add_point(self, x: float, y: float) -> None:
        if self.image is not None:
            item = NewAnnotation(image_id=self.image.id, geometry=Point(x, y), kind="point", class_id=self.class_id)
            self._push(AddShape(self.project, item, self._shapes_changed, "add point"))

    def edit_geometry(self, ann_id: int, geometry) -> None:
        ann = self.project.annotations.get(ann_id)
        if ann.kind == "polygon":
            try:
                geometry, notes = repair(geometry, self.image.width, self.image.height)
            except GeometryProblem as exc:
                self.message.emit(f"edit not kept: {exc}")
                self.viewer.reload_shapes([ann.bbox])  # back where it was
                return
            if notes:
                self.message.emit("; ".join(notes))
        self._push(EditGeometry(self.project, ann_id, geometry, self._shapes_changed))

    def delete_selected(self) -> None:
        if self.viewer.selected:
            self._push(DeleteShapes(self.project, sorted(self.viewer.selected), self._shapes_changed))

    def set_class(self, class_id: int | None) -> None:
        """The class new shapes get; the selected shapes get it too."""
        self.class_id = class_id
        if self.viewer.selected and class_id is not None:
            self._push(ChangeClass(self.project, sorted(self.viewer.selected), class_id, self._shapes_changed))

    # -- the dense mask ----------------------------------------------------------
    def _paint(self, edit, text: str) -> None:
        if self.image is None:
            return
        try:
            patch = self.project.masks.paint(self.image.id, edit)
        except TesseraError as exc:
            self.message.emit(str(exc))
            return
        if patch is not None:
            self._push(PaintMask(self.project, self.image.id, patch, self._mask_changed, text))

    def paint_stroke(self, points: list, radius: float, erase: bool) -> None:
        if not erase and self.class_id is None:
            self.message.emit("pick a class to paint with (1-9)")
            return
        value = 0 if erase else self.class_id
        self._paint(lambda m: stroke(m, points, radius, value), "erase" if erase else "brush stroke")

    def fill(self, x: float, y: float) -> None:
        if self.class_id is None:
            self.message.emit("pick a class to fill with (1-9)")
            return
        self._paint(lambda m: flood_fill(m, x, y, self.class_id), "fill")

    # -- predictions ---------------------------------------------------------------
    def accept_predictions(self) -> int:
        """The selected predictions (all of the image's, predicted pairs
        included, when none is selected) become annotations.  Returns how many."""
        if self.image is None:
            return 0
        predicted = {a.id for a in self.project.annotations.for_image(self.image.id, source="model")}
        ids = sorted(predicted & self.viewer.selected) if predicted & self.viewer.selected else sorted(predicted)
        if ids:
            self._push(AcceptPredictions(self.project, ids, self._shapes_changed))
        pairs = [] if predicted & self.viewer.selected else [
            p for p in self.project.relations.pairs(self.image.id) if p.source == "model"]
        if pairs:
            self._push(AcceptPairs(self.project, pairs, self._shapes_changed))
        return len(ids) + len(pairs)

    # -- relations -------------------------------------------------------------------
    def link_pair(self, a_id: int, b_id: int, labels: list[str]) -> None:
        if self.image is not None:
            self._push(AddPair(self.project, self.image.id, a_id, b_id, {lab: 1.0 for lab in labels},
                               self._shapes_changed))

    def group(self, member_ids: list[int], group_id: int | None) -> None:
        if self.image is not None and member_ids:
            self._push(AssignGroup(self.project, self.image.id, member_ids, group_id, self._shapes_changed))
