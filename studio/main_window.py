"""The main window: composes the docks around the viewer, its menus and
shortcuts, and keeps its layout between runs.  Edits go through the
:class:`Editor`; imports and exports through :mod:`studio.dataset_io`."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMessageBox,
                               QSlider, QStackedWidget, QToolBar)

from core.appdirs import data_dir
from core.errors import TesseraError
from core.pipelines import all_pipelines
from core.project import Project

from . import dataset_io
from .active.queue_panel import QueuePanel
from .editor import Editor
from .preferences import Preferences, SettingsDialog, apply_theme, settings
from .training.models_panel import ModelsPanel
from .training.panel import TrainingPanel
from .viewer import ImageViewer
from .viewer.view import view_state_text
from .widgets.class_palette import ClassPalette
from .widgets.help_overlay import HelpOverlay
from .widgets.image_list import ImageList
from .widgets.minimap import Minimap
from .welcome import WelcomePage
from .widgets.properties import PropertiesPanel

RECENT = 8
LAYOUT = 3  # the dock layout's version: 2 added the Training and Models docks, 3 the Queue dock
TOOLS = (("Select / move / edit vertices", "V", "pan"), ("Box", "B", "box"),
         ("Polygon (double-click or Enter closes)", "P", "polygon"), ("Point", "O", "point"),
         ("Brush on the label mask", "S", "brush"), ("Eraser on the label mask", "E", "eraser"),
         ("Fill a mask region", "K", "fill"), ("Relation: link two persons as a pair", "R", "relation"))


class MainWindow(QMainWindow):
    datasetTaskDone = Signal(object, str)  # the import / export report (None on failure), the error

    def __init__(self, project_dir: Path | None = None):
        super().__init__()
        self.setWindowTitle("Tessera Studio")
        self.resize(1400, 900)
        self.project: Project | None = None
        self.keep_layout = True
        self.prefs = Preferences.load()
        self._hidden_on_welcome: list = []
        self.viewer = ImageViewer(self)
        self.viewer.loader.max_tiles = self.prefs.max_tiles
        self.welcome = WelcomePage(data_dir() / "demo-project")
        self.welcome.openRequested.connect(lambda path: self.open_project(Path(path)))
        self.welcome.newRequested.connect(self._ask_new)
        self.welcome.browseRequested.connect(self._ask_open)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.viewer)
        self.setCentralWidget(self.pages)
        self.editor = Editor(self.viewer, self)
        self.undo_stack = self.editor.undo_stack
        self.images = ImageList()
        self.palette = ClassPalette()
        self.properties = PropertiesPanel()
        self.minimap = Minimap()
        left = self._dock("Images", self.images, Qt.DockWidgetArea.LeftDockWidgetArea)
        right = self._dock("Classes", self.palette, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Properties", self.properties, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("Minimap", self.minimap, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([left, right], [260, 240], Qt.Orientation.Horizontal)
        self.training = TrainingPanel()
        self.training.defaults = self.prefs.job_defaults()
        self.training_dock = self._dock("Training", self.training, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.resizeDocks([self.training_dock], [320], Qt.Orientation.Vertical)
        self.training.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.models = ModelsPanel()
        self.models_dock = self._dock("Models", self.models, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.queue = QueuePanel()
        self.queue_dock = self._dock("Queue", self.queue, Qt.DockWidgetArea.BottomDockWidgetArea)
        self._tabify_bottom()
        self.queue.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.queue.imageRequested.connect(self._open_from_queue)
        self.queue.queueChanged.connect(lambda: self.images.set_scores(self.project.queue.scores()))
        self.queue.imagesChanged.connect(self._reload_after_package)
        self.training.modelRegistered.connect(lambda _: self.queue.refresh_models())
        self.models.mineRequested.connect(self._start_mining)
        self.models.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.training.modelRegistered.connect(lambda _: self.models.refresh())
        self.models.current_image = lambda: self.viewer.image
        self.models.predicted.connect(self._predictions_arrived)
        self.status = QLabel()
        self.statusBar().addPermanentWidget(self.status)
        self.help = HelpOverlay(self)
        self.images.imageSelected.connect(self.show_image)
        self.palette.visibilityChanged.connect(self._hide_classes)
        self.palette.currentRowChanged.connect(self._class_picked)
        self.properties.classChosen.connect(self._choose_class)
        self.minimap.centerRequested.connect(lambda x, y: (self.viewer.centerOn(x, y), self.viewer.schedule()))
        self.viewer.viewChanged.connect(self._show_view_state)
        self.viewer.selectionChanged.connect(lambda ids: self.properties.show_selection(self.project, ids))
        self.viewer.pairPicked.connect(self._ask_pair_labels)
        self.viewer.problem.connect(lambda text: self.statusBar().showMessage(text, 10000))
        self.editor.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.editor.edited.connect(self._after_edit)
        self._actions()
        state = settings()
        if state.value("geometry"):
            self.restoreGeometry(state.value("geometry"))
            self.restoreState(state.value("state"))
            if int(state.value("layout", 1)) < LAYOUT:  # saved before the bottom docks existed
                self._tabify_bottom()
        if project_dir is not None:
            self.open_project(project_dir)
        if self.project is None:
            self._show_welcome()

    def _tabify_bottom(self) -> None:
        self.tabifyDockWidget(self.training_dock, self.models_dock)
        self.tabifyDockWidget(self.models_dock, self.queue_dock)
        self.training_dock.raise_()

    def _open_from_queue(self, image_id: int) -> None:
        self.images.select(image_id)  # shows it through the list's signal
        if self.viewer.image is None or self.viewer.image.id != image_id:
            self.show_image(image_id)

    def _reload_after_package(self) -> None:
        shown = self.viewer.image.id if self.viewer.image is not None else None
        self._reload_lists()
        if shown is not None:
            self.images.select(shown)
            self.show_image(shown)

    def _start_mining(self, model_id: int) -> None:
        form = self.training.new_job("detection-mining")
        if form is not None:
            form.set_value("from_model", model_id)
            self.training_dock.raise_()
            self.statusBar().showMessage(f"hard-negative mining from model {model_id}: set the rounds, then Start",
                                         8000)

    def _dock(self, title: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    # -- menus, tools and shortcuts -------------------------------------------------
    def _action(self, menu, text: str, keys, slot, checkable: bool = False) -> QAction:
        keys = keys if isinstance(keys, (list, tuple)) else [keys]
        action = QAction(text, self, checkable=checkable)
        action.setShortcuts([k if isinstance(k, QKeySequence) else QKeySequence(k) for k in keys if k])
        action.triggered.connect(slot)
        menu.addAction(action)
        self._all_actions.append(action)
        return action

    def _actions(self) -> None:
        self._all_actions: list[QAction] = []
        file = self.menuBar().addMenu("&File")
        self._action(file, "&New project…", QKeySequence.StandardKey.New, self._ask_new)
        self._action(file, "&Open project…", QKeySequence.StandardKey.Open, self._ask_open)
        self.recent_menu = file.addMenu("Open &recent")
        file.addSeparator()
        self._action(file, "&Import dataset…", "Ctrl+I", self._ask_import)
        self._action(file, "&Export…", "Ctrl+E", self._ask_export)
        file.addSeparator()
        self._action(file, "&Settings…", QKeySequence.StandardKey.Preferences, self._ask_settings)
        self._action(file, "&Quit", QKeySequence.StandardKey.Quit, self.close)
        self._fill_recent()

        edit = self.menuBar().addMenu("&Edit")
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence.StandardKey.Redo, QKeySequence("Ctrl+Y")])
        edit.addActions([undo, redo])
        self._all_actions += [undo, redo]
        self._action(edit, "Delete selected", [QKeySequence.StandardKey.Delete, "Backspace"],
                     self.editor.delete_selected)
        self._action(edit, "Accept predictions (selected, or all on the image)", "Y", self._accept_predictions)
        self._action(edit, "Put selected persons in a social group…", "G", self._ask_group)
        self._action(edit, "Mark image done", "Ctrl+Return", lambda: self._set_status("done"))
        self._action(edit, "Mark image in progress", "Ctrl+Shift+Return", lambda: self._set_status("in_progress"))
        for n in range(9):  # 1-9 pick a class (and give it to the selected shapes)
            self.addAction(QAction(self, shortcut=QKeySequence(str(n + 1)),
                                   triggered=lambda _=False, k=n: self.pick_class(k)))

        tools = self.menuBar().addMenu("&Tools")
        bar = self.addToolBar("Tools")
        bar.setObjectName("Tools")
        group = QActionGroup(self)
        self.tool_actions = {}
        for text, key, name in TOOLS:
            action = self._action(tools, text, key, lambda _=False, t=name: self.set_tool(t), checkable=True)
            action.setIconText(text.split(" ")[0].split(":")[0])
            group.addAction(action)
            bar.addAction(action)
            self.tool_actions[name] = action
        self.tool_actions["pan"].setChecked(True)
        tools.addSeparator()
        self._action(tools, "Smaller brush", "[", lambda: self._brush(1 / 1.25))
        self._action(tools, "Larger brush", "]", lambda: self._brush(1.25))
        self._action(tools, "Cancel drawing", "Esc", lambda: (self.viewer.cancel_drawing(), self.help.hide()))

        view = self.menuBar().addMenu("&View")
        self._action(view, "Fit image", "F", self.viewer.fit)
        self._action(view, "Zoom in", ["+", "="], lambda: self.viewer.zoom(1.25))
        self._action(view, "Zoom out", "-", lambda: self.viewer.zoom(0.8))
        self._action(view, "Next image", ["D", "PgDown"], lambda: self.images.step(1))
        self._action(view, "Previous image", ["A", "PgUp"], lambda: self.images.step(-1))
        self.predictions_action = self._action(view, "Show model predictions", "H",
                                               lambda on: self._show_predictions(on), checkable=True)
        self.predictions_action.setChecked(True)
        self._action(view, "Keyboard shortcuts", ["F1", "?"], self.help.toggle)

        train = self.menuBar().addMenu("T&rain")
        panel = self.training_dock.toggleViewAction()
        panel.setText("Training panel")
        panel.setShortcut(QKeySequence("Ctrl+T"))
        train.addAction(panel)
        self._all_actions.append(panel)
        models = self.models_dock.toggleViewAction()
        models.setText("Models panel")
        models.setShortcut(QKeySequence("Ctrl+M"))
        train.addAction(models)
        self._all_actions.append(models)
        for spec in all_pipelines():
            self._action(train, f"New {spec.name} job…", None,
                         lambda _=False, name=spec.name: (self.training_dock.show(), self.training.new_job(name)))

        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&About and environment…", None, self.show_about)
        self._project_menus = [m for m in self.menuBar().findChildren(type(file)) if m.title() in
                               ("&Edit", "&Tools", "&View", "T&rain")]

        display = self.addToolBar("Display")
        display.setObjectName("Display")
        display.addWidget(QLabel(" mask "))
        self.mask_slider = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=100, value=45, maximumWidth=120)
        self.mask_slider.valueChanged.connect(lambda v: self.viewer.set_mask_opacity(v / 100))
        display.addWidget(self.mask_slider)
        display.addWidget(QLabel(" outline "))
        self.outline_slider = QSlider(Qt.Orientation.Horizontal, minimum=1, maximum=8, value=2, maximumWidth=100)
        self.outline_slider.valueChanged.connect(lambda v: self.viewer.set_outline_width(v * 0.75))
        display.addWidget(self.outline_slider)
        self.predictions_box = QCheckBox("predictions", checked=True)
        self.predictions_box.toggled.connect(self._show_predictions)
        display.addWidget(self.predictions_box)
        self.help.set_actions(self._all_actions, extra=(
            ("1 – 9", "Pick a class (the selected shapes get it too)"),
            ("Shift+click", "Add to the selection"), ("Wheel", "Zoom at the pointer"),
            ("Drag", "Pan (select tool, off any selected shape)")))

    def set_tool(self, tool: str) -> None:
        self.viewer.set_tool(tool)
        self.tool_actions[tool].setChecked(True)
        if tool in ("brush", "eraser"):
            self.statusBar().showMessage(f"{tool}: radius {self.viewer.brush_radius:.0f} px ([ and ] change it)",
                                         4000)

    def _brush(self, factor: float) -> None:
        self.viewer.set_brush_radius(self.viewer.brush_radius * factor)
        self.statusBar().showMessage(f"brush radius {self.viewer.brush_radius:.1f} px", 3000)

    def _show_predictions(self, on: bool) -> None:
        for widget in (self.predictions_action, self.predictions_box):
            widget.blockSignals(True)
            widget.setChecked(on)
            widget.blockSignals(False)
        self.viewer.set_show_predictions(on)

    # -- projects ------------------------------------------------------------------
    def _ask_new(self) -> None:
        folder, _ = QFileDialog.getSaveFileName(self, "New project folder")
        if folder:
            try:
                Project.init(Path(folder)).close()
            except (TesseraError, OSError) as exc:
                QMessageBox.warning(self, "Cannot create project", str(exc))
                return
            self.open_project(Path(folder))

    def _ask_open(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a Tessera project")
        if folder:
            self.open_project(Path(folder))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in settings().value("recent", [], type=list) or []:
            self.recent_menu.addAction(path, lambda p=path: self.open_project(Path(p)))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    def _remember(self, folder: Path) -> None:
        state = settings()
        recent = [str(folder)] + [p for p in (state.value("recent", [], type=list) or []) if p != str(folder)]
        state.setValue("recent", recent[:RECENT])
        self._fill_recent()

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
        self.editor.attach(project)
        self.training.set_project(project)
        self.models.set_project(project)
        self.queue.set_project(project)
        self._remember(Path(folder).resolve())
        self.setWindowTitle(f"Tessera Studio — {project.name}")
        self.pages.setCurrentWidget(self.viewer)
        for menu in self._project_menus:
            menu.menuAction().setEnabled(True)
        for widget in self._hidden_on_welcome:
            widget.show()
        self._hidden_on_welcome = []
        self._reload_lists()
        first = project.images.list()
        if first:
            self.images.select(first[0].id)

    def _show_welcome(self) -> None:
        self.welcome.refresh(settings().value("recent", [], type=list) or [])
        self.pages.setCurrentWidget(self.welcome)
        for menu in self._project_menus:
            menu.menuAction().setEnabled(False)
        # the page alone: the docks and tool bars come back with a project, as they were
        self._hidden_on_welcome = [w for w in self.findChildren(QDockWidget) + self.findChildren(QToolBar)
                                   if not w.isHidden()]
        for widget in self._hidden_on_welcome:
            widget.hide()

    def _ask_settings(self) -> None:
        dialog = SettingsDialog(self.prefs, parent=self)
        if dialog.exec():
            self.apply_preferences(dialog.result_preferences())

    def apply_preferences(self, prefs: Preferences) -> None:
        """Store them and use them now: the theme, the tile cache, new jobs' defaults."""
        prefs.save()
        self.prefs = prefs
        apply_theme(prefs.theme)
        self.viewer.loader.max_tiles = prefs.max_tiles
        self.training.defaults = prefs.job_defaults()
        self.statusBar().showMessage(f"settings saved: device {prefs.device}, {prefs.workers} workers, "
                                     f"tile cache {prefs.cache_mb} MB, {prefs.theme} theme", 6000)

    def show_about(self):
        from .about import AboutDialog

        dialog = AboutDialog(str(self.project.root) if self.project is not None else None, self)
        dialog.show()
        return dialog

    def _reload_lists(self) -> None:
        self.images.load(self.project)
        self.images.set_scores(self.project.queue.scores())
        self.palette.load(self.project)
        if self.palette.count():
            self.palette.setCurrentRow(0)

    def show_image(self, image_id: int) -> None:
        image = self.project.images.get(image_id)
        self.viewer.set_image(self.project, image)
        self.properties.show_selection(self.project, set())
        self.minimap.set_image(self.project, image)
        self.statusBar().showMessage(f"{image.name}  {image.width}x{image.height}", 5000)

    def _ask_import(self) -> None:
        if self.project is None:
            return
        dialog = dataset_io.ImportDialog(self)
        if dialog.exec():
            self.import_data(**dialog.values())

    def import_data(self, fmt: str, path: str, images: str | None = None, split: str | None = None,
                    show_report: bool = True):
        return dataset_io.start_task(self, self.project.root, "import", fmt, path, images, split,
                                     on_done=self._import_done, show_report=show_report)

    def _import_done(self, report, error: str) -> None:
        if report is not None:
            self._reload_lists()
        self.datasetTaskDone.emit(report, error)

    def _ask_export(self) -> None:
        if self.project is None:
            return
        dialog = dataset_io.ExportDialog(self)
        if dialog.exec():
            values = dialog.values()
            dataset_io.start_task(self, self.project.root, "export", values["fmt"], values["path"],
                                  on_done=self.datasetTaskDone.emit)

    # -- edits ------------------------------------------------------------------------
    def pick_class(self, index: int) -> None:
        if index < self.palette.count():
            if self.palette.currentRow() == index:
                self._class_picked(index)  # the same class again: still given to the selection
            else:
                self.palette.setCurrentRow(index)

    def _class_picked(self, row: int) -> None:
        item = self.palette.item(row)
        class_id = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if class_id is not None and self.project is not None:
            self.viewer.paint_color = self.project.classes.get(class_id).color
        self.editor.set_class(class_id)

    def _choose_class(self, class_id: int) -> None:
        for row in range(self.palette.count()):
            if self.palette.item(row).data(Qt.ItemDataRole.UserRole) == class_id:
                self.palette.setCurrentRow(row)

    def current_class(self) -> int | None:
        return self.editor.class_id

    def delete_selected(self) -> None:
        self.editor.delete_selected()

    def _accept_predictions(self) -> None:
        n = self.editor.accept_predictions()
        self.statusBar().showMessage(f"{n} prediction{'s' if n != 1 else ''} accepted" if n else
                                     "no predictions on this image", 4000)

    def _ask_pair_labels(self, a_id: int, b_id: int) -> None:
        known = sorted({lab for p in self.project.relations.pairs() for lab in p.labels}) or ["talking"]
        text, ok = QInputDialog.getItem(self, "Interaction", "interaction label(s), comma-separated:", known, 0, True)
        labels = [t.strip() for t in text.split(",") if t.strip()] if ok else []
        if labels:
            self.editor.link_pair(a_id, b_id, labels)

    def _ask_group(self) -> None:
        boxes = sorted(self.viewer.selected)
        if self.viewer.image is None or not boxes:
            self.statusBar().showMessage("select persons first (shift-click adds)", 4000)
            return
        groups = self.project.relations.groups(self.viewer.image.id)
        choices = ["a new group"] + [f"group {g.id} ({len(g.members)} persons)" for g in groups]
        choice, ok = QInputDialog.getItem(self, "Social group", f"put {len(boxes)} persons into:", choices, 0, False)
        if ok:
            index = choices.index(choice)
            self.editor.group(boxes, None if index == 0 else groups[index - 1].id)

    def _set_status(self, status: str) -> None:
        if self.viewer.image is not None:
            self.project.images.set_status(self.viewer.image.id, status)
            self.images.refresh_item(self.project, self.viewer.image.id)

    def _after_edit(self) -> None:
        image = self.viewer.image
        if image is None:
            return
        if self.project.images.get(image.id).status == "unlabeled":
            self.project.images.set_status(image.id, "in_progress")
        self.images.refresh_item(self.project, image.id)
        self.properties.show_selection(self.project, self.viewer.selected)

    def _predictions_arrived(self, image_id: int, count: int) -> None:
        if self.viewer.image is not None and self.viewer.image.id == image_id:
            self._show_predictions(True)
            self.viewer.reload_shapes()
        self.statusBar().showMessage(f"{count} predictions on the image: dashed; Y accepts, H hides", 8000)

    def _hide_classes(self, hidden: set) -> None:
        self.viewer.set_hidden_classes(hidden)

    def _show_view_state(self, state: dict) -> None:
        self.minimap.set_view(self.viewer.visible_rect())
        self.status.setText(view_state_text(state))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.help.isVisible():
            self.help.setGeometry(self.rect())

    def closeEvent(self, event) -> None:
        # a screenshot's docks (hidden or enlarged for the shot) and the welcome page's are not the user's layout
        if self.keep_layout and self.project is not None:
            state = settings()
            state.setValue("geometry", self.saveGeometry())
            state.setValue("state", self.saveState())
            state.setValue("layout", LAYOUT)
        self.welcome.shutdown()
        self.training.shutdown()  # running jobs finish their batch, save and stop: resumable
        self.models.shutdown()
        self.queue.shutdown()
        self.viewer.detach()
        self.images.wait()
        self.minimap.wait()
        if self.project is not None:
            self.project.close()
            self.project = None
        super().closeEvent(event)
