"""Read bias/variance experiment directories (written by `expctl biasvar`) for the views.

Such a directory has status.json with `"kind": "biasvar"`, the spec.yaml of the experiment and a
decomposition.json with one entry per point; its members are normal runs under `members/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expctl.runs import layout
from expctl.runs.store import read_json
from expctl.runs.view import BIASVAR_KIND

KIND = BIASVAR_KIND
#: The numbers of a point that `compare` shows as its metrics.
POINT_METRICS = (
    "expected_error",
    "train_error",
    "bias2_plus_noise",
    "bias2",
    "noise",
    "variance",
    "residual",
)


def is_biasvar_dir(path: Path) -> bool:
    """Whether `path` is a bias/variance experiment directory (its status.json says so)."""
    status = Path(path) / layout.STATUS
    if not status.is_file():
        return False
    try:
        data = read_json(status)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("kind") == KIND


def read_points(path: Path) -> list[dict[str, Any]]:
    """The points of decomposition.json ([] while running); ValueError if it is unreadable."""
    file = Path(path) / layout.DECOMPOSITION
    if not file.exists():
        return []
    data = read_json(file)
    points = data.get("points") if isinstance(data, dict) else None
    if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
        raise ValueError(f"{file}: expected {{'points': [...]}}")
    return points
