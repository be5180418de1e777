"""``detection`` trainer: ultralytics' own trainer, driven through its callbacks."""
from __future__ import annotations

import math
import shutil
import time
from pathlib import Path

import torch

from ...formats.yolo import export_yolo
from ...jobs.context import JobContext, TrainResult
from ..devices import ultralytics_device
from ..weights import load_start_weights

# ultralytics' metric names -> ours
_METRICS = {"metrics/precision(B)": "val_precision", "metrics/recall(B)": "val_recall",
            "metrics/mAP50(B)": "val_map50", "metrics/mAP50-95(B)": "val_map50_95",
            "val/box_loss": "val_box_loss", "val/cls_loss": "val_cls_loss", "val/dfl_loss": "val_dfl_loss"}


def describe(cfg: dict) -> str:
    return f"detection/{cfg['architecture']}"


def write_snapshot(ctx: JobContext) -> Path:
    """The job's data as a YOLO dataset in the run folder (images hard-linked),
    with critical-class images repeated in the training list."""
    cfg = ctx.config
    out = ctx.run_dir / "dataset"
    if out.exists():
        shutil.rmtree(out)
    split_of = {item[0]: split for split, items in cfg["snapshot"].items() for item in items}
    class_ids = [c["id"] for c in cfg["classes"]]
    export_yolo(ctx.project, out, task="detect", image_ids=list(split_of), class_ids=class_ids,
                split_of=split_of, link=True)
    critical = {c["id"] for c in cfg["classes"] if c.get("critical")}
    lines = []
    for image_id in sorted(i for i, s in split_of.items() if s == "train"):
        image = ctx.project.images.get(image_id)
        path = (out / "images" / "train" / image.name).resolve()
        has_critical = any(a.class_id in critical for a in ctx.project.annotations.for_image(image_id))
        lines += [str(path)] * (cfg["critical_oversample"] if has_critical else 1)
    (out / "train.txt").write_text("\n".join(lines) + "\n")
    spec = (out / "data.yaml").read_text().replace("train: images/train", "train: train.txt")
    if not cfg["snapshot"].get("val"):  # export_yolo then points val at the train images
        ctx.log("no validation images: validating on the training images", "warning")
    (out / "data.yaml").write_text(spec)
    return out / "data.yaml"


class Bridge:
    """ultralytics callbacks -> job events, stored epochs, checkpoints, stop."""

    def __init__(self, ctx: JobContext, offset: int = 0):
        self.ctx = ctx
        self.offset = offset  # epochs of the job before this ultralytics run (mining rounds)
        self.in_loop = False
        self.stopped = False
        self.final_metrics: dict = {}
        self._t0 = time.monotonic()
        self._start = None

    def on_train_epoch_start(self, trainer):
        self._epoch_t0 = time.monotonic()

    def on_train_batch_end(self, trainer):
        nb = len(trainer.train_loader)
        batch = getattr(trainer, "_tessera_batch", 0) + 1
        trainer._tessera_batch = batch % nb
        done = (self.offset + trainer.epoch) * nb + batch
        if self._start is None:
            self._start = done - 1
        if self.ctx.progress_due():  # reading the loss waits for the GPU: only when it is shown
            rate = (done - self._start) / max(1e-6, time.monotonic() - self._t0)
            epochs = self.ctx.config["epochs"]
            total = epochs * nb
            tloss = trainer.tloss
            values = list(tloss.values()) if isinstance(tloss, dict) else ([tloss.sum()] if tloss is not None else [])
            loss = float(sum(float(v) for v in values)) if values else None
            self.ctx.progress(epoch=self.offset + trainer.epoch + 1, epochs=epochs, batch=batch, batches=nb, loss=loss,
                              fraction=done / max(1, total), eta_s=(total - done) / rate if rate > 0 else None)
        if self.ctx.should_stop and not self.stopped:
            self.stopped = True
            trainer.stop = True
            self.ctx.log("stop requested: finishing this batch, validating and saving")

    def on_train_epoch_end(self, trainer):
        self.in_loop = True  # the next on_fit_epoch_end belongs to this epoch, not the final evaluation

    def on_fit_epoch_end(self, trainer):
        metrics = {ours: float(trainer.metrics[theirs]) for theirs, ours in _METRICS.items()
                   if theirs in trainer.metrics}
        if not self.in_loop:  # final evaluation of best.pt
            self.final_metrics = metrics
            return
        self.in_loop = False
        epoch = self.offset + trainer.epoch + 1
        losses = trainer.label_loss_items(trainer.tloss, prefix="train")
        metrics.update({k.replace("train/", "train_"): float(v) for k, v in losses.items()})
        metrics["train_loss"] = sum(v for k, v in metrics.items() if k in ("train_box_loss", "train_cls_loss", "train_dfl_loss"))
        metrics["val_loss"] = sum(v for k, v in metrics.items() if k in ("val_box_loss", "val_cls_loss", "val_dfl_loss"))
        metrics["lr"] = float(trainer.optimizer.param_groups[0]["lr"])
        metrics["epoch_seconds"] = round(time.monotonic() - getattr(self, "_epoch_t0", self._t0), 3)
        metrics.update(critical_recall(trainer, self.ctx.config["classes"]))
        metrics = {k: v for k, v in metrics.items() if math.isfinite(v)}
        self.ctx.epoch_end(epoch, metrics)
        last = Path(trainer.last)
        if last.is_file():
            self.ctx.checkpoints.after_epoch(epoch, metrics.get("val_map50_95"),
                                             lambda path: shutil.copyfile(last, path))


def critical_recall(trainer, classes: list[dict]) -> dict[str, float]:
    """This epoch's validation recall of each critical class that the
    validation images hold (``val_recall_NAME``), and their mean
    (``val_critical_recall``)."""
    box = getattr(getattr(trainer.validator, "metrics", None), "box", None)
    index = [int(c) for c in getattr(box, "ap_class_index", [])]
    out = {f"val_recall_{cls['name']}": float(box.r[index.index(c)])
           for c, cls in enumerate(classes) if cls.get("critical") and c in index}
    if out:
        out["val_critical_recall"] = sum(out.values()) / len(out)
    return out


def train(ctx: JobContext) -> TrainResult:
    from ultralytics import YOLO

    cfg = ctx.config
    ctx.checkpoints.suffix = ".pt"
    weights_dir = ctx.run_dir / "ultralytics" / "weights"
    # Resume from our copy of last.pt: ultralytics strips its own last.pt of the
    # optimizer and epoch when a run ends or is stopped, and "resuming" such a
    # file silently starts a new default run elsewhere.
    resume_from = ctx.last_checkpoint if ctx.resume else None
    bridge = Bridge(ctx)
    device = ultralytics_device(cfg["device"])
    if resume_from is not None:
        done = ctx.last_checkpoint_epoch
        ctx.project.jobs.truncate_history(ctx.job_id, done)
        ctx.log(f"resuming after epoch {done}")
        model = YOLO(str(resume_from))
        add_callbacks(model, bridge)
        # ultralytics replaces the checkpoint's data with its default (coco8, a
        # download) unless the data is named again.
        model.train(resume=True, data=str(ctx.run_dir / "dataset" / "data.yaml"), device=device)
    else:
        if ctx.resume:
            ctx.project.jobs.truncate_history(ctx.job_id, 0)
            ctx.log("no checkpoint yet: starting over")
        data = write_snapshot(ctx)
        model = YOLO(f"{cfg['architecture']}.yaml", task="detect")
        from ultralytics.nn.tasks import DetectionModel

        start = DetectionModel(f"{cfg['architecture']}.yaml", nc=len(cfg["classes"]), verbose=False)
        pretrained = start_checkpoint(ctx, start) if load_start_weights(ctx, start, describe(cfg)) else None
        add_callbacks(model, bridge)
        ctx.log(f"training {cfg['architecture']} on {len(cfg['snapshot']['train'])} images, "
                f"{len(cfg['classes'])} classes, device {device}")
        fit(ctx, model, data, cfg["epochs"], device, pretrained=pretrained)
    epochs_done = ctx.epochs_done
    history = ctx.project.jobs.history(ctx.job_id)
    last_metrics = history.get(epochs_done, {})
    if bridge.stopped and epochs_done < cfg["epochs"]:
        return TrainResult(ctx.last_checkpoint, cfg["architecture"], cfg["classes"], last_metrics, epochs_done,
                           stopped=True)
    best = weights_dir / "best.pt"
    source = best if best.is_file() else weights_dir / "last.pt"
    final = ctx.checkpoints.final(epochs_done, bridge.final_metrics.get("val_map50_95"),
                                  lambda path: torch.save(export_state(source, cfg), path))
    metrics = {**last_metrics, **{f"best_{k}": v for k, v in bridge.final_metrics.items()}}
    return TrainResult(final, cfg["architecture"], cfg["classes"], metrics, epochs_done)


def start_checkpoint(ctx: JobContext, net) -> Path:
    """ultralytics' trainer builds its own network from the YAML when it
    starts, and takes start weights only from a checkpoint file passed as
    ``pretrained`` (the tensors whose names and shapes fit): ``net`` as one."""
    path = ctx.run_dir / "start_weights.pt"
    torch.save({"model": net}, path)
    return path


# ultralytics' augmentation settings per strength; medium is ultralytics' own default
AUGMENTATION = {
    "light": {"hsv_h": 0.005, "hsv_s": 0.3, "hsv_v": 0.2, "degrees": 0.0, "translate": 0.05, "scale": 0.25,
              "shear": 0.0, "fliplr": 0.5, "mixup": 0.0},
    "medium": {"hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4, "degrees": 0.0, "translate": 0.1, "scale": 0.5,
               "shear": 0.0, "fliplr": 0.5, "mixup": 0.0},
    "heavy": {"hsv_h": 0.02, "hsv_s": 0.8, "hsv_v": 0.5, "degrees": 10.0, "translate": 0.2, "scale": 0.7,
              "shear": 2.0, "fliplr": 0.5, "mixup": 0.15},
}


def fit(ctx: JobContext, model, data: Path, epochs: int, device, name: str = "ultralytics",
        pretrained: Path | None = None, augmentation: str | None = None) -> None:
    """ultralytics' trainer with the job's settings, its run in ``run_dir/name``,
    starting from the network in ``pretrained`` (else fresh); ``augmentation``
    overrides the job's strength."""
    cfg = ctx.config
    strength = AUGMENTATION[augmentation or cfg.get("augmentation", "medium")]
    model.train(data=str(data), epochs=epochs, batch=cfg["batch_size"], imgsz=cfg["image_size"],
                optimizer="AdamW", lr0=cfg["learning_rate"], lrf=0.01, cos_lr=cfg["scheduler"] == "cosine",
                warmup_epochs=cfg["warmup_epochs"], device=device, seed=cfg["seed"], deterministic=False,
                workers=cfg["workers"], amp=cfg["amp"], save_period=-1, plots=False, verbose=False,
                multi_scale=cfg["multi_scale"], mosaic=cfg["mosaic"], close_mosaic=cfg["close_mosaic"],
                patience=cfg["patience"], project=str(ctx.run_dir), name=name, exist_ok=True,
                pretrained=str(pretrained) if pretrained else False, val=True, **strength)


def export_state(ultralytics_checkpoint: Path, cfg: dict) -> dict:
    """The registered model: plain tensors and data that load with weights_only=True.

    ultralytics' own .pt pickles the model object; we keep its YAML and weights."""
    from ultralytics.nn.tasks import load_checkpoint as ul_load  # ultralytics reads its own run files

    model, _ = ul_load(str(ultralytics_checkpoint), device="cpu")
    return {"format": "tessera-detection-v1", "describe": describe(cfg), "architecture": cfg["architecture"],
            "yaml": dict(model.yaml),
            "names": [c["name"] for c in cfg["classes"]], "classes": cfg["classes"], "image_size": cfg["image_size"],
            "confidence": cfg.get("confidence", 0.25), "augmentation": cfg.get("augmentation", "medium"),
            "stride": model.stride.tolist(), "state_dict": {k: v.float() if v.is_floating_point() else v
                                                            for k, v in model.state_dict().items()}}


def build_model(state: dict):
    """Rebuild a registered detection model from :func:`export_state` data."""
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel(state["yaml"], nc=len(state["names"]), verbose=False)
    model.load_state_dict(state["state_dict"])
    model.names = dict(enumerate(state["names"]))
    return model.eval()


def add_callbacks(model, bridge: Bridge) -> None:
    for name in ("on_train_epoch_start", "on_train_batch_end", "on_train_epoch_end", "on_fit_epoch_end"):
        model.add_callback(name, getattr(bridge, name))
