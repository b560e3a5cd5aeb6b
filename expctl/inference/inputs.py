"""Input files of `predict` and `evaluate`: their format, their columns, and their events by chunks.

A file is read in the run's own terms: its feature columns by the names the run trained on
(data.json), or, for a run trained on arrays (npz, or HDF5 `x`/`y`), the feature matrix by the
run's array name. Everything that can be refused (no such file, a missing or non-numeric column,
a matrix of the wrong width) is checked by `check` from the file's schema, before a single event
is read or anything written. Events are then read through `expctl.data.readers.READERS` (NPZ
here: a member streamed out of the zip archive), at most `rows` at a time.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from expctl.data.files import check_npz_member
from expctl.data.readers import READERS
from expctl.errors import BadInputError, DataError, did_you_mean

#: file suffix -> input format
SUFFIXES = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".root": "root",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".npz": "npz",
}
FORMATS = ("parquet", "csv", "root", "hdf5", "npz")
#: The key of the feature matrix in a chunk of an array layout (npz, HDF5 x/y).
MATRIX = "\0x"


@dataclass(frozen=True)
class InputFile:
    """One input file: its path, format, reader options (a ROOT tree) and, for `evaluate`, the
    label of every event in it (`FILE:LABEL`)."""

    path: Path
    fmt: str
    options: Mapping[str, Any] = field(default_factory=dict)
    label: str | None = None


@dataclass(frozen=True)
class Layout:
    """How the run's inputs are found in a file: named columns, or a feature matrix `x`."""

    features: tuple[str, ...]
    matrix: str | None = None  # the array holding the (n, features) matrix; None: columns
    table: str | None = None  # HDF5: the group or compound dataset holding the columns

    def column(self, name: str) -> str:
        """The reader's name of column `name` (HDF5 tables: `table/name`)."""
        return f"{self.table.rstrip('/')}/{name}" if self.table else name


def input_format(path: Path, run_source: str, given: str | None = None) -> str:
    """The format of an input file: `given`, else its suffix, else the run's own data source."""
    if given is not None:
        return given
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is not None:
        return fmt
    if run_source in FORMATS:
        return run_source
    raise BadInputError(
        f"{path}: cannot tell the file's format from its suffix {path.suffix!r}; "
        f"use one of {', '.join(SUFFIXES)}"
    )


def parse_inputs(
    items: Sequence[str], run_source: str, tree: str, labels: bool = False
) -> list[InputFile]:
    """The input files named on the command line; with `labels`, `FILE:LABEL` gives every event
    of FILE the class LABEL (the part after the last `:`, when FILE itself is not a file)."""
    out = []
    for item in items:
        path, label = Path(item), None
        if labels and not path.is_file() and ":" in item:
            head, _, tail = item.rpartition(":")
            if tail and Path(head).is_file():
                path, label = Path(head), tail
        if not path.is_file():
            hint = " (FILE:LABEL gives a file's label)" if labels and ":" in item else ""
            raise DataError(f"{item}: no such file{hint}")
        fmt = input_format(path, run_source)
        out.append(InputFile(path, fmt, {"tree": tree} if fmt == "root" else {}, label))
    return out


# ---------------------------------------------------------------------------------- schemas


def _parquet_schema(path: Path) -> dict[str, np.dtype | None]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError("reading Parquet needs pyarrow: `uv pip install pyarrow`") from None
    try:
        schema = pq.read_schema(path)
    except Exception as exc:  # pyarrow: many types for a file that is not Parquet
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from None
    out: dict[str, np.dtype | None] = {}
    for item in schema:
        try:
            out[item.name] = np.dtype(item.type.to_pandas_dtype())
        except (NotImplementedError, TypeError):
            out[item.name] = None
    return out


def _csv_schema(path: Path) -> dict[str, np.dtype | None]:
    import pandas as pd

    try:
        # the dtypes pandas guesses from the first rows; a later chunk that is not numeric is
        # refused when it is read (nothing is written then either)
        frame = pd.read_csv(path, nrows=1000)
    except Exception as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None
    return {
        str(c): np.dtype(t) if isinstance(t, np.dtype) else None for c, t in frame.dtypes.items()
    }


def _root_schema(path: Path, tree: str) -> dict[str, np.dtype | None]:
    try:
        import uproot
    except ImportError:
        raise DataError(
            "reading ROOT files needs uproot: `uv sync --extra root` (or `pip install 'expctl[root]'`)"
        ) from None
    try:
        handle = uproot.open(path)
    except Exception as exc:  # uproot: many types for a file that is not ROOT
        raise DataError(f"{path}: cannot read as a ROOT file: {exc}") from None
    with handle:
        tables = ("TTree", "ROOT::RNTuple")  # uproot writes an RNTuple for `file[name] = {...}`
        trees = [k.split(";")[0] for k, v in handle.classnames().items() if v.startswith(tables)]
        if tree not in trees:
            raise DataError(
                f"{path}: no TTree {tree!r}{did_you_mean(tree, trees)}; trees: "
                f"{', '.join(trees) or 'none'} (choose one with --tree)"
            )
        table = handle[tree]
        if not hasattr(table, "branches"):  # an RNTuple: the dtypes of its first entry
            first = table.arrays(entry_stop=1, library="np")
            return {
                str(k): v.dtype if v.ndim == 1 and v.dtype.kind != "O" else None
                for k, v in first.items()
            }
        out: dict[str, np.dtype | None] = {}
        for name, branch in table.items():
            dtype = getattr(branch.interpretation, "to_dtype", None)
            # one number per entry; jagged and object branches have no plain dtype
            out[name] = dtype if isinstance(dtype, np.dtype) and dtype.shape == () else None
        return out


def _hdf5_schema(path: Path) -> dict[str, np.dtype | None]:
    import h5py

    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: cannot read as HDF5: {exc}") from None
    out: dict[str, np.dtype | None] = {}

    def visit(name: str, node: Any) -> None:
        if not isinstance(node, h5py.Dataset):
            return
        if node.dtype.names:
            for item in node.dtype.names:
                out[f"{name}/{item}"] = node.dtype[item] if node.ndim == 1 else None
        else:
            out[name] = node.dtype if node.ndim == 1 else None

    with handle:
        handle.visititems(visit)
    return out


def _npz_headers(path: Path) -> dict[str, tuple[tuple[int, ...], bool, np.dtype]]:
    """name -> (shape, fortran order, dtype) of every array of an .npz, checked before reading."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n.removesuffix(".npy") for n in archive.namelist() if n.endswith(".npy")]
            out = {}
            for name in names:
                check_npz_member(archive, name, path)
                with archive.open(f"{name}.npy") as fh:
                    out[name] = _read_header(fh)
            return out
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as .npz: {exc}") from None


def _read_header(fh: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(fh)
    read = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    shape, fortran, dtype = read(fh)
    return tuple(shape), bool(fortran), dtype


def _hdf5_shapes(path: Path, names: Sequence[str]) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    import h5py

    with h5py.File(path, "r") as handle:
        return {
            n: (tuple(handle[n].shape), handle[n].dtype)
            for n in names
            if n in handle and isinstance(handle[n], h5py.Dataset)
        }


@dataclass(frozen=True)
class Schema:
    """What a file holds: every column's dtype (None: not one number per event); for arrays,
    each array's shape."""

    columns: dict[str, np.dtype | None]
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def schema(file: InputFile) -> Schema:
    """The columns (and, for NPZ, the arrays' shapes) of a file; DataError if it is unreadable."""
    if file.fmt == "parquet":
        return Schema(_parquet_schema(file.path))
    if file.fmt == "csv":
        return Schema(_csv_schema(file.path))
    if file.fmt == "root":
        return Schema(_root_schema(file.path, str(file.options.get("tree", "Events"))))
    if file.fmt == "hdf5":
        columns = _hdf5_schema(file.path)
        return Schema(columns)
    headers = _npz_headers(file.path)
    return Schema(
        {
            n: (dtype if len(shape) == 1 and not dtype.hasobject else None)
            for n, (shape, _, dtype) in headers.items()
        },
        {n: shape for n, (shape, _, _) in headers.items()},
    )


def _numeric(dtype: np.dtype | None) -> bool:
    return dtype is not None and dtype.kind in "biuf"


def check(
    file: InputFile,
    layout: Layout,
    keep: Sequence[str] = (),
    extra: Sequence[tuple[str, str]] = (),
) -> Schema:
    """Refuse (DataError, exit 2) a file the run cannot read: a missing feature (with the closest
    name), a feature that is not numeric, a feature matrix of another width than the model's,
    a missing --keep column, or a missing `extra` column (name, what it is: "--target", ...)."""
    found = schema(file)
    columns = found.columns
    names = list(columns)
    problems = []
    if layout.matrix is None:
        wanted = [layout.column(f) for f in layout.features]
        missing = [c for c in wanted if c not in columns]
        if missing:
            hints = "".join(f"\n  {m!r}{did_you_mean(m, names)}" for m in missing)
            problems.append(f"no feature column(s) the run needs:{hints}")
        bad = [c for c in wanted if c in columns and not _numeric(columns[c])]
        if bad:
            shown = ", ".join(f"{c!r} ({columns[c] or 'not one number per event'})" for c in bad)
            problems.append(f"feature column(s) not numeric: {shown}")
    else:
        shape, dtype = _matrix_shape(file, found, layout.matrix)
        width = 1 if len(shape) == 1 else int(np.prod(shape[1:]))
        if len(shape) > 2 or width != len(layout.features):
            problems.append(
                f"array {layout.matrix!r} has shape {shape}; the run's model takes "
                f"{len(layout.features)} features per event: ({shape[0] if shape else 'n'}, "
                f"{len(layout.features)})"
            )
        elif dtype.kind not in "biuf":
            problems.append(f"array {layout.matrix!r} has dtype {dtype}; features must be numeric")
    for name, what in [*((k, "--keep") for k in keep), *extra]:
        if name not in columns:
            problems.append(f"{what}: no column {name!r}{did_you_mean(name, names)}")
        elif what != "--keep" and not _numeric(columns[name]) and not _is_text(columns[name]):
            problems.append(f"{what}: column {name!r} does not hold one value per event")
    if problems:
        shown = ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")
        raise DataError(f"{file.path}: " + "; ".join(problems) + f"\n  columns: {shown}")
    return found


def _is_text(dtype: np.dtype | None) -> bool:
    return dtype is not None and dtype.kind in "OSU"


def _matrix_shape(file: InputFile, found: Schema, name: str) -> tuple[tuple[int, ...], np.dtype]:
    if file.fmt == "npz":
        if name not in found.shapes:
            names = list(found.shapes)
            raise DataError(
                f"{file.path}: no array {name!r}{did_you_mean(name, names)}; arrays: "
                f"{', '.join(names) or 'none'}"
            )
        headers = _npz_headers(file.path)
        return headers[name][0], headers[name][2]
    shapes = _hdf5_shapes(file.path, [name])
    if name not in shapes:
        raise DataError(f"{file.path}: no dataset {name!r} (the run's data.x)")
    return shapes[name]


# ----------------------------------------------------------------------------------- chunks


def chunks(
    file: InputFile, layout: Layout, columns: Sequence[str], rows: int
) -> Iterator[dict[str, np.ndarray]]:
    """The file's events, at most `rows` at a time, in file order: `columns` by name, and the
    feature matrix under MATRIX for an array layout (the features by name otherwise)."""
    columns = list(dict.fromkeys(columns))
    if file.fmt == "npz":
        names = [*columns, *([layout.matrix] if layout.matrix else [])]
        for part in _npz_chunks(file.path, names, rows):
            if layout.matrix:
                part[MATRIX] = part.pop(layout.matrix)
            yield part
        return
    names = [*columns, *([layout.matrix] if layout.matrix else [])]
    reader = READERS[file.fmt]
    for chunk in reader(file.path, str(file.path), names, rows, **dict(file.options)):
        part = dict(chunk.columns)
        if layout.matrix:
            part[MATRIX] = part.pop(layout.matrix)
        yield part


def _npz_chunks(path: Path, names: Sequence[str], rows: int) -> Iterator[dict[str, np.ndarray]]:
    """Arrays of an .npz streamed out of the archive, `rows` events at a time (C order; an array
    written in Fortran order is read whole: its rows are not contiguous in the file)."""
    with zipfile.ZipFile(path) as archive:
        streams: dict[str, tuple[Any, tuple[int, ...], np.dtype]] = {}
        whole: dict[str, np.ndarray] = {}
        try:
            for name in names:
                fh = archive.open(f"{name}.npy")
                shape, fortran, dtype = _read_header(fh)
                if fortran and len(shape) > 1:
                    fh.close()
                    with np.load(path, allow_pickle=False) as npz:
                        whole[name] = npz[name]
                    continue
                streams[name] = (fh, shape, dtype)
            lengths = {n: s[1][0] if s[1] else 1 for n, s in streams.items()}
            lengths.update({n: len(a) for n, a in whole.items()})
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{k} {n}" for k, n in lengths.items())
                raise DataError(f"{path}: the arrays differ in length: {shown}")
            total = next(iter(lengths.values()), 0)
            for start in range(0, total, rows):
                count = min(rows, total - start)
                part = {}
                for name, (fh, shape, dtype) in streams.items():
                    per_row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
                    data = fh.read(count * per_row)
                    if len(data) != count * per_row:
                        raise DataError(
                            f"{path}: array {name!r} ends at entry {start + len(data) // max(per_row, 1)} "
                            f"of {total}: the file is truncated"
                        )
                    part[name] = np.frombuffer(data, dtype=dtype).reshape((count, *shape[1:]))
                for name, array in whole.items():
                    part[name] = array[start : start + count]
                yield part
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
            raise DataError(f"{path}: cannot read as .npz: {exc}") from None
        finally:
            for fh, _, _ in streams.values():
                fh.close()


__all__ = [
    "FORMATS",
    "MATRIX",
    "SUFFIXES",
    "InputFile",
    "Layout",
    "Schema",
    "check",
    "chunks",
    "input_format",
    "parse_inputs",
    "schema",
]
