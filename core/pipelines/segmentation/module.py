"""The Lightning module: an smp network, CrossEntropy + Dice with the no-data
ignore index, and torchmetrics IoU / pixel accuracy for train and val."""
from __future__ import annotations

import lightning.pytorch as pl
import segmentation_models_pytorch as smp
import torch
from torchmetrics.classification import MulticlassJaccardIndex

from ..schedule import lightning_schedule
from .data import IGNORE


def build_network(architecture: str, encoder: str, classes: int) -> torch.nn.Module:
    return smp.create_model(architecture, encoder_name=encoder, encoder_weights=None, classes=classes)


class SegmentationModule(pl.LightningModule):
    def __init__(self, architecture: str, encoder: str, class_names: list[str], learning_rate: float,
                 scheduler: str, warmup_epochs: int, epochs: int, dice_weight: float,
                 class_weights: list[float] | None = None):
        super().__init__()
        self.save_hyperparameters()
        n = len(class_names)
        self.net = build_network(architecture, encoder, n)
        weight = torch.tensor(class_weights if class_weights else [1.0] * n, dtype=torch.float32)
        self.register_buffer("class_weight", weight, persistent=False)
        self.dice = smp.losses.DiceLoss("multiclass", ignore_index=IGNORE)
        # keys "train_"/"val_": "train" would shadow nn.Module.train.  The
        # targets are ours (class_lut), so torchmetrics' per-batch value checks
        # (a GPU sync each) are left out.
        self.iou = torch.nn.ModuleDict({f"{s}_": MulticlassJaccardIndex(n, average="none", ignore_index=IGNORE,
                                                                        validate_args=False)
                                        for s in ("train", "val")})

    def forward(self, x):
        return self.net(x)

    def _step(self, batch, stage: str):
        x, y = batch
        logits = self(x)
        loss = self.cross_entropy(logits, y)
        if self.hparams.dice_weight > 0:  # 0 where every pixel is no-data
            loss = loss + self.hparams.dice_weight * self.dice(logits, y)
        if stage == "train":  # every other pixel: a cheap, unbiased estimate for the training curve
            logits, y = logits[:, :, ::2, ::2], y[:, ::2, ::2]
        self.iou[f"{stage}_"].update(logits.detach().argmax(1), y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=x.shape[0], sync_dist=True)
        return loss

    def cross_entropy(self, logits, y):
        """Class-weighted cross-entropy over the labelled pixels; 0 (not NaN, and
        without asking the GPU whether any pixel is labelled) when none is."""
        import torch.nn.functional as F

        per_pixel = F.cross_entropy(logits, y, weight=self.class_weight, ignore_index=IGNORE, reduction="none")
        valid = y != IGNORE
        weights = self.class_weight[torch.where(valid, y, 0)] * valid
        return per_pixel.sum() / weights.sum().clamp(min=1e-6)

    def training_step(self, batch, batch_idx):
        loss = self._step(batch, "train")
        if batch_idx == self.trainer.num_training_batches - 1:
            # Training metrics are closed here, not in on_train_epoch_end: Lightning
            # runs callbacks' epoch-end hooks (the job's recorder) before the module's.
            self._epoch_metrics("train")
        return loss

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def _epoch_metrics(self, stage: str):
        iou = self.iou[f"{stage}_"]
        per_class = iou.compute()
        confmat = iou.confmat
        present = confmat.sum(1) + confmat.sum(0) > 0
        miou = per_class[present].mean() if present.any() else per_class.new_zeros(())
        # compute() gathers every rank's counts already; sync_dist (a mean of equal
        # values) only tells Lightning so
        self.log(f"{stage}_miou", miou, sync_dist=True)
        self.log(f"{stage}_pixel_accuracy", confmat.diagonal().sum() / confmat.sum().clamp(min=1), sync_dist=True)
        for name, value, seen in zip(self.hparams.class_names, per_class, present):
            if seen:
                self.log(f"{stage}_iou/{name}", value, sync_dist=True)
        iou.reset()

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self._epoch_metrics("val")

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=self.hparams.learning_rate, weight_decay=1e-4)
        return lightning_schedule(self, opt, self.hparams.epochs, self.hparams.warmup_epochs, self.hparams.scheduler)
