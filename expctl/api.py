"""The Python API for notebooks: `expctl.run(...)` trains, `expctl.load_run(...)` reads a run.

    import expctl
    run = expctl.run("experiments/quickstart.yaml", train__epochs=5, model__dropout=0.3)
    run.metrics["auc"], run.history[["epoch", "val_loss"]]
    old = expctl.load_run("20261125-1015")          # an id, a unique prefix, or a path

Importing this module is cheap; TensorFlow is imported only when `run` trains.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

__all__ = ["Run", "load_run", "run"]


@dataclass
class Run:
    """A run directory, read: its resolved spec, status, test metrics, history and predictions.

    `history` (a pandas DataFrame, one row per epoch) and `predictions` (the arrays of
    predictions.npz: y_true, y_score, ...) are read when first used.
    """

    path: Path
    spec: dict[str, Any]
    status: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.path.name

    @cached_property
    def history(self) -> Any:
        import pandas as pd

        path = self.path / "history.csv"
        return pd.read_csv(path) if path.is_file() else pd.DataFrame()

    @cached_property
    def predictions(self) -> dict[str, Any]:
        import numpy as np

        path = self.path / "predictions.npz"
        if not path.is_file():
            return {}
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}

    @property
    def report(self) -> Path:
        """report.html: open it in a browser (or IPython.display.IFrame in a notebook)."""
        return self.path / "report.html"

    def __repr__(self) -> str:
        shown = {k: self.metrics[k] for k in ("auc", "accuracy", "rmse", "r2") if k in self.metrics}
        numbers = ", ".join(f"{k}={v:.4f}" for k, v in shown.items() if isinstance(v, float))
        return f"Run({self.id!r}, status={self.status.get('status')!r}{', ' if numbers else ''}{numbers})"


def load_run(run: str | os.PathLike[str], output_dir: str | os.PathLike[str] = "outputs") -> Run:
    """Read a run directory, named by a run id, a unique id prefix (in `output_dir`) or a path."""
    import yaml

    from expctl.runs import read_json, resolve_run

    path = resolve_run(os.fspath(run), Path(output_dir))

    def optional(name: str) -> dict[str, Any]:
        file = path / name
        return read_json(file) if file.is_file() else {}

    return Run(
        path=path,
        spec=yaml.safe_load((path / "spec.yaml").read_text(encoding="utf-8")),
        status=read_json(path / "status.json"),
        metrics=optional("metrics.json"),
        data=optional("data.json"),
    )


def _override_items(overrides: dict[str, Any]) -> list[str]:
    """Keyword overrides as `--set` items: `model__dropout=0.3` is `--set model.dropout=0.3`."""
    return [f"{key.replace('__', '.')}={json.dumps(value)}" for key, value in overrides.items()]


def run(
    spec: str | os.PathLike[str] | dict[str, Any] | Any,
    output_dir: str | os.PathLike[str] = "outputs",
    *,
    overrides: list[str] | tuple[str, ...] = (),
    quiet: bool = True,
    **keys: Any,
) -> Run:
    """Train and evaluate a spec (a YAML path, a dict, or a Spec); return the finished Run.

    Keys are overridden like `expctl run --set`: as keywords with `__` for the dots
    (`train__epochs=5`, `model__hidden=[32, 32]`) or as `overrides=["model.dropout=0.3"]`.
    `quiet=False` prints the per-epoch lines. Errors are expctl's (SpecError, DataError,
    RunFailedError); a relative data path in a dict spec is looked up from the current folder.
    """
    from expctl.runner import run as run_spec
    from expctl.spec import LoadedSpec, load_spec, resolved_dict, spec_from_dict

    items = [*overrides, *_override_items(keys)]
    if isinstance(spec, str | os.PathLike):
        loaded = load_spec(spec, items)
    else:
        data = spec if isinstance(spec, dict) else resolved_dict(spec)
        loaded = LoadedSpec(
            spec=spec_from_dict(data, "<python>", items), source="<python>", base_dir=Path.cwd()
        )
    outcome = run_spec(loaded, Path(output_dir), echo=(lambda _: None) if quiet else print)
    return load_run(outcome.run_dir)
