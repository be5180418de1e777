"""``ssl-pretrain`` trainer, run by the worker."""
from __future__ import annotations

import lightning.pytorch as pl
import torch
from torch.utils.data import ConcatDataset, DataLoader, Dataset

from ...jobs.context import JobContext, TrainResult
from ..classification.data import Crops
from ..lightning_bridge import fit
from ..weights import load_start_weights
from .data import TwoViews
from .encoders import FORMAT
from .moco import MoCoV3


def describe(cfg: dict) -> str:
    return f"backbone/{cfg['architecture']}"


class Indexed(Dataset):
    """(image, label, index): the k-NN probe tells bank from queries by index."""

    def __init__(self, data: Dataset):
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int):
        x, y = self.data[i]
        return x, y, i


def _probe(ctx: JobContext) -> tuple[Dataset | None, int]:
    """The k-NN probe's crops (train-split crops as the bank, val-split crops
    as queries) and the bank's size; None when there are no val crops."""
    cfg = ctx.config
    knn = cfg["snapshot"].get("knn") or {}
    bank, queries = knn.get("train", []), knn.get("val", [])
    if not queries:
        ctx.log("no labelled validation crops: no k-NN probe of the features (only the loss is shown)")
        return None, 0
    ids = [c["id"] for c in cfg["classes"]]
    root, size = str(ctx.project.root), cfg["image_size"]
    parts = [Crops(root, items, ids, size, 0.1, False) for items in (bank, queries) if items]
    how = (f"{len(bank)} training crops as the bank" if bank else "leave-one-out (no labelled training crops)")
    ctx.log(f"k-NN probe: {len(queries)} validation crops, {how}")
    return Indexed(ConcatDataset(parts)), len(bank)


def train(ctx: JobContext) -> TrainResult:
    cfg = ctx.config
    pl.seed_everything(cfg["seed"], workers=True, verbose=False)
    items = [[i, w, h] for i, w, h, n in cfg["snapshot"]["images"] for _ in range(n)]
    views = TwoViews(str(ctx.project.root), items, cfg["image_size"], cfg["window"], cfg["crops_per_image"],
                     cfg["min_scale"])
    probe, bank_size = _probe(ctx)
    module = MoCoV3(cfg["architecture"], cfg["learning_rate"], cfg["weight_decay"], cfg["scheduler"],
                    cfg["warmup_epochs"], cfg["epochs"], cfg["temperature"], cfg["momentum"], cfg["mlp_dim"],
                    cfg["out_dim"], cfg["knn_k"], bank_size)
    if load_start_weights(ctx, module.encoder, describe(cfg)):
        module.momentum_encoder.load_state_dict(module.encoder.state_dict())
    ctx.log(f"pre-training a {cfg['architecture']} backbone (MoCo v3) on {len(cfg['snapshot']['images'])} images, "
            f"{len(views)} windows an epoch")
    args = dict(num_workers=cfg["workers"], persistent_workers=cfg["workers"] > 0)
    # a batch of one has no negatives, and BatchNorm cannot train on it: the last short batch is dropped
    batch = min(cfg["batch_size"], len(views))
    train_loader = DataLoader(views, batch_size=batch, shuffle=True, drop_last=True, **args)
    val_loader = DataLoader(probe, batch_size=cfg["batch_size"], shuffle=False, **args) if probe else None
    epochs_done, last, stopped = fit(ctx, module, train_loader, val_loader, "train_loss", cfg["amp"])
    if stopped:
        return TrainResult(ctx.last_checkpoint, cfg["architecture"], [], last, epochs_done, stopped=True)
    state = {"format": FORMAT, "describe": describe(cfg), "architecture": cfg["architecture"],
             "feature_dim": module.encoder.dim, "image_size": cfg["image_size"], "metrics": last,
             "images": len(cfg["snapshot"]["images"]),
             "state_dict": {k: v.detach().cpu() for k, v in module.encoder.weights().items()}}
    final = ctx.checkpoints.final(epochs_done, last.get("train_loss"), lambda path: torch.save(state, path))
    return TrainResult(final, cfg["architecture"], [], {**last, "best_train_loss": ctx.checkpoints.best}, epochs_done)
