"""`expctl compare DIR_OR_RUN ...`: runs side by side, with the spec keys that differ between them."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option

PLOTS = ("learning_curves", "roc", "metric")
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


@click.command()
@click.argument("refs", metavar="[DIR_OR_RUN]...", nargs=-1)
@output_dir_option
@click.option(
    "--sort",
    "sort_key",
    metavar="KEY",
    help="Sort by a column: a metric best first (its direction from expctl's metric catalogue; "
    "a metric with none needs a sign), others ascending; -KEY forces descending, +KEY ascending.",
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
@click.option(
    "--evaluations",
    is_flag=True,
    help="Also one row per evaluation of each run (`expctl evaluate`), named RUN:NAME, with its "
    "metrics on that sample; the `evaluation` column tells them apart ('test split': the run's "
    "own).",
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
    evaluations: bool,
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
    with a warning. With --evaluations, each run's evaluations (a variation sample scored by
    `expctl evaluate`) follow its row: nominal and variations side by side.
    """
    from expctl.views.compare import OptionError
    from expctl.views.compare import compare as compare_runs

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
    names = None
    if columns is not None:
        names = [c.strip() for c in columns.split(",") if c.strip()]
        if not names:
            raise click.BadParameter("give column names, e.g. id,auc", param_hint="--columns")
    fmt = "json" if as_json else fmt
    try:
        result = compare_runs(
            refs,
            output_dir,
            filters=filters,
            sort=sort_key,
            columns=names,
            fmt=fmt,
            group=not no_group,
            evaluations=evaluations,
            warn=warn,
        )
    except OptionError as exc:
        raise click.BadParameter(str(exc), param_hint=exc.option) from None
    if not result.table.rows and fmt in ("table", "markdown"):
        none_pass = " (none passes the filters)" if result.n_read else ""
        click.echo(f"no runs to compare{none_pass}", err=True)
    else:
        click.echo(result.text, nl=False)
    if plot is not None:
        from expctl.views.figures import save_plot

        path = out or Path(f"compare_{plot}.png")
        save_plot(plot, result.table, metric, path, warn)
        click.echo(f"figure: {path}", err=True)
    if html_path is not None:
        from expctl.reports import write_compare_report
        from expctl.views.figures import report_parts

        write_compare_report(html_path, "expctl compare", *report_parts(result.table, warn))
        click.echo(f"report: {html_path}", err=True)
    if strict and warnings:
        ctx.exit(1)
