"""Evaluation of trained models: metrics as pure numpy functions of arrays (no Keras import).

The functions are loaded on first use, so that `expctl.evaluation.catalogue` (pure Python: which
metrics are better high or low) can be imported by the views without numpy or scipy.
"""

from __future__ import annotations

import importlib
from typing import Any

#: module -> the public names it gives this package (each module's `__all__` holds more)
_EXPORTS = {
    "expctl.evaluation.hep": (
        "auc_in_bins auc_interval best_thresholds overtraining_test rejection_at working_points"
    ),
    "expctl.evaluation.metrics": (
        "UndefinedMetricWarning binary_confusion binary_metrics log_loss multiclass_metrics "
        "regression_metrics roc_auc roc_curve"
    ),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names.split()}

__all__ = sorted(_WHERE)  # served by __getattr__


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'expctl.evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
