"""The study: creating or resuming it, the trial budget, and the loop every worker runs.

The loop holds the study lock (expctl.sweep.locks: this machine's workers and, on PostgreSQL,
SQLite or a journal file, every host's) while it reaps dead workers' trials, checks the budget and
asks Optuna for a trial, so two workers never both take the last trial of the budget; creating the
study and enqueuing its grid happen under that lock too, so the grid is enqueued once. Trials whose
parameters are already fixed (grid points, retries of a dead worker's trial) wait in the study as
WAITING trials; `ask` hands them out first.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, Trial, TrialState

from expctl.errors import BadInputError, SpecError
from expctl.spec import resolved_dict
from expctl.spec.sweep import LoadedSweep
from expctl.sweep.locks import shared_across_hosts, study_lock
from expctl.sweep.pruners import make_pruner
from expctl.sweep.samplers import SamplerContext, make_sampler
from expctl.sweep.space import Space
from expctl.sweep.storage import (
    StorageInfo,
    reap_dead_trials,
    retrying,
    transient_errors,
    worker_stamp,
)

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    """How one trial ended: COMPLETE with a value, PRUNED or FAIL with a reason."""

    state: TrialState
    value: float | None = None
    reason: str | None = None


class FatalSweepError(BadInputError):
    """A problem every trial would hit (unreadable data, a metric the runs do not log): stop."""


def fingerprint(lsweep: LoadedSweep) -> str:
    """Hash of what defines the study (resolved base spec and sweep block) to refuse a changed spec.

    `trials` is left out: raising it and re-running the command extends a finished study.
    """
    block = lsweep.sweep.model_dump(exclude={"trials"})
    # masked: a password (tracking.mlflow) is neither part of the identity nor stored as a hash
    data = {"spec": resolved_dict(lsweep.loaded.spec, masked=True), "sweep": block}
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_study(lsweep: LoadedSweep, info: StorageInfo, name: str, worker: int = 0) -> optuna.Study:
    """Open the study with this worker's sampler and the sweep's pruner (creating it if needed)."""
    sweep = lsweep.sweep
    sampler = make_sampler(sweep.method, SamplerContext(sweep.seed, sweep.n_trials, worker))
    pruner = make_pruner(sweep.pruner, lsweep.loaded.spec.train.epochs)
    direction = "maximize" if lsweep.maximize else "minimize"
    try:
        study = optuna.create_study(
            storage=info.storage,
            study_name=name,
            sampler=sampler,
            pruner=pruner,
            direction=direction,
            load_if_exists=True,
        )
    except ValueError as exc:
        raise SpecError(f"study {name}: {exc}") from None
    if study.direction.name.lower() != direction:
        raise SpecError(
            f"study {name} in {info.url} exists with direction {study.direction.name.lower()}; "
            f"this spec asks {direction}: use another --study or --output-dir"
        )
    return study


def open_study(
    lsweep: LoadedSweep, info: StorageInfo, name: str, space: Space, sweep_dir: Path
) -> tuple[optuna.Study, bool]:
    """Open or create the study, and (under the study lock) record the spec's fingerprint and
    enqueue a grid once; refuse a study made from another spec. Returns it and whether it is new.
    """
    with study_lock(info, name, sweep_dir):
        study = retrying(lambda: load_study(lsweep, info, name))
        return study, retrying(lambda: init_study(study, lsweep, space))


def init_study(study: optuna.Study, lsweep: LoadedSweep, space: Space) -> bool:
    """Record the spec's fingerprint and enqueue a grid, once; refuse a study made from another spec.

    Returns whether the study is new. Call it under the study lock (`open_study` does).
    """
    mark = fingerprint(lsweep)
    attrs = study.user_attrs
    if "expctl_fingerprint" in attrs:
        if attrs["expctl_fingerprint"] != mark:
            raise SpecError(
                f"study {study.study_name} was started from a different spec or sweep "
                f"(fingerprint {attrs['expctl_fingerprint']}, now {mark}); "
                "resume it with the same spec, or use another --study or --output-dir"
            )
        return False
    if lsweep.sweep.method == "grid":
        for params in space.grid():
            study.enqueue_trial(params, skip_if_exists=True)
    study.set_user_attr("expctl_fingerprint", mark)
    study.set_user_attr("expctl_spec", lsweep.doc.source)
    study.set_user_attr("expctl_metric", lsweep.sweep.metric)
    return True


def budget_used(trials: list[FrozenTrial]) -> int:
    """Trials that count against `sweep.trials`: every trial except the retries of failed ones."""
    return sum(1 for t in trials if "failed_trial" not in t.system_attrs)


def work_left(trials: list[FrozenTrial], budget: int) -> bool:
    waiting = any(t.state == TrialState.WAITING for t in trials)
    return waiting or budget_used(trials) < budget


Evaluate = Callable[[Trial, dict[str, Any]], Outcome]


def worker_loop(
    study: optuna.Study,
    info: StorageInfo,
    space: Space,
    budget: int,
    sweep_dir: Path,
    evaluate: Evaluate,
    on_dead: Callable[[FrozenTrial, str], None] = lambda t, r: None,
    echo: Echo = lambda _: None,
    label: str = "",
) -> int:
    """Ask, evaluate and tell trials until the budget is used; returns how many this worker ran."""
    from expctl.progress import Progress

    done = 0
    progress = Progress(budget, already=budget_used(study.get_trials(deepcopy=False)))
    everywhere = shared_across_hosts(info)
    while True:
        with study_lock(info, study.study_name, sweep_dir):
            for number in retrying(lambda: reap_dead_trials(study, info, on_dead, everywhere)):
                echo(f"trial {number}{label}: worker died; marked FAIL and queued again")
            if not work_left(retrying(lambda: study.get_trials(deepcopy=False)), budget):
                return done
            with warnings.catch_warnings():
                # we run the heartbeat thread ourselves (see _heartbeat), as optimize() would
                warnings.filterwarnings("ignore", message="Heartbeat of storage")
                trial = retrying(study.ask)
            retrying(partial(_stamp, trial))
            params = retrying(partial(space.suggest, trial))
        with _heartbeat(trial, study):
            try:
                outcome = evaluate(trial, params)
            except BaseException as exc:
                reason = f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
                retrying(partial(_tell, study, trial, Outcome(TrialState.FAIL, reason=reason)))
                raise
        retrying(partial(_tell, study, trial, outcome))
        done += 1
        value = "" if outcome.value is None else f" {outcome.value:.6g}"
        why = f" ({outcome.reason})" if outcome.reason else ""
        finished = sum(
            1
            for t in retrying(lambda: study.get_trials(deepcopy=False))
            if t.state.is_finished() and "failed_trial" not in t.system_attrs
        )
        echo(f"trial {trial.number}{label}: {outcome.state.name}{value}{why}")
        echo(f"  {progress.line(finished)}")


def _stamp(trial: Trial) -> None:
    """Record this worker with the trial (a retry inherits the dead trial's attributes: reset)."""
    trial.set_user_attr("worker", worker_stamp())
    if "runs" in trial.user_attrs:
        trial.set_user_attr("runs", [])
        trial.set_user_attr("error", None)


def _tell(study: optuna.Study, trial: Trial, outcome: Outcome) -> None:
    if outcome.reason:
        trial.set_user_attr("error", outcome.reason)
    if outcome.state == TrialState.COMPLETE:
        assert outcome.value is not None and math.isfinite(outcome.value)
        study.tell(trial, outcome.value)
    else:
        study.tell(trial, state=outcome.state)


def _heartbeat(trial: Trial, study: optuna.Study) -> Any:
    """The trial's heartbeat while it trains (RDB storages with a heartbeat; a no-op otherwise)."""
    return Heartbeat(trial._trial_id, study._storage)


class Heartbeat:
    """Records a trial's heartbeat every interval in a thread, through database outages.

    Optuna's own heartbeat thread dies at the first beat that cannot reach the database (a server
    restart), printing a traceback and leaving the trial without heartbeats, so that other hosts
    would later fail it as stale although it still trains. Here a beat that fails for a transient
    reason (the errors `expctl.sweep.storage.retrying` waits out) is skipped and the next one, an
    interval later, tries again.
    """

    def __init__(self, trial_id: int, storage: Any) -> None:
        self.trial_id, self.storage = trial_id, storage
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.missed = 0

    def __enter__(self) -> Heartbeat:
        from optuna.storages._heartbeat import is_heartbeat_enabled

        if is_heartbeat_enabled(self.storage):
            self.thread = threading.Thread(target=self._beat, name="expctl-heartbeat", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()

    def _beat(self) -> None:
        interval = self.storage.get_heartbeat_interval()
        while True:
            try:
                self.storage.record_heartbeat(self.trial_id)
            except transient_errors():
                self.missed += 1  # the database is away: the next beat tries again
            if self.stop.wait(timeout=interval):
                return
