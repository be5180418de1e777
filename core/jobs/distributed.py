"""One job in several processes (DDP): how many a job's device asks for, the
``torchrun`` command that starts them, and which process this one is.

Every process of a job runs the same worker.  ``torchrun`` starts them (on
one machine for a job whose device lists several GPUs, ``cuda:0,1``; across
machines when a user runs it on a cluster) and tells each its rank through
the environment.  Rank 0 is the job as the rest of Tessera knows it: it
writes the events, the store and the checkpoint files; the other ranks only
train.  Lightning finds the ranks in the same environment (its torchelastic
cluster environment), so it starts no processes of its own."""
from __future__ import annotations

import os
import re

from ..errors import TesseraError

# auto | cpu | cpu:N (N processes) | cuda | cuda:N (that GPU) | cuda:0,1,.. (one process each) | cuda:all
DEVICE_PATTERN = r"auto|cpu(:[1-9]\d?)?|cuda(:(\d+(,\d+)*|all))?"


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1") or 1)


def rank() -> int:
    """This process's global rank (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0") or 0)


def local_world_size() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", str(world_size())) or 1)


def is_main() -> bool:
    return rank() == 0


def gpu_list(device: str) -> list[int] | None:
    """The GPUs ``cuda:0,1`` names, one process each; ``None`` for any other device."""
    m = re.fullmatch(r"cuda:(\d+(?:,\d+)+)", device.strip().lower())
    if not m:
        return None
    ids = [int(i) for i in m.group(1).split(",")]
    if len(set(ids)) != len(ids):
        raise TesseraError(f"device {device!r} names a GPU twice")
    return ids


def processes(device: str) -> str | None:
    """How many processes a job on ``device`` runs on this machine, spelled as
    torchrun's ``--nproc-per-node`` takes it (``"gpu"``: one per GPU); ``None``
    for a job of one process."""
    device = device.strip().lower()
    if device == "cuda:all":
        return "gpu"
    if device.startswith("cpu:"):
        n = int(device.split(":", 1)[1])
        return str(n) if n > 1 else None
    ids = gpu_list(device)
    return str(len(ids)) if ids else None


def torchrun_args(nproc: str) -> list[str]:
    """``torchrun`` options for all of a job's processes on this one machine; the
    worker's command follows (``--no-python``: it is a whole command, which the
    packaged app's is too)."""
    return ["--standalone", f"--nproc-per-node={nproc}", "--no-python"]


def check_single_process(pipeline: str) -> None:
    """For trainers that cannot share a job between processes."""
    if world_size() > 1:
        raise TesseraError(f"{pipeline} trains in one process: started as {world_size()} (torchrun); "
                           "give the job one device (cpu, cuda or cuda:N) and start it without torchrun")
