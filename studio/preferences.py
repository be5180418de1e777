"""The studio's stored state (``studio.ini`` in the app's config folder) and
the user's preferences in it: default device and data-loading workers of new
jobs, the tile cache's size, and the theme; plus the Settings dialog."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox,
                               QVBoxLayout)

from core.appdirs import config_dir
from core.imagery.pyramid import TILE

THEMES = ("light", "dark")
DEVICES = ("auto", "cpu", "cuda", "cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:all")
TILE_BYTES = TILE * TILE * 4  # a cached tile: 32-bit


def settings() -> QSettings:
    return QSettings(str(config_dir() / "studio.ini"), QSettings.Format.IniFormat)


@dataclass
class Preferences:
    device: str = "auto"
    workers: int = 2
    cache_mb: int = 256
    theme: str = "light"

    @classmethod
    def load(cls) -> "Preferences":
        s, d = settings(), cls()
        device = str(s.value("prefs/device", d.device))
        theme = str(s.value("prefs/theme", d.theme))
        return cls(device=device if device in DEVICES else d.device,
                   workers=max(0, min(64, int(s.value("prefs/workers", d.workers)))),
                   cache_mb=max(32, min(65536, int(s.value("prefs/cache_mb", d.cache_mb)))),
                   theme=theme if theme in THEMES else d.theme)

    def save(self) -> None:
        s = settings()
        for key, value in vars(self).items():
            s.setValue(f"prefs/{key}", value)

    @property
    def max_tiles(self) -> int:
        return max(16, self.cache_mb * 2**20 // TILE_BYTES)

    def job_defaults(self) -> dict[str, str]:
        """What new job forms start with (where the pipeline has the parameter)."""
        return {"device": self.device, "workers": str(self.workers)}


def apply_theme(theme: str) -> None:
    """Fusion with a light or dark palette (the same on every platform)."""
    app = QApplication.instance()
    if app is None:
        return
    if app.style().name().lower() != "fusion":
        # once, at start: replacing the style of live windows re-polishes every widget
        app.setStyle("Fusion")
    palette = app.style().standardPalette() if theme != "dark" else _dark_palette()
    if app.palette() != palette:
        app.setPalette(palette)


def _dark_palette() -> QPalette:
    p = QPalette()
    base, window, text, mid = QColor(35, 37, 41), QColor(48, 51, 56), QColor(225, 228, 232), QColor(90, 94, 100)
    for role, color in ((QPalette.ColorRole.Window, window), (QPalette.ColorRole.WindowText, text),
                        (QPalette.ColorRole.Base, base), (QPalette.ColorRole.AlternateBase, window),
                        (QPalette.ColorRole.ToolTipBase, window), (QPalette.ColorRole.ToolTipText, text),
                        (QPalette.ColorRole.Text, text), (QPalette.ColorRole.Button, window),
                        (QPalette.ColorRole.ButtonText, text), (QPalette.ColorRole.Mid, mid),
                        (QPalette.ColorRole.Highlight, QColor(64, 128, 214)),
                        (QPalette.ColorRole.HighlightedText, QColor(255, 255, 255)),
                        (QPalette.ColorRole.Link, QColor(110, 170, 255)),
                        (QPalette.ColorRole.PlaceholderText, QColor(140, 144, 150))):
        p.setColor(role, color)
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(120, 124, 130))
    return p


class SettingsDialog(QDialog):
    """Edits :class:`Preferences`; ``result_preferences()`` after OK."""

    def __init__(self, prefs: Preferences, cuda_devices: int | None = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(prefs.device)
        self.device.setToolTip("where new jobs train: auto (CUDA when present, else CPU), cpu, cuda, cuda:N, or "
                                   "cuda:all (every GPU, one training process each: DDP; detection uses one)")
        self.workers = QSpinBox(minimum=0, maximum=64, value=prefs.workers)
        self.workers.setToolTip("data-loading processes of new jobs (0: load in the training process)")
        self.cache = QSpinBox(minimum=32, maximum=65536, value=prefs.cache_mb, singleStep=64, suffix=" MB")
        self.cache.setToolTip("memory for decoded image tiles in the viewer")
        self.theme = QComboBox()
        self.theme.addItems(THEMES)
        self.theme.setCurrentText(prefs.theme)
        form = QFormLayout()
        form.addRow("Default device", self.device)
        form.addRow("Data-loading workers", self.workers)
        form.addRow("Tile cache", self.cache)
        form.addRow("Theme", self.theme)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        if cuda_devices is not None:
            note = QLabel(f"{cuda_devices} CUDA device(s) found" if cuda_devices else
                          "No CUDA device found: auto trains on the CPU")
            note.setStyleSheet("color: gray")
            layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def result_preferences(self) -> Preferences:
        return Preferences(self.device.currentText(), self.workers.value(), self.cache.value(),
                           self.theme.currentText())
