"""A spec run N times with seeds seed, seed+1, ... (`expctl run --repeat`), and the summary
printed after a run."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.errors import RunFailedError
from expctl.evaluation.catalogue import SUMMARY_METRICS
from expctl.runner.pipeline import NO_HOOKS, Echo, RunHooks, RunOutcome, run
from expctl.spec import load_spec


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class RepeatOutcome:
    """The runs of `run_repeated`: those that finished, and the errors of those that failed."""

    outcomes: list[RunOutcome]
    failures: list[str]
    first_seed: int
    repeat: int

    @property
    def spread(self) -> dict[str, tuple[float, float]]:
        """Mean and standard deviation over the runs of each main test metric (2+ finite values)."""
        if not self.outcomes:
            return {}
        first = self.outcomes[0].metrics
        out = {}
        for key in (k for k in REPEAT_METRICS if k in first):
            values = [
                o.metrics[key] for o in self.outcomes if isinstance(o.metrics.get(key), float)
            ]
            values = [v for v in values if math.isfinite(v)]
            if len(values) >= 2:
                out[key] = (statistics.fmean(values), statistics.stdev(values))
        return out


#: The test metrics whose spread over seeds `run_repeated` reports, in this order.
REPEAT_METRICS = ("auc", "accuracy", "rmse", "r2", "loss")


def run_repeated(
    spec_path: str,
    overrides: Sequence[str],
    output_dir: Path,
    repeat: int = 1,
    *,
    smoke: bool = False,
    echo: Echo = _quiet,
    hooks: RunHooks = NO_HOOKS,
    on_run: Callable[[RunOutcome], None] = lambda _: None,
    on_failure: Echo = _quiet,
) -> RepeatOutcome:
    """Run the spec `repeat` times with seeds seed, seed+1, ... (one run directory each).

    `smoke`: tiny data, one epoch, small batches (the same code path). Every seed's spec is
    validated like the first. With `repeat` 1 a failed run raises
    RunFailedError; with more, each failure is passed to `on_failure` and the others go on
    (the caller decides the exit). `on_run` is called with each finished run.
    """
    overrides = list(overrides)
    loaded = load_spec(spec_path, overrides)
    if smoke:
        from expctl.spec.smoke import smoke_overrides

        overrides += smoke_overrides(loaded.spec)
        loaded = load_spec(spec_path, overrides)
    first_seed = loaded.spec.seed
    outcomes, failures = [], []
    for i in range(repeat):
        if i:
            # every seed is validated like the first (a seed past 2**32 - 1 is refused)
            loaded = load_spec(spec_path, [*overrides, f"seed={first_seed + i}"])
        try:
            outcome = run(loaded, Path(output_dir), echo=echo, hooks=hooks)
        except RunFailedError as exc:
            if repeat == 1:
                raise
            failures.append(exc.message)
            on_failure(exc.message)
            continue
        outcomes.append(outcome)
        on_run(outcome)
    return RepeatOutcome(outcomes, failures, first_seed, repeat)


#: Technique metrics shown after the test metrics when present.
TECHNIQUE_METRICS = ("sparsity", "adversarial_epsilon", "adversarial_accuracy", "adversarial_auc")


def summary_lines(outcome: RunOutcome) -> list[str]:
    """The end-of-run summary: where the run is and its test metrics."""
    lines = [f"run directory: {outcome.run_dir}"]
    metrics = outcome.metrics
    if metrics.get("stopped_epoch"):
        restored = ", its weights restored" if metrics.get("restored_best") else ""
        lines.append(
            f"early stopping at epoch {metrics['stopped_epoch']}; best epoch {metrics['best_epoch']}{restored}"
        )
    shown = [k for k in SUMMARY_METRICS[outcome.task] if k in metrics]
    lines.append("test " + "  ".join(f"{k} {_show(metrics[k])}" for k in shown))
    for name, head in (metrics.get("heads") or {}).items():
        task = head.get("task", "regression")
        keys = [k for k in SUMMARY_METRICS[task] if k in head][:4]
        lines.append(f"  head {name}: " + "  ".join(f"{k} {_show(head[k])}" for k in keys))
    extra = [k for k in TECHNIQUE_METRICS if k in metrics]
    if extra:
        lines.append("  " + "  ".join(f"{k} {_show(metrics[k])}" for k in extra))
    return lines


def _show(value: Any) -> str:
    return (
        "nan"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4f}"
    )


__all__ = ["REPEAT_METRICS", "TECHNIQUE_METRICS", "RepeatOutcome", "run_repeated", "summary_lines"]
