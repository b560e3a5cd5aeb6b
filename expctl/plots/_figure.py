"""A matplotlib Figure without pyplot: no global state, no GUI backend, collected when dropped."""

from __future__ import annotations

from typing import Any


def new_figure(
    width: float, height: float, rows: int = 1, cols: int = 1, **kwargs: Any
) -> tuple[Any, Any]:
    """A Figure of `width` x `height` inches with a grid of axes (returned as a flat list)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=120, layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False, **kwargs)
    return figure, [ax for row in axes for ax in row]
