"""`expctl check`: the metric regression gate, a run's test metrics against a JSON baseline.

A baseline is `{"metrics": {"auc": {"value": 0.91, "tolerance": 0.01}, ...}}`. A metric fails
when it is worse than its value by more than its tolerance (in the metric's own units); nested
metrics are named by dotted paths (`heads.signal.auc`). Which way is worse comes from the metric
catalogue (`expctl.evaluation.catalogue`); an entry's `higher_is_better` is needed only for a
metric the catalogue gives no direction, and must agree with it otherwise. Pure Python: no numpy,
no TensorFlow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError

from expctl.errors import BadInputError
from expctl.evaluation import catalogue
from expctl.runs import layout
from expctl.runs.view import RunView
from expctl.spec.base import Bool, Float, Section

#: What `--update` puts in a new baseline, when the run has it (in this order).
DEFAULT_METRICS = (
    "auc",
    "accuracy",
    "sensitivity",
    "specificity",
    "rejection_at_50",
    "r2",
    "rmse",
    "mae",
    "loss",
)
#: Default tolerance: absolute for scores in [0, 1], relative (of the value) for the rest.
ABSOLUTE_TOLERANCE = 0.01
RELATIVE_TOLERANCE = 0.05
UNIT_INTERVAL = ("auc", "accuracy", "sensitivity", "specificity", "precision", "recall", "f1")


class MetricBaseline(Section):
    value: Float
    tolerance: Float = Field(ge=0)
    #: Needed only for a metric the catalogue gives no direction; must agree with it otherwise.
    higher_is_better: Bool | None = None


class Baseline(Section):
    metrics: dict[str, MetricBaseline] = Field(min_length=1)


@dataclass(frozen=True)
class Verdict:
    """One metric of the check: the baseline, the run's value and whether it passes."""

    metric: str
    baseline: float
    tolerance: float
    higher_is_better: bool
    value: float

    @property
    def delta(self) -> float:
        """How much better (positive) or worse (negative) than the baseline value."""
        sign = 1.0 if self.higher_is_better else -1.0
        return sign * (self.value - self.baseline)

    @property
    def passed(self) -> bool:
        # exactly at the tolerance passes, whatever the last bit of the float subtraction says
        slack = 1e-12 * max(1.0, abs(self.baseline))
        return math.isfinite(self.value) and self.delta >= -self.tolerance - slack

    @property
    def state(self) -> str:
        if not self.passed:
            return "WORSE"
        return "better" if self.delta > self.tolerance else "ok"


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def default_tolerance(name: str, value: float) -> float:
    """0.01 for scores in [0, 1] (AUC, accuracy, ...); 5% of the value for the others."""
    if _short(name) in UNIT_INTERVAL:
        return ABSOLUTE_TOLERANCE
    return round(abs(value) * RELATIVE_TOLERANCE, 12)


def lookup(metrics: dict[str, Any], name: str) -> float | None:
    """A (dotted) metric of metrics.json as a float; None when absent or not a number."""
    node: Any = metrics
    for part in name.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


def numeric_metrics(metrics: dict[str, Any], prefix: str = "") -> list[str]:
    """Every numeric metric's (dotted) name, for messages."""
    names = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            names += numeric_metrics(value, f"{prefix}{key}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            names.append(f"{prefix}{key}")
    return names


def _required(metrics: dict[str, Any], name: str, where: str = "") -> float:
    """A metric the baseline names; BadInputError listing the run's metrics when it is absent."""
    value = lookup(metrics, name)
    if value is None:
        raise BadInputError(
            f"{where}the baseline names metric {name!r}, which the run does not have; "
            f"the run has: {', '.join(numeric_metrics(metrics))}"
        )
    return value


def parse_baseline(text: str, source: str) -> Baseline:
    """A validated baseline; BadInputError (exit 2) naming the line or key otherwise."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except RecursionError:
        raise BadInputError(f"{source}: nested too deeply to be a baseline") from None
    except ValueError as exc:  # an integer of thousands of digits (Python's conversion limit)
        raise BadInputError(f"{source}: not a baseline: {exc}") from None
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'the file'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise BadInputError(
            f"{source}: not a baseline ({'; '.join(problems)}); expected "
            '{"metrics": {"auc": {"value": 0.91, "tolerance": 0.01}}}'
        ) from None


def direction(name: str, given: bool | None, source: str) -> bool:
    """Whether `name` is better higher: the catalogue's direction, else the baseline's `given`.

    BadInputError when neither gives one, or when `given` contradicts the catalogue.
    """
    known = catalogue.higher_is_better(name)
    if known is None and given is None:
        raise BadInputError(
            f"{source}: {catalogue.no_direction_message(name, f'baseline metric {name!r}')}: "
            f'add "higher_is_better": true or false to its entry'
        )
    if known is not None and given is not None and given != known:
        entry = catalogue.lookup(name)
        assert entry is not None
        raise BadInputError(
            f"{source}: metric {name!r} says higher_is_better: {_json_bool(given)}, but "
            f"{name} ({entry.description}) is better {entry.better} in expctl's metric "
            f"catalogue; remove its higher_is_better (or set it to {_json_bool(known)})"
        )
    return known if known is not None else bool(given)


def _json_bool(value: bool) -> str:
    return "true" if value else "false"


def check(metrics: dict[str, Any], baseline: Baseline, source: str) -> list[Verdict]:
    """Each baseline metric against the run's; BadInputError when the run lacks one or a metric's
    direction is unknown or contradicts the catalogue."""
    verdicts = []
    for name, base in baseline.metrics.items():
        value = _required(metrics, name, f"{source}: ")
        higher = direction(name, base.higher_is_better, source)
        verdicts.append(Verdict(name, base.value, base.tolerance, higher, value))
    return verdicts


def updated_baseline(
    metrics: dict[str, Any], previous: Baseline | None, source: str = "the baseline"
) -> dict[str, Any]:
    """A baseline from the run: the previous one's metrics and tolerances with new values, or
    DEFAULT_METRICS the run has with default tolerances; each with the catalogue's direction
    (the previous entry's only for a metric the catalogue has no direction for)."""
    out: dict[str, Any] = {}
    if previous is not None:
        for name, base in previous.metrics.items():
            known = catalogue.higher_is_better(name)
            higher = direction(name, base.higher_is_better if known is None else known, source)
            value = _required(metrics, name)
            out[name] = {**base.model_dump(), "value": value, "higher_is_better": higher}
        return {"metrics": out}
    for name in DEFAULT_METRICS:
        value = lookup(metrics, name)
        if value is not None and math.isfinite(value):
            out[name] = {
                "value": value,
                "tolerance": default_tolerance(name, value),
                "higher_is_better": direction(name, None, source),
            }
    if not out:
        raise BadInputError("the run has none of the metrics a baseline is made of")
    return {"metrics": out}


# ------------------------------------------------------------------------------- the command


@dataclass
class CheckResult:
    """What `expctl check` reports: the run, each metric's verdict, or the baseline it wrote."""

    run: str
    verdicts: list[Verdict]
    written: dict[str, Any] | None = None

    @property
    def failed(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.passed]

    def as_json(self) -> dict[str, Any]:
        """The verdicts as `check --json` prints them."""
        rows = [
            {
                "metric": v.metric,
                "baseline": v.baseline,
                "tolerance": v.tolerance,
                "higher_is_better": v.higher_is_better,
                "value": v.value,
                "state": v.state,
            }
            for v in self.verdicts
        ]
        return {"run": self.run, "passed": not self.failed, "metrics": rows}

    def text(self) -> str:
        """The verdicts as a table, then `<run>: passed` or which metrics are worse."""
        width = max(len(v.metric) for v in self.verdicts)
        lines = [f"{'metric':<{width}}  {'baseline':>10}  {'tolerance':>9}  {'run':>10}  state"]
        for v in self.verdicts:
            arrow = "↑" if v.higher_is_better else "↓"
            lines.append(
                f"{v.metric:<{width}}  {v.baseline:>10.4g}  {v.tolerance:>9.3g}  "
                f"{v.value:>10.4g}  {v.state} {arrow}"
            )
        failed = self.failed
        verdict = f"FAILED: {', '.join(v.metric for v in failed)} worse" if failed else "passed"
        return "\n".join([*lines, f"{self.run}: {verdict}"]) + "\n"


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's metrics.json; BadInputError (exit 2) when it is missing or unreadable."""
    view = RunView(run_dir)
    metrics = view.metrics
    if metrics is None:
        path = view.file(layout.METRICS)
        reason = next((w for w in view.warnings if w.startswith(str(path))), f"{path}: missing")
        raise BadInputError(f"{reason} (has the run completed?)")
    return metrics


def read_baseline(path: Path) -> Baseline | None:
    """The baseline at `path` (None when there is no such file); BadInputError if malformed."""
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{path}: cannot read: {exc}") from None
    return parse_baseline(text, str(path))


def check_run(run_dir: Path, baseline_path: Path, update: bool = False) -> CheckResult:
    """Check a run against the baseline file, or (`update`) (re)write the baseline from the run.

    BadInputError (exit 2) when the run has no metrics, the baseline is missing (without
    `update`) or malformed, names a metric the run lacks, or gives a direction that is unknown or
    contradicts the catalogue.
    """
    from expctl.runs import atomic_write_json

    run_dir = Path(run_dir)
    metrics = run_metrics(run_dir)
    source = str(baseline_path)
    previous = read_baseline(baseline_path)
    if update:
        baseline = updated_baseline(metrics, previous, source)
        atomic_write_json(baseline_path, baseline)
        return CheckResult(run_dir.name, [], written=baseline)
    if previous is None:
        raise BadInputError(f"{source}: no such baseline (create it with --update)")
    return CheckResult(run_dir.name, check(metrics, previous, source))


__all__ = [
    "DEFAULT_METRICS",
    "Baseline",
    "CheckResult",
    "MetricBaseline",
    "Verdict",
    "check",
    "check_run",
    "default_tolerance",
    "direction",
    "lookup",
    "numeric_metrics",
    "parse_baseline",
    "read_baseline",
    "run_metrics",
    "updated_baseline",
]
