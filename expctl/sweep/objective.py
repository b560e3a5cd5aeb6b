"""Train one trial: its spec, `repeats` runs under trials/, and the objective read from each run.

The objective is the validation metric of the run's history at its best epoch (the epoch early
stopping restored, else the epoch of lowest validation loss; see `RunView.value_at_best`),
averaged over repeats. Test metrics are never read: choosing on them would leak the test set
into the choice.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from optuna.trial import Trial, TrialState

from expctl.errors import DataError, RunFailedError, SpecError
from expctl.runs import MissingColumnError, RunView, atomic_write_json, layout
from expctl.spec.sweep import LoadedSweep
from expctl.sweep.space import trial_loaded
from expctl.sweep.storage import retrying
from expctl.sweep.study import FatalSweepError, Outcome

Echo = Callable[[str], None]


def run_name(base: str, number: int, repeat: int, repeats: int) -> str:
    """`<name>-t0007` (and `-r1`, ... for repeats): unique within the sweep, at most 64 characters."""
    suffix = f"-t{number:04d}" + (f"-r{repeat}" if repeats > 1 else "")
    return base[: 64 - len(suffix)] + suffix


def find_runs(trials_dir: Path, name: str) -> list[Path]:
    """The run directories of a run name under trials/ (ids are `<time>-<name>-<6 hex>`)."""
    if not trials_dir.is_dir():
        return []
    return sorted(p for p in trials_dir.glob(f"*-{name}-??????") if p.is_dir())


def objective_value(run_dir: Path, metric: str) -> float:
    """`metric` of the run's history at its best epoch (the last epoch if none is recorded).

    FatalSweepError when the history has no such column: every trial would miss it.
    """
    try:
        return RunView(run_dir).value_at_best(metric)
    except MissingColumnError as exc:
        available = [c for c in exc.columns if c.startswith("val_")]
        raise FatalSweepError(
            f"sweep.metric: {metric!r} is not in {layout.HISTORY} of {run_dir.name}; "
            f"validation metrics there: {', '.join(available) or 'none'}"
        ) from None


def mark_run(run_dir: Path, status: str, reason: str) -> None:
    """Rewrite a trial run's status (pruned, or failed when its worker died) with the reason.

    `pruned` is a sweep's status, not one of a run's own (`expctl.runs.STATUSES`), so it is
    written over the recorded status rather than through `RunDir.finish`.
    """
    view = RunView(run_dir)
    data = {**view.recorded_status, "status": status, "error": reason}
    atomic_write_json(view.file(layout.STATUS), data)


def make_evaluate(
    lsweep: LoadedSweep, trials_dir: Path, echo: Echo = lambda _: None
) -> Callable[[Trial, dict[str, Any]], Outcome]:
    """The function a worker calls for each trial (imports the runner, hence TensorFlow)."""
    from expctl.runner import RunHooks, configure_keras, run
    from expctl.runs.checkpoint import CheckpointPolicy

    sweep = lsweep.sweep
    spec = lsweep.loaded.spec
    configure_keras(spec.seed)  # imports TensorFlow with its start-up chatter silenced
    import tensorflow as tf

    from expctl.sweep.callback import PruningCallback

    # one process trains many models: TensorFlow's "retracing" warnings say nothing useful here
    tf.get_logger().setLevel("ERROR")
    use_pruner = sweep.pruner != "none"

    def evaluate(trial: Trial, params: dict[str, Any]) -> Outcome:
        values = []
        runs: list[str] = []
        for r in range(sweep.repeats):
            name = run_name(spec.name, trial.number, r, sweep.repeats)
            try:
                loaded = trial_loaded(lsweep, params, seed=spec.seed + r, name=name)
            except SpecError as exc:
                return Outcome(TrialState.FAIL, reason=f"invalid trial spec: {exc.message}")
            pruning = PruningCallback(trial, sweep.metric, enabled=use_pruner and r == 0)
            try:
                # a trial whose worker dies is re-run from the start: no checkpoints needed
                hooks = RunHooks(
                    callbacks=[pruning], plots=sweep.plots, checkpoint=CheckpointPolicy.parse(0)
                )
                outcome = run(loaded, trials_dir, hooks=hooks)
            except DataError as exc:
                raise FatalSweepError(exc.message) from None
            except RunFailedError as exc:
                runs += [p.name for p in find_runs(trials_dir, name)]
                retrying(partial(trial.set_user_attr, "runs", list(runs)))
                return Outcome(TrialState.FAIL, reason=exc.message)
            runs.append(outcome.run_dir.name)
            retrying(partial(trial.set_user_attr, "runs", list(runs)))
            if pruning.pruned_at is not None:
                reason = f"{pruning.reason} ({sweep.pruner} pruner)"
                mark_run(outcome.run_dir, "pruned", reason)
                return Outcome(TrialState.PRUNED, reason=reason)
            value = objective_value(outcome.run_dir, sweep.metric)
            if not math.isfinite(value):
                return Outcome(
                    TrialState.FAIL, reason=f"{sweep.metric} is {value} at the best epoch"
                )
            values.append(value)
        return Outcome(TrialState.COMPLETE, value=statistics.fmean(values))

    return evaluate


def on_dead_trial(trials_dir: Path, base_name: str, repeats: int) -> Callable[[Any, str], None]:
    """Mark the run directories a dead worker left `running` as failed, with the reason."""

    def mark(trial: Any, reason: str) -> None:
        for r in range(repeats):
            for path in find_runs(trials_dir, run_name(base_name, trial.number, r, repeats)):
                # the recorded status: a dead worker's run is `running` there (`crashed` live)
                if RunView(path).recorded_status.get("status", "running") == "running":
                    mark_run(path, "failed", reason)

    return mark
