"""`compare`: runs side by side, read through RunView: flattened specs, the keys that differ, test
metrics, seed groups, filters, sorting by the metric catalogue's direction.

Everything here works on plain dicts and lists (no pandas, numpy or TensorFlow at import time), so
that `expctl compare` over a thousand runs starts and finishes quickly. A table is built in steps:

    runs = load_runs(paths, warn)                         # each run's files read once (RunView)
    runs = load_runs(paths, warn, evaluations=True)       # + a row per evaluation (RUN:NAME)
    table = build_table(runs, filters, group=True)        # rows: one per run or per seed group
    table = sort_table(table, "auc"); table = select_columns(table, ["id", "auc"])
    text = format_table(table, "markdown")                # expctl.views.table

`compare(...)` does all of it for the command; the figures' data is in `expctl.views.figures`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from expctl.evaluation import catalogue
from expctl.runs import layout
from expctl.runs.view import RunView
from expctl.views.grouping import (
    Filter,
    choices,
    differing_keys,
    filter_rows,
    group_rows,
    is_seed_key,
    parse_filter,
)
from expctl.views.table import (
    DEFAULT_EPOCH_COLUMNS,
    DURATION_COLUMN,
    EPOCH_COLUMNS,
    GROUP_COLUMNS,
    INFO_COLUMNS,
    Table,
    format_table,
    is_number,
    value_text,
)

Warn = Callable[[str], None]

#: The headline metrics, in the catalogue's order (auc, accuracy, r2); shown first, then loss.
MAIN_METRICS = tuple(name for name, entry in catalogue.CATALOGUE.items() if entry.main)
LEADING_METRICS = (*MAIN_METRICS, "loss")
#: The numbers of a bias/variance point that `compare` shows as its metrics (and `zero_one_*`).
POINT_METRICS = (
    "expected_error",
    "train_error",
    "bias2_plus_noise",
    "bias2",
    "expected_error_noiseless",
    "noise",
    "variance",
    "residual",
)
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


#: The column telling a run's own test metrics from its evaluations' (`compare --evaluations`).
EVALUATION_COLUMN = "evaluation"
#: Its value in a run's own row: not a valid evaluation name (a space), so never ambiguous.
NOMINAL = "test split"


class OptionError(ValueError):
    """A command-line value compare cannot use; `option` names the option (`--sort`)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


# ------------------------------------------------------------------------------ reading runs


@dataclass
class Run:
    """One row's source: a run (or one bias/variance point, or one evaluation of a run: then
    `path` is RUN/evaluations/NAME, `evaluation` NAME, and the spec and status are the run's)
    with its flattened spec and metrics."""

    path: Path
    status: dict[str, Any]
    spec: dict[str, Any]
    metrics: dict[str, float]
    epochs: dict[str, float] = field(default_factory=dict)
    evaluation: str | None = None

    @property
    def id(self) -> str:
        """The run's id; `RUN:NAME` for an evaluation of it."""
        if self.evaluation is not None:
            return f"{self.path.parent.parent.name}:{self.evaluation}"
        return self.path.name

    @property
    def state(self) -> str:
        return str(self.status.get("status", "unknown"))

    @property
    def name(self) -> str:
        return str(self.status.get("name") or self.spec.get("name") or "?")


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


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The numbers of metrics.json that are test metrics by the catalogue (null, from NaN, is NaN).

    A multitask run's head metrics (`heads: {signal: {auc: ...}}`) become `heads.signal.auc`.
    """
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if key == "heads" and isinstance(value, dict):
            for head, head_metrics in value.items():
                if isinstance(head_metrics, dict):
                    out.update(
                        scalar_metrics({f"heads.{head}.{k}": v for k, v in head_metrics.items()})
                    )
        elif not catalogue.is_metric(str(key)):
            continue
        elif is_number(value):
            out[str(key)] = float(value)
        elif value is None:
            out[str(key)] = math.nan
    return out


def _epochs(training: dict[str, Any]) -> dict[str, float]:
    return {k: float(training[k]) for k in EPOCH_COLUMNS if is_number(training.get(k))}


def _run(view: RunView) -> Run:
    return Run(
        path=view.path,
        status=view.status,
        spec=flatten(view.spec or {}),
        metrics=scalar_metrics(view.metrics or {}),
        epochs=_epochs(view.training),
    )


def _points(view: RunView) -> list[Run]:
    """One Run per point of a bias/variance experiment: the spec with the scanned key set to the
    point's value plus `biasvar.train_fraction`, and the decomposition as its metrics."""
    base = Run(path=view.path, status=view.status, spec=flatten(view.spec or {}), metrics={})
    runs = []
    for point in view.points:
        spec = dict(base.spec)
        if "scan_key" in point:
            spec[str(point["scan_key"])] = point.get("scan_value")
        spec["biasvar.train_fraction"] = point.get("train_fraction")
        metrics = {k: point[k] for k in POINT_METRICS if k in point}
        for key, value in (point.get("zero_one") or {}).items():
            metrics[f"zero_one_{key}"] = value
        runs.append(replace(base, spec=spec, metrics=scalar_metrics(metrics)))
    return runs


def _evaluations(view: RunView, run: Run, warn: Warn) -> list[Run]:
    """One Run per evaluation of the run (`expctl evaluate`), in name order: the run's spec and
    status, the evaluation's metrics (a multitask run's `heads` too), no epochs or duration."""
    out = []
    for name in view.evaluations:
        evaluation = view.evaluation(name)
        metrics = evaluation.metrics
        for message in evaluation.warnings:
            warn(message)
        if not metrics and not evaluation.warnings:
            warn(f"{evaluation.file(layout.METRICS)}: missing; the evaluation has no metrics")
        out.append(
            Run(
                path=evaluation.path,
                status=run.status,
                spec=run.spec,
                metrics=scalar_metrics(metrics or {}),
                evaluation=name,
            )
        )
    return out


def load_run(path: Path, warn: Warn, *, evaluations: bool = False) -> list[Run]:
    """The rows of one run directory: one run, or one per point of a bias/variance experiment;
    with `evaluations`, the run's row is followed by one row per evaluation of it.

    What is missing or corrupt is reported through `warn` (naming the file). A run whose spec
    cannot be read is skipped ([]); one without a readable status is kept as status `unknown`,
    one with unreadable metrics is kept without metrics; a running run is kept, with a warning.
    """
    view = RunView(path)
    if view.spec is None:
        for message in view.warnings:
            warn(f"{message}; skipped")
        return []
    runs = _points(view) if view.is_biasvar else [_run(view)]
    for message in view.warnings:
        warn(message)
    if evaluations and not view.is_biasvar:
        runs += _evaluations(view, runs[0], warn)
    if view.is_biasvar and view.state == "completed" and not view.exists(layout.DECOMPOSITION):
        warn(f"{view.file(layout.DECOMPOSITION)}: missing although the experiment completed")
    if view.state == "running":
        warn(f"{view.path}: still running; its results are incomplete")
    return runs


def load_runs(paths: Iterable[Path], warn: Warn, *, evaluations: bool = False) -> list[Run]:
    """`load_run` on each path, leaving out the runs that cannot be compared."""
    return [run for path in paths for run in load_run(Path(path), warn, evaluations=evaluations)]


# ------------------------------------------------------------------------------------- tables


def metric_names(runs: Sequence[Run]) -> list[str]:
    """Every scalar metric of the runs: auc, accuracy, r2, loss first, then in order of appearance."""
    seen: dict[str, None] = {}
    for run in runs:
        seen.update(dict.fromkeys(run.metrics))
    leading = [m for m in LEADING_METRICS if m in seen]
    return leading + [m for m in seen if m not in leading]


def main_metric(names: Iterable[str]) -> str | None:
    """The metric a comparison is about: the catalogue's main metric, else the first one."""
    names = list(names)
    return catalogue.main_metric(names) or (names[0] if names else None)


#: Row fields that are not spec keys; a spec key of the same name is shown as `spec.<key>`.
_RESERVED = frozenset(
    {"id", "status", *EPOCH_COLUMNS, DURATION_COLUMN, "path", *GROUP_COLUMNS, EVALUATION_COLUMN}
)


def _key_column(key: str) -> str:
    return f"spec.{key}" if key in _RESERVED else key


def metric_columns(runs: Sequence[Run]) -> dict[str, str]:
    """Metric name -> its column: the name, or `test_<name>` if a spec key or column has that name."""
    taken = {*_RESERVED, *INFO_COLUMNS}
    for run in runs:
        taken.update(_key_column(k) for k in run.spec)
    return {m: f"test_{m}" if m in taken else m for m in metric_names(runs)}


def run_row(run: Run, metrics: dict[str, str], evaluated: bool = False) -> dict[str, Any]:
    """One run as a flat dict: id, name, status, every spec key, metrics, epochs, duration, path.

    `metrics` maps each metric name to its column (see `metric_columns`); a metric the run
    lacks is NaN. The spec's own `name` is the run's name. With `evaluated` (the table has
    evaluations), `evaluation` is the evaluation's name, or NOMINAL for the run's own row.
    """
    row: dict[str, Any] = {"id": run.id, "name": run.name, "status": run.state}
    if evaluated:
        row[EVALUATION_COLUMN] = run.evaluation if run.evaluation is not None else NOMINAL
    for key, value in run.spec.items():
        row.setdefault(_key_column(key), value)
    for name, column in metrics.items():
        row[column] = run.metrics.get(name, math.nan)
    for key in EPOCH_COLUMNS:
        row[key] = run.epochs.get(key, math.nan)
    # an evaluation's row shares the run's status, but the run's duration is not its own
    duration = run.status.get("duration_s") if run.evaluation is None else None
    row[DURATION_COLUMN] = float(duration) if is_number(duration) else math.nan
    row["path"] = str(run.path)
    return row


def build_table(runs: Sequence[Run], filters: Sequence[Filter] = (), group: bool = True) -> Table:
    """The comparison of `runs`: filtered (per run), then grouped by seed unless `group` is False.

    Default columns: id, name, status, `evaluation` when some rows are evaluations (it is then
    the first key: a run's row and its evaluations' are never grouped together, while the same
    evaluation of runs that differ only by seed is), the spec keys that differ between the
    remaining runs (seed keys left out when grouped), the test metrics, best and stopped epoch,
    duration and, when grouped, n_runs. ValueError for a filter on a key no run has.
    """
    metrics = metric_columns(runs)
    evaluated = any(run.evaluation is not None for run in runs)
    rows = filter_rows([run_row(run, metrics, evaluated) for run in runs], filters)
    kept = {row["path"] for row in rows}
    keys = [_key_column(k) for k in differing_keys([r.spec for r in runs if str(r.path) in kept])]
    if evaluated:
        keys.insert(0, EVALUATION_COLUMN)
    results = [*metrics.values(), *EPOCH_COLUMNS, DURATION_COLUMN]
    available: dict[str, None] = {}
    for row in rows:
        available.update(dict.fromkeys(row))
    shown_keys = [k for k in keys if not (group and is_seed_key(k))]
    columns = [*INFO_COLUMNS, *shown_keys, *metrics.values(), *DEFAULT_EPOCH_COLUMNS]
    columns.append(DURATION_COLUMN)
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
        metrics={column: name for name, column in metrics.items()},
    )


# ------------------------------------------------------------------------- sorting and columns


def parse_sort(text: str) -> tuple[str, bool | None]:
    """`auc` -> ("auc", None: default direction); `-auc` descending, `+auc` ascending."""
    text = text.strip()
    if text[:1] in "+-" and len(text) > 1:
        return text[1:], text[0] == "-"
    return text, None


def field_of(table: Table, key: str) -> str:
    """The row field behind a logical column: `auc` is `auc_mean` in a grouped table."""
    if table.grouped and key in table.results:
        return f"{key}_mean"
    return key


def metric_of(table: Table, key: str) -> str | None:
    """The catalogue name of the metric behind column `key` (`auc`, `auc_mean`, `test_auc`,
    `heads.signal.auc`); None for spec keys, info, epoch and duration columns and `_std`."""
    if key in table.metrics:
        return table.metrics[key]
    if table.grouped and key.endswith("_mean"):
        return table.metrics.get(key.removesuffix("_mean"))
    return None


def default_descending(table: Table, key: str) -> bool:
    """Whether `key` sorts descending without a sign: a metric best first by the catalogue,
    anything else ascending. ValueError for a metric with no better direction."""
    metric = metric_of(table, key)
    if metric is None:
        return False
    better = catalogue.direction(metric)
    if better is None:
        raise ValueError(
            f"{catalogue.no_direction_message(metric, f'--sort {key}')}: "
            f"give --sort +{key} (ascending) or --sort -{key} (descending)"
        )
    return better == "higher"


def sort_table(table: Table, spec: str) -> Table:
    """Rows sorted by `spec` (`auc`, `-auc`, `+loss`, `model.dropout`); missing values last.

    Without a sign a metric sorts best first (the catalogue's direction) and everything else
    ascending. Numbers sort numerically and before text. ValueError for an unknown key, or for a
    metric with no better direction and no sign.
    """
    key, descending = parse_sort(spec)
    name = field_of(table, key)
    if key not in table.available and name not in table.available:
        raise ValueError(f"--sort {spec!r}: unknown key {key!r}; {choices(table.available)}")
    if descending is None:
        descending = default_descending(table, key)

    def present(row: dict[str, Any]) -> bool:
        value = row.get(name)
        return value is not None and not (isinstance(value, float) and math.isnan(value))

    def order(row: dict[str, Any]) -> tuple[int, Any]:
        value = row[name]
        return (0, float(value)) if is_number(value) else (1, value_text(value))

    with_values = [row for row in table.rows if present(row)]
    without = [row for row in table.rows if not present(row)]
    with_values.sort(key=order, reverse=descending)
    return replace(table, rows=with_values + without)


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
        n for n in names if n not in table.available and field_of(table, n) not in table.available
    ]
    if unknown:
        raise ValueError(f"unknown column(s) {', '.join(unknown)}; {choices(table.available)}")
    return replace(table, columns=list(names))


# ------------------------------------------------------------------------------- the command


@dataclass
class Comparison:
    """What `compare` shows: the arranged table, its text in the chosen format, and how many
    runs were read (before the filters)."""

    table: Table
    text: str
    n_read: int


def compare(
    refs: Sequence[str],
    output_dir: Path | str,
    *,
    filters: Sequence[str] = (),
    sort: str | None = None,
    columns: Sequence[str] | None = None,
    fmt: str = "table",
    group: bool = True,
    evaluations: bool = False,
    warn: Warn | None = None,
) -> Comparison:
    """Compare the runs of `refs` (run ids, run directories, folders of runs; none: every run in
    `output_dir`); with `evaluations`, each run's evaluations too (a row each, `RUN:NAME`).

    A terminal format (table, markdown) shows the main metrics unless `columns` are given.
    OptionError (a ValueError naming the option) for a bad filter, sort key or column;
    RunNotFoundError when there is nothing to compare.
    """
    from expctl.errors import RunNotFoundError
    from expctl.runs.resolve import resolve_runs

    warn = warn or (lambda _: None)
    try:
        parsed = [parse_filter(text) for text in filters]
    except ValueError as exc:
        raise OptionError("--filter", str(exc)) from None
    if not refs and not Path(output_dir).is_dir():
        raise RunNotFoundError(
            f"{output_dir}: no such directory (--output-dir); no runs to compare"
        )
    paths = resolve_runs(refs or (str(output_dir),), Path(output_dir), warn)
    runs = load_runs(paths, warn, evaluations=evaluations)
    try:
        table = build_table(runs, parsed, group=group)
    except ValueError as exc:
        raise OptionError("--filter", str(exc)) from None
    if columns is None and fmt in ("table", "markdown"):
        table = terminal_columns(table)
    if sort:
        try:
            table = sort_table(table, sort)
        except ValueError as exc:
            raise OptionError("--sort", str(exc)) from None
    if columns is not None:
        try:
            table = select_columns(table, columns)
        except ValueError as exc:
            raise OptionError("--columns", str(exc)) from None
    return Comparison(table, format_table(table, fmt), len(runs))


__all__ = [
    "EVALUATION_COLUMN",
    "LEADING_METRICS",
    "MAIN_METRICS",
    "NOMINAL",
    "POINT_METRICS",
    "TERMINAL_METRICS",
    "Comparison",
    "OptionError",
    "Run",
    "build_table",
    "compare",
    "default_descending",
    "field_of",
    "flatten",
    "load_run",
    "load_runs",
    "main_metric",
    "metric_columns",
    "metric_names",
    "metric_of",
    "parse_sort",
    "run_row",
    "scalar_metrics",
    "select_columns",
    "sort_table",
    "terminal_columns",
]
