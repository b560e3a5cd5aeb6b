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
    help="JSON baseline: {metrics: {NAME: {value, tolerance, higher_is_better}}}.",
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
    one is (the table says which), 2 when the baseline is malformed or names a metric the run
    does not have. With --update the baseline is (re)written from the run and the exit is 0.
    """
    from expctl.errors import BadInputError
    from expctl.runs import atomic_write_json, read_json, to_json
    from expctl.runs.gate import check as run_check
    from expctl.runs.gate import parse_baseline, updated_baseline
    from expctl.runs.resolve import resolve_run

    run_dir = resolve_run(ref, Path(output_dir))
    try:
        metrics = read_json(run_dir / "metrics.json")
    except ValueError as exc:
        raise BadInputError(f"{exc} (has the run completed?)") from None
    if not isinstance(metrics, dict):
        raise BadInputError(f"{run_dir / 'metrics.json'}: not a JSON object")
    source = str(baseline_path)
    previous = None
    if baseline_path.exists():
        try:
            text = baseline_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInputError(f"{source}: cannot read: {exc}") from None
        previous = parse_baseline(text, source)
    elif not update:
        raise BadInputError(f"{source}: no such baseline (create it with --update)")
    if update:
        baseline = updated_baseline(metrics, previous)
        atomic_write_json(baseline_path, baseline)
        click.echo(f"wrote {source}: {', '.join(baseline['metrics'])} from run {run_dir.name}")
        return
    assert previous is not None
    verdicts = run_check(metrics, previous, source)
    failed = [v for v in verdicts if not v.passed]
    if as_json:
        rows = [
            {
                "metric": v.metric,
                "baseline": v.baseline,
                "tolerance": v.tolerance,
                "higher_is_better": v.higher_is_better,
                "value": v.value,
                "state": v.state,
            }
            for v in verdicts
        ]
        click.echo(to_json({"run": run_dir.name, "passed": not failed, "metrics": rows}), nl=False)
    else:
        width = max(len(v.metric) for v in verdicts)
        click.echo(f"{'metric':<{width}}  {'baseline':>10}  {'tolerance':>9}  {'run':>10}  state")
        for v in verdicts:
            arrow = "↑" if v.higher_is_better else "↓"
            click.echo(
                f"{v.metric:<{width}}  {v.baseline:>10.4g}  {v.tolerance:>9.3g}  "
                f"{v.value:>10.4g}  {v.state} {arrow}"
            )
        verdict = f"FAILED: {', '.join(v.metric for v in failed)} worse" if failed else "passed"
        click.echo(f"{run_dir.name}: {verdict}")
    if failed:
        raise click.exceptions.Exit(1)
