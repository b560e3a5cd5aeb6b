"""`expctl show RUN`: one run on one screen (spec, status, metrics, epochs, plots, environment)."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option


@click.command()
@click.argument("ref", metavar="RUN")
@output_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object.")
def show(ref: str, output_dir: str, as_json: bool) -> None:
    """Show one run: status, test metrics, best epoch, plots, environment and the resolved spec.

    RUN is a run id (or a unique prefix) in --output-dir, or the path of a run directory.
    """
    from expctl.runs import to_json
    from expctl.runs.resolve import resolve_run
    from expctl.views.show import collect, show_text

    info = collect(resolve_run(ref, Path(output_dir)))
    for warning in info["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    click.echo(to_json(info) if as_json else show_text(info), nl=False)
