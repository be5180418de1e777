"""Choosing where to train: CUDA when present (mixed precision on), else CPU."""
from __future__ import annotations

from ..errors import TesseraError


def lightning_device(device: str, amp: bool = True) -> tuple[str, object, str]:
    """(accelerator, devices, precision) for a Lightning Trainer."""
    import torch

    device = device.strip().lower()
    cuda = torch.cuda.is_available()
    if device == "auto":
        device = "cuda" if cuda else "cpu"
    if device == "cpu":
        return "cpu", 1, "32-true"
    if device.startswith("cuda"):
        if not cuda:
            raise TesseraError(f"device {device!r} asked for, but no CUDA GPU is available")
        # One GPU per job.  Lightning's "auto" would start a DDP process per GPU,
        # each of them running the whole worker: every rank would write the job's
        # events, metrics and checkpoints to the store.
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= torch.cuda.device_count():
            raise TesseraError(f"device {device!r} asked for, but this machine has "
                               f"{torch.cuda.device_count()} CUDA GPU(s)")
        devices = [index]
        precision = ("bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed") if amp else "32-true"
        return "gpu", devices, precision
    raise TesseraError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")


def ultralytics_device(device: str) -> str:
    """The same choice as ultralytics spells it: "cpu" or "N"."""
    accelerator, devices, _ = lightning_device(device)
    return "cpu" if accelerator == "cpu" else ",".join(str(i) for i in devices)
