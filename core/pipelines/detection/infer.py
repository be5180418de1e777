"""Running a registered detection model: letterbox, forward, NMS, boxes back
in image pixels."""
from __future__ import annotations

import numpy as np
import torch

from ...errors import TesseraError
from ...export.preprocess import letterbox
from ...jobs.checkpoints import load_checkpoint

MAX_DETECTIONS = 300  # per image, as ultralytics keeps after NMS


def load_model(path: str):
    """(network, state) of a registered detection model; an ensemble comes
    back as one network that ``predict`` runs whole."""
    state = load_checkpoint(path)
    from .ensemble import FORMAT as ENSEMBLE, load_ensemble

    if state.get("format") == ENSEMBLE:
        return load_ensemble(state)
    if state.get("format") != "tessera-detection-v1":
        raise TesseraError("not a Tessera detection model", path)
    from .train import build_model

    return build_model(state), state


def embedding_layer(net) -> torch.nn.Module:
    """The last backbone layer (SPPF in the YOLO family): its pooled output
    is the image's embedding for diversity selection."""
    layers = list(net.model)
    return next((m for m in layers if type(m).__name__ in ("SPPF", "SPPELAN")), layers[len(layers) // 2])


@torch.inference_mode()
def predict(net, pixels: np.ndarray, size: int, conf: float = 0.001, iou: float = 0.7, max_det: int = MAX_DETECTIONS,
            device: str = "cpu", details: bool = False) -> dict[str, np.ndarray]:
    """``{"boxes": (n, 4) x1 y1 x2 y2, "scores": (n,), "classes": (n,) channel index}``;
    with ``details`` also ``"class_scores"`` (n, K): every class's score for
    each kept box, and ``"embedding"``: the pooled backbone features."""
    from ultralytics.utils.nms import non_max_suppression

    from .ensemble import Ensemble

    if isinstance(net, Ensemble):
        if details:
            raise TesseraError("an ensemble gives no per-box class scores or embedding (active learning): "
                               "choose one of its members")
        return net.predict(pixels, conf, iou, max_det, device)
    boxed, scale, (left, top) = letterbox(pixels, size)
    x = torch.from_numpy(boxed).permute(2, 0, 1).float()[None].to(device) / 255.0
    pooled = []
    hook = (embedding_layer(net).register_forward_hook(lambda m, i, o: pooled.append(o.mean((2, 3))[0]))
            if details else None)
    try:
        out = net(x)
    finally:
        if hook is not None:
            hook.remove()
    out = out[0] if isinstance(out, (list, tuple)) else out
    kept, keep = non_max_suppression(out, conf_thres=conf, iou_thres=iou, max_det=max_det, return_idxs=True)
    det = kept[0].cpu().numpy()
    extra = {}
    if details:
        nc = len(net.names) if getattr(net, "names", None) else out.shape[1] - 4
        extra = {"class_scores": out[0, 4:4 + nc, keep[0].reshape(-1).long().to(out.device)].transpose(0, 1).float().cpu().numpy().reshape(len(det), nc),
                 "embedding": pooled[0].float().cpu().numpy()}
    boxes = det[:, :4].copy()
    boxes[:, [0, 2]] = (boxes[:, [0, 2]] - left) / scale
    boxes[:, [1, 3]] = (boxes[:, [1, 3]] - top) / scale
    h, w = pixels.shape[:2]
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    return {"boxes": boxes, "scores": det[:, 4], "classes": det[:, 5].astype(int), **extra}
