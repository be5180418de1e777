"""A deployment package run without PyTorch: onnxruntime (or a TensorRT
engine) behind the package's own preprocessing, postprocessing and tiling,
all in numpy.  Importing this module never imports torch."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import postprocess as post
from . import preprocess as pre
from . import tta as aug
from .card import REFINED, PackageError, model_file, model_folders, read_card

DEFAULT_TILE = {"segmentation": 1024, "detection": 1024}
DEFAULT_OVERLAP = {"segmentation": 64, "detection": 128}
WHOLE_IMAGE_PIXELS = 64_000_000  # detection: larger images are tiled (core.predict.MAX_PIXELS)


class OrtBackend:
    """An ONNX file in onnxruntime (CUDA when asked and present, else CPU)."""

    def __init__(self, path: Path, device: str = "cpu", threads: int = 0):
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device.startswith("cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise PackageError(f"onnxruntime cannot load it ({str(exc).splitlines()[0][:160]})", path) from None
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.providers = self.session.get_providers()

    def __call__(self, *arrays: np.ndarray) -> list[np.ndarray]:
        return self.session.run(None, {n: np.ascontiguousarray(a) for n, a in zip(self.inputs, arrays)})


def open_backend(folder: Path, card: dict, fmt: str, device: str = "cpu"):
    path = model_file(folder, card, fmt)
    if fmt == "tensorrt":
        from .tensorrt import EngineBackend

        return EngineBackend(path)
    return OrtBackend(path, device)


class ArrayRegion:
    """Pixels in memory, read by window like an image file."""

    def __init__(self, pixels: np.ndarray):
        self.pixels = pixels
        self.height, self.width = pixels.shape[:2]

    def read_region(self, x: int, y: int, w: int, h: int) -> np.ndarray:
        return self.pixels[y:y + h, x:x + w]


class Predictor:
    """One package, one format: ``segment``, ``detect``, ``classify`` or
    ``pairs`` by its task, and ``forward`` for the raw network.

    The package's test-time augmentation (``tta`` in its card) and
    calibration apply unless ``tta`` names other views (False: none) or
    ``calibrated`` is False."""

    def __init__(self, folder: str | Path, fmt: str = "onnx", device: str = "cpu", card: dict | None = None,
                 tta=None, calibrated: bool = True):
        self.folder = Path(folder)
        self.card = card if card is not None else read_card(self.folder)
        self.task, self.format = self.card["task"], fmt
        self.backends = [open_backend(f, self.card, fmt, device) for f in model_folders(self.folder, self.card)]
        self.backend = self.backends[0]
        self.ensemble = self.card.get("ensemble")
        p = self.card["preprocessing"]
        self.mean, self.std = p.get("mean", (0.0, 0.0, 0.0)), p.get("std", (1.0, 1.0, 1.0))
        self.size, self.stride = p.get("size"), int(p.get("stride", 32))
        shape = self.card["input"]
        self.fixed = (shape.get("height"), shape.get("width")) if shape.get("height") else None
        tiling = self.card.get("tiling") or {}
        self.tile = int(tiling.get("tile", DEFAULT_TILE.get(self.task, 1024)))
        self.overlap = int(tiling.get("overlap", DEFAULT_OVERLAP.get(self.task, 64)))
        self.above_pixels = int(tiling.get("above_pixels", WHOLE_IMAGE_PIXELS))
        self.thresholds = self.card.get("thresholds") or {}
        temperature = (self.card.get("calibration") or {}).get("temperature", 1.0) if calibrated else 1.0
        self.temperature = np.asarray(temperature, np.float64) if isinstance(temperature, list) else float(temperature)
        kinds = (self.card.get("tta") or {}).get("kinds") if tta is None else tta
        self.views = aug.views(aug.parse(kinds)) if self.task in REFINED else [aug.View()]

    # -- the network ------------------------------------------------------------
    def forward(self, *arrays: np.ndarray) -> list[np.ndarray]:
        """The network's raw outputs; an ensemble's members' stacked on axis 1."""
        if self.ensemble:
            return [np.stack([backend(*arrays)[0] for backend in self.backends], 1)]
        return self.backend(*arrays)

    # -- segmentation -------------------------------------------------------------
    def segmentation_input(self, pixels: np.ndarray) -> np.ndarray:
        x = pre.padded_input(pixels, self.stride, self.mean, self.std)
        if self.fixed:
            th, tw = self.fixed
            x = np.pad(x, ((0, 0), (0, max(0, th - x.shape[1])), (0, max(0, tw - x.shape[2]))))
        return x

    def segment_logits(self, pixels: np.ndarray) -> np.ndarray:
        """Class scores (C, H, W) of a window that fits the network."""
        h, w = pixels.shape[:2]
        return self.forward(self.segmentation_input(pixels)[None])[0][0, :, :h, :w]

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Class probabilities (C, H, W) of a window of any size (tiled when
        larger than the network takes)."""
        h, w = pixels.shape[:2]
        limit = self._limit()
        if h <= limit and w <= limit:
            return post.softmax(self.segment_logits(pixels), 0, self.temperature)
        out = np.zeros((len(self.card["classes"]), h, w), np.float32)
        for (x, y, tw, th), (top, bottom, left, right) in self._cores(h, w, limit):
            probs = post.softmax(self.segment_logits(pixels[y:y + th, x:x + tw]), 0, self.temperature)
            out[:, y + top:y + th - bottom, x + left:x + tw - right] = probs[:, top:th - bottom, left:tw - right]
        return out

    def _labels(self, pixels: np.ndarray) -> np.ndarray:
        if len(self.views) == 1:
            return self.segment_logits(pixels).argmax(0)
        return aug.average_probabilities(self.probabilities, pixels, self.views).argmax(0)

    def _limit(self) -> int:
        return min(self.fixed) if self.fixed else self.tile

    def _cores(self, h: int, w: int, tile: int):
        """Tiles and the margins (top, bottom, left, right) cut off each so that
        every pixel comes from the tile where it lies furthest from an edge."""
        half = self.overlap // 2
        for x, y, tw, th in pre.tiles(h, w, tile, self.overlap):
            yield (x, y, tw, th), ((half if y > 0 else 0), (half if y + th < h else 0),
                                   (half if x > 0 else 0), (half if x + tw < w else 0))

    def segment(self, source) -> np.ndarray:
        """Channel index per pixel of an image or window (an array, or an
        image source read window by window); tiled with overlap when larger
        than the tile (or than a fixed-size network's input); with the
        package's test-time augmentation, per tile."""
        region = ArrayRegion(source) if isinstance(source, np.ndarray) else source
        h, w = region.height, region.width
        tile = self._limit()
        if h <= tile and w <= tile:
            return self._labels(region.read_region(0, 0, w, h)).astype(np.uint8)
        out = np.zeros((h, w), np.uint8)
        for (x, y, tw, th), (top, bottom, left, right) in self._cores(h, w, tile):
            labels = self._labels(region.read_region(x, y, tw, th))
            out[y + top:y + th - bottom, x + left:x + tw - right] = labels[top:th - bottom, left:tw - right]
        return out

    # -- detection ------------------------------------------------------------------
    def detect(self, source, conf: float | None = None, iou: float | None = None, max_det: int | None = None,
               raw: bool = False) -> dict[str, np.ndarray]:
        """``boxes`` (n, 4) x1 y1 x2 y2 in image pixels, ``scores``, ``classes``
        (channel index).  Images over the package's ``above_pixels`` (those
        the studio too would not predict whole) are predicted tile by tile
        and merged."""
        asked, conf = conf, self.thresholds.get("confidence", 0.25) if conf is None else conf
        iou = self.thresholds.get("iou", 0.7) if iou is None else iou
        max_det = int(self.thresholds.get("max_detections", 300) if max_det is None else max_det)
        region = ArrayRegion(source) if isinstance(source, np.ndarray) else source
        h, w = region.height, region.width
        if h * w <= self.above_pixels:
            return self._detect_window(region.read_region(0, 0, w, h), conf, iou, max_det, raw, asked)
        parts = []
        for x, y, tw, th in pre.tiles(h, w, self.tile, self.overlap):
            found = self._detect_window(region.read_region(x, y, tw, th), conf, iou, max_det, False, asked)
            found["boxes"] = found["boxes"] + np.array([x, y, x, y], np.float32)
            parts.append(found)
        return post.merge_tiles(parts, iou, max_det)

    def _detect_window(self, pixels, conf, iou, max_det, raw, asked=None) -> dict[str, np.ndarray]:
        if len(self.views) == 1:
            return self._detect_view(pixels, conf, iou, max_det, raw, asked)
        h, w = pixels.shape[:2]
        found = []
        for view in self.views:
            one = self._detect_view(aug.apply(view, pixels), conf, iou, max_det, False, asked)
            one["boxes"] = aug.undo_boxes(view, one["boxes"], h, w)
            found.append(one)
        return aug.fuse_detections(found, h, w, conf, max_det)

    def _detect_view(self, pixels, conf, iou, max_det, raw, asked=None) -> dict[str, np.ndarray]:
        x, scale, offset = pre.letterbox_input(pixels, self.size)
        out = self.forward(x[None])[0][0]
        if self.ensemble:
            return self._fuse_members(out, pixels.shape[:2], scale, offset, conf, iou, max_det, asked)
        found = post.detections(out, conf, iou, max_det, self.temperature)
        found["boxes"] = post.unletterbox(found["boxes"], scale, offset, *pixels.shape[:2])
        if raw:
            found["raw"] = out
        return found

    def _fuse_members(self, outs, shape, scale, offset, conf, iou, max_det, asked) -> dict[str, np.ndarray]:
        """An ensemble's members, each at the confidence asked for (none
        asked: its own), fused by weighted box fusion; a calibration
        temperature applies to the fused scores (which it was fitted on)."""
        found = []
        for out, member in zip(outs, self.ensemble["members"]):
            one = post.detections(out, member["confidence"] if asked is None else asked, iou, max_det)
            one["boxes"] = post.unletterbox(one["boxes"], scale, offset, *shape)
            found.append(one)
        fused = aug.fuse_detections(found, *shape, conf, max_det, self.ensemble["fusion_iou"])
        if np.any(np.asarray(self.temperature) != 1.0) and len(fused["scores"]):
            t = np.broadcast_to(np.asarray(self.temperature, np.float64), (len(self.card["classes"]),))
            fused["scores"] = post.rescale(fused["scores"], t[fused["classes"]])
        return fused

    # -- classification -------------------------------------------------------------
    def classify(self, crops: list[np.ndarray], batch: int = 32) -> np.ndarray:
        """Class probabilities (n, K) of image crops."""
        out = []
        for start in range(0, len(crops), batch):
            x = np.stack([pre.square_input(c, self.size, self.mean, self.std) for c in crops[start:start + batch]])
            out.append(post.softmax(self.forward(x)[0], 1, self.temperature))
        return np.concatenate(out) if out else np.zeros((0, len(self.card["classes"])), np.float32)

    # -- pairs ----------------------------------------------------------------------
    def pair_inputs(self, pixels: np.ndarray, a, b) -> tuple[np.ndarray, np.ndarray]:
        from ..pipelines.pairs.geometry import pair_features, union_boxes, wrapped_window

        height, width = pixels.shape[:2]
        union = union_boxes(a, b, width)[0]
        crops = np.stack([pre.square_input(wrapped_window(pixels, *box), self.size, self.mean, self.std)
                          for box in (a, b, union)])
        return crops, pair_features(a, b, width, height)[0]

    def pairs(self, pixels: np.ndarray, boxes: np.ndarray, batch: int = 64) -> list[dict]:
        """Every candidate pair of person ``boxes``: ``{"i", "j", "interaction",
        "type", "type_probability"}`` as the PyTorch pair model gives them."""
        from ..pipelines.pairs.sampling import candidate_pairs

        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        keys = candidate_pairs(boxes, pixels.shape[1], self.thresholds.get("distance_multiplier", 3.0)).tolist()
        names = self.card.get("type_classes", [])
        out = []
        for start in range(0, len(keys), batch):
            chunk = keys[start:start + batch]
            inputs = [self.pair_inputs(pixels, boxes[i], boxes[j]) for i, j in chunk]
            logit, types = self.forward(np.stack([c for c, _ in inputs]), np.stack([g for _, g in inputs]))
            p, q = post.sigmoid(logit, self.temperature), post.softmax(types, 1)
            for (i, j), pi, qi in zip(chunk, p, q):
                k = int(qi.argmax())
                out.append({"i": i, "j": j, "interaction": float(pi), "type": names[k] if names else str(k),
                            "type_probability": float(qi[k])})
        return out
