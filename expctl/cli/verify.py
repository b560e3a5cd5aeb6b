"""`expctl verify RUN`: re-run a run's first epochs and check they give the recorded numbers."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option


@click.command()
@click.argument("ref", metavar="RUN")
@output_dir_option
@click.option(
    "--epochs",
    type=click.IntRange(1, 1_000_000),
    default=2,
    show_default=True,
    help="How many of the first epochs to re-run.",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch progress lines.")
def verify(ref: str, output_dir: str, epochs: int, quiet: bool) -> None:
    """Re-run the first epochs of RUN from its spec.yaml and compare with what it recorded.

    Trains in a temporary directory (RUN is not changed) and compares every history.csv column
    except the epoch time, exactly, and the sha256 of the weights after each epoch. Exit 0 when
    all match, 1 when they diverge (the epoch and column are named), 2 when RUN cannot be
    re-run (still running, spec no longer valid, data changed).
    """
    from expctl.runner.verify import verify as verify_run
    from expctl.runs import resolve_run

    run_dir = resolve_run(ref, Path(output_dir))
    echo = (lambda _: None) if quiet else click.echo
    report = verify_run(run_dir, epochs, echo=echo)
    what = "history and weights" if report.weights_compared else "history"
    if report.ok:
        click.echo(f"verified: epochs 1-{report.epochs} of {run_dir.name} match ({what})")
        if not report.weights_compared:
            click.echo("  (no weight digests recorded for these epochs: weights not compared)")
        return
    first = report.divergences[0]
    click.echo(
        f"diverged: {run_dir.name} first differs at epoch {first.epoch}, column {first.column}",
        err=True,
    )
    for item in report.divergences[:20]:
        click.echo(f"  {item}", err=True)
    if len(report.divergences) > 20:
        click.echo(f"  ... and {len(report.divergences) - 20} more", err=True)
    raise click.exceptions.Exit(1)
