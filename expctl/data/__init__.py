"""Datasets: a registry of sources, splits and train-only standardisation."""

from __future__ import annotations

from expctl.data.dataset import Dataset, Split, infer_task, prepare
from expctl.data.files import DATA_DIR_ENV, resolve_path
from expctl.data.sources import SOURCES, load_table
from expctl.data.table import Table

__all__ = [
    "DATA_DIR_ENV",
    "SOURCES",
    "Dataset",
    "Split",
    "Table",
    "infer_task",
    "load_table",
    "prepare",
    "resolve_path",
]
