"""`expctl export RUN... --mlflow URI`: log finished run directories to MLflow."""

from __future__ import annotations

from pathlib import Path

import click

from expctl.cli.options import output_dir_option


@click.command()
@click.argument("refs", metavar="RUN...", nargs=-1, required=True)
@output_dir_option
@click.option(
    "--mlflow",
    "mlflow_uri",
    metavar="URI",
    required=True,
    help="MLflow tracking URI: sqlite:///mlflow.db, http://127.0.0.1:5000, databricks, ...",
)
@click.option("--experiment", default="expctl", show_default=True, help="MLflow experiment name.")
def export(refs: tuple[str, ...], output_dir: str, mlflow_uri: str, experiment: str) -> None:
    """Log each RUN (an id, a unique id prefix, a run directory or a folder of runs) to MLflow.

    Params are the resolved spec's dotted keys, metrics each epoch's history.csv row (step = epoch)
    and the test metrics as test_<key>; every file of the run directory becomes an artifact.
    A run exported before to the same tracking server is not logged twice.
    """
    from expctl.export import EXPORTERS, require_mlflow
    from expctl.masking import mask
    from expctl.runs.resolve import resolve_runs

    require_mlflow(mlflow_uri)
    paths = resolve_runs(refs, Path(output_dir), lambda m: click.echo(f"warning: {m}", err=True))
    for path in paths:
        mlflow_id = EXPORTERS["mlflow"](path, mlflow_uri, experiment)
        click.echo(
            f"{path.name}: MLflow run {mlflow_id} (experiment {experiment}, {mask(mlflow_uri)})"
        )
