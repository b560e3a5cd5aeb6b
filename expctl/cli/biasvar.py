"""`expctl biasvar SPEC`: the bias/variance decomposition of a spec's test error."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option, set_option, smoke_option


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=str))
@click.option(
    "--members",
    type=click.IntRange(2, 10_000),
    default=10,
    show_default=True,
    help="Members per point: runs with seeds seed, seed+1, ..., each on a bootstrap resample "
    "of the training split.",
)
@click.option(
    "--scan",
    metavar="KEY=VALUES",
    help="Repeat for each value of one spec key (a YAML list), e.g. "
    "--scan 'model.hidden=[[8],[32],[128]]' or --scan 'model.degree=[1,2,4,8]'.",
)
@click.option(
    "--train-sizes",
    metavar="F1,F2,...",
    help="Fractions of the training split to resample (learning curve), e.g. 0.1,0.3,1.0.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Train members in N worker processes that share the cores.",
)
@click.option(
    "--resample",
    type=click.Choice(["auto", "bootstrap", "fresh"]),
    default="auto",
    show_default=True,
    help="How members get their training sets: bootstrap resamples of the training split, or "
    "fresh draws from a source that can generate them (polynomial); auto picks fresh when it can.",
)
@output_dir_option
@set_option
@click.option("--quiet", "-q", is_flag=True, help="No line per finished member.")
@smoke_option("2 members per point, each with tiny data and one epoch")
def biasvar(
    spec_path: str,
    members: int,
    scan: str | None,
    train_sizes: str | None,
    workers: int,
    resample: str,
    output_dir: str,
    overrides: tuple[str, ...],
    quiet: bool,
    smoke: bool,
) -> None:
    """Split the test error of SPEC into bias², variance (and noise, when known).

    Trains --members runs per point on bootstrap resamples of the training split, tests all on
    the same test split, and writes <output-dir>/<biasvar-id>/ with decomposition.json/.csv,
    members.csv, the member runs under members/ and plots/ (bias_variance.png, capacity.png with
    --scan, learning_curve.png with --train-sizes). Exit code 2 for bad input (nothing written),
    1 if the experiment failed.
    """
    from expctl.biasvar import run_biasvar
    from expctl.views.biasvar import summary_lines

    outcome = run_biasvar(
        spec_path,
        Path(output_dir),
        members=members,
        scan=scan,
        train_sizes=train_sizes,
        workers=workers,
        resample=resample,
        overrides=overrides,
        smoke=smoke,
        echo=(lambda _: None) if quiet else click.echo,
    )
    for line in summary_lines(outcome.points):
        click.echo(line)
    if outcome.failed_members:
        click.echo(f"warning: {outcome.failed_members} member run(s) failed", err=True)
    click.echo(f"biasvar directory: {outcome.path}")
