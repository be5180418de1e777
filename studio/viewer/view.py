"""The viewer widget: a QGraphicsView over one image.

It asks for the pyramid tiles its view needs (at the level its zoom needs)
and for the shapes inside its view (an R*Tree query with level of detail);
nothing else of the image is loaded or turned into items."""
from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

from core.imagery import TilePyramid
from core.imagery.pyramid import TILE
from core.imagery.viewport import level_for_scale, lod_min_size, visible_tiles

from .handles import handle_items, move_vertex, translate, vertices
from .overlay import OverlayRenderer
from .relations import relation_items
from .shapes import make_item
from .tiles import TileLoader

DRAW_TOOLS = ("box", "polygon", "point", "brush", "eraser", "fill", "relation")

BUILD_BUDGET_S = 0.006  # UI-thread time per frame for making new shape items
BUILD_CHUNK = 32
ITEM_BUDGET = 1500  # shapes per view drawn as editable items; a more crowded view is drawn as one image


class ImageViewer(QGraphicsView):
    viewChanged = Signal(dict)  # {"scale", "level", "shapes", "tiles"}
    boxDrawn = Signal(float, float, float, float)  # x1, y1, x2, y2 in image pixels
    polygonDrawn = Signal(list)  # [(x, y), ...] in image pixels
    pointDrawn = Signal(float, float)
    strokeDrawn = Signal(list, float, bool)  # points, radius (image px), erase
    fillAt = Signal(float, float)
    geometryEdited = Signal(int, object)  # annotation id, new shapely geometry
    pairPicked = Signal(int, int)  # two box annotation ids (relation tool)
    selectionChanged = Signal(set)

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
        self.loader = loader or TileLoader(parent=self)
        self.loader.tileReady.connect(self._tile_ready)
        self.project = None
        self.image = None
        self.pyramid: TilePyramid | None = None
        self.colors: dict[int, QColor] = {}
        self.hidden_classes: set[int] = set()
        self.mask_opacity = 0.45
        self.outline_width = 1.5
        self._tiles: dict[tuple, QGraphicsPixmapItem] = {}
        self._shapes: dict[int, object] = {}
        self._filtered_out: set[int] = set()  # in view but hidden (class or predictions)
        self._shapes_key = None  # the view the shape items were made for
        self._to_build: list[int] = []  # ids in view whose items are still to be made
        self._build_timer = QTimer(self, singleShot=True, interval=0)
        self._build_timer.timeout.connect(self._build_shapes)
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
        self.overlay = OverlayRenderer(self)
        self.overlay.ready.connect(self._overlay_ready)
        self._overlay_item = None
        self._overlay_key = None
        self._refresh = QTimer(self, singleShot=True, interval=15)
        self._refresh.timeout.connect(self.refresh)

    # -- what to show --------------------------------------------------------
    def set_image(self, project, image) -> None:
        self.loader.cancel_pending()
        self.scene().clear()
        self._tiles.clear()
        self._shapes.clear()
        self._filtered_out.clear()
        self._to_build = []
        self._shapes_key = None
        self.overlay.cancel()
        self._mask_item = self._handles = self._outline = self._stroke_item = self._drag = None
        self._overlay_item = self._overlay_key = None
        self._vertices, self._stroke, self._pair_first, self.selected = [], [], None, set()
        self._relations = None
        if self.pyramid is not None:
            self.pyramid.close()
        self.project, self.image = project, image
        self.colors = {c.id: QColor(c.color) for c in project.classes.list()}
        self.pyramid = TilePyramid.for_image(project, image)
        self.scene().setSceneRect(QRectF(0, 0, image.width, image.height))
        self._add_mask()
        self._add_relations()
        self._fit_pending = True
        self.fit()

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
        self.resetTransform()
        self.scale(scale, scale)
        if center is not None:
            self.centerOn(*center)
        self.schedule()

    def detach(self) -> None:
        """Forget the project (it is closing): no refresh may touch it again."""
        self._refresh.stop()
        self._build_timer.stop()
        self.loader.cancel_pending()
        self.loader.wait()
        self.overlay.cancel()
        self.overlay.wait()
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

    def _shape_at(self, p: QPointF, kinds: tuple | None = None) -> int | None:
        for item in self.scene().items(p):
            ann_id = item.data(0)
            if ann_id is not None and (kinds is None or item.data(2) in kinds):
                return ann_id
        return None

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
        if self._shape_at(self._press) == ann_id:
            self._drag = ("move", self.project.annotations.get(ann_id), None)
            return True
        return False

    def _dragged_geometry(self, end: QPointF):
        mode, ann, index = self._drag
        if mode == "move":
            return translate(ann.geometry, end.x() - self._press.x(), end.y() - self._press.y())
        p = self._clamp(end)
        return move_vertex(ann.kind, ann.geometry, index, p.x(), p.y())

    def _preview_drag(self, end: QPointF) -> None:
        _, ann, _ = self._drag
        item = self._shapes.get(ann.id)
        if item is None:
            return
        from dataclasses import replace

        geom = self._dragged_geometry(end)
        moved = replace(ann, geometry=geom, bbox=geom.bounds)
        new = make_item(moved, self.colors.get(ann.class_id, QColor("#ffffff")), width=self.outline_width + 2.0,
                        prediction=ann.source == "model")
        self.scene().removeItem(item)
        self.scene().addItem(new)
        self._shapes[ann.id] = new
        self._show_handles(ann.kind, geom)

    def _show_handles(self, kind: str | None = None, geometry=None) -> None:
        if self._handles is not None:
            self.scene().removeItem(self._handles)
            self._handles = None
        if kind is None and len(self.selected) == 1 and self.project is not None:
            (ann_id,) = self.selected
            if ann_id in self._shapes:
                ann = self.project.annotations.get(ann_id)
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
            self._drag = None
            if (end - self._press).manhattanLength() * self.scale_factor >= 2:
                self.geometryEdited.emit(ann.id, geom)
            else:
                self.reload_shapes()
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
        for ann_id, item in self._shapes.items():
            pen = item.pen()
            pen.setWidthF(self.outline_width + (2.0 if ann_id in self.selected else 0.0))
            item.setPen(pen)
        self._show_handles()
        self.selectionChanged.emit(set(self.selected))

    def reload_shapes(self) -> None:
        """The store changed (an edit, undo or redo): draw the view's shapes afresh."""
        self._forget_shapes()  # a crowded view is drawn again too
        self.selected = self.project.annotations.existing(self.selected) if self.project else set()
        if self.image is not None:
            self._add_relations()
        self.settle()  # at once: an edit never makes the view's shapes blink
        self._show_handles()

    # -- refresh: tiles and shapes of the view -----------------------------------
    def refresh(self) -> None:
        if self.pyramid is None or self.project is None:
            return
        rect = self.visible_rect()
        x1, y1, x2, y2 = rect.left(), rect.top(), rect.right(), rect.bottom()
        scale = self.scale_factor
        self._level = level_for_scale(scale, self.pyramid.levels)
        wanted = set()
        for row, col in visible_tiles(x1, y1, x2, y2, self.image.width, self.image.height, self._level):
            key = (self.image.checksum, self._level, row, col)
            wanted.add(key)
            if key not in self._tiles:
                image = self.loader.request(self.pyramid, key)
                if image is not None:
                    self._place(key, image)
        for key in [k for k in self._tiles if k[1] == self._level and k not in wanted]:
            self.scene().removeItem(self._tiles.pop(key))
        self._drop_covered_levels(wanted, x1, y1, x2, y2)
        self._refresh_shapes(x1, y1, x2, y2, scale)
        self.viewChanged.emit({"scale": scale, "level": self._level, "shapes": len(self._shapes),
                               "tiles": len(self._tiles), "crowded": self.drawn_as_image})

    def _drop_covered_levels(self, wanted: set, x1: float, y1: float, x2: float, y2: float) -> None:
        """Other levels' tiles stay as a backdrop until the current level has
        loaded, and only where they are in view."""
        complete = all(k in self._tiles for k in wanted)
        for key in [k for k in self._tiles if k[1] != self._level]:
            _, level, row, col = key
            side = TILE << level
            if complete or not (col * side < x2 and (col + 1) * side > x1 and row * side < y2 and (row + 1) * side > y1):
                self.scene().removeItem(self._tiles.pop(key))

    def _place(self, key: tuple, image: QImage) -> None:
        _, level, row, col = key
        item = QGraphicsPixmapItem(QPixmap.fromImage(image))
        item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        side = TILE << level
        item.setPos(col * side, row * side)
        item.setScale(float(1 << level))
        item.setZValue(-100 - level)
        self.scene().addItem(item)
        self._tiles[key] = item

    def _tile_ready(self, key: tuple, image: QImage) -> None:
        if self.image is None or key[0] != self.image.checksum or key in self._tiles:
            return
        if key[1] == self._level:
            self._place(key, image)
            self.schedule()

    def _refresh_shapes(self, x1: float, y1: float, x2: float, y2: float, scale: float) -> None:
        key = (round(x1), round(y1), round(x2), round(y2), round(scale, 6))
        if key == self._shapes_key:
            return  # the same view again (a timer after an explicit refresh)
        self._shapes_key = key
        min_size = lod_min_size(scale)
        ids = self.project.annotations.ids_in_viewport(self.image.id, x1, y1, x2, y2, min_size,
                                                       limit=ITEM_BUDGET + 1)
        if len(ids) > ITEM_BUDGET:  # crowded: drawn as one image off the UI thread
            self._to_build = []
            for ann_id in list(self._shapes):
                self.scene().removeItem(self._shapes.pop(ann_id))
            if key != self._overlay_key:
                self._overlay_key = key
                colors = {cid: (c.red(), c.green(), c.blue()) for cid, c in self.colors.items()}
                self.overlay.request(self.project.root, self.image.id, (x1, y1, x2, y2), scale, min_size, colors,
                                     self.hidden_classes, self.show_predictions)
            return
        self._drop_overlay()
        visible = set(ids)
        for ann_id in [i for i in self._shapes if i not in visible]:
            self.scene().removeItem(self._shapes.pop(ann_id))
        # Only shapes new to the view are read from the store and made into
        # items, a frame's budget at a time: the view pans on at once and the
        # rest arrive over the next frames, as tiles do.
        self._to_build = [i for i in ids if i not in self._shapes and i not in self._filtered_out]
        if self._to_build:
            self._build_timer.start()  # one budget per turn of the event loop, however often it refreshes

    def _build_shapes(self, budget_s: float | None = None) -> None:
        """Make pending shape items for ``budget_s`` seconds (the frame budget
        by default), at least one; the rest on the next turn of the event loop."""
        deadline = time.perf_counter() + (BUILD_BUDGET_S if budget_s is None else budget_s)
        made = 0
        while self._to_build and self.project is not None:
            chunk, self._to_build = self._to_build[:BUILD_CHUNK], self._to_build[BUILD_CHUNK:]
            anns = self.project.annotations.get_many(chunk)
            for k, ann in enumerate(anns):
                if made and time.perf_counter() >= deadline:  # the rest waits for the next frame
                    self._to_build = [a.id for a in anns[k:]] + self._to_build
                    break
                made += 1
                if ann.class_id in self.hidden_classes or (not self.show_predictions and ann.source == "model"):
                    self._filtered_out.add(ann.id)
                    continue
                item = make_item(ann, self.colors.get(ann.class_id, QColor("#ffffff")),
                                 width=self.outline_width + (2.0 if ann.id in self.selected else 0.0),
                                 prediction=ann.source == "model")
                self.scene().addItem(item)
                self._shapes[ann.id] = item
            if time.perf_counter() >= deadline:
                break
        if self._to_build:
            self._build_timer.start()

    def settle(self) -> None:
        """Finish the view now: refresh and make every pending shape item
        (tests, screenshots, and code that needs the items at once)."""
        self._refresh.stop()
        self.refresh()
        self._build_timer.stop()
        self._build_shapes(math.inf)

    def _forget_shapes(self) -> None:
        """Shape items are made again at the next refresh (the store or a filter changed)."""
        for item in self._shapes.values():
            self.scene().removeItem(item)
        self._shapes.clear()
        self._filtered_out.clear()
        self._to_build = []
        self._shapes_key = self._overlay_key = None

    def _overlay_ready(self, rect: tuple, image: QImage) -> None:
        if self.image is None or self._overlay_key is None:
            return
        x1, y1, x2, y2 = rect
        item = QGraphicsPixmapItem(QPixmap.fromImage(image))
        item.setPos(x1, y1)
        item.setScale((x2 - x1) / max(1, image.width()))
        item.setZValue(9)
        if self._overlay_item is not None:
            self.scene().removeItem(self._overlay_item)
        self.scene().addItem(item)
        self._overlay_item = item

    def _drop_overlay(self) -> None:
        if self._overlay_key is not None:
            self.overlay.cancel()
            self._overlay_key = None
        if self._overlay_item is not None:
            self.scene().removeItem(self._overlay_item)
            self._overlay_item = None

    @property
    def drawn_as_image(self) -> bool:
        """Whether the view's shapes are drawn as one image (too many for items)."""
        return self._overlay_key is not None

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
        self.set_selection(self.selected)  # re-pens every shape item

    def reload_mask(self) -> None:
        """The mask changed (a stroke, a fill, undo or redo)."""
        if self._mask_item is not None:
            self.scene().removeItem(self._mask_item)
            self._mask_item = None
        if self.image is not None:
            self._add_mask()

    def set_show_predictions(self, show: bool) -> None:
        self.show_predictions = show
        self._forget_shapes()
        if self.image is not None:
            self._add_relations()  # a model's pairs show and hide with its shapes
        self.schedule()

    def set_hidden_classes(self, hidden: set) -> None:
        self.hidden_classes = set(hidden)
        self._forget_shapes()
        self.schedule()

    def set_mask_opacity(self, value: float) -> None:
        self.mask_opacity = value
        if self._mask_item is not None:
            self._mask_item.setOpacity(value)

    @property
    def shape_count(self) -> int:
        return len(self._shapes)

    def shape_ids(self) -> set[int]:
        return set(self._shapes)
