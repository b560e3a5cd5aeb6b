"""compare's overlay figures: validation curves of many runs, and one metric per run or group.

Both take plain lists prepared by `expctl.views.figures` and return a matplotlib Figure (Agg,
without pyplot); matplotlib is imported when a figure is drawn, not with this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def learning_curves_figure(
    curves: Sequence[tuple[str, int, list[float], list[float]]], ylabel: str
) -> Figure:
    """Overlaid validation curves: (label, colour index, epochs, values) per run, one axis.

    Runs of one group share a colour and a legend entry; the y axis is logarithmic when the
    values span more than two decades. The legend is left out beyond 20 entries.
    """
    from expctl.plots.learning_curves import new_figure

    figure = new_figure(7.0, 4.6)
    ax = figure.subplots()
    labelled: set[str] = set()
    finite_values: list[float] = []
    for label, colour, epochs, values in curves:
        points = [(e, v) for e, v in zip(epochs, values, strict=True) if math.isfinite(v)]
        finite_values.extend(v for _, v in points)
        ax.plot(
            epochs,
            values,
            "-",
            color=f"C{colour % 10}",
            linewidth=1.5,
            alpha=0.85,
            marker="o" if len(epochs) <= 20 else None,
            markersize=3,
            label=None if label in labelled else label,
        )
        labelled.add(label)
    if finite_values and min(finite_values) > 0 and max(finite_values) > 100 * min(finite_values):
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel.replace("_", " "))
    ax.grid(True, alpha=0.35)
    if 0 < len(labelled) <= 20:
        ax.legend(fontsize=8, framealpha=0.9)
    return figure


def metric_figure(
    points: Sequence[tuple[str, float, float]], metric: str, higher_is_better: bool | None
) -> Figure:
    """One point per run or group, top to bottom: (label, value, std), a ±1 std bar where known."""
    from expctl.plots.learning_curves import new_figure

    n = len(points)
    figure = new_figure(7.0, min(1.4 + 0.32 * n, 60.0))
    ax = figure.subplots()
    ys = list(range(n))
    values = [p[1] for p in points]
    errors = [p[2] if math.isfinite(p[2]) else 0.0 for p in points]
    ax.errorbar(values, ys, xerr=errors, fmt="o", color="C0", ecolor="0.3", capsize=4, markersize=6)
    ax.set_yticks(ys)
    ax.set_yticklabels([p[0] for p in points], fontsize=8)
    ax.set_ylim(n - 0.5, -0.5)  # the table's first row on top
    if higher_is_better is None:
        better = "no better direction"
    else:
        better = f"{'higher' if higher_is_better else 'lower'} is better"
    ax.set_xlabel(f"test {metric} ({better}; bars: ±1 std over seeds)")
    ax.grid(True, axis="x", alpha=0.35)
    return figure


__all__ = ["learning_curves_figure", "metric_figure"]
