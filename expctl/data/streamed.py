"""Data larger than memory: a dataset whose splits are read from the files again, chunk by chunk.

`prepare_streamed` makes one pass over the files (`scan`): it checks every event (NaN policy,
weights, target), counts the events of each split and class, and takes the training split's
exact standardisation constants and the fingerprint. It returns a `StreamedDataset`, which looks
like `expctl.data.Dataset` to the model builder, the trainer and the run record, but whose splits
hold no arrays: `StreamedDataset.parts(split)` reads a split again, chunk by chunk, and
`batches` makes training batches of it through a bounded shuffle buffer, in an order that is a
function of (seed, epoch) alone (`expctl.data.batches`), so `resume` and `verify` work.

Which split an event is in is `expctl.data.chunked.hash_split` of (file, entry, seed), exactly as
`expctl.data.prepare` splits the same files in memory; label noise too is a function of the
event's identity. `should_stream` decides between the two paths: `data.stream: true`, or `auto`
(the default) when the estimated in-memory size exceeds `data.memory_budget`.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from expctl.data.chunked import RunningMoments, label_flips
from expctl.data.dataset import MAX_INFERRED_CLASSES, HeadData, heads_summary, infer_task
from expctl.data.files import resolve_path
from expctl.data.sources import _h5_member
from expctl.data.stream import SPLITS, Part, SplitCache, StreamedFile, StreamedFiles, parts
from expctl.errors import DataError, did_you_mean

#: The data sources that can be streamed (their readers: expctl.data.readers.READERS).
STREAMABLE = ("parquet", "hdf5", "root", "csv")
#: In-memory peak as a multiple of the float32 features (measured: 4M x 28 -> 1.5 GB, ~3.3x).
MEMORY_FACTOR = 3.5
#: The default memory budget: this fraction of the machine's RAM.
BUDGET_FRACTION = 0.5
#: Distinct target values kept while scanning; more make the target a regression's.
MAX_DISTINCT = 1000
#: Chunks read ahead by the reading thread.
READ_AHEAD = 3


def machine_memory() -> int:
    """Bytes of RAM of this machine (cgroup limits not considered)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux
        return 8 << 30


def memory_budget(data_spec: Any) -> int:
    """data.memory_budget in bytes; default BUDGET_FRACTION of the machine's RAM."""
    budget = getattr(data_spec, "memory_budget", None)
    return int(budget) if budget is not None else int(machine_memory() * BUDGET_FRACTION)


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


# ---------------------------------------------------------------------------------- the files


def _columns_of(source: str, path: Path, options: dict[str, Any]) -> dict[str, np.dtype]:
    """A file's columns and their dtypes, read from its metadata or first events."""
    try:
        if source == "parquet":
            import pyarrow.parquet as pq

            empty = pq.ParquetFile(path).schema_arrow.empty_table().to_pandas()
            return {str(c): empty[c].dtype for c in empty.columns}
        if source == "csv":
            import pandas as pd

            head = pd.read_csv(path, nrows=1000)
            return {str(c): head[c].dtype for c in head.columns}
        if source == "hdf5":
            import h5py

            with h5py.File(path, "r") as handle:
                table = options["table"]
                _h5_member(handle, table, "data.table", path)
                node = handle[table]
                if isinstance(node, h5py.Dataset):
                    if node.dtype.names is None or node.ndim != 1:
                        raise DataError(
                            f"{path}: data.table: {table!r} is not a table (a compound dataset "
                            "of shape (n,) or a group of 1-D datasets)"
                        )
                    return {name: node.dtype[name] for name in node.dtype.names}
                return {
                    k: v.dtype
                    for k, v in node.items()
                    if isinstance(v, h5py.Dataset) and v.ndim == 1 and v.dtype.names is None
                }
        if source == "root":
            import uproot

            from expctl.data.sources import _is_scalar, _root_tree

            ttree = _root_tree(uproot, path, options["tree"])
            first = ttree.arrays(list(ttree.keys()), entry_stop=1, library="np")
            # a branch without one number per event shows as not numeric
            return {
                k: v.dtype if _is_scalar(np.asarray(v)) else np.dtype(object)
                for k, v in first.items()
            }
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except Exception as exc:  # the libraries raise many types for a file they cannot read
        raise DataError(f"{path}: cannot read as {source}: {exc}") from None
    raise DataError(f"data.source {source!r} cannot be streamed; can: {', '.join(STREAMABLE)}")


def _events_in(source: str, path: Path, options: dict[str, Any]) -> int | None:
    """The number of events a file declares (None when only reading it would tell: CSV)."""
    try:
        if source == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        if source == "hdf5":
            import h5py

            with h5py.File(path, "r") as handle:
                node = handle[options["table"]]
                if isinstance(node, h5py.Dataset):
                    return len(node)
                return max((len(v) for v in node.values() if hasattr(v, "shape")), default=0)
        if source == "root":
            import uproot

            from expctl.data.sources import _root_tree

            return int(_root_tree(uproot, path, options["tree"]).num_entries)
    except DataError:
        raise
    except Exception as exc:
        raise DataError(f"{path}: cannot read as {source}: {exc}") from None
    return None


def _kind(dtype: Any) -> str:
    """numpy's kind of a column's dtype; "O" for pandas' own (strings, nullable integers)."""
    try:
        return str(np.dtype(dtype).kind)
    except TypeError:
        return "O"


@dataclass(frozen=True)
class Plan:
    """What a streamed run reads: the files, the columns, and their sizes."""

    files: StreamedFiles
    events: int | None
    file_bytes: int

    def in_memory_bytes(self) -> int:
        """The estimated peak of reading the files in memory (MEMORY_FACTOR x the features)."""
        if self.events is None:  # CSV: text is ~2-3x its float32 numbers
            return int(self.file_bytes * MEMORY_FACTOR / 2)
        return int(self.events * len(self.files.features) * 4 * MEMORY_FACTOR)


def plan(data_spec: Any, base_dir: Path, seed: int, heads: Sequence[Any] = ()) -> Plan:
    """The files of a streamable data section, checked: each exists (else DataError naming it,
    before anything is written), has the target, weight and feature columns, features numeric.
    With multitask `heads` (model.heads), the first head's target is the main one and every
    head's target is read with each chunk, never a feature (as in memory)."""
    source = data_spec.source
    if source == "root":
        entries = [(f.path, {"tree": f.tree or data_spec.tree}, f.label) for f in data_spec.files]
    elif source == "hdf5":
        if data_spec.table is None:
            raise DataError(
                "data.stream: an HDF5 file is streamed from a table (data.table with data.target); "
                "x:/y: arrays are read in memory (data.stream: false)"
            )
        entries = [(data_spec.path, {"table": data_spec.table}, None)]
    else:
        entries = [(data_spec.path, {}, None)]
    # every file must exist before any is read (a missing one among several: exit 2)
    paths = []
    for i, (name, _, _) in enumerate(entries):
        try:
            paths.append(resolve_path(name, base_dir))
        except DataError as exc:
            where = f"data.files[{i}]: " if source == "root" else ""
            raise DataError(f"{where}{exc.message}") from None
    target = data_spec.target
    weight = data_spec.weight
    features: list[str] | None = list(data_spec.features) if data_spec.features else None
    head_targets = list(dict.fromkeys(h.target for h in heads))
    for t in head_targets:
        if features is not None and t in features:
            raise DataError(
                f"model.heads: a head predicts {t!r}, which data.features also lists: "
                "a target cannot be an input"
            )
    main = head_targets[0] if head_targets else target
    files, events, size = [], 0, 0
    for (name, options, label), path in zip(entries, paths, strict=True):
        columns = _columns_of(source, path, options)
        available = list(columns)
        wanted = [c for c in (target, weight, *head_targets) if c is not None]
        what_col, plural = ("branch", "branches") if source == "root" else ("column", "columns")
        if features is None:
            features = [c for c in available if c not in wanted]
            if source == "root":  # as in memory: every scalar numeric branch
                features = [c for c in features if _kind(columns[c]) in "biuf"]
        for column, what in [(c, "data.features") for c in features] + [
            (target if label is None else None, "data.target"),
            (weight, "data.weight"),
            *((t, "model.heads") for t in head_targets),
        ]:
            if column is not None and column not in columns:
                raise DataError(
                    f"{path}: {what}: no {what_col} {column!r}{did_you_mean(column, available)}; "
                    f"{plural}: {', '.join(available)}"
                )
        for column, what in ((target, "target"), (weight, "weight")):
            if column is not None and column in features:
                raise DataError(
                    f"{path}: data.features: the {what} {column!r} cannot also be a feature"
                )
        bad = [c for c in features if _kind(columns[c]) not in "biuf"]
        if bad:
            raise DataError(
                f"{path}: feature column(s) {', '.join(map(repr, bad))} are not numeric; "
                "encode them as numbers or leave them out with data.features"
            )
        if weight is not None and _kind(columns[weight]) not in "biuf":
            raise DataError(f"{path}: data.weight column {weight!r} is not numeric")
        files.append(StreamedFile(path, name, options, label))
        n = _events_in(source, path, options)
        events = None if n is None or events is None else events + n
        size += path.stat().st_size
    if not features:
        raise DataError(f"{paths[0]}: no feature columns besides the target")
    split = data_spec.split
    streamed = StreamedFiles(
        source,
        tuple(files),
        tuple(features),
        main,
        weight,
        seed=seed,
        val=split.val,
        test=split.test,
        rows=data_spec.chunk_size,
        extra=tuple(head_targets),
    )
    return Plan(streamed, events, size)


#: Files of at most 1/MAX_EXPANSION of the memory budget on disk are read in memory without
#: looking inside (compressed Parquet or ROOT files take up to a few times their size as float32).
MAX_EXPANSION = 10


def _file_bytes(data_spec: Any, base_dir: Path) -> int:
    """The data files' size on disk (a file that cannot be found counts as huge: look inside)."""
    names = [f.path for f in data_spec.files] if data_spec.source == "root" else [data_spec.path]
    total = 0
    for name in names:
        try:
            total += resolve_path(name, base_dir).stat().st_size
        except (DataError, OSError):
            return 1 << 62
    return total


def should_stream(data_spec: Any, base_dir: Path, seed: int) -> str | None:
    """Why the data are streamed (one line to announce), or None to read them in memory."""
    choice = getattr(data_spec, "stream", False)
    if data_spec.source not in STREAMABLE or choice is False:
        return None
    if data_spec.source == "hdf5" and data_spec.table is None and choice == "auto":
        return None
    if choice is True:
        return "data.stream: true: streaming the files chunk by chunk"
    budget = memory_budget(data_spec)
    if _file_bytes(data_spec, base_dir) * MAX_EXPANSION <= budget:
        return None  # small files: no need to open them to know they fit
    try:
        estimate = plan(data_spec, base_dir, seed).in_memory_bytes()
    except DataError:
        return None  # reading it in memory names the problem as it always has
    if estimate <= budget:
        return None
    return (
        f"streaming the data: about {_gb(estimate)} in memory would exceed the memory budget "
        f"of {_gb(budget)} (data.memory_budget; data.stream: false reads them in memory)"
    )


# ---------------------------------------------------------------------------------- the scan


class _Digests:
    """sha256 of each (split, array) stream, combined into one fingerprint at the end."""

    def __init__(self) -> None:
        self.digests: dict[str, Any] = {}
        self.shapes: dict[str, list[Any]] = {}

    def update(self, name: str, array: np.ndarray) -> None:
        array = np.ascontiguousarray(array)
        if name not in self.digests:
            self.digests[name] = hashlib.sha256()
            self.shapes[name] = [array.dtype.str, 0, *array.shape[1:]]
        self.shapes[name][1] += len(array)
        self.digests[name].update(array.reshape(-1).view(np.uint8))

    def fingerprint(self) -> str:
        total = hashlib.sha256()
        for name in sorted(self.digests):
            total.update(f"{name}:{self.shapes[name]}:{self.digests[name].hexdigest()};".encode())
        return "sha256-streamed:" + total.hexdigest()


@dataclass
class _MaskedMoments:
    """Per-column count, mean and squared deviations of the finite values only (data.nan: mean)."""

    count: np.ndarray | None = None
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None

    def update(self, x: np.ndarray) -> None:
        finite = np.isfinite(x)
        n = finite.sum(axis=0).astype(np.float64)
        values = np.where(finite, x, 0.0).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, values.sum(axis=0) / np.maximum(n, 1), 0.0)
        m2 = (np.where(finite, values - mean, 0.0) ** 2).sum(axis=0)
        if self.count is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        assert self.mean is not None and self.m2 is not None
        total = self.count + n
        safe = np.maximum(total, 1)
        delta = mean - self.mean
        self.mean = self.mean + delta * n / safe
        self.m2 = self.m2 + m2 + delta * delta * self.count * n / safe
        self.count = total


@dataclass
class ScanTotals:
    """What one pass over the files found (see `scan`)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0))
    values: dict[str, dict[Any, int]] = field(default_factory=lambda: {s: {} for s in SPLITS})
    many_values: bool = False
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SPLITS, 0.0))
    moments: RunningMoments = field(default_factory=RunningMoments)
    finite: _MaskedMoments = field(default_factory=_MaskedMoments)
    dropped: int = 0
    digests: _Digests = field(default_factory=_Digests)
    #: multitask: each other head target's distinct values (None: too many) and training moments
    extra_values: dict[str, dict[Any, int] | None] = field(default_factory=dict)
    extra_moments: dict[str, RunningMoments] = field(default_factory=dict)


def _check_part(part: Part, names: Sequence[str], policy: str) -> tuple[Part, int]:
    """The NaN policy applied to one chunk before anything else sees it: error raises naming
    the columns, file and entries; drop leaves those events out (count returned)."""
    bad = ~np.isfinite(part.x)
    if not bad.any():
        return part, 0
    if policy == "error":
        columns = [names[j] for j in np.flatnonzero(bad.any(axis=0))]
        first = int(part.entries[np.flatnonzero(bad.any(axis=1))[0]])
        raise DataError(
            f"{part.key}: feature column(s) {', '.join(map(repr, columns))} contain NaN or "
            f"infinite values (first at entry {first}); clean the file, leave those columns out "
            "with data.features, or set data.nan: drop | zero | mean"
        )
    if policy == "drop":
        keep = ~bad.any(axis=1)
        return part.select(keep), int((~keep).sum())
    return part, 0  # zero / mean: filled later, when the fill values are known


def scan(files: StreamedFiles, policy: str, cache: SplitCache | None = None) -> ScanTotals:
    """One pass over every file: counts, target values, weights, moments, fingerprint (and
    each chunk's split codes into `cache`)."""
    totals = ScanTotals()
    for raw in _read(files, None, cache):
        part, dropped = _check_part(raw, files.features, policy)
        totals.dropped += dropped
        if part.w is not None and not np.all(np.isfinite(part.w)):
            raise DataError(f"{part.key}: data.weight: NaN or infinite event weights")
        y = part.y
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise DataError(f"{part.key}: target {files.target!r} has NaN or infinite values")
        for name, code in SPLITS.items():
            mine = part.split == code
            n = int(np.count_nonzero(mine))
            if not n:
                continue
            totals.counts[name] += n
            if not totals.many_values:
                found, counts = np.unique(y[mine], return_counts=True)
                table = totals.values[name]
                for value, count in zip(found.tolist(), counts.tolist(), strict=True):
                    table[value] = table.get(value, 0) + count
                if len(table) > MAX_DISTINCT:
                    totals.many_values = True
            if part.w is not None:
                totals.weights[name] += float(part.w[mine].sum())
            x = part.x[mine]
            if name == "train":
                if policy in ("zero", "mean"):
                    totals.finite.update(x)
                else:
                    totals.moments.update(x)
            totals.digests.update(f"{name}.x", x)
            totals.digests.update(f"{name}.y", y[mine])
            if part.w is not None:
                totals.digests.update(f"{name}.w", part.w[mine])
            for column, values in part.extra.items():
                _count_extra(totals, column, values[mine], name == "train")
                totals.digests.update(f"{name}.{column}", values[mine])
    return totals


def _count_extra(totals: ScanTotals, column: str, values: np.ndarray, train: bool) -> None:
    """A multitask head's target: its distinct values (bounded), its training moments."""
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise DataError(f"target {column!r} has NaN or infinite values")
    table = totals.extra_values.setdefault(column, {})
    if table is not None:
        found, counts = np.unique(values, return_counts=True)
        for value, count in zip(found.tolist(), counts.tolist(), strict=True):
            table[value] = table.get(value, 0) + count
        if len(table) > MAX_DISTINCT:
            totals.extra_values[column] = None
    if train and values.dtype.kind in "biuf":
        moments = totals.extra_moments.setdefault(column, RunningMoments())
        moments.update(values.astype(np.float64)[:, None])


def _read(
    files: StreamedFiles, want: int | None = None, cache: SplitCache | None = None
) -> Iterator[Part]:
    """Every file's parts (of split `want`, or all), read ahead in a thread (the reading overlaps
    the caller's work)."""
    return read_ahead(parts(files, files.rows, want, cache), READ_AHEAD)


def read_ahead(items: Iterator[Any], depth: int) -> Iterator[Any]:
    """`items` produced by a background thread up to `depth` ahead; its exceptions re-raised."""
    q: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    end = object()

    def put(entry: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((None, item)):
                    return
            put((None, end))
        except BaseException as exc:  # handed to the consumer
            put((exc, None))

    thread = threading.Thread(target=produce, name="expctl-read", daemon=True)
    thread.start()
    try:
        while True:
            error, item = q.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()


# ---------------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class StreamedSplit:
    """One split of a streamed dataset: its size and class counts; its events stay in the files."""

    name: str
    n: int
    class_counts: tuple[int, ...] | None
    sum_of_weights: float | None

    def __len__(self) -> int:
        return self.n

    @property
    def x(self) -> Any:
        raise AttributeError(
            f"the {self.name} split is streamed from the files: its events are read chunk by chunk"
        )


@dataclass(frozen=True)
class Batch:
    """Events of a chunk ready for the model: features (float32), encoded targets, weights."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray | None
    #: multitask: each head's encoded target by head name (y is the first head's)
    targets: dict[str, np.ndarray] | None = None


@dataclass(frozen=True)
class StreamedDataset:
    """A dataset read from its files each time it is needed (see the module's docstring)."""

    files: StreamedFiles
    train: StreamedSplit
    val: StreamedSplit
    test: StreamedSplit
    task: str
    feature_names: tuple[str, ...]
    target_name: str
    classes: tuple[Any, ...] | None
    mean: np.ndarray | None
    std: np.ndarray | None
    description: str
    fill: np.ndarray | None
    label_noise: float
    shuffle_buffer: int
    fingerprint: str
    #: data.memory_budget in bytes (decides whether the validation events are kept in memory)
    budget: int = 0
    #: each chunk's split codes, from the scan on (the hash is not computed again every pass)
    splits: SplitCache = field(default_factory=dict, repr=False)
    #: each file's number of events (or bytes) by its index, from the first mixed pass on
    sizes: dict[int, int] = field(default_factory=dict, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    heads: tuple[HeadData, ...] = ()

    streamed = True

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (self.n_features,)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "description": self.description,
            "task": self.task,
            "target": self.target_name,
            "features": list(self.feature_names),
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
        }
        splits = (self.train, self.val, self.test)
        if self.classes is not None:
            out["classes"] = [c.item() if isinstance(c, np.generic) else c for c in self.classes]
            out["class_counts"] = {s.name: list(s.class_counts or ()) for s in splits}
        if self.files.weight is not None:
            out["sum_of_weights"] = {s.name: s.sum_of_weights for s in splits}
        if self.heads:
            out["heads"] = heads_summary(self.heads)
        out.update(self.extra)
        if self.mean is not None:
            assert self.std is not None
            out["standardization"] = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        return out

    def _encode(self, y: np.ndarray) -> np.ndarray:
        if self.classes is None:
            return y.astype(np.float32)
        classes = np.asarray(self.classes)
        if y.dtype.kind == "O":
            y = y.astype(str)
        return np.searchsorted(classes, y).astype(np.int64)

    def parts(self, split: str, order: str = "file") -> Iterator[tuple[Part, Batch]]:
        """The events of `split` chunk by chunk, NaN policy and label noise applied.

        `order`: "file" reads the files one after the other (as in memory); "mixed" interleaves
        their chunks in proportion to their sizes, so a shuffle buffer sees every file at once.
        """
        code = SPLITS[split]
        policy = self.extra.get("nan_policy", "error")
        if order == "mixed":
            source = _interleaved(self.files, code, self.splits, self.sizes)
        else:
            source = _read(self.files, code, self.splits)
        for raw in source:
            # data.nan: error was checked on every event by the scan
            part = raw if policy == "error" else _check_part(raw, self.feature_names, policy)[0]
            if not len(part.entries):
                continue
            x = part.x
            if self.fill is not None:
                x = np.where(np.isfinite(x), x, self.fill)
            y = self._encode(part.y)
            if split == "train" and self.label_noise > 0 and self.classes is not None:
                k = len(self.classes)
                y = (
                    y + label_flips(part.key, part.entries, self.files.seed, self.label_noise, k)
                ) % k
            targets = None
            if self.heads:
                targets = {h.name: _encode_head(part.extra[h.target], h) for h in self.heads}
            yield part, Batch(x.astype(np.float32, copy=False), y, part.w, targets)

    def batches(
        self,
        split: str,
        batch_size: int,
        seed: Sequence[int] | Callable[[], Sequence[int]] | None,
        weight: Callable[[Batch], np.ndarray | None],
        blocks: int = 0,
    ) -> Iterator[tuple[np.ndarray, ...]]:
        """Batches (x, y[, w]) of `split`; shuffled through the buffer with `seed` (e.g.
        (run seed, epoch), or a function giving it, called once the buffer is full: the files
        can be read before the epoch is known), in file order with None; with `blocks` > 0,
        groups of that many batches (`expctl.data.batches.shuffled_batches`; `block_count` of
        them)."""
        from expctl.data.batches import shuffled_batches

        shuffle = seed is not None and self.shuffle_buffer > 0
        key: Any = [0] if seed is None else seed
        if not callable(key):
            key = list(key)
        names = [h.name for h in self.heads]

        def flat(b: Batch) -> tuple[np.ndarray, ...]:
            ys = (b.y,) if b.targets is None else tuple(b.targets[n] for n in names)
            return (b.x, *ys) + (() if (w := weight(b)) is None else (w,))

        chunks = (flat(b) for _, b in self.parts(split, "mixed" if shuffle else "file"))
        k = 1 + max(1, len(names))  # x and the targets; then the weights, if any
        for batch in shuffled_batches(
            chunks, batch_size, self.shuffle_buffer if shuffle else 0, key, blocks
        ):
            y = batch[1] if not names else dict(zip(names, batch[1:k], strict=True))
            yield (batch[0], y, *batch[k:])

    def in_memory_bytes(self, split: str) -> int:
        """What one split's features, targets and weights take as arrays."""
        return len(getattr(self, split)) * (4 * self.n_features + 16)

    def sample(self, split: str, limit: int) -> Any:
        """An in-memory `expctl.data.Split` of about `limit` events of `split` (all when it has
        fewer): each event kept when a number fixed by its identity and the seed is below
        limit / n, so the same events every time, spread over every file."""
        from expctl.data.chunked import uniform
        from expctl.data.dataset import Split

        n = len(getattr(self, split))
        share = 1.0 if n <= limit else limit / n
        xs, ys, ws = [], [], []
        targets: dict[str, list[np.ndarray]] = {h.name: [] for h in self.heads}
        for part, batch in self.parts(split):
            keep = uniform(part.key + "\0sample", part.entries, self.files.seed) < share
            xs.append(batch.x[keep])
            ys.append(batch.y[keep])
            if batch.w is not None:
                ws.append(np.asarray(batch.w)[keep])
            for name, values in (batch.targets or {}).items():
                targets[name].append(values[keep])
        if not xs:
            return Split(np.zeros((0, self.n_features), np.float32), np.zeros(0), None)
        return Split(
            np.concatenate(xs),
            np.concatenate(ys),
            np.concatenate(ws) if ws else None,
            {k: np.concatenate(v) for k, v in targets.items()} if self.heads else None,
        )


def _encode_head(values: np.ndarray, head: HeadData) -> np.ndarray:
    """A head's target as the model takes it: class indices, or float32 values."""
    if head.classes is None:
        return values.astype(np.float32)
    if values.dtype.kind == "O":
        values = values.astype(str)
    return np.searchsorted(np.asarray(head.classes), values).astype(np.int64)


#: Files read side by side when their chunks are mixed (the others wait their turn).
OPEN_FILES = 8


def _interleaved(
    files: StreamedFiles,
    want: int | None = None,
    cache: SplitCache | None = None,
    sizes: dict[int, int] | None = None,
) -> Iterator[Part]:
    """Every file's parts, up to OPEN_FILES files read side by side (one reading thread): next
    comes the chunk of the open file read least far (as a fraction of its events), so a shuffle
    buffer mixes signal and background files from the start. The files are opened in an order
    fixed by the data seed (a permutation, so that with many files the window holds a mix of
    samples), the same every epoch."""
    if len(files.files) == 1:
        yield from _read(files, want, cache)
        return
    yield from read_ahead(_mixed(files, want, cache, {} if sizes is None else sizes), READ_AHEAD)


def _mixed(
    files: StreamedFiles, want: int | None, cache: SplitCache | None, sizes: dict[int, int]
) -> Iterator[Part]:
    """`_interleaved`'s parts; `sizes` keeps each file's size (opening a file for its number
    of events costs, with uproot, tens of ms: once per dataset, not every epoch)."""
    order = list(np.random.default_rng([files.seed, 0x5EED]).permutation(len(files.files)))
    opened: dict[int, list[Any]] = {}  # file index -> [its parts, events read, its size]
    while order or opened:
        while order and len(opened) < OPEN_FILES:
            i = int(order.pop(0))
            f = files.files[i]
            if i not in sizes:
                n = _events_in(files.source, f.path, dict(f.options))
                sizes[i] = max(1, n if n is not None else f.path.stat().st_size)
            one = StreamedFiles(**{**files.__dict__, "files": (f,)})
            opened[i] = [parts(one, files.rows, want, cache), 0, sizes[i]]
        i = min(opened, key=lambda k: (opened[k][1] / opened[k][2], k))
        try:
            part = next(opened[i][0])
        except StopIteration:
            del opened[i]
            continue
        opened[i][1] += len(part.entries)
        yield part


def _head(head: Any, totals: ScanTotals) -> HeadData:
    """A multitask head as the scan found its target: classes, or a regression's spread."""
    table = totals.extra_values.get(head.target, {})
    if head.task == "regression":
        moments = totals.extra_moments.get(head.target)
        if moments is None:
            raise DataError(f"target {head.target!r} is not numeric; a regression needs numbers")
        mean, std = float(moments.mean[0]), float(moments.std[0])  # type: ignore[index]
        return HeadData(head.name, head.task, head.target, None, head.loss_weight, mean, std or 1.0)
    if table is None:
        raise DataError(
            f"model.heads: {head.name!r}: target {head.target!r} has more than {MAX_DISTINCT} "
            f"distinct values: not a {head.task} target"
        )
    classes = sorted(table)
    if head.task == "binary" and len(classes) != 2:
        raise DataError(
            f"model.heads: {head.name!r} is binary but target {head.target!r} has "
            f"{len(classes)} distinct value(s): {', '.join(map(str, classes[:10]))}"
        )
    if len(classes) < 2:
        raise DataError(f"target {head.target!r} has a single class; a classifier needs two")
    return HeadData(head.name, head.task, head.target, tuple(classes), head.loss_weight)


def _classes(values: dict[str, dict[Any, int]], many: bool) -> list[Any] | None:
    if many:
        return None
    return sorted({v for table in values.values() for v in table})


def prepare_streamed(
    data_spec: Any, base_dir: Path, seed: int, heads: Sequence[Any] = (), reason: str = ""
) -> StreamedDataset:
    """Scan the files of a streamable data section and describe the dataset they make."""
    if heads:  # the first head's target and task are the data's (as in memory)
        data_spec = data_spec.model_copy(update={"task": heads[0].task})
    if getattr(data_spec, "n_samples", None) is not None:
        raise DataError(
            "data.n_samples: a random subset is taken in memory; with data.stream leave it out "
            "(or set data.stream: false)"
        )
    data_seed = data_spec.seed if data_spec.seed is not None else seed
    files = plan(data_spec, base_dir, data_seed, heads).files
    policy = data_spec.nan
    budget = memory_budget(data_spec)
    splits: SplitCache = {}
    totals = scan(files, policy, splits)
    if not totals.counts["train"] or not totals.counts["test"]:
        raise DataError(
            f"cannot split {sum(totals.counts.values())} events into train/val/test: a split is empty"
        )
    values = _classes(totals.values, totals.many_values)
    task = data_spec.task
    if task == "auto":
        sample = np.asarray(values) if values is not None else np.arange(MAX_DISTINCT + 1) + 0.5
        task = infer_task(sample) if values is not None and len(values) else "regression"
        if values is not None and len(values) > MAX_INFERRED_CLASSES and task != "regression":
            task = "regression"
    classes: tuple[Any, ...] | None = None
    if task != "regression":
        if values is None:
            raise DataError(
                f"target {files.target!r} has more than {MAX_DISTINCT} distinct values: "
                f"not a classification target (data.task: {task})"
            )
        if task == "binary" and len(values) != 2:
            raise DataError(
                f"data.task is binary but target {files.target!r} has {len(values)} distinct "
                f"value(s): {', '.join(map(str, values[:10]))}"
            )
        if len(values) < 2:
            raise DataError(f"target {files.target!r} has a single class; a classifier needs two")
        classes = tuple(values)
    head_data = tuple(_head(h, totals) for h in heads)
    fill = None
    moments = totals.moments
    if policy in ("zero", "mean") and totals.finite.count is not None:
        assert totals.finite.mean is not None and totals.finite.m2 is not None
        n = totals.counts["train"]
        if policy == "mean":
            fill = totals.finite.mean
            # the filled values sit at the mean: they add to the count, not to the deviations
            moments = RunningMoments(count=n, mean=fill.copy(), m2=totals.finite.m2.copy())
        else:
            fill = np.zeros(len(files.features))
            m = totals.finite
            assert m.count is not None and m.mean is not None and m.m2 is not None
            # zeros join the finite values: combine (count_j, mean_j, m2_j) with (n - count_j) zeros
            zeros = n - m.count
            mean = m.mean * m.count / n
            m2 = m.m2 + m.mean**2 * m.count * zeros / n
            moments = RunningMoments(count=n, mean=mean, m2=m2)
    mean = std = None
    if data_spec.standardize:
        mean, std = moments.standardization()

    def split(name: str) -> StreamedSplit:
        counts = None
        if classes is not None:
            table = totals.values[name]
            counts = tuple(int(table.get(c, 0)) for c in classes)
        w = totals.weights[name] if files.weight is not None else None
        return StreamedSplit(name, totals.counts[name], counts, w)

    shown = ", ".join(
        f.path.name + (f" (label {f.label})" if f.label is not None else "") for f in files.files
    )
    n_total = sum(totals.counts.values())
    extra: dict[str, Any] = {
        "streamed": {
            "files": [f.key for f in files.files],
            "chunk_size": files.rows,
            "shuffle_buffer": data_spec.shuffle_buffer,
            "memory_budget": budget,
            **({"reason": reason} if reason else {}),
        },
        "nan_policy": policy,
    }
    if policy == "drop":
        extra["nan_events_dropped"] = totals.dropped
    if fill is not None:
        extra["nan_filled_with"] = "training mean" if policy == "mean" else 0
    if data_spec.label_noise > 0:
        extra["label_noise_fraction"] = data_spec.label_noise
    return StreamedDataset(
        files=files,
        train=split("train"),
        val=split("val"),
        test=split("test"),
        task=task,
        feature_names=tuple(files.features),
        target_name=files.target or "label",
        classes=classes,
        mean=mean,
        std=std,
        description=f"{files.source} (streamed): {n_total} events from {shown}",
        fill=fill,
        label_noise=data_spec.label_noise if classes is not None else 0.0,
        shuffle_buffer=data_spec.shuffle_buffer,
        fingerprint=totals.digests.fingerprint(),
        budget=budget,
        splits=splits,
        extra=extra,
        heads=head_data,
    )


__all__ = [
    "STREAMABLE",
    "Batch",
    "StreamedDataset",
    "StreamedSplit",
    "memory_budget",
    "plan",
    "prepare_streamed",
    "read_ahead",
    "should_stream",
]
