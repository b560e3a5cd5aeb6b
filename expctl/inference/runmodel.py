"""A completed run as a scoring function: its inputs, its NaN policy, its model and output columns.

Everything is read from the run directory through `RunView`: the data section of spec.yaml (the
source and its settings, the NaN policy), data.json (the features in the model's order, the task,
the classes, the heads, the standardisation) and model.keras (checked, then loaded in safe mode).
The model takes the raw features (its first layer standardises them), as float32, and is called
through Keras' own compiled predict function fed the batches the run scored its test split with
(`RunModel.predict`), so the same events give the same scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expctl.data.sources import feature_dtype
from expctl.errors import BadInputError, DataError
from expctl.inference.inputs import MATRIX, Layout
from expctl.runs import RunView, layout

#: Sources whose features are images: not read by predict/evaluate (yet).
IMAGE_SOURCES = ("mnist", "jet_images")


@dataclass(frozen=True)
class Head:
    """One output of the model: its name ('' for a single-output model), task and classes."""

    name: str
    task: str
    target: str
    classes: tuple[Any, ...] | None

    def columns(self) -> list[str]:
        """The output columns: `score` / `score_<head>`, one per class for a multiclass output."""
        base = f"score_{self.name}" if self.name else "score"
        if self.task == "multiclass" and self.classes is not None:
            return [f"{base}_{c}" for c in self.classes]
        return [base]


@dataclass
class RunModel:
    """What predict and evaluate need of a completed run; the model is loaded by `load_model`."""

    path: Path
    view: RunView
    data_spec: dict[str, Any]
    features: tuple[str, ...]
    task: str
    target: str
    classes: tuple[Any, ...] | None
    heads: tuple[Head, ...]
    nan: str
    mean: np.ndarray | None
    seed: int
    threshold: float
    model: Any = None

    @property
    def source(self) -> str:
        return str(self.data_spec.get("source", ""))

    @property
    def main(self) -> Head:
        return self.heads[0]

    @property
    def score_columns(self) -> list[str]:
        return [c for h in self.heads for c in h.columns()]

    def layout(self, fmt: str) -> Layout:
        """Where the run's features are in a file of format `fmt`: the run's own array or table
        when the file has the run's format, else columns named as the features."""
        spec = self.data_spec
        if fmt == "npz" and (self.source == "npz" or _matrix_names(self.features)):
            return Layout(self.features, matrix=str(spec.get("x") or "x"))
        if fmt == "hdf5" and self.source == "hdf5":
            if spec.get("x"):
                return Layout(self.features, matrix=str(spec["x"]))
            return Layout(self.features, table=spec.get("table"))
        return Layout(self.features)

    def load_model(self) -> Any:
        """model.keras, checked and loaded in safe mode (expctl.models.io), once; its input
        width checked against the run's features."""
        if self.model is None:
            from expctl.models.io import load_model
            from expctl.training.setup import configure_keras

            configure_keras(self.seed)
            model = load_model(self.view.file(layout.MODEL))
            width = model.input_shape[-1] if isinstance(model.input_shape, tuple) else None
            if width is not None and width != len(self.features):
                raise BadInputError(
                    f"{self.path}: the model takes {width} features but {layout.DATA} lists "
                    f"{len(self.features)}: the run directory is inconsistent"
                )
            self.model = model
        return self.model

    # ------------------------------------------------------------------------------- scoring

    def features_of(self, part: dict[str, np.ndarray], lay: Layout, where: str) -> np.ndarray:
        """One chunk's feature matrix as the model takes it (float32), after the run's NaN
        policy; events with a non-finite feature under `drop` stay (their rows are NaN), so the
        caller can give them a NaN score and keep the input's order. DataError under `error`."""
        if lay.matrix is not None:
            raw = np.asarray(part[MATRIX])
            raw = raw.reshape(len(raw), -1)
            x = raw.astype(feature_dtype([raw.dtype]), copy=False)
        else:
            arrays = [np.asarray(part[lay.column(f)]) for f in self.features]
            n = len(arrays[0]) if arrays else 0
            x = np.empty((n, len(self.features)), feature_dtype(a.dtype for a in arrays))
            for j, (name, values) in enumerate(zip(self.features, arrays, strict=True)):
                if values.dtype.kind not in "biuf":
                    raise DataError(
                        f"{where}: feature column {name!r} is not numeric ({values.dtype})"
                    )
                x[:, j] = values
        finite = np.isfinite(x)
        if not finite.all():
            if self.nan == "error":
                bad = [self.features[j] for j in np.flatnonzero(~finite.all(axis=0))]
                first = int(np.flatnonzero(~finite.all(axis=1))[0])
                raise DataError(
                    f"{where}: feature column(s) {', '.join(map(repr, bad))} contain NaN or "
                    f"infinite values (first at event {first} of this chunk); the run's "
                    "data.nan is `error` (as in training)"
                )
            if self.nan in ("zero", "mean"):
                # filled at float64, as the run filled its events (expctl.data.dataset)
                x = np.array(x, dtype=np.float64)
                bad = ~finite
                fill = np.zeros(x.shape[1]) if self.nan == "zero" else self.mean
                x[bad] = np.broadcast_to(fill, x.shape)[bad]
        return x.astype(np.float32, copy=False)

    def predict(self, x: np.ndarray) -> Any:
        """The model's outputs for the float32 features `x` (an array, or a dict by head name):
        `expctl.training.predict.model_predict`, as the run scored its own test events (the same
        bits), which frees each chunk once it is scored (tests/test_predict.py checks it)."""
        from expctl.training.predict import model_predict

        return model_predict(self.load_model(), x)

    def scores(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Output column -> scores (float64) of the float32 features `x`; an event with a
        non-finite feature (data.nan: drop) gets NaN scores."""
        dropped = ~np.isfinite(x).all(axis=1)
        if dropped.any():
            x = np.where(dropped[:, None], np.float32(0), x)
        raw = self.predict(x)
        out: dict[str, np.ndarray] = {}
        for head in self.heads:
            values = np.asarray(raw[head.name] if head.name else raw, dtype=np.float64)
            values = values.reshape(len(x), -1)
            columns = head.columns()
            for k, column in enumerate(columns):
                out[column] = values[:, k].copy()
                out[column][dropped] = np.nan
        return out


def _matrix_names(features: Sequence[str]) -> bool:
    """Features named x0, x1, ... : the run took a matrix."""
    return all(f == f"x{i}" for i, f in enumerate(features))


def open_run(run_dir: Path) -> RunModel:
    """A completed run's inputs and outputs (the model is loaded later); BadInputError (exit 2)
    naming the problem for a run that is not completed or whose files cannot be read."""
    view = RunView(run_dir)
    state = view.state
    if view.is_biasvar:
        raise BadInputError(f"{run_dir}: a bias/variance experiment, not a run: give a member run")
    if state != "completed":
        raise BadInputError(
            f"{run_dir}: the run is {state}; predict and evaluate need a completed run "
            f"(its {layout.MODEL} is the trained model only then)"
        )
    if not view.exists(layout.MODEL):
        raise BadInputError(f"{run_dir}: no {layout.MODEL}")
    spec, record = view.spec, view.data
    if spec is None or record is None or not isinstance(spec.get("data"), dict):
        why = "; ".join(view.warnings) or f"{layout.SPEC} or {layout.DATA} missing"
        raise BadInputError(f"{run_dir}: cannot read the run's data settings: {why}")
    data_spec = spec["data"]
    source = str(data_spec.get("source"))
    if source in IMAGE_SOURCES or (source == "digits" and data_spec.get("images")):
        raise BadInputError(
            f"{run_dir}: a run on images ({source}); predict and evaluate read tables of features"
        )
    features = tuple(str(f) for f in record.get("features") or ())
    if not features:
        raise BadInputError(f"{run_dir}: {layout.DATA} lists no features")
    classes = tuple(record["classes"]) if record.get("classes") is not None else None
    heads = tuple(
        Head(
            str(h["name"]),
            str(h["task"]),
            str(h["target"]),
            tuple(h["classes"]) if h.get("classes") is not None else None,
        )
        for h in record.get("heads") or ()
    ) or (Head("", str(record.get("task")), str(record.get("target")), classes),)
    nan = str(data_spec.get("nan") or "error")
    stats = record.get("standardization") or {}
    mean = np.asarray(stats["mean"], dtype=np.float64) if "mean" in stats else None
    if nan == "mean" and mean is None:
        raise BadInputError(
            f"{run_dir}: data.nan is `mean` but the run recorded no training means "
            "(standardize: false); cannot fill missing features as the run did"
        )
    return RunModel(
        path=Path(run_dir),
        view=view,
        data_spec=data_spec,
        features=features,
        task=heads[0].task,
        target=heads[0].target,
        classes=heads[0].classes,
        heads=heads,
        nan=nan,
        mean=mean,
        seed=int(spec.get("seed") or 0),
        threshold=float((spec.get("evaluate") or {}).get("threshold", 0.5)),
    )


__all__ = ["Head", "RunModel", "open_run"]
