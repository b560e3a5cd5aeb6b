"""Figures from arrays (matplotlib, Agg). Importing this package does not import matplotlib."""

from __future__ import annotations

from expctl.plots.learning_curves import learning_curves
from expctl.plots.roc import rejection_figure, roc_figure

__all__ = ["learning_curves", "rejection_figure", "roc_figure"]
