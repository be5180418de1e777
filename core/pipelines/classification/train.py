"""``classification`` trainer, run by the worker."""
from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch

from ...jobs.context import JobContext, TrainResult
from ..lightning_bridge import fit, loaders
from ..weights import load_start_weights
from .data import Crops
from .module import ClassificationModule


def describe(cfg: dict) -> str:
    return f"classification/{cfg['architecture']}"


def train(ctx: JobContext) -> TrainResult:
    cfg = ctx.config
    pl.seed_everything(cfg["seed"], workers=True, verbose=False)
    classes = cfg["classes"]
    ids = [c["id"] for c in classes]
    root = str(ctx.project.root)
    train_set = Crops(root, cfg["snapshot"]["train"], ids, cfg["image_size"], cfg["crop_padding"], cfg["augment"])
    val_items = cfg["snapshot"]["val"] or cfg["snapshot"]["train"]
    if not cfg["snapshot"]["val"]:
        ctx.log("no validation samples: validating on the training samples", "warning")
    val_set = Crops(root, val_items, ids, cfg["image_size"], cfg["crop_padding"], False)
    counts = np.bincount([train_set.target(i) for i in range(len(train_set))], minlength=len(classes))
    weights = (counts.sum() / np.maximum(counts, 1) / len(classes)).tolist()
    module = ClassificationModule(cfg["architecture"], [c["name"] for c in classes], cfg["learning_rate"],
                                  cfg["scheduler"], cfg["warmup_epochs"], cfg["epochs"], cfg["mixup"],
                                  cfg["label_smoothing"], weights)
    load_start_weights(ctx, module.net, describe(cfg))
    ctx.log(f"training {cfg['architecture']} on {len(train_set)} {cfg['source']} ({len(val_set)} for validation), "
            f"{len(classes)} classes")
    train_loader, val_loader = loaders(ctx, train_set, val_set)
    epochs_done, last, stopped = fit(ctx, module, train_loader, val_loader, "val_accuracy", cfg["amp"])
    if stopped:
        return TrainResult(ctx.last_checkpoint, cfg["architecture"], classes, last, epochs_done, stopped=True)
    state = {"format": "tessera-classification-v1", "describe": describe(cfg), "architecture": cfg["architecture"],
             "classes": classes, "image_size": cfg["image_size"], "crop_padding": cfg["crop_padding"],
             "source": cfg["source"], "metrics": last,
             "state_dict": {k: v.detach().cpu() for k, v in module.net.state_dict().items()}}
    final = ctx.checkpoints.final(epochs_done, last.get("val_accuracy"), lambda path: torch.save(state, path))
    return TrainResult(final, cfg["architecture"], classes, {**last, "best_val_accuracy": ctx.checkpoints.best},
                       epochs_done)
