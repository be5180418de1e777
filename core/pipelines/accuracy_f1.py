"""Accuracy and F1 per epoch for training and validation, the part of a
Lightning module the classification and pair pipelines share."""
from __future__ import annotations


class AccuracyF1:
    """Mixed into a LightningModule that sets ``self.acc`` and ``self.f1``
    (ModuleDicts keyed ``train_`` and ``val_``)."""

    def _update(self, stage: str, preds, y, loss) -> None:
        self.acc[f"{stage}_"].update(preds, y)
        self.f1[f"{stage}_"].update(preds, y)
        self.log(f"{stage}_loss", loss, on_step=False, on_epoch=True, batch_size=y.shape[0], sync_dist=True)

    def _epoch(self, stage: str) -> None:
        # compute() gathers every rank's counts already; sync_dist (a mean of equal
        # values) only tells Lightning so
        self.log(f"{stage}_accuracy", self.acc[f"{stage}_"].compute(), sync_dist=True)
        self.log(f"{stage}_f1", self.f1[f"{stage}_"].compute(), sync_dist=True)
        self.acc[f"{stage}_"].reset()
        self.f1[f"{stage}_"].reset()

    def _train_batch_done(self, batch_idx: int) -> None:
        if batch_idx == self.trainer.num_training_batches - 1:
            self._epoch("train")  # before the job's recorder runs (see segmentation.module)

    def on_validation_epoch_end(self):
        if not self.trainer.sanity_checking:
            self._epoch("val")
