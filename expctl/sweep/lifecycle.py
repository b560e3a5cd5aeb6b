"""A sweep from start to end: check the spec, open or resume the study, run the workers, reap the
trials of dead workers, write the outputs and decide how the sweep ended.

`run_sweep` is what `expctl sweep` runs and what the Python API calls; `dry_run` is `--dry-run`.
Both report through `echo` (one line a call) and return a result; neither calls `sys.exit` nor
imports Keras here (each worker's objective does, in its own process).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from expctl.errors import BadInputError, ExpctlError, RunFailedError
from expctl.masking import mask
from expctl.runs.layout import BEST_YAML, PLOTS, SWEEP_CSV, SWEEP_YAML
from expctl.spec.sweep import LoadedSweep, load_sweep_spec
from expctl.sweep.outputs import sweep_yaml
from expctl.sweep.space import Space, check_space
from expctl.sweep.storage import StorageInfo
from expctl.sweep.workers import SweepPlan

Echo = Callable[[str], None]

#: A study name is also the sweep's directory name.
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class SweepSetup:
    """A checked sweep: the spec as run (smoke overrides applied), its space and the study name.

    `checked` is how many corner specs of the space were validated.
    """

    spec_path: str
    overrides: tuple[str, ...]
    lsweep: LoadedSweep
    space: Space
    checked: int
    study: str


def prepare_sweep(
    spec_path: str | Path,
    overrides: tuple[str, ...] | list[str] = (),
    study: str | None = None,
    smoke: bool = False,
) -> SweepSetup:
    """Load the sweep spec and check its space and study name; SpecError/BadInputError (exit 2).

    `smoke` shrinks every trial to a smoke run and a random or Bayesian search to 2 trials.
    Nothing is written.
    """
    spec_path = str(spec_path)
    overrides = tuple(overrides)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lsweep = load_sweep_spec(spec_path, overrides)
    if smoke:
        from expctl.spec.smoke import smoke_overrides

        extra = smoke_overrides(lsweep.loaded.spec)
        if lsweep.sweep.method != "grid":
            extra.append(f"sweep.trials={min(2, lsweep.sweep.n_trials)}")
        overrides = (*overrides, *extra)
        lsweep = load_sweep_spec(spec_path, overrides)
    space = Space(lsweep.sweep.space)
    checked = check_space(lsweep, space)
    name = study or lsweep.loaded.spec.name
    if not STUDY_NAME.match(name):
        raise BadInputError(
            f"--study {name!r}: letters, digits, '_', '.' or '-', at most 64 characters"
        )
    return SweepSetup(spec_path, overrides, lsweep, space, checked, name)


# ----------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class BestTrial:
    """The best complete trial: its number, objective value, parameters and run ids."""

    number: int
    value: float
    params: dict[str, Any]
    runs: list[str]


@dataclass(frozen=True)
class SweepResult:
    """How a sweep ended: what it wrote, the trial counts, the best trial, and the exit decision.

    `lines` is the summary `expctl sweep` prints. `error` is None when the budget is used and a
    trial completed; else the error to raise (`raise_for_outcome` does).
    """

    sweep_dir: Path
    metric: str
    maximize: bool
    counts: dict[str, int]
    best: BestTrial | None
    work_left: bool
    bad_input: bool
    lines: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)

    @property
    def best_spec(self) -> Path | None:
        """best.yaml: the base spec with the best trial's parameters (None if none completed)."""
        return self.sweep_dir / BEST_YAML if self.best is not None else None

    @property
    def table(self) -> Path:
        return self.sweep_dir / SWEEP_CSV

    @property
    def error(self) -> ExpctlError | None:
        """The exit decision: BadInputError (2) after a worker's bad input, RunFailedError (1)
        when trials are left (resume by running again) or none completed; None when done."""
        if self.bad_input:
            return BadInputError("a worker stopped on bad input (its message is above)")
        if self.work_left:
            return RunFailedError(
                "the study has trials left (a worker died or was stopped); "
                "run the same command again to resume it"
            )
        if not self.counts.get("COMPLETE"):
            return RunFailedError(
                f"no trial completed; see the reasons in {SWEEP_CSV} and the trial runs"
            )
        return None

    def raise_for_outcome(self) -> None:
        """Raise `error` if there is one."""
        if self.error is not None:
            raise self.error


def run_sweep(
    spec_path: str | Path,
    *,
    overrides: tuple[str, ...] | list[str] = (),
    output_dir: str | Path = "outputs",
    study: str | None = None,
    workers: int = 1,
    storage: str | None = None,
    smoke: bool = False,
    quiet: bool = False,
    echo: Echo = print,
) -> SweepResult:
    """Run (or resume) the sweep of `spec_path` under `<output_dir>/<study>` until its budget is used.

    `workers` > 1 starts spawned worker processes (their trial lines go to this process's
    stdout); `storage` is an Optuna RDB URL (default: a journal file in the sweep directory).
    `echo` gets the header line and, unless `quiet`, a line per trial. The outputs (sweep.csv,
    best.yaml, plots) are written even when a worker raises. Raises bad input (exit 2) before
    anything is written; the caller decides what to do with `SweepResult.error`.
    """
    setup = prepare_sweep(spec_path, overrides, study, smoke)
    lsweep = setup.lsweep
    plan = SweepPlan(setup.spec_path, setup.overrides, str(output_dir), setup.study, storage, quiet)
    trial_echo = _quiet if quiet else echo
    opened, info, new = _open(setup, plan)
    budget = lsweep.sweep.n_trials
    # a new grid study holds its enqueued (WAITING) points already: nothing to resume
    before = 0 if new else len(opened.get_trials(deepcopy=False))
    echo(
        f"sweep {plan.sweep_dir}: {lsweep.sweep.method}, {budget} trials, "
        f"{workers} worker{'s' if workers > 1 else ''}, storage {mask(info.url)}"
        + (f"; resuming ({before} trials recorded)" if before else "")
    )
    bad_input = False
    try:
        if workers == 1:
            from expctl.sweep.workers import run_worker

            run_worker(plan, 0, echo=trial_echo)
        else:
            from expctl.sweep.workers import run_workers

            report = run_workers(
                plan, workers, lambda: _work_left(opened, info, setup, plan), trial_echo
            )
            bad_input = report.bad_input
    finally:
        from expctl.sweep.outputs import write_outputs
        from expctl.sweep.storage import retrying

        written = retrying(lambda: write_outputs(plan.sweep_dir, opened, setup.space, lsweep))
    best = written["best"]
    result = SweepResult(
        sweep_dir=plan.sweep_dir,
        metric=lsweep.sweep.metric,
        maximize=lsweep.maximize,
        counts=written["counts"],
        best=None
        if best is None
        else BestTrial(
            best.number,
            float(best.value),
            setup.space.decode(best.params),
            list(best.user_attrs.get("runs", [])),
        ),
        work_left=_work_left(opened, info, setup, plan),
        bad_input=bad_input,
        rows=written["rows"],
        plots=written["plots"],
    )
    return _with_summary(result)


def _open(setup: SweepSetup, plan: SweepPlan) -> tuple[optuna.Study, StorageInfo, bool]:
    """Open or create the study (and whether it is new); a new one gets its grid enqueued and
    sweep.yaml written."""
    from expctl.runs import atomic_write_text
    from expctl.sweep.storage import open_storage
    from expctl.sweep.study import open_study

    info = open_storage(
        plan.storage, plan.sweep_dir
    )  # refused (bad URL, no driver): nothing written
    plan.trials_dir.mkdir(parents=True, exist_ok=True)
    study, new = open_study(setup.lsweep, info, plan.study, setup.space, plan.sweep_dir)
    if new:
        atomic_write_text(plan.sweep_dir / SWEEP_YAML, sweep_yaml(setup.lsweep))
    return study, info, new


def _work_left(study: optuna.Study, info: StorageInfo, setup: SweepSetup, plan: SweepPlan) -> bool:
    """Reap the trials of dead workers (under the sweep lock), then whether trials remain."""
    from expctl.sweep.locks import shared_across_hosts, study_lock
    from expctl.sweep.objective import on_dead_trial
    from expctl.sweep.storage import reap_dead_trials, retrying
    from expctl.sweep.study import work_left

    lsweep = setup.lsweep
    mark = on_dead_trial(plan.trials_dir, lsweep.loaded.spec.name, lsweep.sweep.repeats)
    everywhere = shared_across_hosts(info)
    with study_lock(info, plan.study, plan.sweep_dir):
        retrying(lambda: reap_dead_trials(study, info, mark, everywhere))
        return work_left(retrying(lambda: study.get_trials(deepcopy=False)), lsweep.sweep.n_trials)


def _with_summary(result: SweepResult) -> SweepResult:
    """`result` with the summary lines `expctl sweep` prints."""
    from dataclasses import replace

    counts = ", ".join(f"{n} {state}" for state, n in sorted(result.counts.items()))
    lines = [f"{sum(result.counts.values())} trials: {counts or 'none'}"]
    best = result.best
    if best is not None:
        lines.append(
            f"best trial {best.number}: {result.metric} {best.value:.6g} "
            f"(runs {', '.join(best.runs)})"
        )
        lines += [f"  {k} = {v}" for k, v in best.params.items()]
        lines.append(f"best spec: {result.best_spec}")
    lines.append(f"table: {result.table}; plots: {result.sweep_dir / PLOTS}")
    return replace(result, lines=lines)


# ------------------------------------------------------------------------------- the dry run


@dataclass(frozen=True)
class SweepEstimate:
    """`dry_run`'s findings: parameter counts over the space and the estimated wall time."""

    trials: int
    repeats: int
    checked: int
    params_min: int
    params_max: int
    trial_s: float
    total_s: float
    workers: int
    cores: int


def dry_run(
    spec_path: str | Path,
    *,
    overrides: tuple[str, ...] | list[str] = (),
    study: str | None = None,
    workers: int = 1,
    smoke: bool = False,
    echo: Echo = print,
) -> SweepEstimate:
    """Check the sweep, describe its space and estimate its time (a short timing probe trains a
    few sampled trials in memory); writes nothing. The description goes to `echo` as it is found.
    """
    from expctl.sweep.probe import probe
    from expctl.sweep.workers import cpu_count

    setup = prepare_sweep(spec_path, overrides, study, smoke)
    lsweep, space = setup.lsweep, setup.space
    sweep = lsweep.sweep
    echo(
        f"sweep of {lsweep.doc.source}: method {sweep.method}, {sweep.n_trials} trials"
        + (f" x {sweep.repeats} seeds" if sweep.repeats > 1 else "")
        + f", {'maximise' if lsweep.maximize else 'minimise'} {sweep.metric} (validation, best epoch)"
        + f", pruner {sweep.pruner}, seed {sweep.seed}"
    )
    echo("space:")
    width = max(len(k) for k in space.keys)
    for dim in space.dims:
        echo(f"  {dim.key:<{width}}  {dim.describe()}")
    echo(f"checked {setup.checked} corner specs of the space: all valid")
    result = probe(lsweep, space)
    if result.params_min == result.params_max:
        echo(f"model parameters: {result.params_min:,}")
    else:
        echo(
            f"model parameters: {result.params_min:,} to {result.params_max:,} "
            f"(over {result.models} corners of the space)"
        )
    cores = cpu_count()
    total = result.total_s(sweep.n_trials, sweep.repeats, workers, cores)
    echo(
        f"timing probe ({result.points} sampled trials, 2 epochs): {result.epoch_s:.2f} s/epoch, "
        f"{result.overhead_s:.1f} s fixed per trial -> {result.trial_s:.1f} s per trial of "
        f"{lsweep.loaded.spec.train.epochs} epochs"
    )
    echo(
        f"estimated total: {hms(total)} with {workers} worker{'s' if workers > 1 else ''} on "
        f"{cores} cores (upper bound: no early stopping or pruning)"
    )
    return SweepEstimate(
        trials=sweep.n_trials,
        repeats=sweep.repeats,
        checked=setup.checked,
        params_min=result.params_min,
        params_max=result.params_max,
        trial_s=result.trial_s,
        total_s=total,
        workers=workers,
        cores=cores,
    )


def hms(seconds: float) -> str:
    """`1h02m03s`, `2m03s` or `3s`."""
    seconds = round(seconds)
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


__all__ = [
    "STUDY_NAME",
    "BestTrial",
    "SweepEstimate",
    "SweepResult",
    "SweepSetup",
    "dry_run",
    "hms",
    "prepare_sweep",
    "run_sweep",
]
