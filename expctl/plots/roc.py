"""ROC curves: the standard view and the HEP view (background rejection vs signal efficiency)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from expctl.plots.learning_curves import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: After ten colours, cycle the line style so that overlaid curves stay distinguishable.
_LINESTYLES = ("-", "--", "-.", ":")
#: Signal efficiencies of the rejection ratio panel (the dashboard draws the same grid).
RATIO_GRID_POINTS = 1001
#: A drawn ROC or rejection curve has at most about this many points (`thin`): the line is then
#: within 1/2,000 of each axis' span of every point of the curve (0.3 px at 120 dpi), and drawing
#: costs the same for a million test events as for ten thousand. Metrics use every point.
DRAWN_POINTS = 4000

_EFFICIENCY_LABEL = r"signal efficiency $\varepsilon_S$ (true-positive rate)"


def roc_figure(curves: list[dict[str, Any]], title: str | None = None) -> Figure:
    """ROC curves: true-positive rate (signal efficiency) vs false-positive rate (mistag rate).

    Each curve is `{"fpr": array, "tpr": array, "label": str, "auc": float}`, drawn in order
    (several curves overlay) with the legend entry "label (AUC = 0.912)"; an `auc` that is
    missing or None is computed from the curve by the trapezoid rule. An optional 68% interval
    `"auc_ci68": (lo, hi)` shows as "label (AUC = 0.912 ± 0.004)" (half-width), or as
    "label (AUC = 0.912 [0.905, 0.915])" when it is clearly asymmetric. The chance diagonal is
    drawn, the axes are square with limits [0, 1]. Non-finite points are skipped.
    """
    figure = new_figure(5.4, 5.4 + (0.3 if title else 0.0))
    ax = figure.subplots()
    ax.plot([0, 1], [0, 1], color="0.55", linestyle="--", linewidth=1, label="chance (AUC = 0.5)")
    for i, curve in enumerate(curves):
        fpr, tpr = _points(curve)
        drawn = drawn_points(fpr, tpr)
        ax.plot(fpr[drawn], tpr[drawn], label=_label(curve, fpr, tpr), linewidth=1.8, **_style(i))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("false-positive rate (background efficiency, mistag rate)")
    ax.set_ylabel("true-positive rate (signal efficiency)")
    _legend_on_top(ax, "lower right")
    _finish(ax, title)
    return figure


def rejection_figure(curves: list[dict[str, Any]], title: str | None = None) -> Figure:
    """Background rejection 1/ε_B (log axis) vs signal efficiency ε_S, as HEP papers draw it.

    Same curves as `roc_figure` (x = tpr, y = 1/fpr). Points with fpr == 0 (infinite rejection,
    i.e. not a single background event passes) are skipped, so the curve ends where the
    background sample runs out. The line 1/ε_S of a random classifier is drawn for reference.
    """
    figure = new_figure(6.0, 4.6 + (0.3 if title else 0.0))
    ax = figure.subplots()
    _draw_rejection(ax, curves)
    ax.set_xlabel(_EFFICIENCY_LABEL)
    _legend_on_top(ax, "upper right")
    _finish(ax, title)
    return figure


def rejection_ratio_figure(
    curves: list[dict[str, Any]], title: str | None = None, reference: int | str = 0
) -> Figure:
    """`rejection_figure` with a ratio panel: each curve's rejection over the reference curve's.

    Top panel: background rejection 1/ε_B (log axis) vs signal efficiency ε_S, drawn exactly as
    by `rejection_figure`. Bottom panel (shared x, a third of the height): for every other
    curve, its rejection divided by that of the `reference` curve (an index into `curves` or a
    curve label) at the same ε_S, both interpolated on a common grid of 1001 ε_S values the way
    the top panel draws them (straight in log rejection between ROC points). The ratio is left
    out where either curve is undefined (outside its ε_S range, or where no background passes).
    The line at 1 is the reference itself. The y range shows the ratios for ε_S >= 0.1; the
    noisy tail at smaller ε_S may leave the panel. Raises ValueError for no curves or an unknown
    reference.
    """
    if not curves:
        raise ValueError("rejection_ratio_figure: no curves to draw")
    ref = _reference_index(curves, reference)
    figure = new_figure(6.0, 6.6 + (0.3 if title else 0.0))
    top, bottom = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1], "hspace": 0.0}
    )
    _draw_rejection(top, curves)
    top.tick_params(labelbottom=False)
    _legend_on_top(top, "upper right")
    _finish(top, title)

    grid = np.linspace(0.0, 1.0, RATIO_GRID_POINTS)
    log_rejections = [log_rejection_at(grid, curve) for curve in curves]
    bottom.axhline(1.0, linewidth=1.2, **_style(ref))
    shown: list[np.ndarray] = []
    for i, curve in enumerate(curves):
        if i == ref:
            continue
        ratio = 10.0 ** (log_rejections[i] - log_rejections[ref])  # NaN where undefined
        bottom.plot(grid, ratio, linewidth=1.8, label=str(curve.get("label", "")), **_style(i))
        shown.append(ratio[(grid >= 0.1) & np.isfinite(ratio)])
    bottom.set_ylim(*_ratio_limits(np.concatenate([np.ones(1), *shown])))
    bottom.set_xlim(0, 1)
    bottom.set_xlabel(_EFFICIENCY_LABEL)
    name = str(curves[ref].get("label") or f"curve {ref}")
    bottom.set_ylabel(f"ratio to {name}" if len(name) <= 16 else f"ratio to\n{name}")
    bottom.grid(True, which="major", alpha=0.35)
    figure.align_ylabels([top, bottom])
    return figure


def _draw_rejection(ax: Axes, curves: list[dict[str, Any]]) -> None:
    """The rejection curves, the random-classifier line, log y axis with headroom for a legend."""
    highest = 10.0
    for i, curve in enumerate(curves):
        fpr, tpr = _points(curve)
        keep = fpr > 0
        efficiency, rejection = tpr[keep], 1.0 / fpr[keep]
        drawn = drawn_points(efficiency, rejection, log_y=True)
        ax.plot(
            efficiency[drawn],
            rejection[drawn],
            label=_label(curve, fpr, tpr),
            linewidth=1.8,
            **_style(i),
        )
        if rejection.size:
            highest = max(highest, float(rejection.max()))
    eff = np.linspace(0.005, 1, 400)
    ax.plot(
        eff, 1 / eff, color="0.55", linestyle="--", linewidth=1, label=r"random (1/$\varepsilon_S$)"
    )
    ax.set_yscale("log")
    ax.set_xlim(0, 1)
    # Headroom above the highest rejection, on the log scale, so the legend covers no curve.
    headroom = min(0.6, 0.065 * (len(curves) + 1) + 0.05)
    ax.set_ylim(1, 10 ** (math.log10(highest) / (1 - headroom)))
    ax.set_ylabel(r"background rejection $1/\varepsilon_B$")


def _reference_index(curves: list[dict[str, Any]], reference: int | str) -> int:
    """The index of the reference curve, given as an index (negative counts from the end) or label."""
    if isinstance(reference, str):
        labels = [str(c.get("label", "")) for c in curves]
        if reference not in labels:
            raise ValueError(f"reference curve {reference!r} is not one of {labels}")
        return labels.index(reference)
    index = int(reference)
    if not -len(curves) <= index < len(curves):
        raise ValueError(f"reference index {reference} out of range for {len(curves)} curves")
    return index % len(curves)


def log_rejection_at(grid: np.ndarray, curve: dict[str, Any]) -> np.ndarray:
    """log10(1/fpr) of the curve at the signal efficiencies `grid`, NaN where undefined.

    Interpolated as the rejection plot draws the curve: points with fpr == 0 are dropped; at an
    efficiency shared by several points (a vertical drop) the highest rejection is taken, and
    between two efficiencies the line runs from the lowest rejection of the lower efficiency to
    the highest of the upper one, straight in log rejection. Outside [min, max] tpr: NaN.
    """
    fpr, tpr = _points(curve)
    keep = fpr > 0
    t, lr = tpr[keep], -np.log10(fpr[keep])
    out = np.full(grid.shape, np.nan)
    if t.size == 0:
        return out
    order = np.lexsort((-lr, t))
    t, lr = t[order], lr[order]
    starts = np.flatnonzero(np.r_[True, np.diff(t) > 0])
    t_u, high, low = t[starts], lr[starts], np.minimum.reduceat(lr, starts)
    j = np.searchsorted(t_u, grid, side="left")
    inside = (grid >= t_u[0]) & (grid <= t_u[-1])
    exact = inside & (t_u[np.minimum(j, t_u.size - 1)] == grid)
    out[exact] = high[j[exact]]
    between = inside & ~exact
    jb = j[between]
    x0, x1 = t_u[jb - 1], t_u[jb]
    y0, y1 = low[jb - 1], high[jb]
    out[between] = y0 + (grid[between] - x0) / (x1 - x0) * (y1 - y0)
    return out


def _ratio_limits(values: np.ndarray) -> tuple[float, float]:
    """A y range around the ratios (which include 1), padded by 10%, at least 0.9-1.1."""
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.1 * (hi - lo), 0.05)
    lo, hi = min(lo - pad, 0.9), max(hi + pad, 1.1)
    return max(lo, 0.0), hi


def corners(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A mask of the polyline's points that are not inside a straight vertical or horizontal run.

    A ROC curve is a staircase: of three consecutive points with the same x (or the same y),
    the middle one lies on the segment between the other two, so leaving it out draws exactly
    the same line, on linear and log axes alike. On a million test events this keeps about one
    point in ten, and drawing the figure gets that much cheaper.
    """
    keep = np.ones(x.size, dtype=bool)
    if x.size > 2:
        inner_x, inner_y = x[1:-1], y[1:-1]
        same_x = (inner_x == x[:-2]) & (inner_x == x[2:])
        same_y = (inner_y == y[:-2]) & (inner_y == y[2:])
        keep[1:-1] = ~(same_x | same_y)
    return keep


def thin(
    x: np.ndarray, y: np.ndarray, max_points: int = DRAWN_POINTS, *, log_y: bool = False
) -> np.ndarray:
    """A mask of at most `max_points` + 1 points of a polyline that draw it within a bound.

    Each axis is scaled to its span (y as log10 with `log_y`), the path length walked along the
    points is cut into `max_points` equal steps, and the first point of each step is kept, with
    the last point. Every left-out point is then less than one step (the path's length divided
    by `max_points`, in spans) from the kept point before it, which is on the drawn line. A ROC
    curve is monotone in both axes, so its scaled length is at most 2: the drawn line is within
    2/`max_points` of each axis' span of every point. At most `max_points` points: all kept.
    """
    keep = np.ones(x.size, dtype=bool)
    if x.size <= max_points:
        return keep
    xs = np.asarray(x, dtype=float)
    ys = np.log10(np.asarray(y, dtype=float)) if log_y else np.asarray(y, dtype=float)
    steps = np.abs(np.diff(xs)) / _span(xs) + np.abs(np.diff(ys)) / _span(ys)
    walked = np.concatenate([[0.0], np.cumsum(steps)])
    if walked[-1] <= 0:
        keep[1:-1] = False
        return keep
    step = np.floor(walked * (max_points / walked[-1]))
    keep[1:] = step[1:] > step[:-1]
    keep[-1] = True
    return keep


def _span(values: np.ndarray) -> float:
    span = float(values.max() - values.min())
    return span if span > 0 else 1.0


def drawn_points(x: np.ndarray, y: np.ndarray, *, log_y: bool = False) -> np.ndarray:
    """Indices of the points of a ROC (or rejection) curve that are drawn: `corners`, then
    `thin` to at most DRAWN_POINTS + 1 of them."""
    kept = np.flatnonzero(corners(x, y))
    return kept[thin(x[kept], y[kept], log_y=log_y)]


def _points(curve: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The curve's finite (fpr, tpr) points as float arrays; ValueError if the lengths differ."""
    fpr = np.asarray(curve["fpr"], dtype=float).ravel()
    tpr = np.asarray(curve["tpr"], dtype=float).ravel()
    if fpr.shape != tpr.shape:
        raise ValueError(
            f"ROC curve {curve.get('label')!r}: fpr has {fpr.size} points, tpr has {tpr.size}"
        )
    finite = np.isfinite(fpr) & np.isfinite(tpr)
    return fpr[finite], tpr[finite]


def _label(curve: dict[str, Any], fpr: np.ndarray, tpr: np.ndarray) -> str:
    """ "label (AUC = 0.912)", with the AUC from the curve itself if none was given.

    With an optional 68% interval `auc_ci68` = (lo, hi) around the AUC: "label (AUC = 0.912 ±
    0.004)" with the half-width (hi - lo) / 2 if the interval is about symmetric, else
    "label (AUC = 0.912 [0.905, 0.915])". The digits follow the interval (3 at least).
    """
    auc = curve.get("auc")
    if auc is None and fpr.size >= 2:
        order = np.argsort(fpr, kind="stable")
        x, y = fpr[order], tpr[order]
        auc = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))  # trapezoid rule
    label = str(curve.get("label", ""))
    if auc is None or not math.isfinite(float(auc)):
        return label
    text = f"AUC = {_auc_text(float(auc), curve.get('auc_ci68'))}"
    return f"{label} ({text})" if label else text


def _auc_text(auc: float, interval: Any) -> str:
    """ "0.912", "0.912 ± 0.004" or "0.912 [0.905, 0.915]" (see `_label`)."""
    try:
        lo, hi = (float(v) for v in interval)
    except (TypeError, ValueError):
        return f"{auc:.3f}"
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return f"{auc:.3f}"
    half = (hi - lo) / 2
    # Enough decimals that the half-width shows one significant digit (3 to 5 decimals).
    digits = 3 if half <= 0 else min(5, max(3, -math.floor(math.log10(half))))
    below, above = auc - lo, hi - auc
    if below >= 0 and above >= 0 and abs(above - below) <= 0.25 * max(half, 1e-12):
        return f"{auc:.{digits}f} ± {half:.{digits}f}"
    return f"{auc:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def _style(i: int) -> dict[str, Any]:
    return {"color": f"C{i % 10}", "linestyle": _LINESTYLES[(i // 10) % len(_LINESTYLES)]}


def _legend_on_top(ax: Axes, loc: str) -> None:
    """Legend with the reference line last, so the curves come first."""
    handles, labels = ax.get_legend_handles_labels()
    if handles and labels[0].startswith(("chance", "random")):
        handles, labels = handles[1:] + handles[:1], labels[1:] + labels[:1]
    ax.legend(handles, labels, loc=loc, fontsize=9, framealpha=0.9)


def _finish(ax: Axes, title: str | None) -> None:
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    if title:
        ax.set_title(title)
