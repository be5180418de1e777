"""First run: the welcome page without a project (new, open, recent, the
demo built by a subprocess with progress), the Settings dialog and what its
choices change, and Help → About with the doctor's report."""
import json

import pytest

pytest.importorskip("PySide6")


@pytest.fixture
def bare_window(qtbot):
    from studio.main_window import MainWindow

    w = MainWindow(None)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()


def test_without_a_project_the_welcome_page_builds_and_opens_the_demo(bare_window, qtbot, demo_small):
    from PySide6.QtWidgets import QDockWidget

    w = bare_window
    assert w.project is None and w.pages.currentWidget() is w.welcome
    assert not any(d.isVisible() for d in w.findChildren(QDockWidget))
    assert all(not m.menuAction().isEnabled() for m in w._project_menus)
    assert w.welcome.demo_button.text() == "Build and open the demo"
    # a recent project that vanished is listed, but cannot be opened
    w.welcome.refresh([str(demo_small), "/nowhere/gone"])
    assert w.welcome.recent.count() == 2 and "(missing)" in w.welcome.recent.item(1).text()
    w.welcome.open_demo()
    assert not w.welcome.progress.isHidden() and not w.welcome.demo_button.isEnabled()
    qtbot.waitUntil(lambda: w.project is not None, timeout=240_000)
    assert w.pages.currentWidget() is w.viewer and w.project.images.list()
    assert w.project.root == (w.welcome.demo_dir).resolve() or w.project.root == w.welcome.demo_dir
    assert all(m.menuAction().isEnabled() for m in w._project_menus)
    assert w.images.isVisible()


def test_settings_are_stored_and_used(window, qtbot):
    from studio.preferences import Preferences

    prefs = Preferences(device="cpu", workers=0, cache_mb=64, theme="dark")
    window.apply_preferences(prefs)
    assert Preferences.load() == prefs
    assert window.viewer.loader.max_tiles == 64 * 2**20 // (256 * 256 * 4)
    form = window.training.new_job("segmentation")
    assert form.fields["device"].read() == "cpu" and form.fields["workers"].read() == "0"
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() < 100
    window.apply_preferences(Preferences())
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).lightness() > 150


def test_about_shows_the_doctor_report(window, qtbot):
    about = window.show_about()
    qtbot.waitUntil(lambda: about.report is not None, timeout=120_000)
    assert {"torch", "ultralytics", "smp", "onnxruntime", "Qt (PySide6)"} <= set(about.report["libraries"])
    assert "CUDA" in about.body.toPlainText() and "TensorRT" in about.body.toPlainText()
    assert about.report["disk"]["folder"] == str(window.project.root.resolve())
    json.dumps(about.report)
    about.close()
