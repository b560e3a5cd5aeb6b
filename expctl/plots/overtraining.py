"""The TMVA-style overtraining check: classifier output of signal and background, train vs test."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from expctl.plots.learning_curves import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Number of bins of the common binning.
BINS = 40

#: (class name, label value, colour): signal blue and background red, as TMVA draws them.
_CLASSES = (("signal", 1, "C0"), ("background", 0, "C3"))


def overtraining_figure(
    train_scores: Any,
    train_labels: Any,
    test_scores: Any,
    test_labels: Any,
    ks: Mapping[str, Any] | None = None,
    title: str | None = None,
    *,
    log: bool = False,
    bins: int = BINS,
    train_events: int | None = None,
) -> Figure:
    """Normalised classifier-output distributions of signal and background, training vs test.

    Labels are 1 (signal) and 0 (background); scores and labels of a sample have the same length.
    Training distributions are semi-transparent filled histograms, test distributions points with
    error bars (sqrt(N) per bin, scaled like the density); each of the four is normalised to unit
    area, so a classifier that is not overtrained has the points on the filled histograms. All
    four share `bins` equal bins over [min, max] of all scores, or over [0, 1] when every score is
    a probability. Empty test bins get no point. With `log` the y axis is logarithmic (to see the
    tails). `ks` (e.g. from a Kolmogorov-Smirnov test of train vs test per class) with keys
    `ks_pvalue_signal` and `ks_pvalue_background` is printed on the plot as
    "KS p-value: signal 0.43, background 0.12". `train_events`: the size of the whole training
    split when the training scores are a sample of it (`expctl.training.predict.train_sample`),
    stated on the plot as "training: a random 100,000 of 2,400,000 events"; nothing is said when
    it is None or not larger than the sample. Non-finite scores are left out. Raises ValueError
    on length mismatches, labels other than 0/1, or a sample without signal or background.
    """
    samples = {
        "training": _split(train_scores, train_labels, "training"),
        "test": _split(test_scores, test_labels, "test"),
    }
    edges = _edges([s for sample in samples.values() for s in sample.values()], bins)

    figure = new_figure(6.4, 4.6 + (0.3 if title else 0.0))
    ax = figure.subplots()
    highest, lowest = _draw_training(ax, samples["training"], edges)
    highest, lowest = _draw_test(ax, samples["test"], edges, highest, lowest)

    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("classifier output")
    ax.set_ylabel(r"normalised entries $(1/N)\,dN/dx$")
    notes = [_ks_text(ks) if ks is not None else None, _sample_text(train_scores, train_events)]
    notes = [n for n in notes if n]
    # The legend (and the notes) sit in the top part of the panel, above the histograms.
    _set_ylim(ax, highest, lowest, headroom=0.3 + 0.06 * len(notes), log=log)
    _legend(ax, notes)
    ax.grid(True, which="major", alpha=0.3)
    if title:
        ax.set_title(title)
    return figure


def _draw_training(
    ax: Axes, sample: dict[str, np.ndarray], edges: np.ndarray
) -> tuple[float, float]:
    """Filled histograms of the training sample's classes; their highest and lowest non-zero
    density (lowest inf if every bin is empty)."""
    widths = np.diff(edges)
    highest, lowest = 0.0, math.inf
    for name, _, colour in _CLASSES:
        scores = sample[name]
        counts, _ = np.histogram(scores, edges)
        density = counts / (scores.size * widths)
        ax.stairs(density, edges, fill=True, color=colour, alpha=0.3, linewidth=0)
        ax.stairs(density, edges, color=colour, linewidth=1.3)
        highest = max(highest, float(density.max()))
        if (density > 0).any():
            lowest = min(lowest, float(density[density > 0].min()))
    return highest, lowest


def _draw_test(
    ax: Axes, sample: dict[str, np.ndarray], edges: np.ndarray, highest: float, lowest: float
) -> tuple[float, float]:
    """Points with sqrt(N) error bars for the test sample's classes (none in empty bins);
    `highest` and `lowest` widened to the points' range (error bars included at the top)."""
    widths = np.diff(edges)
    centres = (edges[:-1] + edges[1:]) / 2
    for name, _, colour in _CLASSES:
        scores = sample[name]
        counts, _ = np.histogram(scores, edges)
        scale = 1.0 / (scores.size * widths)
        filled = counts > 0
        density = counts * scale
        ax.errorbar(
            centres[filled],
            density[filled],
            yerr=(np.sqrt(counts) * scale)[filled],
            fmt="o",
            color=colour,
            markersize=3.5,
            elinewidth=1.1,
            capsize=0,
            label=f"{name} (test)",
        )
        highest = max(highest, float((density + np.sqrt(counts) * scale).max()))
        if filled.any():
            lowest = min(lowest, float(density[filled].min()))
    return highest, lowest


def _set_ylim(ax: Axes, highest: float, lowest: float, *, headroom: float, log: bool) -> None:
    """Y range from 0 (or, with `log`, a third of `lowest`) up to `highest`, leaving the top
    `headroom` fraction of the panel free for the legend."""
    if log:
        ax.set_yscale("log")
        bottom = lowest / 3 if math.isfinite(lowest) else 1e-3
        top = math.log10(max(highest, bottom * 10))
        ax.set_ylim(
            bottom, 10 ** (math.log10(bottom) + (top - math.log10(bottom)) / (1 - headroom))
        )
    else:
        ax.set_ylim(0, (highest or 1.0) / (1 - headroom))


def _split(scores: Any, labels: Any, sample: str) -> dict[str, np.ndarray]:
    """The finite scores of the signal (label 1) and background (label 0) events of a sample."""
    s = np.asarray(scores, dtype=float).ravel()
    y = np.asarray(labels, dtype=float).ravel()
    if s.shape != y.shape:
        raise ValueError(
            f"overtraining_figure: {sample} scores have {s.size} entries, labels {y.size}"
        )
    unexpected = np.setdiff1d(np.unique(y[np.isfinite(y)]), [0.0, 1.0])
    if unexpected.size or not np.isfinite(y).all():
        raise ValueError(
            f"overtraining_figure: {sample} labels must be 0 (background) or 1 (signal), "
            f"got {np.unique(y)[:5].tolist()}"
        )
    finite = np.isfinite(s)
    out = {}
    for name, value, _ in _CLASSES:
        out[name] = s[finite & (y == value)]
        if out[name].size == 0:
            raise ValueError(f"overtraining_figure: no {name} event with a finite {sample} score")
    return out


def _edges(samples: list[np.ndarray], bins: int) -> np.ndarray:
    """`bins` equal bins over [0, 1] for probabilities, else over [min, max] of all scores."""
    lo = min(float(s.min()) for s in samples)
    hi = max(float(s.max()) for s in samples)
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    elif hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, int(bins) + 1)


def _ks_text(ks: Mapping[str, Any]) -> str:
    """ "KS p-value: signal 0.43, background 0.12" ("n/a" for a missing or non-finite value)."""
    parts = [f"{name} {_p_value(ks.get(f'ks_pvalue_{name}'))}" for name, _, _ in _CLASSES]
    return "KS p-value: " + ", ".join(parts)


def _p_value(p: Any) -> str:
    """Two decimals; small p-values in scientific notation, so that none reads "0.00"."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "n/a"
    if not math.isfinite(p):
        return "n/a"
    if p == 0.0:
        return "0"
    return f"{p:.2f}" if p >= 0.01 else f"{p:.1e}"


def _sample_text(train_scores: Any, train_events: int | None) -> str | None:
    """ "training: a random 100,000 of 2,400,000 events" when the scores are a sample, else None."""
    sampled = np.size(train_scores)
    if train_events is None or int(train_events) <= sampled:
        return None
    return f"training: a random {sampled:,} of {int(train_events):,} events"


def _legend(ax: Axes, notes: list[str]) -> None:
    """Training and test side by side (two columns) at the top, the notes (the KS line, the
    training sample) above them."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    # Column-major: the first column is training (signal, background), the second test.
    handles: list[Any] = [
        Patch(facecolor=to_rgba(colour, 0.3), edgecolor=colour, linewidth=1.3)
        for _, _, colour in _CLASSES
    ]
    labels = [f"{name} (training)" for name, _, _ in _CLASSES]
    test_handles, test_labels = ax.get_legend_handles_labels()
    handles += test_handles
    labels += test_labels
    anchor = 0.99
    if notes:
        text = "\n".join(notes)
        ax.text(0.5, 0.975, text, transform=ax.transAxes, ha="center", va="top", fontsize=9.5)
        anchor = 0.99 - 0.08 * len(notes)
    ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, anchor),
        ncol=2,
        fontsize=9,
        framealpha=0.9,
    )
