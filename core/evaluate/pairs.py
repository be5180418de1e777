"""Judging a pair model: interaction (stage 1) or interaction type (stage 2)
on every candidate pair of the validation frames, with the files a pair run
writes (evaluation_report.txt, confusion_matrix.png,
probability_distributions.png, training_curves.png)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..pipelines.pairs.data import PairCrops
from ..pipelines.pairs.infer import load_model
from ..pipelines.pairs.model import PairNet
from ..pipelines.pairs.sampling import Frame, evaluation_pairs
from ..progress import Progress, track
from . import plots
from .classification import scores_from_confusion

STAGE1_NAMES = ["no interaction", "interaction"]


@torch.inference_mode()
def predict(net: PairNet, dataset: PairCrops, keys: list[tuple], device: str = "cpu", batch: int = 64,
            progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """P(interaction) (n,) and the type probabilities (n, K) of each sample."""
    from torch.utils.data import DataLoader

    net = net.to(device).eval()
    loader = DataLoader(dataset, batch_size=batch, sampler=keys, num_workers=0)
    interact, types = [], []
    for crops, geometry, _ in track(loader, progress, total=len(loader), message="scoring pairs"):
        logit, type_logits = net(crops.to(device), geometry.to(device))
        interact.append(torch.sigmoid(logit.float()).cpu())
        types.append(torch.softmax(type_logits.float(), 1).cpu())
    if not interact:
        return np.zeros(0), np.zeros((0, net.type_head[-1].out_features))
    return torch.cat(interact).numpy(), torch.cat(types).numpy()


def judge(stage: int, targets: np.ndarray, interact: np.ndarray, types: np.ndarray, names: list[str]) -> dict:
    """Accuracy, precision / recall / F1 per class and the confusion matrix."""
    targets = np.asarray(targets, dtype=np.int64)
    if stage == 1:
        names, preds, probs = STAGE1_NAMES, (interact > 0.5).astype(np.int64), interact
    else:
        preds, probs = types.argmax(1) if len(types) else np.zeros(0, np.int64), types
    k = len(names)
    cm = np.bincount(targets * k + preds, minlength=k * k).reshape(k, k) if len(targets) else np.zeros((k, k), int)
    out = scores_from_confusion(cm, names)
    if stage == 1:
        tp, fp, fn = cm[1, 1], cm[0, 1], cm[1, 0]
        out["f1"] = float(2 * tp / max(1, 2 * tp + fp + fn))
    else:
        out["f1"] = out["macro_f1"]
    return {**out, "confusion_matrix": cm.tolist(), "classes": names, "samples": int(len(targets)),
            "probabilities": np.asarray(probs).tolist(), "targets": targets.tolist()}


def evaluate_frames(net: PairNet | None, state: dict, project_root, frames: list[Frame], device: str = "cpu",
                    progress: Progress | None = None, predict_fn=None) -> dict:
    """``predict_fn(dataset, keys) -> (P(interaction), type probabilities)``
    replaces the PyTorch model (an exported one is judged by the same code)."""
    stage = state["stage"]
    names = list(state["type_classes"])
    other = bool(names) and names[-1] == "other" and state.get("other_class", False)
    keys = evaluation_pairs(frames, state["distance_multiplier"], stage, names[:-1] if other else names, other)
    dataset = PairCrops(str(project_root), frames, state["image_size"])
    interact, types = (predict_fn(dataset, keys) if predict_fn is not None
                       else predict(net, dataset, keys, device, progress=progress))
    result = judge(stage, np.array([k[3] for k in keys], dtype=np.int64), interact, types, names)
    if stage == 1:  # the interacting pairs the distance limit never offers the model
        total = sum(len(f.interactions) for f in frames)
        result["interacting_pairs_all"] = total
        result["interacting_pairs_within_distance"] = int(sum(k[3] for k in keys))
    return result


def evaluate_pairs(project, model, progress: Progress | None = None, device: str = "cpu") -> dict:
    """The model on its job's validation frames (training frames when it had none)."""
    net, state = load_model(model.path)
    snap = project.jobs.get(model.job_id).config.get("snapshot", {})
    frames = [Frame.from_json(f) for f in (snap.get("val") or snap.get("train") or [])]
    return evaluate_frames(net, state, project.root, frames, device, progress)


def report_text(result: dict, stage: int, title: str, sampling: dict | None = None) -> str:
    names = result["classes"]
    width = max(12, *(len(n) for n in names))
    lines = [title, "=" * len(title), "",
             f"pairs judged: {result['samples']} ({'every candidate pair within the distance limit' if stage == 1 else 'every interacting pair with a type'})",
             f"accuracy:     {result['accuracy']:.4f}",
             f"F1:           {result['f1']:.4f}" + ("  (of the interaction class)" if stage == 1 else "  (macro over types)"),
             ""]
    if stage == 1 and "interacting_pairs_all" in result:
        total, near = result["interacting_pairs_all"], result["interacting_pairs_within_distance"]
        recall = result["per_class_recall"]["interaction"]
        lines += [f"interacting pairs in these frames: {total}; within the distance limit: {near} "
                  f"({near / max(1, total):.1%})",
                  f"recall over all interacting pairs (the limit's losses included): "
                  f"{recall * near / max(1, total):.4f}", ""]
    lines.append(f"{'class':<{width}}  precision  recall     F1         support")
    for n in names:
        lines.append(f"{n:<{width}}  {result['per_class_precision'][n]:<9.4f}  {result['per_class_recall'][n]:<9.4f}  "
                     f"{result['per_class_f1'][n]:<9.4f}  {result['per_class_support'][n]}")
    lines += ["", "confusion matrix (rows: truth, columns: prediction)",
              " " * (width + 2) + "".join(f"{n[:10]:>12}" for n in names)]
    for n, row in zip(names, result["confusion_matrix"]):
        lines.append(f"{n:<{width}}  " + "".join(f"{v:>12d}" for v in row))
    if sampling:
        lines += ["", "training pair sampling (first epoch)"]
        lines += [f"  {k}: {v:.4f}" if isinstance(v, float) else f"  {k}: {v}" for k, v in sampling.items()]
    return "\n".join(lines) + "\n"


def write_run_files(run_dir: Path, result: dict, stage: int, history: dict, title: str,
                    sampling: dict | None = None) -> list[Path]:
    """The report, confusion matrix, probability histograms and curves of a run."""
    run_dir = Path(run_dir)
    names, targets = result["classes"], np.asarray(result["targets"], dtype=np.int64)
    probs = np.asarray(result["probabilities"], dtype=float)
    report = run_dir / "evaluation_report.txt"
    report.write_text(report_text(result, stage, title, sampling))
    files = [report, plots.confusion(result["confusion_matrix"], names, f"{title} (rows: truth)",
                                     run_dir / "confusion_matrix.png")]
    if stage == 1:
        panels = [("P(interaction)", probs, targets == 1)]
    else:
        probs = probs.reshape(len(targets), len(names))
        panels = [(f"P({n})", probs[:, k], targets == k) for k, n in enumerate(names)]
    files.append(plots.probability_histograms(panels, run_dir / "probability_distributions.png"))
    files.append(plots.training_curves({title: history}, ["accuracy", "f1"], run_dir / "training_curves.png"))
    return files
