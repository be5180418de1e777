"""A pair model on one frame: which persons interact, and how."""
from __future__ import annotations

import numpy as np
import torch

from ...jobs.checkpoints import load_checkpoint
from .data import pair_tensors
from .model import OneInput, PairNet
from .sampling import candidate_pairs


def load_model(path) -> tuple[PairNet, dict]:
    """A registered pair model (weights only) and its state."""
    state = load_checkpoint(path)
    net = PairNet(state["architecture"], len(state["type_classes"]))
    net.load_state_dict(state["state_dict"])
    return net.eval(), state


def load_profiled(path) -> tuple[OneInput, dict]:
    """The model behind one image input (for the efficiency profile) and its state."""
    net, state = load_model(path)
    return OneInput(net).eval(), state


@torch.inference_mode()
def predict_pairs(net, state: dict, pixels: np.ndarray, boxes: np.ndarray, device: str = "cpu",
                  batch: int = 64) -> list[dict]:
    """Every candidate pair of ``boxes`` (within the model's distance limit,
    across the seam): ``{"i", "j", "interaction", "type", "type_probability"}``."""
    height, width = pixels.shape[:2]
    keys = candidate_pairs(boxes, width, state["distance_multiplier"]).tolist()
    net = net.to(device).eval()
    names = state["type_classes"]
    out = []
    for start in range(0, len(keys), batch):
        chunk = keys[start:start + batch]
        tensors = [pair_tensors(pixels, boxes[i], boxes[j], state["image_size"], width, height) for i, j in chunk]
        crops = torch.stack([t[0] for t in tensors]).to(device)
        geometry = torch.stack([t[1] for t in tensors]).to(device)
        logit, types = net(crops, geometry)
        p = torch.sigmoid(logit.float()).cpu().numpy()
        q = torch.softmax(types.float(), 1).cpu().numpy()
        for (i, j), pi, qi in zip(chunk, p, q):
            k = int(qi.argmax())
            out.append({"i": i, "j": j, "interaction": float(pi), "type": names[k], "type_probability": float(qi[k])})
    return out
