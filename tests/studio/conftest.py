import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def window(qtbot, demo_copy):
    from studio.main_window import MainWindow

    root = demo_copy.root
    demo_copy.close()
    w = MainWindow(root)
    w.resize(1200, 800)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.close()
