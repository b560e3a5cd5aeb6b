"""What a sweep leaves in its directory: sweep.csv, best.yaml and plots/.

Written from the study (so from every worker's trials, on every machine) by whoever finishes; all
files are replaced atomically, so re-running or resuming a sweep refreshes them.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from expctl.masking import mask, mask_data
from expctl.runs import atomic_save, atomic_write_text
from expctl.runs.layout import BEST_YAML, PLOTS, SWEEP_CSV
from expctl.spec.sweep import LoadedSweep
from expctl.spec.yamlio import dump_yaml
from expctl.sweep.space import Space, apply, trial_spec

FIXED_COLUMNS = ("trial", "state", "value", "duration_s", "run", "host")

# a sweep directory's own files are named in expctl.runs.layout (its trial runs, under trials/,
# are run directories; see SweepPlan); re-exported here for the sweep's modules


def _duration(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return round((trial.datetime_complete - trial.datetime_start).total_seconds(), 3)


def _cell(value: Any) -> Any:
    cell = json.dumps(value) if isinstance(value, list | dict) else value
    return mask(cell) if isinstance(cell, str) else cell  # a swept URL never shows its password


def trial_rows(study: optuna.Study, space: Space) -> list[dict[str, Any]]:
    """One row per trial: number, Optuna state, value, duration, run id(s), the host that trained
    it (several machines can share a study; its run directories are on that host), one column
    per key."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        params = space.decode(trial.params)
        row: dict[str, Any] = {
            "trial": trial.number,
            "state": trial.state.name,
            "value": trial.value,
            "duration_s": _duration(trial),
            "run": ";".join(trial.user_attrs.get("runs", [])),
            "host": (trial.user_attrs.get("worker") or {}).get("host"),
        }
        row.update({key: _cell(params.get(key)) for key in space.keys})
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, Any]], space: Space) -> None:
    import pandas as pd

    frame = pd.DataFrame(rows, columns=[*FIXED_COLUMNS, *space.keys])
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    atomic_write_text(path, buffer.getvalue())


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    return study.best_trial


def best_yaml(lsweep: LoadedSweep, space: Space, trial: FrozenTrial, sweep_id: str) -> str:
    """A runnable spec: the base spec with the best trial's parameters, without `sweep:`."""
    params = space.decode(trial.params)
    data = apply(lsweep.base, params)
    source = data.get("data", {})
    path = source.get("path") if isinstance(source, dict) else None
    if isinstance(path, str) and not Path(path).is_absolute():
        # best.yaml sits in the sweep directory: point a relative data file at where it was found
        candidate = lsweep.loaded.base_dir / path
        if candidate.exists():
            source["path"] = str(candidate)
    trial_spec(lsweep, params)  # the file written is a valid spec
    metric = lsweep.sweep.metric
    header = (
        f"# best trial {trial.number} of sweep {sweep_id} ({lsweep.doc.source}): "
        f"{metric} {trial.value:.6g} (validation, at the best epoch)\n"
        f"# runs: {', '.join(trial.user_attrs.get('runs', []))}\n"
        f"# parameters: {json.dumps(params)}\n"
    )
    # an MLflow URI's password is written as *** (exporting takes it from the environment)
    return mask(header) + dump_yaml(mask_data(data))


def write_plots(
    plots_dir: Path, study: optuna.Study, space: Space, lsweep: LoadedSweep, title: str
) -> list[str]:
    """Optimisation history, importances, parallel coordinates and slices; names of files written."""
    from expctl.plots import sweep as sweep_plots

    sweep = lsweep.sweep
    plots_dir.mkdir(parents=True, exist_ok=True)
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    written = []

    def save(name: str, figure: Any) -> None:
        atomic_save(plots_dir / name, lambda tmp: figure.savefig(tmp, dpi=120))
        written.append(name)

    values = [t.value if t.value is not None else math.nan for t in trials]
    save(
        "optimization_history.png",
        sweep_plots.optimization_history(
            [t.number for t in trials],
            values,
            [t.state.name for t in trials],
            sweep.metric,
            lsweep.maximize,
            title=f"{title}: optimisation history",
        ),
    )
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if len(complete) < 2:
        return written
    log = {d.key: bool(getattr(d.spec, "log", False)) for d in space.dims}
    columns = {k: [_cell(space.decode(t.params)[k]) for t in complete] for k in space.keys}
    cvalues = [float(t.value) for t in complete]  # type: ignore[arg-type]
    save(
        "parallel_coordinates.png",
        sweep_plots.parallel_coordinates(
            columns, cvalues, sweep.metric, log, title=f"{title}: parallel coordinates"
        ),
    )
    save(
        "slices.png",
        sweep_plots.slices(columns, cvalues, sweep.metric, log, title=f"{title}: slices"),
    )
    importances = param_importances(study, sweep.seed)
    if importances:
        save(
            "param_importances.png",
            sweep_plots.param_importances(
                importances, sweep.metric, title=f"{title}: parameter importances"
            ),
        )
    return written


def param_importances(study: optuna.Study, seed: int) -> dict[str, float]:
    """fANOVA importances of the complete trials; empty when they cannot be computed."""
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return dict(
                get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
            )
    except (ValueError, RuntimeError):
        return {}


def write_outputs(
    sweep_dir: Path, study: optuna.Study, space: Space, lsweep: LoadedSweep
) -> dict[str, Any]:
    """Write sweep.csv, best.yaml (when a trial completed) and the plots; a summary of the study."""
    rows = trial_rows(study, space)
    write_csv(sweep_dir / SWEEP_CSV, rows, space)
    best = best_trial(study)
    if best is not None:
        atomic_write_text(sweep_dir / BEST_YAML, best_yaml(lsweep, space, best, sweep_dir.name))
    plots = write_plots(sweep_dir / PLOTS, study, space, lsweep, title=sweep_dir.name)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return {"counts": counts, "best": best, "plots": plots, "rows": rows}


def sweep_yaml(lsweep: LoadedSweep) -> str:
    """The sweep spec as run (base spec with defaults, and the sweep block), for the record;
    passwords in URLs are `***`."""
    from expctl.spec import resolved_dict

    sweep = mask_data(lsweep.sweep.model_dump(mode="python"))
    return dump_yaml({**resolved_dict(lsweep.loaded.spec, masked=True), "sweep": sweep})
