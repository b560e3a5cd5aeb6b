"""`expctl export RUN... --mlflow URI` (log runs to MLflow) and `expctl export RUN --onnx FILE`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from expctl.cli.options import output_dir_option


@click.command()
@click.argument("refs", metavar="RUN...", nargs=-1, required=True)
@output_dir_option
@click.option(
    "--mlflow",
    "mlflow_uri",
    metavar="URI",
    help="MLflow tracking URI: sqlite:///mlflow.db, http://127.0.0.1:5000, databricks, ...",
)
@click.option("--experiment", default="expctl", show_default=True, help="MLflow experiment name.")
@click.option(
    "--onnx",
    "onnx_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write RUN's model as a self-contained ONNX model (raw features in), checked with "
    "onnxruntime on the run's test events; needs the extra expctl[onnx].",
)
def export(
    refs: tuple[str, ...],
    output_dir: str,
    mlflow_uri: str | None,
    experiment: str,
    onnx_file: Path | None,
) -> None:
    """Log each RUN to MLflow (--mlflow URI), or write one RUN's model as ONNX (--onnx FILE).

    RUN is an id, a unique id prefix, a run directory (or, for --mlflow, a folder of runs).

    --mlflow: params are the resolved spec's dotted keys, metrics each epoch's history.csv row
    (step = epoch) and the test metrics as test_<key>; every file of the run directory becomes an
    artifact. A run exported before to the same tracking server is not logged twice.

    --onnx: input "features" [batch, n_features] float32 (images [batch, H, W, C]); output
    "score" (multitask: "score_<head>") [batch, units]. The run's data are prepared again from
    its spec.yaml and the ONNX scores compared with Keras' on up to 1,000 test events: a
    difference above 1e-5 fails the export (exit 1) and FILE is not written.
    """
    if (mlflow_uri is None) == (onnx_file is None):
        raise click.UsageError("give one of --mlflow URI or --onnx FILE")
    if onnx_file is not None:
        _export_onnx(refs, Path(output_dir), onnx_file)
        return
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


def _test_events(run_dir: Path, n: int) -> Any:
    """Up to `n` of the run's raw test features, its data prepared again from spec.yaml and
    checked against its fingerprint (as verify and resume do); a streamed run's are read from
    its files chunk by chunk."""
    import numpy as np

    from expctl.runner.resume import same_data, stored_spec
    from expctl.runs import RunView

    loaded, record = stored_spec(RunView(run_dir))
    dataset = same_data(loaded, record, run_dir)
    parts = getattr(dataset, "parts", None)
    if parts is None:
        return dataset.test.x[:n]
    chunks, total = [], 0
    for _, batch in parts("test"):
        chunks.append(batch.x[: n - total])
        total += len(chunks[-1])
        if total >= n:
            break
    return np.concatenate(chunks) if chunks else np.empty((0, *dataset.input_shape), np.float32)


def _export_onnx(refs: tuple[str, ...], output_dir: Path, onnx_file: Path) -> None:
    from expctl.export.onnx import export_onnx
    from expctl.runs import resolve_run

    if len(refs) != 1:
        raise click.UsageError(f"--onnx exports one RUN, got {len(refs)}: {' '.join(refs)}")
    run_dir = resolve_run(refs[0], output_dir)
    result = export_onnx(run_dir, onnx_file, _test_events)
    shapes = ", ".join(f"{name} {shape}" for name, shape in result.outputs.items())
    check = result.check
    diffs = ", ".join(
        f"{name} {d:.2g}"
        + (
            f" (relative {check.max_scaled_diff[name]:.2g})"
            if d > check.max_scaled_diff[name]
            else ""
        )
        for name, d in check.max_abs_diff.items()
    )
    click.echo(f"{run_dir.name}: wrote {result.path} (ONNX opset {result.opset})")
    click.echo(f"  input  {result.input_name} {result.input_shape} float32 (raw features)")
    click.echo(f"  output {shapes}")
    click.echo(
        f"  checked with onnxruntime on {check.events} test events: max |onnx - keras| {diffs}"
    )
