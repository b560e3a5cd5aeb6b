"""The run-directory store: ids, atomic writes, status lifecycle, listing (no TensorFlow)."""

from __future__ import annotations

from expctl.runs.listing import RunRecord, is_run_dir, list_runs, read_run
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

__all__ = [
    "FINAL_STATUSES",
    "STATUSES",
    "RunDir",
    "RunRecord",
    "atomic_save",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "is_run_dir",
    "list_runs",
    "read_json",
    "read_run",
    "resolve_run",
    "resolve_runs",
    "to_json",
]
