"""Confusion matrix as a heat map: rows = true class, columns = predicted class."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from expctl.plots.learning_curves import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_CMAP = "Blues"


def confusion_figure(
    matrix: Any,
    class_names: Sequence[str] | None,
    normalize: bool = True,
    title: str | None = None,
) -> Figure:
    """Heat map of a K x K confusion matrix (rows = true class, columns = predicted class).

    `matrix` holds counts (or sums of weights), e.g. `multiclass_metrics(...)["confusion_matrix"]`
    or [[tn, fp], [fn, tp]] of a binary classifier at its threshold with class names
    ["background", "signal"]. Each cell is annotated with the fraction of its true class (row-
    normalised, "<0.01" / ">0.99" rather than a misleading "0.00" / "1.00") and, below, the
    count. The colour shows the fraction with `normalize` (scale 0-1), else the count. The text
    is white on dark cells and black on light ones; an empty cell just reads "0". A row without
    events is drawn blank with "–" in its cells. `class_names` None numbers the classes
    0..K-1. Raises ValueError if the matrix is not square, has negative
    or non-finite entries, or the number of names is not K.
    """
    counts, names = _checked(matrix, class_names)
    k = counts.shape[0]
    totals = counts.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        fractions = np.where(totals > 0, counts / totals, np.nan)
    integral = bool(np.all(counts == np.round(counts)))

    rotate = max(len(n) for n in names) * k > 48
    figure = _new_figure(names, rotate, title)
    ax = figure.subplots()
    values = fractions if normalize else np.where(totals > 0, counts, np.nan)
    import matplotlib as mpl

    cmap = mpl.colormaps[_CMAP].with_extremes(bad="white")
    vmax = 1.0 if normalize else max(float(np.nanmax(values)) if totals.any() else 1.0, 1.0)
    norm = mpl.colors.Normalize(vmin=0.0, vmax=vmax)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, aspect="equal")
    _annotate(ax, counts, totals, fractions, values, integral, lambda v: cmap(norm(v)))

    # The colour bar as an inset of the matrix: exactly as tall as the matrix, and the layout
    # engine (which mishandles a fixed-aspect axes with a separate colour bar) sees one axes.
    colorbar = figure.colorbar(image, cax=ax.inset_axes((1.03, 0.0, 0.04, 1.0)))
    colorbar.set_label(
        "fraction of true class" if normalize else ("events" if integral else "sum of weights")
    )
    _label_axes(ax, names, rotate, title)
    return figure


def _checked(matrix: Any, class_names: Sequence[str] | None) -> tuple[np.ndarray, list[str]]:
    """The matrix as floats and the K class names; ValueError for a matrix or names refused."""
    counts = np.asarray(matrix, dtype=float)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"confusion_figure: need a square K x K matrix, got shape {counts.shape}")
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise ValueError("confusion_figure: matrix entries must be finite and non-negative")
    k = counts.shape[0]
    names = [str(i) for i in range(k)] if class_names is None else [str(n) for n in class_names]
    if len(names) != k:
        raise ValueError(f"confusion_figure: {len(names)} class names for a {k} x {k} matrix")
    return counts, names


def _new_figure(names: list[str], rotate: bool, title: str | None) -> Figure:
    """A figure sized for K cells and the longest class name (rotated below the matrix or not)."""
    # About 0.55 inch per cell, plus room for the tick labels (the class names) and colour bar.
    k = len(names)
    longest = max(len(n) for n in names)
    side = float(np.clip(2.2 + 0.55 * k, 4.4, 13.0))
    return new_figure(
        side + 1.0 + 0.08 * longest,
        side + (0.3 if title else 0.0) + (0.06 * longest if rotate else 0.0),
    )


def _annotate(
    ax: Axes,
    counts: np.ndarray,
    totals: np.ndarray,
    fractions: np.ndarray,
    values: np.ndarray,
    integral: bool,
    colour: Callable[[float], tuple[float, ...]],
) -> None:
    """Write each cell's fraction and count, white on dark cells (`colour`: value -> RGBA)."""
    k = counts.shape[0]
    fontsize = float(np.clip(15.0 - 0.6 * k, 6.5, 12.0))
    for i in range(k):
        for j in range(k):
            value = values[i, j]
            dark = math.isfinite(value) and _luminance(colour(value)) < 0.5
            # An empty cell just says 0, so that the few real confusions stand out.
            if counts[i, j] == 0:
                text = "0" if totals[i, 0] > 0 else "–"
            else:
                text = f"{_fraction(fractions[i, j])}\n({_count(counts[i, j], integral)})"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if dark else "black",
                linespacing=1.15,
            )


def _label_axes(ax: Axes, names: list[str], rotate: bool, title: str | None) -> None:
    """Class names on both axes, thin white lines between the cells, and the title."""
    k = len(names)
    ax.set_xticks(range(k), names)
    ax.set_yticks(range(k), names)
    if rotate:
        ax.tick_params(axis="x", labelrotation=40)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
            label.set_rotation_mode("anchor")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    # Thin white lines between the cells.
    ax.set_xticks(np.arange(-0.5, k), minor=True)
    ax.set_yticks(np.arange(-0.5, k), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.0)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", length=0)
    if title:
        ax.set_title(title)


def _luminance(rgba: tuple[float, ...]) -> float:
    """Perceived brightness (0 = black, 1 = white) of an RGB(A) colour."""
    r, g, b = rgba[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def _fraction(f: float) -> str:
    if not math.isfinite(f):
        return "–"
    if 0.0 < f < 0.005:
        return "<0.01"
    if 0.995 <= f < 1.0:
        return ">0.99"
    return f"{f:.2f}"


def _count(c: float, integral: bool) -> str:
    if integral:
        return f"{c:.0f}"
    return f"{c:.3g}" if abs(c) < 1000 else f"{c:.0f}"
