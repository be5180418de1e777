"""Segmentation evaluation: mIoU, per-class IoU and pixel accuracy on the
validation windows (no-data pixels ignored), through torchmetrics."""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from ..pipelines.segmentation.data import IGNORE, class_lut
from ..pipelines.segmentation.infer import load_model, predict
from ..progress import Progress, track
from ..project import Project
from ..imagery.reader import open_image


def evaluate_segmentation(project: Project, model, items: list[list[int]], progress: Progress | None = None,
                          device: str = "cpu", keep_predictions: bool = False, predict_fn=None) -> dict:
    """``predict_fn(pixels) -> labels`` replaces the PyTorch model (an
    exported one is judged by the same code)."""
    net, state = load_model(model.path)
    if predict_fn is None:
        net = net.to(device)
        predict_fn = lambda pixels: predict(net, pixels, device)  # noqa: E731
    classes = state["classes"]
    lut = class_lut(classes)
    n = len(classes)
    confmat = MulticlassConfusionMatrix(n, ignore_index=IGNORE)
    predictions = {}
    for image_id, x, y, w, h in track(items, progress, message="evaluating"):
        image = project.images.get(image_id)
        with open_image(image.file(project.root)) as src:
            pixels = src.read_region(x, y, w, h)
        mask = project.masks.get(image_id)
        if mask is None:
            continue
        target = lut[mask[y:y + h, x:x + w]]
        pred = predict_fn(pixels)
        confmat.update(torch.from_numpy(pred.astype(np.int64)), torch.from_numpy(target.astype(np.int64)))
        if keep_predictions:
            predictions[(image_id, x, y, w, h)] = pred
    cm = confmat.compute().numpy().astype(np.int64)  # rows: truth, columns: prediction
    return {**scores_from_confusion(cm, [c["name"] for c in classes]),
            "confusion_matrix": cm.tolist(), "classes": [c["name"] for c in classes],
            **({"predictions": predictions} if keep_predictions else {})}


def scores_from_confusion(cm: np.ndarray, names: list[str]) -> dict:
    tp = np.diag(cm).astype(float)
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    iou = np.where(present, tp / np.maximum(union, 1), np.nan)
    return {"miou": float(np.nanmean(iou)) if present.any() else 0.0,
            "pixel_accuracy": float(tp.sum() / max(1, cm.sum())),
            "per_class_iou": {name: (None if np.isnan(v) else float(v)) for name, v in zip(names, iou)},
            "pixels": int(cm.sum())}
