"""compare's figures and HTML report: the data behind each overlay, drawn by `expctl.plots`.

`save_plot(what, table, ...)` draws `--plot learning_curves | metric | roc` for the rows of a
compare table; `report_parts(table, ...)` is what `--html` shows (expctl.reports writes it). Runs are read through RunView.
matplotlib is imported when a figure is drawn; never TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from expctl.evaluation import catalogue
from expctl.runs import layout
from expctl.runs.view import RunView
from expctl.views.compare import EVALUATION_COLUMN, NOMINAL, main_metric
from expctl.views.grouping import is_seed_key
from expctl.views.table import DURATION_COLUMN, EPOCH_COLUMNS, Table, value_text

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Warn = Callable[[str], None]

PLOTS = ("learning_curves", "roc", "metric")


class ReportParts(NamedTuple):
    """The pieces of a comparison report, in `expctl.reports.compare_report_html`'s order."""

    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    figures: list[tuple[str, bytes]]
    runs: list[Path]


#: The history column of the learning curves, and the one used where there is no validation.
CURVE_COLUMNS = ("val_loss", "loss")


def row_label(table: Table, row: dict[str, Any]) -> str:
    """A short legend label: the differing keys' values, else the run id (and its group size)."""
    keys = [k for k in table.keys if not (table.grouped and is_seed_key(k))]
    if keys:
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={value_text(row.get(k))}" for k in keys[:4])
    else:
        ids = row["id"] if isinstance(row["id"], list) else [row["id"]]
        label = str(ids[0])
    n = row.get("n_runs", 1)
    return f"{label} (n={n})" if n > 1 else label


def row_paths(row: dict[str, Any]) -> list[Path]:
    """The run directories of a row (several for a group)."""
    paths = row["path"] if isinstance(row["path"], list) else [row["path"]]
    return [Path(p) for p in paths]


def metric_points(table: Table, metric: str | None) -> tuple[str, list[tuple[str, float, float]]]:
    """(metric, [(label, value, std)] per row) of `--plot metric` (default: the main metric).

    BadInputError when the table has no such metric.
    """
    from expctl.errors import BadInputError

    candidates = [c for c in table.results if c not in (*EPOCH_COLUMNS, DURATION_COLUMN)]
    name = metric or main_metric(candidates)
    if name is None or name not in table.results:
        raise BadInputError(
            f"no metric {name!r} to plot"
            + (f"; metrics: {', '.join(candidates)}" if candidates else "")
        )
    points = []
    for row in table.rows:
        if table.grouped:
            mean, std = row[f"{name}_mean"], row[f"{name}_std"]
        else:
            mean, std = row[name], math.nan
        points.append((row_label(table, row), mean, std))
    return name, points


def history_curve(run_dir: Path) -> tuple[str, list[float], list[float]]:
    """(column, epochs, values) of val_loss (else loss) in a run's history; ValueError if none."""
    view = RunView(run_dir)
    rows = view.history
    path = view.file(layout.HISTORY)
    if not rows:
        if view.warnings:
            raise ValueError(view.warnings[0].removesuffix("; its history is left out"))
        raise ValueError(f"{path}: {'no epochs' if view.exists(layout.HISTORY) else 'missing'}")
    column = next((c for c in CURVE_COLUMNS if c in rows[0]), None)
    if column is None:
        raise ValueError(f"{path}: no {' or '.join(CURVE_COLUMNS)} column")
    epochs = [
        epoch if math.isfinite(epoch := row.get("epoch", math.nan)) else float(i)
        for i, row in enumerate(rows, start=1)
    ]
    return column, epochs, [row.get(column, math.nan) for row in rows]


def learning_curves(table: Table, warn: Warn) -> Figure:
    """Every run's val_loss per epoch on one axis, one colour per row (an evaluation's row has
    no training of its own: left out)."""
    from expctl.errors import BadInputError
    from expctl.plots import learning_curves_figure

    curves = []
    ylabel = "val_loss"
    for i, row in enumerate(table.rows):
        if row.get(EVALUATION_COLUMN, NOMINAL) != NOMINAL:
            continue
        label = row_label(table, row)
        for run_path in row_paths(row):
            try:
                column, epochs, values = history_curve(run_path)
            except ValueError as exc:
                warn(f"{exc}; left out of the learning curves")
                continue
            if column != "val_loss":
                ylabel = "val_loss (loss where there is no validation)"
            curves.append((label, i, epochs, values))
    if not curves:
        raise BadInputError(f"no run has a readable {layout.HISTORY} to draw")
    return learning_curves_figure(curves, ylabel)


def metric_plot(table: Table, metric: str | None) -> Figure:
    """The metric of each row (mean ± std for groups), its better direction from the catalogue."""
    from expctl.plots import metric_figure

    name, points = metric_points(table, metric)
    return metric_figure(points, name, catalogue.higher_is_better(table.metrics.get(name, name)))


def roc_overlay(table: Table, warn: Warn) -> Figure:
    """The ROC curves of the binary runs with predictions, overlaid (others left out, warned)."""
    from expctl.errors import BadInputError
    from expctl.plots import roc_figure
    from expctl.views.roc import roc_curves

    sources = []
    for row in table.rows:
        label, paths = row_label(table, row), row_paths(row)
        # runs of a group: the label and the random end of each run's id
        sources += [(p, label if len(paths) == 1 else f"{label} [{p.name[-6:]}]") for p in paths]
    curves = roc_curves(sources, warn=warn)
    if not curves:
        raise BadInputError(f"no binary run with {layout.PREDICTIONS} to draw a ROC curve of")
    return roc_figure([c.drawn() for c in curves])


def save_plot(what: str, table: Table, metric: str | None, path: Path, warn: Warn) -> None:
    """Draw `--plot what` of the table's rows and save it atomically to `path`.

    BadInputError (exit 2) when there is nothing to draw.
    """
    from expctl.errors import BadInputError
    from expctl.runs import atomic_save

    if not table.rows:
        raise BadInputError("no runs to plot")
    drawers: dict[str, Callable[[], Figure]] = {
        "metric": lambda: metric_plot(table, metric),
        "learning_curves": lambda: learning_curves(table, warn),
        "roc": lambda: roc_overlay(table, warn),
    }
    figure = drawers[what]()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(path, lambda tmp: figure.savefig(tmp))


def report_parts(table: Table, warn: Warn) -> ReportParts:
    """What `compare --html` shows (see `expctl.reports.write_compare_report`): the table's
    header, cells and numeric columns, the figures that can be drawn (caption, PNG bytes) and
    the run directories. BadInputError when the table has no rows."""
    import io

    from expctl.errors import BadInputError
    from expctl.views.table import table_cells

    if not table.rows:
        raise BadInputError("no runs to report")
    figures = []
    drawers: dict[str, Callable[[], Figure]] = {
        "learning curves (val_loss per epoch)": lambda: learning_curves(table, warn),
        "test metric per run": lambda: metric_plot(table, None),
        "ROC curves (test)": lambda: roc_overlay(table, lambda _: None),
    }
    for caption, draw in drawers.items():
        try:
            figure = draw()
        except BadInputError:
            continue  # e.g. no binary run for the ROC overlay
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        figures.append((caption, buffer.getvalue()))
    header, rows, numeric = table_cells(table)
    runs = [p for row in table.rows for p in row_paths(row)]
    return ReportParts(header, rows, numeric, figures, runs)


__all__ = [
    "PLOTS",
    "ReportParts",
    "history_curve",
    "learning_curves",
    "metric_plot",
    "metric_points",
    "report_parts",
    "roc_overlay",
    "row_label",
    "row_paths",
    "save_plot",
]
