"""Environment fixes that must happen before Qt starts."""
from __future__ import annotations

import os


def prepare_qt_environment() -> None:
    """cv2 (pulled in by ultralytics) points Qt at its own Qt5 plugins and
    fonts; drop those so PySide6 uses its own."""
    for key in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(key, "")
        if "cv2" in value or key == "QT_QPA_FONTDIR" and value and not os.path.isdir(value):
            os.environ.pop(key, None)
