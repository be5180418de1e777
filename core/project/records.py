"""Plain records the stores hand out.  Geometry is a shapely object in image
pixels (origin top-left, x right, y down)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry


@dataclass
class ImageRecord:
    id: int
    name: str
    path: str
    width: int
    height: int
    checksum: str
    split: str | None
    source: str | None
    status: str
    meta: dict = field(default_factory=dict)

    def file(self, project_root: Path) -> Path:
        p = Path(self.path)
        return p if p.is_absolute() else project_root / p

    @classmethod
    def from_row(cls, row: tuple) -> "ImageRecord":
        (id_, name, path, width, height, checksum, split, source, status, meta) = row
        return cls(id_, name, path, width, height, checksum, split, source, status, json.loads(meta))


@dataclass
class ClassInfo:
    id: int
    name: str
    color: str
    critical: bool
    position: int
    ext_id: int | None


@dataclass
class Annotation:
    id: int
    image_id: int
    class_id: int | None
    kind: str
    geometry: BaseGeometry
    bbox: tuple[float, float, float, float]
    source: str = "human"
    score: float | None = None
    iscrowd: bool = False
    rle: str | None = None
    track: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
