"""Log a finished run directory to MLflow: params, per-epoch metrics, test metrics, artifacts."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ExpctlError
from expctl.export.common import final_metrics, flatten, read_run
from expctl.masking import mask

INSTALL_HINT = "install it with `uv sync --extra mlflow` (or `pip install 'expctl[mlflow]'`)"
#: MLflow run status for each final status of a run directory.
MLFLOW_STATUS = {
    "completed": "FINISHED",
    "failed": "FAILED",
    "diverged": "FAILED",
    "interrupted": "KILLED",
}
#: The tag that ties an MLflow run to its run directory (exporting twice finds it).
RUN_ID_TAG = "expctl.run_id"
#: MLflow refuses longer parameter values.
MAX_PARAM_LENGTH = 6000


def require_mlflow() -> Any:
    """The mlflow module, or BadInputError (exit 2) with the install hint."""
    try:
        import mlflow
    except ImportError:
        raise BadInputError(f"MLflow export needs mlflow: {INSTALL_HINT}") from None
    return mlflow


def _millis(iso: str | None, default: float) -> int:
    try:
        return int(dt.datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except ValueError:
        return int(default * 1000)


def export_run(run_dir: Path, uri: str, experiment: str = "expctl") -> str:
    """Log the run directory to the MLflow tracking server at `uri`; return the MLflow run id.

    Params are the resolved spec flattened to dotted keys; each history column is a metric
    with one value per epoch (step = epoch, timestamps spread over the run's duration); test
    metrics are `test_<key>`; every file of the run directory is an artifact. A run already
    exported to this tracking server (same `expctl.run_id` tag) is not logged again: its MLflow
    run id is returned.
    """
    require_mlflow()
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    run_dir = Path(run_dir)
    status, spec, metrics, history = read_run(run_dir)
    try:
        client = MlflowClient(tracking_uri=uri)
        found = client.get_experiment_by_name(experiment)
        experiment_id = (
            found.experiment_id if found is not None else client.create_experiment(experiment)
        )
        earlier = client.search_runs(
            [experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_dir.name}'"
        )
        if earlier:
            return earlier[0].info.run_id
        started = _millis(status.get("started_at"), time.time())
        mlrun = client.create_run(
            experiment_id,
            start_time=started,
            run_name=run_dir.name,
            tags={
                RUN_ID_TAG: run_dir.name,
                "expctl.name": str(status.get("name", "")),
                "expctl.status": str(status.get("status", "")),
                "expctl.version": str(status.get("expctl_version", "")),
            },
        )
        run_id = mlrun.info.run_id
        # the spec's own tracking URI may hold a password: never a param
        params = [
            Param(key, mask(value)[:MAX_PARAM_LENGTH]) for key, value in flatten(spec).items()
        ]
        elapsed = 0.0
        series = []
        for row in history:
            elapsed += row.get("epoch_time_s", 0.0)
            stamp = started + int(elapsed * 1000)
            step = int(row.get("epoch", len(series) + 1))
            series += [
                Metric(key, value, stamp, step) for key, value in row.items() if key != "epoch"
            ]
        ended = _millis(status.get("ended_at"), time.time())
        final = [Metric(k, v, ended, 0) for k, v in final_metrics(metrics).items()]
        # MLflow's batch limits: 100 params, 1000 metrics (and 1000 entries) per call
        for i in range(0, len(params), 100):
            client.log_batch(run_id, params=params[i : i + 100])
        values = series + final
        for i in range(0, len(values), 1000):
            client.log_batch(run_id, metrics=values[i : i + 1000])
        client.log_batch(run_id, tags=[RunTag("expctl.path", str(run_dir.resolve()))])
        client.log_artifacts(run_id, str(run_dir))
        client.set_terminated(
            run_id, status=MLFLOW_STATUS.get(str(status.get("status")), "FAILED"), end_time=ended
        )
    except MlflowException as exc:
        raise ExpctlError(
            f"MLflow export of {run_dir} to {mask(uri)} failed: {mask(exc.message)}"
        ) from None
    return run_id
