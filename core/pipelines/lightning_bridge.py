"""A Lightning callback that turns a Lightning fit into Tessera job events:
progress per batch, every metric per epoch, checkpoints by the job's policy,
and a clean stop when the job is asked to stop."""
from __future__ import annotations

import math
import signal
import threading
import time

import lightning.pytorch as pl
from torch.utils.data import DistributedSampler

from ..jobs.context import JobContext, SecondaryRankDone


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
        self._val_t0: float | None = None
        self._start_batches: int | None = None  # batches already done when this process started
        self._sigterm = signal.getsignal(signal.SIGTERM)  # the worker's: SIGTERM asks the job to stop

    def on_train_start(self, trainer, pl_module):
        # Lightning adds its own SIGTERM handler at fit start, which ends the fit
        # with SIGTERMException (a failed job) at the end of the epoch; a job's
        # SIGTERM means "finish the batch, save, stop" instead.
        if callable(self._sigterm) and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._sigterm)

    def on_train_epoch_start(self, trainer, pl_module):
        self._epoch_t0 = time.monotonic()
        self._val_t0 = None

    def on_validation_epoch_start(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._val_t0 = time.monotonic()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        total = trainer.num_training_batches
        epochs = self.ctx.config["epochs"]
        done_batches = trainer.current_epoch * total + batch_idx + 1
        if self._start_batches is None:
            self._start_batches = done_batches - 1
        if self.ctx.progress_due():  # reading the loss waits for the GPU: only when it is shown
            loss = outputs["loss"].item() if isinstance(outputs, dict) and "loss" in outputs else None
            rate = (done_batches - self._start_batches) / max(1e-6, time.monotonic() - self._t0)
            eta = (epochs * total - done_batches) / rate if rate > 0 else None
            self.ctx.progress(epoch=trainer.current_epoch + 1, epochs=epochs, batch=batch_idx + 1, batches=total,
                              loss=loss, fraction=done_batches / max(1, epochs * total), eta_s=eta)
        stop = self.ctx.should_stop
        if trainer.world_size > 1:  # every rank asks at the same batch: all stop there together
            stop = trainer.strategy.reduce_boolean_decision(stop, all=False)
        if stop and not self.stopped:
            self.stopped = True
            trainer.should_stop = True
            self.ctx.log("stop requested: finishing this batch and saving")

    def on_train_epoch_end(self, trainer, pl_module):
        epoch = trainer.current_epoch + 1
        if self.stopped and trainer.fit_loop.epoch_loop.batch_progress.current.ready < trainer.num_training_batches:
            # Stopped mid-epoch: save the weights as they are, but the resume point
            # stays `last` (the end of the previous epoch), so epochs stay whole.
            path = self.ctx.checkpoints.path("stopped")
            trainer.save_checkpoint(path)  # under DDP every rank takes part; rank 0 writes
            if self.ctx.is_main:
                self.ctx.project.jobs.add_checkpoint(self.ctx.job_id, epoch - 1, "stopped", str(path), None)
                self.ctx.emitter.emit("checkpoint", kind="stopped", path=str(path), epoch=epoch - 1)
            return
        # Under DDP, reading the epoch's metrics reduces them across the ranks (a
        # collective): every rank reads them here.
        logged = trainer.callback_metrics
        if not self.ctx.is_main:
            # Rank 0 saves `last` once an epoch (the policy links the other kinds to
            # it); this rank's part of that collective save writes nothing.
            trainer.save_checkpoint(self.ctx.checkpoints.path("last"))
            return
        metrics = {k: _scalar(v) for k, v in logged.items()}
        metrics = {k: v for k, v in metrics.items() if v is not None}
        metrics["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        now = time.monotonic()
        metrics["epoch_seconds"] = round(now - self._epoch_t0, 3)
        # validation runs inside the epoch: the training part on its own
        metrics["train_seconds"] = round((self._val_t0 or now) - self._epoch_t0, 3)
        self.ctx.epoch_end(epoch, metrics)
        self.ctx.checkpoints.after_epoch(epoch, metrics.get(self.main_metric),
                                         lambda path: trainer.save_checkpoint(path), metrics)


def fit(ctx: JobContext, module: pl.LightningModule, train_loader, val_loader, main_metric: str,
        amp: bool = True) -> tuple[int, dict, bool]:
    """Run (or resume) a Lightning fit as this job.  Returns (epochs done,
    metrics of the last epoch, whether it was stopped before the end)."""
    from .devices import trainer_args

    cfg = ctx.config
    resume_from = ctx.last_checkpoint if ctx.resume else None
    if ctx.resume:
        done = ctx.last_checkpoint_epoch
        if ctx.is_main:
            ctx.project.jobs.truncate_history(ctx.job_id, done)  # epochs after the checkpoint are re-run
        ctx.log(f"resuming after epoch {done}" if resume_from else "no checkpoint yet: starting over")
    placement = trainer_args(cfg["device"], amp)
    bridge = JobBridge(ctx, main_metric)
    trainer = pl.Trainer(max_epochs=cfg["epochs"], **placement, callbacks=[bridge], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, default_root_dir=str(ctx.run_dir))
    where = f"{placement['accelerator']} ({placement['precision']})"
    if trainer.world_size > 1:
        where += (f", DDP over {trainer.world_size} processes on {placement.get('num_nodes', 1)} machine(s), "
                  f"{cfg['batch_size']} images per step in each")
    ctx.log(f"device {where}")
    trainer.fit(module, train_loader, val_loader, ckpt_path=str(resume_from) if resume_from else None,
                weights_only=True)
    if trainer.world_size > 1:
        # What follows (the final model, its evaluation) is rank 0's alone: its
        # metrics must no longer wait for the other ranks.
        from lightning.fabric.utilities.distributed import _destroy_dist_connection

        _destroy_dist_connection()
        if not ctx.is_main:
            raise SecondaryRankDone
    epochs_done = ctx.epochs_done
    last = ctx.project.jobs.history(ctx.job_id).get(epochs_done, {})
    return epochs_done, last, bridge.stopped and epochs_done < cfg["epochs"]


def loaders(ctx: JobContext, train_set, val_set, sampler=None, val_sampler=None):
    """Training and validation data loaders with the job's batch size and workers.
    Under DDP Lightning gives each rank its share of the data; a job's own
    training sampler is shared out by :class:`EpochShares`."""
    from torch.utils.data import DataLoader

    from ..errors import TesseraError
    from ..jobs import distributed

    cfg, world = ctx.config, distributed.world_size()
    samples = len(sampler) if sampler is not None else len(train_set)
    share = samples // world
    if share == 0:
        raise TesseraError(f"{samples} training samples cannot be shared by {world} processes: train in fewer")
    if sampler is not None and world > 1:
        sampler = EpochShares(sampler, world, distributed.rank())
    args = dict(batch_size=cfg["batch_size"], num_workers=cfg["workers"], persistent_workers=cfg["workers"] > 0)
    # a last, smaller batch is dropped, unless it would be the only one
    train = DataLoader(train_set, sampler=sampler, shuffle=sampler is None, drop_last=share > cfg["batch_size"],
                       **args)
    return train, DataLoader(val_set, sampler=val_sampler, shuffle=False, **args)


class EpochShares(DistributedSampler):
    """A sampler's draw of each epoch dealt out in equal shares, one to each
    rank.  Every rank draws the same items (the samplers are seeded), so the
    shares never overlap; unlike Lightning's own wrapper (a DistributedSampler
    sized once) a draw may change its length from one epoch to the next, as
    the pair pipelines' do."""

    def __init__(self, sampler, num_replicas: int, rank: int):
        self.sampler = sampler
        super().__init__(range(len(sampler)), num_replicas=num_replicas, rank=rank, shuffle=False)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def __iter__(self):
        items = list(self.sampler)
        share = len(items) // self.num_replicas
        return iter(items[self.rank * share:(self.rank + 1) * share])

    def __len__(self) -> int:
        return len(self.sampler) // self.num_replicas
