"""`expctl resume RUN`: continue an interrupted or crashed run from its last checkpoint."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option


@click.command()
@click.argument("ref", metavar="RUN")
@output_dir_option
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch progress lines.")
def resume(ref: str, output_dir: str, quiet: bool) -> None:
    """Continue RUN (interrupted or crashed) from its last completed epoch, in its directory.

    Weights, optimizer state, learning rate, early-stopping and best weights, plateau and pruning
    state and the history come from the run's latest intact checkpoint (the previous one if the
    latest is damaged); the random draws of each epoch depend on (seed, epoch) only, so the run
    ends as it would have without the interruption. Refused (exit 2, nothing changed) for a
    run that completed, failed or is still running, whose stored spec no longer validates, or
    whose data changed. RUN is a run id, a unique prefix of one, or a run directory's path.
    """
    from expctl.runner import summary_lines
    from expctl.runner.resume import resume as resume_run
    from expctl.runs import resolve_run

    run_dir = resolve_run(ref, Path(output_dir))
    echo = (lambda _: None) if quiet else click.echo
    outcome = resume_run(
        run_dir, echo=echo, warn=lambda message: click.echo(f"warning: {message}", err=True)
    )
    for line in summary_lines(outcome):
        click.echo(line)
