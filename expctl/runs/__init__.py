"""The run-directory store, its only door: file names (`layout`), ids, atomic writes, the status
lifecycle, listing, and one lazy read-only view of a run (`RunView`). No TensorFlow."""

from __future__ import annotations

from expctl.runs import layout
from expctl.runs.listing import RunRecord, list_runs, read_run
from expctl.runs.resolve import resolve_run, resolve_runs
from expctl.runs.store import (
    FINAL_STATUSES,
    STATUSES,
    RunDir,
    atomic_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
    to_json,
)
from expctl.runs.view import MissingColumnError, RunView, is_run_dir

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "MissingColumnError",
    "RunDir",
    "RunRecord",
    "RunView",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "is_run_dir",
    "layout",
    "list_runs",
    "read_json",
    "read_run",
    "resolve_run",
    "resolve_runs",
    "to_json",
]
