"""Read a run's stored test predictions (never unpickled) and turn them into binary problems."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expctl.errors import BadInputError
from expctl.runs import layout


@dataclass(frozen=True)
class Predictions:
    """Test-split targets and scores of one run; `weight` when the run used event weights."""

    y_true: np.ndarray
    y_score: np.ndarray
    classes: tuple[str, ...] | None
    weight: np.ndarray | None

    @property
    def task(self) -> str:
        if self.y_score.ndim == 2:
            return "multiclass"
        return "binary" if self.classes is not None and len(self.classes) == 2 else "regression"


def load_predictions(run_dir: Path) -> Predictions:
    """predictions.npz of a run directory; BadInputError (exit 2) if it is missing or unreadable."""
    path = Path(run_dir) / layout.PREDICTIONS
    if not path.is_file():
        raise BadInputError(
            f"{run_dir}: no {layout.PREDICTIONS} (the run did not finish its evaluation)"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInputError(f"{path}: cannot read predictions: {exc}") from None
    if "y_true" not in arrays or "y_score" not in arrays:
        raise BadInputError(f"{path}: needs arrays y_true and y_score, has {', '.join(arrays)}")
    classes = tuple(str(c) for c in arrays["classes"]) if "classes" in arrays else None
    return Predictions(arrays["y_true"], arrays["y_score"], classes, arrays.get("weight"))


def class_index(classes: tuple[str, ...], name: str, what: str) -> int:
    """Position of a class given by name or by index; BadInputError listing the classes otherwise."""
    if name in classes:
        return classes.index(name)
    if name.isdigit() and int(name) < len(classes):
        return int(name)
    raise BadInputError(
        f"{what} {name!r} is not a class of this run; classes: {', '.join(classes)}"
    )


def binary_problems(
    pred: Predictions, signal: str | None = None, background: str | None = None
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]]:
    """(label, y, score, weight) binary problems: the run's own, one-vs-rest per class, or signal vs background.

    For `signal`/`background` of a multiclass run, only events of those two classes are kept and the
    score is p_s / (p_s + p_b), the likelihood-ratio-like discriminant of the two classes.
    """
    w = pred.weight
    if pred.task == "binary":
        return [("", pred.y_true.astype(np.int64), pred.y_score, w)]
    if pred.task != "multiclass" or pred.classes is None:
        raise BadInputError("ROC curves need a classification run; this run is a regression")
    if signal is not None or background is not None:
        if signal is None or background is None:
            raise BadInputError("give both --signal and --background, or neither")
        s = class_index(pred.classes, signal, "--signal")
        b = class_index(pred.classes, background, "--background")
        keep = np.isin(pred.y_true, [s, b])
        p = pred.y_score[keep]
        denominator = p[:, s] + p[:, b]
        score = np.divide(p[:, s], denominator, out=np.full(len(p), 0.5), where=denominator > 0)
        return [
            (
                f"{pred.classes[s]} vs {pred.classes[b]}",
                (pred.y_true[keep] == s).astype(np.int64),
                score,
                None if w is None else w[keep],
            )
        ]
    return [
        (f"{name} vs rest", (pred.y_true == k).astype(np.int64), pred.y_score[:, k], w)
        for k, name in enumerate(pred.classes)
    ]
