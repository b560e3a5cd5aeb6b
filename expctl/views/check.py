"""The metric regression gate of `expctl check`: a run's test metrics against a JSON baseline.

A baseline is `{"metrics": {"auc": {"value": 0.91, "tolerance": 0.01, "higher_is_better": true},
...}}`. A metric fails when it is worse than its value by more than its tolerance (in the
metric's own units); nested metrics are named by dotted paths (`heads.signal.auc`). Pure Python:
no numpy, no TensorFlow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field, ValidationError

from expctl.errors import BadInputError
from expctl.spec.base import Bool, Float, Section

#: Metrics where larger is better; every other metric is taken as smaller-is-better.
HIGHER_IS_BETTER = (
    "auc",
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "recall",
    "f1",
    "r2",
    "rejection_at_50",
    "rejection_at_90",
    "adversarial_accuracy",
    "adversarial_auc",
    "sparsity",
)
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
    higher_is_better: Bool


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
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in err['loc']) or 'the file'}: {err['msg']}"
            for err in exc.errors()
        ]
        raise BadInputError(
            f"{source}: not a baseline ({'; '.join(problems)}); expected "
            '{"metrics": {"auc": {"value": 0.91, "tolerance": 0.01, "higher_is_better": true}}}'
        ) from None


def check(metrics: dict[str, Any], baseline: Baseline, source: str) -> list[Verdict]:
    """Each baseline metric against the run's; BadInputError when the run lacks one."""
    verdicts = []
    for name, base in baseline.metrics.items():
        value = _required(metrics, name, f"{source}: ")
        verdicts.append(Verdict(name, base.value, base.tolerance, base.higher_is_better, value))
    return verdicts


def updated_baseline(metrics: dict[str, Any], previous: Baseline | None) -> dict[str, Any]:
    """A baseline from the run: the previous one's metrics and tolerances with new values, or
    DEFAULT_METRICS the run has with default tolerances."""
    out: dict[str, Any] = {}
    if previous is not None:
        for name, base in previous.metrics.items():
            value = _required(metrics, name)
            out[name] = {**base.model_dump(), "value": value}
        return {"metrics": out}
    for name in DEFAULT_METRICS:
        value = lookup(metrics, name)
        if value is not None and math.isfinite(value):
            out[name] = {
                "value": value,
                "tolerance": default_tolerance(name, value),
                "higher_is_better": _short(name) in HIGHER_IS_BETTER,
            }
    if not out:
        raise BadInputError("the run has none of the metrics a baseline is made of")
    return {"metrics": out}
