"""Confidence calibration by temperature scaling (Guo et al., 2017): one
number T divides the network's logits so that a 0.8 confidence is right
about 80 % of the time; the predicted class never changes.

The temperature is fitted (negative log-likelihood, L-BFGS on log T) on half
of the model's validation items and the expected calibration error (ECE,
torchmetrics, 15 equal-width bins) is measured before and after on the
other half, so the improvement reported is one the fit has not seen.

- segmentation and classification: one temperature for the softmax;
- detection: the class scores are sigmoids; each detection above a low
  confidence is right when it matches an unmatched true box of its class at
  IoU 0.5 (pycocotools' IoU).  ``per-class`` fits a temperature for each
  class with enough detections and a shared one for the rest; ``critical``
  fits its own only for the critical classes;
- pairs (stage 1): the interaction sigmoid.

Scores are taken from the exported FP32 network in the package (which the
gate holds equal to the PyTorch model)."""
from __future__ import annotations

import numpy as np

from ..errors import TesseraError
from ..evaluate import validation_items
from ..imagery.reader import open_image
from ..progress import Progress, track
from ..project import Project
from .postprocess import logit
from .runtime import Predictor

BINS = 15
MODES = ("per-class", "critical")
MATCH_IOU = 0.5
DETECTION_FLOOR = 0.01  # detections below this confidence are not calibrated (nor kept by users)
MIN_CLASS_SAMPLES = 20  # a class's own temperature needs this many detections in the fit half
PIXELS_PER_WINDOW = 4096


def fit_temperature(logits: np.ndarray, targets: np.ndarray, binary: bool) -> float:
    """The T minimising the NLL of ``logits / T`` (``logits`` (n, K) and
    class indices, or (n,) and 0/1 for a sigmoid)."""
    import torch
    import torch.nn.functional as F

    if len(targets) == 0:
        return 1.0
    z = torch.as_tensor(np.asarray(logits, np.float64))
    y = torch.as_tensor(np.asarray(targets))
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def loss_fn():
        opt.zero_grad()
        scaled = z / log_t.exp()
        loss = (F.binary_cross_entropy_with_logits(scaled, y.double()) if binary
                else F.cross_entropy(scaled, y.long()))
        loss.backward()
        return loss

    opt.step(loss_fn)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, binary: bool) -> float:
    import torch
    from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

    if len(targets) == 0:
        return 0.0
    p = torch.as_tensor(np.asarray(probs, np.float32))
    y = torch.as_tensor(np.asarray(targets)).long()
    if binary:
        return float(binary_calibration_error(p, y, n_bins=BINS, norm="l1"))
    return float(multiclass_calibration_error(p, y, num_classes=p.shape[1], n_bins=BINS, norm="l1"))


def _scaled(logits: np.ndarray, t, binary: bool) -> np.ndarray:
    from .postprocess import sigmoid, softmax

    return sigmoid(logits, t) if binary else softmax(logits, 1, t)


def _keep_if_better(result: dict, identity) -> dict:
    """A temperature that does not lower the held-out error is not applied
    (the package keeps the network's own scores) and the report says so."""
    if result.get("note"):
        return result
    applied = result["ece_after"] < result["ece_before"]
    if not applied:
        result.update(fitted_temperature=result["temperature"], temperature=identity,
                      note="the fitted temperature did not lower the held-out calibration error; not applied")
    return {**result, "applied": applied}


def not_fitted(base: dict, reason: str, identity) -> dict:
    """What the package holds when no temperature could be fitted: the
    network's own scores, and the reason."""
    return {**base, "temperature": identity, "applied": False, "note": reason, "ece_before": None,
            "ece_after": None, "fit_samples": 0, "held_out_samples": 0}


def halves(items: list) -> tuple[list, list]:
    """The fit half and the held-out half (alternate items; both the whole
    list when there are fewer than two)."""
    if len(items) < 2:
        return items, items
    return items[0::2], items[1::2]


# -- what each task's network says about its validation items ---------------------
def _segmentation_samples(project: Project, state: dict, predictor: Predictor, items, progress):
    from ..pipelines.segmentation.data import IGNORE, class_lut

    lut = class_lut(state["classes"])
    rng = np.random.default_rng(0)
    logits, targets = [], []
    limit = min(predictor.fixed) if predictor.fixed else predictor.tile
    for image_id, x, y, w, h in track(items, progress, message="calibration: scoring pixels"):
        mask = project.masks.get(image_id)
        if mask is None:
            continue
        w, h = min(w, limit), min(h, limit)
        image = project.images.get(image_id)
        with open_image(image.file(project.root)) as src:
            z = predictor.segment_logits(src.read_region(x, y, w, h))
        target = lut[mask[y:y + h, x:x + w]].reshape(-1)
        valid = np.nonzero(target != IGNORE)[0]
        pick = rng.choice(valid, min(len(valid), PIXELS_PER_WINDOW), replace=False) if len(valid) else valid
        logits.append(z.reshape(z.shape[0], -1)[:, pick].T)
        targets.append(target[pick])
    k = len(predictor.card["classes"])
    return (np.concatenate(logits) if logits else np.zeros((0, k)),
            np.concatenate(targets) if targets else np.zeros(0, int))


def _classification_samples(project: Project, state: dict, predictor: Predictor, items, progress):
    from ..pipelines.classification.data import padded
    from .preprocess import square_input

    index = {c["id"]: i for i, c in enumerate(state["classes"])}
    padding = predictor.card["preprocessing"].get("crop_padding", 0.0)
    logits, targets = [], []
    for item in track([it for it in items if it[5] in index], progress, message="calibration: scoring crops"):
        image = project.images.get(item[0])
        x, y, w, h = padded(item, image.width, image.height, padding)
        with open_image(image.file(project.root)) as src:
            crop = src.read_region(x, y, w, h)
        logits.append(predictor.forward(square_input(crop, predictor.size, predictor.mean, predictor.std)[None])[0][0])
        targets.append(index[item[5]])
    return np.array(logits).reshape(len(targets), -1), np.array(targets, int)


def _detection_samples(project: Project, state: dict, predictor: Predictor, image_ids, progress):
    """Per detection: the logit of its score, its class and whether it is right."""
    from pycocotools import mask as mask_utils

    from ..evaluate.detection import ground_truth

    truth = ground_truth(project, image_ids, state["classes"])
    boxes_of = {}
    for ann in truth["annotations"]:
        boxes_of.setdefault((ann["image_id"], ann["category_id"] - 1), []).append(ann["bbox"])
    logits, classes, right = [], [], []
    for image_id in track(image_ids, progress, message="calibration: scoring detections"):
        image = project.images.get(image_id)
        with open_image(image.file(project.root)) as src:
            found = predictor.detect(src.read(), conf=DETECTION_FLOOR)
        for k in np.unique(found["classes"]):
            sel = np.nonzero(found["classes"] == k)[0]
            sel = sel[np.argsort(-found["scores"][sel], kind="stable")]
            gt = boxes_of.get((image_id, int(k)), [])
            b = found["boxes"][sel].astype(np.float64)
            dt = np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], 1)
            iou = mask_utils.iou(dt.tolist(), gt, [0] * len(gt)) if gt else np.zeros((len(sel), 0))
            iou = np.asarray(iou, np.float64).reshape(len(sel), len(gt))
            taken = np.zeros(len(gt), bool)
            for row, i in enumerate(sel):
                hit = False
                if len(gt):
                    cand = np.where(taken, -1.0, iou[row])
                    j = int(cand.argmax())
                    hit = cand[j] >= MATCH_IOU
                    taken[j] |= hit
                logits.append(float(logit(found["scores"][i])))
                classes.append(int(k))
                right.append(int(hit))
    return np.array(logits, np.float64), np.array(classes, int), np.array(right, int)


def _pair_samples(project: Project, state: dict, predictor: Predictor, frames, progress):
    """Interaction logits and 0/1 targets of the evaluation pairs (the pair
    evaluation's own sampling), scored by the package at temperature 1."""
    from ..evaluate.pairs import evaluate_frames
    from .validate import pair_outputs

    out = evaluate_frames(None, state, project.root, frames, progress=progress,
                          predict_fn=lambda dataset, keys: pair_outputs(predictor, dataset, keys, temperature=1.0))
    return logit(np.asarray(out["probabilities"])), np.asarray(out["targets"], int)


# -- the fit ------------------------------------------------------------------------
def calibrate(project: Project, model, predictor: Predictor, mode: str = "per-class",
              progress: Progress | None = None) -> dict:
    """The calibration of the package behind ``predictor`` (fitted with its
    temperature at 1): what goes into ``model.json`` under ``calibration``."""
    if mode not in MODES:
        raise TesseraError(f"unknown calibration mode {mode!r}; expected one of {', '.join(MODES)}")
    from .onnx_export import load_net

    task = predictor.task
    state = load_net(model)[1]
    base = {"method": "temperature scaling", "bins": BINS, "split": "alternate validation items: "
            "even ones fit the temperature, odd ones measure the ECE"}
    if task == "detection":
        result = {**base, **_calibrate_detection(project, model, state, predictor, mode, progress)}
        return _keep_if_better(result, [1.0] * len(result["temperature"]))
    if task == "pairs":
        if state["stage"] != 1:
            raise TesseraError("calibration covers pair models of stage 1 (the interaction score); "
                               f"model {model.id} is stage {state['stage']}")
        from .validate import pair_frames

        fit, held = halves(pair_frames(project, model))
        (z_fit, y_fit), (z_held, y_held) = (_pair_samples(project, state, predictor, f, progress) for f in (fit, held))
        binary = True
    else:
        fit, held = halves(validation_items(project, model))
        collect = _segmentation_samples if task == "segmentation" else _classification_samples
        (z_fit, y_fit), (z_held, y_held) = (collect(project, state, predictor, part, progress) for part in (fit, held))
        binary = False
    if len(y_fit) == 0:
        return not_fitted(base, f"model {model.id} has no labelled validation items to calibrate on", 1.0)
    t = fit_temperature(z_fit, y_fit, binary)
    return _keep_if_better({
        **base, "temperature": round(t, 4),
        "ece_before": round(expected_calibration_error(_scaled(z_held, 1.0, binary), y_held, binary), 5),
        "ece_after": round(expected_calibration_error(_scaled(z_held, t, binary), y_held, binary), 5),
        "fit_samples": int(len(y_fit)), "held_out_samples": int(len(y_held))}, 1.0)


def _calibrate_detection(project: Project, model, state: dict, predictor: Predictor, mode: str, progress) -> dict:
    classes = state["classes"]
    fit, held = halves([i[0] for i in validation_items(project, model)])
    z_fit, k_fit, y_fit = _detection_samples(project, state, predictor, fit, progress)
    z_held, k_held, y_held = _detection_samples(project, state, predictor, held, progress)
    if len(y_fit) == 0:
        return not_fitted({}, f"model {model.id} finds nothing above confidence {DETECTION_FLOOR} on its "
                              "validation images to calibrate", [1.0] * len(classes))
    shared = fit_temperature(z_fit, y_fit, True)
    temps = np.full(len(classes), shared)
    own = []
    for k, c in enumerate(classes):
        wanted = mode == "per-class" or c.get("critical")
        if wanted and (k_fit == k).sum() >= MIN_CLASS_SAMPLES:
            temps[k] = fit_temperature(z_fit[k_fit == k], y_fit[k_fit == k], True)
            own.append(c["name"])
    after = _scaled(z_held, temps[k_held], True) if len(k_held) else np.zeros(0)
    return {"temperature": [round(float(t), 4) for t in temps], "mode": mode, "shared_temperature": round(shared, 4),
            "own_temperature": own, "match_iou": MATCH_IOU, "confidence_floor": DETECTION_FLOOR,
            "ece_before": round(expected_calibration_error(_scaled(z_held, 1.0, True), y_held, True), 5),
            "ece_after": round(expected_calibration_error(after, y_held, True), 5),
            "fit_samples": int(len(y_fit)), "held_out_samples": int(len(y_held))}
