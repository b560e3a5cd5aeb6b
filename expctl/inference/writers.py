"""Output files of `predict`, written chunk by chunk: Parquet, CSV or a ROOT tree.

A writer is opened with the output's columns (name -> numpy dtype) and takes one chunk of
columns at a time, so memory is bounded by the chunk. The caller writes into a temporary sibling
of the output and renames it into place at the end (`expctl.runs.atomic_save`): a refusal or a
failure part-way leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from expctl.errors import BadInputError

#: output suffix -> format
OUTPUT_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".root": "root"}
OUTPUT_FORMATS = ("parquet", "csv", "root")


def output_format(out: Path, given: str | None) -> str:
    """`given`, else the format of OUT's suffix; BadInputError listing the choices otherwise."""
    if given is not None:
        return given
    fmt = OUTPUT_SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        raise BadInputError(
            f"--out {out}: cannot tell the format from the suffix {out.suffix!r}; use "
            f"{', '.join(OUTPUT_SUFFIXES)} or --format {'|'.join(OUTPUT_FORMATS)}"
        )
    return fmt


def check_columns(fmt: str, columns: Mapping[str, np.dtype]) -> None:
    """Refuse what a format cannot hold: a ROOT branch that is not a number."""
    if fmt == "root":
        bad = [n for n, d in columns.items() if d.kind not in "biufb"]
        if bad:
            raise BadInputError(
                f"--keep {', '.join(bad)}: not numeric; a ROOT tree holds numbers only "
                "(write Parquet or CSV to keep text columns)"
            )


class Writer:
    """Writes chunks of columns to one file; `close` finishes it."""

    def write(self, columns: Mapping[str, np.ndarray]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class ParquetWriter(Writer):
    def __init__(self, path: Path, columns: Mapping[str, np.dtype]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        fields = [
            pa.field(n, pa.string() if d.kind in "OSU" else pa.from_numpy_dtype(d))
            for n, d in columns.items()
        ]
        self.schema = pa.schema(fields)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, columns: Mapping[str, np.ndarray]) -> None:
        arrays = [
            self.pa.array(columns[f.name], type=f.type, from_pandas=True) for f in self.schema
        ]
        self.writer.write_table(self.pa.Table.from_arrays(arrays, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


class CsvWriter(Writer):
    def __init__(self, path: Path, columns: Mapping[str, np.dtype]) -> None:
        self.names = list(columns)
        self.fh = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 (closed by close)
        self.fh.write(",".join(self.names) + "\n")

    def write(self, columns: Mapping[str, np.ndarray]) -> None:
        import pandas as pd

        # pandas writes floats with repr: every score is read back to the same bits
        pd.DataFrame({n: columns[n] for n in self.names}).to_csv(self.fh, header=False, index=False)

    def close(self) -> None:
        self.fh.close()


class RootWriter(Writer):
    """A TTree with one branch per column and one entry per input event (a friend of the input)."""

    def __init__(self, path: Path, columns: Mapping[str, np.dtype], tree: str) -> None:
        import uproot

        self.file = uproot.recreate(path)
        self.dtypes = {n: np.dtype(d) for n, d in columns.items()}
        self.tree = self.file.mktree(tree, self.dtypes)

    def write(self, columns: Mapping[str, np.ndarray]) -> None:
        if len(next(iter(columns.values()))):
            self.tree.extend(
                {n: np.ascontiguousarray(columns[n], dtype=d) for n, d in self.dtypes.items()}
            )

    def close(self) -> None:
        self.file.close()


def open_writer(fmt: str, path: Path, columns: Mapping[str, np.dtype], tree: str) -> Writer:
    """A writer of format `fmt` to `path`; pyarrow or uproot missing: BadInputError with the hint."""
    makers: dict[str, Callable[[], Writer]] = {
        "parquet": lambda: ParquetWriter(path, columns),
        "csv": lambda: CsvWriter(path, columns),
        "root": lambda: RootWriter(path, columns, tree),
    }
    return makers[fmt]()


def require(fmt: str) -> None:
    """The library a format needs, or BadInputError with the install hint (before any work)."""
    modules: dict[str, tuple[str, str]] = {
        "parquet": ("pyarrow", "`uv pip install pyarrow` (or `pip install 'expctl[parquet]'`)"),
        "root": ("uproot", "`uv sync --extra root` (or `pip install 'expctl[root]'`)"),
    }
    if fmt in modules:
        import importlib.util

        module, hint = modules[fmt]
        if importlib.util.find_spec(module) is None:
            raise BadInputError(f"writing {fmt} needs {module}: install it with {hint}")


__all__ = [
    "OUTPUT_FORMATS",
    "OUTPUT_SUFFIXES",
    "Writer",
    "check_columns",
    "open_writer",
    "output_format",
    "require",
]
