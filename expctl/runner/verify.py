"""Re-run a run's first epochs from its stored spec and compare them with what it recorded.

Training goes to a temporary directory (the run is not touched). Every history column but the
epoch time is compared exactly, then the sha256 of the weights after each epoch (recorded with
the run's checkpoints).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError
from expctl.progress import progress_line
from expctl.runner.pipeline import Echo
from expctl.runner.resume import same_data, stored_spec
from expctl.runs import RunView, layout
from expctl.training.setup import configure_keras

#: History columns that `verify` does not compare (wall-clock times differ on every run).
UNCOMPARED_COLUMNS = ("epoch_time_s",)


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Divergence:
    """Where a re-run first differs from the recorded run."""

    epoch: int
    column: str
    recorded: Any
    rerun: Any

    def __str__(self) -> str:
        return f"epoch {self.epoch}, {self.column}: recorded {self.recorded}, re-run {self.rerun}"


@dataclass(frozen=True)
class VerifyReport:
    """What `verify` compared: how many epochs, and every difference found (none: `ok`)."""

    epochs: int
    divergences: list[Divergence]
    #: False when the run recorded no weight digests (checkpoints off, or an older expctl)
    weights_compared: bool

    @property
    def ok(self) -> bool:
        return not self.divergences


def _same_value(recorded: float | None, value: float | None) -> bool:
    """Exactly equal, both NaN, or both absent (an empty history cell reads as NaN)."""
    if value is None:
        return recorded is None or math.isnan(recorded)
    if recorded is None:
        return False
    return recorded == float(value) or (math.isnan(recorded) and math.isnan(float(value)))


def _recorded_history(view: RunView) -> list[dict[str, float]]:
    """The run's history rows; BadInputError when it cannot be read."""
    rows = view.history
    if not rows and view.warnings:
        raise BadInputError(f"cannot read the history: {view.warnings[-1]}")
    return rows


def compare_rows(
    recorded_rows: list[dict[str, float]],
    rows: list[dict[str, float]],
    recorded_digests: list[str],
    digests: list[str],
    n: int,
) -> list[Divergence]:
    """Every difference in the first `n` epochs: history columns, then the weights' digests."""
    divergences: list[Divergence] = []
    for i in range(n):
        row = rows[i] if i < len(rows) else {}
        recorded = recorded_rows[i]
        columns = [c for c in recorded if c not in UNCOMPARED_COLUMNS]
        columns += [c for c in row if c not in recorded and c not in UNCOMPARED_COLUMNS]
        for column in columns:
            if not _same_value(recorded.get(column), row.get(column)):
                divergences.append(Divergence(i + 1, column, recorded.get(column), row.get(column)))
        pair = (recorded_digests[i : i + 1], digests[i : i + 1])
        if all(pair) and pair[0] != pair[1]:
            recorded_digest, rerun_digest = pair[0][0], pair[1][0]
            divergences.append(
                Divergence(i + 1, "weights (sha256)", recorded_digest[:16], rerun_digest[:16])
            )
    return divergences


def verify(run_path: Path, epochs: int = 2, echo: Echo = _quiet) -> VerifyReport:
    """Re-run the first `epochs` epochs of a run from its stored spec; compare history and weights.

    BadInputError (exit 2) when the run is still running, its spec no longer validates or its
    data changed.
    """
    from expctl.models import build_model
    from expctl.runs.checkpoint import CheckpointPolicy, read_state
    from expctl.training import train

    run_path = Path(run_path)
    view = RunView(run_path)
    if not view.recorded_status:
        raise BadInputError(f"cannot read the run's status: {'; '.join(view.warnings)}")
    if view.state == "running":
        raise BadInputError(f"{run_path}: the run is still running; verify it when it has ended")
    loaded, record = stored_spec(view)
    spec = loaded.spec
    recorded_rows = _recorded_history(view)
    n = min(int(epochs), len(recorded_rows), spec.train.epochs)
    if n < 1:
        raise BadInputError(f"{view.file(layout.HISTORY)}: no epoch recorded to verify")
    dataset = same_data(loaded, record, run_path)
    state = read_state(run_path) or {}
    recorded_digests = list(state.get("weights_sha256") or [])
    configure_keras(spec.seed, deterministic=not spec.train.jit_compile)
    model = build_model(spec.model, dataset)
    echo(f"re-running epochs 1-{n} of {run_path.name} from its {layout.SPEC}")
    with tempfile.TemporaryDirectory(prefix="expctl-verify-") as scratch:
        result = train(
            model,
            dataset,
            spec.train,
            lambda rows: echo(progress_line(rows[-1], spec.train.epochs)),
            seed=spec.seed,
            checkpoint_dir=Path(scratch),
            checkpoint_policy=CheckpointPolicy(epochs=1),
            stop_after=n,
        )
    divergences = compare_rows(
        recorded_rows, result.rows, recorded_digests, result.weights_sha256, n
    )
    return VerifyReport(
        epochs=n, divergences=divergences, weights_compared=len(recorded_digests) >= n
    )


__all__ = ["UNCOMPARED_COLUMNS", "Divergence", "VerifyReport", "compare_rows", "verify"]
