"""Files the studio ships with, so nothing is fetched at run time: the
application icon (``tessera.svg``) and its rendered sizes (``icons/``, made by
``packaging/make_icons.py``)."""
from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ICON_SVG = HERE / "tessera.svg"
ICON_PNGS = sorted((HERE / "icons").glob("tessera-*.png"), key=lambda p: int(p.stem.split("-")[1]))


def app_icon():
    """The window icon, every rendered size in one QIcon."""
    from PySide6.QtGui import QIcon

    icon = QIcon()
    for png in ICON_PNGS:
        icon.addFile(str(png))
    return icon
