"""How heavy a network is: parameters, FLOPs, latency / FPS, peak memory."""
from __future__ import annotations

import resource
import time

import torch


def count_parameters(net: torch.nn.Module) -> int:
    return int(sum(p.numel() for p in net.parameters()))


def count_flops(net: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """Floating-point operations of one forward pass (torch's FLOP counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net(torch.zeros(shape))
    return int(counter.get_total_flops())


@torch.inference_mode()
def latency(net: torch.nn.Module, shape: tuple[int, ...], device: str = "cpu", runs: int = 10,
            warmup: int = 2) -> dict:
    x = torch.randn(shape, device=device)
    for _ in range(warmup):
        net(x)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        net(x)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    times.sort()
    median = times[len(times) // 2]
    return {"batch": shape[0], "latency_ms": round(median * 1000, 3), "fps": round(shape[0] / median, 2)}


def peak_memory_mb(device: str = "cpu") -> dict:
    if device.startswith("cuda"):
        return {"peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1), "memory_kind": "gpu"}
    return {"peak_memory_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "memory_kind": "process_rss"}


def profile(net: torch.nn.Module, image_size: int, batch_size: int, device: str = "cpu", runs: int = 10) -> dict:
    net = net.to(device).eval()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    out = {"parameters": count_parameters(net),
           "flops": count_flops(net.cpu(), (1, 3, image_size, image_size)),
           "input_size": image_size, "device": device}
    net = net.to(device)
    out["batch_1"] = latency(net, (1, 3, image_size, image_size), device, runs)
    out[f"batch_{batch_size}"] = latency(net, (batch_size, 3, image_size, image_size), device, max(2, runs // 3))
    out.update(peak_memory_mb(device))
    return out
