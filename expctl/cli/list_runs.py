"""`expctl list [DIR]`: one line per run."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option


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
    from expctl.runs import to_json
    from expctl.views.listing import list_folder

    folder = Path(directory or output_dir)
    listing = list_folder(folder)
    if as_json:
        click.echo(to_json(listing.records()), nl=False)
        return
    if not listing.runs:
        click.echo(f"no runs in {folder}", err=True)
        return
    click.echo(listing.text(), nl=False)
    for problem in listing.problems:
        click.echo(f"warning: {problem}", err=True)
