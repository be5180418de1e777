"""The PNG plots of a benchmark report (matplotlib, Agg: no display needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def training_curves(histories: dict[str, dict[int, dict]], metric: str | list[str], path: Path) -> Path:
    """Loss (train and val) and each of ``metric`` (train and val) per epoch,
    one panel each, one line per model."""
    plt = _plt()
    metrics = [metric] if isinstance(metric, str) else list(metric)
    fig, axes = plt.subplots(1, 1 + len(metrics), figsize=(5.5 * (1 + len(metrics)), 4))
    panels = [("loss", axes[0])] + list(zip(metrics, axes[1:]))
    for label, history in histories.items():
        epochs = sorted(history)
        for name, ax in panels:
            for stage, style in (("train", "--"), ("val", "-")):
                ys = [history[e].get(f"{stage}_{name}") for e in epochs]
                if any(v is not None for v in ys):
                    ax.plot(epochs, [np.nan if v is None else v for v in ys], style, marker=".",
                            label=f"{label} {stage}")
    axes[0].set_title("loss (log scale)")
    axes[0].set_yscale("log")  # fresh networks' first validation losses dwarf the rest
    for name, ax in panels[1:]:
        ax.set_title(name)
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def probability_histograms(panels: list[tuple[str, np.ndarray, np.ndarray]], path: Path) -> Path:
    """One panel per (title, predicted probabilities, is-this-class truth):
    the probabilities of the samples that are of the class and of those that
    are not, as two histograms."""
    plt = _plt()
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False)
    bins = np.linspace(0, 1, 21)
    for ax, (title, probs, truth) in zip(axes.flat, panels):
        probs, truth = np.asarray(probs, dtype=float), np.asarray(truth, dtype=bool)
        ax.hist(probs[~truth], bins=bins, alpha=0.6, color="#d62728", label=f"truly not ({int((~truth).sum())})")
        ax.hist(probs[truth], bins=bins, alpha=0.6, color="#2ca02c", label=f"truly so ({int(truth.sum())})")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("predicted probability")
        ax.set_ylabel("pairs")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def per_class_bars(values: dict[str, dict[str, float | None]], title: str, path: Path) -> Path:
    """Grouped bars: one group per class, one bar per model."""
    plt = _plt()
    classes = list(dict.fromkeys(c for v in values.values() for c in v))
    fig, ax = plt.subplots(figsize=(max(6, len(classes) * 1.1), 4))
    width = 0.8 / max(1, len(values))
    for k, (label, per_class) in enumerate(values.items()):
        ys = [per_class.get(c) or 0.0 for c in classes]
        ax.bar(np.arange(len(classes)) + k * width, ys, width, label=label)
    ax.set_xticks(np.arange(len(classes)) + width * (len(values) - 1) / 2, classes, rotation=30, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion(cm: list[list[int]], names: list[str], title: str, path: Path) -> Path:
    plt = _plt()
    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(names), 1 + 0.6 * len(names)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(names)):
        for j in range(len(names)):
            if cm[i, j]:
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def overlay_grid(rows: list[tuple[str, list[np.ndarray]]], columns: list[str], path: Path) -> Path:
    """One row per validation image: the image, then one panel per column."""
    plt = _plt()
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(3 * len(columns), 3 * len(rows)), squeeze=False)
    for r, (label, panels) in enumerate(rows):
        for c, panel in enumerate(panels):
            ax = axes[r][c]
            ax.imshow(panel)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(label, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def colour_mask(labels: np.ndarray, colours: list[str], ignore: int = 255) -> np.ndarray:
    lut = np.zeros((256, 3), np.uint8)
    for i, hexcol in enumerate(colours):
        lut[i] = [int(hexcol[k:k + 2], 16) for k in (1, 3, 5)]
    lut[ignore] = (0, 0, 0)
    return lut[labels]


def draw_boxes(pixels: np.ndarray, boxes, labels: list[str], colour=(255, 60, 60)) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.fromarray(pixels.copy())
    draw = ImageDraw.Draw(im)
    for (x1, y1, x2, y2), text in zip(boxes, labels):
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
        draw.text((x1 + 2, y1 + 1), text, fill=colour)
    return np.asarray(im)
