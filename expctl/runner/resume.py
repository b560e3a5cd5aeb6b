"""Continue an interrupted or crashed run from its last intact checkpoint, in its own directory.

Everything is checked before anything is written: the run's status, its stored spec (validated
again), its data (prepared again and compared by fingerprint) and the checkpoint. `expctl.verify`
uses the same checks (`stored_spec`, `same_data`) before re-running a run's first epochs.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expctl import interrupts
from expctl.data import Dataset, prepare
from expctl.data.fingerprint import data_fingerprint
from expctl.errors import BadInputError, SpecError
from expctl.runner.pipeline import (
    Echo,
    RunHooks,
    RunOutcome,
    after_run,
    check_against_data,
    record_outcome,
    train_and_evaluate,
)
from expctl.runs import RunDir, RunView, layout
from expctl.runs.store import live_status, utc_now
from expctl.spec import LoadedSpec, load_spec
from expctl.training.setup import configure_keras
from expctl.version import __version__

if TYPE_CHECKING:
    from expctl.training.checkpoint import Resumed

#: Statuses `expctl resume` continues (`crashed`: still `running` but its process is gone).
RESUMABLE = ("interrupted", "crashed")


def _quiet(_: str) -> None:
    return None


def stored_spec(view: RunView) -> tuple[LoadedSpec, dict[str, Any]]:
    """The run's stored spec, validated again, with relative data paths resolved as at run time;
    and its data record. BadInputError (exit 2) if either is unusable."""
    try:
        loaded = load_spec(view.file(layout.SPEC))
    except SpecError as exc:
        raise SpecError(f"the run's stored spec no longer validates: {exc.message}") from None
    record = view.data
    if record is None:
        why = view.warnings[-1] if view.warnings else f"{view.file(layout.DATA)}: missing"
        raise BadInputError(f"cannot read the run's data record: {why}")
    spec_dir = Path(str(record.get("spec_dir") or view.path))
    if not spec_dir.is_dir():
        spec_dir = view.path
    return LoadedSpec(spec=loaded.spec, source=loaded.source, base_dir=spec_dir), record


def same_data(loaded: LoadedSpec, record: dict[str, Any], run_path: Path) -> Dataset:
    """The dataset prepared again from the stored spec; BadInputError if it is not the one trained on."""
    spec = loaded.spec
    streamed = "streamed" in record  # as the run was, whatever this machine's memory
    dataset = prepare(spec.data, loaded.base_dir, spec.seed, spec.heads, stream=streamed)
    check_against_data(loaded, dataset)
    recorded = record.get("fingerprint")
    if not recorded:
        raise BadInputError(
            f"{run_path / layout.DATA}: no data fingerprint recorded (a run from an older expctl); "
            "cannot check that the data are the same"
        )
    now = data_fingerprint(dataset)
    if now != recorded:
        raise BadInputError(
            f"the data no longer match the run: {spec.data.source} data prepared from "
            f"{run_path / layout.SPEC} give fingerprint {now[:19]}..., the run recorded "
            f"{recorded[:19]}... in {layout.DATA} (the data file or generator changed)"
        )
    return dataset


@contextlib.contextmanager
def _run_lock(run_path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the run directory: one resume at a time (released on exit/kill)."""
    import fcntl

    fd = os.open(run_path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BadInputError(
                f"{run_path}: another expctl process is resuming this run"
            ) from None
        yield
    finally:
        os.close(fd)


def resume(run_path: Path, echo: Echo = _quiet, warn: Echo = _quiet) -> RunOutcome:
    """Continue an interrupted or crashed run from its last intact checkpoint, in its directory.

    Everything is checked before anything is written (BadInputError, exit 2): the status, the
    stored spec, the data (by fingerprint) and the checkpoint (checksums, then a safe-mode load;
    a damaged latest checkpoint falls back to the previous one, with a `warn` line). Then the
    run is `running` again and ends as a fresh run would (completed, diverged, failed,
    interrupted); its status records `resumed_from_epoch`.
    """
    with interrupts.handled(), _run_lock(Path(run_path)):
        return _resume(Path(run_path), echo, warn)


def _open_resumable(run_path: Path) -> tuple[RunDir, str]:
    """The run directory and its live state; BadInputError unless it is interrupted or crashed."""
    try:
        run_dir = RunDir.open(run_path)
    except ValueError as exc:
        raise BadInputError(f"cannot read the run's status: {exc}") from None
    status = live_status(run_dir.status)
    state = status.get("status")
    if state not in RESUMABLE:
        why = {
            "running": f"it is still running (pid {status.get('pid')} on {status.get('host')})",
            "completed": "it completed",
        }.get(str(state), f"its status is {state}")
        raise BadInputError(
            f"{run_path}: cannot resume: {why}; only an interrupted or crashed run can be resumed"
        )
    return run_dir, str(state)


def _resume(run_path: Path, echo: Echo, warn: Echo) -> RunOutcome:
    from expctl.runs.checkpoint import LATEST, STATE, CheckpointPolicy, candidates, remove_leftovers

    run_dir, state = _open_resumable(run_path)
    loaded, record = stored_spec(RunView(run_path))
    spec = loaded.spec
    dataset = same_data(loaded, record, run_path)
    if spec.tracking.mlflow is not None:
        from expctl.export import require_mlflow

        # the stored URI's password is masked: found in the environment, or refused, now
        require_mlflow(spec.tracking.mlflow)
    found = candidates(run_path, warn)
    if not found:
        raise BadInputError(
            f"{run_path}: no intact checkpoint to resume from ({layout.CHECKPOINTS}/)"
        )
    configure_keras(spec.seed, deterministic=not spec.train.jit_compile)
    resumed, used = _load_first(found, warn)
    if used.source != STATE or used.model_path.name != LATEST:
        warn(
            f"the latest checkpoint is unusable; resuming from {used.model_path.name} "
            f"(epoch {resumed.epoch})"
        )
    try:
        policy = CheckpointPolicy.parse(resumed.state.get("checkpoint_every", "1"))
    except ValueError:
        policy = None
    previous_s = run_dir.status.get("duration_s")
    if not isinstance(previous_s, int | float):
        previous_s = sum(float(r.get("epoch_time_s", 0.0)) for r in resumed.state.get("rows", []))
    started = time.perf_counter() - float(previous_s)

    def body() -> RunOutcome:
        interrupts.check()  # a signal held since the restart is recorded now
        rows = resumed.state.get("rows", [])
        if rows:
            layout.write_history(run_dir.file(layout.HISTORY), rows)
        hooks = RunHooks(checkpoint=policy)
        return train_and_evaluate(loaded, dataset, run_dir, started, echo, hooks, resumed)

    # held from the restart on, so a signal cannot leave the run `running`
    with interrupts.deferred():
        remove_leftovers(run_path)  # half-written checkpoint files of the process that died
        run_dir.restart(
            __version__,
            resumed_from_epoch=resumed.epoch,
            resumed_at=utc_now(),
            resumed_status=state,
        )
        echo(
            f"run {run_dir.id}: resuming after epoch {resumed.epoch} of {spec.train.epochs} "
            f"(was {state}; {layout.CHECKPOINTS}/{used.model_path.name})"
        )
        outcome = record_outcome(run_dir, started, body)
    after_run(run_dir.path, spec, echo)
    return outcome


def _load_first(found: Sequence[Any], warn: Echo) -> tuple[Resumed, Any]:
    """The first checkpoint of `found` that loads (checked, safe mode); the others are warned of."""
    from expctl.training.checkpoint import load_resumed

    problems = []
    for checkpoint in found:
        try:
            return load_resumed(
                checkpoint.state, checkpoint.model_path, checkpoint.best_path
            ), checkpoint
        except (BadInputError, OSError, ValueError) as exc:
            message = exc.message if isinstance(exc, BadInputError) else str(exc)
            warn(f"{checkpoint.model_path}: cannot be loaded ({message}); skipped")
            problems.append(message)
    raise BadInputError("no checkpoint could be loaded: " + "; ".join(problems))


__all__ = ["RESUMABLE", "resume", "same_data", "stored_spec"]
