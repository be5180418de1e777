"""The main window: composes the docks around the viewer and keeps its own
layout between runs.  It holds no logic of its own beyond wiring."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox, QSlider

from core.appdirs import config_dir
from core.errors import TesseraError
from core.project import Project
from core.project.annotations import NewAnnotation
from core.formats.geometry import GeometryProblem, repair
from shapely.geometry import Point, Polygon
from shapely.geometry import box as shapely_box

from .viewer import ImageViewer
from .viewer.edits import AddShape, ChangeClass, DeleteShapes
from .widgets.class_palette import ClassPalette
from .widgets.image_list import ImageList


def settings() -> QSettings:
    return QSettings(str(config_dir() / "studio.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    def __init__(self, project_dir: Path | None = None):
        super().__init__()
        self.setWindowTitle("Tessera Studio")
        self.resize(1400, 900)
        self.project: Project | None = None
        self.viewer = ImageViewer(self)
        self.setCentralWidget(self.viewer)
        self.images = ImageList()
        self.palette = ClassPalette()
        left = self._dock("Images", self.images, Qt.DockWidgetArea.LeftDockWidgetArea)
        right = self._dock("Classes", self.palette, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([left, right], [240, 200], Qt.Orientation.Horizontal)
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status)
        self.images.imageSelected.connect(self.show_image)
        self.palette.visibilityChanged.connect(self._hide_classes)
        self.viewer.viewChanged.connect(self._show_view_state)
        self.undo_stack = QUndoStack(self)
        self.viewer.boxDrawn.connect(self._add_box)
        self.viewer.polygonDrawn.connect(self._add_polygon)
        self.viewer.pointDrawn.connect(self._add_point)
        self._actions()
        state = settings()
        if state.value("geometry"):
            self.restoreGeometry(state.value("geometry"))
            self.restoreState(state.value("state"))
        if project_dir is not None:
            self.open_project(project_dir)

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _actions(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, key, slot in (("&Open project…", QKeySequence.StandardKey.Open, self._ask_open),
                                ("&Quit", QKeySequence.StandardKey.Quit, self.close)):
            action = QAction(text, self, shortcut=key, triggered=slot)
            menu.addAction(action)
        view = self.menuBar().addMenu("&View")
        for text, key, slot in (("Fit image", "F", self.viewer.fit), ("Zoom in", "+", lambda: self.viewer.zoom(1.25)),
                                ("Zoom out", "-", lambda: self.viewer.zoom(0.8)),
                                ("Next image", "D", lambda: self.images.step(1)),
                                ("Previous image", "A", lambda: self.images.step(-1))):
            view.addAction(QAction(text, self, shortcut=QKeySequence(key), triggered=slot))
        bar = self.addToolBar("Display")
        bar.setObjectName("Display")
        bar.addWidget(QLabel(" mask "))
        self.mask_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=45, maximumWidth=120)
        self.mask_slider.valueChanged.connect(lambda v: self.viewer.set_mask_opacity(v / 100))
        bar.addWidget(self.mask_slider)
        bar.addWidget(QLabel(" outline "))
        self.outline_slider = QSlider(Qt.Orientation.Horizontal, minimum=1, maximum=8, value=2, maximumWidth=100)
        self.outline_slider.valueChanged.connect(lambda v: self.viewer.set_outline_width(v * 0.75))
        bar.addWidget(self.outline_slider)
        edit = self.menuBar().addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        edit.addActions([undo, redo])
        for text, key, slot in (("Pan / select", "V", lambda: self.viewer.set_tool("pan")),
                                ("Box tool", "B", lambda: self.viewer.set_tool("box")),
                                ("Polygon tool (double-click or Enter closes)", "P",
                                 lambda: self.viewer.set_tool("polygon")),
                                ("Point tool", "O", lambda: self.viewer.set_tool("point")),
                                ("Delete selected", QKeySequence.StandardKey.Delete, self.delete_selected)):
            edit.addAction(QAction(text, self, shortcut=QKeySequence(key), triggered=slot))
        for n in range(9):  # 1-9 pick a class (and give it to the selected shapes)
            self.addAction(QAction(self, shortcut=QKeySequence(str(n + 1)), triggered=lambda _=False, k=n: self.pick_class(k)))

    def _ask_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Tessera project")
        if folder:
            self.open_project(Path(folder))

    def open_project(self, folder: Path) -> None:
        try:
            project = Project.open(folder)
        except TesseraError as exc:
            QMessageBox.warning(self, "Cannot open project", str(exc))
            return
        if self.project is not None:
            self.viewer.detach()
            self.project.close()
        self.project = project
        self.setWindowTitle(f"Tessera Studio — {project.name}")
        self.undo_stack.clear()
        self.images.load(project)
        self.palette.load(project)
        if self.palette.count():
            self.palette.setCurrentRow(0)
        first = project.images.list()
        if first:
            self.images.select(first[0].id)

    def show_image(self, image_id: int) -> None:
        image = self.project.images.get(image_id)
        self.viewer.set_image(self.project, image)
        self.statusBar().showMessage(f"{image.name}  {image.width}x{image.height}", 5000)

    # -- edits: each one is stored at once; undo / redo are transactions too ----
    def current_class(self) -> int | None:
        item = self.palette.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def pick_class(self, index: int) -> None:
        if index >= self.palette.count():
            return
        self.palette.setCurrentRow(index)
        if self.viewer.selected:
            self.undo_stack.push(ChangeClass(self.project, sorted(self.viewer.selected), self.current_class(),
                                             self._edited))

    def _add_box(self, x1: float, y1: float, x2: float, y2: float) -> None:
        image = self.viewer.image
        if image is None:
            return
        item = NewAnnotation(image_id=image.id, geometry=shapely_box(x1, y1, x2, y2), kind="box",
                             class_id=self.current_class())
        self.undo_stack.push(AddShape(self.project, item, self._edited, "draw box"))

    def _add_polygon(self, points: list) -> None:
        image = self.viewer.image
        if image is None:
            return
        try:
            geom, notes = repair(Polygon(points), image.width, image.height)
        except GeometryProblem as exc:
            self.statusBar().showMessage(f"polygon not added: {exc}", 5000)
            return
        if notes:
            self.statusBar().showMessage("; ".join(notes), 5000)
        item = NewAnnotation(image_id=image.id, geometry=geom, kind="polygon", class_id=self.current_class())
        self.undo_stack.push(AddShape(self.project, item, self._edited, "draw polygon"))

    def _add_point(self, x: float, y: float) -> None:
        image = self.viewer.image
        if image is not None:
            item = NewAnnotation(image_id=image.id, geometry=Point(x, y), kind="point", class_id=self.current_class())
            self.undo_stack.push(AddShape(self.project, item, self._edited, "add point"))

    def delete_selected(self) -> None:
        if self.viewer.selected:
            self.undo_stack.push(DeleteShapes(self.project, sorted(self.viewer.selected), self._edited))

    def _edited(self) -> None:
        self.viewer.reload_shapes()

    def _hide_classes(self, hidden: set) -> None:
        self.viewer.hidden_classes = hidden
        self.viewer.schedule()

    def _show_view_state(self, state: dict) -> None:
        self.status.setText(f"zoom {state['scale'] * 100:.1f}%  level {state['level']}  "
                            f"{state['shapes']} shapes  {state['tiles']} tiles")

    def closeEvent(self, event) -> None:
        state = settings()
        state.setValue("geometry", self.saveGeometry())
        state.setValue("state", self.saveState())
        self.viewer.detach()
        if self.project is not None:
            self.project.close()
            self.project = None
        super().closeEvent(event)
