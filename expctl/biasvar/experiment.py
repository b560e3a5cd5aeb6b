"""`expctl biasvar`: train K members per point, decompose their test error, write one directory.

A point is one value of the scanned spec key and one training-set size. Member k of every point
is a normal run (under `members/`) of the spec with seed `seed + k`, trained on a bootstrap
resample of the training split, or, for a source that can generate data (`polynomial`), on a
fresh training set drawn from it: the decomposition is an expectation over training sets, and
resamples of one set underestimate the variance (the part of the fit that follows that one set's
noise is shared by all resamples and shows up as bias). The data seed is pinned, so every member
is tested on the same test split. Everything that can be refused (the spec at every scan value, the data) is checked
before the directory exists.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expctl.biasvar.worker import MemberResult, MemberTask, init_worker, train_member
from expctl.errors import RunFailedError, SpecError
from expctl.evaluation.biasvar import decompose, verdict, zero_one
from expctl.runs import RunDir, atomic_save, atomic_write_json, atomic_write_text, layout
from expctl.runs.view import BIASVAR_KIND
from expctl.version import __version__

Echo = Callable[[str], None]

#: The marker in the status file that tells views this directory is a bias/variance experiment.
KIND = BIASVAR_KIND
#: Order of the columns of the decomposition CSV (those a point has).
COLUMNS = (
    "scan_key",
    "scan_value",
    "train_fraction",
    "train_size",
    "members",
    "train_error",
    "expected_error",
    "variance",
    "bias2_plus_noise",
    "bias2",
    "noise",
    "expected_error_noiseless",
    "residual",
    "verdict",
)


@dataclass(frozen=True)
class Point:
    index: int
    scan_value: Any  # None without --scan
    train_fraction: float
    loaded: Any  # LoadedSpec of this point


def parse_scan(text: str) -> tuple[str, list[Any]]:
    """`model.degree=[1,2,4]` -> ('model.degree', [1, 2, 4]); SpecError on anything else."""
    from expctl.spec.yamlio import parse_scalar

    key, sep, values = text.partition("=")
    key = key.strip()
    if not sep or not key or not values.strip():
        raise SpecError(f"--scan {text!r}: expected KEY=[V1, V2, ...], e.g. model.degree=[1,2,4]")
    if key == "name" or key.rsplit(".", 1)[-1] == "seed":
        raise SpecError(
            f"--scan {text!r}: {key} cannot be scanned; members already use seeds seed, seed+1, ..."
        )
    parsed = parse_scalar(values, f"--scan {text}")
    if not isinstance(parsed, list) or not parsed:
        raise SpecError(
            f"--scan {text!r}: the values must be a non-empty YAML list, e.g. {key}=[1, 2, 4]"
        )
    return key, parsed


def parse_train_sizes(text: str) -> list[float]:
    """`0.1,0.3,1.0` -> fractions of the training split in (0, 1]; SpecError otherwise."""
    out = []
    for part in text.split(","):
        try:
            value = float(part)
        except ValueError:
            raise SpecError(f"--train-sizes: {part.strip()!r} is not a number") from None
        if not 0 < value <= 1 or not math.isfinite(value):
            raise SpecError(
                f"--train-sizes: {value:g} is not a fraction of the training split in (0, 1]"
            )
        out.append(value)
    if len(set(out)) != len(out):
        raise SpecError("--train-sizes: a size is given twice")
    return sorted(out)


def _override(key: str, value: Any) -> str:
    return f"{key}={json.dumps(value)}"  # JSON is YAML: lists, numbers and strings round-trip


def plan_points(
    spec_path: str,
    overrides: Sequence[str],
    scan: tuple[str, list[Any]] | None,
    train_sizes: Sequence[float],
) -> list[Point]:
    """Every (scan value, train size) point with its validated spec; SpecError/DataError first."""
    from expctl.data import prepare
    from expctl.runner import check_against_data
    from expctl.spec import load_spec

    values: list[Any] = scan[1] if scan else [None]
    points = []
    checked: dict[str, Any] = {}
    for value in values:
        extra = list(overrides) + ([_override(scan[0], value)] if scan else [])
        loaded = load_spec(spec_path, extra)
        data_key = json.dumps(loaded.spec.data.model_dump(mode="json"), sort_keys=True)
        if data_key not in checked:  # a scan of model/train keys reads the data once
            checked[data_key] = prepare(
                loaded.spec.data, loaded.base_dir, loaded.spec.seed, stream=False
            )
        dataset = checked[data_key]
        check_against_data(loaded, dataset)
        if len(dataset.train) < 2:
            raise SpecError("biasvar needs at least 2 training events to resample")
        for fraction in train_sizes:
            points.append(Point(len(points), value, fraction, loaded))
    return points


def member_spec(loaded: Any, member: int) -> dict[str, Any]:
    """The resolved spec of member k: seed + k, and the data seed pinned to the point's data seed."""
    from expctl.spec import resolved_dict

    spec = loaded.spec
    data = resolved_dict(spec)
    data["data"]["seed"] = spec.data.seed if spec.data.seed is not None else spec.seed
    data["seed"] = (spec.seed + member) % 2**32
    return data


RESAMPLING = ("auto", "bootstrap", "fresh")


def resampling(choice: str, source: str) -> str:
    """`fresh` training sets where the source can draw them (auto), else bootstrap resamples."""
    from expctl.data.polynomial import GENERATORS

    if choice == "fresh" and source not in GENERATORS:
        raise SpecError(
            f"--resample fresh: data.source {source!r} cannot draw new training sets; "
            f"sources that can: {', '.join(GENERATORS)} (use bootstrap)"
        )
    if choice == "auto":
        return "fresh" if source in GENERATORS else "bootstrap"
    return choice


def _tasks(points: list[Point], members: int, members_dir: Path, choice: str) -> list[MemberTask]:
    tasks = []
    for point in points:
        base = point.loaded
        for k in range(members):
            spec = member_spec(base, k)
            spec["name"] = f"{base.spec.name[:50]}-p{point.index:02d}-m{k:02d}"
            tasks.append(
                MemberTask(
                    spec=spec,
                    source=base.source,
                    base_dir=str(base.base_dir),
                    members_dir=str(members_dir),
                    point=point.index,
                    member=k,
                    train_fraction=point.train_fraction,
                    bootstrap_seed=base.spec.seed,
                    resample=resampling(choice, base.spec.data.source),
                )
            )
    return tasks


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_members(tasks: list[MemberTask], workers: int, echo: Echo) -> list[MemberResult]:
    """Train every member: in this process, or in `workers` spawned processes splitting the cores."""
    from expctl.progress import Progress

    results: list[MemberResult] = []
    progress = Progress(len(tasks))

    def done(result: MemberResult) -> None:
        results.append(result)
        state = result.status if result.error is None else f"{result.status}: {result.error}"
        echo(
            f"  {progress.line(len(results))}  point {result.point} member {result.member}: {state}"
        )

    if workers <= 1:
        for task in tasks:
            done(train_member(task))
        return results
    import multiprocessing

    # TensorFlow is not fork-safe: workers start fresh (spawn) and cap their thread pools to
    # their share of the cores before TensorFlow initialises, so N workers do not oversubscribe.
    threads = max(1, usable_cores() // workers)
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=init_worker,
        initargs=(threads,),
    ) as pool:
        futures = [pool.submit(train_member, task) for task in tasks]
        try:
            for future in as_completed(futures):
                done(future.result())
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


# -------------------------------------------------------------------------------- decomposition


def _targets(task: str, y: np.ndarray, n_classes: int) -> np.ndarray:
    """What the squared error compares a prediction with: y, or the one-hot labels (multiclass)."""
    if task == "multiclass":
        return np.eye(n_classes)[np.asarray(y, dtype=np.int64)]
    return np.asarray(y, dtype=np.float64)


def _labels(task: str, scores: np.ndarray, threshold: float) -> np.ndarray:
    if task == "binary":
        return (scores > threshold).astype(np.int64)  # as binary_metrics: positive iff > threshold
    return scores.argmax(axis=-1)


def decompose_point(
    point: Point, results: list[MemberResult], dataset_info: dict[str, Any]
) -> dict[str, Any]:
    """The decomposition.json entry of one point from its members' results."""
    ok = sorted((r for r in results if r.status == "completed"), key=lambda r: r.member)
    row: dict[str, Any] = {}
    if point.scan_value is not None:
        row["scan_value"] = point.scan_value
    row["train_fraction"] = point.train_fraction
    row["train_size"] = ok[0].n_train if ok else None
    row["members"] = len(ok)
    if len(ok) < 2:
        row["verdict"] = f"not decomposed: {len(ok)} of {len(results)} members completed"
        return row
    y = ok[0].y_test
    for r in ok[1:]:
        if not np.array_equal(r.y_test, y):
            raise RunFailedError("members were tested on different test splits; data seed drift?")
    task, n_classes = dataset_info["task"], dataset_info["n_classes"]
    scores = np.stack([r.score_test for r in ok]).astype(np.float64)
    targets = _targets(task, y, n_classes)
    weight = dataset_info.get("test_weight")
    truth = dataset_info.get("truth")
    row["train_error"] = float(
        np.mean(
            [_mean_sq(_targets(task, r.y_train, n_classes), r.score_train, r.w_train) for r in ok]
        )
    )
    row.update(
        decompose(
            scores,
            targets,
            f=truth[0] if truth else None,
            noise=truth[1] if truth else None,
            weight=weight,
        )
    )
    if task in ("binary", "multiclass"):
        k = 2 if task == "binary" else n_classes
        threshold = point.loaded.spec.evaluate.threshold
        labels = np.stack([_labels(task, s, threshold) for s in scores])
        row["zero_one"] = zero_one(labels, np.asarray(y, dtype=np.int64), k, weight=weight)
    row["verdict"] = verdict(row)
    return row


def _mean_sq(target: np.ndarray, score: np.ndarray, weight: np.ndarray | None) -> float:
    sq = (np.asarray(target, dtype=np.float64) - np.asarray(score, dtype=np.float64)) ** 2
    if sq.ndim > 1:
        sq = sq.sum(axis=-1)
    return float(np.average(sq, weights=weight))


def _dataset_info(point: Point) -> dict[str, Any]:
    """Task, classes, test weights and (if the source knows it) f at the test points and σ²."""
    from expctl.data import prepare
    from expctl.data.polynomial import TRUTHS

    spec = point.loaded.spec
    dataset = prepare(spec.data, point.loaded.base_dir, spec.seed, stream=False)
    info: dict[str, Any] = {
        "task": dataset.task,
        "n_classes": dataset.n_classes,
        "test_weight": dataset.test.w,
    }
    truth = TRUTHS.get(spec.data.source)
    if truth is not None and dataset.task == "regression":
        data_seed = spec.data.seed if spec.data.seed is not None else spec.seed
        f, noise = truth(spec.data, data_seed)
        info["truth"] = (f(dataset.test.x), noise)
    return info


# ------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class BiasvarOutcome:
    """A finished experiment: its directory, one decomposition per point, failed member runs."""

    path: Path
    points: list[dict[str, Any]]
    failed_members: int


def run_biasvar(
    spec_path: str,
    output_dir: Path,
    *,
    members: int = 10,
    scan: str | None = None,
    train_sizes: str | None = None,
    workers: int = 1,
    resample: str = "auto",
    overrides: Sequence[str] = (),
    smoke: bool = False,
    echo: Echo = lambda _: None,
) -> BiasvarOutcome:
    """Validate, train every member, decompose and write `<output_dir>/<biasvar-id>/`.

    `smoke`: 2 members per point, each with tiny data and one epoch (the same code path).
    SpecError/DataError (exit 2) before anything is written.
    """
    from expctl.spec import load_spec, resolved_yaml

    if smoke:
        from expctl.spec.smoke import smoke_overrides

        overrides = (*overrides, *smoke_overrides(load_spec(spec_path, overrides).spec))
        members = 2
    if members < 2:
        raise SpecError("--members: a decomposition needs at least 2 members")
    parsed_scan = parse_scan(scan) if scan else None
    sizes = parse_train_sizes(train_sizes) if train_sizes else [1.0]
    if resample not in RESAMPLING:
        raise SpecError(f"--resample: {resample!r} is not one of {', '.join(RESAMPLING)}")
    points = plan_points(spec_path, overrides, parsed_scan, sizes)
    methods = sorted({resampling(resample, p.loaded.spec.data.source) for p in points})
    base = points[0].loaded
    # the directory's spec is the spec as given (with --set), before any scan value
    base_spec = base if parsed_scan is None else load_spec(spec_path, overrides)
    info = [_dataset_info(p) for p in points]

    run_dir = RunDir.create(Path(output_dir), f"biasvar-{base.spec.name[:40]}")
    started = time.perf_counter()
    atomic_write_text(run_dir.file(layout.SPEC), resolved_yaml(base_spec.spec))
    # with the process's identity, so the views report a killed experiment as `crashed`
    run_dir.start(
        base.spec.name,
        __version__,
        kind=KIND,
        members=members,
        workers=workers,
        scan_key=parsed_scan[0] if parsed_scan else None,
        scan_values=parsed_scan[1] if parsed_scan else None,
        train_sizes=sizes if train_sizes else None,
        n_points=len(points),
        resample=methods[0] if len(methods) == 1 else methods,
    )

    def finish(state: str, error: str | None = None, **extra: Any) -> None:
        run_dir.finish(state, time.perf_counter() - started, error=error, **extra)

    members_dir = run_dir.file(layout.MEMBERS)
    members_dir.mkdir()
    tasks = _tasks(points, members, members_dir, resample)
    echo(
        f"biasvar {run_dir.id}: {len(points)} point(s) x {members} members = {len(tasks)} runs, "
        f"{workers} worker(s)"
    )
    try:
        results = _run_members(tasks, workers, echo)
        rows = _decompose(points, info, results, parsed_scan)
        failed = sum(r.status != "completed" for r in results)
        write_outputs(run_dir.path, rows, results, points, base.spec.name, parsed_scan)
    except KeyboardInterrupt:
        finish("interrupted", "interrupted by the user")
        raise
    except Exception as exc:
        finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    finish("completed", failed_members=failed)
    return BiasvarOutcome(run_dir.path, rows, failed)


def _decompose(
    points: list[Point],
    info: list[dict[str, Any]],
    results: list[MemberResult],
    scan: tuple[str, list[Any]] | None,
) -> list[dict[str, Any]]:
    """Each point's decomposition from its members' results, the best point marked."""
    rows = []
    for point, point_info in zip(points, info, strict=True):
        mine = [r for r in results if r.point == point.index]
        row = decompose_point(point, mine, point_info)
        if scan:
            row = {"scan_key": scan[0], **row}
        rows.append(row)
    _mark_best(rows)
    return rows


def _mark_best(rows: list[dict[str, Any]]) -> None:
    """In a scan or learning curve, say which point has the lowest test error."""
    scored = [r for r in rows if r.get("expected_error") is not None]
    if len(scored) < 2:
        return
    best = min(scored, key=lambda r: r["expected_error"])
    best["verdict"] += "; lowest test error of these points"


def write_outputs(
    path: Path,
    rows: list[dict[str, Any]],
    results: list[MemberResult],
    points: list[Point],
    name: str,
    scan: tuple[str, list[Any]] | None,
) -> None:
    """decomposition.json/.csv, members.csv and the figures."""
    from expctl.plots.biasvar import bias_variance_figure, capacity_figure, learning_curve_figure

    atomic_write_json(path / layout.DECOMPOSITION, {"points": rows})
    atomic_write_text(path / layout.DECOMPOSITION_CSV, _csv(rows))
    atomic_write_text(path / layout.MEMBERS_CSV, _members_csv(results, points))
    figures = {"bias_variance.png": bias_variance_figure(rows, title=f"{name}: bias and variance")}
    if scan:
        figures["capacity.png"] = capacity_figure(rows, scan[0], title=name)
    if len({p.train_fraction for p in points}) > 1:
        figures["learning_curve.png"] = learning_curve_figure(
            rows, scan[0] if scan else None, title=name
        )
    for file, figure in figures.items():
        atomic_save(layout.plot_path(path, file), lambda tmp, fig=figure: fig.savefig(tmp))


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return "" if value is None else value


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = [c for c in COLUMNS if any(c in r for r in rows)]
    zero_one_keys = list(dict.fromkeys(k for r in rows for k in r.get("zero_one", {})))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns + [f"zero_one_{k}" for k in zero_one_keys])
    for r in rows:
        zo = r.get("zero_one", {})
        writer.writerow(
            [_cell(r.get(c)) for c in columns] + [_cell(zo.get(k)) for k in zero_one_keys]
        )
    return out.getvalue()


def _members_csv(results: list[MemberResult], points: list[Point]) -> str:
    """One row per member: its point, run directory, status and main test metrics."""
    keys = ("rmse", "r2", "auc", "accuracy", "loss")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ["point", "scan_value", "train_fraction", "member", "run", "status", "n_train", *keys]
    )
    for r in sorted(results, key=lambda r: (r.point, r.member)):
        p = points[r.point]
        metrics = r.metrics or {}
        writer.writerow(
            [
                r.point,
                _cell(p.scan_value),
                p.train_fraction,
                r.member,
                Path(r.run_dir).name if r.run_dir else "",
                r.status,
                r.n_train,
                *(_cell(metrics.get(k)) for k in keys),
            ]
        )
    return out.getvalue()
