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

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, kind))
