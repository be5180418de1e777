"""Running a registered classification model."""
from __future__ import annotations

import numpy as np
import torch

from ...errors import TesseraError
from ...jobs.checkpoints import load_checkpoint
from .data import to_input
from .module import build_network


def load_model(path: str):
    state = load_checkpoint(path)
    if state.get("format") != "tessera-classification-v1":
        raise TesseraError("not a Tessera classification model", path)
    net = build_network(state["architecture"], len(state["classes"]))
    net.load_state_dict(state["state_dict"])
    return net.eval(), state


@torch.inference_mode()
def predict_proba(net, crops: list[np.ndarray], size: int, device: str = "cpu", embedding: list | None = None
                  ) -> np.ndarray:
    """Class probabilities (n, K); a list passed as ``embedding`` receives
    the pre-logit features (n, D) for diversity selection."""
    x = torch.stack([to_input(c, size) for c in crops]).to(device)
    features = net.forward_head(net.forward_features(x), pre_logits=True)
    if embedding is not None:
        embedding.append(features.float().cpu().numpy())
    return torch.softmax(net.get_classifier()(features).float(), 1).cpu().numpy()
