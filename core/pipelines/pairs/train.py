"""``pairs-stage1`` and ``pairs-stage2`` trainer, run by the worker."""
from __future__ import annotations

import json

import lightning.pytorch as pl
import numpy as np
import torch

from ...jobs.context import JobContext, TrainResult
from ..lightning_bridge import fit, loaders
from ..weights import load_start_weights
from .data import EpochPairs, PairCrops
from .module import PairModule
from .sampling import Frame, evaluation_pairs

#: The further best checkpoints every pair run keeps (``best`` is by val_f1 too).
TRACKED = {"best_accuracy": ("val_accuracy", "max"), "best_loss": ("val_loss", "min"), "best_f1": ("val_f1", "max")}


def describe(cfg: dict) -> str:
    return f"pairs/{cfg['architecture']}"


def _class_weights(sampler: EpochPairs, k: int) -> list[float]:
    counts = np.bincount([s[3] for s in sampler.draw(0)], minlength=k).astype(float)
    return (counts.sum() / np.maximum(counts, 1) / k).tolist()


def _write_config(ctx: JobContext) -> None:
    cfg = {k: v for k, v in ctx.config.items() if k != "snapshot"}
    cfg["frames"] = {split: [f["image_id"] for f in frames] for split, frames in ctx.config["snapshot"].items()}
    cfg["pipeline"] = ctx.pipeline.name
    (ctx.run_dir / "config.json").write_text(json.dumps(cfg, indent=2))


def train(ctx: JobContext) -> TrainResult:
    from ...evaluate.pairs import evaluate_frames, write_run_files

    cfg = ctx.config
    stage = 2 if ctx.pipeline.needs_model else 1  # stage 2 is the one that starts from a stage-1 model
    pl.seed_everything(cfg["seed"], workers=True, verbose=False)
    root = str(ctx.project.root)
    names = list(cfg["type_classes"])
    other = bool(cfg.get("other_class"))
    classes = names[:-1] if other else names
    train_frames = [Frame.from_json(f) for f in cfg["snapshot"]["train"]]
    val_frames = [Frame.from_json(f) for f in cfg["snapshot"]["val"]]
    if not val_frames:
        ctx.log("no validation frames (split 'val'): validating on the training frames", "warning")
        val_frames = train_frames
    if ctx.is_main:  # under DDP the other ranks only train
        _write_config(ctx)
        (ctx.run_dir / "sampling_report.json").write_text(json.dumps(cfg["sampling_report"], indent=2))

    sampler = EpochPairs(train_frames, cfg, stage, classes, other)
    val_keys = evaluation_pairs(val_frames, cfg["distance_multiplier"], stage, classes, other)
    weights = _class_weights(sampler, len(names)) if stage == 2 and cfg.get("use_class_weights") else None
    module = PairModule(cfg["architecture"], stage, names, cfg["learning_rate"], cfg["scheduler"],
                        cfg["warmup_epochs"], cfg["epochs"], weights, bool(cfg.get("freeze_backbone")))
    load_start_weights(ctx, module.net, describe(cfg), encoder=module.net.backbone)
    report = cfg["sampling_report"]
    if stage == 1:
        ctx.log(f"stage 1: {len(train_frames)} training frames, {len(sampler)} pairs per epoch "
                f"({report['positives_sampled']} interacting, {report['negatives_sampled']} not); "
                f"{len(val_keys)} validation pairs")
    else:
        ctx.log(f"stage 2: {len(train_frames)} training frames, {len(sampler)} pairs per epoch after "
                f"'{cfg['stage2_balance_strategy']}' balancing of {sum(report['stage2_class_counts'].values())} "
                f"interacting pairs with a type; {len(val_keys)} validation pairs")
        ctx.log("types: " + ", ".join(f"{n} {report['stage2_class_counts'].get(n, 0)}" for n in names))
    for name, (metric, mode) in TRACKED.items():
        ctx.track_best(name, metric, mode)

    train_set = PairCrops(root, train_frames, cfg["image_size"], augment=True)
    val_set = PairCrops(root, val_frames, cfg["image_size"])
    train_loader, val_loader = loaders(ctx, train_set, val_set, sampler, val_keys)
    epochs_done, last, stopped = fit(ctx, module, train_loader, val_loader, "val_f1", cfg["amp"])
    if stopped:
        return TrainResult(ctx.last_checkpoint, cfg["architecture"], names, last, epochs_done, stopped=True)

    state = {"format": "tessera-pairs-v1", "describe": describe(cfg), "stage": stage,
             "architecture": cfg["architecture"], "type_classes": names, "other_class": other,
             "image_size": cfg["image_size"], "distance_multiplier": cfg["distance_multiplier"], "metrics": last,
             "state_dict": {k: v.detach().cpu() for k, v in module.net.state_dict().items()}}
    final = ctx.checkpoints.final(epochs_done, last.get("val_f1"), lambda path: torch.save(state, path))

    ctx.log("evaluating the final model on the validation pairs")
    device = "cuda" if cfg["device"] != "cpu" and torch.cuda.is_available() else "cpu"
    result = evaluate_frames(module.net.eval(), state, root, val_frames, device)
    title = f"job {ctx.job_id} {ctx.pipeline.name} ({cfg['architecture']})"
    write_run_files(ctx.run_dir, result, stage, ctx.project.jobs.history(ctx.job_id), title, report)
    bests = {f"best_{metric}": value for name, (metric, mode, value) in ctx.checkpoints.tracked().items()}
    metrics = {**last, **bests, "eval_accuracy": result["accuracy"], "eval_f1": result["f1"]}
    return TrainResult(final, cfg["architecture"], [{"name": n} for n in names], metrics, epochs_done)
