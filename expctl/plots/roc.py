"""ROC curves: the standard view and the HEP view (background rejection vs signal efficiency)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from expctl.plots.learning_curves import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: After ten colours, cycle the line style so that overlaid curves stay distinguishable.
_LINESTYLES = ("-", "--", "-.", ":")


def roc_figure(curves: list[dict[str, Any]], title: str | None = None) -> Figure:
    """ROC curves: true-positive rate (signal efficiency) vs false-positive rate (mistag rate).

    Each curve is `{"fpr": array, "tpr": array, "label": str, "auc": float}`, drawn in order
    (several curves overlay) with the legend entry "label (AUC = 0.912)"; an `auc` that is
    missing or None is computed from the curve by the trapezoid rule. The chance diagonal is
    drawn, the axes are square with limits [0, 1]. Non-finite points are skipped.
    """
    figure = new_figure(5.4, 5.4 + (0.3 if title else 0.0))
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], color="0.55", linestyle="--", linewidth=1, label="chance (AUC = 0.5)")
    for i, curve in enumerate(curves):
        fpr, tpr = _points(curve)
        ax.plot(fpr, tpr, label=_label(curve, fpr, tpr), linewidth=1.8, **_style(i))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("false-positive rate (background efficiency, mistag rate)")
    ax.set_ylabel("true-positive rate (signal efficiency)")
    _legend_on_top(ax, "lower right")
    _finish(ax, title)
    return figure


def rejection_figure(curves: list[dict[str, Any]], title: str | None = None) -> Figure:
    """Background rejection 1/ε_B (log axis) vs signal efficiency ε_S, as HEP papers draw it.

    Same curves as `roc_figure` (x = tpr, y = 1/fpr). Points with fpr == 0 (infinite rejection,
    i.e. not a single background event passes) are skipped, so the curve ends where the
    background sample runs out. The line 1/ε_S of a random classifier is drawn for reference.
    """
    figure = new_figure(6.0, 4.6 + (0.3 if title else 0.0))
    ax = figure.subplots()
    highest = 10.0
    for i, curve in enumerate(curves):
        fpr, tpr = _points(curve)
        keep = fpr > 0
        rejection = 1.0 / fpr[keep]
        ax.plot(tpr[keep], rejection, label=_label(curve, fpr, tpr), linewidth=1.8, **_style(i))
        if rejection.size:
            highest = max(highest, float(rejection.max()))
    eff = np.linspace(0.005, 1, 400)
    ax.plot(
        eff, 1 / eff, color="0.55", linestyle="--", linewidth=1, label=r"random (1/$\varepsilon_S$)"
    )
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    # Headroom above the highest rejection, on the log scale, so the legend covers no curve.
    headroom = min(0.6, 0.065 * (len(curves) + 1) + 0.05)
    ax.set_ylim(1, 10 ** (math.log10(highest) / (1 - headroom)))
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$ (true-positive rate)")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    _legend_on_top(ax, "upper right")
    _finish(ax, title)
    return figure


def _points(curve: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The curve's finite (fpr, tpr) points as float arrays; ValueError if the lengths differ."""
    fpr = np.asarray(curve["fpr"], dtype=float).ravel()
    tpr = np.asarray(curve["tpr"], dtype=float).ravel()
    if fpr.shape != tpr.shape:
        raise ValueError(
            f"ROC curve {curve.get('label')!r}: fpr has {fpr.size} points, tpr has {tpr.size}"
        )
    finite = np.isfinite(fpr) & np.isfinite(tpr)
    return fpr[finite], tpr[finite]


def _label(curve: dict[str, Any], fpr: np.ndarray, tpr: np.ndarray) -> str:
    """ "label (AUC = 0.912)", with the AUC from the curve itself if none was given."""
    auc = curve.get("auc")
    if auc is None and fpr.size >= 2:
        order = np.argsort(fpr, kind="stable")
        x, y = fpr[order], tpr[order]
        auc = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))  # trapezoid rule
    label = str(curve.get("label", ""))
    if auc is None or not math.isfinite(float(auc)):
        return label
    return f"{label} (AUC = {float(auc):.3f})" if label else f"AUC = {float(auc):.3f}"


def _style(i: int) -> dict[str, Any]:
    return {"color": f"C{i % 10}", "linestyle": _LINESTYLES[(i // 10) % len(_LINESTYLES)]}


def _legend_on_top(ax: Axes, loc: str) -> None:
    """Legend with the reference line last, so the curves come first."""
    handles, labels = ax.get_legend_handles_labels()
    if handles and labels[0].startswith(("chance", "random")):
        handles, labels = handles[1:] + handles[:1], labels[1:] + labels[:1]
    ax.legend(handles, labels, loc=loc, fontsize=9, framealpha=0.9)


def _finish(ax: Axes, title: str | None) -> None:
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    if title:
        ax.set_title(title)
