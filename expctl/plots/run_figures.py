"""The figures of one run, as functions that draw them: called only when the run draws plots.

Each entry maps a file name under the run's plots folder to a function returning a Figure, so a
run that draws no plots (a sweep's trials) pays nothing, and a figure that cannot be drawn is
skipped by the caller with a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Draw = Callable[[], "Figure"]


def learning_curves_figure(
    rows: Sequence[Mapping[str, float]],
    best_epoch: int | None,
    name: str,
    stopped_epoch: int | None,
) -> Figure:
    """The learning curves of a training's history rows, its best and early-stopped epochs marked."""
    import pandas as pd

    from expctl.plots.learning_curves import learning_curves

    return learning_curves(pd.DataFrame(rows), best_epoch, name, stopped_epoch=stopped_epoch)


def binary_figures(
    name: str,
    y: np.ndarray,
    scores: np.ndarray,
    train_y: np.ndarray,
    train_scores: np.ndarray,
    metrics: Mapping[str, Any],
    classes: Sequence[Any] | None,
    threshold: float,
    weight: np.ndarray | None = None,
    train_events: int | None = None,
) -> dict[str, Draw]:
    """Overtraining and confusion figures of a binary classifier, and its ROC and rejection
    curves when the AUC is defined; `metrics` holds `evaluate`'s and `binary_diagnostics`' keys.

    `train_scores`/`train_y` may be a sample of the training split
    (`expctl.training.predict.train_sample`); `train_events`, the split's size, then has the
    overtraining figure say so. The ROC curve is computed from every test event; its figures
    draw at most `expctl.plots.roc.DRAWN_POINTS` of its points (`thin`)."""
    from expctl.evaluation import roc_curve
    from expctl.plots.confusion import confusion_figure
    from expctl.plots.overtraining import overtraining_figure
    from expctl.plots.roc import rejection_figure, roc_figure

    ks = {k: v for k, v in metrics.items() if k.startswith("ks_")}
    matrix = metrics["confusion_matrix"]
    classes = tuple(classes or (0, 1))
    names = ["background (0)", "signal (1)"] if classes == (0, 1) else [str(c) for c in classes]
    figures: dict[str, Draw] = {
        "overtraining.png": lambda: overtraining_figure(
            train_scores,
            train_y,
            scores,
            y,
            ks=ks,
            title=f"{name}: training vs test",
            train_events=train_events,
        ),
        "confusion.png": lambda: confusion_figure(
            matrix, names, title=f"{name} (test, threshold {threshold:g})"
        ),
    }
    auc = metrics["auc"]
    if np.isfinite(auc if auc is not None else np.nan):
        fpr, tpr, _ = roc_curve(y, scores, sample_weight=weight)
        curve = {
            "fpr": fpr,
            "tpr": tpr,
            "label": name,
            "auc": auc,
            "auc_ci68": (metrics["auc_ci68_low"], metrics["auc_ci68_high"]),
        }
        figures["roc.png"] = lambda: roc_figure([curve], title=f"ROC: {name} (test)")
        figures["rejection.png"] = lambda: rejection_figure([curve], title=f"{name} (test)")
    return figures


def multiclass_figures(
    name: str, metrics: Mapping[str, Any], classes: Sequence[Any] | None
) -> dict[str, Draw]:
    """The confusion matrix of a multiclass classifier."""
    from expctl.plots.confusion import confusion_figure

    names = [str(c) for c in classes or ()]
    return {
        "confusion.png": lambda: confusion_figure(
            metrics["confusion_matrix"], names, title=f"{name} (test)"
        )
    }


__all__ = ["Draw", "binary_figures", "learning_curves_figure", "multiclass_figures"]
