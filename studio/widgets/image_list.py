"""The image list dock: thumbnail, name, split, shape count and status
(unlabeled / in progress / done); filter by text and by status.  Thumbnails
are made on a thread pool from the tile pyramid's cache."""
from __future__ import annotations

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from core.imagery import TilePyramid

from ..viewer.tiles import to_qimage

THUMB = 64
STATUS_MARK = {"unlabeled": "○", "in_progress": "◐", "done": "●"}


class Thumbs(QObject):
    ready = Signal(int, QImage)


class ThumbJob(QRunnable):
    """A thumbnail from the pyramid's cache (made there the first time), off the UI thread."""

    def __init__(self, signals: Thumbs, image_id: int, path, checksum: str, cache_root, size: int = THUMB):
        super().__init__()
        self.signals, self.args = signals, (image_id, path, checksum, cache_root, size)

    def run(self) -> None:
        image_id, path, checksum, cache_root, size = self.args
        pyramid = TilePyramid(path, checksum, cache_root)
        try:
            self.signals.ready.emit(image_id, to_qimage(pyramid.thumbnail(size)))
        except Exception:  # an unreadable file keeps its blank icon; opening it says why
            pass
        finally:
            pyramid.close()


def _line(image, count: int, score: float | None = None) -> str:
    status = image.status or "unlabeled"
    scored = f"score {score:.3f} · " if score is not None else ""
    return (f"{image.name}\n{scored}{STATUS_MARK.get(status, '')} {status.replace('_', ' ')} · "
            f"{image.split or 'no split'} · {count} shapes")


class ImageList(QWidget):
    imageSelected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.search = QLineEdit(placeholderText="filter by name or split…")
        self.status_filter = QComboBox()
        self.status_filter.addItems(["all", "unlabeled", "in progress", "done"])
        self.order = QComboBox()
        self.order.addItems(["by name", "by score"])
        self.order.setToolTip("by score: the active-learning queue's scores, highest (least sure) first")
        self.order.currentTextChanged.connect(self._sort)
        self.scores: dict[int, float] = {}
        self.list = QListWidget()
        self.list.setIconSize(QSize(THUMB, THUMB))
        self.list.setUniformItemSizes(True)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.status_filter)
        top.addWidget(self.order)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.list)
        self.search.textChanged.connect(self._filter)
        self.status_filter.currentTextChanged.connect(self._filter)
        self.list.currentItemChanged.connect(
            lambda item, _: item is not None and self.imageSelected.emit(item.data(Qt.ItemDataRole.UserRole)))
        self._thumbs = Thumbs()
        self._thumbs.ready.connect(self._set_thumb)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._items: dict[int, QListWidgetItem] = {}

    def load(self, project) -> None:
        self._pool.clear()
        counts = project.annotations.counts_by_image()
        self.list.blockSignals(True)
        self.list.clear()
        self._items.clear()
        blank = QPixmap(THUMB, THUMB)
        blank.fill(Qt.GlobalColor.darkGray)
        for image in project.images.list():
            item = QListWidgetItem(QIcon(blank), _line(image, counts.get(image.id, 0), self.scores.get(image.id)))
            item.setData(Qt.ItemDataRole.UserRole, image.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, image.status or "unlabeled")
            item.setToolTip(f"{image.width}x{image.height}  {image.path}")
            self.list.addItem(item)
            self._items[image.id] = item
            self._pool.start(ThumbJob(self._thumbs, image.id, image.file(project.root), image.checksum,
                                       project.cache_dir))
        self.list.blockSignals(False)
        self._filter()

    def refresh_item(self, project, image_id: int) -> None:
        """Counts or status of one image changed."""
        item = self._items.get(image_id)
        if item is not None:
            image = project.images.get(image_id)
            item.setText(_line(image, project.annotations.count(image_id), self.scores.get(image_id)))
            item.setData(Qt.ItemDataRole.UserRole + 1, image.status or "unlabeled")

    def set_scores(self, scores: dict[int, float]) -> None:
        """The queue's score per image: shown on each line, and an order."""
        self.scores = dict(scores)
        for image_id, item in self._items.items():
            name_line, _, rest = item.text().partition("\n")
            rest = rest.split(" · ", 1)[1] if rest.startswith("score ") else rest
            score = self.scores.get(image_id)
            item.setText(f"{name_line}\n" + (f"score {score:.3f} · " if score is not None else "") + rest)
        self._sort()

    def _sort(self, *_) -> None:
        current = self.list.currentItem()
        self.list.blockSignals(True)
        taken = [self.list.takeItem(0) for _ in range(self.list.count())]
        if self.order.currentText() == "by score":
            taken.sort(key=lambda it: -self.scores.get(it.data(Qt.ItemDataRole.UserRole), -1.0))
        else:
            taken.sort(key=lambda it: it.data(Qt.ItemDataRole.UserRole))
        for item in taken:
            self.list.addItem(item)
        if current is not None:
            self.list.setCurrentItem(current)
        self.list.blockSignals(False)

    def _set_thumb(self, image_id: int, image: QImage) -> None:
        item = self._items.get(image_id)
        if item is not None:
            item.setIcon(QIcon(QPixmap.fromImage(image)))

    def wait(self) -> None:
        """Drop the thumbnails not yet started and wait for those being made (closing)."""
        self._pool.clear()
        self._pool.waitForDone()

    def select(self, image_id: int) -> None:
        item = self._items.get(image_id)
        if item is not None:
            self.list.setCurrentItem(item)

    def step(self, delta: int) -> None:
        rows = [r for r in range(self.list.count()) if not self.list.item(r).isHidden()]
        if not rows:
            return
        current = self.list.currentRow()
        later = [r for r in rows if (r > current if delta > 0 else r < current)]
        if later:
            self.list.setCurrentRow(later[0] if delta > 0 else later[-1])

    def _filter(self, *_) -> None:
        needle = self.search.text().lower().strip()
        status = self.status_filter.currentText().replace(" ", "_")
        for row in range(self.list.count()):
            item = self.list.item(row)
            hidden = (bool(needle) and needle not in item.text().lower()) or (
                status != "all" and item.data(Qt.ItemDataRole.UserRole + 1) != status)
            item.setHidden(hidden)
