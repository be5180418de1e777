"""Renders the application icon (``studio/resources/tessera.svg``) into the
icon set the packages need: PNGs of the hicolor sizes (Linux, and the
window icon), ``tessera.ico`` (Windows) and ``tessera.icns`` (macOS).

    .venv/bin/python packaging/make_icons.py

The outputs are committed; run this again only after changing the SVG."""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "studio" / "resources" / "tessera.svg"
ICONS = ROOT / "studio" / "resources" / "icons"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def render(size: int):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    return image


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (fonts and painting need it)
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in SIZES:
        path = ICONS / f"tessera-{size}.png"
        if not render(size).save(str(path)):
            raise SystemExit(f"{path}: could not be written")
    big = Image.open(ICONS / "tessera-512.png")
    big.save(ROOT / "packaging" / "windows" / "tessera.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    big.save(ROOT / "packaging" / "macos" / "tessera.icns")
    print(f"{len(SIZES)} PNGs in {ICONS}, tessera.ico and tessera.icns in packaging/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
