"""`expctl check RUN --baseline FILE [--update]`: a metric regression gate for CI."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option


@click.command()
@click.argument("ref", metavar="RUN")
@click.option(
    "--baseline",
    "baseline_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON baseline: {metrics: {NAME: {value, tolerance}}}; which way is better comes from "
    "expctl's metric catalogue (higher_is_better: needed only for a metric without a direction).",
)
@click.option(
    "--update",
    is_flag=True,
    help="Write the baseline from this run (keeping an existing file's metrics and tolerances).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON.")
@output_dir_option
def check(ref: str, baseline_path: Path, update: bool, as_json: bool, output_dir: str) -> None:
    """Compare RUN's test metrics with a baseline.

    Exit 0 when no metric is worse than its baseline value by more than its tolerance, 1 when
    one is (the table says which), 2 when the baseline is malformed, names a metric the run
    does not have, or gives a direction that contradicts expctl's metric catalogue. With
    --update the baseline is (re)written from the run and the exit is 0.
    """
    from expctl.runs import to_json
    from expctl.runs.resolve import resolve_run
    from expctl.views.check import check_run

    result = check_run(resolve_run(ref, Path(output_dir)), baseline_path, update)
    if result.written is not None:
        names = ", ".join(result.written["metrics"])
        click.echo(f"wrote {baseline_path}: {names} from run {result.run}")
        return
    if as_json:
        click.echo(to_json(result.as_json()), nl=False)
    else:
        click.echo(result.text(), nl=False)
    if result.failed:
        raise click.exceptions.Exit(1)
