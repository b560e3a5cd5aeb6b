"""Datasets: a registry of sources, splits and train-only standardisation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expctl.data.dataset import Dataset, Split, infer_task
from expctl.data.dataset import prepare as prepare_in_memory
from expctl.data.files import DATA_DIR_ENV, resolve_path
from expctl.data.sources import SOURCES, load_table
from expctl.data.table import Table


def prepare(
    data_spec: Any, base_dir: Path, seed: int, heads: Any = (), *, stream: bool | None = None
) -> Any:
    """The dataset of a spec's data section: in memory (`Dataset`), or streamed from its files
    (`expctl.data.streamed.StreamedDataset`) when data.stream says so or, with `auto`, when the
    data would not fit data.memory_budget. `stream` overrides the spec: False always in memory
    (callers that resample the arrays: biasvar, sweep probes), True always streamed (`resume`
    and `verify` of a streamed run, whatever this machine's memory)."""
    from expctl.data.streamed import prepare_streamed, should_stream

    if stream is None:
        reason = should_stream(data_spec, base_dir, seed)
        stream = reason is not None
    else:
        reason = "as the run was" if stream else None
    if stream:
        return prepare_streamed(data_spec, base_dir, seed, heads, reason or "")
    return prepare_in_memory(data_spec, base_dir, seed, heads)


def is_streamed(dataset: Any) -> bool:
    """Whether `dataset` is read from its files chunk by chunk (no arrays in memory)."""
    return bool(getattr(dataset, "streamed", False))


__all__ = [
    "DATA_DIR_ENV",
    "SOURCES",
    "Dataset",
    "Split",
    "Table",
    "infer_task",
    "is_streamed",
    "load_table",
    "prepare",
    "prepare_in_memory",
    "resolve_path",
]
