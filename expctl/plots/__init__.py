"""Figures from arrays and DataFrames: learning curves, ROC curves, overtraining, confusion, and
compare's overlays.

Each function returns a matplotlib Figure (made without pyplot, Agg, dpi 120) and saves nothing;
the caller saves it with `figure.savefig(path)`. Importing this package does not import
matplotlib: it is imported when a figure is first drawn.
"""

from __future__ import annotations

from expctl.plots.compare import learning_curves_figure, metric_figure
from expctl.plots.confusion import confusion_figure
from expctl.plots.learning_curves import learning_curves
from expctl.plots.overtraining import overtraining_figure
from expctl.plots.roc import rejection_figure, rejection_ratio_figure, roc_figure

__all__ = [
    "confusion_figure",
    "learning_curves",
    "learning_curves_figure",
    "metric_figure",
    "overtraining_figure",
    "rejection_figure",
    "rejection_ratio_figure",
    "roc_figure",
]
