"""The minimap dock: the whole image small, the viewer's view as a frame on
it; clicking or dragging on it moves the view there."""
from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from .image_list import ThumbJob, Thumbs


class Minimap(QWidget):
    centerRequested = Signal(float, float)  # image pixels

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self._pixmap: QPixmap | None = None
        self._image_size = (1, 1)
        self._view = QRectF()
        self._image_id = None
        self._thumbs = Thumbs()
        self._thumbs.ready.connect(self._thumb_ready)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)

    def sizeHint(self) -> QSize:
        return QSize(240, 180)

    def set_image(self, project, image) -> None:
        """Show ``image``; its thumbnail is made off the UI thread (a large
        image's first thumbnail reads a whole pyramid level)."""
        self._image_size = (max(1, image.width), max(1, image.height))
        self._image_id, self._pixmap = image.id, None
        self._pool.clear()
        self._pool.start(ThumbJob(self._thumbs, image.id, image.file(project.root), image.checksum,
                                  project.cache_dir, 256))
        self.update()

    def _thumb_ready(self, image_id: int, thumbnail: QImage) -> None:
        if image_id == self._image_id:
            self._pixmap = QPixmap.fromImage(thumbnail)
            self.update()

    def wait(self) -> None:
        self._pool.waitForDone()

    def set_view(self, rect: QRectF) -> None:
        self._view = QRectF(rect)
        self.update()

    def _frame(self) -> tuple[float, QPointF]:
        """Scale (widget px per image px) and top-left of the drawn image."""
        w, h = self._image_size
        s = min(self.width() / w, self.height() / h)
        return s, QPointF((self.width() - w * s) / 2, (self.height() - h * s) / 2)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#20252b"))
        s, origin = self._frame()
        w, h = self._image_size
        target = QRectF(origin.x(), origin.y(), w * s, h * s)
        if self._pixmap is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
        if not self._view.isEmpty():
            view = QRectF(origin.x() + self._view.x() * s, origin.y() + self._view.y() * s,
                          self._view.width() * s, self._view.height() * s).intersected(target.adjusted(-1, -1, 1, 1))
            painter.setPen(QPen(QColor("#ffd400"), 2))
            painter.drawRect(view)
        painter.end()

    def _request(self, pos) -> None:
        s, origin = self._frame()
        self.centerRequested.emit((pos.x() - origin.x()) / s, (pos.y() - origin.y()) / s)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._request(event.position())

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._request(event.position())
