"""Drawing pairs (a line between the two persons, labelled) and social groups
(a dashed frame around the members), the short way round a 360-degree panorama."""
from __future__ import annotations

from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsItemGroup, QGraphicsLineItem, QGraphicsRectItem, QGraphicsSimpleTextItem

from core.project.classes import default_color


HUMAN_PAIR, PREDICTED_PAIR = "#ffe066", "#4dd0ff"


def _pen(color: QColor, width: float, dashed: bool = False) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)
    if dashed:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


def _centre(bbox) -> tuple[float, float]:
    return (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2


def pair_segments(a, b, width: int, wraps: bool) -> list[tuple[float, float, float, float]]:
    """The line between two box centres; across the seam when that is shorter."""
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    ax, bx = ax % width if wraps else ax, bx % width if wraps else bx
    if not wraps or abs(bx - ax) <= width / 2:
        return [(ax, ay, bx, by)]
    left, right = ((ax, ay), (bx, by)) if ax < bx else ((bx, by), (ax, ay))
    span = left[0] + (width - right[0])
    mid_y = left[1] + (right[1] - left[1]) * (left[0] / span if span else 0.5)
    return [(left[0], left[1], 0.0, mid_y), (right[0], right[1], float(width), mid_y)]


def group_frames(boxes: list, width: int, wraps: bool) -> list[tuple[float, float, float, float]]:
    """One frame around the members, or two (one each side) for a group across the seam."""
    xs = [((b[0] + b[2]) / 2) % width if wraps else (b[0] + b[2]) / 2 for b in boxes]
    y1, y2 = min(b[1] for b in boxes) - 8, max(b[3] for b in boxes) + 8
    if not wraps or max(xs) - min(xs) <= width / 2:
        return [(min(b[0] for b in boxes) - 8, y1, max(b[2] for b in boxes) + 8, y2)]
    spans = [(b[0] % width, b[0] % width + (b[2] - b[0])) for b in boxes]  # start on the panorama, end may pass it
    left_end = max([e for s, e in spans if s < width / 2] + [e - width for s, e in spans if e > width])
    right_start = min(s for s, _ in spans if s >= width / 2)
    return [(0.0, y1, left_end + 8, y2), (right_start - 8, y1, float(width), y2)]


def relation_items(project, image, boxes: dict[int, tuple], predictions: bool = True) -> QGraphicsItemGroup:
    """Items for the pairs and groups of ``image`` whose members are in
    ``boxes``; a model's predicted pairs only when ``predictions``."""
    group = QGraphicsItemGroup()
    wraps = bool(image.meta.get("panorama"))
    for g in project.relations.groups(image.id):
        members = [boxes[m] for m in g.members if m in boxes]
        if len(members) < 2:
            continue
        color = QColor(default_color(g.ext_id if g.ext_id is not None else g.id))
        for x1, y1, x2, y2 in group_frames(members, image.width, wraps):
            frame = QGraphicsRectItem(QRectF(x1, y1, x2 - x1, y2 - y1))
            frame.setPen(_pen(color, 1.5, dashed=True))
            group.addToGroup(frame)
    for pair in project.relations.pairs(image.id):
        if pair.a_id not in boxes or pair.b_id not in boxes or (pair.source == "model" and not predictions):
            continue
        segments = pair_segments(boxes[pair.a_id], boxes[pair.b_id], image.width, wraps)
        predicted = pair.source == "model"  # a model's pair: dashed, in its own colour, with probabilities
        colour = QColor(PREDICTED_PAIR if predicted else HUMAN_PAIR)
        for x1, y1, x2, y2 in segments:
            line = QGraphicsLineItem(QLineF(x1, y1, x2, y2))
            line.setPen(_pen(colour, 2.0, dashed=predicted))
            group.addToGroup(line)
        text = (", ".join(f"{k} {v:.2f}" for k, v in sorted(pair.labels.items())) if predicted
                else ", ".join(sorted(pair.labels)))
        label = QGraphicsSimpleTextItem(text)
        label.setBrush(colour)
        x1, y1, x2, y2 = segments[0]
        label.setPos((x1 + x2) / 2, (y1 + y2) / 2 + (4 if predicted else -14))  # a model's label under the line
        label.setFlag(label.GraphicsItemFlag.ItemIgnoresTransformations)
        group.addToGroup(label)
    group.setZValue(20)
    return group
