"""The ablation figure: each regulariser's effect on validation loss and the test metric."""

from __future__ import annotations

from typing import Any

from expctl.plots.learning_curves import new_figure


def ablation_figure(
    rows: list[dict[str, Any]], metric: str, val_metric: str, title: str = ""
) -> Any:
    """Horizontal bars: the effect of removing each regulariser (positive: it helps), ±1 s.e."""
    ablated = [r for r in rows if r["variant"] != "full"]
    names = [r["variant"].removeprefix("no ") for r in ablated]
    figure = new_figure(10, 1.6 + 0.45 * max(len(ablated), 1))
    axes = figure.subplots(1, 2)
    for ax, key, label in (
        (axes[0], "val_effect", f"{val_metric} (best epoch): with it − without it"),
        (axes[1], "test_effect", f"test {metric} with it − without it"),
    ):
        values = [r[key] for r in ablated]
        errors = [r[f"{key}_se"] for r in ablated]
        colors = ["tab:green" if v > 0 else "tab:red" for v in values]
        ax.barh(names, values, xerr=errors, color=colors, alpha=0.8, capsize=3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_xlabel(label)
        ax.invert_yaxis()
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_title("> 0: the regulariser helps")
    if title:
        figure.suptitle(title)
    return figure
