"""Find and summarise the run directories in an output directory (no TensorFlow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expctl.runs import layout
from expctl.runs.store import live_status, read_json
from expctl.runs.view import looks_like_run


@dataclass
class RunRecord:
    """What `list` shows of one run directory; `problems` says what could not be read."""

    id: str
    path: Path
    status: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def state(self) -> str:
        return str(self.status.get("status", "unknown"))


def read_run(path: Path) -> RunRecord:
    """Read one run's status and metrics, noting (not raising) what is missing or corrupt."""
    record = RunRecord(id=path.name, path=path)
    try:
        status = read_json(path / layout.STATUS)
        if not isinstance(status, dict):
            raise ValueError(f"{path / layout.STATUS}: not a JSON object")
        record.status = live_status(status)
    except ValueError as exc:
        record.problems.append(str(exc))
    metrics_path = path / layout.METRICS
    if metrics_path.exists():
        try:
            metrics = read_json(metrics_path)
            if not isinstance(metrics, dict):
                raise ValueError(f"{metrics_path}: not a JSON object")
            record.metrics = metrics
        except ValueError as exc:
            record.problems.append(str(exc))
    return record


def list_runs(output_dir: Path) -> list[RunRecord]:
    """Every run directory directly inside `output_dir`, oldest first (ids sort by time).

    Symlinks are not followed, so a link in the output directory cannot lead the listing elsewhere.
    """
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    records = []
    for entry in sorted(output_dir.iterdir()):
        if entry.name.startswith(".") or entry.is_symlink() or not entry.is_dir():
            continue
        if not looks_like_run(entry):
            continue
        records.append(read_run(entry))
    return records
