"""``tessera gui [DIR]``: the studio window, on DIR, or on the welcome page
(new, open, recent, or the demo, built on first use)."""
from __future__ import annotations

import os
import sys
from pathlib import Path


def main(project_dir: str | None = None, screenshot: str | None = None, image: str | None = None,
         zoom: float | None = None, center: tuple[float, float] | None = None, select: int | None = None,
         shortcuts: bool = False, training: dict | None = None) -> int:
    from core.appdirs import configure_environment

    from .qt_env import prepare_qt_environment

    configure_environment()
    prepare_qt_environment()
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))):
        from core.errors import TesseraError

        raise TesseraError("no display to open the studio on (DISPLAY and WAYLAND_DISPLAY are unset); "
                           "run it on a desktop, or under xvfb-run")
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication

    from .main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Tessera Studio")
    app.setDesktopFileName("tessera")  # matches packaging/linux/tessera.desktop (Wayland's window icon)
    from .resources import app_icon

    app.setWindowIcon(app_icon())
    from .preferences import Preferences, apply_theme

    apply_theme(Preferences.load().theme)
    if project_dir and Path(project_dir).name == "project.db":  # opened from a file manager (the desktop entry's %f)
        project_dir = str(Path(project_dir).parent)
    window = MainWindow(Path(project_dir) if project_dir else None)
    window.keep_layout = not screenshot
    window.show()
    if image and window.project is not None:
        found = window.project.images.by_name(image)
        if found is not None:
            window.images.select(found.id)
    if zoom:
        window.viewer.set_view(zoom, center)
    if select:
        window.viewer.settle()
        window.viewer.set_selection({select})
    if shortcuts:
        window.help.toggle()
    training = training or {}
    if screenshot and not training.get("show"):
        window.training_dock.hide()  # the image views get the whole height
        window.models_dock.hide()
        window.queue_dock.hide()
    def large(dock, share: float) -> None:  # a bottom dock shown over ``share`` of the window's height
        dock.show()
        dock.raise_()
        window.resize(1600, 1000)
        QTimer.singleShot(0, lambda: window.resizeDocks([dock], [int(window.height() * share)],
                                                        Qt.Orientation.Vertical))

    if training.get("queue"):
        large(window.queue_dock, 0.45)
        window.queue.next()
    if training.get("show"):
        large(window.training_dock, 0.6)
    shown_report: list = []
    if training.get("compare_newest"):
        large(window.models_dock, 0.62)
        newest = [m.id for m in window.project.jobs.models()][-training["compare_newest"]:]
        window.models.reportShown.connect(shown_report.append)
        window.models.select(newest)
        window.models.compare_selected()
    export = None
    if training.get("export_model"):
        large(window.models_dock, 0.45)
        window.models.refresh()
        window.models.select([training["export_model"]])
        export = window.models.export_model(training["export_model"])
        export.format.setCurrentIndex(2)  # everything: TensorRT shows why it is left out here
        export.tta["flip"].setChecked(export.tta["flip"].isEnabled())
        export.calibrate.setChecked(True)
        export.start()
    if training.get("pipeline"):
        form = window.training.new_job(training["pipeline"])
        for key, value in training.get("values", {}).items():
            form.set_value(key, value)
        window.training.start()
    about = window.show_about() if training.get("about") else None
    if screenshot:
        def grab(rounds: list = [0]) -> None:  # noqa: B006 - a counter across retries
            window.viewer.loader.wait()
            app.processEvents()
            window.viewer.settle()
            app.processEvents()
            rounds[0] += 1
            epochs = training.get("shot_epochs", 0)
            waiting = (epochs and window.training.curves.points("train_loss") < epochs) or \
                (training.get("compare_newest") and not shown_report and window.models.task is not None) or \
                (export is not None and export.task is not None) or (about is not None and about.task is not None)
            if rounds[0] < 4 or (waiting and rounds[0] < 2000):  # tiles of every level; the epochs or report
                QTimer.singleShot(300, grab)
                return
            if window.training.preview is not None:  # the pair sampling report, under the form
                window.training.form_area.verticalScrollBar().setValue(window.training.preview.y())
                app.processEvents()
            shown = export if export is not None else about if about is not None else window
            shown.grab().save(screenshot)
            window.close()

        QTimer.singleShot(800, grab)
    return app.exec()
