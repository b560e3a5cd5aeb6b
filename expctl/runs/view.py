"""One lazy, read-only view of a run directory: the only way expctl reads a run's files.

    run = RunView(path)              # nothing is read yet
    run.status["status"], run.state  # status.json, with `crashed` for a dead process
    run.spec                         # spec.yaml through the hardened loader (plain dicts)
    run.metrics, run.history         # metrics.json; history.csv as rows of floats
    run.value_at_best("val_auc")     # a history column at the run's best epoch
    run.predictions()                # predictions.npz (never unpickled)
    run.evaluations, run.evaluation(name)  # evaluations/ (`expctl evaluate`), each a view
    run.warnings                     # what could not be read, one line each

Each file is read at most once, when first asked for; a missing or corrupt file is a warning
(and None / {} / []), never an exception, except where a caller asks for something it needs
(`value_at_best`, `predictions`). No TensorFlow, pandas or numpy at import time.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expctl.runs import layout
from expctl.runs.atomic import read_json
from expctl.runs.store import live_status

if TYPE_CHECKING:
    from expctl.runs.predictions import Predictions

Warn = Callable[[str], None]

#: status.json's `kind` of a bias/variance experiment directory.
BIASVAR_KIND = "biasvar"


class MissingColumnError(ValueError):
    """A history column a caller needs is not in the run's history.csv."""

    def __init__(self, path: Path, column: str, columns: list[str]) -> None:
        self.column = column
        self.columns = columns
        shown = ", ".join(c for c in columns if c.startswith("val_")) or "none"
        super().__init__(f"{path}: no column {column!r}; validation columns there: {shown}")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return math.nan


class RunView:
    """A run directory, read lazily: status, spec, metrics, history, predictions and figures.

    `warn` is called with each problem met while reading (they are also kept in `warnings`).
    """

    def __init__(self, path: Path | str, warn: Warn | None = None) -> None:
        self.path = Path(path)
        self.warnings: list[str] = []
        self._warn_to = warn

    def __repr__(self) -> str:
        return f"RunView({str(self.path)!r})"

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        if self._warn_to is not None:
            self._warn_to(message)

    # -------------------------------------------------------------------------------- files

    @property
    def id(self) -> str:
        return self.path.name

    def file(self, name: str) -> Path:
        """The path of one of the run's files (a `layout` name)."""
        return self.path / name

    def exists(self, name: str) -> bool:
        return (self.path / name).is_file()

    def _json(self, name: str, what: str) -> tuple[bool, dict[str, Any] | None]:
        """(whether the file exists, its JSON object or None if unreadable, with a warning
        ending in `what`). One open, no separate existence check: `list` reads 1,000s of runs."""
        path = self.path / name
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return False, None
        except OSError as exc:
            self._warn(f"{path}: {_one_line(exc)}; {what}")
            return True, None
        try:
            data = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._warn(f"{path}: {_one_line(exc)}; {what}")
            return True, None
        if not isinstance(data, dict):
            self._warn(f"{path}: not a JSON object; {what}")
            return True, None
        return True, data

    # ------------------------------------------------------------------------------- status

    @cached_property
    def recorded_status(self) -> dict[str, Any]:
        """status.json as written ({} when missing or unreadable)."""
        found, data = self._json(layout.STATUS, "status unknown")
        if not found:
            self._warn(
                f"{self.path / layout.STATUS}: missing; status unknown "
                "(the run may not have started properly)"
            )
        return data or {}

    @cached_property
    def status(self) -> dict[str, Any]:
        """status.json with `running` replaced by `crashed` when its process is gone."""
        return live_status(self.recorded_status)

    @property
    def state(self) -> str:
        """running, completed, failed, diverged, interrupted, crashed, or unknown."""
        return str(self.status.get("status", "unknown"))

    @property
    def kind(self) -> str:
        """`run`, or `biasvar` for a bias/variance experiment directory."""
        return str(self.recorded_status.get("kind") or "run")

    @property
    def is_biasvar(self) -> bool:
        return self.kind == BIASVAR_KIND

    @property
    def name(self) -> str:
        """The run's name: from status.json, else from spec.yaml (read only then)."""
        return str(self.status.get("name") or (self.spec or {}).get("name") or "?")

    # -------------------------------------------------------------------------- spec, data

    @cached_property
    def spec(self) -> dict[str, Any] | None:
        """The resolved spec.yaml as plain data (hardened loader); None if unreadable."""
        from expctl.runs.specfile import read_spec_file  # PyYAML: only for the views that need it

        try:
            return read_spec_file(self.path / layout.SPEC)
        except ValueError as exc:
            self._warn(str(exc))
            return None

    @cached_property
    def data(self) -> dict[str, Any] | None:
        """data.json: the dataset's summary and fingerprint."""
        return self._json(layout.DATA, "its data record is left out")[1]

    @cached_property
    def environment(self) -> dict[str, Any] | None:
        """environment.json: versions, machine, git state."""
        return self._json(layout.ENVIRONMENT, "its environment is left out")[1]

    # ------------------------------------------------------------------------------ results

    @cached_property
    def metrics(self) -> dict[str, Any] | None:
        """metrics.json (None when absent or unreadable; a completed run without one is warned of)."""
        found, data = self._json(layout.METRICS, "its metrics are left out")
        if not found and self.state == "completed" and not self.is_biasvar:
            self._warn(
                f"{self.path / layout.METRICS}: missing although the run completed; no metrics shown"
            )
        return data

    @property
    def training(self) -> dict[str, Any]:
        """Training bookkeeping (epochs_trained, best_epoch, ...): metrics.json, else status.json."""
        metrics = self.metrics or {}
        recorded = self.status.get("training")
        out = dict(recorded) if isinstance(recorded, dict) else {}
        for key in ("epochs_trained", "best_epoch", "stopped_epoch", "restored_best"):
            if metrics.get(key) is not None:
                out[key] = metrics[key]
        return out

    @property
    def best_epoch(self) -> int | None:
        """The epoch whose weights the run kept (1-based), when it recorded one."""
        value = self.training.get("best_epoch")
        return int(value) if isinstance(value, int | float) and value == value else None

    @cached_property
    def history(self) -> list[dict[str, float]]:
        """history.csv as rows of floats (empty cells NaN); [] when absent or unreadable."""
        import csv

        path = self.path / layout.HISTORY
        if not path.exists():
            return []
        try:
            with open(path, newline="", encoding="utf-8") as fh:
                records = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            self._warn(f"{path}: {_one_line(exc)}; its history is left out")
            return []
        return [
            {str(k): _float(v) for k, v in record.items() if k is not None} for record in records
        ]

    @property
    def filled_history(self) -> list[dict[str, float]]:
        """`history` with each row's empty cells left out (a column an epoch did not log)."""
        return [{k: v for k, v in row.items() if not math.isnan(v)} for row in self.history]

    @property
    def history_columns(self) -> list[str]:
        return list(self.history[0]) if self.history else []

    def history_frame(self) -> Any:
        """history.csv as a pandas DataFrame (empty when absent)."""
        import pandas as pd

        path = self.path / layout.HISTORY
        return pd.read_csv(path) if path.is_file() else pd.DataFrame()

    def value_at_best(self, column: str) -> float:
        """`column` of history.csv at the best epoch (the last epoch when none is recorded).

        MissingColumnError when the history lacks the column (or has no epoch).
        """
        rows = self.history
        if not rows or column not in rows[0]:
            raise MissingColumnError(self.path / layout.HISTORY, column, self.history_columns)
        best = self.best_epoch
        row = next((r for r in rows if best is not None and r.get("epoch") == best), rows[-1])
        return row[column]

    def predictions(self) -> Predictions:
        """predictions.npz as Predictions; BadInputError (exit 2) when missing or unreadable."""
        from expctl.runs.predictions import load_predictions

        return load_predictions(self.path)

    def prediction_arrays(self) -> dict[str, Any]:
        """Every array of predictions.npz by name ({} when the run wrote none)."""
        import numpy as np

        path = self.path / layout.PREDICTIONS
        if not path.is_file():
            return {}
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    @property
    def plots(self) -> list[Path]:
        folder = self.path / layout.PLOTS
        return sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []

    @property
    def report(self) -> Path:
        return self.path / layout.REPORT

    # --------------------------------------------------------------------- evaluations

    @property
    def evaluations(self) -> list[str]:
        """The names of the run's evaluations (`expctl evaluate`: folders of evaluations/), sorted;
        unfinished ones (hidden temporary folders) are not listed."""
        folder = self.path / layout.EVALUATIONS
        if not folder.is_dir():
            return []
        return sorted(
            p.name
            for p in folder.iterdir()
            if not p.name.startswith(".") and p.is_dir() and not p.is_symlink()
        )

    def evaluation(self, name: str) -> RunView:
        """A view of evaluation `name` (its metrics, predictions and plots, read as a run's are,
        plus `evaluation_record`); BadInputError (exit 2) naming the run's evaluations when
        there is no such evaluation."""
        from expctl.errors import BadInputError, did_you_mean

        names = self.evaluations
        if name not in names:
            raise BadInputError(
                f"{self.path}: no evaluation {name!r}{did_you_mean(name, names)}; "
                + (f"evaluations: {', '.join(names)}" if names else "the run has none")
                + " (made by `expctl evaluate`)"
            )
        return RunView(self.path / layout.EVALUATIONS / name, warn=self._warn_to)

    @cached_property
    def evaluation_record(self) -> dict[str, Any] | None:
        """evaluation.json of an evaluation folder: what was evaluated (files, target, events)."""
        return self._json(layout.EVALUATION, "its evaluation record is left out")[1]

    # ----------------------------------------------------------- bias/variance experiments

    @cached_property
    def points(self) -> list[dict[str, Any]]:
        """A bias/variance experiment's points (decomposition.json; [] while running or absent)."""
        file = self.path / layout.DECOMPOSITION
        if not file.exists():
            return []
        try:
            data = read_json(file)
        except ValueError as exc:
            self._warn(_one_line(exc))
            return []
        points = data.get("points") if isinstance(data, dict) else None
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            self._warn(f"{file}: expected {{'points': [...]}}")
            return []
        return points


def is_run_dir(path: Path) -> bool:
    """A run directory holds a status.json and a spec.yaml."""
    return (Path(path) / layout.STATUS).is_file() and (Path(path) / layout.SPEC).is_file()


def looks_like_run(path: Path) -> bool:
    """A run directory, or a partial one (status.json or spec.yaml alone: starting, damaged)."""
    return (Path(path) / layout.STATUS).exists() or (Path(path) / layout.SPEC).exists()


def find_runs(folder: Path) -> list[RunView]:
    """Every (possibly partial) run directory directly inside `folder`, oldest first (ids sort by
    time); [] when `folder` does not exist. Symbolic links are not followed, so a link in the
    folder cannot lead the listing elsewhere; hidden entries and files are skipped."""
    import os

    folder = Path(folder)
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:  # a DirEntry knows its type: no stat per entry
        names = sorted(
            e.name
            for e in entries
            if not e.name.startswith(".") and e.is_dir(follow_symlinks=False)
        )
    return [RunView(folder / name) for name in names if looks_like_run(folder / name)]


__all__ = [
    "BIASVAR_KIND",
    "MissingColumnError",
    "RunView",
    "find_runs",
    "is_run_dir",
    "looks_like_run",
]
