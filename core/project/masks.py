"""Dense label masks, one per image, stored losslessly as PNG in the database
(pixel value = project class id, 0 = unlabeled / no-data)."""
from __future__ import annotations

import io
from typing import TYPE_CHECKING, Callable

import numpy as np
from PIL import Image

from ..errors import ProjectError
from .mask_paint import MaskPatch, blank_mask

if TYPE_CHECKING:
    from .store import Project


def encode_png(mask: np.ndarray) -> bytes:
    if mask.ndim != 2:
        raise ProjectError(f"a label mask must be 2-D, got shape {mask.shape}")
    if mask.max(initial=0) > 65535 or mask.min(initial=0) < 0:
        raise ProjectError("label mask values must lie in 0..65535")
    dtype = np.uint8 if mask.max(initial=0) <= 255 else np.uint16
    buf = io.BytesIO()
    Image.fromarray(mask.astype(dtype)).save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        arr = np.array(im)  # writable: masks are painted on
    return arr.astype(np.uint16) if arr.dtype not in (np.uint8, np.uint16) else arr


class MaskStore:
    def __init__(self, project: "Project"):
        self._p = project

    def set(self, image_id: int, mask: np.ndarray) -> None:
        image = self._p.images.get(image_id)
        if mask.shape != (image.height, image.width):
            raise ProjectError(
                f"mask of shape {mask.shape[1]}x{mask.shape[0]} does not match image "
                f"{image.name} ({image.width}x{image.height})")
        data = encode_png(mask)
        with self._p.transaction() as c:
            c.execute("INSERT OR REPLACE INTO masks(image_id, png, updated_at) "
                      "VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))", (image_id, data))

    def get(self, image_id: int) -> np.ndarray | None:
        row = self._p.conn.execute("SELECT png FROM masks WHERE image_id = ?", (image_id,)).fetchone()
        return decode_png(row[0]) if row else None

    def paint(self, image_id: int,
              edit: Callable[[np.ndarray], tuple[np.ndarray, MaskPatch | None]]) -> MaskPatch | None:
        """Run a painting edit (a brush stroke, a fill) on the image's mask, a
        blank one when it has none yet, and store the result at once."""
        mask = self.get(image_id)
        if mask is None:
            image = self._p.images.get(image_id)
            mask = blank_mask(image.width, image.height, image.name)
        mask, patch = edit(mask)
        if patch is not None:
            self.set(image_id, mask)
        return patch

    def apply_patch(self, image_id: int, patch: MaskPatch, undo: bool = False) -> None:
        """Redo (or undo) a stored painting edit."""
        mask = self.get(image_id)
        if mask is None:
            image = self._p.images.get(image_id)
            mask = blank_mask(image.width, image.height, image.name)
        if patch.after.dtype.itemsize > mask.dtype.itemsize:
            mask = mask.astype(patch.after.dtype)
        patch.apply(mask, undo=undo)
        self.set(image_id, mask)

    def has(self, image_id: int) -> bool:
        return self._p.conn.execute("SELECT 1 FROM masks WHERE image_id = ?", (image_id,)).fetchone() is not None

    def image_ids(self) -> list[int]:
        return [r[0] for r in self._p.conn.execute("SELECT image_id FROM masks ORDER BY image_id")]

    def delete(self, image_id: int) -> None:
        with self._p.transaction() as c:
            c.execute("DELETE FROM masks WHERE image_id = ?", (image_id,))
