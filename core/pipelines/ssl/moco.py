"""MoCo v3 (Chen, Xie and He, 2021) as a Lightning module: a base encoder
with projector and predictor MLPs, a momentum encoder (an exponential moving
average of the base encoder and projector, its momentum rising to 1 on a
cosine schedule), and the symmetric InfoNCE loss between each view's query
and the other view's key, the other images of the batch as negatives.

Validation measures the base encoder's features by weighted k-NN
(Wu et al., 2018) on labelled crops: ``val_knn_accuracy``."""
from __future__ import annotations

import copy
import math

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from torch import nn

from ..schedule import lightning_schedule
from .encoders import build_backbone


def mlp(layers: int, dim_in: int, hidden: int, dim_out: int, last_bn: bool) -> nn.Sequential:
    """MoCo v3's MLP: Linear-BN-ReLU blocks, the last Linear followed by a
    BatchNorm without affine parameters when ``last_bn``."""
    out: list[nn.Module] = []
    for i in range(layers):
        a = dim_in if i == 0 else hidden
        b = dim_out if i == layers - 1 else hidden
        out.append(nn.Linear(a, b, bias=False))
        if i < layers - 1:
            out += [nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
        elif last_bn:
            out.append(nn.BatchNorm1d(b, affine=False))
    return nn.Sequential(*out)


def momentum_at(step: int, total: int, base: float) -> float:
    """1 - (1 - base) (cos(pi step / total) + 1) / 2: ``base`` at the start, 1 at the end."""
    return 1.0 - (1.0 - base) * (math.cos(math.pi * min(step, total) / max(1, total)) + 1.0) / 2.0


def contrastive_loss(q: torch.Tensor, k: torch.Tensor, temperature: float, rank: int = 0) -> torch.Tensor:
    """InfoNCE of queries ``q`` (B, D) against keys ``k`` (all devices' keys,
    N, D), the positive of query i being key ``rank * B + i``; scaled by
    2 temperature as in MoCo v3."""
    q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
    logits = q @ k.t() / temperature
    labels = torch.arange(q.shape[0], device=q.device) + rank * q.shape[0]
    return F.cross_entropy(logits, labels) * (2 * temperature)


def knn_accuracy(bank: torch.Tensor, bank_labels: torch.Tensor, queries: torch.Tensor, query_labels: torch.Tensor,
                 k: int = 20, temperature: float = 0.07, leave_one_out: bool = False) -> float:
    """Weighted k-NN accuracy: each query's ``k`` most cosine-similar bank
    features vote for their labels with weight exp(similarity / temperature).
    ``leave_one_out``: queries and bank are the same items; none votes for itself."""
    bank, queries = F.normalize(bank.float(), dim=1), F.normalize(queries.float(), dim=1)
    sim = queries @ bank.t()
    if leave_one_out:
        sim.fill_diagonal_(-float("inf"))
    k = min(k, bank.shape[0] - int(leave_one_out))
    if k < 1:
        return float("nan")
    top, index = sim.topk(k, dim=1)
    classes = int(max(bank_labels.max(), query_labels.max())) + 1
    votes = torch.zeros(queries.shape[0], classes, device=queries.device)
    votes.scatter_add_(1, bank_labels[index], (top / temperature).exp())
    return float((votes.argmax(1) == query_labels).float().mean())


class MoCoV3(pl.LightningModule):
    def __init__(self, architecture: str, learning_rate: float, weight_decay: float, scheduler: str,
                 warmup_epochs: int, epochs: int, temperature: float, momentum: float, mlp_dim: int,
                 out_dim: int, knn_k: int = 20, bank_size: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.encoder = build_backbone(architecture)
        self.projector = mlp(3, self.encoder.dim, mlp_dim, out_dim, last_bn=True)
        self.predictor = mlp(2, out_dim, mlp_dim, out_dim, last_bn=False)
        self.momentum_encoder = copy.deepcopy(self.encoder)
        self.momentum_projector = copy.deepcopy(self.projector)
        for p in [*self.momentum_encoder.parameters(), *self.momentum_projector.parameters()]:
            p.requires_grad = False
        self._features: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    @torch.no_grad()
    def _update_momentum(self, m: float) -> None:
        for online, target in ((self.encoder, self.momentum_encoder), (self.projector, self.momentum_projector)):
            for p, q in zip(online.parameters(), target.parameters()):
                q.mul_(m).add_(p.detach(), alpha=1.0 - m)

    def _keys(self, x: torch.Tensor) -> torch.Tensor:
        k = self.momentum_projector(self.momentum_encoder(x))
        if self.trainer.world_size > 1:  # negatives from every device's batch
            k = self.all_gather(k).flatten(0, 1)
        return k

    def training_step(self, batch, batch_idx):
        x1, x2 = batch
        m = momentum_at(self.global_step, int(self.trainer.estimated_stepping_batches), self.hparams.momentum)
        q1 = self.predictor(self.projector(self.encoder(x1)))
        q2 = self.predictor(self.projector(self.encoder(x2)))
        with torch.no_grad():
            self._update_momentum(m)
            k1, k2 = self._keys(x1), self._keys(x2)
        t, rank = self.hparams.temperature, self.global_rank
        loss = contrastive_loss(q1, k2, t, rank) + contrastive_loss(q2, k1, t, rank)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=x1.shape[0], sync_dist=True)
        self.log("momentum", m, on_step=False, on_epoch=True, batch_size=x1.shape[0])
        return loss

    # -- the k-NN probe ------------------------------------------------------
    def validation_step(self, batch, batch_idx):
        x, labels, index = batch
        self._features.append((self.encoder(x).float(), labels, index))

    def on_validation_epoch_end(self):
        if not self._features:
            return
        feats, labels, index = (torch.cat(parts) for parts in zip(*self._features))
        self._features = []
        if self.trainer.world_size > 1:
            feats, labels, index = (self.all_gather(t).flatten(0, 1) for t in (feats, labels, index))
        order = index.argsort()
        feats, labels, index = feats[order], labels[order], index[order]
        first = torch.ones_like(index, dtype=torch.bool)  # a distributed sampler repeats items to even out
        first[1:] = index[1:] != index[:-1]
        feats, labels, index = feats[first], labels[first], index[first]
        n_bank = self.hparams.bank_size
        bank, queries = index < n_bank, index >= n_bank
        if n_bank:
            acc = knn_accuracy(feats[bank], labels[bank], feats[queries], labels[queries], self.hparams.knn_k)
        else:
            acc = knn_accuracy(feats, labels, feats, labels, self.hparams.knn_k, leave_one_out=True)
        if math.isfinite(acc):
            self.log("val_knn_accuracy", acc, rank_zero_only=True)

    def configure_optimizers(self):
        params = [*self.encoder.parameters(), *self.projector.parameters(), *self.predictor.parameters()]
        opt = torch.optim.AdamW(params, lr=self.hparams.learning_rate, weight_decay=self.hparams.weight_decay)
        return lightning_schedule(self, opt, self.hparams.epochs, self.hparams.warmup_epochs, self.hparams.scheduler)
