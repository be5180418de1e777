"""Classification evaluation: accuracy, macro F1, per-class F1 and the
confusion matrix on the validation samples."""
from __future__ import annotations

import numpy as np
import torch
from torchmetrics.classification import MulticlassConfusionMatrix

from ..pipelines.classification.data import padded
from ..pipelines.classification.infer import load_model, predict_proba
from ..imagery.reader import open_image
from ..progress import Progress, track
from ..project import Project


def evaluate_classification(project: Project, model, items: list[list[int]], progress: Progress | None = None,
                            device: str = "cpu", batch: int = 32, predict_fn=None) -> dict:
    """``predict_fn(crops) -> probabilities (n, K)`` replaces the PyTorch model."""
    net, state = load_model(model.path)
    if predict_fn is None:
        net = net.to(device)
        predict_fn = lambda crops: predict_proba(net, crops, state["image_size"], device)  # noqa: E731
    names = [c["name"] for c in state["classes"]]
    index = {c["id"]: i for i, c in enumerate(state["classes"])}
    items = [it for it in items if it[5] in index]
    confmat = MulticlassConfusionMatrix(len(names))
    for start in track(range(0, len(items), batch), progress, message="evaluating"):
        chunk = items[start:start + batch]
        crops = []
        for item in chunk:
            image = project.images.get(item[0])
            x, y, w, h = padded(item, image.width, image.height, state["crop_padding"])
            with open_image(image.file(project.root)) as src:
                crops.append(src.read_region(x, y, w, h))
        probs = predict_fn(crops)
        confmat.update(torch.from_numpy(probs.argmax(1)), torch.tensor([index[it[5]] for it in chunk]))
    cm = confmat.compute().numpy().astype(np.int64)
    return {**scores_from_confusion(cm, names), "confusion_matrix": cm.tolist(), "classes": names,
            "samples": len(items)}


def scores_from_confusion(cm: np.ndarray, names: list[str]) -> dict:
    tp = np.diag(cm).astype(float)
    precision = tp / np.maximum(cm.sum(0), 1)
    recall = tp / np.maximum(cm.sum(1), 1)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    present = cm.sum(1) > 0
    return {"accuracy": float(tp.sum() / max(1, cm.sum())),
            "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
            "per_class_f1": {n: float(v) for n, v in zip(names, f1)},
            "per_class_precision": {n: float(v) for n, v in zip(names, precision)},
            "per_class_recall": {n: float(v) for n, v in zip(names, recall)},
            "per_class_support": {n: int(v) for n, v in zip(names, cm.sum(1))}}
