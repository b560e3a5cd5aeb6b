"""`expctl list [DIR]`: one line per run."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import click

from expctl.cli.options import output_dir_option


def _metric(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return "-"
    for key in ("auc", "accuracy", "r2"):
        value = metrics.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            return f"{key} {value:.4f}"
    return "-"


def _duration(status: dict[str, Any]) -> str:
    value = status.get("duration_s")
    if not isinstance(value, int | float):
        return "-"
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes)}m{seconds:04.1f}s" if minutes else f"{seconds:.1f}s"


@click.command(name="list")
@click.argument(
    "directory", metavar="[DIR]", required=False, type=click.Path(file_okay=False, path_type=str)
)
@output_dir_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print a JSON list: id, path, name, status, started_at, duration_s, metrics, problems.",
)
def list_runs(directory: str | None, output_dir: str, as_json: bool) -> None:
    """List the runs in DIR (default: --output-dir): id, name, status, test metric, duration."""
    from expctl.runs import list_runs as find_runs

    folder = Path(directory or output_dir)
    records = find_runs(folder)
    if as_json:
        from expctl.runs import to_json

        click.echo(to_json([_record(r) for r in records]), nl=False)
        return
    if not records:
        click.echo(f"no runs in {folder}", err=True)
        return
    rows = [
        (r.id, str(r.status.get("name", "?")), r.state, _metric(r.metrics), _duration(r.status))
        for r in records
    ]
    header = ("RUN", "NAME", "STATUS", "TEST", "DURATION")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    for r in records:
        for problem in r.problems:
            click.echo(f"warning: {problem}", err=True)


def _record(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "path": str(r.path),
        "name": r.status.get("name"),
        "status": r.state,
        "started_at": r.status.get("started_at"),
        "duration_s": r.status.get("duration_s"),
        "metrics": r.metrics,
        "problems": r.problems,
    }
