"""The Python API for notebooks: what the command line offers, as functions.

    import expctl
    run = expctl.run("experiments/quickstart.yaml", train__epochs=5, model__dropout=0.3)
    run.metrics["auc"], run.history[["epoch", "val_loss"]]
    old = expctl.load_run("20261125-1015")          # an id, a unique prefix, or a path
    bv = expctl.biasvar("experiments/poly.yaml", members=5, scan="model.degree=[1,2,4]")
    ab = expctl.ablate("experiments/quickstart.yaml", repeat=2)
    sw = expctl.sweep("experiments/sweeps/grid.yaml", workers=2)
    table = expctl.compare("outputs", sort="auc")   # a pandas DataFrame
    scores = expctl.predict(old, "data/new.parquet", keep=["event"])  # a DataFrame of scores

Each function calls the same core function as its command (`expctl run`, `biasvar`, `ablate`,
`sweep`, `compare`).
Importing this module is cheap; TensorFlow is imported only when a function trains.
"""

from __future__ import annotations

import json
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expctl.errors import BadInputError
from expctl.runs import RunView

if TYPE_CHECKING:
    from expctl.ablate import AblationOutcome
    from expctl.biasvar import BiasvarOutcome
    from expctl.sweep.lifecycle import SweepResult

__all__ = ["Run", "ablate", "biasvar", "compare", "load_run", "predict", "run", "sweep"]

PathLike = str | os.PathLike[str]


class Run:
    """A run directory, read: its resolved spec, status, test metrics, history and predictions.

    A thin layer over `expctl.runs.RunView` (`run.view`): `history` is a pandas DataFrame (one
    row per epoch) and `predictions` the arrays of the run's predictions (y_true, y_score, ...),
    each read when first used.
    """

    def __init__(self, path: PathLike) -> None:
        self.view = RunView(path)
        self.path = self.view.path

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def spec(self) -> dict[str, Any]:
        """The resolved spec as plain data (read with the hardened loader)."""
        return self.view.spec or {}

    @property
    def status(self) -> dict[str, Any]:
        """The run's status, `running` shown as `crashed` when its process is gone."""
        return self.view.status

    @property
    def metrics(self) -> dict[str, Any]:
        return self.view.metrics or {}

    @property
    def data(self) -> dict[str, Any]:
        """The dataset's summary and fingerprint."""
        return self.view.data or {}

    @cached_property
    def history(self) -> Any:
        return self.view.history_frame()

    @cached_property
    def predictions(self) -> dict[str, Any]:
        return self.view.prediction_arrays()

    @property
    def report(self) -> Path:
        """The run's HTML report: open it in a browser (or IPython.display.IFrame in a notebook)."""
        return self.view.report

    def __repr__(self) -> str:
        shown = {k: self.metrics[k] for k in ("auc", "accuracy", "rmse", "r2") if k in self.metrics}
        numbers = ", ".join(f"{k}={v:.4f}" for k, v in shown.items() if isinstance(v, float))
        return f"Run({self.id!r}, status={self.status.get('status')!r}{', ' if numbers else ''}{numbers})"


def load_run(run: PathLike, output_dir: PathLike = "outputs") -> Run:
    """Read a run directory, named by a run id, a unique id prefix (in `output_dir`) or a path.

    RunNotFoundError when nothing matches; BadInputError when its status or spec is unreadable.
    """
    from expctl.runs import resolve_run

    loaded = Run(resolve_run(os.fspath(run), Path(output_dir)))
    if not loaded.view.recorded_status or loaded.view.spec is None:
        raise BadInputError(f"cannot read run {loaded.path}: " + "; ".join(loaded.view.warnings))
    return loaded


def _override_items(overrides: dict[str, Any]) -> list[str]:
    """Keyword overrides as `--set` items: `model__dropout=0.3` is `--set model.dropout=0.3`."""
    return [f"{key.replace('__', '.')}={json.dumps(value)}" for key, value in overrides.items()]


def _echo(quiet: bool) -> Any:
    return (lambda _: None) if quiet else print


def run(
    spec: PathLike | dict[str, Any] | Any,
    output_dir: PathLike = "outputs",
    *,
    overrides: list[str] | tuple[str, ...] = (),
    quiet: bool = True,
    **keys: Any,
) -> Run:
    """Train and evaluate a spec (a YAML path, a dict, or a Spec); return the finished Run.

    Keys are overridden like `expctl run --set`: as keywords with `__` for the dots
    (`train__epochs=5`, `model__hidden=[32, 32]`) or as `overrides=["model.dropout=0.3"]`.
    `quiet=False` prints the per-epoch lines. Errors are expctl's (SpecError, DataError,
    RunFailedError); a relative data path in a dict spec is looked up from the current folder.
    """
    from expctl.runner import run as run_spec
    from expctl.spec import LoadedSpec, load_spec, resolved_dict, spec_from_dict

    items = [*overrides, *_override_items(keys)]
    if isinstance(spec, str | os.PathLike):
        loaded = load_spec(spec, items)
    else:
        data = spec if isinstance(spec, dict) else resolved_dict(spec)
        loaded = LoadedSpec(
            spec=spec_from_dict(data, "<python>", items), source="<python>", base_dir=Path.cwd()
        )
    outcome = run_spec(loaded, Path(output_dir), echo=_echo(quiet))
    return load_run(outcome.run_dir)


def biasvar(
    spec: PathLike,
    output_dir: PathLike = "outputs",
    *,
    members: int = 10,
    scan: str | None = None,
    train_sizes: str | None = None,
    workers: int = 1,
    resample: str = "auto",
    smoke: bool = False,
    overrides: list[str] | tuple[str, ...] = (),
    quiet: bool = True,
    **keys: Any,
) -> BiasvarOutcome:
    """Split the test error of a spec file into bias², variance (and noise), as `expctl biasvar`.

    `scan` is `KEY=[V1, V2, ...]` (one spec key), `train_sizes` `F1,F2,...` (fractions of the
    training split); keys are overridden as in `run`. Returns the experiment's directory, its
    points (one decomposition each) and how many member runs failed.
    """
    from expctl.biasvar import run_biasvar

    return run_biasvar(
        os.fspath(spec),
        Path(output_dir),
        members=members,
        scan=scan,
        train_sizes=train_sizes,
        workers=workers,
        resample=resample,
        overrides=[*overrides, *_override_items(keys)],
        smoke=smoke,
        echo=_echo(quiet),
    )


def ablate(
    spec: PathLike,
    output_dir: PathLike = "outputs",
    *,
    repeat: int = 1,
    overrides: list[str] | tuple[str, ...] = (),
    quiet: bool = True,
    **keys: Any,
) -> AblationOutcome:
    """Run a spec file, then with each regulariser it uses switched off, and rank them, as
    `expctl ablate`; keys are overridden as in `run`."""
    from expctl.ablate import run_ablation

    return run_ablation(
        os.fspath(spec),
        Path(output_dir),
        repeat=repeat,
        overrides=[*overrides, *_override_items(keys)],
        echo=_echo(quiet),
    )


def sweep(
    spec: PathLike,
    output_dir: PathLike = "outputs",
    *,
    study: str | None = None,
    workers: int = 1,
    storage: str | None = None,
    smoke: bool = False,
    overrides: list[str] | tuple[str, ...] = (),
    quiet: bool = True,
    **keys: Any,
) -> SweepResult:
    """Run (or resume) the sweep of a spec file with a `sweep:` block, as `expctl sweep`.

    Returns the result (`sweep_dir`, `best` trial, `counts` by state, `rows` of sweep.csv);
    `result.error` says what `expctl sweep` would exit non-zero for (failed trials, work left
    to other workers), and `result.raise_for_outcome()` raises it. Keys are overridden as in
    `run`; bad input raises SpecError before anything is written.
    """
    from expctl.sweep.lifecycle import run_sweep

    return run_sweep(
        os.fspath(spec),
        overrides=[*overrides, *_override_items(keys)],
        output_dir=Path(output_dir),
        study=study,
        workers=workers,
        storage=storage,
        smoke=smoke,
        quiet=quiet,
        echo=_echo(quiet),
    )


def compare(
    *refs: PathLike,
    output_dir: PathLike = "outputs",
    filters: list[str] | tuple[str, ...] = (),
    sort: str | None = None,
    group: bool = True,
    evaluations: bool = False,
) -> Any:
    """The `expctl compare` table as a pandas DataFrame (every metric; grouped: `x_mean`, `x_std`).

    `refs` are run ids, run directories or folders of runs (none: every run in `output_dir`);
    `filters` and `sort` are written as on the command line (`"model.dropout>0.1"`, `"-auc"`);
    `evaluations`: also a row per `expctl evaluate` sample of each run (`RUN:NAME`).
    Problems met while reading runs are given as Python warnings.
    """
    import warnings

    import pandas as pd

    from expctl.views.compare import compare as compare_runs
    from expctl.views.table import flat_columns, flat_rows

    result = compare_runs(
        [os.fspath(r) for r in refs],
        Path(output_dir),
        filters=filters,
        sort=sort,
        fmt="json",
        group=group,
        evaluations=evaluations,
        warn=lambda message: warnings.warn(message, stacklevel=3),
    )
    return pd.DataFrame(flat_rows(result.table), columns=flat_columns(result.table))


def predict(
    run: PathLike | Run,
    data: Any,
    *,
    keep: list[str] | tuple[str, ...] = (),
    output_dir: PathLike = "outputs",
) -> Any:
    """A completed run's scores on `data` as a pandas DataFrame, as `expctl predict` writes them.

    `run` is a Run, a run id, a unique prefix or a path; `data` a file path or a list of them
    (read with the run's data settings, chunk by chunk), a DataFrame with the run's feature
    columns, or a NumPy array (n_events, n_features) in the run's feature order. Columns: the
    `keep` columns, then `score` (binary, regression), `score_<class>` (multiclass) or
    `score_<head>` (multitask), one row per event in input order. BadInputError/DataError for a
    run that is not completed or data that do not fit its model.
    """
    from expctl.inference import predict_data

    path = run.path if isinstance(run, Run) else load_run(run, output_dir).path
    return predict_data(path, data, keep=keep)
