"""Learning curves: training and validation loss and metrics per epoch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from expctl.plots._figure import new_figure

#: Metric pairs drawn after the loss, with their axis labels.
_PANELS = {
    "loss": "loss",
    "accuracy": "accuracy",
    "auc": "AUC (Keras, binned)",
    "mae": "mean absolute error",
}


def learning_curves(history: Any, best_epoch: int | None = None, title: str | None = None) -> Any:
    """Loss and metric curves (train solid, validation dashed) and the learning rate, per epoch.

    `history` is a DataFrame with an `epoch` column (1-based) and Keras log columns. Non-finite
    values (a diverged run) are left out of the lines and noted on the loss panel.
    """
    epochs = history["epoch"].to_numpy()
    panels = [m for m in _PANELS if m in history.columns or f"val_{m}" in history.columns]
    lr = (
        history["learning_rate"].to_numpy(dtype=float)
        if "learning_rate" in history.columns
        else None
    )
    show_lr = lr is not None and np.isfinite(lr).all() and np.ptp(lr) > 0
    n = len(panels) + int(show_lr)
    figure, axes = new_figure(4.2 * n, 3.4, 1, n)
    marker = "o" if len(epochs) < 2 else None
    for ax, metric in zip(axes, panels, strict=False):
        diverged = False
        for column, style, label in (
            (metric, "-", "training"),
            (f"val_{metric}", "--", "validation"),
        ):
            if column not in history.columns:
                continue
            values = history[column].to_numpy(dtype=float)
            finite = np.isfinite(values)
            diverged |= not finite.all()
            ax.plot(
                epochs[finite],
                values[finite],
                style,
                color="C0" if style == "-" else "C1",
                marker=marker,
                label=label,
            )
        if metric == "loss" and diverged:
            ax.text(
                0.5,
                0.5,
                "diverged: non-finite loss",
                transform=ax.transAxes,
                ha="center",
                color="C3",
                fontsize=11,
                fontweight="bold",
            )
        ax.set_ylabel(_PANELS[metric])
    if show_lr:
        ax = axes[len(panels)]
        ax.plot(epochs, lr, color="C2", marker=marker)
        ax.set_yscale("log")
        ax.set_ylabel("learning rate")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(True, alpha=0.3)
        if best_epoch is not None:
            ax.axvline(best_epoch, color="0.4", linestyle=":", label=f"best epoch {best_epoch}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
        if len(epochs) and max(epochs) <= 20:
            ax.set_xticks(range(1, int(max(epochs)) + 1, max(1, math.ceil(max(epochs) / 10))))
    if title:
        figure.suptitle(title)
    return figure
