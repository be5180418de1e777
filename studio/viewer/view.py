"""The viewer widget: a QGraphicsView over one image.

It asks for the pyramid tiles its view needs (at the level its zoom needs)
and for the shape tiles of its view (each drawn from an R*Tree query, with
level of detail, off the UI thread); nothing else of the image is loaded.
Only the selected shapes, and a shape being dragged, are graphics items;
what is under the pointer is asked of the store."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import shapely
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from core.imagery import TilePyramid
from core.imagery.pyramid import TILE, level_count
from core.imagery.shape_raster import POINT_RADIUS, SIDE, Style, tile_rect
from core.imagery.viewport import covered, level_for_scale, lod_min_size, shape_level, visible_tiles

from .handles import handle_items, move_vertex, translate, vertices
from .relations import relation_items
from .shape_tiles import ShapeTile, ShapeTiles
from .shapes import make_item
from .tile_items import pixmap_item, set_mode
from .tiles import TileLoader, keep_tile_memory
from .workers import start as start_workers

DRAW_TOOLS = ("box", "polygon", "point", "brush", "eraser", "fill", "relation")

HIT_PIXELS = 4  # how near (screen pixels) a click must be to a shape's edge or point to pick it
STILL_MS = 150  # a view unchanged this long is drawn smooth again


class ImageViewer(QGraphicsView):
    viewChanged = Signal(dict)  # {"scale", "level", "shapes", "min_size", "tiles", "shape_tiles"}
    boxDrawn = Signal(float, float, float, float)  # x1, y1, x2, y2 in image pixels
    polygonDrawn = Signal(list)  # [(x, y), ...] in image pixels
    pointDrawn = Signal(float, float)
    strokeDrawn = Signal(list, float, bool)  # points, radius (image px), erase
    fillAt = Signal(float, float)
    geometryEdited = Signal(int, object)  # annotation id, new shapely geometry
    pairPicked = Signal(int, int)  # two box annotation ids (relation tool)
    selectionChanged = Signal(set)
    problem = Signal(str)  # a tile that could not be read or drawn: one line for the status bar

    def __init__(self, parent=None, loader: TileLoader | None = None):
        super().__init__(parent)
        scene = QGraphicsScene(self)
        # Items come and go with every pan; a BSP index would be rebuilt all the
        # time for the few hundred items a view holds.
        scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(scene)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        self.setBackgroundBrush(QColor("#20252b"))
        # No scroll bars: panning drags the image and the minimap shows where the
        # view is; bars would be repainted at every step of a pan or zoom (in the
        # Fusion style a sixth of a frame's work).
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # the view paints every pixel itself (its background brush first): Qt need not clear them before
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.loader = loader or TileLoader(parent=self)
        self.loader.tileReady.connect(self._tile_ready)
        self.loader.failed.connect(lambda key, text: self._problem(text))
        self.project = None
        self.image = None
        self.pyramid: TilePyramid | None = None
        self.colors: dict[int, QColor] = {}
        self.hidden_classes: set[int] = set()
        self.mask_opacity = 0.45
        self.outline_width = 1.5
        self._tiles: dict[tuple, QGraphicsPixmapItem] = {}
        start_workers()  # now, not at the first tile
        keep_tile_memory()
        self.shape_tiles = ShapeTiles(parent=self)
        self.shape_tiles.ready.connect(self._shape_tile_ready)
        self.shape_tiles.failed.connect(self._problem)
        # (level, row, col) -> its pixmap item (None for a tile with no shape) and tile
        self._shape_items: dict[tuple, tuple[QGraphicsPixmapItem | None, ShapeTile]] = {}
        self._shape_level = 0
        self._shape_wanted: set[tuple] = set()
        self._selection_items: list = []
        self._drag_item = None  # the dragged shape where it is being dragged to
        self._mask_item = None
        self._relations = None
        self._level = 0
        self._fit_pending = False
        self.tool = "pan"  # "pan" (select / move / edit vertices) or one of DRAW_TOOLS
        self.brush_radius = 8.0
        self.show_predictions = True
        self._handles = None
        self._drag = None  # ("move" | "vertex", annotation, vertex index) while dragging a shape
        self._stroke: list[QPointF] = []
        self._stroke_item = None
        self._pair_first: int | None = None
        self._vertices: list[QPointF] = []
        self._outline = None
        self.selected: set[int] = set()
        self._rubber = None
        self._press = None
        self._refresh = QTimer(self, singleShot=True, interval=15)
        self._refresh.timeout.connect(self.refresh)
        # While the view moves, tiles are scaled with the nearest pixel (half
        # the cost of a frame's paint when zoomed between levels); once it
        # has been still a moment, they are drawn smooth again.
        self._smooth = True
        self._view_key = None
        self._still = QTimer(self, singleShot=True, interval=STILL_MS)
        self._still.timeout.connect(lambda: self._set_smooth(True))

    # -- what to show --------------------------------------------------------
    def set_image(self, project, image) -> None:
        self.loader.cancel_pending()
        self.scene().clear()
        self._tiles.clear()
        self._shape_items.clear()
        self._shape_wanted = set()
        self._selection_items = []
        self._mask_item = self._handles = self._outline = self._stroke_item = self._drag = self._drag_item = None
        self._vertices, self._stroke, self._pair_first, self.selected = [], [], None, set()
        self._relations = None
        if self.pyramid is not None:
            self.pyramid.close()
        self.project, self.image = project, image
        self.colors = {c.id: QColor(c.color) for c in project.classes.list()}
        self.pyramid = TilePyramid.for_image(project, image)
        self.shape_tiles.show(project.root, image.id, self._style())
        self.scene().setSceneRect(QRectF(0, 0, image.width, image.height))
        self._add_mask()
        self._add_relations()
        self._fit_pending = True
        self.fit()

    def _set_smooth(self, smooth: bool) -> None:
        if smooth != self._smooth:
            self._smooth = smooth
            for item in [*self._tiles.values(), *(placed[0] for placed in self._shape_items.values())]:
                if item is not None:
                    set_mode(item, smooth)
            self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            if smooth:
                self.viewport().update()

    def _problem(self, text: str) -> None:
        if self.image is not None:
            self.problem.emit(f"{self.image.name}: {text}")

    def fit(self) -> None:
        """The whole image in view (again once the widget has its real size)."""
        if self.image is not None:
            self.resetTransform()
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
            self.schedule()

    def schedule(self) -> None:
        self._refresh.start()

    def set_view(self, scale: float, center: tuple[float, float] | None = None) -> None:
        """Show the image at ``scale`` screen pixels per image pixel around ``center``."""
        self._fit_pending = False
        mode = self.viewportUpdateMode()
        if not math.isclose(scale, self.scale_factor, rel_tol=1e-9):
            # every pixel of the view changes: moving the old ones first (a scroll) would be wasted
            self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.resetTransform()
        self.scale(scale, scale)
        if center is not None:
            self.centerOn(*center)
        self.setViewportUpdateMode(mode)
        self.schedule()

    def detach(self) -> None:
        """Forget the project (it is closing): no refresh may touch it again."""
        self._refresh.stop()
        self.loader.cancel_pending()
        self.loader.wait()
        self.shape_tiles.close()
        self.project, self.image = None, None
        if self.pyramid is not None:
            self.pyramid.close()
            self.pyramid = None

    @property
    def scale_factor(self) -> float:
        return self.transform().m11()

    def visible_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    # -- events ----------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        factor = 1.25 if event.angleDelta().y() > 0 else 0.8
        self.zoom(factor)

    def zoom(self, factor: float) -> None:
        self._fit_pending = False
        new = self.scale_factor * factor
        if 1e-4 < new < 64:
            self.scale(factor, factor)
            self.schedule()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)
        self.schedule()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit_pending and self.isVisible():
            self.fit()
        self.schedule()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._fit_pending:
            self.fit()

    def set_tool(self, tool: str) -> None:
        self.tool = tool
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag if tool == "pan" else QGraphicsView.DragMode.NoDrag)
        self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if tool == "pan" else Qt.CursorShape.CrossCursor)
        self.cancel_drawing()

    def cancel_drawing(self) -> None:
        self._vertices, self._stroke, self._pair_first = [], [], None
        for name in ("_outline", "_stroke_item"):
            if getattr(self, name) is not None:
                self.scene().removeItem(getattr(self, name))
                setattr(self, name, None)

    def finish_polygon(self) -> None:
        """Close the polygon being drawn (double-click or Enter); 3 points at least."""
        points = [(p.x(), p.y()) for p in self._vertices]
        self.cancel_drawing()
        if len(points) >= 3:
            self.polygonDrawn.emit(points)

    def _draw_outline(self, hover: QPointF | None = None) -> None:
        from PySide6.QtGui import QPainterPath
        from PySide6.QtWidgets import QGraphicsPathItem

        path = QPainterPath()
        points = self._vertices + ([hover] if hover is not None else [])
        if points:
            path.moveTo(points[0])
            for p in points[1:]:
                path.lineTo(p)
        if self._outline is None:
            self._outline = QGraphicsPathItem()
            pen = QPen(QColor("#ffd400"), 1.5)
            pen.setCosmetic(True)
            self._outline.setPen(pen)
            self._outline.setZValue(100)
            self.scene().addItem(self._outline)
        self._outline.setPath(path)

    def mouseDoubleClickEvent(self, event) -> None:
        if self.tool == "polygon":
            self.finish_polygon()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:
        if self.tool == "polygon" and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish_polygon()
        elif event.key() == Qt.Key.Key_Escape:
            self.cancel_drawing()
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event) -> None:
        self._fit_pending = False  # the user has taken over the view
        self._press = self.mapToScene(event.position().toPoint())
        if self.tool == "box" and event.button() == Qt.MouseButton.LeftButton and self.image is not None:
            from PySide6.QtWidgets import QGraphicsRectItem

            self._rubber = QGraphicsRectItem(QRectF(self._press, self._press))
            pen = QPen(QColor("#ffd400"), 1.5)
            pen.setCosmetic(True)
            self._rubber.setPen(pen)
            self._rubber.setZValue(100)
            self.scene().addItem(self._rubber)
            return
        left = event.button() == Qt.MouseButton.LeftButton and self.image is not None
        if self.tool in ("polygon", "point") and left:
            p = self._clamp(self._press)
            if self.tool == "point":
                self.pointDrawn.emit(p.x(), p.y())
            else:
                self._vertices.append(p)
                self._draw_outline()
            return
        if self.tool in ("brush", "eraser") and left:
            self._stroke = [self._press]
            self._draw_stroke()
            return
        if self.tool == "fill" and left:
            self.fillAt.emit(self._press.x(), self._press.y())
            return
        if self.tool == "relation" and left:
            self._pick_pair_end(self._press)
            return
        if self.tool == "pan" and left and self._start_drag(event):
            return
        super().mousePressEvent(event)

    def _clamp(self, p: QPointF) -> QPointF:
        inside = self.scene().sceneRect()
        return QPointF(min(max(p.x(), 0.0), inside.right()), min(max(p.y(), 0.0), inside.bottom()))

    def _hit(self, ann, here, tol: float):
        """How well the image point ``here`` picks ``ann``, lower is better
        (inside a shape: its area, so the smaller of two nested shapes wins;
        near an edge or a point: the distance), or None."""
        if ann.kind == "point":
            d = ann.geometry.distance(here)
            return (0, d, -ann.id) if d <= tol + POINT_RADIUS / self.scale_factor else None
        if ann.kind in ("box", "mask"):
            x1, y1, x2, y2 = ann.bbox
            geom = shapely.box(x1, y1, x2, y2)
        else:
            geom = ann.geometry
        if geom.covers(here):
            return (1, geom.area, -ann.id)
        d = geom.exterior.distance(here) if geom.geom_type == "Polygon" else geom.distance(here)
        return (2, d, -ann.id) if d <= tol else None

    def _shape_at(self, p: QPointF, kinds: tuple | None = None) -> int | None:
        """The shape drawn under the image point ``p`` (of ``kinds``), asked of the store."""
        if self.project is None or self.image is None:
            return None
        tol = HIT_PIXELS / self.scale_factor
        style, here = self.shape_tiles.style, shapely.Point(p.x(), p.y())
        ranked = []
        for ann in self.project.annotations.in_viewport(self.image.id, p.x() - tol, p.y() - tol, p.x() + tol,
                                                        p.y() + tol, min_size=self.min_size):
            if (kinds is not None and ann.kind not in kinds) or ann.class_id in style.hidden \
                    or (ann.source == "model" and not style.predictions):
                continue
            rank = self._hit(ann, here, tol)
            if rank is not None:
                ranked.append((rank, ann.id))
        return min(ranked)[1] if ranked else None

    # -- brush and eraser ----------------------------------------------------------
    def _draw_stroke(self) -> None:
        from PySide6.QtGui import QPainterPath
        from PySide6.QtWidgets import QGraphicsPathItem

        path = QPainterPath(self._stroke[0])
        for p in self._stroke[1:]:
            path.lineTo(p)
        if len(self._stroke) == 1:
            path.lineTo(self._stroke[0] + QPointF(0.01, 0))
        if self._stroke_item is None:
            color = QColor("#000000") if self.tool == "eraser" else QColor(self.paint_color)
            color.setAlpha(150)
            pen = QPen(color, 2 * self.brush_radius, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                       Qt.PenJoinStyle.RoundJoin)
            self._stroke_item = QGraphicsPathItem()
            self._stroke_item.setPen(pen)
            self._stroke_item.setZValue(90)
            self.scene().addItem(self._stroke_item)
        self._stroke_item.setPath(path)

    paint_color = "#ffd400"  # the class colour the brush previews in (set by the window)

    def set_brush_radius(self, radius: float) -> None:
        self.brush_radius = float(min(max(radius, 0.5), 500.0))

    # -- relation tool: two person boxes, one after the other --------------------
    def _pick_pair_end(self, p: QPointF) -> None:
        hit = self._shape_at(p, ("box",))
        if hit is None:
            return
        if self._pair_first is None or self._pair_first == hit:
            self._pair_first = hit
            self.set_selection({hit})
        else:
            first, self._pair_first = self._pair_first, None
            self.set_selection({first, hit})
            self.pairPicked.emit(first, hit)

    # -- select mode: drag the selected shape or one of its vertices -------------
    def _start_drag(self, event) -> bool:
        if len(self.selected) != 1:
            return False
        (ann_id,) = self.selected
        view_pos = event.position().toPoint()
        for item in self.items(view_pos):
            if item.data(1) is not None and self._handles is not None and item.parentItem() is self._handles:
                self._drag = ("vertex", self.project.annotations.get(ann_id), item.data(1))
                return True
        ann = self.project.annotations.get(ann_id)
        if self._hit(ann, shapely.Point(self._press.x(), self._press.y()), HIT_PIXELS / self.scale_factor):
            self._drag = ("move", ann, None)
            return True
        return False

    def _dragged_geometry(self, end: QPointF):
        mode, ann, index = self._drag
        if mode == "move":
            return translate(ann.geometry, end.x() - self._press.x(), end.y() - self._press.y())
        p = self._clamp(end)
        return move_vertex(ann.kind, ann.geometry, index, p.x(), p.y())

    def _preview_drag(self, end: QPointF) -> None:
        """The dragged shape leaves its tiles and follows the pointer as an item."""
        _, ann, _ = self._drag
        if ann.id not in self.shape_tiles.exclude:
            self.shape_tiles.exclude = frozenset({ann.id})
            self._redraw([ann.bbox])
        geom = self._dragged_geometry(end)
        moved = replace(ann, geometry=geom, bbox=geom.bounds)
        if self._drag_item is not None:
            self.scene().removeItem(self._drag_item)
        self._drag_item = self._selection_item(moved)
        self._show_handles(ann.kind, geom)

    def _end_drag(self, ann, edited: bool) -> None:
        """The dragged shape goes back into its tiles: drawn there again now,
        or by the edit that follows (which redraws where it was and is)."""
        self._drag = None
        if self._drag_item is not None:
            self.scene().removeItem(self._drag_item)
            self._drag_item = None
        if ann.id in self.shape_tiles.exclude:
            self.shape_tiles.exclude = frozenset()
            if not edited:
                self._redraw([ann.bbox])

    def _show_handles(self, kind: str | None = None, geometry=None) -> None:
        if self._handles is not None:
            self.scene().removeItem(self._handles)
            self._handles = None
        if kind is None and len(self.selected) == 1 and self.project is not None:
            for ann in self.project.annotations.get_many(self.selected):
                kind, geometry = ann.kind, ann.geometry
        if kind is not None and kind != "mask":
            self._handles = handle_items(vertices(kind, geometry))
            self.scene().addItem(self._handles)

    def mouseMoveEvent(self, event) -> None:
        if self._rubber is not None:
            self._rubber.setRect(QRectF(self._press, self.mapToScene(event.position().toPoint())).normalized())
            return
        if self._vertices:
            self._draw_outline(self.mapToScene(event.position().toPoint()))
            return
        if self._stroke:
            self._stroke.append(self.mapToScene(event.position().toPoint()))
            self._draw_stroke()
            return
        if self._drag is not None:
            self._preview_drag(self.mapToScene(event.position().toPoint()))
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        end = self.mapToScene(event.position().toPoint())
        if self._rubber is not None:
            rect = self._rubber.rect().intersected(self.scene().sceneRect())
            self.scene().removeItem(self._rubber)
            self._rubber = None
            if rect.width() >= 2 and rect.height() >= 2:
                self.boxDrawn.emit(rect.left(), rect.top(), rect.right(), rect.bottom())
            return
        if self._stroke:
            points = [(p.x(), p.y()) for p in self._stroke]
            erase = self.tool == "eraser"
            self.cancel_drawing()
            self.strokeDrawn.emit(points, self.brush_radius, erase)
            return
        if self._drag is not None:
            mode, ann, _ = self._drag
            geom = self._dragged_geometry(end)
            moved = (end - self._press).manhattanLength() * self.scale_factor >= 2
            self._end_drag(ann, edited=moved)
            if moved:
                self.geometryEdited.emit(ann.id, geom)
            else:
                self._show_handles()
            return
        if self.tool in DRAW_TOOLS:
            return
        super().mouseReleaseEvent(event)
        if self.tool == "pan" and self._press is not None and (end - self._press).manhattanLength() < 3 / self.scale_factor:
            self.select_at(end.x(), end.y(), add=bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier))

    def select_at(self, x: float, y: float, add: bool = False) -> None:
        """Select the topmost shape under the image point (x, y); nothing there clears."""
        hit = self._shape_at(QPointF(x, y))
        chosen = (set(self.selected) if add else set()) | ({hit} if hit is not None else set())
        self.set_selection(chosen)

    def set_selection(self, ids: set[int]) -> None:
        self.selected = set(ids)
        self._show_selection()
        self._show_handles()
        self.selectionChanged.emit(set(self.selected))

    def _selection_item(self, ann):
        item = make_item(ann, self.colors.get(ann.class_id, QColor("#ffffff")), width=self.outline_width + 2.0,
                         prediction=ann.source == "model")
        item.setZValue(11)  # over the shape tiles
        self.scene().addItem(item)
        return item

    def _show_selection(self) -> None:
        """The selected shapes drawn over their tiles with a wider outline."""
        for item in self._selection_items:
            self.scene().removeItem(item)
        self._selection_items = []
        if self.selected and self.project is not None:
            self._selection_items = [self._selection_item(ann) for ann in
                                     self.project.annotations.get_many(sorted(self.selected))
                                     if ann.id not in self.shape_tiles.exclude]

    def reload_shapes(self, regions: list | None = None) -> None:
        """The store changed (an edit, undo or redo; new predictions): draw
        the tiles that ``regions`` (image boxes the change touched; None:
        anywhere) reach afresh, at once, so an edit never makes shapes blink."""
        if self.project is None or self.image is None:
            return
        self.selected = self.project.annotations.existing(self.selected)
        self._add_relations()
        self._redraw(regions)
        self._show_selection()
        self._show_handles()

    def _redraw(self, regions: list | None) -> None:
        self.shape_tiles.invalidate(regions)
        self.settle()

    # -- refresh: tiles and shapes of the view -----------------------------------
    def refresh(self) -> None:
        if self.pyramid is None or self.project is None:
            return
        rect = self.visible_rect()
        x1, y1, x2, y2 = rect.left(), rect.top(), rect.right(), rect.bottom()
        scale = self.scale_factor
        key = (round(x1, 1), round(y1, 1), round(x2, 1), round(y2, 1))
        if key != self._view_key:
            if self._view_key is not None:
                self._set_smooth(False)
                self._still.start()
            self._view_key = key
        # the stored size: the image file itself is opened by the tile workers only
        self._level = level_for_scale(scale, level_count(self.image.width, self.image.height))
        keys = [(self.image.checksum, self._level, row, col)
                for row, col in visible_tiles(x1, y1, x2, y2, self.image.width, self.image.height, self._level)]
        wanted = set(keys)
        for key in keys:
            if key not in self._tiles:
                image = self.loader.request(self.pyramid, key)
                if image is not None:
                    self._place(key, image)
        self.loader.retain(keys)
        for key in [k for k in self._tiles if k[1] == self._level and k not in wanted]:
            self.scene().removeItem(self._tiles.pop(key))
        self._drop_covered_levels(x1, y1, x2, y2)
        self._refresh_shapes(x1, y1, x2, y2, scale)
        self.viewChanged.emit({"scale": scale, "level": self._level, "shapes": self.shape_count,
                               "min_size": self.min_size,
                               "tiles": len(self._tiles), "shape_tiles": len(self._shape_wanted)})

    def _drop_covered_levels(self, x1: float, y1: float, x2: float, y2: float) -> None:
        """Other levels' tiles stay as a backdrop where the current level has
        not loaded yet, and only where they are in view (each layer drawn
        twice over costs a frame a few milliseconds)."""
        checksum, side = self.image.checksum, TILE << self._level
        for key in [k for k in self._tiles if k[1] != self._level]:
            _, level, row, col = key
            other = TILE << level
            if covered((col * other, row * other, (col + 1) * other, (row + 1) * other), (x1, y1, x2, y2),
                        (self.image.width, self.image.height), side,
                        lambda r, c: (checksum, self._level, r, c) in self._tiles):
                self.scene().removeItem(self._tiles.pop(key))

    def _place(self, key: tuple, image: QImage) -> None:
        _, level, row, col = key
        side = TILE << level
        item = pixmap_item(image, col * side, row * side, float(1 << level), -100 - level, self._smooth)
        self.scene().addItem(item)
        self._tiles[key] = item

    def _tile_ready(self, key: tuple, image: QImage) -> None:
        if self.image is None or key[0] != self.image.checksum or key in self._tiles:
            return
        if key[1] == self._level:
            self._place(key, image)
            self.schedule()

    def _refresh_shapes(self, x1: float, y1: float, x2: float, y2: float, scale: float) -> None:
        """Show the view's shape tiles: those drawn already at once, the rest
        as they arrive (tiles of the previous zoom stay meanwhile)."""
        level = self._shape_level = shape_level(scale)
        keys = [(level, row, col) for row, col in
                visible_tiles(x1, y1, x2, y2, self.image.width, self.image.height, level, SIDE, margin=0)]
        self._shape_wanted = set(keys)
        for key in keys:
            tile = self.shape_tiles.request(key)
            if tile is not None:
                self._place_shapes(key, tile)
        self.shape_tiles.retain(keys)
        self._drop_shape_tiles()

    def _place_shapes(self, key: tuple, tile: ShapeTile) -> None:
        old = self._shape_items.get(key)
        if old is not None:
            if old[1] is tile:
                return
            self._remove_shapes(key)
        item = None
        if tile.image is not None:  # an empty square needs no pixmap (nor its paint)
            x1, y1, _, _ = tile_rect(*key)
            item = pixmap_item(tile.image, x1, y1, 2.0 ** key[0], 9, self._smooth)
            self.scene().addItem(item)
        self._shape_items[key] = (item, tile)

    def _remove_shapes(self, key: tuple) -> None:
        item = self._shape_items.pop(key)[0]
        if item is not None:
            self.scene().removeItem(item)

    def _shape_tile_ready(self, key: tuple, tile: ShapeTile) -> None:
        if self.image is not None and key in self._shape_wanted:
            self._place_shapes(key, tile)
            self._drop_shape_tiles()

    def _drop_shape_tiles(self) -> None:
        """Shape tiles out of view go; those of another zoom stay as a
        backdrop, where in view, until this zoom's tiles there are drawn."""
        r = self.visible_rect()
        view = (r.left(), r.top(), r.right(), r.bottom())
        level, size = self._shape_level, (self.image.width, self.image.height)

        def drawn(row: int, col: int) -> bool:
            placed = self._shape_items.get((level, row, col))
            return placed is not None and placed[1] is self.shape_tiles.current((level, row, col))

        for key in list(self._shape_items):
            if key not in self._shape_wanted and (
                    key[0] == level or covered(tile_rect(*key), view, size, SIDE * 2.0 ** level, drawn)):
                self._remove_shapes(key)

    @property
    def pending_shape_tiles(self) -> int:
        """How many of the view's shape tiles are still being drawn (or redrawn)."""
        return sum(1 for key in self._shape_wanted if key not in self._shape_items
                   or self._shape_items[key][1] is not self.shape_tiles.current(key))

    @property
    def shapes_shown_share(self) -> float:
        """The share of the view's shape tiles whose square shows its shapes:
        drawn at this zoom, or (until they are) at another zoom as a backdrop."""
        if not self._shape_wanted:
            return 1.0
        r = self.visible_rect()
        view, size = (r.left(), r.top(), r.right(), r.bottom()), (self.image.width, self.image.height)
        others: dict[int, set] = {}
        for level, row, col in self._shape_items:
            if level != self._shape_level:
                others.setdefault(level, set()).add((row, col))

        def shown(key: tuple) -> bool:
            placed = self._shape_items.get(key)
            if placed is not None:
                return True
            rect = tile_rect(*key)
            return any(covered(rect, view, size, SIDE * 2.0 ** level, lambda r_, c_: (r_, c_) in keys)
                       for level, keys in others.items())

        return sum(map(shown, self._shape_wanted)) / len(self._shape_wanted)

    def settle(self) -> None:
        """Finish the view now: refresh, and draw every shape tile it still
        waits for on this thread (edits, tests, screenshots)."""
        self._refresh.stop()
        self.refresh()
        if self.project is None or self.image is None:
            return
        for key in self._shape_wanted:
            tile = self.shape_tiles.current(key) or self.shape_tiles.render_now(self.project.annotations, key)
            self._place_shapes(key, tile)
        self._drop_shape_tiles()

    @property
    def min_size(self) -> float:
        """Shapes smaller than this (image pixels) are too small to draw at this zoom."""
        return lod_min_size(2.0 ** -self._shape_level)

    def _style(self) -> Style:
        return Style(colors=tuple(sorted((cid, (c.red(), c.green(), c.blue())) for cid, c in self.colors.items())),
                     hidden=frozenset(self.hidden_classes), predictions=self.show_predictions,
                     width=max(1, int(self.outline_width)))  # whole pixels: OpenCV's thick lines cost 8x

    def _add_relations(self) -> None:
        """Pairs and groups (JRDB panoramas): few per image, drawn whole."""
        if self._relations is not None:
            self.scene().removeItem(self._relations)
            self._relations = None
        pairs, groups = self.project.relations.pairs(self.image.id), self.project.relations.groups(self.image.id)
        if not pairs and not groups:
            return
        boxes = {a.id: a.bbox for a in self.project.annotations.for_image(self.image.id) if a.kind == "box"}
        self._relations = relation_items(self.project, self.image, boxes, self.show_predictions)
        self.scene().addItem(self._relations)

    @property
    def relation_count(self) -> int:
        return len(self._relations.childItems()) if self._relations is not None else 0

    def _add_mask(self) -> None:
        mask = self.project.masks.get(self.image.id)
        if mask is None:
            return
        lut = np.zeros((max(int(mask.max()) + 1, 1), 4), np.uint8)  # value 0 (no-data) stays transparent
        for cid, color in self.colors.items():
            if 0 < cid < len(lut):
                lut[cid] = (color.red(), color.green(), color.blue(), 255)
        rgba = np.ascontiguousarray(lut[mask])
        h, w = mask.shape
        qimage = QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()
        item = QGraphicsPixmapItem(QPixmap.fromImage(qimage))
        item.setOpacity(self.mask_opacity)
        item.setZValue(5)
        self.scene().addItem(item)
        self._mask_item = item

    def set_outline_width(self, value: float) -> None:
        self.outline_width = value
        self._restyle()
        self._show_selection()

    def _restyle(self) -> None:
        """Shape tiles are drawn again in the new style; the old ones stay until then."""
        self.shape_tiles.set_style(self._style())
        self.schedule()

    def reload_mask(self) -> None:
        """The mask changed (a stroke, a fill, undo or redo)."""
        if self._mask_item is not None:
            self.scene().removeItem(self._mask_item)
            self._mask_item = None
        if self.image is not None:
            self._add_mask()

    def set_show_predictions(self, show: bool) -> None:
        self.show_predictions = show
        if self.image is not None:
            self._add_relations()  # a model's pairs show and hide with its shapes
        self._restyle()

    def set_hidden_classes(self, hidden: set) -> None:
        self.hidden_classes = set(hidden)
        self._restyle()

    def set_mask_opacity(self, value: float) -> None:
        self.mask_opacity = value
        if self._mask_item is not None:
            self._mask_item.setOpacity(value)

    @property
    def shape_count(self) -> int:
        return len(self.shape_ids())

    def shape_ids(self) -> set[int]:
        """The shapes drawn in the view: those of its drawn tiles that reach into it."""
        r = self.visible_rect()
        parts = []
        for key in self._shape_wanted:
            placed = self._shape_items.get(key)
            if placed is not None and placed[1] is self.shape_tiles.current(key):
                b = placed[1].bounds
                parts.append(placed[1].ids[(b[:, 0] <= r.right()) & (b[:, 2] >= r.left())
                                           & (b[:, 1] <= r.bottom()) & (b[:, 3] >= r.top())])
        return set(np.concatenate(parts).tolist()) if parts else set()


def view_state_text(state: dict) -> str:
    """The status bar's line for ``viewChanged``: zoom, level, what is drawn
    and, zoomed out, which shapes are too small to be."""
    small = f" (under {state['min_size']:.0f} px: zoom in)" if state.get("min_size", 0) > 4 else ""
    return (f"zoom {state['scale'] * 100:.1f}%  level {state['level']}  {state['shapes']} shapes{small}  "
            f"{state['tiles']} tiles")
