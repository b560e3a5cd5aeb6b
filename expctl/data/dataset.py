"""From a raw table to train/validation/test arrays ready for Keras.

The task is declared or inferred from the target; class labels are encoded 0..K-1 in sorted order
(for a binary task the larger label, e.g. 1 = signal, is the positive class). Generated data are
split stratified for classification and seeded; events read from files (csv, parquet, hdf5,
root) are split by their identity, a pure function of (file, entry, seed) that a streamed run
(`expctl.data.streamed`) computes the same way. Standardisation statistics come from the training
split only, so nothing about validation or test events leaks into training.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from expctl.data.memory import release_freed_memory
from expctl.data.sources import load_table
from expctl.data.table import Table
from expctl.errors import DataError, did_you_mean

#: A numeric target with at most this many distinct integer values is taken as class labels.
MAX_INFERRED_CLASSES = 20


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray
    w: np.ndarray | None = None  # per-event weights (HEP), None when unweighted
    #: multitask: each head's encoded target (y is the first head's); None for one output
    targets: dict[str, np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class HeadData:
    """One multitask head as the data sees it: its encoded classes, and its target's spread."""

    name: str
    task: str
    target: str
    classes: tuple[Any, ...] | None
    loss_weight: float
    #: regression: mean and std of the target on the training split (the output's scale)
    mean: float = 0.0
    std: float = 1.0

    @property
    def n_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0


@dataclass(frozen=True)
class Dataset:
    """Arrays for training plus what the model and the run directory need to know about them."""

    train: Split
    val: Split
    test: Split
    task: str
    feature_names: tuple[str, ...]
    target_name: str
    classes: tuple[Any, ...] | None
    mean: np.ndarray | None
    std: np.ndarray | None
    description: str
    extra: dict[str, Any] = field(default_factory=dict)
    heads: tuple[HeadData, ...] = ()

    @property
    def n_features(self) -> int:
        return self.train.x.shape[1]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one event: (features,) or (height, width, channels)."""
        return tuple(self.train.x.shape[1:])

    @property
    def n_classes(self) -> int:
        return len(self.classes) if self.classes is not None else 0

    def summary(self) -> dict[str, Any]:
        """A JSON-able description for the run directory (data.json)."""
        out: dict[str, Any] = {
            "description": self.description,
            "task": self.task,
            "target": self.target_name,
            "features": list(self.feature_names),
            "n_train": len(self.train),
            "n_val": len(self.val),
            "n_test": len(self.test),
        }
        if self.classes is not None:
            out["classes"] = [c.item() if isinstance(c, np.generic) else c for c in self.classes]
            out["class_counts"] = {
                name: [int(np.sum(s.y == k)) for k in range(self.n_classes)]
                for name, s in (("train", self.train), ("val", self.val), ("test", self.test))
            }
        if self.train.w is not None:
            out["sum_of_weights"] = {
                name: float(np.sum(part.w))
                for name, part in (("train", self.train), ("val", self.val), ("test", self.test))
            }
        if self.heads:
            out["heads"] = heads_summary(self.heads)
        out.update(self.extra)
        if self.mean is not None:
            out["standardization"] = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        return out


def heads_summary(heads: Sequence[HeadData]) -> list[dict[str, Any]]:
    """data.json's description of multitask heads."""
    return [
        {
            "name": h.name,
            "task": h.task,
            "target": h.target,
            "loss_weight": h.loss_weight,
            **({"classes": _plain(h.classes)} if h.classes is not None else {}),
            **({"mean": h.mean, "std": h.std} if h.task == "regression" else {}),
        }
        for h in heads
    ]


def infer_task(y: np.ndarray) -> str:
    """binary / multiclass for labels (strings, booleans, few distinct integers), else regression."""
    if y.dtype.kind in "OUSb":
        return "binary" if len(np.unique(y)) <= 2 else "multiclass"
    values = y.astype(np.float64)
    if not np.all(np.isfinite(values)):
        return "regression"
    unique = np.unique(values)
    if len(unique) <= MAX_INFERRED_CLASSES and np.all(unique == np.round(unique)):
        return "binary" if len(unique) <= 2 else "multiclass"
    return "regression"


def _encode(y: np.ndarray, task: str, target: str) -> tuple[np.ndarray, tuple[Any, ...] | None]:
    if task == "regression":
        if y.dtype.kind not in "biuf":
            raise DataError(
                f"target {target!r} is not numeric ({y.dtype}); a regression needs numbers"
            )
        values = y.astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise DataError(f"target {target!r} has NaN or infinite values")
        return values.astype(np.float32), None
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise DataError(f"target {target!r} has NaN or infinite values")
    classes, encoded = np.unique(y, return_inverse=True)
    if task == "binary" and len(classes) != 2:
        raise DataError(
            f"data.task is binary but target {target!r} has {len(classes)} distinct value(s): "
            f"{', '.join(map(str, classes[:10]))}"
        )
    if task == "multiclass" and len(classes) < 2:
        raise DataError(f"target {target!r} has a single class; a classifier needs at least two")
    return encoded.astype(np.int64), tuple(classes.tolist())


#: Array elements checked at a time for NaN and infinities (a bounded temporary, issue 15).
CHECK_BLOCK = 1 << 22


def _finite_rows(features: np.ndarray) -> np.ndarray:
    """Whether each event's features are all finite, computed a block of rows at a time."""
    flat = features.reshape(len(features), -1)
    rows = max(1, CHECK_BLOCK // max(1, flat.shape[1]))
    keep = np.empty(len(flat), dtype=bool)
    for start in range(0, len(flat), rows):
        np.all(np.isfinite(flat[start : start + rows]), axis=1, out=keep[start : start + rows])
    return keep


def _drop_non_finite(table: Table) -> tuple[Table, np.ndarray | None]:
    """data.nan: drop — the events with a NaN or infinite feature are left out (before the
    split); also which rows were kept (None: all)."""
    keep = _finite_rows(table.features)
    if keep.all():
        return table, None
    return dataclasses.replace(
        table,
        features=table.features[keep],
        target=table.target[keep],
        weight=table.weight[keep] if table.weight is not None else None,
        columns={k: v[keep] for k, v in table.columns.items()},
    ), np.flatnonzero(keep)


def _fill(value: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., Any]:
    def fill(features: np.ndarray, train: np.ndarray) -> tuple[np.ndarray, int]:
        if _finite_rows(features).all():
            return features, 0
        # filled (and standardised) at float64, whatever the file's precision, as always
        out = np.array(features, dtype=np.float64)
        bad = ~np.isfinite(out)
        out[bad] = np.broadcast_to(value(out, train), out.shape)[bad]
        return out, int(bad.sum())

    return fill


def _train_means(features: np.ndarray, train: np.ndarray) -> np.ndarray:
    part = np.where(np.isfinite(features[train]), features[train], np.nan)
    with np.errstate(all="ignore"):
        means = np.nanmean(part, axis=0) if len(part) else np.zeros(features.shape[1:])
    return np.where(np.isfinite(means), means, 0.0)  # a column with no finite value: 0


#: data.nan policies that replace non-finite feature values (the mean of the *training* split).
FILLS: dict[str, Callable[..., Any]] = {
    "zero": _fill(lambda features, train: np.zeros(features.shape[1:])),
    "mean": _fill(_train_means),
}


def _check_features(table: Table) -> None:
    if _finite_rows(table.features).all():
        return
    bad = ~np.isfinite(table.features)
    if bad.any():
        columns = [table.feature_names[j] for j in np.flatnonzero(bad.any(axis=0))]
        raise DataError(
            f"feature column(s) {', '.join(map(repr, columns))} contain NaN or infinite values "
            f"({int(bad.sum())} cells); clean the file, leave those columns out with "
            "data.features, or set data.nan: drop | zero | mean"
        )


def _split_indices(y: np.ndarray, task: str, fractions: Any, seed: int) -> tuple[np.ndarray, ...]:
    from sklearn.model_selection import train_test_split

    index = np.arange(len(y))
    stratify = y if task != "regression" else None
    try:
        rest, test = train_test_split(
            index, test_size=fractions.test, stratify=stratify, random_state=seed
        )
        if fractions.val > 0:
            val_share = fractions.val / (fractions.train + fractions.val)
            strat = y[rest] if stratify is not None else None
            train, val = train_test_split(
                rest, test_size=val_share, stratify=strat, random_state=seed
            )
        else:
            train, val = rest, rest[:0]
    except ValueError as exc:
        raise DataError(f"cannot split {len(y)} events into train/val/test: {exc}") from None
    return np.sort(train), np.sort(val), np.sort(test)


def flip_labels(
    y: np.ndarray, n_classes: int, fraction: float, seed: int
) -> tuple[np.ndarray, int]:
    """Give round(fraction * n) randomly chosen events a wrong label (another class, uniformly).

    Models mislabelled training data (the lecture's "noise on labels"); only the training split is
    ever passed here, so validation and test labels stay true.
    """
    rng = np.random.default_rng([seed, 0x1ABE1])
    n_flip = round(fraction * len(y))
    chosen = rng.choice(len(y), n_flip, replace=False)
    out = y.copy()
    # adding 1..K-1 modulo K moves each chosen label to a different class, uniformly
    out[chosen] = (y[chosen] + rng.integers(1, n_classes, n_flip)) % n_classes
    return out, n_flip


class _Identity:
    """Which file and entry each event of a file source comes from (`Table.segments`, the rows
    left after data.nan: drop and data.n_samples): what fixes its split and its label noise,
    the same in memory as when streamed (`expctl.data.chunked`)."""

    def __init__(self, segments: Sequence[tuple[str, int]], rows: np.ndarray | None) -> None:
        self.segments = tuple(segments)
        self.starts = np.cumsum([0, *(n for _, n in self.segments)])
        total = int(self.starts[-1])
        self.rows = np.arange(total) if rows is None else np.asarray(rows)

    def _by_file(self, index: np.ndarray) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(file key, positions in `index`, entries) for the events `index` of each file."""
        row = self.rows[index]
        which = np.searchsorted(self.starts, row, side="right") - 1
        for f, (key, _) in enumerate(self.segments):
            at = np.flatnonzero(which == f)
            if len(at):
                yield key, at, (row[at] - self.starts[f]).astype(np.uint64)

    def split(self, seed: int, fractions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from expctl.data.chunked import TEST, TRAIN, VAL, hash_split

        codes = np.empty(len(self.rows), dtype=np.int8)
        for key, at, entries in self._by_file(np.arange(len(self.rows))):
            codes[at] = hash_split(key, entries, seed, fractions.val, fractions.test)
        out = tuple(np.flatnonzero(codes == c) for c in (TRAIN, VAL, TEST))
        if not len(out[0]) or not len(out[2]):
            raise DataError(
                f"cannot split {len(self.rows)} events into train/val/test "
                f"({fractions.train:g}/{fractions.val:g}/{fractions.test:g}): a split is empty"
            )
        return out  # type: ignore[return-value]

    def flip(
        self, y: np.ndarray, index: np.ndarray, n_classes: int, fraction: float, seed: int
    ) -> tuple[np.ndarray, int]:
        from expctl.data.chunked import label_flips

        shift = np.zeros(len(index), dtype=np.int64)
        for key, at, entries in self._by_file(index):
            shift[at] = label_flips(key, entries, seed, fraction, n_classes)
        return (y + shift) % n_classes, int(np.count_nonzero(shift))


def _plain(values: tuple[Any, ...]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


def _head_columns(table: Table, heads: Sequence[Any], explicit_features: bool) -> Table:
    """Each head's raw target column; a head's target is never also a feature.

    A target is looked up among the table's columns, its target and (unless data.features was
    given, then it is an error) its features, from which it is then removed.
    """
    names = list(table.feature_names)
    available = {**table.columns, table.target_name: table.target}
    drop = []
    for head in heads:
        if head.target in available:
            continue
        if head.target in names:
            if explicit_features:
                raise DataError(
                    f"model.heads: {head.name!r} predicts {head.target!r}, which data.features "
                    "also lists: a target cannot be an input"
                )
            drop.append(names.index(head.target))
            continue
        choices = sorted({*available, *names})
        hint = did_you_mean(head.target, choices)
        raise DataError(
            f"model.heads: {head.name!r}: no column {head.target!r}{hint}; "
            f"columns: {', '.join(choices)}"
        )
    keep = [j for j in range(len(names)) if j not in drop]
    columns = dict(available)
    columns.update({names[j]: table.features[:, j] for j in drop})
    return dataclasses.replace(
        table,
        features=table.features[:, keep],
        feature_names=tuple(names[j] for j in keep),
        columns=columns,
    )


def _part(weight: np.ndarray | None, index: np.ndarray) -> np.ndarray | None:
    return None if weight is None else weight[index].astype(np.float64)


def standardization(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std (0 -> 1) of training features: per column of a table, per channel of images.

    Images (n, height, width, channels) get one mean and std per channel over every pixel: a
    per-pixel std would be ~0 at the edges of MNIST digits and blow up a digit shifted there by
    augmentation, and pixels are one quantity, so one scale keeps their ratios.
    """
    if x.ndim == 2:
        mean = x.mean(axis=0, dtype=np.float64)
        std = np.concatenate([x[:, cols].std(axis=0, dtype=np.float64) for cols in _blocks(x)])
    else:
        axes = tuple(range(x.ndim - 1))
        mean = x.mean(axis=axes, dtype=np.float64)
        std = x.std(axis=axes, dtype=np.float64)
    return mean, np.where(std > 0, std, 1.0)


#: Bytes of float64 temporaries `standardization` makes at a time (np.std makes an n x d one).
STD_TEMPORARY = 1 << 26


def _blocks(x: np.ndarray) -> list[slice]:
    """Column blocks of a table whose float64 copy fits STD_TEMPORARY, none of one column.

    np.std over axis 0 adds each column's terms in row order, so a block of columns gives the
    same bits as the whole table (a block of one column would be summed pairwise instead).
    """
    n, d = x.shape
    width = max(2, STD_TEMPORARY // max(1, 8 * n))
    starts = list(range(0, d, width))
    if len(starts) > 1 and d - starts[-1] < 2:
        starts.pop()  # a last block of one column joins the one before
    return [slice(a, b) for a, b in zip(starts, [*starts[1:], d], strict=True)]


def _encode_heads(
    table: Table, heads: Sequence[Any], train: np.ndarray
) -> tuple[tuple[HeadData, ...], dict[str, np.ndarray]]:
    """Each head's encoded target over all events, and what the model needs to know of it."""
    out, encoded = [], {}
    for head in heads:
        values, classes = _encode(table.columns[head.target], head.task, head.target)
        mean, std = 0.0, 1.0
        if head.task == "regression":
            values = values.astype(np.float64)
            mean, std = float(values[train].mean()), float(values[train].std())
            std = std if std > 0 else 1.0
        encoded[head.name] = values
        out.append(
            HeadData(head.name, head.task, head.target, classes, head.loss_weight, mean, std)
        )
    return tuple(out), encoded


def prepare(data_spec: Any, base_dir: Path, seed: int, heads: Sequence[Any] = ()) -> Dataset:
    """Load, encode, split and standardise the data a spec describes; DataError on bad data.

    With `heads` (the spec's model.heads) each head's target is encoded on its own; the first
    head's is the main target (split stratification, `Split.y`, the dataset's task).
    """
    data_seed = data_spec.seed if data_spec.seed is not None else seed
    # no name here for the table: _from_table is its only owner and frees the whole file's
    # arrays as soon as the splits are copied out of them
    dataset = _from_table(load_table(data_spec, base_dir, data_seed), data_spec, data_seed, heads)
    release_freed_memory()
    return dataset


@contextlib.contextmanager
def _naming(origin: str) -> Iterator[None]:
    """A DataError raised inside names the file `origin` (if any and not named already)."""
    try:
        yield
    except DataError as exc:
        if origin and origin not in exc.message:
            raise DataError(f"{origin}: {exc.message}") from None
        raise


def _from_table(table: Table, data_spec: Any, data_seed: int, heads: Sequence[Any]) -> Dataset:
    """The Dataset of a table; a DataError names the table's file.

    Pass `table` without keeping a reference to it: its arrays are freed here once the splits
    are copied out of them, before the standardisation's temporaries are made (issue 15).
    """
    with _naming(table.origin):
        if heads:
            table = _head_columns(table, heads, getattr(data_spec, "features", None) is not None)
            table = dataclasses.replace(
                table, target=table.columns[heads[0].target], target_name=heads[0].target
            )
        if len(table.target) != len(table.features):
            raise DataError("features and target have different numbers of events")
        policy = getattr(data_spec, "nan", "error")
        segments = table.segments
        # the file row of each event left (None: every row, in order): its identity
        rows: np.ndarray | None = None
        if policy == "drop":
            n_read = len(table.target)
            table, rows = _drop_non_finite(table)
            dropped = n_read - len(table.target)
        else:
            dropped = 0
        if policy in ("error", "drop"):
            _check_features(table)
        features, target, weight = table.features, table.target, table.weight
        if weight is not None and not np.all(np.isfinite(weight)):
            raise DataError("data.weight: NaN or infinite event weights")
        n_samples = getattr(data_spec, "n_samples", None)
        if n_samples is not None and data_spec.source != "jets" and n_samples < len(target):
            keep = np.sort(
                np.random.default_rng(data_seed).choice(len(target), n_samples, replace=False)
            )
            features, target = features[keep], target[keep]
            weight = weight[keep] if weight is not None else None
            rows = keep if rows is None else rows[keep]
            if heads:
                table = dataclasses.replace(
                    table, columns={k: v[keep] for k, v in table.columns.items()}
                )
        if heads:
            data_spec = data_spec.model_copy(update={"task": heads[0].task})
        task = data_spec.task if data_spec.task != "auto" else infer_task(target)
        y, classes = _encode(target, task, table.target_name)
        identity = _Identity(segments, rows) if segments else None
        if identity is not None:  # a file: the split of each event fixed by (file, entry, seed)
            train, val, test = identity.split(data_seed, data_spec.split)
        else:
            train, val, test = _split_indices(y, task, data_spec.split, data_seed)
        y_train = y[train]
        flipped = 0
        if data_spec.label_noise > 0 and classes is not None:
            if identity is not None:
                y_train, flipped = identity.flip(
                    y_train, train, len(classes), data_spec.label_noise, data_seed
                )
            else:
                y_train, flipped = flip_labels(
                    y_train, len(classes), data_spec.label_noise, data_seed
                )
        filled = 0
        if policy in FILLS:
            features, filled = FILLS[policy](features, train)
        head_data, encoded = _encode_heads(table, heads, train)
        parts = {"train": train, "val": val, "test": test}
        labels = {"train": y_train, "val": y[val], "test": y[test]}
        names, target_name, description = table.feature_names, table.target_name, table.description
        # one copy of each split's events, in the features' own precision; then the whole file's
        # arrays go (the caller keeps none, see _from_table), before the standardisation's float64
        # temporaries exist
        rows = {name: features[index] for name, index in parts.items()}
        del features, table
        mean = std = None
        if data_spec.standardize:  # from the training events at their precision, as always
            mean, std = standardization(rows["train"])
        splits: dict[str, Split] = {}
        for name, index in parts.items():
            x = rows.pop(name).astype(np.float32, copy=False)  # what the model takes
            targets = {h: values[index] for h, values in encoded.items()} if heads else None
            splits[name] = Split(x, labels[name], _part(weight, index), targets)

        return Dataset(
            train=splits["train"],
            val=splits["val"],
            test=splits["test"],
            heads=head_data,
            task=task,
            feature_names=names,
            target_name=target_name,
            classes=classes,
            mean=mean,
            std=std,
            description=description,
            extra={
                **({"label_noise_flipped": flipped} if data_spec.label_noise > 0 else {}),
                **({"nan_events_dropped": dropped} if policy == "drop" else {}),
                **({"nan_cells_filled": filled} if policy in FILLS else {}),
            },
        )
