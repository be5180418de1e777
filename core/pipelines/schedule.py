"""The learning-rate schedule every pipeline shares: linear warm-up, then
poly, cosine or step decay, as a per-step multiplier of the base rate."""
from __future__ import annotations

import math


def lr_factor(step: int, total_steps: int, warmup_steps: int, kind: str = "poly",
              power: float = 0.9, step_every: int | None = None, gamma: float = 0.1) -> float:
    """Multiplier of the base learning rate at optimiser ``step`` (0-based)."""
    total_steps = max(1, total_steps)
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    done = step - warmup_steps
    span = max(1, total_steps - warmup_steps)
    frac = min(1.0, done / span)
    if kind == "poly":
        return (1.0 - frac) ** power
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * frac))
    if kind == "step":
        every = step_every or max(1, span // 3)
        return gamma ** (done // every)
    raise ValueError(f"unknown schedule {kind!r}")


def lambda_scheduler(optimizer, total_steps: int, warmup_steps: int, kind: str):
    import torch

    if not all(isinstance(v, int) and v >= 0 for v in (total_steps, warmup_steps)):
        raise ValueError(f"schedule needs whole step counts, got total {total_steps!r}, warm-up {warmup_steps!r}")
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, kind))


def lightning_schedule(module, optimizer, epochs: int, warmup_epochs: int, kind: str) -> dict:
    """``configure_optimizers``' answer: the optimiser and its per-step schedule.

    The step count comes from Lightning's ``estimated_stepping_batches``: when
    ``configure_optimizers`` runs, ``num_training_batches`` is still ``inf``
    (the loaders are not set up yet), and a schedule built on it is 0 from
    the first step."""
    total = int(module.trainer.estimated_stepping_batches)
    per_epoch = max(1, total // max(1, epochs))
    sched = lambda_scheduler(optimizer, total, warmup_epochs * per_epoch, kind)
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
