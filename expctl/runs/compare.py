"""Compare runs side by side: flatten specs, find the keys that differ, group seeds, filter, sort.

Everything here works on plain dicts and lists (no pandas, numpy or TensorFlow at import time), so
that `expctl compare` over a thousand runs starts and finishes quickly. A table is built in steps:

    runs = [load_run(path, warn) for path in paths]       # each run's files read once
    table = build_table(runs, filters, group=True)        # rows: one per run or per seed group
    table = sort_table(table, "auc"); table = select_columns(table, ["id", "auc"])
    text = format_table(table, "markdown")

Only the figure functions at the end import matplotlib, when they are called.
"""

from __future__ import annotations

import csv
import io
import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from expctl.runs.store import live_status, read_json, to_json
from expctl.spec.yamlio import use_core_schema

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Warn = Callable[[str], None]

#: YAML loader: libyaml's safe loader when PyYAML was built with it (5-10x faster), else the pure
#: Python one. Both build plain data only (no Python objects).
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@use_core_schema
class SpecLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader (C-accelerated where available) reading numbers and booleans as specs do."""


#: A spec.yaml larger than this is not a resolved spec; it is not parsed.
MAX_SPEC_BYTES = 1_000_000
#: A spec tree with more values than this, or nested deeper, is refused: YAML aliases can make a
#: small file stand for an enormous tree (each alias is counted every time it is reached).
MAX_NODES = 100_000
MAX_DEPTH = 64

#: The columns every row has, before the spec keys.
INFO_COLUMNS = ("id", "name", "status")
#: Training bookkeeping, read from metrics.json or (diverged runs) status.json's `training`.
EPOCH_COLUMNS = ("epochs_trained", "best_epoch", "stopped_epoch")
#: Of those, the ones shown by default.
DEFAULT_EPOCH_COLUMNS = ("best_epoch", "stopped_epoch")
DURATION_COLUMN = "duration_s"
#: Numbers of metrics.json that are not test metrics.
NOT_METRICS = frozenset({"n", "threshold", "restored_best", *EPOCH_COLUMNS})
#: Metrics shown first, in this order; the first one a run has is its main metric.
MAIN_METRICS = ("auc", "accuracy", "r2")
LEADING_METRICS = (*MAIN_METRICS, "loss")
#: Spec keys that name a run rather than configure it; never a differing key.
NAME_KEYS = frozenset({"name"})
#: Metric names ending like this are better when higher (sorted descending by default).
HIGHER_IS_BETTER = (
    "auc",
    "accuracy",
    "acc",
    "precision",
    "recall",
    "sensitivity",
    "specificity",
    "f1",
    "r2",
    "iou",
    "rejection",
)
#: Columns that describe a group of runs rather than one.
GROUP_COLUMNS = ("n_runs",)
FORMATS = ("table", "csv", "json", "markdown")


# ------------------------------------------------------------------------------ reading runs


@dataclass
class Run:
    """What `compare` reads of one run directory: status, flattened spec and scalar test metrics."""

    path: Path
    status: dict[str, Any]
    spec: dict[str, Any]
    metrics: dict[str, float]
    epochs: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return str(self.status.get("status", "unknown"))

    @property
    def name(self) -> str:
        return str(self.status.get("name") or self.spec.get("name") or "?")


def load_spec(path: Path) -> dict[str, Any]:
    """Parse a run's spec.yaml with the safe loader into a dict; ValueError (with the path) otherwise."""
    try:
        size = path.stat().st_size
        if size > MAX_SPEC_BYTES:
            raise ValueError(f"{path}: {size:,} bytes; a resolved spec is a small file")
        data = yaml.load(path.read_bytes(), Loader=SpecLoader)  # SpecLoader is a safe loader
    except FileNotFoundError:
        raise ValueError(f"{path}: missing (cannot compare a run without its spec)") from None
    except (OSError, yaml.YAMLError, RecursionError) as exc:
        raise ValueError(f"{path}: unreadable spec: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a YAML mapping")
    _check_size(data, path)
    return data


def _check_size(data: Any, path: Path) -> None:
    """ValueError if the tree has more than MAX_NODES values or is nested deeper than MAX_DEPTH."""
    count = 0
    stack = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES or depth > MAX_DEPTH:
            raise ValueError(
                f"{path}: more than {MAX_NODES:,} values or {MAX_DEPTH} levels "
                "(nested aliases?); not a resolved spec"
            )
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


def flatten(data: dict[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one dict of dotted keys (`train.optimizer.learning_rate`); lists are values.

    Keys keep the spec's order; an empty mapping is kept as the value `{}`.
    """
    out: dict[str, Any] = {}
    _flatten_into(out, data, prefix)
    return out


def _flatten_into(out: dict[str, Any], node: dict[Any, Any], base: str) -> None:
    for key, value in node.items():
        dotted = f"{base}.{key}" if base else str(key)
        if isinstance(value, dict) and value:
            _flatten_into(out, value, dotted)
        else:
            out[dotted] = value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numeric scalars of metrics.json that are test metrics (null, from NaN, becomes NaN)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key in NOT_METRICS:
            continue
        if _is_number(value):
            out[str(key)] = float(value)
        elif value is None:
            out[str(key)] = math.nan
    return out


def _epochs(*sources: dict[str, Any] | None) -> dict[str, float]:
    out: dict[str, float] = {}
    for source in sources:
        for key in EPOCH_COLUMNS:
            value = (source or {}).get(key)
            if key not in out and _is_number(value):
                out[key] = float(value)
    return out


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def load_run(path: Path, warn: Warn) -> Run | None:
    """Read a run directory's spec.yaml, status.json and metrics.json, each once.

    What is missing or corrupt is reported through `warn` (naming the file). A run whose spec
    cannot be read is skipped (None); one without a readable status is kept as status `unknown`,
    one with unreadable metrics is kept without metrics; a running run is kept, with a warning.
    """
    path = Path(path)
    try:
        spec = flatten(load_spec(path / "spec.yaml"))
    except ValueError as exc:
        warn(f"{exc}; skipped")
        return None
    status: dict[str, Any] = {}
    status_path = path / "status.json"
    if not status_path.exists():
        warn(f"{status_path}: missing; status unknown (the run may not have started properly)")
    else:
        try:
            data = read_json(status_path)
            if not isinstance(data, dict):
                raise ValueError(f"{status_path}: not a JSON object")
            status = live_status(data)
        except ValueError as exc:
            warn(f"{_one_line(exc)}; status unknown")
    metrics_data: dict[str, Any] | None = None
    metrics_path = path / "metrics.json"
    if metrics_path.exists():
        try:
            data = read_json(metrics_path)
            if not isinstance(data, dict):
                raise ValueError(f"{metrics_path}: not a JSON object")
            metrics_data = data
        except ValueError as exc:
            warn(f"{_one_line(exc)}; its metrics are left out")
    elif status.get("status") == "completed":
        warn(f"{metrics_path}: missing although the run completed; no metrics shown")
    if status.get("status") == "running":
        warn(f"{path}: still running; its results are incomplete")
    training = status.get("training") if isinstance(status.get("training"), dict) else None
    return Run(
        path=path,
        status=status,
        spec=spec,
        metrics=_scalar_metrics(metrics_data or {}),
        epochs=_epochs(metrics_data, training),
    )


def load_runs(paths: Iterable[Path], warn: Warn) -> list[Run]:
    """`load_run` on each path, leaving out the runs that cannot be compared; a bias/variance
    experiment directory becomes one row per point (`load_biasvar`)."""
    from expctl.runs.biasvar import is_biasvar_dir

    out: list[Run] = []
    for path in paths:
        if is_biasvar_dir(path):
            out.extend(load_biasvar(Path(path), warn))
        elif (run := load_run(path, warn)) is not None:
            out.append(run)
    return out


def load_biasvar(path: Path, warn: Warn) -> list[Run]:
    """One Run per point of a bias/variance experiment: the spec with the scanned key set to the
    point's value plus `biasvar.train_fraction`, and the decomposition as its metrics."""
    from expctl.runs.biasvar import POINT_METRICS, read_points

    def warn_but_metrics(message: str) -> None:
        if not message.startswith(str(path / "metrics.json")):  # its numbers are per point
            warn(message)

    base = load_run(path, warn_but_metrics)
    if base is None:
        return []
    try:
        points = read_points(path)
    except ValueError as exc:
        warn(f"{_one_line(exc)}; skipped")
        return []
    if not points and base.state == "completed":
        warn(f"{path / 'decomposition.json'}: missing although the experiment completed")
    runs = []
    for point in points:
        spec = dict(base.spec)
        if "scan_key" in point:
            spec[str(point["scan_key"])] = point.get("scan_value")
        spec["biasvar.train_fraction"] = point.get("train_fraction")
        metrics = {k: point[k] for k in POINT_METRICS if k in point}
        for key, value in (point.get("zero_one") or {}).items():
            metrics[f"zero_one_{key}"] = value
        runs.append(replace(base, spec=spec, metrics=_scalar_metrics(metrics)))
    return runs


# ---------------------------------------------------------------------------- values and keys


def is_seed_key(key: str) -> bool:
    """A random seed: `seed`, `data.seed` and any other key whose last part is `seed`."""
    return key.rsplit(".", 1)[-1] == "seed"


def canonical(value: Any) -> Any:
    """A hashable stand-in for a spec value: 1 and 1.0 are equal, lists compare element-wise."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, int | float):
        return ("nan",) if isinstance(value, float) and math.isnan(value) else ("num", float(value))
    if isinstance(value, list | tuple):
        return ("list", tuple(canonical(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), canonical(v)) for k, v in value.items())))
    return ("other", repr(value))


_MISSING = ("missing",)


def differing_keys(specs: Sequence[dict[str, Any]], ignore: Iterable[str] = NAME_KEYS) -> list[str]:
    """The flattened keys whose value is not the same in every spec (a key one spec lacks differs).

    Keys come in the order they first appear; `ignore` (default: the run name) is left out.
    """
    ignored = set(ignore)
    order: dict[str, None] = {}
    for spec in specs:
        order.update(dict.fromkeys(spec))
    out = []
    for key in order:
        if key in ignored:
            continue
        first = canonical(specs[0][key]) if key in specs[0] else _MISSING
        if any((canonical(s[key]) if key in s else _MISSING) != first for s in specs[1:]):
            out.append(key)
    return out


def metric_names(runs: Sequence[Run]) -> list[str]:
    """Every scalar metric of the runs: auc, accuracy, r2, loss first, then in order of appearance."""
    seen: dict[str, None] = {}
    for run in runs:
        seen.update(dict.fromkeys(run.metrics))
    leading = [m for m in LEADING_METRICS if m in seen]
    return leading + [m for m in seen if m not in leading]


def main_metric(names: Iterable[str]) -> str | None:
    """The metric a comparison is about: auc, else accuracy, else r2, else the first one."""
    names = list(names)
    return next((m for m in MAIN_METRICS if m in names), names[0] if names else None)


# ------------------------------------------------------------------------------------- tables


@dataclass
class Table:
    """Rows of a comparison and the (logical) columns to show, in order.

    In a grouped table each row is a group of runs that differ only by seed: `id` is the list of
    the runs' ids, each result column `x` is stored as `x_mean` and `x_std`, and `n_runs` counts
    the runs; `results` names the result (averaged) columns.
    """

    rows: list[dict[str, Any]]
    columns: list[str]
    keys: list[str]
    results: list[str]
    grouped: bool = False
    available: list[str] = field(default_factory=list)


#: Row fields that are not spec keys; a spec key of the same name is shown as `spec.<key>`.
_RESERVED = frozenset({"id", "status", *EPOCH_COLUMNS, DURATION_COLUMN, "path", *GROUP_COLUMNS})


def _key_column(key: str) -> str:
    return f"spec.{key}" if key in _RESERVED else key


def metric_columns(runs: Sequence[Run]) -> dict[str, str]:
    """Metric name -> its column: the name, or `test_<name>` if a spec key or column has that name."""
    taken = {*_RESERVED, *INFO_COLUMNS}
    for run in runs:
        taken.update(_key_column(k) for k in run.spec)
    return {m: f"test_{m}" if m in taken else m for m in metric_names(runs)}


def run_row(run: Run, metrics: dict[str, str]) -> dict[str, Any]:
    """One run as a flat dict: id, name, status, every spec key, metrics, epochs, duration, path.

    `metrics` maps each metric name to its column (see `metric_columns`); a metric the run
    lacks is NaN. The spec's own `name` is the run's name.
    """
    row: dict[str, Any] = {"id": run.id, "name": run.name, "status": run.state}
    for key, value in run.spec.items():
        row.setdefault(_key_column(key), value)
    for name, column in metrics.items():
        row[column] = run.metrics.get(name, math.nan)
    for key in EPOCH_COLUMNS:
        row[key] = run.epochs.get(key, math.nan)
    duration = run.status.get("duration_s")
    row[DURATION_COLUMN] = float(duration) if _is_number(duration) else math.nan
    row["path"] = str(run.path)
    return row


# -- filters

_FILTER = re.compile(
    r"^\s*(?P<key>[^=!<>\s][^=!<>]*?)\s*(?P<op>==|!=|>=|<=|=|>|<)\s*(?P<value>[^=!<>\s].*?)\s*$"
)
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


@dataclass(frozen=True)
class Filter:
    """`KEY OP VALUE` with OP one of = != > >= < <=; numbers compare numerically, the rest as text.

    Text equality ignores case (`train.shuffle=True` matches true); a list is written as
    `[64, 64]`, a null as `null`.
    """

    key: str
    op: str
    value: str

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether the row's value of `key` passes; a missing value only passes `!=`."""
        cell = row.get(self.key, _ABSENT)
        if cell is _ABSENT or (isinstance(cell, float) and math.isnan(cell)):
            return self.op == "!="
        compare = _OPS[self.op]
        number = _number(self.value)
        if number is not None and _is_number(cell):
            return compare(float(cell), number)
        if self.op in ("=", "==", "!="):
            return compare(_text(cell).lower(), self.value.lower())
        if number is not None:
            return False  # an ordering against a number: text cannot pass it
        return compare(_text(cell), self.value)

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


_ABSENT = object()


def parse_filter(text: str) -> Filter:
    """`model.dropout>0.1` as a Filter; ValueError saying what a filter looks like."""
    match = _FILTER.match(text)
    if not match:
        raise ValueError(
            f"{text!r}: a filter is KEY OP VALUE with OP one of = != > >= < <=, "
            "e.g. status=completed or model.dropout>0.1"
        )
    return Filter(match["key"], match["op"], match["value"])


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def filter_rows(rows: list[dict[str, Any]], filters: Sequence[Filter]) -> list[dict[str, Any]]:
    """The rows that pass every filter; ValueError naming a key that no row has."""
    known: dict[str, None] = {}
    for row in rows:
        known.update(dict.fromkeys(row))
    for f in filters:
        if rows and f.key not in known:
            raise ValueError(f"filter {str(f)!r}: unknown key {f.key!r}; {_choices(known)}")
    return [row for row in rows if all(f.matches(row) for f in filters)]


# -- grouping


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1) of the finite values; NaN where undefined."""
    finite = [v for v in values if math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(finite) / n
    if n == 1:
        return mean, math.nan
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in finite) / (n - 1))


def group_rows(
    rows: list[dict[str, Any]], keys: Sequence[str], results: Sequence[str]
) -> list[dict[str, Any]]:
    """Rows that differ only by seed keys (and name and id) merged into one row per group.

    Runs are grouped by status and by the values of `keys` except the seed keys. A group row has
    `id` (list of ids), `name` (the distinct names joined by ", "), `status`, each key of the
    first run (seed keys: the list of every run's value), `<result>_mean` and `<result>_std`
    (sample standard deviation over the finite values) for each of `results`, and `n_runs`.
    Groups come in the order of their first run.
    """
    config = [k for k in keys if not is_seed_key(k)]
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        signature = (row.get("status"), *(canonical(row.get(k, _MISSING)) for k in config))
        groups.setdefault(signature, []).append(row)
    out = []
    for members in groups.values():
        first = members[0]
        merged: dict[str, Any] = {
            key: value for key, value in first.items() if key not in results and key != "path"
        }
        merged["id"] = [m["id"] for m in members]
        merged["name"] = ", ".join(dict.fromkeys(str(m.get("name")) for m in members))
        merged["path"] = [m.get("path") for m in members]
        for key in first:
            if is_seed_key(key):
                merged[key] = [m.get(key) for m in members]
        for column in results:
            mean, std = _mean_std([_float(m.get(column)) for m in members])
            merged[f"{column}_mean"] = mean
            merged[f"{column}_std"] = std
        merged["n_runs"] = len(members)
        out.append(merged)
    return out


def _float(value: Any) -> float:
    return float(value) if _is_number(value) else math.nan


def build_table(runs: Sequence[Run], filters: Sequence[Filter] = (), group: bool = True) -> Table:
    """The comparison of `runs`: filtered (per run), then grouped by seed unless `group` is False.

    Default columns: id, name, status, the spec keys that differ between the remaining runs
    (seed keys left out when grouped), the test metrics, best and stopped epoch, duration and,
    when grouped, n_runs. ValueError for a filter on a key no run has.
    """
    metrics = metric_columns(runs)
    rows = filter_rows([run_row(run, metrics) for run in runs], filters)
    kept = {row["path"] for row in rows}
    keys = [_key_column(k) for k in differing_keys([r.spec for r in runs if str(r.path) in kept])]
    results = [*metrics.values(), *EPOCH_COLUMNS, DURATION_COLUMN]
    available: dict[str, None] = {}
    for row in rows:
        available.update(dict.fromkeys(row))
    shown_keys = [k for k in keys if not (group and is_seed_key(k))]
    columns = [
        *INFO_COLUMNS,
        *shown_keys,
        *metrics.values(),
        *DEFAULT_EPOCH_COLUMNS,
        DURATION_COLUMN,
    ]
    if group:
        rows = group_rows(rows, keys, results)
        columns.append("n_runs")
        available["n_runs"] = None
        for column in results:
            available.update({f"{column}_mean": None, f"{column}_std": None})
    return Table(
        rows=rows,
        columns=columns,
        keys=keys,
        results=results,
        grouped=group,
        available=list(available),
    )


# -- sorting and columns


def default_descending(key: str) -> bool:
    """Whether `key` sorts best-first by default: metrics like auc/accuracy (higher is better)."""
    base = key.removesuffix("_mean").rsplit(".", 1)[-1]
    return base.endswith(HIGHER_IS_BETTER)


def parse_sort(text: str) -> tuple[str, bool | None]:
    """`auc` -> ("auc", None: default direction); `-auc` descending, `+auc` ascending."""
    text = text.strip()
    if text[:1] in "+-" and len(text) > 1:
        return text[1:], text[0] == "-"
    return text, None


def _field(table: Table, key: str) -> str:
    """The row field behind a logical column: `auc` is `auc_mean` in a grouped table."""
    if table.grouped and key in table.results:
        return f"{key}_mean"
    return key


def sort_table(table: Table, spec: str) -> Table:
    """Rows sorted by `spec` (`auc`, `-auc`, `+loss`, `model.dropout`); missing values last.

    Without a sign, metrics that are better when higher sort descending, everything else
    ascending. Numbers sort numerically and before text. ValueError for an unknown key.
    """
    key, descending = parse_sort(spec)
    if descending is None:
        descending = default_descending(key)
    name = _field(table, key)
    if key not in table.available and name not in table.available:
        raise ValueError(f"--sort {spec!r}: unknown key {key!r}; {_choices(table.available)}")

    def present(row: dict[str, Any]) -> bool:
        value = row.get(name)
        return value is not None and not (isinstance(value, float) and math.isnan(value))

    def order(row: dict[str, Any]) -> tuple[int, Any]:
        value = row[name]
        return (0, float(value)) if _is_number(value) else (1, _text(value))

    with_values = [row for row in table.rows if present(row)]
    without = [row for row in table.rows if not present(row)]
    with_values.sort(key=order, reverse=descending)
    return replace(table, rows=with_values + without)


#: Test metrics a terminal table shows by default (csv and json keep every metric).
TERMINAL_METRICS = (
    "auc",
    "accuracy",
    "loss",
    "rejection_at_50",
    "rejection_at_90",
    "rmse",
    "mae",
    "r2",
    # bias/variance experiments (one row per point)
    "expected_error",
    "bias2",
    "variance",
)


def terminal_columns(table: Table) -> Table:
    """The table with only the TERMINAL_METRICS among its result columns, so it fits a screen."""
    results = set(table.results)
    keep = [
        c
        for c in table.columns
        if c not in results or c in TERMINAL_METRICS or c in EPOCH_COLUMNS or c == DURATION_COLUMN
    ]
    return replace(table, columns=keep)


def select_columns(table: Table, names: Sequence[str]) -> Table:
    """The table showing exactly `names`, in that order; ValueError for an unknown column."""
    unknown = [
        n for n in names if n not in table.available and _field(table, n) not in table.available
    ]
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)}; {_choices(table.available)}")
    return replace(table, columns=list(names))


def _choices(names: Iterable[str]) -> str:
    names = [n for n in names if n != "path"]
    shown = ", ".join(names[:60]) + (f", ... ({len(names) - 60} more)" if len(names) > 60 else "")
    return f"known keys: {shown}"


# ---------------------------------------------------------------------------------- formatting


def _text(value: Any) -> str:
    """A spec value as YAML would write it: null, true, [64, 64], 0.001."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def _number_text(value: Any, column: str) -> str:
    """A result as text: epochs as integers, durations to 0.1 s, metrics to 4 decimals."""
    if not _is_number(value) or math.isnan(value):
        return "-"
    value = float(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if column in EPOCH_COLUMNS and value.is_integer():
        return str(int(value))
    if column == DURATION_COLUMN or column in EPOCH_COLUMNS:
        return f"{value:.1f}"
    if value == 0 or abs(value) >= 1e-3:
        return f"{value:.4f}"
    return f"{value:.3g}"


def _flat_fields(table: Table, column: str) -> list[str]:
    """The csv/json fields behind a logical column (grouped: `auc` -> auc_mean, auc_std)."""
    if table.grouped and column in table.results:
        return [f"{column}_mean", f"{column}_std"]
    if table.grouped and column == "id":
        return ["ids"]
    return [column]


def flat_columns(table: Table) -> list[str]:
    """The field names of the csv header and of each json row."""
    return [f for column in table.columns for f in _flat_fields(table, column)]


def flat_rows(table: Table) -> list[dict[str, Any]]:
    """Each row as the csv/json fields: plain values, NaN as None."""
    out = []
    for row in table.rows:
        record: dict[str, Any] = {}
        for name in flat_columns(table):
            value = row.get("id" if name == "ids" else name)
            if isinstance(value, float) and not math.isfinite(value):
                value = None
            record[name] = value
        out.append(record)
    return out


def _cell(table: Table, row: dict[str, Any], column: str) -> str:
    """What the text and markdown tables show in a cell."""
    if table.grouped and column in table.results:
        mean, std = row.get(f"{column}_mean"), row.get(f"{column}_std")
        text = _number_text(mean, column)
        if _is_number(std) and math.isfinite(std) and text != "-":
            text += f" ± {_number_text(std, column)}"
        return text
    value = row.get(column, _ABSENT)
    if value is _ABSENT:
        return "-"
    if column == "id" and isinstance(value, list):
        return value[0] + (f" (+{len(value) - 1})" if len(value) > 1 else "")
    if column in table.results or column.endswith(("_mean", "_std")):
        return _number_text(value, column.removesuffix("_mean").removesuffix("_std"))
    return _text(value)


def _is_numeric_column(table: Table, column: str) -> bool:
    if column in table.results or column == "n_runs" or column.endswith(("_mean", "_std")):
        return True
    values = [row.get(column) for row in table.rows if row.get(column) is not None]
    return bool(values) and all(_is_number(v) for v in values)


def _display_columns(table: Table) -> list[str]:
    """The text table hides n_runs when no group has more than one run."""
    if table.grouped and all(row.get("n_runs", 1) == 1 for row in table.rows):
        return [c for c in table.columns if c != "n_runs"]
    return table.columns


def format_text(table: Table) -> str:
    """An aligned plain-text table (numbers right-aligned); empty string for no rows."""
    if not table.rows:
        return ""
    columns = _display_columns(table)
    body = [[_cell(table, row, c) for c in columns] for row in table.rows]
    widths = [max(len(c), *(len(r[i]) for r in body)) for i, c in enumerate(columns)]
    right = [_is_numeric_column(table, c) for c in columns]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if r else cell.ljust(w)
            for cell, w, r in zip(cells, widths, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns), *(line(r) for r in body)]) + "\n"


def table_cells(table: Table) -> tuple[list[str], list[list[str]], list[bool]]:
    """The displayed columns, each row's cells as text, and which columns are numeric."""
    columns = _display_columns(table)
    rows = [[_cell(table, row, c) for c in columns] for row in table.rows]
    return columns, rows, [_is_numeric_column(table, c) for c in columns]


def format_markdown(table: Table) -> str:
    """A GitHub-flavoured markdown table (numbers right-aligned, `|` escaped)."""
    columns = _display_columns(table)

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [
        "| " + " | ".join(escape(c) for c in columns) + " |",
        "|" + "|".join("---:" if _is_numeric_column(table, c) else "---" for c in columns) + "|",
    ]
    for row in table.rows:
        lines.append("| " + " | ".join(escape(_cell(table, row, c)) for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _csv_value(name: str, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if name == "ids":
        return " ".join(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return value


def format_csv(table: Table) -> str:
    """CSV: a header of field names (spec keys by dotted path) and full-precision values.

    Lists and mappings are written as JSON, the ids of a group separated by spaces, null as "".
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(flat_columns(table))
    for record in flat_rows(table):
        writer.writerow([_csv_value(k, v) for k, v in record.items()])
    return out.getvalue()


def format_json(table: Table) -> str:
    """JSON: {"grouped", "differing_keys", "columns", "rows"}; NaN is null."""
    return to_json(
        {
            "grouped": table.grouped,
            "differing_keys": table.keys,
            "columns": flat_columns(table),
            "rows": flat_rows(table),
        }
    )


def format_table(table: Table, fmt: str) -> str:
    """The table as `table` (aligned text), `csv`, `json` or `markdown`."""
    formatters = {
        "table": format_text,
        "csv": format_csv,
        "json": format_json,
        "markdown": format_markdown,
    }
    if fmt not in formatters:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return formatters[fmt](table)


# ------------------------------------------------------------------------------------ figures


def row_label(table: Table, row: dict[str, Any]) -> str:
    """A short legend label: the differing keys' values, else the run id (and its group size)."""
    keys = [k for k in table.keys if not (table.grouped and is_seed_key(k))]
    if keys:
        label = ", ".join(f"{k.rsplit('.', 1)[-1]}={_text(row.get(k))}" for k in keys[:4])
    else:
        ids = row["id"] if isinstance(row["id"], list) else [row["id"]]
        label = str(ids[0])
    n = row.get("n_runs", 1)
    return f"{label} (n={n})" if n > 1 else label


def read_history_column(path: Path, names: Sequence[str]) -> tuple[str, list[float], list[float]]:
    """(column, epochs, values) of the first of `names` that history.csv has; ValueError if none."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            records = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ValueError(f"{path}: {_one_line(exc)}") from None
    if not records:
        raise ValueError(f"{path}: no epochs")
    column = next((n for n in names if n in records[0]), None)
    if column is None:
        raise ValueError(f"{path}: no {' or '.join(names)} column")
    epochs, values = [], []
    for i, record in enumerate(records, start=1):
        epochs.append(_parse_float(record.get("epoch"), float(i)))
        values.append(_parse_float(record.get(column), math.nan))
    return column, epochs, values


def _parse_float(text: str | None, default: float) -> float:
    try:
        return float(text) if text not in (None, "") else default
    except ValueError:
        return default


def learning_curves_figure(
    curves: Sequence[tuple[str, int, list[float], list[float]]], ylabel: str
) -> Figure:
    """Overlaid validation curves: (label, colour index, epochs, values) per run, one axis.

    Runs of one group share a colour and a legend entry; the y axis is logarithmic when the
    values span more than two decades. The legend is left out beyond 20 entries.
    """
    from expctl.plots.learning_curves import new_figure

    figure = new_figure(7.0, 4.6)
    ax = figure.subplots()
    labelled: set[str] = set()
    finite_values: list[float] = []
    for label, colour, epochs, values in curves:
        points = [(e, v) for e, v in zip(epochs, values, strict=True) if math.isfinite(v)]
        finite_values.extend(v for _, v in points)
        ax.plot(
            epochs,
            values,
            "-",
            color=f"C{colour % 10}",
            linewidth=1.5,
            alpha=0.85,
            marker="o" if len(epochs) <= 20 else None,
            markersize=3,
            label=None if label in labelled else label,
        )
        labelled.add(label)
    if finite_values and min(finite_values) > 0 and max(finite_values) > 100 * min(finite_values):
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel.replace("_", " "))
    ax.grid(True, alpha=0.35)
    if 0 < len(labelled) <= 20:
        ax.legend(fontsize=8, framealpha=0.9)
    return figure


def metric_figure(
    points: Sequence[tuple[str, float, float]], metric: str, higher_is_better: bool
) -> Figure:
    """One point per run or group, top to bottom: (label, value, std), a ±1 std bar where known."""
    from expctl.plots.learning_curves import new_figure

    n = len(points)
    figure = new_figure(7.0, min(1.4 + 0.32 * n, 60.0))
    ax = figure.subplots()
    ys = list(range(n))
    values = [p[1] for p in points]
    errors = [p[2] if math.isfinite(p[2]) else 0.0 for p in points]
    ax.errorbar(values, ys, xerr=errors, fmt="o", color="C0", ecolor="0.3", capsize=4, markersize=6)
    ax.set_yticks(ys)
    ax.set_yticklabels([p[0] for p in points], fontsize=8)
    ax.set_ylim(n - 0.5, -0.5)  # the table's first row on top
    better = "higher" if higher_is_better else "lower"
    ax.set_xlabel(f"test {metric} ({better} is better; bars: ±1 std over seeds)")
    ax.grid(True, axis="x", alpha=0.35)
    return figure
