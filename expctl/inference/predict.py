"""`expctl predict`: a completed run's scores for the events of other files, streamed.

Every file is checked against the run before anything is read or written (`inputs.check`):
the features the model takes, their dtypes, the --keep columns. Then each file is read a chunk
at a time, scored by the run's model and written beside the kept columns, in input order, into a
temporary sibling of OUT renamed into place at the end: memory is bounded by the chunk, and a
refusal part-way (a NaN under `data.nan: error`, a corrupt row group) leaves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expctl.errors import BadInputError, DataError, did_you_mean
from expctl.inference.inputs import MATRIX, InputFile, Layout, check, chunks, parse_inputs
from expctl.inference.runmodel import RunModel, open_run
from expctl.inference.writers import (
    check_columns,
    open_writer,
    output_format,
    require,
)
from expctl.runs import atomic_save

#: Events read and scored at a time: a multiple of the run's own batches (PREDICT_BATCH x
#: PREDICT_GROUP in expctl.training.predict), so the model sees the batches the run scored with.
DEFAULT_ROWS = 65_536

Echo = Callable[[str], None]


@dataclass(frozen=True)
class PredictResult:
    """What `predict_files` wrote: the file, its events, its columns."""

    out: Path
    events: int
    columns: list[str]


def default_tree(run: RunModel) -> str:
    """The input tree of ROOT files: the run's own data.tree, else `Events`."""
    return str(run.data_spec.get("tree") or "Events") if run.source == "root" else "Events"


def checked_inputs(
    run: RunModel,
    items: Sequence[str],
    keep: Sequence[str],
    tree: str | None,
    *,
    labels: bool = False,
    extra: Sequence[tuple[str, str]] = (),
) -> tuple[list[InputFile], dict[str, np.dtype]]:
    """The input files, each checked against the run (DataError naming the first problem), and
    the dtype of each kept column."""
    clash = [k for k in keep if k in run.score_columns]
    if clash:
        raise BadInputError(
            f"--keep {', '.join(clash)}: the same name as an output score column "
            f"({', '.join(run.score_columns)})"
        )
    files = parse_inputs(items, run.source, tree or default_tree(run), labels=labels)
    kept: dict[str, np.dtype] = {}
    for file in files:
        found = check(file, run.layout(file.fmt), keep, extra)
        for name in keep:
            dtype = found.columns[name]
            if dtype is None:
                raise DataError(f"{file.path}: --keep {name!r} does not hold one value per event")
            kept.setdefault(name, np.dtype(object) if dtype.kind in "OSU" else dtype)
    return files, kept


def scored_chunks(
    run: RunModel,
    files: Sequence[InputFile],
    columns: Sequence[str],
    rows: int = DEFAULT_ROWS,
) -> Iterator[tuple[InputFile, dict[str, np.ndarray], dict[str, np.ndarray]]]:
    """(file, its chunk's `columns`, the chunk's scores by output column), chunk by chunk, in
    input order."""
    for file in files:
        lay = run.layout(file.fmt)
        wanted = [] if lay.matrix else [lay.column(f) for f in run.features]
        start = 0
        for part in chunks(file, lay, [*wanted, *columns], rows):
            n = len(next(iter(part.values())))
            where = f"{file.path} (events {start}-{start + n - 1})"
            scores = run.scores(run.features_of(part, lay, where))
            yield file, {c: part[c] for c in columns}, scores
            start += n


def predict_files(
    run_dir: Path,
    items: Sequence[str],
    out: Path,
    *,
    keep: Sequence[str] = (),
    fmt: str | None = None,
    force: bool = False,
    tree: str | None = None,
    rows: int = DEFAULT_ROWS,
) -> PredictResult:
    """Score the events of `items` (paths) with run `run_dir`'s model and write OUT.

    BadInputError/DataError (exit 2) before anything is written for a run that is not
    completed, an unreadable file, a missing or non-numeric feature, a matrix of the wrong
    width, a missing --keep column or an OUT that exists (unless `force`).
    """
    out = Path(out)
    run = open_run(Path(run_dir))
    out_fmt = output_format(out, fmt)
    require(out_fmt)
    if out.is_dir():
        raise BadInputError(f"--out {out}: a directory; give a file name")
    if out.exists() and not force:
        raise BadInputError(f"--out {out} exists; --force replaces it")
    if not out.parent.is_dir():
        raise BadInputError(f"--out {out}: no folder {out.parent}")
    keep = list(dict.fromkeys(keep))
    files, kept = checked_inputs(run, items, keep, tree)
    columns = {**kept, **dict.fromkeys(run.score_columns, np.dtype(np.float64))}
    check_columns(out_fmt, columns)
    run.load_model()
    out_tree = tree or default_tree(run)
    events = 0

    def write(tmp: Path) -> None:
        nonlocal events
        writer = open_writer(out_fmt, tmp, columns, out_tree)
        try:
            for _, part, scores in scored_chunks(run, files, keep, rows):
                writer.write({**part, **scores})
                events += len(next(iter(scores.values())))
        finally:
            writer.close()

    atomic_save(out, write)
    return PredictResult(out, events, list(columns))


# ------------------------------------------------------------------------------- Python API


def predict_data(
    run_dir: Path, data: Any, keep: Sequence[str] = (), rows: int = DEFAULT_ROWS
) -> Any:
    """Scores of `data` as a pandas DataFrame (`keep` columns first, then one column per
    score): `data` is a path or a list of paths (read as by `predict_files`), a DataFrame
    holding the run's feature columns, or a NumPy array (n_events, n_features)."""
    import pandas as pd

    run = open_run(Path(run_dir))
    keep = list(dict.fromkeys(keep))
    if isinstance(data, str | os.PathLike) or (
        isinstance(data, list | tuple) and all(isinstance(d, str | os.PathLike) for d in data)
    ):
        items = (
            [os.fspath(data)]
            if isinstance(data, str | os.PathLike)
            else [os.fspath(d) for d in data]
        )
        files, _ = checked_inputs(run, items, keep, None)
        run.load_model()
        parts = [{**part, **scores} for _, part, scores in scored_chunks(run, files, keep, rows)]
    elif isinstance(data, pd.DataFrame):
        parts = list(_frame_parts(run, data, keep, rows))
    elif isinstance(data, np.ndarray):
        parts = list(_array_parts(run, data, keep, rows))
    else:
        raise BadInputError(
            f"data: a path, a list of paths, a pandas DataFrame or a NumPy array; got {type(data).__name__}"
        )
    names = [*keep, *run.score_columns]
    if not parts:
        return pd.DataFrame({n: np.empty(0) for n in names})
    return pd.DataFrame({n: np.concatenate([p[n] for p in parts]) for n in names})


def _frame_parts(
    run: RunModel, frame: Any, keep: Sequence[str], rows: int
) -> Iterator[dict[str, np.ndarray]]:
    columns = [str(c) for c in frame.columns]
    missing = [c for c in [*run.features, *keep] if c not in columns]
    if missing:
        hints = "".join(f"\n  {m!r}{did_you_mean(m, columns)}" for m in missing)
        raise DataError(f"data: no column(s):{hints}\n  columns: {', '.join(columns)}")
    bad = [f for f in run.features if frame[f].dtype.kind not in "biuf"]
    if bad:
        raise DataError(f"data: feature column(s) not numeric: {', '.join(map(repr, bad))}")
    lay = Layout(run.features)
    for start in range(0, len(frame), rows):
        block = frame.iloc[start : start + rows]
        part = {c: block[c].to_numpy() for c in dict.fromkeys([*run.features, *keep])}
        scores = run.scores(run.features_of(part, lay, f"data (rows {start}-)"))
        yield {**{k: part[k] for k in keep}, **scores}


def _array_parts(
    run: RunModel, x: np.ndarray, keep: Sequence[str], rows: int
) -> Iterator[dict[str, np.ndarray]]:
    if keep:
        raise BadInputError("keep: a NumPy array has no named columns to keep")
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[1] != len(run.features) or x.dtype.kind not in "biuf":
        raise DataError(
            f"data: an array of shape {x.shape} and dtype {x.dtype}; the run's model takes "
            f"numbers of shape (n_events, {len(run.features)}): {', '.join(run.features)}"
        )
    lay = Layout(run.features, matrix="x")
    for start in range(0, len(x), rows):
        part = {MATRIX: x[start : start + rows]}
        yield run.scores(run.features_of(part, lay, f"data (rows {start}-)"))


__all__ = [
    "DEFAULT_ROWS",
    "PredictResult",
    "checked_inputs",
    "default_tree",
    "predict_data",
    "predict_files",
    "scored_chunks",
]
