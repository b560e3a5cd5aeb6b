"""What the dashboard's pages show, as JSON-ready dicts: no web framework here, so it is tested alone.

Every number comes from the code the commands use: the runs table is `expctl compare`'s
(`expctl.views.compare`: rows, differing keys, seed groups, `--filter`, `--sort` by the metric
catalogue's direction, cells as its text table writes them), a run is read through `RunView`,
the ROC overlay is `expctl.views.roc.roc_curves` (compare's overlay: binary runs only), its
rejection ratios are `expctl roc --hep`'s ratio panel's (`expctl.plots.roc.log_rejection_at`) and
the exported figure is `expctl roc`'s (`expctl.views.roc.roc_figure_for`).
"""

from __future__ import annotations

import csv
import math
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from expctl.evaluation import catalogue
from expctl.runs import layout
from expctl.runs.specfile import read_spec_file
from expctl.runs.store import CRASHED, FINAL_STATUSES
from expctl.runs.view import RunView, find_runs
from expctl.ui.safety import links_out
from expctl.views.biasvar import SUMMARY_KEYS
from expctl.views.compare import (
    OptionError,
    Run,
    build_table,
    default_descending,
    flatten,
    load_run,
    main_metric,
    metric_of,
    parse_sort,
    scalar_metrics,
    sort_table,
    terminal_columns,
)
from expctl.views.grouping import parse_filter
from expctl.views.table import Table, is_number, table_cells, value_text

#: Runs whose row cannot change until their files do (a resume rewrites status.json).
CACHEABLE = (*FINAL_STATUSES, CRASHED)

#: Points of a curve sent to the browser (the exported figure draws every point).
MAX_CURVE_POINTS = 2000
#: Warnings sent with one answer (the rest are counted).
MAX_WARNINGS = 50
#: Figure formats of the export link, with their media types.
FIGURE_FORMATS = {"png": "image/png", "pdf": "application/pdf"}
#: Largest sweep.csv read (a row per trial: a million trials would not reach it).
MAX_SWEEP_CSV_BYTES = 50_000_000
#: sweep.csv's own columns (`expctl.sweep.outputs.FIXED_COLUMNS`); the others are the parameters.
SWEEP_FIXED_COLUMNS = ("trial", "state", "value", "duration_s", "run", "host")


# ----------------------------------------------------------------------------------- the runs


class RunsSource:
    """The runs directly inside DIR as compare's `Run` rows, re-read only when their files change.

    A run whose recorded status is final and whose status, spec, metrics and decomposition files
    have the same size and modification time as at the last read is served from memory, so
    polling a folder of 1,000 finished runs costs a few thousand `stat` calls; a running run is
    read every time (its `crashed` state depends on its process).
    """

    _FILES = (layout.STATUS, layout.SPEC, layout.METRICS, layout.DECOMPOSITION)

    def __init__(self, root: Path, boundary: Path | None = None) -> None:
        self.root = root
        #: a run with a file linking outside this folder is skipped (DIR, for a folder below it)
        self.boundary = boundary or root
        self._lock = threading.Lock()
        self._cache: dict[Path, tuple[tuple[Any, ...], list[Run], list[str]]] = {}

    def _stamp(self, path: Path) -> tuple[Any, ...]:
        out: list[Any] = []
        for name in self._FILES:
            try:
                st = os.stat(path / name)
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    def load(self) -> tuple[list[Run], list[str]]:
        """Every run in DIR (oldest first) and the warnings met reading them."""
        runs: list[Run] = []
        warnings: list[str] = []
        seen: set[Path] = set()
        for view in find_runs(self.root):
            path = view.path
            outside = links_out(self.boundary, path)
            if outside:
                warnings.append(f"{path}: skipped: {', '.join(outside)} links out of DIR")
                continue
            seen.add(path)
            stamp = self._stamp(path)
            with self._lock:
                cached = self._cache.get(path)
            if cached is not None and cached[0] == stamp:
                runs += cached[1]
                warnings += cached[2]
                continue
            found: list[str] = []
            rows = load_run(path, found.append)
            runs += rows
            warnings += found
            if rows and all(r.status.get("status") in CACHEABLE for r in rows):
                with self._lock:
                    self._cache[path] = (stamp, rows, found)
        with self._lock:
            for gone in set(self._cache) - seen:
                del self._cache[gone]
        return runs, warnings


def _column(table: Table, name: str, numeric: bool) -> dict[str, Any]:
    """A column and how its header sorts on a first click: a metric with a direction best first
    (the plain name), one without ascending (`+name`: the catalogue never guesses), others
    ascending."""
    metric = metric_of(table, name)
    better = catalogue.direction(metric) if metric is not None else None
    first = f"+{name}" if metric is not None and better is None else name
    return {"name": name, "numeric": numeric, "metric": metric, "better": better, "first": first}


def runs_table(
    source: RunsSource,
    *,
    filters: Sequence[str] = (),
    sort: str | None = None,
    group: bool = True,
    every_metric: bool = False,
) -> dict[str, Any]:
    """The runs page's table: compare's rows and cells, filtered, grouped and sorted as asked.

    OptionError (naming `filter` or `sort`) for a filter or sort key compare would refuse.
    """
    try:
        parsed = [parse_filter(text) for text in filters if text.strip()]
    except ValueError as exc:
        raise OptionError("filter", str(exc)) from None
    runs, warnings = source.load()
    try:
        table = build_table(runs, parsed, group=group)
    except ValueError as exc:
        raise OptionError("filter", str(exc)) from None
    if not every_metric:
        table = terminal_columns(table)
    descending = None
    if sort:
        try:
            table = sort_table(table, sort)
        except ValueError as exc:
            raise OptionError("sort", str(exc)) from None
        key, sign = parse_sort(sort)
        descending = sign if sign is not None else default_descending(table, key)
    columns, cells, numeric = table_cells(table)
    rows = []
    for row, row_cells in zip(table.rows, cells, strict=True):
        ids = row["id"] if isinstance(row["id"], list) else [row["id"]]
        rows.append({"ids": ids, "status": str(row.get("status")), "cells": row_cells})
    return {
        "directory": str(source.root),
        "columns": [_column(table, c, n) for c, n in zip(columns, numeric, strict=True)],
        "rows": rows,
        "grouped": table.grouped,
        "sort": None if not sort else {"key": parse_sort(sort)[0], "descending": descending},
        "n_read": len(runs),
        "warnings": warnings[:MAX_WARNINGS],
        "n_warnings": len(warnings),
    }


def study(source: RunsSource, *, metric: str | None, filters: Sequence[str] = ()) -> dict[str, Any]:
    """The runs in time order as a study: each run's `metric` (default: the main metric) and its
    values of the spec keys that differ, for the optimisation history (with the best so far by
    the catalogue's direction) and parallel coordinates. One entry per run (no seed groups).

    OptionError (naming `metric` or `filter`) for a metric no run has or a bad filter.
    """
    try:
        parsed = [parse_filter(text) for text in filters if text.strip()]
    except ValueError as exc:
        raise OptionError("filter", str(exc)) from None
    runs, _ = source.load()
    try:
        table = build_table(runs, parsed, group=False)
    except ValueError as exc:
        raise OptionError("filter", str(exc)) from None
    metrics = list(table.metrics.values())
    name = metric or main_metric(metrics)
    if name is not None and name not in metrics:
        raise OptionError(
            "metric", f"{name!r}: no run has it; the runs' metrics: {', '.join(metrics)}"
        )
    column = next((c for c, m in table.metrics.items() if m == name), None)
    entries = []
    for row in table.rows:
        value = row.get(column) if column else None
        entries.append(
            {
                "id": row["id"],
                "status": str(row.get("status")),
                "value": _finite(value) if is_number(value) else None,
                "params": [_param(row.get(key)) for key in table.keys],
            }
        )
    return {
        "metric": name,
        "metrics": metrics,
        "better": catalogue.direction(name) if name else None,
        "keys": table.keys,
        "runs": entries,
    }


def _param(value: Any) -> Any:
    """A spec value for parallel coordinates: a number as it is, anything else as its text."""
    if is_number(value):
        return _finite(value)
    return value_text(value)


# ------------------------------------------------------------------------------------ a run


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def history_payload(view: RunView) -> dict[str, Any]:
    """history.csv as columns and rows of numbers (an empty cell is null)."""
    rows = view.history
    columns = view.history_columns
    return {
        "columns": columns,
        "rows": [[_finite(row.get(c, math.nan)) for c in columns] for row in rows],
        "bookkeeping": [c for c in columns if c in layout.HISTORY_BOOKKEEPING],
    }


def _pairs(data: dict[str, Any] | None) -> list[list[str]]:
    """A mapping as [dotted key, value as text] pairs (YAML-like values: null, true, [64, 64])."""
    return [[key, value_text(value)] for key, value in flatten(data or {}).items()]


def run_state(view: RunView) -> dict[str, Any]:
    """What the run page polls: the run's state and history (cheap: two files)."""
    status = view.status
    return {
        "id": view.id,
        "state": view.state,
        "error": status.get("error"),
        "history": history_payload(view),
    }


def run_detail(path: Path) -> dict[str, Any]:
    """A run's page: name, state, status, test metrics, spec, environment, data, history."""
    view = RunView(path)
    metrics = scalar_metrics(view.metrics or {})
    status = view.status
    out = run_state(view)
    out.update(
        {
            "name": view.name,
            "kind": view.kind,
            "status": _pairs({k: v for k, v in status.items() if k not in ("training",)}),
            "metrics": [
                [name, _finite(value), catalogue.direction(name)] for name, value in metrics.items()
            ],
            "training": _pairs(view.training),
            "spec": _pairs(view.spec),
            "environment": _pairs(view.environment),
            "data": _pairs(view.data),
            "has_predictions": view.exists(layout.PREDICTIONS),
            "plots": [path.name for path in run_plots(view)],
            "points": biasvar_points(view) if view.is_biasvar else [],
            "warnings": view.warnings[:MAX_WARNINGS],
        }
    )
    return out


def biasvar_points(view: RunView) -> list[dict[str, Any]]:
    """A bias/variance experiment's points: where each is (the scanned value, the training
    size), the decomposition's numbers of `expctl biasvar`'s summary, and the verdict."""
    out = []
    for point in view.points:
        scan = point.get("scan_value")
        out.append(
            {
                "scan_key": point.get("scan_key"),
                "scan_value": value_text(scan) if "scan_value" in point else None,
                "x": _finite(scan) if is_number(scan) else None,
                "train_size": _finite(point.get("train_size")),
                "values": {k: _finite(point[k]) for k in SUMMARY_KEYS if is_number(point.get(k))},
                "verdict": str(point.get("verdict", "")),
            }
        )
    return out


def run_plots(view: RunView) -> list[Path]:
    """The PNG figures the run saved in its plots/ folder (regular files only: no links)."""
    return [p for p in view.plots if p.suffix == ".png" and not p.is_symlink()]


def run_plot(view: RunView, name: str) -> bytes | None:
    """The bytes of one of `run_plots` by its file name; None for any other name."""
    for path in run_plots(view):
        if path.name == name:
            return path.read_bytes()
    return None


# --------------------------------------------------------------------------------- overlays


def _thin(values: Any, keep: Any) -> list[Any]:
    return [_finite(float(v)) for v in values[keep]]


def roc_overlay(paths: Sequence[Path], reference: str | None = None) -> dict[str, Any]:
    """The ROC curves of binary runs for the browser's overlay (compare's overlay: other runs are
    left out with a warning), each thinned to at most MAX_CURVE_POINTS points, and the rejection
    ratio panel (`rejection_ratios`) to the `reference` run (default: the first curve's).

    OptionError (naming `reference`) for a reference that is not one of the overlay's runs.
    """
    import numpy as np

    from expctl.views.roc import roc_curves

    warnings: list[str] = []
    curves = roc_curves([(p, p.name) for p in paths], warn=warnings.append)
    runs = [curve.run.name for curve in curves]
    if reference is not None and reference not in runs:
        raise OptionError(
            "reference",
            f"{reference!r} is not a run of the overlay; one of: {', '.join(runs) or '(none)'}",
        )
    out = []
    for curve in curves:
        n = len(curve.fpr)
        keep = np.unique(np.linspace(0, n - 1, min(n, MAX_CURVE_POINTS)).round().astype(int))
        out.append(
            {
                "run": curve.run.name,
                "label": curve.label,
                "auc": _finite(float(curve.auc)),
                "fpr": _thin(curve.fpr, keep),
                "tpr": _thin(curve.tpr, keep),
            }
        )
    ratio = rejection_ratios(curves, runs.index(reference) if reference is not None else 0)
    return {"curves": out, "ratio": ratio, "warnings": warnings}


def rejection_ratios(curves: Sequence[Any], reference: int = 0) -> dict[str, Any] | None:
    """Each curve's background rejection over the reference curve's, on a common grid of signal
    efficiencies, computed as the ratio panel of `expctl roc --hep` computes it (from every point
    of the curves, not the thinned ones): `{"reference": run, "efficiency": grid, "curves":
    [{"run", "label", "ratio"}]}` for every curve but the reference, null where either curve is
    undefined. None without curves.
    """
    import numpy as np

    from expctl.plots.roc import log_rejection_at

    if not curves:
        return None
    from expctl.plots.roc import RATIO_GRID_POINTS

    grid = np.linspace(0.0, 1.0, RATIO_GRID_POINTS)
    logs = [log_rejection_at(grid, {"fpr": c.fpr, "tpr": c.tpr}) for c in curves]
    out = []
    for i, curve in enumerate(curves):
        if i == reference:
            continue
        ratio = 10.0 ** (logs[i] - logs[reference])  # NaN where undefined
        out.append(
            {
                "run": curve.run.name,
                "label": curve.label,
                "ratio": [_finite(float(r)) for r in ratio],
            }
        )
    return {
        "reference": curves[reference].run.name,
        "efficiency": [float(e) for e in grid],
        "curves": out,
    }


def histories(paths: Sequence[Path]) -> dict[str, Any]:
    """The history.csv of each run, for the overlay of learning curves."""
    out = []
    for path in paths:
        view = RunView(path)
        out.append({"run": view.id, "state": view.state, "history": history_payload(view)})
    return {"runs": out}


#: Bins of the score distributions.
SCORE_BINS = 40


def score_distributions(paths: Sequence[Path]) -> dict[str, Any]:
    """Each binary run's test scores as two normalised histograms (signal, background; event
    weights applied), on shared bins: [0, 1] for probabilities, else the scores' range. Runs
    without predictions, or not binary, are left out with a warning."""
    import numpy as np

    from expctl.errors import BadInputError

    warnings: list[str] = []
    found = []
    for path in paths:
        try:
            pred = RunView(path).predictions()
        except BadInputError as exc:
            warnings.append(f"{exc.message}; left out of the score distributions")
            continue
        if pred.task != "binary":
            warnings.append(f"{path.name}: a {pred.task} run; score distributions take binary runs")
            continue
        found.append((path.name, pred))
    if not found:
        return {"runs": [], "edges": [], "warnings": warnings}
    scores = np.concatenate([np.asarray(p.y_score, dtype=float) for _, p in found])
    scores = scores[np.isfinite(scores)]
    if scores.size and (scores.min() < 0 or scores.max() > 1):
        low, high = float(scores.min()), float(scores.max())
        high = high if high > low else low + 1.0
    else:
        low, high = 0.0, 1.0
    edges = np.linspace(low, high, SCORE_BINS + 1)
    out = []
    for run_id, pred in found:
        y = np.asarray(pred.y_true).astype(int)
        score = np.asarray(pred.y_score, dtype=float)
        weight = None if pred.weight is None else np.asarray(pred.weight, dtype=float)
        entry: dict[str, Any] = {"run": run_id}
        for name, label in (("signal", 1), ("background", 0)):
            mask = y == label
            w = None if weight is None else weight[mask]
            if not mask.any():
                entry[name] = None
                continue
            counts, _ = np.histogram(score[mask], bins=edges, weights=w, density=True)
            entry[name] = [_finite(float(c)) for c in counts]
        out.append(entry)
    return {"runs": out, "edges": [float(e) for e in edges], "warnings": warnings}


def roc_figure_bytes(paths: Sequence[Path], *, hep: bool, fmt: str) -> bytes:
    """The figure `expctl roc RUN... [--hep] --out F.<fmt>` saves, as bytes (nothing is written):
    `expctl.views.roc.roc_figure_for`, with the CLI's default bootstrap."""
    from expctl.views.roc import figure_bytes, roc_figure_for

    figure, _ = roc_figure_for(paths, hep)
    return figure_bytes(figure, fmt)


# ---------------------------------------------------------------------------------- a sweep


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return _finite(value)


def _scales(space: Any) -> dict[str, str]:
    """Each dimension of a recorded sweep space as `log`, `linear` or `category`; entries that
    are not a dimension (a hand-edited file) are skipped."""
    scales: dict[str, str] = {}
    if not isinstance(space, dict):
        return scales
    for key, dim in space.items():
        if not isinstance(dim, dict):
            continue
        if dim.get("type") == "choice":
            scales[str(key)] = "category"
        elif dim.get("type") in ("float", "int"):
            scales[str(key)] = "log" if dim.get("log") is True else "linear"
    return scales


def sweep_detail(path: Path) -> dict[str, Any]:
    """A sweep directory's page: its trials (sweep.csv: state, value, duration, runs, host and
    the parameters, as written), the metric and the direction it was optimised in (sweep.yaml;
    `auto` is the catalogue's), and the best trial's spec (best.yaml: its comment lines, then
    the spec as [dotted key, value] pairs). `scales` maps a swept key to its axis in the
    parallel-coordinates plot, from sweep.yaml's space: `log`, `linear` or `category` (a choice);
    a key the space does not describe is left out (the page then looks at the values). A missing
    or unreadable file is a warning."""
    warnings: list[str] = []
    metric: str | None = None
    direction: str | None = None
    method: str | None = None
    scales: dict[str, str] = {}
    try:
        doc = read_spec_file(path / layout.SWEEP_YAML)
        recorded = doc.get("sweep") or {}
        scales = _scales(recorded.get("space"))
        metric = str(recorded.get("metric")) if recorded.get("metric") else None
        method = str(recorded.get("method")) if recorded.get("method") else None
        wanted = recorded.get("direction", "auto")
        if wanted in ("maximize", "minimize"):
            direction = "higher" if wanted == "maximize" else "lower"
        elif metric is not None:
            # the base spec's multitask heads, so that val_<head>_auc is known (as the sweep did)
            heads = [h.get("name") for h in (doc.get("model") or {}).get("heads") or []]
            direction = catalogue.direction(metric, [h for h in heads if isinstance(h, str)])
    except (ValueError, AttributeError) as exc:
        warnings.append(str(exc))
    keys: list[str] = []
    trials: list[dict[str, Any]] = []
    csv_path = path / layout.SWEEP_CSV
    try:
        size = csv_path.stat().st_size
        if size > MAX_SWEEP_CSV_BYTES:
            raise ValueError(f"{csv_path}: {size:,} bytes; too large to show")
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            keys = [c for c in reader.fieldnames or [] if c not in SWEEP_FIXED_COLUMNS]
            for row in reader:
                trials.append(
                    {
                        "trial": row.get("trial") or "",
                        "state": row.get("state") or "",
                        "value": _number(row.get("value")),
                        "duration_s": _number(row.get("duration_s")),
                        "runs": [r for r in (row.get("run") or "").split(";") if r],
                        "host": row.get("host") or "",
                        "params": [row.get(key) or "" for key in keys],
                    }
                )
    except FileNotFoundError:
        warnings.append(f"{csv_path}: missing (written when the sweep's workers finish)")
    except (OSError, ValueError, UnicodeDecodeError, csv.Error) as exc:
        warnings.append(f"{csv_path}: unreadable: {exc}")
    best: dict[str, Any] | None = None
    best_path = path / layout.BEST_YAML
    if best_path.exists():
        try:
            spec = read_spec_file(best_path)
            with open(best_path, encoding="utf-8") as fh:
                comments = [line[1:].strip() for line in fh if line.startswith("#")]
            best = {"comments": comments, "spec": _pairs(spec)}
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            warnings.append(str(exc))
    trials_dir = path / layout.SWEEP_TRIALS
    return {
        "name": path.name,
        "metric": metric,
        "better": direction,
        "method": method,
        "keys": keys,
        "scales": {key: scales[key] for key in keys if key in scales},
        "trials": trials,
        "best": best,
        "has_trials": trials_dir.is_dir() and not trials_dir.is_symlink(),
        "warnings": warnings[:MAX_WARNINGS],
    }


def is_sweep(path: Path) -> bool:
    """Whether `path` is a sweep directory (sweep.yaml or sweep.csv in it)."""
    return (path / layout.SWEEP_YAML).is_file() or (path / layout.SWEEP_CSV).is_file()


__all__ = [
    "FIGURE_FORMATS",
    "MAX_CURVE_POINTS",
    "MAX_SWEEP_CSV_BYTES",
    "MAX_WARNINGS",
    "SCORE_BINS",
    "SWEEP_FIXED_COLUMNS",
    "RunsSource",
    "biasvar_points",
    "histories",
    "history_payload",
    "is_sweep",
    "rejection_ratios",
    "roc_figure_bytes",
    "roc_overlay",
    "run_detail",
    "run_plot",
    "run_plots",
    "run_state",
    "runs_table",
    "score_distributions",
    "study",
    "sweep_detail",
]
