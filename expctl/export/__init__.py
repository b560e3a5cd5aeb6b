"""Exports of finished run directories to other tools (no TensorFlow; each tool imported on use).

Each exporter reads a run directory through `expctl.runs.RunView` (its spec, history, metrics,
status and files) and records it elsewhere, so exporting stays out of the training loop and works
for runs made long ago: `expctl export RUN --mlflow URI`, or `tracking.mlflow` at the end of a run.
"""

from __future__ import annotations

from expctl.export.common import final_metrics, flatten, read_run
from expctl.export.to_mlflow import export_run, require_mlflow

#: Exporter name -> function(run_dir, target, **options) returning the id it was recorded under.
EXPORTERS = {"mlflow": export_run}

__all__ = [
    "EXPORTERS",
    "export_run",
    "final_metrics",
    "flatten",
    "read_run",
    "require_mlflow",
]
