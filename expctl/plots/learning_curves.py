"""Learning curves: training and validation loss and metrics per epoch, and the learning rate."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Default resolution of every expctl figure (dots per inch).
DPI = 120

#: Metrics drawn after the loss, in this order, with their axis labels. Other `x`/`val_x` column
#: pairs found in the history get a panel too, after these, labelled with the column name.
_METRIC_LABELS = {
    "loss": "loss",
    "accuracy": "accuracy",
    "auc": "ROC AUC (Keras, binned)",
    "mae": "mean absolute error",
}

#: History columns that are not train/validation metric pairs.
_NOT_METRICS = {"epoch", "learning_rate", "lr", "epoch_time_s"}

#: Mark every point (not only draw lines) up to this many epochs.
_MARKERS_UP_TO = 20


def new_figure(width: float, height: float) -> Figure:
    """An empty matplotlib Figure (constrained layout, `DPI`) made without pyplot.

    No global figure registry and no GUI: the Figure is garbage-collected when dropped and saved
    with `figure.savefig(path)`. Selects the Agg backend only if nobody has chosen one yet.
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def learning_curves(
    history: pd.DataFrame,
    best_epoch: int | None = None,
    title: str | None = None,
    stopped_epoch: int | None = None,
) -> Figure:
    """Loss and metrics per epoch (training solid, validation dashed) and the learning rate.

    `history` has one row per epoch: an `epoch` column (1-based; 1..n is assumed if absent) and
    Keras log columns (`loss`, `val_loss`, `accuracy`/`val_accuracy`, `auc`/`val_auc`,
    `mae`/`val_mae`, ... and `learning_rate`). Panels, in order: the loss, one per other metric
    present (train and/or validation), and the learning rate on a log axis if it changes.
    `best_epoch` is drawn as a dotted vertical line on every panel, and `stopped_epoch` (the
    epoch at which early stopping ended training; None when it ran all its epochs) as a dashed
    red one. Non-finite values (a diverged
    run) are left out of the lines and the panel is annotated "diverged". Raises ValueError if the
    history has no rows or no metric columns.
    """
    if len(history) == 0:
        raise ValueError("learning_curves: the history has no rows")
    if "epoch" in history.columns:
        epochs = history["epoch"].to_numpy(dtype=float)
    else:
        epochs = np.arange(1, len(history) + 1, dtype=float)
    metrics = _metric_names(history)
    if not metrics:
        raise ValueError(f"learning_curves: no metric columns in {list(history.columns)}")
    lr = _learning_rate(history)

    n_panels = len(metrics) + int(lr is not None)
    rows, cols = _grid(n_panels)
    figure = new_figure(4.6 * cols, 3.5 * rows + (0.35 if title else 0.0))
    grid = figure.subplots(rows, cols, squeeze=False, sharex=True)
    axes: list[Axes] = [ax for row in grid for ax in row]
    for ax in axes[n_panels:]:
        figure.delaxes(ax)
    axes = axes[:n_panels]

    marker = "o" if len(epochs) <= _MARKERS_UP_TO else None
    size = 6.0 if len(epochs) == 1 else 3.5
    for i, (ax, metric) in enumerate(zip(axes, metrics, strict=False)):
        colour = f"C{i % 10}"
        first_bad: float | None = None
        drawn = False
        for column, linestyle, label in (
            (metric, "-", "training"),
            (f"val_{metric}", "--", "validation"),
        ):
            if column not in history.columns:
                continue
            values = history[column].to_numpy(dtype=float)
            finite = np.isfinite(values)
            if not finite.all():
                bad = float(epochs[~finite].min())
                first_bad = bad if first_bad is None else min(first_bad, bad)
            if finite.any():
                _plot_gapped(ax, epochs, values, linestyle, colour, marker, size, label)
                drawn = True
        ax.set_ylabel(_METRIC_LABELS.get(metric, metric.replace("_", " ")))
        if not drawn:
            ax.set_yticks([])  # nothing finite: a y scale would be meaningless
        elif metric == "loss":
            _log_if_spans_decades(ax, history, metric)
        if first_bad is not None:
            _mark_diverged(ax, first_bad, epochs, drawn)

    if lr is not None:
        ax = axes[len(metrics)]
        finite = np.isfinite(lr)
        ax.plot(epochs[finite], lr[finite], "-", color="0.25", marker=marker, markersize=size)
        ax.set_ylabel("learning rate")
        if (lr[finite] > 0).all():
            ax.set_yscale("log")

    _finish_axes(axes, cols, epochs, best_epoch, stopped_epoch)
    if title:
        figure.suptitle(title)
    return figure


def _metric_names(history: pd.DataFrame) -> list[str]:
    """The metric names with a train (`x`) or validation (`val_x`) numeric column, loss first."""
    found: list[str] = []
    for column in history.columns:
        name = str(column)
        base = name.removeprefix("val_")
        if base in _NOT_METRICS or base in found or history[column].dtype.kind not in "biuf":
            continue
        found.append(base)
    known = [m for m in _METRIC_LABELS if m in found]
    return known + [m for m in found if m not in known]


def _learning_rate(history: pd.DataFrame) -> np.ndarray | None:
    """The learning-rate column if there is one and it takes more than one (finite) value."""
    column = next((c for c in ("learning_rate", "lr") if c in history.columns), None)
    if column is None:
        return None
    lr = history[column].to_numpy(dtype=float)
    finite = lr[np.isfinite(lr)]
    if finite.size < 2 or np.ptp(finite) <= 1e-12 * np.abs(finite).max():
        return None
    return lr


def _grid(n: int) -> tuple[int, int]:
    """Rows and columns for n panels: one row up to three, 2x2 for four, then rows of three."""
    if n <= 3:
        return 1, n
    if n == 4:
        return 2, 2
    return -(-n // 3), 3


def _plot_gapped(
    ax: Axes,
    epochs: np.ndarray,
    values: np.ndarray,
    linestyle: str,
    colour: str,
    marker: str | None,
    size: float,
    label: str,
) -> None:
    """Draw the finite values as a line with gaps where the values are NaN or infinite."""
    finite = np.isfinite(values)
    ax.plot(
        epochs,
        np.where(finite, values, np.nan),
        linestyle,
        color=colour,
        marker=marker,
        markersize=size,
        linewidth=1.8,
        label=label,
    )
    if marker is None:
        # A finite point between two gaps draws no line segment: give it a marker.
        before = np.concatenate([[False], finite[:-1]])
        after = np.concatenate([finite[1:], [False]])
        alone = finite & ~before & ~after
        if alone.any():
            ax.plot(epochs[alone], values[alone], "o", color=colour, markersize=size)


def _log_if_spans_decades(ax: Axes, history: pd.DataFrame, metric: str) -> None:
    """Use a log y axis when the positive finite values span more than two decades."""
    values = np.concatenate(
        [
            history[c].to_numpy(dtype=float)
            for c in (metric, f"val_{metric}")
            if c in history.columns
        ]
    )
    values = values[np.isfinite(values)]
    if values.size and (values > 0).all() and values.max() > 100 * values.min():
        ax.set_yscale("log")


def _mark_diverged(ax: Axes, first_bad: float, epochs: np.ndarray, drawn: bool) -> None:
    """Shade the epochs from the first non-finite value on and say "diverged".

    The note goes in the top left corner above a drawn curve, in the middle of an empty panel.
    """
    ax.axvspan(first_bad - 0.5, float(epochs.max()) + 0.5, color="C3", alpha=0.12, linewidth=0)
    text = f"diverged: non-finite from epoch {first_bad:g}"
    ax.text(
        0.03 if drawn else 0.5,
        0.96 if drawn else 0.5,
        text if drawn else text + "\n(no finite value to draw)",
        transform=ax.transAxes,
        ha="left" if drawn else "center",
        va="top" if drawn else "center",
        color="C3",
        fontsize=9,
        fontweight="bold",
        bbox={"facecolor": "white", "edgecolor": "C3", "alpha": 0.85, "boxstyle": "round"},
    )


def _finish_axes(
    axes: list[Axes],
    cols: int,
    epochs: np.ndarray,
    best_epoch: int | None,
    stopped_epoch: int | None = None,
) -> None:
    """Best- and stopped-epoch lines, grid, legends, integer epoch ticks and the shared x range."""
    from matplotlib.ticker import MaxNLocator

    marked = [e for e in (best_epoch, stopped_epoch) if e is not None]
    lo, hi = min([float(epochs.min()), *marked]), max([float(epochs.max()), *marked])
    pad = 0.5 if hi - lo < 10 else 0.02 * (hi - lo)
    n = len(axes)
    marks = [
        (epoch, style, label)
        for epoch, style, label in (
            (best_epoch, {"color": "0.2", "linestyle": ":", "linewidth": 1.5}, "best epoch"),
            (
                stopped_epoch,
                {"color": "C3", "linestyle": "--", "linewidth": 1.3},
                "early stop at epoch",
            ),
        )
        if epoch is not None
    ]
    for i, ax in enumerate(axes):
        for epoch, style, label in marks:
            ax.axvline(epoch, label=f"{label} {epoch}", **style)
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        ax.set_xlim(lo - pad, hi + pad)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        # With shared x only the bottom panel of each column needs the label (and tick labels).
        if i + cols >= n:
            ax.set_xlabel("epoch")
            ax.tick_params(labelbottom=True)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8.5, framealpha=0.9)
