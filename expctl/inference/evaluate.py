"""`expctl evaluate`: a completed run's test metrics on another labelled sample, in a new folder
of the run (`evaluations/<name>/`), the run's own files untouched.

The sample's events are scored chunk by chunk as by `expctl predict`; only their targets, scores
and weights are kept (a few numbers per event, never the features). The metrics are the run's
own (`expctl.evaluation.tasks.evaluate`, and for a binary run `binary_diagnostics`: the AUC's
interval, the rejections at 50 and 90 % signal efficiency, the confusion matrix, and the KS
test, here of the run's test-split scores against this sample's, class by class: a small p-value
says the sample's score shapes differ from the nominal ones). The folder is written under a
hidden temporary name and renamed into place: it appears whole or not at all.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expctl.errors import BadInputError, DataError
from expctl.evaluation.tasks import binary_diagnostics, evaluate
from expctl.inference.predict import DEFAULT_ROWS, checked_inputs, scored_chunks
from expctl.inference.runmodel import RunModel, open_run
from expctl.runs import atomic_write_json, layout
from expctl.runs.atomic import fsync_dir

#: An evaluation's name: a folder name that is safe everywhere.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclass(frozen=True)
class EvaluationResult:
    """A written evaluation: its folder, name, events and metrics."""

    path: Path
    name: str
    events: int
    metrics: dict[str, Any]


def _name(run: RunModel, name: str | None, first: Path) -> str:
    name = name or first.stem
    if not NAME.fullmatch(name):
        raise BadInputError(
            f"--name {name!r}: letters, digits, '.', '_' and '-' only (at most 100, not starting "
            "with '.' or '-')"
        )
    if (run.path / layout.EVALUATIONS / name).exists():
        raise BadInputError(
            f"{run.path}: evaluation {name!r} exists; choose another with --name "
            f"(evaluations: {', '.join(run.view.evaluations)})"
        )
    return name


def encode_labels(values: np.ndarray, classes: Sequence[Any], where: str) -> np.ndarray:
    """Targets as the run's class indices 0..K-1 (classes compared as numbers when both are,
    else as text); DataError naming the values that are not a class of the run."""
    values = np.asarray(values)
    numeric = values.dtype.kind in "biuf" and all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in classes
    )
    if numeric:
        table = np.asarray(classes, dtype=np.float64)
        order = np.argsort(table)
        v = values.astype(np.float64)
        pos = np.clip(np.searchsorted(table[order], v), 0, len(table) - 1)
        found = table[order][pos] == v
        codes = order[pos]
    else:
        lookup = {str(c): k for k, c in enumerate(classes)}
        text = values.astype(str)
        found = np.array([t in lookup for t in text], dtype=bool)
        codes = np.array([lookup.get(t, -1) for t in text], dtype=np.int64)
    if not found.all():
        unknown = ", ".join(map(str, np.unique(values[~found])[:10]))
        raise DataError(
            f"{where}: target value(s) {unknown} are not classes of the run "
            f"({', '.join(map(str, classes))})"
        )
    return codes.astype(np.int64)


def _targets(
    raw: np.ndarray, classes: Sequence[Any] | None, where: str, column: str | None
) -> np.ndarray:
    """A chunk's targets as the run's: class indices for a classifier (DataError naming values
    that are not classes), float64 for a regression (DataError if the column is not numeric)."""
    if classes is not None:
        return encode_labels(raw, classes, where)
    if raw.dtype.kind not in "biuf":
        raise DataError(f"{where}: target {column!r} is not numeric ({raw.dtype})")
    return raw.astype(np.float64)


def _label_value(label: str, classes: Sequence[Any]) -> np.ndarray:
    """A FILE:LABEL's label as a one-element array of the classes' kind."""
    if all(isinstance(c, int) for c in classes):
        try:
            return np.asarray([int(label)])
        except ValueError:
            pass
    return np.asarray([label])


def evaluate_files(
    run_dir: Path,
    items: Sequence[str],
    *,
    target: str | None = None,
    weight: str | None = None,
    name: str | None = None,
    tree: str | None = None,
    rows: int = DEFAULT_ROWS,
) -> EvaluationResult:
    """Evaluate run `run_dir` on the labelled events of `items` and write evaluations/<name>/.

    A target comes from the column `target` (default: the run's own data target) or, with
    `FILE:LABEL` items, from each file's label. A multitask run's other heads take their
    targets from their own columns (data.json's heads) and get their metrics under `heads`, as
    the run's metrics.json has them (the main head's also at the top level), and
    `y_true_<head>`/`y_score_<head>` in predictions.npz. BadInputError/DataError (exit 2), with
    nothing written, for a run that is not completed, an unreadable file, a missing column, a
    target value that is not a class of the run, or an evaluation name that exists.
    """
    run = open_run(Path(run_dir))
    task, classes = run.task, run.classes
    labelled = [":" in i and not Path(i).is_file() for i in items]
    if any(labelled) and not all(labelled):
        raise BadInputError("give every FILE a :LABEL, or none (then --target names the column)")
    if all(labelled) and target is not None:
        raise BadInputError("FILE:LABEL and --target: give one of them")
    if all(labelled) and classes is None:
        raise BadInputError(f"{run.path}: a {task} run; FILE:LABEL gives class labels")
    target = None if all(labelled) else (target or run.target)
    extra = [(target, "--target")] if target else []
    if weight is not None:
        extra.append((weight, "--weight"))
    # a multitask run: every head, the main one first; each other head's target is its column
    heads = run.heads if len(run.heads) > 1 else ()
    head_targets = {h.name: target if i == 0 else h.target for i, h in enumerate(heads)}
    extra += [(h.target, f"the target of head {h.name!r}") for h in heads[1:]]
    files, _ = checked_inputs(run, items, [], tree, labels=True, extra=extra)
    name = _name(run, name, files[0].path)
    run.load_model()

    ys: dict[str, list[np.ndarray]] = {h.name: [] for h in heads or (run.main,)}
    scores: dict[str, list[np.ndarray]] = {h.name: [] for h in heads or (run.main,)}
    weights, dropped = [], 0
    wanted = list(dict.fromkeys(c for c in (target, weight, *head_targets.values()) if c))
    for file, part, scored in scored_chunks(run, files, wanted, rows):
        where = str(file.path)
        w = None if weight is None else np.asarray(part[weight], dtype=np.float64)
        if w is not None and not np.isfinite(w).all():
            raise DataError(f"{where}: --weight {weight!r} has NaN or infinite values")
        keep = np.isfinite(scored[run.main.columns()[0]])  # data.nan: drop (NaN scores)
        dropped += int((~keep).sum())
        for i, head in enumerate(heads or (run.main,)):
            columns = head.columns()
            s = np.column_stack([scored[c] for c in columns]) if len(columns) > 1 else None
            s = scored[columns[0]] if s is None else s
            column = head.target if i > 0 else target  # None: the file's label
            if column is not None:
                raw = part[column]
            else:
                raw = np.repeat(_label_value(str(file.label), classes or ()), len(s))
            ys[head.name].append(_targets(raw, head.classes, where, column)[keep])
            scores[head.name].append(s[keep])
        if w is not None:
            weights.append(w[keep])
    y_by = {k: np.concatenate(v) if v else np.empty(0) for k, v in ys.items()}
    s_by = {k: np.concatenate(v) if v else np.empty(0) for k, v in scores.items()}
    y, s = y_by[run.main.name], s_by[run.main.name]
    w = np.concatenate(weights) if weight is not None and weights else None
    if len(y) == 0:
        raise DataError(f"{', '.join(items)}: no events to evaluate")

    metrics = dict(evaluate(task, y, s, run.threshold, w))
    if heads:  # as the run's own metrics.json: the main head's also at the top level
        metrics["heads"] = {
            h.name: {"task": h.task, "target": head_targets[h.name]}
            | evaluate(h.task, y_by[h.name], s_by[h.name], run.threshold, w)
            for h in heads
        }
    if task == "binary":
        nominal = run.view.predictions()
        metrics.update(
            binary_diagnostics(
                y, s, w, nominal.y_true.astype(np.int64), nominal.y_score, run.threshold, run.seed
            )
        )
    record = {
        "run": run.path.name,
        "name": name,
        "files": [
            {"path": str(f.path.resolve()), **({"label": f.label} if f.label else {})}
            for f in files
        ],
        "target": target,
        **({"head_targets": head_targets} if heads else {}),
        "weight": weight,
        "task": task,
        "events": len(y),
        **({"nan_events_dropped": dropped} if run.nan == "drop" else {}),
        "ks_reference": f"the run's test split ({layout.PREDICTIONS})"
        if task == "binary"
        else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    arrays: dict[str, Any] = {"y_true": y, "y_score": s}
    for h in heads:
        arrays[f"y_true_{h.name}"] = y_by[h.name]
        arrays[f"y_score_{h.name}"] = s_by[h.name]
    if w is not None:
        arrays["weight"] = w
    if classes is not None:
        arrays["classes"] = np.asarray([str(c) for c in classes])
    path = _write(run, name, metrics, record, arrays)
    return EvaluationResult(path, name, len(y), metrics)


def _write(
    run: RunModel,
    name: str,
    metrics: dict[str, Any],
    record: dict[str, Any],
    arrays: dict[str, Any],
) -> Path:
    """evaluations/<name>/ written under a hidden temporary name, then renamed into place."""
    folder = run.path / layout.EVALUATIONS
    folder.mkdir(exist_ok=True)
    final = folder / name
    tmp = folder / f".{name}.tmp-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        atomic_write_json(tmp / layout.EVALUATION, record)
        atomic_write_json(tmp / layout.METRICS, metrics)
        layout.write_predictions(tmp / layout.PREDICTIONS, arrays)
        if record["task"] == "binary":
            _draw(run, name, arrays, tmp)
        fsync_dir(tmp)
        if final.exists():
            raise BadInputError(f"{final} appeared while evaluating; choose another --name")
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(folder)
    return final


def _draw(run: RunModel, name: str, arrays: dict[str, Any], folder: Path) -> None:
    """roc.png and rejection.png: the run's test split (nominal) and this sample."""
    from expctl.evaluation import roc_auc, roc_curve
    from expctl.plots import rejection_ratio_figure, roc_figure

    nominal = run.view.predictions()
    curves = []
    for label, y, s, w in (
        (f"{run.path.name}: test split", nominal.y_true, nominal.y_score, nominal.weight),
        (name, arrays["y_true"], arrays["y_score"], arrays.get("weight")),
    ):
        try:
            fpr, tpr, _ = roc_curve(y, s, sample_weight=w)
        except ValueError as exc:  # one class only: no curve
            warnings.warn(f"{label}: no ROC curve: {exc}", stacklevel=2)
            continue
        curves.append(
            {"fpr": fpr, "tpr": tpr, "label": label, "auc": roc_auc(y, s, sample_weight=w)}
        )
    if not curves:
        return
    layout.plot_path(folder, "").mkdir(exist_ok=True)
    for file, draw in (("roc.png", roc_figure), ("rejection.png", rejection_ratio_figure)):
        try:
            figure = draw(curves)
        except ValueError as exc:
            warnings.warn(f"{file} not drawn: {exc}", stacklevel=2)
            continue
        figure.savefig(layout.plot_path(folder, file), dpi=120)


__all__ = ["EvaluationResult", "encode_labels", "evaluate_files"]
