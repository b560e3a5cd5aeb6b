"""The run-directory store, its only door: file names (`layout`), ids, atomic writes, the status
lifecycle, listing, and one lazy read-only view of a run (`RunView`). No TensorFlow."""

from __future__ import annotations

from expctl.runs import layout
from expctl.runs.atomic import (
    atomic_save,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    read_json,
    to_json,
)
from expctl.runs.resolve import resolve_run, resolve_runs
from expctl.runs.store import FINAL_STATUSES, STATUSES, RunDir
from expctl.runs.view import MissingColumnError, RunView, find_runs, is_run_dir

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "MissingColumnError",
    "RunDir",
    "RunView",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "find_runs",
    "is_run_dir",
    "layout",
    "read_json",
    "resolve_run",
    "resolve_runs",
    "to_json",
]
