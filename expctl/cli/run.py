"""`expctl run SPEC`: train and evaluate one spec, writing a run directory."""

from __future__ import annotations

import json
from pathlib import Path

import click

from expctl.cli.options import output_dir_option, set_option


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=str))
@output_dir_option
@click.option("--name", help="Run name (overrides the spec's name:).")
@click.option(
    "--seed", type=click.IntRange(0, 2**32 - 1), help="Random seed (overrides the spec's seed:)."
)
@set_option
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch progress lines.")
def run(
    spec_path: str,
    output_dir: str,
    name: str | None,
    seed: int | None,
    overrides: tuple[str, ...],
    quiet: bool,
) -> None:
    """Train the model SPEC describes and write its run directory.

    Prints a line per epoch, then the run directory and the test metrics. Exit code 0 on
    success, 2 for bad input (nothing is written), 1 when the run fails or diverges.
    """
    from expctl.runner import run as run_spec
    from expctl.runner import summary_lines
    from expctl.spec import load_spec

    extra = list(overrides)
    if name is not None:
        extra.append(f"name={json.dumps(name)}")
    if seed is not None:
        extra.append(f"seed={seed}")
    loaded = load_spec(spec_path, extra)
    echo = (lambda _: None) if quiet else click.echo
    outcome = run_spec(loaded, Path(output_dir), echo=echo)
    for line in summary_lines(outcome):
        click.echo(line)
