"""A Lightning callback that turns a Lightning fit into Tessera job events:
progress per batch, every metric per epoch, checkpoints by the job's policy,
and a clean stop when the job is asked to stop."""
from __future__ import annotations

import math
import time

import lightning.pytorch as pl

from ..jobs.context import JobContext


def _scalar(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class JobBridge(pl.Callback):
    def __init__(self, ctx: JobContext, main_metric: str):
        self.ctx = ctx
        self.main_metric = main_metric
        self.stopped = False
        self._t0 = time.monotonic()
        self._epoch_t0 = time.monotonic()

    def on_train_epoch_start(self, trainer, pl_module):
        self._epoch_t0 = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        total = trainer.num_training_batches
        loss = outputs["loss"].item() if isinstance(outputs, dict) and "loss" in outputs else None
        epochs = self.ctx.config["epochs"]
        done_batches = trainer.current_epoch * total + batch_idx + 1
        start_batches = getattr(self, "_start_batches", None)
        if start_batches is None:
            self._start_batches = start_batches = done_batches - 1
        rate = (done_batches - start_batches) / max(1e-6, time.monotonic() - self._t0)
        eta = (epochs * total - done_batches) / rate if rate > 0 else None
        self.ctx.progress(epoch=trainer.current_epoch + 1, epochs=epochs, batch=batch_idx + 1, batches=total,
                          loss=loss, fraction=done_batches / max(1, epochs * total), eta_s=eta)
        if self.ctx.should_stop and not self.stopped:
            self.stopped = True
            trainer.should_stop = True
            self.ctx.log("stop requested: finishing this batch and saving")

    def on_train_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch + 1
        if self.stopped and trainer.fit_loop.epoch_loop.batch_progress.current.ready < trainer.num_training_batches:
            # Stopped mid-epoch: save the weights as they are, but the resume point
            # stays `last` (the end of the previous epoch), so epochs stay whole.
            path = self.ctx.checkpoints.path("stopped")
            trainer.save_checkpoint(path)
            self.ctx.project.jobs.add_checkpoint(self.ctx.job_id, epoch - 1, "stopped", str(path), None)
            self.ctx.emitter.emit("checkpoint", kind="stopped", path=str(path), epoch=epoch - 1)
            return
        metrics = {k: _scalar(v) for k, v in trainer.callback_metrics.items()}
        metrics = {k: v for k, v in metrics.items() if v is not None}
        metrics["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        metrics["epoch_seconds"] = round(time.monotonic() - self._epoch_t0, 3)
        self.ctx.epoch_end(epoch, metrics)
        self.ctx.checkpoints.after_epoch(epoch, metrics.get(self.main_metric),
                                         lambda path: trainer.save_checkpoint(path))
