"""`expctl run SPEC`: train and evaluate one spec (or N seeds of it), writing run directories."""

from __future__ import annotations

import json
from pathlib import Path

import click

from expctl.cli.options import output_dir_option, set_option, smoke_option


@click.command()
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=str))
@output_dir_option
@click.option("--name", help="Run name (overrides the spec's name:).")
@click.option(
    "--seed", type=click.IntRange(0, 2**32 - 1), help="Random seed (overrides the spec's seed:)."
)
@set_option
@click.option(
    "--repeat",
    type=click.IntRange(1, 1000),
    default=1,
    show_default=True,
    help="Run N times with seeds seed, seed+1, ... (one run directory each).",
)
@click.option("--quiet", "-q", is_flag=True, help="No per-epoch progress lines.")
@click.option(
    "--mlflow",
    "mlflow_uri",
    metavar="URI",
    help="Also log each finished run to this MLflow tracking URI (sets tracking.mlflow), "
    "e.g. sqlite:///mlflow.db or http://127.0.0.1:5000. A password in it is shown and "
    "recorded in the run as ***; leave it out with MLFLOW_TRACKING_PASSWORD (HTTP) or "
    "PGPASSWORD/~/.pgpass (postgresql://), which `expctl resume` and `export` also read.",
)
@click.option(
    "--checkpoint-every",
    default="10s",
    show_default=True,
    metavar="N|TIME",
    help="Checkpoint for `expctl resume` every N epochs, or every TIME (30s, 5m), 0: never. "
    "SIGINT/SIGTERM and the end of training always write the last epoch.",
)
@smoke_option("tiny data, one epoch, small batches; the same code path")
def run(
    spec_path: str,
    output_dir: str,
    name: str | None,
    seed: int | None,
    overrides: tuple[str, ...],
    repeat: int,
    quiet: bool,
    mlflow_uri: str | None,
    checkpoint_every: str,
    smoke: bool,
) -> None:
    """Train the model SPEC describes and write its run directory.

    Prints a line per epoch, then the run directory and the test metrics. Exit code 0 on
    success, 2 for bad input (nothing is written), 1 when a run fails or diverges.
    """
    from expctl.errors import BadInputError, RunFailedError
    from expctl.runner import RunHooks, RunOutcome, run_repeated, summary_lines
    from expctl.runs.checkpoint import CheckpointPolicy

    try:
        policy = CheckpointPolicy.parse(checkpoint_every)
    except ValueError as exc:
        raise BadInputError(f"--checkpoint-every {exc}") from None
    extra = list(overrides)
    if name is not None:
        extra.append(f"name={json.dumps(name)}")
    if seed is not None:
        extra.append(f"seed={seed}")
    if mlflow_uri is not None:
        extra.append(f"tracking.mlflow={json.dumps(mlflow_uri)}")

    def finished(done: RunOutcome) -> None:
        for line in summary_lines(done):
            click.echo(line)

    outcome = run_repeated(
        spec_path,
        extra,
        Path(output_dir),
        repeat,
        smoke=smoke,
        echo=(lambda _: None) if quiet else click.echo,
        hooks=RunHooks(checkpoint=policy),
        on_run=finished,
        on_failure=lambda message: click.echo(f"error: {message}", err=True),
    )
    if repeat > 1 and outcome.outcomes:
        spread = "  ".join(f"{k} {mean:.4f} ± {sd:.4f}" for k, (mean, sd) in outcome.spread.items())
        seeds = f"seeds {outcome.first_seed}..{outcome.first_seed + repeat - 1}"
        click.echo(f"{len(outcome.outcomes)} runs ({seeds}): " + spread)
    if outcome.failures:
        raise RunFailedError(f"{len(outcome.failures)} of {repeat} runs failed")
