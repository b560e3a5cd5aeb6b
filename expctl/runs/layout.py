"""The run-directory format: the name of every file a run directory holds, and its writers.

This module is the only place these names are spelled; everything else in expctl asks for
`layout.METRICS` (or reads through `expctl.runs.view.RunView`). A run directory holds:

    status.json        lifecycle: running -> completed | failed | diverged | interrupted
    spec.yaml          the resolved spec (every default written out)
    data.json          the dataset's summary and fingerprint
    environment.json   versions, machine and git state
    model_summary.txt  the layer table and what acts on training outside the layers
    history.csv        one row per epoch, rewritten atomically after each epoch
    metrics.json       test metrics (names and directions: expctl.evaluation.catalogue)
    predictions.npz    test-split targets and scores (no pickled objects)
    model.keras        the trained model (loaded in safe mode)
    traceback.txt      a failed run's traceback
    report.html        a self-contained report of the run
    plots/             figures; tensorboard/ event files; checkpoints/ (expctl.runs.checkpoint)
    evaluations/       `expctl evaluate`: one folder per evaluation on another sample, each with
                       evaluation.json, metrics.json, predictions.npz and plots/ (never the
                       run's own files)

A bias/variance experiment directory (`expctl biasvar`) has status.json (`"kind": "biasvar"`),
spec.yaml, decomposition.json/.csv, members.csv and its member runs under members/. A sweep
directory (`expctl sweep`) has sweep.yaml, sweep.csv (one row per trial), best.yaml (the best
trial's spec), plots/ and its trial runs under trials/ (written by `expctl.sweep.outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

STATUS = "status.json"
SPEC = "spec.yaml"
DATA = "data.json"
ENVIRONMENT = "environment.json"
MODEL_SUMMARY = "model_summary.txt"
HISTORY = "history.csv"
METRICS = "metrics.json"
PREDICTIONS = "predictions.npz"
MODEL = "model.keras"
TRACEBACK = "traceback.txt"
REPORT = "report.html"
PLOTS = "plots"
TENSORBOARD = "tensorboard"
CHECKPOINTS = "checkpoints"
#: `expctl evaluate`: evaluations/<name>/ holds EVALUATION (what was evaluated: files, target,
#: events), METRICS, PREDICTIONS and PLOTS, under the same names as the run's own
EVALUATIONS = "evaluations"
EVALUATION = "evaluation.json"

# bias/variance experiment directories
DECOMPOSITION = "decomposition.json"
DECOMPOSITION_CSV = "decomposition.csv"
MEMBERS_CSV = "members.csv"
MEMBERS = "members"

# sweep directories (their trial runs, under trials/, are run directories)
SWEEP_YAML = "sweep.yaml"
SWEEP_CSV = "sweep.csv"
BEST_YAML = "best.yaml"
SWEEP_TRIALS = "trials"

#: history.csv columns that are not training logs
HISTORY_BOOKKEEPING = ("epoch", "learning_rate", "epoch_time_s")


if TYPE_CHECKING:
    import numpy as np


def plot_path(run_dir: Path, name: str) -> Path:
    """Where figure `name` (e.g. `roc.png`) of a run lives."""
    return Path(run_dir) / PLOTS / name


def history_text(rows: Sequence[Mapping[str, float | None]]) -> str:
    """history.csv's text: columns in first-seen order, integers without a decimal point."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = [",".join(columns)]
    for row in rows:
        lines.append(",".join(_history_cell(row.get(c)) for c in columns))
    return "\n".join(lines) + "\n"


def _history_cell(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def write_history(path: Path, rows: Sequence[Mapping[str, float | None]]) -> None:
    """Write history.csv (one row per epoch) atomically."""
    from expctl.runs.atomic import atomic_write_text

    atomic_write_text(path, history_text(rows))


def write_predictions(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write predictions.npz (compressed; plain arrays only, never pickled objects) atomically.

    Arrays: `y_true`, `y_score` (the main head), optional `weight` and `classes`; a multitask run
    adds `y_true_<head>` and `y_score_<head>` for each head.
    """

    import numpy as np

    from expctl.runs.atomic import atomic_save

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    atomic_save(path, write)


__all__ = [
    "BEST_YAML",
    "CHECKPOINTS",
    "DATA",
    "DECOMPOSITION",
    "DECOMPOSITION_CSV",
    "ENVIRONMENT",
    "EVALUATION",
    "EVALUATIONS",
    "HISTORY",
    "HISTORY_BOOKKEEPING",
    "MEMBERS",
    "MEMBERS_CSV",
    "METRICS",
    "MODEL",
    "MODEL_SUMMARY",
    "PLOTS",
    "PREDICTIONS",
    "REPORT",
    "SPEC",
    "STATUS",
    "SWEEP_CSV",
    "SWEEP_TRIALS",
    "SWEEP_YAML",
    "TENSORBOARD",
    "TRACEBACK",
    "history_text",
    "plot_path",
    "write_history",
    "write_predictions",
]
