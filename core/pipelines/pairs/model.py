"""The pair model: one shared backbone and two heads.  The backbone embeds
each person's crop and the union box; with an encoding of the pair's
geometry these make one order-free pair feature, from which the
``interaction`` head says whether the two interact (stage 1) and the
``type`` head which kind of interaction it is (stage 2)."""
from __future__ import annotations

import torch
from torch import nn

from . import TORCHVISION
from .geometry import FEATURES


def build_backbone(architecture: str) -> tuple[nn.Module, int]:
    """A fresh backbone (never downloaded) that maps images to a pooled
    feature vector, and that vector's length."""
    if architecture in TORCHVISION:
        import torchvision

        net = getattr(torchvision.models, architecture)(weights=None)
        dim = net.fc.in_features
        net.fc = nn.Identity()
        return net, dim
    import timm

    net = timm.create_model(architecture, pretrained=False, num_classes=0)
    return net, int(net.num_features)


class PairNet(nn.Module):
    def __init__(self, architecture: str, num_types: int, hidden: int = 256):
        super().__init__()
        self.backbone, dim = build_backbone(architecture)
        self.geometry = nn.Sequential(nn.Linear(len(FEATURES), 64), nn.ReLU(inplace=True), nn.Linear(64, 64),
                                      nn.ReLU(inplace=True))
        fused = 3 * dim + 64

        def head(out: int) -> nn.Sequential:
            return nn.Sequential(nn.Linear(fused, hidden), nn.ReLU(inplace=True), nn.Dropout(0.2),
                                 nn.Linear(hidden, out))

        self.interaction_head = head(1)
        self.type_head = head(num_types)

    def features(self, crops: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
        """``crops`` (B, 3 crops, 3, S, S): person a, person b, union."""
        n = crops.shape[0]
        f = self.backbone(crops.flatten(0, 1)).view(n, 3, -1)
        a, b, union = f.unbind(1)
        return torch.cat([a + b, (a - b).abs(), union, self.geometry(geometry)], 1)

    def forward(self, crops: torch.Tensor, geometry: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(interaction logit (B,), type logits (B, K))."""
        z = self.features(crops, geometry)
        return self.interaction_head(z).squeeze(1), self.type_head(z)


class OneInput(nn.Module):
    """The pair model behind a single image input, for the efficiency
    profile: the image stands for all three crops (the same computation as a
    real pair), the geometry is zeros."""

    def __init__(self, net: PairNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        crops = x[:, None].expand(-1, 3, -1, -1, -1)
        logit, types = self.net(crops, x.new_zeros(x.shape[0], len(FEATURES)))
        return torch.cat([logit[:, None], types], 1)
