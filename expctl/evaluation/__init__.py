"""Evaluation of trained models: metrics as pure numpy functions of arrays (no Keras import).

The functions are loaded on first use, so that `expctl.evaluation.catalogue` (pure Python: which
metrics are better high or low) can be imported by the views without numpy or scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: public name -> the module that defines it
_WHERE = {
    **dict.fromkeys(
        (
            "auc_in_bins",
            "auc_interval",
            "best_thresholds",
            "overtraining_test",
            "rejection_at",
            "working_points",
        ),
        "expctl.evaluation.hep",
    ),
    **dict.fromkeys(
        (
            "UndefinedMetricWarning",
            "binary_confusion",
            "binary_metrics",
            "log_loss",
            "multiclass_metrics",
            "regression_metrics",
            "roc_auc",
            "roc_curve",
        ),
        "expctl.evaluation.metrics",
    ),
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'expctl.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
