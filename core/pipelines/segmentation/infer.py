"""Running a registered segmentation model."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...jobs.checkpoints import load_checkpoint
from .data import MEAN, STD
from .module import build_network


def load_model(path: str):
    """(network in eval mode, its stored description) from a registered model file."""
    state = load_checkpoint(path)
    if state.get("format") != "tessera-segmentation-v1":
        from ...errors import TesseraError
        raise TesseraError("not a Tessera segmentation model", path)
    net = build_network(state["architecture"], state["encoder"], len(state["classes"]))
    net.load_state_dict(state["state_dict"])
    return net.eval(), state


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    img = torch.from_numpy(np.array(pixels, copy=True)).permute(2, 0, 1).float() / 255.0
    return (img - MEAN) / STD


@torch.inference_mode()
def predict_logits(net, pixels: np.ndarray, device: str = "cpu", embedding: list | None = None) -> torch.Tensor:
    """Class scores (C, H, W) for an RGB window of any size (padded to stride
    32).  A list passed as ``embedding`` receives the encoder's deepest
    features, pooled (the image's embedding for diversity selection)."""
    x = to_tensor(pixels)[None].to(device)
    h, w = x.shape[-2:]
    ph, pw = -(-h // 32) * 32 - h, -(-w // 32) * 32 - w
    x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "constant")
    hook = None
    if embedding is not None:
        hook = net.encoder.register_forward_hook(
            lambda m, i, o: embedding.append(o[-1].float().mean((2, 3))[0].cpu().numpy()))
    try:
        return net(x)[0, :, :h, :w].float().cpu()
    finally:
        if hook is not None:
            hook.remove()


def predict(net, pixels: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Channel index per pixel."""
    return predict_logits(net, pixels, device).argmax(0).numpy().astype(np.uint8)
