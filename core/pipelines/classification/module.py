"""The Lightning module: a timm network, mixup and label smoothing, accuracy
and macro F1 through torchmetrics."""
from __future__ import annotations

import lightning.pytorch as pl
import timm
import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from ..accuracy_f1 import AccuracyF1
from ..schedule import lightning_schedule


def build_network(architecture: str, classes: int) -> torch.nn.Module:
    return timm.create_model(architecture, pretrained=False, num_classes=classes)


class ClassificationModule(AccuracyF1, pl.LightningModule):
    def __init__(self, architecture: str, class_names: list[str], learning_rate: float, scheduler: str,
                 warmup_epochs: int, epochs: int, mixup: float, label_smoothing: float,
                 class_weights: list[float] | None = None):
        super().__init__()
        self.save_hyperparameters()
        n = len(class_names)
        self.net = build_network(architecture, n)
        weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.loss = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
        self.acc = torch.nn.ModuleDict({f"{s}_": MulticlassAccuracy(n, average="micro") for s in ("train", "val")})
        self.f1 = torch.nn.ModuleDict({f"{s}_": MulticlassF1Score(n, average="macro") for s in ("train", "val")})

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        alpha = self.hparams.mixup
        if alpha > 0 and x.shape[0] > 1:
            lam = float(torch.distributions.Beta(alpha, alpha).sample())
            perm = torch.randperm(x.shape[0], device=x.device)
            logits = self(lam * x + (1 - lam) * x[perm])
            loss = lam * self.loss(logits, y) + (1 - lam) * self.loss(logits, y[perm])
        else:
            logits = self(x)
            loss = self.loss(logits, y)
        self._update("train", logits.argmax(1), y, loss)
        self._train_batch_done(batch_idx)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self._update("val", logits.argmax(1), y, self.loss(logits, y))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.learning_rate, weight_decay=0.05)
        return lightning_schedule(self, opt, self.hparams.epochs, self.hparams.warmup_epochs, self.hparams.scheduler)
