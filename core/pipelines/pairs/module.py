"""The Lightning module of both pair stages: stage 1 trains the interaction
head (the type head frozen), stage 2 the type head (the interaction head
frozen, the backbone too when ``freeze_backbone``).  Loss, accuracy and F1
for training and validation every epoch."""
from __future__ import annotations

import lightning.pytorch as pl
import torch
from torchmetrics.classification import BinaryAccuracy, BinaryF1Score, MulticlassAccuracy, MulticlassF1Score

from ..accuracy_f1 import AccuracyF1
from ..schedule import lightning_schedule
from .model import PairNet


class PairModule(AccuracyF1, pl.LightningModule):
    def __init__(self, architecture: str, stage: int, type_names: list[str], learning_rate: float, scheduler: str,
                 warmup_epochs: int, epochs: int, class_weights: list[float] | None = None,
                 freeze_backbone: bool = False):
        super().__init__()
        self.save_hyperparameters()
        self.net = PairNet(architecture, len(type_names))
        self.stage = stage
        frozen = [self.net.type_head] if stage == 1 else [self.net.interaction_head]
        if stage == 2 and freeze_backbone:
            frozen += [self.net.backbone, self.net.geometry]
        self.frozen = frozen
        for part in frozen:
            part.requires_grad_(False)
        if stage == 1:
            self.loss = torch.nn.BCEWithLogitsLoss()
            make_acc, make_f1 = (lambda: BinaryAccuracy(validate_args=False)), (lambda: BinaryF1Score(validate_args=False))
        else:
            n = len(type_names)
            weight = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
            self.loss = torch.nn.CrossEntropyLoss(weight=weight)
            make_acc = lambda: MulticlassAccuracy(n, average="micro", validate_args=False)  # noqa: E731
            make_f1 = lambda: MulticlassF1Score(n, average="macro", validate_args=False)  # noqa: E731
        self.acc = torch.nn.ModuleDict({f"{s}_": make_acc() for s in ("train", "val")})
        self.f1 = torch.nn.ModuleDict({f"{s}_": make_f1() for s in ("train", "val")})

    def train(self, mode: bool = True):
        super().train(mode)
        for part in self.frozen:  # frozen parts keep their batch-norm statistics too
            part.eval()
        return self

    def _step(self, batch):
        crops, geometry, y = batch
        logit, types = self.net(crops, geometry)
        if self.stage == 1:
            return self.loss(logit, y.float()), (logit > 0).long(), y
        return self.loss(types, y), types.argmax(1), y

    def training_step(self, batch, batch_idx):
        loss, preds, y = self._step(batch)
        self._update("train", preds, y, loss)
        self._train_batch_done(batch_idx)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, preds, y = self._step(batch)
        self._update("val", preds, y, loss)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=self.hparams.learning_rate, weight_decay=0.01)
        return lightning_schedule(self, opt, self.hparams.epochs, self.hparams.warmup_epochs, self.hparams.scheduler)
