"""What every exporter reads from a run directory: flat parameters, per-epoch and test metrics."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from expctl.errors import BadInputError
from expctl.runs import RunView


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """A nested spec as {dotted.key: value as text}: lists become JSON, None becomes "null"."""
    if isinstance(data, dict):
        out: dict[str, str] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    text = json.dumps(data) if isinstance(data, list | bool) or data is None else str(data)
    return {prefix: text}


def read_run(
    run_dir: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[dict[str, float]]]:
    """The status (as recorded), resolved spec, test metrics and history rows of a run directory.

    BadInputError (exit 2) when its status or spec cannot be read.
    """
    view = RunView(run_dir)
    status, spec = view.recorded_status, view.spec
    if not status or spec is None:
        raise BadInputError(f"cannot export {run_dir}: " + "; ".join(view.warnings))
    return status, spec, view.metrics or {}, view.filled_history


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """metrics.json's finite numbers as test_<key>; a multitask head's as test_<head>_<key>."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key == "heads" and isinstance(value, dict):
            for head, head_metrics in value.items():
                for k, v in final_metrics(head_metrics).items():
                    out[f"test_{head}_{k.removeprefix('test_')}"] = v
        elif (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            out[f"test_{key}"] = float(value)
    return out
