"""ROC curves: the standard view and the HEP view (background rejection vs signal efficiency)."""

from __future__ import annotations

from typing import Any

import numpy as np

from expctl.plots._figure import new_figure


def _label(curve: dict[str, Any]) -> str:
    auc = curve.get("auc")
    return (
        f"{curve['label']} (AUC = {auc:.3f})"
        if auc is not None and np.isfinite(auc)
        else curve["label"]
    )


def roc_figure(curves: list[dict[str, Any]], title: str | None = None) -> Any:
    """True-positive rate vs false-positive rate for each curve ({fpr, tpr, label, auc}), with chance."""
    figure, (ax,) = new_figure(5.0, 5.0)
    for curve in curves:
        ax.plot(curve["fpr"], curve["tpr"], label=_label(curve), linewidth=1.8)
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="chance (AUC = 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.0)
    ax.set_aspect("equal")
    ax.set_xlabel("false-positive rate (background efficiency, mistag rate)")
    ax.set_ylabel("true-positive rate (signal efficiency)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    if title:
        ax.set_title(title)
    return figure


def rejection_figure(curves: list[dict[str, Any]], title: str | None = None) -> Any:
    """Background rejection 1/ε_B (log scale) vs signal efficiency ε_S, as HEP papers draw it."""
    figure, (ax,) = new_figure(5.6, 4.4)
    for curve in curves:
        fpr = np.asarray(curve["fpr"], dtype=float)
        tpr = np.asarray(curve["tpr"], dtype=float)
        keep = fpr > 0
        ax.plot(tpr[keep], 1.0 / fpr[keep], label=_label(curve), linewidth=1.8)
    grid = np.linspace(0.01, 1, 200)
    ax.plot(grid, 1 / grid, color="0.6", linestyle="--", linewidth=1, label="random")
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    ax.set_xlabel(r"signal efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right", fontsize=9)
    if title:
        ax.set_title(title)
    return figure
