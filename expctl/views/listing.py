"""`list`: one line per run directory of a folder, read through RunView."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expctl.evaluation import catalogue
from expctl.runs.view import RunView, find_runs

HEADER = ("RUN", "NAME", "STATUS", "TEST", "DURATION")


def main_metric_text(metrics: dict[str, Any] | None) -> str:
    """`auc 0.9123`: the run's headline metric (the catalogue's main metric it has a number for)."""
    for name in catalogue.MAIN_METRICS:
        value = (metrics or {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return f"{name} {value:.4f}"
    return "-"


def duration_text(status: dict[str, Any]) -> str:
    """`1m02.5s` or `12.5s`; `-` when the run recorded no duration."""
    value = status.get("duration_s")
    if not isinstance(value, int | float):
        return "-"
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes)}m{seconds:04.1f}s" if minutes else f"{seconds:.1f}s"


@dataclass
class Listing:
    """What `expctl list` shows of each run, and the problems met while reading them."""

    runs: list[RunView]

    def records(self) -> list[dict[str, Any]]:
        """One dict per run, as `list --json` prints it."""
        return [
            {
                "id": r.id,
                "path": str(r.path),
                "name": r.status.get("name"),
                "status": r.state,
                "started_at": r.status.get("started_at"),
                "duration_s": r.status.get("duration_s"),
                "metrics": r.metrics,
                "problems": r.warnings,
            }
            for r in self.runs
        ]

    def text(self) -> str:
        """An aligned table: run id, name, status, main test metric, duration."""
        rows = [
            (
                r.id,
                str(r.status.get("name", "?")),
                r.state,
                main_metric_text(r.metrics),
                duration_text(r.status),
            )
            for r in self.runs
        ]
        widths = [max(len(row[i]) for row in [HEADER, *rows]) for i in range(len(HEADER))]
        lines = [
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in [HEADER, *rows]
        ]
        return "\n".join(lines) + "\n"

    @property
    def problems(self) -> list[str]:
        return [problem for r in self.runs for problem in r.warnings]


def list_folder(folder: Path) -> Listing:
    """The runs of `folder`, each read (status, metrics) once."""
    runs = find_runs(folder)
    for run in runs:
        _ = run.status, run.metrics  # read now, so their warnings are known
    return Listing(runs)


__all__ = ["HEADER", "Listing", "duration_text", "list_folder", "main_metric_text"]
