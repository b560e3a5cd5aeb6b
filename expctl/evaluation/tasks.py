"""A run's test metrics per task, from targets and scores (numpy only; the model predicts elsewhere).

`evaluate` gives the metrics every run of a task records; `binary_diagnostics` the extra numbers
of a binary classifier (AUC interval, background rejections, overtraining test, confusion matrix).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: Test metrics recomputed on FGSM-perturbed events, per task (recorded as adversarial_<key>).
ADVERSARIAL_KEYS = {
    "binary": ("accuracy", "auc", "loss"),
    "multiclass": ("accuracy", "loss"),
    "regression": ("rmse", "mae", "loss"),
}


def evaluate(
    task: str,
    y_true: np.ndarray,
    scores: np.ndarray,
    threshold: float,
    weight: np.ndarray | None = None,
) -> dict[str, Any]:
    """Test metrics of a task from the true targets and the model's outputs (a run's metrics)."""
    from expctl.evaluation import binary_metrics, multiclass_metrics, regression_metrics

    evaluators: dict[str, Callable[[], dict[str, Any]]] = {
        "binary": lambda: {
            **binary_metrics(y_true, scores, threshold=threshold, sample_weight=weight),
            "threshold": threshold,
        },
        "multiclass": lambda: multiclass_metrics(y_true, scores, sample_weight=weight),
        "regression": lambda: regression_metrics(y_true, scores, sample_weight=weight),
    }
    return evaluators[task]()


def binary_diagnostics(
    y: np.ndarray,
    scores: np.ndarray,
    weight: np.ndarray | None,
    train_y: np.ndarray,
    train_scores: np.ndarray,
    threshold: float,
    seed: int,
) -> dict[str, Any]:
    """A binary classifier's extra test metrics: the AUC's 68 % interval, the background
    rejections at 50 and 90 % signal efficiency, the train-vs-test KS test and the confusion
    matrix [[tn, fp], [fn, tp]] (weighted counts are sums of weights)."""
    from expctl.evaluation import auc_interval, binary_confusion, overtraining_test, rejection_at

    interval = auc_interval(y, scores, sample_weight=weight, seed=seed)
    ks = overtraining_test(train_scores, train_y, scores, y)
    counts = binary_confusion(y, scores, threshold=threshold, sample_weight=weight)
    cell = int if weight is None else float
    matrix = [[cell(counts["tn"]), cell(counts["fp"])], [cell(counts["fn"]), cell(counts["tp"])]]
    return {
        "auc_ci68_low": interval["low"],
        "auc_ci68_high": interval["high"],
        "rejection_at_50": rejection_at(y, scores, 0.5, sample_weight=weight),
        "rejection_at_90": rejection_at(y, scores, 0.9, sample_weight=weight),
        **ks,
        "confusion_matrix": matrix,
    }


__all__ = ["ADVERSARIAL_KEYS", "binary_diagnostics", "evaluate"]
