"""Evaluation of trained models: metrics as pure numpy functions of arrays (no Keras import)."""

from __future__ import annotations

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
    "binary_confusion",
    "binary_metrics",
    "log_loss",
    "multiclass_metrics",
    "regression_metrics",
    "roc_auc",
    "roc_curve",
]
