"""ROC curves of runs' stored test predictions: what `expctl roc` shows and compare's ROC overlay.

One loop (`roc_curves`) reads each run's predictions through RunView, turns them into binary
problems (the run's own, one-vs-rest per class, or signal vs background) and computes each curve
and its AUC; `roc` adds the AUC's bootstrap interval, working points and best thresholds.
numpy is imported when a curve is computed, matplotlib when one is drawn; never TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from expctl.runs import layout
from expctl.runs.view import RunView

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

Warn = Callable[[str], None]

DEFAULT_WORKING_POINTS = (0.5, 0.7, 0.9)
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


@dataclass
class Curve:
    """One ROC curve: the run, its legend label, the binary problem's own label ('' for a binary
    run, `3 vs rest`), its events, the curve, the AUC and (with a bootstrap) its 68% interval."""

    run: Path
    label: str
    problem: str
    y: np.ndarray
    score: np.ndarray
    weight: np.ndarray | None
    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    interval: dict[str, Any] | None = None

    def drawn(self) -> dict[str, Any]:
        """The curve as `expctl.plots.roc_figure` and `rejection_ratio_figure` take it."""
        out = {"fpr": self.fpr, "tpr": self.tpr, "label": self.label, "auc": self.auc}
        if self.interval is not None:
            out["auc_ci68"] = (self.interval["low"], self.interval["high"])
        return out


def roc_curves(
    runs: Sequence[tuple[Path, str]],
    *,
    signal: str | None = None,
    background: str | None = None,
    bootstrap: int | None = None,
    warn: Warn | None = None,
) -> list[Curve]:
    """The ROC curves of `runs`, each a (run directory, legend label) pair.

    A multiclass run gives one curve per class (one-vs-rest) or, with `signal` and `background`,
    one for that pair; its curves are labelled `<label>: <problem>`. `bootstrap` resamples give
    each AUC a 68% interval. Without `warn`, a run without readable predictions raises
    BadInputError (exit 2); with it, such a run and any run that is not binary is left out with a
    warning (compare's overlay takes binary runs only).
    """
    from expctl.errors import BadInputError
    from expctl.evaluation import auc_interval, roc_auc, roc_curve
    from expctl.runs.predictions import binary_problems

    out = []
    for run_dir, label in runs:
        try:
            pred = RunView(run_dir).predictions()
        except BadInputError as exc:
            if warn is None:
                raise
            warn(f"{exc.message}; left out of the ROC overlay")
            continue
        if warn is not None and pred.task != "binary":
            warn(f"{run_dir}: a {pred.task} run; the ROC overlay takes binary runs only")
            continue
        for problem, y, score, weight in binary_problems(pred, signal, background):
            fpr, tpr, _ = roc_curve(y, score, sample_weight=weight)
            interval = None
            if bootstrap is not None:
                interval = auc_interval(y, score, sample_weight=weight, n_boot=bootstrap)
                auc = interval["auc"]
            else:
                auc = roc_auc(y, score, sample_weight=weight)
            name = f"{label}: {problem}" if problem and label else (problem or label)
            out.append(Curve(run_dir, name, problem, y, score, weight, fpr, tpr, auc, interval))
    return out


@dataclass
class RocView:
    """What `expctl roc` shows: the figure's path, and per curve its AUC, interval, working points
    and best thresholds (`results`, as printed with --json)."""

    figure: Path
    results: list[dict[str, Any]]


def _result(curve: Curve, efficiencies: Sequence[float]) -> dict[str, Any]:
    from expctl.evaluation import best_thresholds, working_points

    interval = curve.interval or {}
    y, score, weight = curve.y, curve.score, curve.weight
    evaluation = curve.run.parent.name == layout.EVALUATIONS
    return {
        "run": curve.run.parent.parent.name if evaluation else curve.run.name,
        **({"evaluation": curve.run.name} if evaluation else {}),
        **({"curve": curve.problem} if curve.problem else {}),
        "auc": curve.auc,
        "auc_ci68": [interval.get("low"), interval.get("high")],
        "auc_interval_method": interval.get("method"),
        "working_points": working_points(y, score, efficiencies, sample_weight=weight),
        **best_thresholds(y, score, sample_weight=weight),
    }


def default_figure_path(runs: Sequence[Path], hep: bool, evaluations: Sequence[str] = ()) -> Path:
    """plots/roc.png (rejection.png with `hep`) of the run; `*_overlay.png` of the first of several;
    with `evaluations`, `*_overlay.png` in the first evaluation's plots/ (the run's own files are
    not touched)."""
    stem = "rejection" if hep else "roc"
    if evaluations:
        folder = Path(runs[0]) / layout.EVALUATIONS / evaluations[0]
        return layout.plot_path(folder, f"{stem}_overlay.png")
    name = f"{stem}.png" if len(runs) == 1 else f"{stem}_overlay.png"
    return layout.plot_path(runs[0], name)


#: Bootstrap resamples of each AUC's 68% interval (the figure's legend).
DEFAULT_BOOTSTRAP = 200


def roc(
    run_dirs: Sequence[Path],
    *,
    hep: bool = False,
    efficiencies: Sequence[float] = DEFAULT_WORKING_POINTS,
    signal: str | None = None,
    background: str | None = None,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    out: Path | None = None,
    evaluations: Sequence[str] = (),
) -> RocView:
    """Draw the ROC curves of `run_dirs` on one figure (HEP rejection with `hep`) and measure them.

    With `evaluations` (names of `expctl evaluate` folders), each run's test curve is overlaid
    with its curve on each of those samples. The figure goes to `out`, by default into the
    first run's plots/ folder (the first evaluation's with `evaluations`). BadInputError (exit
    2) for a run without predictions, a regression run, an unknown class or evaluation.
    """
    figure, curves = roc_figure_for(
        run_dirs,
        hep,
        signal=signal,
        background=background,
        bootstrap=bootstrap,
        evaluations=evaluations,
    )
    path = out or default_figure_path(run_dirs, hep, evaluations)
    _save(figure, path)
    return RocView(path, [_result(c, efficiencies) for c in curves])


def roc_figure_for(
    run_dirs: Sequence[Path],
    hep: bool = False,
    *,
    signal: str | None = None,
    background: str | None = None,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    evaluations: Sequence[str] = (),
) -> tuple[Figure, list[Curve]]:
    """The figure `expctl roc RUN... [--hep] [--evaluation NAME]` draws (unsaved) and its curves.

    The curves are labelled by run name when there are several (a multiclass run's by its
    problem too); each evaluation's curve follows its run's test curve, labelled by the
    evaluation's name. `hep` draws the rejection with its ratio panel (the first curve is the
    reference). BadInputError as for `roc`.
    """
    several = len(run_dirs) > 1
    sources: list[tuple[Path, str]] = []
    for run in run_dirs:
        prefix = f"{run.name}: " if several else ""
        if not evaluations:
            sources.append((run, run.name if several else ""))
            continue
        view = RunView(run)
        sources.append((run, f"{prefix}test split"))
        sources += [(view.evaluation(e).path, f"{prefix}{e}") for e in evaluations]
    curves = roc_curves(sources, signal=signal, background=background, bootstrap=bootstrap)
    for curve in curves:
        curve.label = curve.label or curve.run.name
    return _figure([c.drawn() for c in curves], hep), curves


def save_roc_figure(curves: list[dict[str, Any]], path: Path, hep: bool = False) -> None:
    """Draw the curves (ROC, or rejection with a ratio panel) and save them atomically to `path`."""
    _save(_figure(curves, hep), path)


def _figure(curves: list[dict[str, Any]], hep: bool) -> Figure:
    from expctl.plots import rejection_ratio_figure, roc_figure

    return rejection_ratio_figure(curves) if hep else roc_figure(curves)


def _save(figure: Figure, path: Path) -> None:
    from expctl.runs import atomic_save

    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lstrip(".").lower() or "png"
    atomic_save(path, lambda tmp: _savefig(figure, tmp, fmt))


def figure_bytes(figure: Figure, fmt: str) -> bytes:
    """The bytes `_save` writes for `figure` as `fmt` (png, pdf, svg), without a file."""
    import io

    buffer = io.BytesIO()
    _savefig(figure, buffer, fmt)
    return buffer.getvalue()


def _savefig(figure: Figure, target: Any, fmt: str) -> None:
    """Saved the same way each time: a PDF without its creation date is the same bytes twice."""
    metadata = {"CreationDate": None} if fmt == "pdf" else None
    figure.savefig(target, format=fmt, metadata=metadata)


__all__ = [
    "DEFAULT_BOOTSTRAP",
    "DEFAULT_WORKING_POINTS",
    "FIGURE_SUFFIXES",
    "Curve",
    "RocView",
    "default_figure_path",
    "figure_bytes",
    "roc",
    "roc_curves",
    "roc_figure_for",
    "save_roc_figure",
]
