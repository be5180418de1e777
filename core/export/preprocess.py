"""What an image goes through before a network sees it, in numpy alone (no
torch): the deployment package runs on these, and the PyTorch pipelines use
the same letterbox.  Each function reproduces the pipeline's torch
preprocessing to float precision, which is what lets the validation compare
an exported model with the model it came from."""
from __future__ import annotations

import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LETTERBOX_GREY = 114


def letterbox(pixels: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Fit into ``size`` x ``size`` keeping the aspect ratio, grey padding.
    Returns the square image, the scale and the (left, top) offset."""
    h, w = pixels.shape[:2]
    scale = size / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(pixels).resize((nw, nh), Image.Resampling.BILINEAR))
    out = np.full((size, size, 3), LETTERBOX_GREY, np.uint8)
    top, left = (size - nh) // 2, (size - nw) // 2
    out[top:top + nh, left:left + nw] = resized
    return out, scale, (left, top)


def _axis(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of torch's bilinear resize (align_corners
    False, no antialiasing) along one axis."""
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * np.float32(in_size / out_size) - np.float32(0.5)
    src = np.maximum(src, 0)
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def resize_bilinear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """A float (H, W, C) image resized as ``F.interpolate(mode="bilinear",
    align_corners=False)`` does."""
    y0, y1, wy = _axis(height, image.shape[0])
    x0, x1, wx = _axis(width, image.shape[1])
    rows = image[y0] * (1 - wy)[:, None, None] + image[y1] * wy[:, None, None]
    return rows[:, x0] * (1 - wx)[None, :, None] + rows[:, x1] * wx[None, :, None]


def normalise(image: np.ndarray, mean, std) -> np.ndarray:
    """(H, W, 3) float in [0, 1] → (3, H, W) float32, ``(x - mean) / std``."""
    mean = np.asarray(mean, np.float32)
    std = np.asarray(std, np.float32)
    return ((image.astype(np.float32) - mean) / std).transpose(2, 0, 1).astype(np.float32, copy=False)


def square_input(pixels: np.ndarray, size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """A crop stretched to ``size`` x ``size`` (classification, pair crops): (3, S, S)."""
    return normalise(resize_bilinear(pixels.astype(np.float32) / 255.0, size, size), mean, std)


def padded_input(pixels: np.ndarray, stride: int = 32, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """A window normalised and padded on the right and bottom to a multiple
    of ``stride`` (reflected where the window is large enough, zeros
    otherwise), as the segmentation pipeline does: (3, H', W')."""
    x = normalise(pixels.astype(np.float32) / 255.0, mean, std)
    h, w = x.shape[1:]
    ph, pw = -(-h // stride) * stride - h, -(-w // stride) * stride - w
    if ph or pw:
        mode = "reflect" if min(h, w) > max(ph, pw) else "constant"
        x = np.pad(x, ((0, 0), (0, ph), (0, pw)), mode=mode)
    return x


def letterbox_input(pixels: np.ndarray, size: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The detector's input: letterboxed, scaled to [0, 1], (3, S, S)."""
    boxed, scale, offset = letterbox(pixels, size)
    return boxed.transpose(2, 0, 1).astype(np.float32) / np.float32(255.0), scale, offset


def tiles(height: int, width: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Windows ``(x, y, w, h)`` of at most ``tile`` covering the image, each
    overlapping its neighbours by ``overlap``; the last row and column are
    aligned to the far edge."""
    step = max(1, tile - overlap)

    def starts(n: int) -> list[int]:
        if n <= tile:
            return [0]
        out = list(range(0, n - tile, step))
        return out + [n - tile]

    return [(x, y, min(tile, width - x), min(tile, height - y)) for y in starts(height) for x in starts(width)]
