"""``segmentation`` trainer, run by the worker."""
from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from ...jobs.context import JobContext, TrainResult
from ..lightning_bridge import fit, loaders
from ..weights import load_start_weights
from .data import SegmentationWindows, class_lut, pixel_counts, sample_weights
from .module import SegmentationModule


def describe(cfg: dict) -> str:
    return f"segmentation/{cfg['architecture']}/{cfg['encoder']}"


def _class_weights(kind: str, counts: np.ndarray) -> list[float] | None:
    if kind == "none":
        return None
    freq = counts / max(1, counts.sum())
    w = 1.0 / np.maximum(freq, 1e-6)
    if kind == "inverse_sqrt":
        w = np.sqrt(w)
    w = w / w[counts > 0].mean() if (counts > 0).any() else w
    w[counts == 0] = 0.0
    return w.tolist()


def train(ctx: JobContext) -> TrainResult:
    cfg = ctx.config
    pl.seed_everything(cfg["seed"], workers=True, verbose=False)
    classes = cfg["classes"]
    lut = class_lut(classes)
    root = str(ctx.project.root)
    train_set = SegmentationWindows(root, cfg["snapshot"]["train"], lut, cfg["image_size"], cfg["augment"], cfg["seed"])
    val_items = cfg["snapshot"]["val"] or cfg["snapshot"]["train"]
    if not cfg["snapshot"]["val"]:
        ctx.log("no validation images: validating on the training images", "warning")
    val_set = SegmentationWindows(root, val_items, lut, cfg["image_size"], False)
    counts = pixel_counts(train_set, len(classes))
    sampler = None
    if cfg["weighted_sampling"] and len(train_set) > 1:
        sampler = WeightedRandomSampler(sample_weights(train_set, counts), len(train_set), replacement=True,
                                        generator=torch.Generator().manual_seed(cfg["seed"]))
    module = SegmentationModule(cfg["architecture"], cfg["encoder"], [c["name"] for c in classes],
                                cfg["learning_rate"], cfg["scheduler"], cfg["warmup_epochs"], cfg["epochs"],
                                cfg["dice_weight"], _class_weights(cfg["class_weights"], counts))
    load_start_weights(ctx, module.net, describe(cfg), encoder=module.net.encoder)
    ctx.log(f"training {cfg['architecture']}/{cfg['encoder']} on {len(train_set)} windows "
            f"({len(val_set)} for validation), {len(classes)} classes")
    train_loader, val_loader = loaders(ctx, train_set, val_set, sampler)
    epochs_done, last, stopped = fit(ctx, module, train_loader, val_loader, "val_miou", cfg["amp"])
    if stopped:
        return TrainResult(ctx.last_checkpoint, cfg["architecture"], classes, last, epochs_done, stopped=True)
    state = {"format": "tessera-segmentation-v1", "describe": describe(cfg), "architecture": cfg["architecture"],
             "encoder": cfg["encoder"], "classes": classes, "image_size": cfg["image_size"], "metrics": last,
             "state_dict": {k: v.detach().cpu() for k, v in module.net.state_dict().items()}}
    final = ctx.checkpoints.final(epochs_done, last.get("val_miou"), lambda path: torch.save(state, path))
    return TrainResult(final, f"{cfg['architecture']}/{cfg['encoder']}", classes,
                       {**last, "best_val_miou": ctx.checkpoints.best}, epochs_done)
