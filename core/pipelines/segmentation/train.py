"""``segmentation`` trainer, run by the worker."""
from __future__ import annotations

import lightning.pytorch as pl
import numpy as np
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from ...errors import TesseraError
from ...jobs.checkpoints import load_checkpoint
from ...jobs.context import JobContext, TrainResult
from ..devices import lightning_device
from ..lightning_bridge import JobBridge
from .data import SegmentationWindows, class_lut, pixel_counts, sample_weights
from .module import SegmentationModule


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
    names = [c["name"] for c in classes]
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
    workers = cfg["workers"]
    loader_args = dict(batch_size=cfg["batch_size"], num_workers=workers, persistent_workers=workers > 0)
    train_loader = DataLoader(train_set, sampler=sampler, shuffle=sampler is None, drop_last=len(train_set) > cfg["batch_size"],
                              **loader_args)
    val_loader = DataLoader(val_set, shuffle=False, **loader_args)

    module = SegmentationModule(cfg["architecture"], cfg["encoder"], names, cfg["learning_rate"], cfg["scheduler"],
                                cfg["warmup_epochs"], cfg["epochs"], cfg["dice_weight"],
                                _class_weights(cfg["class_weights"], counts))
    resume_from = ctx.last_checkpoint if ctx.resume else None
    if resume_from is None:
        _initial_weights(ctx, module)
    accelerator, devices, precision = lightning_device(cfg["device"], cfg["amp"])
    bridge = JobBridge(ctx, "val_miou")
    trainer = pl.Trainer(max_epochs=cfg["epochs"], accelerator=accelerator, devices=devices, precision=precision,
                         callbacks=[bridge], logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=str(ctx.run_dir),
                         deterministic=False)
    ctx.log(f"training {cfg['architecture']}/{cfg['encoder']} on {len(train_set)} windows "
            f"({len(val_set)} for validation), {len(classes)} classes, {accelerator} {precision}")
    if ctx.resume:
        done = ctx.last_checkpoint_epoch
        ctx.project.jobs.truncate_history(ctx.job_id, done)  # epochs after the checkpoint are re-run
        ctx.log(f"resuming after epoch {done}" if resume_from else "no checkpoint yet: starting over")
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(resume_from) if resume_from else None,
                weights_only=True)
    epochs_done = ctx.epochs_done
    history = ctx.project.jobs.history(ctx.job_id)
    last_metrics = history.get(epochs_done, {})
    if bridge.stopped and epochs_done < cfg["epochs"]:
        return TrainResult(ctx.last_checkpoint, cfg["architecture"], classes, last_metrics, epochs_done, stopped=True)
    final = ctx.checkpoints.final(epochs_done, last_metrics.get("val_miou"),
                                  lambda path: torch.save(_export_state(module, cfg, classes, last_metrics), path))
    best = ctx.checkpoints.best
    metrics = {**last_metrics, "best_val_miou": best}
    return TrainResult(final, f"{cfg['architecture']}/{cfg['encoder']}", classes, metrics, epochs_done)


def _export_state(module: SegmentationModule, cfg: dict, classes: list, metrics: dict) -> dict:
    """The registered model: weights plus what is needed to rebuild it (plain data only)."""
    return {"format": "tessera-segmentation-v1", "architecture": cfg["architecture"], "encoder": cfg["encoder"],
            "classes": classes, "image_size": cfg["image_size"], "metrics": metrics,
            "state_dict": {k: v.detach().cpu() for k, v in module.net.state_dict().items()}}


def _initial_weights(ctx: JobContext, module: SegmentationModule) -> None:
    cfg = ctx.config
    if cfg.get("from_model"):
        model = ctx.project.jobs.model(cfg["from_model"])
        state = load_checkpoint(model.path)
        if state.get("architecture") != cfg["architecture"] or state.get("encoder") != cfg["encoder"]:
            raise TesseraError(f"model {model.id} is {state.get('architecture')}/{state.get('encoder')}, "
                               f"this job is {cfg['architecture']}/{cfg['encoder']}")
        own = module.net.state_dict()
        fitting = {k: v for k, v in state["state_dict"].items() if k in own and own[k].shape == v.shape}
        module.net.load_state_dict(fitting, strict=False)
        ctx.log(f"started from model {model.id}: {len(fitting)} of {len(own)} tensors "
                "(a head for other classes starts fresh)")
    elif cfg["weights_file"]:
        state = load_checkpoint(cfg["weights_file"])
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        missing, unexpected = module.net.encoder.load_state_dict(state, strict=False)
        ctx.log(f"encoder weights from {cfg['weights_file']}: {len(missing)} missing, {len(unexpected)} unused keys")
