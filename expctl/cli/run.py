"""`expctl run SPEC`: train and evaluate one spec (or N seeds of it), writing run directories."""

from __future__ import annotations

import json
import math
import statistics
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
    "e.g. sqlite:///mlflow.db or http://127.0.0.1:5000.",
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
    from expctl.runner import RunHooks, summary_lines
    from expctl.runner import run as run_spec
    from expctl.runs.checkpoint import CheckpointPolicy
    from expctl.spec import load_spec

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
    loaded = load_spec(spec_path, extra)
    if smoke:
        from expctl.spec.smoke import smoke_overrides

        extra += smoke_overrides(loaded.spec)
        loaded = load_spec(spec_path, extra)
    echo = (lambda _: None) if quiet else click.echo
    first_seed = loaded.spec.seed
    outcomes = []
    failures = []
    for i in range(repeat):
        if i:
            # every seed is validated like the first (a seed past 2**32 - 1 is refused)
            loaded = load_spec(spec_path, [*extra, f"seed={first_seed + i}"])
        try:
            outcome = run_spec(
                loaded,
                Path(output_dir),
                echo=echo,
                hooks=RunHooks(checkpoint=policy),
            )
        except RunFailedError as exc:
            if repeat == 1:
                raise
            failures.append(exc.message)
            click.echo(f"error: {exc.message}", err=True)
            continue
        outcomes.append(outcome)
        for line in summary_lines(outcome):
            click.echo(line)
    if repeat > 1:
        _print_spread(outcomes, first_seed, repeat)
    if failures:
        raise RunFailedError(f"{len(failures)} of {repeat} runs failed")


def _print_spread(outcomes: list, first_seed: int, repeat: int) -> None:
    """Mean ± standard deviation over the seeds of the main test metrics."""
    if not outcomes:
        return
    keys = [k for k in ("auc", "accuracy", "rmse", "r2", "loss") if k in outcomes[0].metrics]
    parts = []
    for key in keys:
        values = [o.metrics[key] for o in outcomes if isinstance(o.metrics.get(key), float)]
        values = [v for v in values if math.isfinite(v)]
        if len(values) >= 2:
            parts.append(f"{key} {statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}")
    seeds = f"seeds {first_seed}..{first_seed + repeat - 1}"
    click.echo(f"{len(outcomes)} runs ({seeds}): " + "  ".join(parts))
