"""Evaluating registered models: task metrics on the validation split and
efficiency (parameters, FLOPs, latency, FPS, memory)."""
from __future__ import annotations

from ..errors import TesseraError
from ..progress import Progress
from ..project import Project
from ..pipelines.pairs import PIPELINES as PAIR_PIPELINES
from .efficiency import profile


def validation_items(project: Project, model) -> list[list[int]]:
    """The validation part of the snapshot the model's job trained on (the
    training part when it had none)."""
    if model.job_id is None:
        raise TesseraError(f"model {model.id} has no job: nothing says which images are its validation set")
    snap = project.jobs.get(model.job_id).config.get("snapshot", {})
    return snap.get("val") or snap.get("train") or []


def evaluate_model(project: Project, model_id: int, progress: Progress | None = None, device: str = "cpu",
                   efficiency: bool = True) -> dict:
    model = project.jobs.model(model_id)
    items = validation_items(project, model)
    config = project.jobs.get(model.job_id).config
    if model.pipeline == "segmentation":
        from ..pipelines.segmentation.infer import load_model
        from .segmentation import evaluate_segmentation

        result = evaluate_segmentation(project, model, items, progress, device)
        main = {"miou": result["miou"]}
    elif model.pipeline == "detection":
        from ..pipelines.detection.infer import load_model
        from .detection import evaluate_detection

        result = evaluate_detection(project, model, [i[0] for i in items], progress, device)
        main = {"map50": result["map50"], "map50_95": result["map50_95"]}
    elif model.pipeline == "classification":
        from ..pipelines.classification.infer import load_model
        from .classification import evaluate_classification

        result = evaluate_classification(project, model, items, progress, device)
        main = {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"]}
    elif model.pipeline in PAIR_PIPELINES:
        from ..pipelines.pairs.infer import load_profiled as load_model
        from .pairs import evaluate_pairs

        result = evaluate_pairs(project, model, progress, device)
        result.pop("probabilities"), result.pop("targets")
        main = {"accuracy": result["accuracy"], "f1": result["f1"]}
        items = [[f] for f in {f["image_id"] for f in (config["snapshot"].get("val") or config["snapshot"]["train"])}]
    elif model.kind == "backbone":
        from ..pipelines.backbones import no_predictions

        raise no_predictions(model.id, "be evaluated (its k-NN accuracy is in its training history)")
    else:
        raise TesseraError(f"no evaluation for pipeline {model.pipeline!r} yet")
    out = {"model": model.id, "pipeline": model.pipeline, "architecture": model.architecture,
           "images": len({i[0] for i in items}), **main, "metrics": result}
    if efficiency:
        net, state = load_model(model.path)
        out["efficiency"] = profile(net, state.get("image_size", config.get("image_size", 512)),
                                    min(config.get("batch_size", 8), 8), device)
    return out
