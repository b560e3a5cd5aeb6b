"""Evaluation of trained models: metrics as pure numpy functions of arrays (no Keras import)."""

from __future__ import annotations

from expctl.evaluation.hep import (
    auc_in_bins,
    auc_interval,
    best_thresholds,
    overtraining_test,
    rejection_at,
    working_points,
)
from expctl.evaluation.metrics import (
    UndefinedMetricWarning,
    binary_confusion,
    binary_metrics,
    log_loss,
    multiclass_metrics,
    regression_metrics,
    roc_auc,
    roc_curve,
)

__all__ = [
    "UndefinedMetricWarning",
    "auc_in_bins",
    "auc_interval",
    "best_thresholds",
    "binary_confusion",
    "binary_metrics",
    "log_loss",
    "multiclass_metrics",
    "overtraining_test",
    "regression_metrics",
    "rejection_at",
    "roc_auc",
    "roc_curve",
    "working_points",
]
