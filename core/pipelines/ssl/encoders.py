"""The backbones ``ssl-pretrain`` trains, and loading one into another
pipeline's network.

A backbone maps an ImageNet-normalised image batch to one pooled feature
vector per image.  Its weights are kept under the names of the network it
comes from (a timm model without its classifier, or the ``model.N`` backbone
layers of an ultralytics ``DetectionModel``), so they load by name into:
timm classifiers, torchvision ResNets, smp's ResNet and ``tu-`` encoders
(whose ``stages_0`` is timm's ``stages.0``) and YOLO detection models."""
from __future__ import annotations

import torch
from torch import nn

from ...errors import TesseraError
from ..backbones import family
from ..segmentation.data import MEAN, STD

FORMAT = "tessera-backbone-v1"


class TimmBackbone(nn.Module):
    def __init__(self, architecture: str):
        super().__init__()
        import timm

        self.model = timm.create_model(architecture, pretrained=False, num_classes=0)
        self.dim = int(self.model.num_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def weights(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()  # timm's own names


class YoloBackbone(nn.Module):
    """The backbone layers of a YOLO model built from its YAML (every one
    takes the previous layer's output), globally average-pooled.  YOLO
    networks read pixels in 0..1: the ImageNet normalisation is undone first."""

    def __init__(self, architecture: str):
        super().__init__()
        from ultralytics.nn.tasks import DetectionModel

        full = DetectionModel(f"{architecture}.yaml", nc=1, verbose=False)
        count = len(full.yaml["backbone"])
        layers = list(full.model[:count])
        if any(getattr(layer, "f", -1) != -1 for layer in layers):
            raise TesseraError(f"{architecture}: its backbone layers are not a chain; cannot pre-train it alone")
        self.model = nn.Sequential(*layers)
        self.register_buffer("mean", MEAN.clone().view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", STD.clone().view(1, 3, 1, 1), persistent=False)
        with torch.no_grad():
            self.dim = int(self.model.eval()(torch.zeros(1, 3, 64, 64)).shape[1])
        self.model.train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x * self.std + self.mean).mean((2, 3))

    def weights(self) -> dict[str, torch.Tensor]:
        return self.state_dict()  # model.N.…, as in DetectionModel


def build_backbone(architecture: str) -> TimmBackbone | YoloBackbone:
    return YoloBackbone(architecture) if family(architecture) == "yolo" else TimmBackbone(architecture)


def _norm(key: str) -> str:
    """A name both sides agree on: smp's ``tu-`` encoders wrap timm's
    feature network as ``model.`` and flatten ``stages.0`` to ``stages_0``."""
    return key.removeprefix("model.").replace("_", ".")


#: tensors of the backbone that a target may lack (timm's head norm after pooling)
OPTIONAL = ("head.",)


def load_backbone(target: nn.Module, state: dict, origin: str) -> int:
    """Load the backbone ``state`` (a ``tessera-backbone-v1`` checkpoint) into
    ``target``; every backbone tensor must find its counterpart with the same
    shape.  Returns the number of tensors loaded."""
    own = target.state_dict()
    by_norm = {_norm(k): k for k in own}
    fitting, missing, wrong = {}, [], []
    for key, value in state["state_dict"].items():
        name = by_norm.get(_norm(key))
        if name is None:
            if not key.startswith(OPTIONAL):
                missing.append(key)
        elif own[name].shape != value.shape:
            wrong.append(f"{key} {tuple(value.shape)} vs {tuple(own[name].shape)}")
        else:
            fitting[name] = value
    if missing or wrong:
        detail = "; ".join(([f"{len(missing)} of its tensors have no counterpart (first: {missing[0]})"] if missing
                            else []) + ([f"{len(wrong)} differ in shape (first: {wrong[0]})"] if wrong else []))
        raise TesseraError(f"{origin} ({state.get('architecture')}) does not fit this network: {detail}")
    target.load_state_dict(fitting, strict=False)
    return len(fitting)
