"""Running experiments: one run (`run`), N seeds of it (`run_repeated`), continuing an
interrupted run (`expctl.runner.resume`) and re-running its first epochs (`expctl.runner.verify`).

    pipeline.py  spec -> data -> model -> train -> evaluate -> run directory, in one screen
    repeat.py    `--repeat`: N seeds, their spread, and the end-of-run summary lines
    resume.py    continue from the last intact checkpoint, in the run's own directory
    verify.py    re-run the first epochs from the stored spec, compare history and weights
"""

from __future__ import annotations

from expctl.runner.pipeline import (
    NO_HOOKS,
    Echo,
    RunHooks,
    RunOutcome,
    after_run,
    check_against_data,
    record_outcome,
    run,
    train_and_evaluate,
)
from expctl.runner.repeat import RepeatOutcome, run_repeated, summary_lines
from expctl.training.setup import configure_keras, native_stderr_silenced

__all__ = [
    "NO_HOOKS",
    "Echo",
    "RepeatOutcome",
    "RunHooks",
    "RunOutcome",
    "after_run",
    "check_against_data",
    "configure_keras",
    "native_stderr_silenced",
    "record_outcome",
    "run",
    "run_repeated",
    "summary_lines",
    "train_and_evaluate",
]
