"""Choosing where to train: CUDA when present (mixed precision on), else CPU;
under torchrun, one device per process (DDP)."""
from __future__ import annotations

from ..errors import TesseraError
from ..jobs import distributed


def trainer_args(device: str, amp: bool = True) -> dict:
    """Lightning Trainer arguments for ``device``: accelerator, devices, precision,
    and under torchrun the DDP strategy and number of nodes."""
    import torch

    device = device.strip().lower()
    cuda = torch.cuda.is_available()
    if device == "auto":
        device = "cuda" if cuda else "cpu"
    kind = device.split(":", 1)[0]
    if kind not in ("cpu", "cuda"):
        raise TesseraError(f"unknown device {device!r}; use auto, cpu, cpu:N, cuda, cuda:N, cuda:0,1,.. or cuda:all")
    world, local = distributed.world_size(), distributed.local_world_size()
    if kind == "cuda":
        if not cuda:
            raise TesseraError(f"device {device!r} asked for, but no CUDA GPU is available")
        precision = ("bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed") if amp else "32-true"
    else:
        precision = "32-true"
    if world == 1:
        if distributed.processes(device) not in (None, "gpu"):
            raise TesseraError(f"device {device!r} trains in several processes: start the job with 'tessera train' "
                               "or the studio (they start it under torchrun), or under torchrun yourself")
        if kind == "cpu":
            return dict(accelerator="cpu", devices=1, precision=precision)
        # One GPU: Lightning's "auto" would start a process per GPU of its own,
        # each running the whole worker.
        index = 0 if device in ("cuda", "cuda:all") else int(device.split(":", 1)[1])
        _check_gpus(device, [index])
        return dict(accelerator="gpu", devices=[index], precision=precision)
    # Several processes, started by torchrun: one device each.
    nodes = max(1, world // local)
    ddp = dict(strategy="ddp", num_nodes=nodes, precision=precision)
    if kind == "cpu":
        wanted = distributed.processes(device)
        if device != "cpu" and wanted is not None and int(wanted) != local:
            raise TesseraError(f"device {device!r} asks for {wanted} processes, but torchrun started {local} "
                               "on this machine")
        return dict(accelerator="cpu", devices=local, **ddp)
    ids = distributed.gpu_list(device)
    if ids is None and device not in ("cuda", "cuda:all"):
        raise TesseraError(f"device {device!r} names one GPU, but torchrun started {local} processes on this "
                           "machine: use device cuda (one GPU per process) or list them (cuda:0,1)")
    if ids is not None and len(ids) != local:
        raise TesseraError(f"device {device!r} lists {len(ids)} GPUs, but torchrun started {local} processes "
                           "on this machine")
    ids = ids or list(range(local))
    _check_gpus(device, ids)
    return dict(accelerator="gpu", devices=ids, **ddp)


def _check_gpus(device: str, ids: list[int]) -> None:
    import torch

    have = torch.cuda.device_count()
    if max(ids) >= have:
        need = f"needs GPUs {', '.join(map(str, ids))} (one per process)" if len(ids) > 1 else "asked for"
        raise TesseraError(f"device {device!r} {need}, but this machine has {have} CUDA GPU(s)")


def ultralytics_device(device: str) -> str:
    """The same choice as ultralytics spells it: "cpu" or "N" (detection trains
    in one process; its device parameter accepts no more)."""
    distributed.check_single_process("detection")
    args = trainer_args(device)
    return "cpu" if args["accelerator"] == "cpu" else str(args["devices"][0])
