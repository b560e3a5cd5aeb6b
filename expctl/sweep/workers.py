"""Worker processes: each opens the study and runs the trial loop until the budget is used.

Workers are spawned, not forked: TensorFlow's runtime is not fork-safe. Each sets its TensorFlow
thread pools to its share of the cores *before* TensorFlow is imported, so N workers do not each
start a pool as large as the machine.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from expctl.runs.layout import SWEEP_TRIALS

Echo = Callable[[str], None]


@dataclass(frozen=True)
class SweepPlan:
    """Everything a worker needs to rebuild the sweep in its own process (picklable)."""

    spec_path: str
    overrides: tuple[str, ...]
    output_dir: str
    study: str
    storage: str | None = None
    quiet: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @property
    def sweep_dir(self) -> Path:
        return Path(self.output_dir) / self.study

    @property
    def trials_dir(self) -> Path:
        return self.sweep_dir / SWEEP_TRIALS


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def thread_env(workers: int) -> dict[str, str]:
    """TensorFlow's thread pools for one of `workers` processes: its share of the cores."""
    share = max(1, cpu_count() // workers)
    return {
        "TF_NUM_INTRAOP_THREADS": str(share),
        "TF_NUM_INTEROP_THREADS": str(min(2, share)),
        "OMP_NUM_THREADS": str(share),
    }


def run_worker(plan: SweepPlan, index: int = 0, echo: Echo = print) -> int:
    """Open the study and run trials until none are left; returns how many this worker ran."""
    import warnings

    import optuna

    from expctl.spec.sweep import load_sweep_spec
    from expctl.sweep.objective import make_evaluate, on_dead_trial
    from expctl.sweep.space import Space
    from expctl.sweep.storage import open_storage
    from expctl.sweep.study import load_study, worker_loop

    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lsweep = load_sweep_spec(plan.spec_path, plan.overrides)
    space = Space(lsweep.sweep.space)
    info = open_storage(plan.storage, plan.sweep_dir)
    study = load_study(lsweep, info, plan.study, worker=index)
    evaluate = make_evaluate(lsweep, plan.trials_dir)
    label = f" [worker {index}]"
    return worker_loop(
        study,
        info,
        space,
        lsweep.sweep.n_trials,
        plan.sweep_dir,
        evaluate,
        on_dead=on_dead_trial(plan.trials_dir, lsweep.loaded.spec.name, lsweep.sweep.repeats),
        echo=(lambda _: None) if plan.quiet else echo,
        label=label,
    )


def worker_main(plan: SweepPlan, index: int) -> None:
    """Entry point of a spawned worker process (exit code 2 for bad input, 1 for other errors)."""
    os.environ.update(plan.env)  # before TensorFlow is imported anywhere in this process
    from expctl.errors import ExpctlError

    try:
        run_worker(plan, index, echo=lambda line: print(line, flush=True))
    except ExpctlError as exc:
        print(f"error [worker {index}]: {exc.message}", flush=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


@dataclass
class WorkerReport:
    """How the worker processes ended: exit codes of each process started, in order."""

    exit_codes: list[int] = field(default_factory=list)

    @property
    def died(self) -> int:
        return sum(1 for c in self.exit_codes if c < 0)

    @property
    def bad_input(self) -> bool:
        return 2 in self.exit_codes


def run_workers(
    plan: SweepPlan,
    workers: int,
    work_left: Callable[[], bool],
    echo: Echo = print,
    poll_s: float = 0.5,
) -> WorkerReport:
    """Start `workers` spawned processes; replace one killed by a signal while work is left.

    At most `workers` replacements are started, so a trial that kills every worker cannot loop.
    """
    ctx = mp.get_context("spawn")
    plan = _with_env(plan, thread_env(workers))
    report = WorkerReport()
    procs: dict[int, mp.process.BaseProcess] = {}
    replacements = 0

    def start(index: int) -> None:
        proc = ctx.Process(target=worker_main, args=(plan, index), name=f"expctl-sweep-{index}")
        proc.start()
        procs[index] = proc

    for index in range(workers):
        start(index)
    try:
        while procs:
            time.sleep(poll_s)
            for index, proc in list(procs.items()):
                if proc.is_alive():
                    continue
                proc.join()
                code = proc.exitcode if proc.exitcode is not None else 1
                report.exit_codes.append(code)
                del procs[index]
                if code < 0:
                    echo(f"worker {index} (pid {proc.pid}) was killed by signal {-code}")
                    if replacements < workers and work_left():
                        replacements += 1
                        echo(f"starting a replacement for worker {index}")
                        start(index)
    except KeyboardInterrupt:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            proc.join()
        raise
    return report


def _with_env(plan: SweepPlan, env: dict[str, str]) -> SweepPlan:
    from dataclasses import replace

    return replace(plan, env={**env, **plan.env})
