"""Opening images of any size.

Tiled TIFF / BigTIFF is read tile by tile through tifffile, so a region of a
40,000 x 40,000 image costs only the tiles it touches.  Other formats go
through Pillow, which must decode the whole image: they are refused above
``max_pixels`` with a message that says what to do instead."""
from __future__ import annotations

import functools
import os
import threading
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import ImageError

#: Largest image decoded whole (Pillow formats, untiled TIFF).  Tiled TIFFs are
#: read by tile and have no such limit.
MAX_PIXELS = int(os.environ.get("TESSERA_MAX_PIXELS", 1_000_000_000))
#: Images up to this size are fully decoded when imported, to catch corruption.
VERIFY_PIXELS = 64_000_000
TIFF_SUFFIXES = {".tif", ".tiff", ".btf", ".tf8"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif"} | TIFF_SUFFIXES


class ImageSource:
    """An open image: its size, and regions of its full-resolution pixels as
    RGB ``uint8`` arrays (grey images are expanded)."""

    width: int
    height: int
    path: Path
    #: A region costs only the file's own tiles it touches (a tiled TIFF): such
    #: regions are read again rather than cached, which would be slower.
    reads_by_tile: bool = False

    @property
    def native_levels(self) -> dict[int, int]:
        """Power-of-two downsample factor -> the file's own level holding it
        (none but full resolution for most files)."""
        return {}

    def read_region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        raise NotImplementedError

    def read(self) -> np.ndarray:
        return self.read_region(0, 0, self.width, self.height)

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _clip(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
        x0, y0 = max(0, int(x)), max(0, int(y))
        x1, y1 = min(self.width, int(x + w)), min(self.height, int(y + h))
        if x1 <= x0 or y1 <= y0:
            raise ImageError(f"region {x},{y} {w}x{h} lies outside the image "
                             f"({self.width}x{self.height})", self.path)
        return x0, y0, x1, y1


def _to_rgb(arr: np.ndarray) -> np.ndarray:
    if arr.dtype != np.uint8:
        arr = _scale_to_uint8(arr)
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    return arr[:, :, :3]


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.integer):
        shift = max(0, np.iinfo(arr.dtype).bits - 8)
        return (arr >> shift).astype(np.uint8) if arr.dtype.kind == "u" else np.clip(arr, 0, 255).astype(np.uint8)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    return ((arr - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)


class TiledTiffSource(ImageSource):
    """Reads the tiles of a tiled TIFF on demand, at full resolution and at
    the file's own reduced levels (pyramidal TIFF, e.g. SubIFDs) when it has them."""

    reads_by_tile = True

    def __init__(self, path: Path, tif, pages: list):
        self.path, self._tif, self._pages = path, tif, pages
        self.height, self.width = int(pages[0].imagelength), int(pages[0].imagewidth)
        self._lock = threading.Lock()

    @functools.cached_property
    def native_levels(self) -> dict[int, int]:
        """Power-of-two downsample factor -> index of the file's level holding it."""
        out = {}
        for i, page in enumerate(self._pages):
            factor = round(self.width / int(page.imagewidth))
            if factor >= 1 and factor & (factor - 1) == 0 and int(page.imagewidth) == -(-self.width // factor):
                out.setdefault(factor, i)
        return out

    def _tile(self, row: int, col: int, level: int = 0) -> np.ndarray:
        page = self._pages[level]
        tw, th = int(page.tilewidth), int(page.tilelength)
        index = row * -(-int(page.imagewidth) // tw) + col
        if page.databytecounts[index] == 0:
            return np.zeros((th, tw, 3), np.uint8)
        with self._lock:
            fh = self._tif.filehandle
            fh.seek(page.dataoffsets[index])
            data = fh.read(page.databytecounts[index])
        try:
            seg, _, _ = page.decode(data, index, jpegtables=page.jpegtables)
        except Exception as exc:  # corrupt tile data
            raise ImageError(f"tile {index} cannot be decoded: {exc}", self.path) from exc
        return _to_rgb(np.asarray(seg)[0])  # (h, w, samples)

    def read_region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        return self.read_level_region(0, x, y, w, h)

    def read_level_region(self, level: int, x: int, y: int, w: int, h: int) -> np.ndarray:
        """A region in the pixel coordinates of the file's level ``level``."""
        page = self._pages[level]
        lw, lh = int(page.imagewidth), int(page.imagelength)
        x0, y0, x1, y1 = max(0, int(x)), max(0, int(y)), min(lw, int(x + w)), min(lh, int(y + h))
        if x1 <= x0 or y1 <= y0:
            raise ImageError(f"region {x},{y} {w}x{h} lies outside level {level} ({lw}x{lh})", self.path)
        tw, th = int(page.tilewidth), int(page.tilelength)
        out = np.zeros((y1 - y0, x1 - x0, 3), np.uint8)
        for row in range(y0 // th, (y1 - 1) // th + 1):
            for col in range(x0 // tw, (x1 - 1) // tw + 1):
                tile = self._tile(row, col, level)
                ty, tx = row * th, col * tw
                sy0, sx0 = max(y0, ty), max(x0, tx)
                sy1, sx1 = min(y1, ty + th), min(x1, tx + tw)
                out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = tile[sy0 - ty:sy1 - ty, sx0 - tx:sx1 - tx]
        return out

    def close(self) -> None:
        self._tif.close()


class DecodedSource(ImageSource):
    """An image decoded whole on first use (Pillow formats, untiled TIFF)."""

    def __init__(self, path: Path, width: int, height: int, loader):
        self.path, self.width, self.height = path, width, height
        self._loader = loader
        self._pixels: np.ndarray | None = None

    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            self._pixels = _to_rgb(self._loader())
        return self._pixels

    def read_region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        x0, y0, x1, y1 = self._clip(x, y, w, h)
        return self.pixels()[y0:y1, x0:x1]


def _pillow_load(path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = None
            with Image.open(path) as im:
                im.load()
                if im.mode not in ("L", "RGB", "RGBA", "I;16", "I", "F", "1"):
                    im = im.convert("RGB")
                return np.asarray(im)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt or truncated image ({exc})", path) from exc


def image_size(path: str | Path) -> tuple[int, int]:
    """Width and height from the file header, without decoding pixels."""
    with open_image(path, verify=False) as src:
        return src.width, src.height


def open_image(path: str | Path, verify: bool = False, max_pixels: int | None = None) -> ImageSource:
    """Open ``path`` for region reads.  ``verify`` decodes small images (and
    one tile of tiled TIFFs) now, so corruption is reported at import time."""
    path = Path(path)
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    if not path.is_file():
        raise ImageError("file not found", path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        source = _open_tiff(path, limit)
        if source is not None:
            if verify:
                source.read_region(0, 0, 1, 1)
            return source
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.MAX_IMAGE_PIXELS = None
            with Image.open(path) as im:
                width, height = im.size
    except UnidentifiedImageError as exc:
        raise ImageError("not an image, or a format Tessera cannot read", path) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt or truncated image (header: {exc})", path) from exc
    if width * height > limit:
        raise ImageError(
            f"{width}x{height} pixels is over the {limit:,}-pixel limit for formats that must be "
            "decoded whole; convert it to a tiled TIFF (or raise TESSERA_MAX_PIXELS)", path)
    source = DecodedSource(path, width, height, lambda: _pillow_load(path))
    if verify and width * height <= VERIFY_PIXELS:
        source.pixels()
    return source


def _open_tiff(path: Path, limit: int) -> ImageSource | None:
    import tifffile

    try:
        tif = tifffile.TiffFile(path)
    except Exception as exc:
        raise ImageError(f"not a readable TIFF ({exc})", path) from exc
    try:
        page = tif.pages.first
        if page.is_tiled and page.planarconfig == 1 and (page.imagedepth or 1) == 1:
            levels = [lv.keyframe for lv in tif.series[0].levels] if tif.series else [page]
            levels = [lv for lv in levels if lv.is_tiled and lv.planarconfig == 1] or [page]
            return TiledTiffSource(path, tif, levels)
        height, width = int(page.imagelength), int(page.imagewidth)
        if width * height > limit:
            raise ImageError(
                f"{width}x{height} untiled TIFF is over the {limit:,}-pixel limit; "
                "save it as a tiled TIFF to open it without decoding it whole", path)
    except ImageError:
        tif.close()
        raise
    except Exception as exc:
        tif.close()
        raise ImageError(f"not a readable TIFF ({exc})", path) from exc

    def load() -> np.ndarray:
        try:
            return tif.pages.first.asarray()
        except Exception as exc:
            raise ImageError(f"corrupt TIFF data ({exc})", path) from exc
        finally:
            tif.close()

    return DecodedSource(path, width, height, load)
