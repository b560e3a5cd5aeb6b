"""Bias/variance figures: the stacked decomposition, error vs capacity, and the learning curve.

Each takes the points of decomposition.json (dicts with expected_error, variance, bias2_plus_noise
and, when the truth is known, bias2 and noise) and returns a Figure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from expctl.plots.learning_curves import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: A curve panel gets a log y axis when its values span more than this factor.
LOG_ABOVE = 30.0

#: (key, label, colour) of the curves, in drawing order.
_CURVES = (
    ("expected_error", "test error", "k"),
    ("train_error", "train error", "C2"),
    ("bias2", "bias²", "C0"),
    ("variance", "variance", "C3"),
)


def _value_label(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _point_label(row: dict[str, Any]) -> str:
    parts = []
    if "scan_value" in row:
        parts.append(_value_label(row["scan_value"]))
    if row.get("train_fraction", 1.0) != 1.0 or "scan_value" not in row:
        parts.append(f"n={row.get('train_size')}")
    return "\n".join(parts)


def _decomposed(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("expected_error") is not None]


def bias_variance_figure(rows: Sequence[dict[str, Any]], title: str | None = None) -> Figure:
    """One stacked bar per point: noise, bias² (or bias²+noise when f is unknown) and variance,
    with the measured test error (black bar) and train error (green tick) beside it."""
    rows = _decomposed(rows)
    fig = new_figure(max(5.0, 1.1 * len(rows) + 2.5), 4.2)
    ax = fig.add_subplot()
    if not rows:
        ax.text(0.5, 0.5, "no point could be decomposed", ha="center", transform=ax.transAxes)
        return fig
    known = all(r.get("bias2") is not None for r in rows)
    has_noise = known and all(r.get("noise") is not None for r in rows)
    x = list(range(len(rows)))
    bottom = [0.0] * len(rows)
    layers: list[tuple[str, list[float], str]] = []
    if has_noise:
        layers.append(("noise σ²", [r["noise"] for r in rows], "0.75"))
    if known:
        layers.append(("bias²", [r["bias2"] for r in rows], "C0"))
    else:
        layers.append(("bias² + noise", [r["bias2_plus_noise"] for r in rows], "C0"))
    layers.append(("variance", [r["variance"] for r in rows], "C3"))
    width = 0.38
    for label, values, colour in layers:
        ax.bar([i - width / 2 for i in x], values, width, bottom=bottom, label=label, color=colour)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.bar(
        [i + width / 2 for i in x],
        [r["expected_error"] for r in rows],
        width,
        color="k",
        alpha=0.8,
        label="test error (measured)",
    )
    train = [(i, r["train_error"]) for i, r in zip(x, rows, strict=True) if "train_error" in r]
    if train:
        ax.scatter(
            [i + width / 2 for i, _ in train],
            [v for _, v in train],
            marker="_",
            s=400,
            linewidths=2.5,
            color="C2",
            zorder=3,
            label="train error",
        )
    ax.set_xticks(x, [_point_label(r) for r in rows])
    ax.set_ylabel("mean squared error" if _regression(rows) else "Brier score")
    ax.set_ylim(0, max(max(bottom), max(r["expected_error"] for r in rows)) * 1.25)
    ax.legend(fontsize="small", ncols=2, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def _regression(rows: Sequence[dict[str, Any]]) -> bool:
    return all("zero_one" not in r for r in rows)


def _curves(ax: Axes, xs: Sequence[float], rows: Sequence[dict[str, Any]]) -> None:
    known = all(r.get("bias2") is not None for r in rows)
    for key, label, colour in _CURVES:
        if key == "bias2" and not known:
            key, label = "bias2_plus_noise", "bias² + noise"
        values = [r.get(key) for r in rows]
        if any(v is None for v in values):
            continue
        style = "--" if key == "train_error" else "-"
        ax.plot(xs, values, style, marker="o", color=colour, label=label)
    if known and all(r.get("noise") is not None for r in rows):
        ax.axhline(rows[0]["noise"], color="0.5", ls=":", label="noise σ²")
    ax.set_ylabel("mean squared error" if _regression(rows) else "Brier score")
    drawn = [v for line in ax.get_lines() for v in line.get_ydata() if v > 0]
    if drawn and max(drawn) > LOG_ABOVE * min(drawn):
        ax.set_yscale("log")  # an exploding variance would squash every other curve to 0
    else:
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def _panels(
    rows: Sequence[dict[str, Any]], key: str, count: int
) -> tuple[Figure, list[tuple[Any, list[dict[str, Any]]]]]:
    groups: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
    for r in rows:
        value = r.get(key)
        groups.setdefault(json.dumps(value), (value, []))[1].append(r)
    fig = new_figure(max(5.5, 4.6 * len(groups)), 4.2)
    return fig, list(groups.values())


def capacity_figure(
    rows: Sequence[dict[str, Any]], scan_key: str, title: str | None = None
) -> Figure:
    """Train and test error vs the scanned key, with the bias² and variance curves (one panel per
    training-set size). Scan values are equally spaced, in the order given."""
    rows = _decomposed(rows)
    fig, panels = _panels(rows, "train_fraction", len(rows))
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    for ax, (fraction, group) in zip(axes, panels, strict=False):
        xs = list(range(len(group)))
        _curves(ax, xs, group)
        ax.set_xticks(xs, [_value_label(r["scan_value"]) for r in group])
        ax.set_xlabel(f"{scan_key} (capacity →)")
        n = group[0].get("train_size")
        ax.set_title(
            f"{title + ': ' if title else ''}{n} training events"
            + (f" ({fraction:g} of the split)" if fraction != 1.0 else ""),
            fontsize="medium",
        )
        _mark_best(ax, xs, group)
    axes[0].legend(fontsize="small")
    return fig


def learning_curve_figure(
    rows: Sequence[dict[str, Any]], scan_key: str | None, title: str | None = None
) -> Figure:
    """Train and test error, bias² and variance vs the number of training events (one panel per
    scan value)."""
    rows = _decomposed(rows)
    fig, panels = _panels(rows, "scan_value", len(rows))
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    for ax, (value, group) in zip(axes, panels, strict=False):
        group = sorted(group, key=lambda r: r["train_size"])
        xs = [r["train_size"] for r in group]
        _curves(ax, xs, group)
        if xs[-1] > 10 * xs[0]:
            ax.set_xscale("log")
        ax.set_xlabel("training events per member")
        head = f"{title}" if title else "learning curve"
        if scan_key is not None:
            head += f": {scan_key} = {_value_label(value)}"
        ax.set_title(head, fontsize="medium")
    axes[0].legend(fontsize="small")
    return fig


def _mark_best(ax: Axes, xs: Sequence[float], rows: Sequence[dict[str, Any]]) -> None:
    best = min(range(len(rows)), key=lambda i: rows[i]["expected_error"])
    ax.axvline(xs[best], color="k", alpha=0.15, lw=6)
