"""`expctl compare DIR_OR_RUN ...`: runs side by side, with the spec keys that differ between them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from expctl.cli.options import output_dir_option

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from expctl.runs.compare import Table

PLOTS = ("learning_curves", "roc", "metric")
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")

Warn = Callable[[str], None]


@click.command()
@click.argument("refs", metavar="[DIR_OR_RUN]...", nargs=-1)
@output_dir_option
@click.option(
    "--sort",
    "sort_key",
    metavar="KEY",
    help="Sort by a column: metrics like auc/accuracy best first, others ascending; "
    "-KEY forces descending, +KEY ascending.",
)
@click.option(
    "--filter",
    "filters",
    metavar="EXPR",
    multiple=True,
    help="Keep runs where KEY OP VALUE holds, OP one of = != > >= < <=, "
    "e.g. status=completed or model.dropout>0.1 (repeatable).",
)
@click.option(
    "--columns",
    metavar="A,B,...",
    help="Show exactly these columns, in this order (default: the main metrics in a table, every metric in csv/json).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "markdown"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@click.option(
    "--no-group",
    "no_group",
    is_flag=True,
    help="One row per run, instead of one per set of runs that differ only by seed.",
)
@click.option("--plot", type=click.Choice(PLOTS), help="Also draw an overlay figure.")
@click.option(
    "--metric",
    metavar="NAME",
    help="The metric of --plot metric (default: auc, accuracy or r2).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Figure file for --plot (default: compare_<plot>.png here).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained HTML report: the table, learning curves, the metric per "
    "run and (binary runs) the ROC overlay.",
)
@click.option("--strict", is_flag=True, help="Exit with code 1 if any warning was given.")
@click.pass_context
def compare(
    ctx: click.Context,
    refs: tuple[str, ...],
    output_dir: str,
    sort_key: str | None,
    filters: tuple[str, ...],
    columns: str | None,
    fmt: str,
    as_json: bool,
    no_group: bool,
    plot: str | None,
    metric: str | None,
    out: Path | None,
    html_path: Path | None,
    strict: bool,
) -> None:
    """Compare runs: id, name, status, the spec keys that differ, test metrics, epochs, duration.

    Each DIR_OR_RUN is a folder of runs (such as outputs/), a run directory, or a run id (or a
    unique prefix of one) in --output-dir; with none, every run in --output-dir is compared.
    Runs that differ only by their seed are shown as one row with mean ± std (sample standard
    deviation) and the number of runs. Unreadable, partial or running runs are listed or skipped
    with a warning.
    """
    from expctl.errors import RunNotFoundError
    from expctl.runs import compare as cmp
    from expctl.runs.resolve import resolve_runs

    if as_json:
        fmt = "json"
    warnings: list[str] = []

    def warn(message: str) -> None:
        warnings.append(message)
        click.echo(f"warning: {message}", err=True)

    if out is not None and plot is None:
        raise click.BadParameter("--out names the figure of --plot; add --plot", param_hint="--out")
    if metric is not None and plot != "metric":
        raise click.BadParameter("--metric is for --plot metric", param_hint="--metric")
    if out is not None and out.suffix.lower() not in FIGURE_SUFFIXES:
        raise click.BadParameter(f"{out}: use a .png, .pdf or .svg file name", param_hint="--out")
    try:
        parsed_filters = [cmp.parse_filter(text) for text in filters]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from None

    if not refs and not Path(output_dir).is_dir():
        raise RunNotFoundError(
            f"{output_dir}: no such directory (--output-dir); no runs to compare"
        )
    paths = resolve_runs(refs or (output_dir,), Path(output_dir), warn)
    runs = cmp.load_runs(paths, warn)
    try:
        table = cmp.build_table(runs, parsed_filters, group=not no_group)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--filter") from None
    if columns is None and fmt in ("table", "markdown"):
        table = cmp.terminal_columns(table)
    table = _arrange(table, sort_key, columns)

    if not table.rows and fmt in ("table", "markdown"):
        click.echo("no runs to compare" + (" (none passes the filters)" if runs else ""), err=True)
    else:
        click.echo(cmp.format_table(table, fmt), nl=False)
    if plot is not None:
        path = out or Path(f"compare_{plot}.png")
        _draw(plot, table, metric, path, warn)
        click.echo(f"figure: {path}", err=True)
    if html_path is not None:
        _write_html(html_path, table, warn)
        click.echo(f"report: {html_path}", err=True)
    if strict and warnings:
        ctx.exit(1)


def _arrange(table: Table, sort_key: str | None, columns: str | None) -> Table:
    """Sort and select the columns; unknown keys are usage errors (exit 2)."""
    from expctl.runs import compare as cmp

    if sort_key:
        try:
            table = cmp.sort_table(table, sort_key)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sort") from None
    if columns:
        names = [c.strip() for c in columns.split(",") if c.strip()]
        if not names:
            raise click.BadParameter("give column names, e.g. id,auc", param_hint="--columns")
        try:
            table = cmp.select_columns(table, names)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--columns") from None
    return table


def _draw(what: str, table: Table, metric: str | None, path: Path, warn: Warn) -> None:
    """Draw the --plot figure of the table's rows and save it atomically to `path`."""
    from expctl.errors import BadInputError
    from expctl.runs import atomic_save

    if not table.rows:
        raise BadInputError("no runs to plot")
    if what == "metric":
        figure = _metric_figure(table, metric)
    elif what == "learning_curves":
        figure = _learning_curves_figure(table, warn)
    else:
        figure = _roc_figure(table, warn)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(path, lambda tmp: figure.savefig(tmp))


def _row_paths(row: dict[str, Any]) -> list[Path]:
    """The run directories of a row (several for a group)."""
    paths = row["path"] if isinstance(row["path"], list) else [row["path"]]
    return [Path(p) for p in paths]


def _metric_figure(table: Table, metric: str | None) -> Figure:
    """The metric of each row (mean ± std for groups); BadInputError if there is no such metric."""
    from expctl.errors import BadInputError
    from expctl.runs import compare as cmp

    candidates = [c for c in table.results if c not in (*cmp.EPOCH_COLUMNS, cmp.DURATION_COLUMN)]
    name = metric or cmp.main_metric(candidates)
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
            mean, std = row[name], float("nan")
        points.append((cmp.row_label(table, row), mean, std))
    return cmp.metric_figure(points, name, cmp.default_descending(name))


def _learning_curves_figure(table: Table, warn: Warn) -> Figure:
    """Every run's val_loss per epoch on one axis, one colour per row."""
    from expctl.errors import BadInputError
    from expctl.runs import compare as cmp

    curves = []
    ylabel = "val_loss"
    for i, row in enumerate(table.rows):
        label = cmp.row_label(table, row)
        for run_path in _row_paths(row):
            try:
                column, epochs, values = cmp.read_history_column(
                    run_path / "history.csv", ("val_loss", "loss")
                )
            except ValueError as exc:
                warn(f"{exc}; left out of the learning curves")
                continue
            if column != "val_loss":
                ylabel = "val_loss (loss where there is no validation)"
            curves.append((label, i, epochs, values))
    if not curves:
        raise BadInputError("no run has a readable history.csv to draw")
    return cmp.learning_curves_figure(curves, ylabel)


def _roc_figure(table: Table, warn: Warn) -> Figure:
    """The ROC curves of the binary runs with predictions.npz, overlaid."""
    from expctl.errors import BadInputError
    from expctl.evaluation import roc_auc, roc_curve
    from expctl.plots import roc_figure
    from expctl.runs import compare as cmp
    from expctl.runs.predictions import load_predictions

    curves = []
    for row in table.rows:
        label = cmp.row_label(table, row)
        for run_path in _row_paths(row):
            try:
                pred = load_predictions(run_path)
            except BadInputError as exc:
                warn(f"{exc.message}; left out of the ROC overlay")
                continue
            if pred.task != "binary":
                warn(f"{run_path}: a {pred.task} run; the ROC overlay takes binary runs only")
                continue
            y = pred.y_true.astype("int64")
            fpr, tpr, _ = roc_curve(y, pred.y_score, sample_weight=pred.weight)
            auc = roc_auc(y, pred.y_score, sample_weight=pred.weight)
            # Runs of a group: the label and the random end of each run's id.
            name = label if len(_row_paths(row)) == 1 else f"{label} [{run_path.name[-6:]}]"
            curves.append({"fpr": fpr, "tpr": tpr, "label": name, "auc": auc})
    if not curves:
        raise BadInputError("no binary run with predictions.npz to draw a ROC curve of")
    return roc_figure(curves)


def _write_html(path: Path, table: Table, warn: Warn) -> None:
    """The comparison as a self-contained HTML file (figures that cannot be drawn are left out)."""
    import io

    from expctl.errors import BadInputError
    from expctl.reports import compare_report_html
    from expctl.runs import atomic_write_text
    from expctl.runs import compare as cmp

    if not table.rows:
        raise BadInputError("no runs to report")
    figures = []
    drawers = {
        "learning curves (val_loss per epoch)": lambda: _learning_curves_figure(table, warn),
        "test metric per run": lambda: _metric_figure(table, None),
        "ROC curves (test)": lambda: _roc_figure(table, lambda _: None),
    }
    for caption, draw in drawers.items():
        try:
            figure = draw()
        except BadInputError:
            continue  # e.g. no binary run for the ROC overlay
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110)
        figures.append((caption, buffer.getvalue()))
    header, rows, numeric = cmp.table_cells(table)
    runs = [p for row in table.rows for p in _row_paths(row)]
    html = compare_report_html("expctl compare", header, rows, numeric, figures, runs)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, html)
