"""Files read in chunks: every format expctl reads, as a sequence of (file, first entry, columns).

A reader yields `Chunk`s of at most `rows` events holding the named columns, in file order, with
the entry number of each chunk's first event, so that what depends on an event's identity (the
split, `expctl.data.chunked.hash_split`) does not depend on the chunk size. Memory is bounded
by `rows` x the columns asked for, except Parquet, which reads a whole row group at a time.

- Parquet: by row group (a large row group in slices of `rows`), through pyarrow;
- HDF5: slices of 1-D column datasets in a group, of a compound (table) dataset, or of named
  datasets such as `x` (n, features) and `y` (n,), through h5py;
- ROOT: entry ranges of the tree, through uproot (a sample's constant label is added by
  `expctl.data.stream`);
- CSV: pandas' chunked reader (`chunksize`), only the named columns.

A missing file or column is `DataError` before the first chunk (exit 2); a file that turns out to
be truncated or corrupt part-way is `ChunkReadError`, naming the file and the row group or entry
range that could not be read, after the chunks before it were delivered (tested for Parquet).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expctl.errors import DataError


class ChunkReadError(DataError):
    """A part of a file that could not be read while streaming (truncated, corrupt)."""


@dataclass(frozen=True)
class Chunk:
    """Events `start` to `start + len(self)` of the file named `key`: one array per column."""

    key: str
    start: int
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    @property
    def entries(self) -> np.ndarray:
        """The entry number of each event in its file (uint64), for `hash_split`."""
        return np.arange(self.start, self.start + len(self), dtype=np.uint64)


#: (path, key, columns, rows, **format options) -> chunks
Reader = Callable[..., Iterator[Chunk]]


def _check_rows(rows: int) -> None:
    if rows < 1:
        raise ValueError(f"rows per chunk must be >= 1, got {rows}")


def _missing(path: Path, asked: Sequence[str], present: Sequence[str], what: str) -> None:
    gone = [c for c in asked if c not in present]
    if gone:
        raise DataError(
            f"{path}: no {what} {', '.join(map(repr, gone))}; the file has: "
            + ", ".join(map(str, present))
        )


def parquet_chunks(path: Path, key: str, columns: Sequence[str], rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    _check_rows(rows)
    try:
        handle = pq.ParquetFile(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:  # pyarrow: many types for a file that is not Parquet
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from None
    _missing(path, columns, handle.schema_arrow.names, "column")
    start = 0
    with handle:
        for group in range(handle.num_row_groups):
            try:
                table = handle.read_row_group(group, columns=list(columns))
            except Exception as exc:
                raise ChunkReadError(
                    f"{path}: row group {group} of {handle.num_row_groups} (entries from "
                    f"{start}) cannot be read: {exc}"
                ) from None
            for offset in range(0, table.num_rows, rows):
                part = table.slice(offset, rows)
                arrays = {c: part.column(c).to_numpy() for c in columns}
                yield Chunk(key, start + offset, arrays)
            start += table.num_rows


def hdf5_chunks(path: Path, key: str, columns: Sequence[str], rows: int) -> Iterator[Chunk]:
    """`columns`: names of datasets (any shape (n, ...)), or `table/field` for the fields of a
    compound dataset or the 1-D datasets of a group `table`."""
    import h5py

    _check_rows(rows)
    try:
        handle = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read as HDF5: {exc}") from None
    with handle:
        sources: dict[str, tuple[Any, str | None]] = {}
        for name in columns:
            if name in handle and isinstance(handle[name], h5py.Dataset):
                sources[name] = (handle[name], None)
                continue
            parent, _, field = name.rpartition("/")
            node = handle.get(parent) if parent else None
            if isinstance(node, h5py.Dataset) and node.dtype.names and field in node.dtype.names:
                sources[name] = (node, field)
            else:
                found: list[str] = []
                handle.visit(found.append)
                _missing(path, [name], found, "dataset")
        lengths = {name: len(ds) for name, (ds, _) in sources.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} {n}" for k, n in lengths.items())
            raise DataError(f"{path}: the datasets differ in length: {shown}")
        total = next(iter(lengths.values()), 0)
        for start in range(0, total, rows):
            stop = min(start + rows, total)
            arrays = {}
            for name, (ds, field) in sources.items():
                try:
                    block = ds[start:stop] if field is None else ds[start:stop][field]
                except Exception as exc:
                    raise ChunkReadError(
                        f"{path}: {name}: entries {start}-{stop} cannot be read: {exc}"
                    ) from None
                if block.dtype.kind == "S":  # fixed-length byte strings: class names
                    block = block.astype(str)
                arrays[name] = np.asarray(block)
            yield Chunk(key, start, arrays)


def root_chunks(
    path: Path, key: str, columns: Sequence[str], rows: int, tree: str = "Events"
) -> Iterator[Chunk]:
    import uproot

    _check_rows(rows)
    try:
        handle = uproot.open(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:  # uproot: many types for a file that is not ROOT
        raise DataError(f"{path}: cannot read as ROOT: {exc}") from None
    with handle:
        if tree not in handle:
            names = handle.keys()
            shown = ", ".join(k.split(";")[0] for k in names)
            raise DataError(f"{path}: no tree {tree!r}; the file has: {shown or 'nothing'}")
        ttree = handle[tree]
        _missing(path, columns, list(ttree.keys()), "branch")
        total = int(ttree.num_entries)
        for start in range(0, total, rows):
            stop = min(start + rows, total)
            try:
                arrays = ttree.arrays(
                    list(columns), entry_start=start, entry_stop=stop, library="np"
                )
            except Exception as exc:
                raise ChunkReadError(
                    f"{path}: tree {tree}: entries {start}-{stop} cannot be read: {exc}"
                ) from None
            yield Chunk(key, start, {c: np.asarray(arrays[c]) for c in columns})


def csv_chunks(path: Path, key: str, columns: Sequence[str], rows: int) -> Iterator[Chunk]:
    import pandas as pd

    _check_rows(rows)
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None
    _missing(path, columns, header, "column")
    start = 0
    reader = pd.read_csv(path, usecols=list(columns), chunksize=rows)
    while True:
        try:
            frame = next(reader)
        except StopIteration:
            return
        except Exception as exc:  # a malformed line part-way
            raise ChunkReadError(
                f"{path}: rows from {start} (after the header) cannot be read: {exc}"
            ) from None
        yield Chunk(key, start, {c: frame[c].to_numpy() for c in columns})
        start += len(frame)


#: data.source -> chunk reader
READERS: dict[str, Reader] = {
    "parquet": parquet_chunks,
    "hdf5": hdf5_chunks,
    "root": root_chunks,
    "csv": csv_chunks,
}
