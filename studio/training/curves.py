"""Training curves: loss (training and validation) and the pipeline's metric
(training and validation) per epoch, drawn with pyqtgraph, with a warning
when validation loss keeps rising while training loss falls."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

OVERFIT_EPOCHS = 3  # validation loss rising this many epochs in a row while training loss falls

# The metric graph of each task: (title, training key, validation key)
METRICS = {
    "segmentation": ("IoU (mean)", "train_miou", "val_miou"),
    "detection": ("mAP50-95", None, "val_map50_95"),
    "classification": ("accuracy", "train_accuracy", "val_accuracy"),
    "pairs": ("F1", "train_f1", "val_f1"),
}
TRAIN_PEN = pg.mkPen("#4c9be8", width=2)
VAL_PEN = pg.mkPen("#f0a340", width=2)


def overfitting(history: dict[int, dict]) -> bool:
    """Validation loss rose for OVERFIT_EPOCHS epochs in a row while training loss fell."""
    epochs = sorted(e for e in history if "val_loss" in history[e] and "train_loss" in history[e])
    if len(epochs) < OVERFIT_EPOCHS + 1:
        return False
    last = epochs[-(OVERFIT_EPOCHS + 1):]
    val = [history[e]["val_loss"] for e in last]
    train = [history[e]["train_loss"] for e in last]
    return all(b > a for a, b in zip(val, val[1:])) and train[-1] < train[0]


class CurvesWidget(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, background="#1b1f24", foreground="#c8ccd0")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.warning = QLabel()
        self.warning.setStyleSheet("color: #f0a340; font-weight: bold")
        self.warning.setWordWrap(True)
        self.warning.hide()
        layout.addWidget(self.warning)
        self.loss_plot = pg.PlotWidget(title="Loss")
        self.metric_plot = pg.PlotWidget(title="Metric")
        plots = QHBoxLayout()
        for plot in (self.loss_plot, self.metric_plot):
            plot.addLegend(offset=(-10, 10))
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
            plot.setMinimumHeight(160)
            plots.addWidget(plot, 1)
        layout.addLayout(plots, 1)
        # Fresh networks start with validation losses thousands of times their
        # later values (batch-norm statistics not settled): a log axis keeps the
        # part that matters readable.
        self.loss_plot.setLogMode(y=True)
        self.loss_plot.setTitle("Loss (log scale)")
        self.lines = {
            "train_loss": self.loss_plot.plot([], [], pen=TRAIN_PEN, symbol="o", symbolSize=5, name="training"),
            "val_loss": self.loss_plot.plot([], [], pen=VAL_PEN, symbol="o", symbolSize=5, name="validation"),
            "train_metric": self.metric_plot.plot([], [], pen=TRAIN_PEN, symbol="o", symbolSize=5, name="training"),
            "val_metric": self.metric_plot.plot([], [], pen=VAL_PEN, symbol="o", symbolSize=5, name="validation"),
        }
        self.history: dict[int, dict] = {}
        self.task = "segmentation"

    def show_history(self, task: str, history: dict[int, dict]) -> None:
        """Draw a whole job's curves (from the store)."""
        self.task = task
        self.history = {int(e): dict(m) for e, m in history.items()}
        self._draw()

    def add_epoch(self, epoch: int, metrics: dict) -> None:
        """One more point on each curve (a live ``epoch`` event)."""
        self.history[int(epoch)] = {k: v for k, v in metrics.items() if v is not None}
        # a resumed job re-runs the epochs after its checkpoint: later points go
        for later in [e for e in self.history if e > epoch]:
            del self.history[later]
        self._draw()

    def points(self, name: str) -> int:
        """How many points the curve ``name`` (train_loss, val_loss, train_metric, val_metric) shows."""
        xs, _ = self.lines[name].getData()
        return 0 if xs is None else len(xs)

    def _draw(self) -> None:
        title, train_key, val_key = METRICS.get(self.task, METRICS["segmentation"])
        self.metric_plot.setTitle(title)
        keys = {"train_loss": "train_loss", "val_loss": "val_loss", "train_metric": train_key, "val_metric": val_key}
        epochs = sorted(self.history)
        for name, key in keys.items():
            xs = [e for e in epochs if key and isinstance(self.history[e].get(key), (int, float))]
            self.lines[name].setData(xs, [self.history[e][key] for e in xs])
        if overfitting(self.history):
            self.warning.setText(f"Validation loss has risen for {OVERFIT_EPOCHS} epochs while training loss "
                                 "falls: the model may be overfitting (memorising the training images).")
            self.warning.show()
        else:
            self.warning.hide()
