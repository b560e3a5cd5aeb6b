"""Figures of a sweep: optimisation history, parameter importances, parallel coordinates, slices.

Inputs are plain arrays (trial numbers, objective values, parameter columns), not Optuna objects,
so these functions import neither Optuna nor TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from expctl.plots.learning_curves import new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def optimization_history(
    numbers: Sequence[int],
    values: Sequence[float],
    states: Sequence[str],
    metric: str,
    maximize: bool,
    title: str = "",
) -> Figure:
    """Objective of every finished trial by trial number, and the best value so far."""
    fig = new_figure(7, 4.2)
    ax = fig.add_subplot()
    numbers_a = np.asarray(numbers, dtype=float)
    values_a = np.asarray(values, dtype=float)
    states_a = np.asarray(states)
    complete = (states_a == "COMPLETE") & np.isfinite(values_a)
    ax.scatter(numbers_a[complete], values_a[complete], s=22, label="complete", zorder=3)
    pruned = (states_a == "PRUNED") & np.isfinite(values_a)
    if pruned.any():
        ax.scatter(
            numbers_a[pruned],
            values_a[pruned],
            s=22,
            marker="x",
            color="0.5",
            label="pruned (last reported)",
        )
    if complete.any():
        order = np.argsort(numbers_a[complete])
        xs, ys = numbers_a[complete][order], values_a[complete][order]
        best = np.maximum.accumulate(ys) if maximize else np.minimum.accumulate(ys)
        ax.step(xs, best, where="post", color="C3", label="best so far")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{metric} ({'maximised' if maximize else 'minimised'})")
    ax.set_title(title or "optimisation history")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def param_importances(importances: Mapping[str, float], metric: str, title: str = "") -> Figure:
    """Horizontal bars: the share of the objective's variance each parameter explains (fANOVA)."""
    keys = list(importances)[::-1]
    fig = new_figure(7, 1.2 + 0.45 * max(1, len(keys)))
    ax = fig.add_subplot()
    ax.barh(keys, [importances[k] for k in keys], color="C0")
    for y, key in enumerate(keys):
        ax.text(importances[key], y, f" {importances[key]:.2f}", va="center", fontsize="small")
    ax.set_xlabel(f"importance for {metric} (fANOVA, sums to 1)")
    ax.set_xlim(0, max([*importances.values(), 0.1]) * 1.15)
    ax.set_title(title or "parameter importances")
    return fig


def _axis(column: Sequence[Any], log: bool) -> tuple[np.ndarray, list[float], list[str]]:
    """A parameter column mapped to [0, 1], with tick positions and labels."""
    values = list(column)
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    if not numeric:
        labels = sorted({str(v) for v in values})
        index = {label: i for i, label in enumerate(labels)}
        span = max(1, len(labels) - 1)
        pos = np.array([index[str(v)] / span for v in values])
        return pos, [i / span for i in range(len(labels))], labels
    x = np.asarray(values, dtype=float)
    t = np.log10(x) if log else x
    lo, hi = float(t.min()), float(t.max())
    span = hi - lo if hi > lo else 1.0
    ticks = np.linspace(lo, hi, 3) if hi > lo else np.array([lo])
    labels = [f"{10**v:.3g}" if log else f"{v:.3g}" for v in ticks]
    return (t - lo) / span, [float((v - lo) / span) for v in ticks], labels


def parallel_coordinates(
    params: Mapping[str, Sequence[Any]],
    values: Sequence[float],
    metric: str,
    log: Mapping[str, bool] | None = None,
    title: str = "",
) -> Figure:
    """One line per complete trial through its parameter values, coloured by the objective."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    log = log or {}
    keys = list(params)
    fig = new_figure(2.2 * (len(keys) + 1) + 1, 4.5)
    ax = fig.add_subplot()
    v = np.asarray(values, dtype=float)
    norm = Normalize(vmin=float(np.nanmin(v)), vmax=float(np.nanmax(v)) + 1e-12)
    cmap = colormaps["viridis"]
    columns = [_axis(params[k], log.get(k, False)) for k in keys]
    vpos = norm(v)
    for i in range(len(v)):
        ys = [c[0][i] for c in columns] + [vpos[i]]
        ax.plot(range(len(keys) + 1), ys, color=cmap(norm(v[i])), alpha=0.8, lw=1.3)
    for j, (_, ticks, labels) in enumerate(columns):
        ax.axvline(j, color="0.6", lw=0.8)
        for t, label in zip(ticks, labels, strict=True):
            ax.text(j, t, f" {label}", fontsize="x-small", va="center")
    ax.axvline(len(keys), color="0.6", lw=0.8)
    ax.text(len(keys), 0, f" {np.nanmin(v):.4g}", fontsize="x-small", va="center")
    ax.text(len(keys), 1, f" {np.nanmax(v):.4g}", fontsize="x-small", va="center")
    ax.set_xticks(range(len(keys) + 1), [*keys, metric], rotation=15, fontsize="small")
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(title or "parallel coordinates (complete trials)")
    return fig


def slices(
    params: Mapping[str, Sequence[Any]],
    values: Sequence[float],
    metric: str,
    log: Mapping[str, bool] | None = None,
    title: str = "",
) -> Figure:
    """The objective against each parameter, one panel per parameter (complete trials)."""
    log = log or {}
    keys = list(params)
    ncols = min(3, max(1, len(keys)))
    nrows = -(-len(keys) // ncols)
    fig = new_figure(3.6 * ncols, 3.0 * nrows + 0.5)
    v = np.asarray(values, dtype=float)
    for i, key in enumerate(keys):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        column = list(params[key])
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in column)
        if numeric:
            ax.scatter(np.asarray(column, dtype=float), v, s=18, c=np.arange(len(v)), cmap="Blues")
            if log.get(key):
                ax.set_xscale("log")
        else:
            labels = sorted({str(x) for x in column})
            index = {label: j for j, label in enumerate(labels)}
            ax.scatter([index[str(x)] for x in column], v, s=18, c=np.arange(len(v)), cmap="Blues")
            ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize="x-small")
        ax.set_xlabel(key, fontsize="small")
        if i % ncols == 0:
            ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    fig.suptitle(title or "slices (complete trials; darker = later)")
    return fig
