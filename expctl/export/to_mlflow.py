"""Log a finished run directory to MLflow: params, per-epoch metrics, test metrics, artifacts."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError, ExpctlError
from expctl.export.common import final_metrics, flatten, read_run
from expctl.masking import connectable, mask

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
#: Where the password of a tracking URI recorded as `user:***@` comes from (MLflow's own variable
#: for HTTP basic authentication; PostgreSQL's driver also reads PGPASSWORD and ~/.pgpass).
PASSWORD_ENV = "MLFLOW_TRACKING_PASSWORD"
#: Tracking URIs that are SQLAlchemy databases on a server (connected to before exporting).
DATABASE_SCHEMES = ("postgresql", "mysql", "mssql")


def require_mlflow(uri: str | None = None) -> Any:
    """The mlflow module, or BadInputError (exit 2) with the install hint.

    With `uri`, also what can be checked before a run trains: a password masked as `***` can
    be found (`tracking_uri`), and a database URI accepts a connection (`check_database`).
    """
    try:
        import mlflow
    except ImportError:
        raise BadInputError(f"MLflow export needs mlflow: {INSTALL_HINT}") from None
    if uri is not None:
        check_database(tracking_uri(uri), uri)
    return mlflow


def tracking_uri(uri: str) -> str:
    """The URI to connect to: `uri` itself, or, when its password is the mask `***` (a run's
    spec.yaml, best.yaml), with the password from MLFLOW_TRACKING_PASSWORD; without it a
    PostgreSQL URI loses its password (the driver reads PGPASSWORD, ~/.pgpass) and any other
    is refused (BadInputError): `***` is never sent as a password."""
    target = connectable(uri, os.environ.get(PASSWORD_ENV))
    if target is not None:
        return target
    raise BadInputError(
        f"MLflow URI {mask(uri)}: its password was recorded as *** (passwords are never "
        f"written); set {PASSWORD_ENV}, or give the URI with its password: "
        "expctl export RUN --mlflow URI"
    )


def check_database(target: str, uri: str) -> None:
    """Connect once to a database tracking URI (MLflow itself retries for ~100 s before failing):
    BadInputError with the driver's reason and what to check. Other URIs are not checked."""
    if target.split(":", 1)[0].split("+", 1)[0] not in DATABASE_SCHEMES:
        return
    import sqlalchemy

    try:
        engine = sqlalchemy.create_engine(target)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
    except ImportError as exc:
        raise BadInputError(
            f"MLflow URI {mask(uri)}: the database driver is not installed ({exc}); "
            "pip install 'expctl[postgres]' for postgresql://"
        ) from None
    except Exception as exc:  # sqlalchemy's errors: refused connection, bad password, bad URL
        why = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise BadInputError(
            f"MLflow URI {mask(uri)}: cannot connect to its database: {mask(why)}\n  check the "
            f"URI; its password comes from the URI, {PASSWORD_ENV} when the URI has *** for it, "
            "or PGPASSWORD / ~/.pgpass when it has none"
        ) from None


class _MaskFilter(logging.Filter):
    """Masks passwords in a log record's message (MLflow's and its libraries' warnings)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


@contextlib.contextmanager
def masked_logs() -> Iterator[None]:
    """While exporting, every log line MLflow (and SQLAlchemy, alembic, urllib3) prints has its
    URL passwords masked: a filter on the handlers that print them."""
    loggers = ("mlflow", "alembic", "sqlalchemy.engine", "")
    handlers = {h for name in loggers for h in logging.getLogger(name).handlers}
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)
    masking = _MaskFilter()
    for handler in handlers:
        handler.addFilter(masking)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(masking)


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
    run id is returned. A password in `uri` is never printed or logged (`***`); a URI with `***`
    for its password gets the real one from the environment (`tracking_uri`).
    """
    require_mlflow()
    run_dir = Path(run_dir)
    status, spec, metrics, history = read_run(run_dir)
    target = tracking_uri(uri)
    with masked_logs():
        check_database(target, uri)
        try:
            return _log_run(run_dir, target, experiment, status, spec, metrics, history)
        except ExpctlError:
            raise
        except Exception as exc:  # MlflowException, and what MLflow lets through (SQLAlchemy, OS)
            from mlflow.exceptions import MlflowException

            why = (
                exc.message if isinstance(exc, MlflowException) else f"{type(exc).__name__}: {exc}"
            )
            raise ExpctlError(
                f"MLflow export of {run_dir} to {mask(uri)} failed: {mask(str(why))}"
            ) from None


def _log_run(
    run_dir: Path,
    target: str,
    experiment: str,
    status: dict[str, Any],
    spec: dict[str, Any],
    metrics: dict[str, Any],
    history: list[dict[str, float]],
) -> str:
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=target)
    found = client.get_experiment_by_name(experiment)
    experiment_id = (
        found.experiment_id if found is not None else client.create_experiment(experiment)
    )
    earlier = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_dir.name}'"
    )
    if earlier:
        return str(earlier[0].info.run_id)
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
    run_id = str(mlrun.info.run_id)
    # the spec's own tracking URI may hold a password (spec.yaml of runs made before it was
    # masked there): never a param
    params = [Param(key, mask(value)[:MAX_PARAM_LENGTH]) for key, value in flatten(spec).items()]
    elapsed = 0.0
    series = []
    for row in history:
        elapsed += row.get("epoch_time_s", 0.0)
        stamp = started + int(elapsed * 1000)
        step = int(row.get("epoch", len(series) + 1))
        series += [Metric(key, value, stamp, step) for key, value in row.items() if key != "epoch"]
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
    return run_id
