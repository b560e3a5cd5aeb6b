"""The registry of data sources: each turns its spec section into a raw table of events.

Built-ins generate or bundle their data (no network); file sources read what the user points to.
Every problem with a file becomes a DataError (exit 2) naming the file and, where it applies,
the column, before any run directory is created.
"""

from __future__ import annotations

import dataclasses
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from expctl.data.files import check_npz_member, resolve_path
from expctl.data.table import Table
from expctl.errors import DataError, did_you_mean

Loader = Callable[[Any, Path, int], Table]
SOURCES: dict[str, Loader] = {}


def register(name: str) -> Callable[[Loader], Loader]:
    """Add a loader to the registry under the spec's `data.source` name."""

    def add(fn: Loader) -> Loader:
        SOURCES[name] = fn
        return fn

    return add


def load_table(data_spec: Any, base_dir: Path, seed: int) -> Table:
    """Load the events the spec's data section describes."""
    try:
        loader = SOURCES[data_spec.source]
    except KeyError:
        raise DataError(
            f"data.source: unknown source {data_spec.source!r}; one of {', '.join(SOURCES)}"
        ) from None
    return loader(data_spec, base_dir, seed)


# -------------------------------------------------------------------------------------- built-in


@register("jets")
def _jets(spec: Any, base_dir: Path, seed: int) -> Table:
    from expctl.data.jets import JET_FEATURES, generate_jets

    frame = generate_jets(spec.n_samples, seed=seed, signal_fraction=spec.signal_fraction)
    default = [c for c in JET_FEATURES if c != spec.target]
    names = list(spec.features) if spec.features is not None else default
    if spec.target in names:
        raise DataError(f"data.features: the target {spec.target!r} cannot also be a feature")
    return Table(
        features=frame[names].to_numpy(dtype=np.float64),
        target=frame[spec.target].to_numpy(),
        columns={c: frame[c].to_numpy() for c in frame.columns if c not in names},
        feature_names=tuple(names),
        target_name=spec.target,
        description=f"jets: {spec.n_samples} synthetic W-jet (signal) vs QCD-jet (background) events",
    )


@register("digits")
def _digits(spec: Any, base_dir: Path, seed: int) -> Table:
    if spec.images:
        from expctl.data.images import digits_images

        return digits_images()
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return Table(
        features=bunch.data.astype(np.float64),
        target=bunch.target.astype(np.int64),
        feature_names=tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8)),
        target_name="digit",
        description="digits: scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes)",
    )


# ---------------------------------------------------------------------------------------- images


@register("mnist")
def _mnist(spec: Any, base_dir: Path, seed: int) -> Table:
    from expctl.data.images import load_mnist

    return load_mnist(spec, base_dir, seed)


@register("jet_images")
def _jet_images(spec: Any, base_dir: Path, seed: int) -> Table:
    from expctl.data.images import jet_images_table

    return jet_images_table(spec.n_samples, spec.image_size, spec.signal_fraction, seed)


# ----------------------------------------------------------------------------------------- files


#: dtypes a float32 holds every value of exactly: features of these stay float32 from the file
#: to the model (no float64 copy); anything wider is read as float64 and made float32 only after
#: the standardisation constants are computed from it, as before (issue 15)
EXACT_IN_FLOAT32 = frozenset(
    np.dtype(t) for t in ("bool", "int8", "uint8", "int16", "uint16", "float16", "float32")
)


def feature_dtype(dtypes: Any) -> np.dtype:
    """float32 when every column's dtype fits it exactly, else float64."""
    try:
        exact = all(np.dtype(d) in EXACT_IN_FLOAT32 for d in dtypes)
    except TypeError:  # a pandas extension dtype (nullable integers, ...)
        exact = False
    return np.dtype(np.float32) if exact else np.dtype(np.float64)


class _Columns:
    """A file's table as `_from_columns` reads it: names, dtypes, single columns, features."""

    names: list[str]

    def dtype(self, name: str) -> Any:
        """The column's dtype as pandas reads it."""
        raise NotImplementedError

    def array(self, name: str) -> np.ndarray:
        """One column as pandas' `to_numpy` gives it."""
        raise NotImplementedError

    def missing(self, name: str) -> bool:
        """Whether the column has missing values (None, NaN)."""
        raise NotImplementedError

    def matrix(self, names: list[str]) -> np.ndarray:
        """The feature columns as one (n, d) array of `feature_dtype`, filled column by column."""
        raise NotImplementedError


class _FrameColumns(_Columns):
    def __init__(self, frame: Any) -> None:
        self.frame = frame
        self.names = [str(c) for c in frame.columns]

    def dtype(self, name: str) -> Any:
        return self.frame[name].dtype

    def array(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy()

    def missing(self, name: str) -> bool:
        return bool(self.frame[name].isna().any())

    def matrix(self, names: list[str]) -> np.ndarray:
        out = np.empty((len(self.frame), len(names)), feature_dtype(self.dtype(n) for n in names))
        for j, name in enumerate(names):
            out[:, j] = self.frame[name].to_numpy(dtype=out.dtype)
        return out


class _ParquetColumns(_Columns):
    """A Parquet file read column by column and batch by batch: no DataFrame of every column,
    and at most one batch of features beside the features array (issue 15)."""

    #: rows read at a time into the features array
    BATCH = 65_536

    def __init__(self, path: Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        # pre_buffer would keep every column chunk read so far (the whole file, compressed) in
        # Arrow's memory pool until the reader is closed
        self.file = pq.ParquetFile(path, pre_buffer=False)
        # a zero-row frame of the schema: the columns and dtypes pandas.read_parquet gives
        self.empty = self.file.schema_arrow.empty_table().to_pandas()
        self.names = [str(c) for c in self.empty.columns]
        self._read: dict[str, Any] = {}

    def dtype(self, name: str) -> Any:
        return self.empty[name].dtype

    def _series(self, name: str) -> Any:
        import pandas as pd

        if name not in self._read:
            self._read[name] = pd.read_parquet(self.path, columns=[name])[name]
        return self._read[name]

    def array(self, name: str) -> np.ndarray:
        return self._series(name).to_numpy()

    def missing(self, name: str) -> bool:
        return bool(self._series(name).isna().any())

    def matrix(self, names: list[str]) -> np.ndarray:
        n = self.file.metadata.num_rows
        out = np.empty((n, len(names)), feature_dtype(self.dtype(c) for c in names))
        start = 0
        for batch in self.file.iter_batches(batch_size=self.BATCH, columns=names):
            stop = start + batch.num_rows
            for j, name in enumerate(names):
                out[start:stop, j] = batch.column(name).to_numpy(zero_copy_only=False)
            start = stop
        if start != n:
            raise DataError(f"{self.path}: the file declares {n} rows but holds {start}")
        return out


def _weight_column(
    table: _Columns, spec: Any, names: list[str], path: Path
) -> tuple[list[str], np.ndarray | None]:
    """The feature names without the weight column, and the per-event weights (None if not set)."""
    columns = table.names
    if spec.weight is None:
        return names, None
    if spec.weight not in columns:
        raise DataError(
            f"{path}: data.weight: no column {spec.weight!r}{did_you_mean(spec.weight, columns)}; "
            f"columns: {', '.join(columns)}"
        )
    if spec.features is not None and spec.weight in names:
        raise DataError(
            f"{path}: data.features: the weight column {spec.weight!r} cannot also be a feature"
        )
    if table.dtype(spec.weight).kind not in "biuf":
        raise DataError(f"{path}: data.weight column {spec.weight!r} is not numeric")
    weight = np.asarray(table.array(spec.weight), dtype=np.float64)
    return [n for n in names if n != spec.weight], weight


def _from_frame(frame: Any, spec: Any, path: Path) -> Table:
    return _from_columns(_FrameColumns(frame), spec, path)


def _from_columns(table: _Columns, spec: Any, path: Path) -> Table:
    columns = table.names
    if spec.target not in columns:
        raise DataError(
            f"{path}: data.target: no column {spec.target!r}{did_you_mean(spec.target, columns)}; "
            f"columns: {', '.join(columns)}"
        )
    names = (
        list(spec.features)
        if spec.features is not None
        else [c for c in columns if c != spec.target]
    )
    missing = [n for n in names if n not in columns]
    if missing:
        hints = "".join(f"\n  {m!r}{did_you_mean(m, columns)}" for m in missing)
        raise DataError(
            f"{path}: data.features: no such column(s):{hints}\n  columns: {', '.join(columns)}"
        )
    if spec.target in names:
        raise DataError(
            f"{path}: data.features: the target {spec.target!r} cannot also be a feature"
        )
    names, weight = _weight_column(table, spec, names, path)
    if not names:
        raise DataError(f"{path}: no feature columns besides the target {spec.target!r}")
    non_numeric = [n for n in names if table.dtype(n).kind not in "biuf"]
    if non_numeric:
        raise DataError(
            f"{path}: feature column(s) {', '.join(map(repr, non_numeric))} are not numeric; "
            "encode them as numbers or leave them out with data.features"
        )
    target = table.array(spec.target)
    if target.dtype.kind == "O":
        if table.missing(spec.target):
            raise DataError(f"{path}: target column {spec.target!r} has missing values")
        target = target.astype(str)
    return Table(
        features=table.matrix(names),
        target=target,
        feature_names=tuple(names),
        target_name=spec.target,
        description=f"{spec.source}: {path}",
        weight=weight,
        origin=str(path),
        segments=((spec.path, len(target)),),
        columns={
            c: table.array(c)
            for c in columns
            if c not in names and c != spec.weight and table.dtype(c).kind in "biufO"
        },
    )


@register("csv")
def _csv(spec: Any, base_dir: Path, seed: int) -> Table:
    import pandas as pd

    path = resolve_path(spec.path, base_dir)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None
    return _from_frame(frame, spec, path)


@register("parquet")
def _parquet(spec: Any, base_dir: Path, seed: int) -> Table:
    path = resolve_path(spec.path, base_dir)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise DataError(
            "data.source parquet needs pyarrow: install it with `uv pip install pyarrow`"
        ) from None
    try:
        return _from_columns(_ParquetColumns(path), spec, path)
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises many types for a bad file
        raise DataError(f"{path}: cannot read as Parquet: {exc}") from None


@register("npz")
def _npz(spec: Any, base_dir: Path, seed: int) -> Table:
    path = resolve_path(spec.path, base_dir)
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n.removesuffix(".npy") for n in archive.namelist()]
            wanted = [(spec.x, "data.x"), (spec.y, "data.y")]
            if spec.weight is not None:
                wanted.append((spec.weight, "data.weight"))
            for key, what in wanted:
                if key not in names:
                    raise DataError(
                        f"{path}: {what}: no array {key!r}{did_you_mean(key, names)}; arrays: {', '.join(names)}"
                    )
                check_npz_member(archive, key, path)
        with np.load(path, allow_pickle=False) as npz:
            x = np.asarray(npz[spec.x])
            y = np.asarray(npz[spec.y])
            w = np.asarray(npz[spec.weight], dtype=np.float64) if spec.weight else None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise DataError(f"{path}: cannot read as .npz: {exc}") from None
    except ValueError as exc:
        raise DataError(f"{path}: cannot load arrays: {exc}") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise DataError(
            f"{path}: array {spec.x!r} has shape {x.shape}; expected (n_events, n_features)"
        )
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"{path}: array {spec.y!r} has shape {y.shape}; expected ({len(x)},), one target per event"
        )
    if w is not None and w.shape != y.shape:
        raise DataError(
            f"{path}: array {spec.weight!r} has shape {w.shape}; expected one weight per event"
        )
    if x.dtype.kind not in "biuf":
        raise DataError(f"{path}: array {spec.x!r} has dtype {x.dtype}; features must be numeric")
    return Table(
        features=x.astype(feature_dtype([x.dtype]), copy=False),
        target=y,
        feature_names=tuple(f"x{i}" for i in range(x.shape[1])),
        target_name=spec.y,
        description=f"npz: {path}",
        weight=w,
        origin=str(path),
    )


@register("polynomial")
def _polynomial(spec: Any, base_dir: Path, seed: int) -> Table:
    from expctl.data.polynomial import describe, generate

    x, _, y = generate(spec, seed)
    return Table(
        features=x[:, None],
        target=y,
        feature_names=("x",),
        target_name="y",
        description=describe(spec, seed),
    )


# ------------------------------------------------------------------------------------ HDF5, ROOT


def _install_hint(module: str, extra: str) -> str:
    return (
        f"needs {module}: install it with `uv sync --extra {extra}` "
        f"(or `pip install 'expctl[{extra}]'`)"
    )


def _h5_columns(node: Any, path: Path, name: str) -> dict[str, np.ndarray]:
    """The columns of an HDF5 table: a compound dataset's fields, or a group's 1-D datasets."""
    import h5py

    if isinstance(node, h5py.Dataset):
        if node.dtype.names is None:
            raise DataError(
                f"{path}: data.table: dataset {name!r} is not a table (no named fields, "
                f"shape {node.shape}); give a compound dataset or a group, or use x: and y:"
            )
        if node.ndim != 1:
            raise DataError(f"{path}: data.table: {name!r} has shape {node.shape}; expected (n,)")
        records = node[()]
        return {field: np.asarray(records[field]) for field in node.dtype.names}
    columns: dict[str, np.ndarray] = {}
    for key, member in node.items():
        if isinstance(member, h5py.Dataset) and member.ndim == 1 and member.dtype.names is None:
            columns[key] = np.asarray(member[()])
    if not columns:
        raise DataError(f"{path}: data.table: group {name!r} holds no 1-D datasets (columns)")
    lengths = {k: len(v) for k, v in columns.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{k} {n}" for k, n in lengths.items())
        raise DataError(f"{path}: data.table: columns of {name!r} differ in length: {shown}")
    return columns


def _h5_member(handle: Any, name: str, what: str, path: Path) -> Any:
    if name not in handle:
        found: list[str] = []
        handle.visit(found.append)
        raise DataError(
            f"{path}: {what}: no dataset or group {name!r}{did_you_mean(name.strip('/'), found)}; "
            f"the file holds: {', '.join(found) or 'nothing'}"
        )
    return handle[name]


@register("hdf5")
def _hdf5(spec: Any, base_dir: Path, seed: int) -> Table:
    import h5py
    import pandas as pd

    path = resolve_path(spec.path, base_dir)
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: cannot read as HDF5: {exc}") from None
    with handle:
        if spec.table is not None:
            node = _h5_member(handle, spec.table, "data.table", path)
            columns = _h5_columns(node, path, spec.table)
            for key, values in columns.items():
                if values.dtype.kind == "S":  # fixed-length byte strings: class names
                    columns[key] = values.astype(str)
            table = _from_frame(pd.DataFrame(columns), spec, path)
            return dataclasses.replace(table, description=f"hdf5: {path} ({spec.table})")
        arrays = {}
        for key, what in ((spec.x, "data.x"), (spec.y, "data.y"), (spec.weight, "data.weight")):
            if key is not None:
                member = _h5_member(handle, key, what, path)
                if not isinstance(member, h5py.Dataset):
                    raise DataError(f"{path}: {what}: {key!r} is a group, not a dataset")
                arrays[what] = np.asarray(member[()])
    x, y, w = arrays["data.x"], arrays["data.y"], arrays.get("data.weight")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: dataset {spec.x!r} has shape {x.shape} and dtype {x.dtype}; "
            "expected numbers of shape (n_events, n_features)"
        )
    if y.ndim != 1 or len(y) != len(x):
        raise DataError(
            f"{path}: dataset {spec.y!r} has shape {y.shape}; expected ({len(x)},), one target per event"
        )
    if y.dtype.kind == "S":
        y = y.astype(str)
    if w is not None and w.shape != y.shape:
        raise DataError(
            f"{path}: dataset {spec.weight!r} has shape {w.shape}; expected one weight per event"
        )
    return Table(
        features=x.astype(feature_dtype([x.dtype]), copy=False),
        target=y,
        feature_names=tuple(f"x{i}" for i in range(x.shape[1])),
        target_name=spec.y,
        description=f"hdf5: {path}",
        weight=None if w is None else w.astype(np.float64),
        origin=str(path),
        segments=((spec.path, len(y)),),
    )


#: Class names of the ROOT objects read as tables: TTrees and their successor, RNTuples.
ROOT_TABLES = ("TTree", "ROOT::RNTuple")


def _root_tree(uproot: Any, path: Path, tree: str) -> Any:
    try:
        handle = uproot.open(path)
    except Exception as exc:  # uproot raises many types for a file that is not ROOT
        raise DataError(f"{path}: cannot read as a ROOT file: {exc}") from None
    trees = [k.split(";")[0] for k, v in handle.classnames().items() if v.startswith(ROOT_TABLES)]
    if tree not in trees:
        raise DataError(
            f"{path}: data.tree: no TTree {tree!r}{did_you_mean(tree, trees)}; "
            f"trees: {', '.join(trees) or 'none'}"
        )
    return handle[tree]


def _is_scalar(values: np.ndarray) -> bool:
    """One number per event (jagged branches come back as arrays of objects)."""
    return values.ndim == 1 and values.dtype.kind in "biuf"


@register("root")
def _root(spec: Any, base_dir: Path, seed: int) -> Table:
    try:
        import uproot
    except ImportError:
        raise DataError("data.source root " + _install_hint("uproot", "root")) from None

    parts: list[dict[str, np.ndarray]] = []
    names: list[str] | None = list(spec.features) if spec.features else None
    extra = [b for b in (spec.target, spec.weight) if b is not None]
    paths = []
    for i, entry in enumerate(spec.files):
        path = resolve_path(entry.path, base_dir)
        paths.append(path)
        ttree = _root_tree(uproot, path, entry.tree or spec.tree)
        available = list(ttree.keys())
        wanted = [*(names if names is not None else available), *extra]
        for branch in dict.fromkeys(wanted):
            if branch not in available:
                raise DataError(
                    f"{path}: data.files[{i}]: no branch {branch!r}{did_you_mean(branch, available)}; "
                    f"branches: {', '.join(available)}"
                )
        try:
            arrays = ttree.arrays(list(dict.fromkeys(wanted)), library="np")
        except Exception as exc:  # uproot: a branch it cannot interpret
            raise DataError(f"{path}: cannot read the branches {wanted}: {exc}") from None
        if names is None:  # default: every scalar numeric branch but target and weight
            names = [b for b in available if b not in extra and _is_scalar(arrays[b])]
            if not names:
                raise DataError(f"{path}: no scalar numeric branches to use as features")
        for branch in [*names, *(b for b in extra if b != spec.target)]:
            if not _is_scalar(arrays[branch]):
                raise DataError(
                    f"{path}: branch {branch!r} does not hold one number per event "
                    f"(dtype {arrays[branch].dtype}, shape {arrays[branch].shape}); "
                    "expctl reads scalar numeric branches"
                )
        if spec.target is None:
            arrays["__label__"] = np.full(len(arrays[names[0]]), entry.label)
        parts.append(arrays)
    assert names is not None
    for key, what in ((spec.target, "target"), (spec.weight, "weight")):
        if key is not None and key in names:
            raise DataError(f"data.features: the {what} branch {key!r} cannot also be a feature")
    target_key = spec.target or "__label__"
    dtype = feature_dtype(p[b].dtype for p in parts for b in names)
    features = np.empty((sum(len(p[names[0]]) for p in parts), len(names)), dtype)
    start = 0
    for p in parts:  # filled branch by branch: no float64 or per-file copy of the features
        stop = start + len(p[names[0]])
        for j, branch in enumerate(names):
            features[start:stop, j] = p[branch]
        start = stop
    target = np.concatenate([np.asarray(p[target_key]) for p in parts])
    weight = (
        np.concatenate([np.asarray(p[spec.weight], dtype=np.float64) for p in parts])
        if spec.weight
        else None
    )
    files = ", ".join(
        p.name + (f" (label {e.label})" if e.label is not None else "")
        for p, e in zip(paths, spec.files, strict=True)
    )
    return Table(
        features=features,
        target=target,
        feature_names=tuple(names),
        target_name=spec.target or "label",
        description=f"root: {len(target)} events of {spec.tree} from {files}",
        weight=weight,
        origin=str(paths[0]) if len(paths) == 1 else "",
        segments=tuple((e.path, len(p[names[0]])) for e, p in zip(spec.files, parts, strict=True)),
    )
