"""The accuracy gate: an exported model is not called good until it has been
measured against the PyTorch model it came from, on that model's validation
images, through the package's own preprocessing and postprocessing.

Per format: the largest and mean difference of the raw outputs on the same
inputs, the task metric of each (mIoU, mAP50-95, accuracy, F1) and its
change, the latency of one forward pass at batch 1, and pass / fail: the
metric may not move by more than the format's threshold either way (the
gate judges whether the export behaves like its model, not whether it is
good: a metric that rises is as much a sign of a different model)."""
from __future__ import annotations

import time

import numpy as np

from ..evaluate import validation_items
from ..imagery.reader import open_image
from ..progress import Progress
from ..project import Project
from .card import read_card
from .onnx_export import load_net, torch_outputs
from .runtime import Predictor

THRESHOLDS = {"onnx": 0.001, "onnx-fp16": 0.01, "tensorrt": 0.01}  # largest allowed change of the metric
METRICS = {"segmentation": ("miou", "pixel_accuracy"), "detection": ("map50_95", "map50"),
           "classification": ("accuracy", "macro_f1"), "pairs": ("f1", "accuracy")}
PARITY_SAMPLES = 4
LATENCY_RUNS = 10


def pair_frames(project: Project, model):
    from ..pipelines.pairs.sampling import Frame

    snap = project.jobs.get(model.job_id).config.get("snapshot", {})
    return [Frame.from_json(f) for f in (snap.get("val") or snap.get("train") or [])]


def metrics(project: Project, model, task: str, predictor: Predictor | None = None, device: str = "cpu",
            progress: Progress | None = None) -> dict:
    """The task's evaluation on the model's validation items, by PyTorch
    (``predictor`` None) or by a package predictor, through the same code."""
    items = validation_items(project, model)
    if task == "segmentation":
        from ..evaluate.segmentation import evaluate_segmentation

        fn = predictor.segment if predictor else None
        return evaluate_segmentation(project, model, items, progress, device, predict_fn=fn)
    if task == "detection":
        from ..evaluate.detection import evaluate_detection

        fn = (lambda pixels: predictor.detect(pixels, conf=0.001)) if predictor else None
        return evaluate_detection(project, model, [i[0] for i in items], progress, device, predict_fn=fn)
    if task == "classification":
        from ..evaluate.classification import evaluate_classification

        fn = predictor.classify if predictor else None
        return evaluate_classification(project, model, items, progress, device, predict_fn=fn)
    from ..evaluate.pairs import evaluate_frames

    net, state = load_net(model)
    net = None if predictor else net
    fn = (lambda dataset, keys: pair_outputs(predictor, dataset, keys)) if predictor else None
    out = evaluate_frames(net, state, project.root, pair_frames(project, model), device, progress, predict_fn=fn)
    out.pop("probabilities", None), out.pop("targets", None)
    return out


def pair_outputs(predictor: Predictor, dataset, keys: list[tuple], batch: int = 64, temperature=None):
    """P(interaction) and type probabilities of evaluation pairs, by the package."""
    from .postprocess import sigmoid, softmax

    temperature = predictor.temperature if temperature is None else temperature
    interact, types = [], []
    for start in range(0, len(keys), batch):
        inputs = [_pair_input(predictor, dataset, key) for key in keys[start:start + batch]]
        logit, type_logits = predictor.forward(np.stack([c for c, _ in inputs]), np.stack([g for _, g in inputs]))
        interact.append(sigmoid(logit, temperature))
        types.append(softmax(type_logits, 1))
    k = len(predictor.card.get("type_classes", []))
    return (np.concatenate(interact) if interact else np.zeros(0),
            np.concatenate(types) if types else np.zeros((0, k)))


def _pair_input(predictor: Predictor, dataset, key):
    frame = dataset.frames[key[0]]
    return predictor.pair_inputs(dataset.reader.frame(frame.image_id), frame.boxes[key[1]], frame.boxes[key[2]])


def parity_inputs(project: Project, model, task: str, predictor: Predictor, n: int = PARITY_SAMPLES
                  ) -> list[tuple[np.ndarray, ...]]:
    """Up to ``n`` real network inputs from the validation items, made by the
    package's preprocessing (batch 1)."""
    items = validation_items(project, model)[:n]
    out = []
    if task == "pairs":
        frames = [f for f in pair_frames(project, model) if len(f.boxes) >= 2][:n]
        for frame in frames:
            image = project.images.get(frame.image_id)
            with open_image(image.file(project.root)) as src:
                pixels = src.read()
            crops, geometry = predictor.pair_inputs(pixels, frame.boxes[0], frame.boxes[1])
            out.append((crops[None], geometry[None]))
        return out
    for item in items:
        image = project.images.get(item[0])
        with open_image(image.file(project.root)) as src:
            if task == "segmentation":
                out.append((predictor.segmentation_input(src.read_region(*item[1:5]))[None],))
            elif task == "detection":
                from .preprocess import letterbox_input

                out.append((letterbox_input(src.read(), predictor.size)[0][None],))
            else:
                from ..pipelines.classification.data import padded

                x, y, w, h = padded(item, image.width, image.height, predictor.card["preprocessing"].get(
                    "crop_padding", 0.0))
                from .preprocess import square_input

                out.append((square_input(src.read_region(x, y, w, h), predictor.size, predictor.mean,
                                         predictor.std)[None],))
    return out


def latency_ms(fn, inputs: tuple[np.ndarray, ...], runs: int = LATENCY_RUNS) -> float:
    """Median milliseconds of ``fn(*inputs)`` after two warm-up calls."""
    for _ in range(2):
        fn(*inputs)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn(*inputs)
        times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1000, 3)


def validate(project: Project, model, folder, formats: list[str], thresholds: dict | None = None,
             device: str = "cpu", progress: Progress | None = None) -> dict:
    """The validation report of the package in ``folder`` for ``formats``."""
    card = read_card(folder)
    task = card["task"]
    limits = {**THRESHOLDS, **(thresholds or {})}
    main, second = METRICS[task]
    net, _ = load_net(model)
    net = net.to(device)
    reference = metrics(project, model, task, None, device, progress)
    report = {"model": model.id, "task": task, "metric": main, "device": device,
              "pytorch": {main: reference[main], second: reference[second]}, "formats": {}, "passed": True}
    for fmt in formats:  # the network alone: no augmentation, no calibration
        predictor = Predictor(folder, fmt, device, card=card, tta=False, calibrated=False)
        samples = parity_inputs(project, model, task, predictor)
        diffs = []
        for inputs in samples:
            for a, b in zip(torch_outputs(task, net, inputs, device), predictor.forward(*inputs)):
                diffs.append(np.abs(a.astype(np.float64) - np.asarray(b, np.float64).reshape(a.shape)))
        result = metrics(project, model, task, predictor, device, progress)  # the longest part: show it
        change = result[main] - reference[main]
        entry = {main: result[main], second: result[second], "change": round(change, 6),
                 "threshold": limits[fmt], "passed": bool(abs(change) <= limits[fmt]),
                 "max_abs_difference": float(max((d.max() for d in diffs), default=0.0)),
                 "mean_abs_difference": float(np.mean([d.mean() for d in diffs])) if diffs else 0.0,
                 "parity_samples": len(samples)}
        if samples:
            import torch

            with torch.inference_mode():
                entry["latency_ms"] = latency_ms(predictor.forward, samples[0])
                if "latency_ms" not in report["pytorch"]:
                    report["pytorch"]["latency_ms"] = latency_ms(
                        lambda *a: torch_outputs(task, net, a, device), samples[0])
        report["formats"][fmt] = entry
        report["passed"] = report["passed"] and entry["passed"]
    if card.get("tta") and "onnx" in report["formats"]:
        report["tta"] = _with_tta(project, model, folder, card, device, progress, report["formats"]["onnx"], main, second)
    if card.get("calibration"):
        report["calibration"] = _calibration_summary(project, model, folder, card, device, progress, reference, main)
    return report


def _with_tta(project, model, folder, card, device, progress, plain: dict, main: str, second: str) -> dict:
    """The ONNX package's metric with its test-time augmentation, beside the
    same package without it (informative: the gate judges the network)."""
    predictor = Predictor(folder, "onnx", device, card=card, calibrated=False)
    result = metrics(project, model, card["task"], predictor, device, progress)
    return {"kinds": card["tta"]["kinds"], "views": [v.name() for v in predictor.views], main: result[main],
            second: result[second], "without": plain[main], "change": round(result[main] - plain[main], 6)}


def _calibration_summary(project, model, folder, card, device, progress, reference: dict, main: str) -> dict:
    """The calibration's ECE before and after; for detection (whose scores
    it changes) also the package's metric with it."""
    out = {k: v for k, v in card["calibration"].items() if k in ("temperature", "ece_before", "ece_after", "mode", "applied", "note")}
    if card["task"] == "detection":
        predictor = Predictor(folder, "onnx", device, card=card, tta=False)
        result = metrics(project, model, "detection", predictor, device, progress)
        out.update({main: result[main], "change": round(result[main] - reference[main], 6)})
    return out
