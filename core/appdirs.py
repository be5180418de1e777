"""Where the application keeps its own files, and the environment that keeps
third-party libraries offline and out of the user's home folder.

Call :func:`configure_environment` before importing ultralytics, matplotlib or
Qt-adjacent libraries (cv2 rewrites Qt's plugin path when imported)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "tessera"


def data_dir() -> Path:
    """The platform's per-user data folder for the app (XDG on Linux)."""
    override = os.environ.get("TESSERA_HOME")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / APP


def config_dir() -> Path:
    if os.environ.get("TESSERA_HOME"):
        return data_dir() / "config"
    if sys.platform.startswith("linux"):
        return Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / APP
    return data_dir() / "config"


def configure_environment() -> None:
    """Keep ultralytics, matplotlib and friends offline and inside the app's folders.
    Idempotent; values the user set explicitly are kept."""
    root = data_dir()
    defaults = {
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "0",
        "YOLO_CONFIG_DIR": str(root / "ultralytics"),
        "MPLCONFIGDIR": str(root / "matplotlib"),
        "HF_HUB_OFFLINE": "1",
        "TORCH_HOME": str(root / "torch"),
    }
    if not os.environ.get("XDG_CACHE_HOME"):
        defaults["XDG_CACHE_HOME"] = str(root / "cache")
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    for key in ("YOLO_CONFIG_DIR", "MPLCONFIGDIR", "XDG_CACHE_HOME", "TORCH_HOME"):
        Path(os.environ[key]).mkdir(parents=True, exist_ok=True)
