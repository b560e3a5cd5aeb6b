"""Figures: shape of the figures (panels, labels), PNG output, awkward histories, lazy import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from expctl.evaluation import roc_curve
from expctl.plots import learning_curves, rejection_figure, roc_figure
from expctl.plots.roc import corners


def history(n: int = 30, lr_schedule: bool = True) -> pd.DataFrame:
    """A binary-classification history: val loss flattens, the learning rate steps down."""
    epoch = np.arange(1, n + 1)
    decay = np.exp(-epoch / 5)
    return pd.DataFrame(
        {
            "epoch": epoch,
            "loss": 0.3 + 0.4 * decay,
            "accuracy": 0.87 - 0.2 * decay,
            "auc": 0.94 - 0.15 * decay,
            "val_loss": 0.35 + 0.3 * decay + 0.002 * np.clip(epoch - 15, 0, None),
            "val_accuracy": 0.85 - 0.18 * decay,
            "val_auc": 0.92 - 0.14 * decay,
            "learning_rate": np.where(epoch < 15, 1e-3, 1e-4) if lr_schedule else 1e-3,
            "epoch_time_s": 1.5,
        }
    )


def gaussian_roc(separation: float, n: int = 2000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(separation, 1, n), rng.normal(0, 1, n)])
    is_signal = np.concatenate([np.ones(n), np.zeros(n)])[np.argsort(-scores)]
    tpr = np.concatenate([[0], np.cumsum(is_signal) / n])
    fpr = np.concatenate([[0], np.cumsum(1 - is_signal) / n])
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    return {"fpr": fpr, "tpr": tpr, "label": f"d = {separation}", "auc": auc}


def ylabels(figure) -> list[str]:
    return [ax.get_ylabel() for ax in figure.axes]


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def all_texts(ax) -> str:
    return " ".join(t.get_text() for t in ax.texts)


def save(figure, path: Path) -> Path:
    figure.savefig(path)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


# ----------------------------------------------------------------------------- learning curves


def test_learning_curves_panels_labels_and_png(tmp_path):
    figure = learning_curves(history(), best_epoch=15, title="tiny")
    assert ylabels(figure) == ["loss", "accuracy", "ROC AUC (Keras, binned)", "learning rate"]
    assert figure.axes[-1].get_yscale() == "log"
    assert figure.get_suptitle() == "tiny"
    assert figure.dpi == 120
    for ax in figure.axes:
        assert "best epoch 15" in legend_texts(ax)
        assert any(line.get_linestyle() == ":" for line in ax.get_lines())
    loss_ax = figure.axes[0]
    assert {"training", "validation"} <= set(legend_texts(loss_ax))
    train, val = loss_ax.get_lines()[:2]
    assert (train.get_linestyle(), val.get_linestyle()) == ("-", "--")
    assert train.get_color() == val.get_color()
    # Bottom panels carry the epoch label.
    assert {ax.get_xlabel() for ax in figure.axes[2:]} == {"epoch"}
    assert "diverged" not in " ".join(all_texts(ax) for ax in figure.axes)
    save(figure, tmp_path / "lc.png")


def test_learning_curves_constant_learning_rate_has_no_lr_panel():
    figure = learning_curves(history(lr_schedule=False))
    assert ylabels(figure) == ["loss", "accuracy", "ROC AUC (Keras, binned)"]


def test_learning_curves_regression_metrics():
    h = history(lr_schedule=False)[["epoch", "loss", "val_loss"]].assign(mae=0.5, val_mae=0.6)
    assert ylabels(learning_curves(h)) == ["loss", "mean absolute error"]


def test_learning_curves_without_validation_columns(tmp_path):
    h = history()[["epoch", "loss", "accuracy"]]
    figure = learning_curves(h)
    assert ylabels(figure) == ["loss", "accuracy"]
    assert legend_texts(figure.axes[0]) == ["training"]
    save(figure, tmp_path / "noval.png")


def test_learning_curves_diverged_run(tmp_path):
    h = history(12)
    h.loc[h["epoch"] >= 9, ["loss", "val_loss"]] = np.nan
    h.loc[h["epoch"] == 10, "loss"] = np.inf
    figure = learning_curves(h, best_epoch=6)
    loss_ax = figure.axes[0]
    assert "diverged" in all_texts(loss_ax)
    assert "epoch 9" in all_texts(loss_ax)
    # The finite part is drawn; the non-finite points are gaps.
    ydata = np.asarray(loss_ax.get_lines()[0].get_ydata(), dtype=float)
    assert np.isfinite(ydata).sum() == 8
    assert "diverged" not in all_texts(figure.axes[1])  # accuracy stayed finite
    save(figure, tmp_path / "diverged.png")


def test_learning_curves_all_nan_loss_still_draws(tmp_path):
    h = history(3)
    h[["loss", "val_loss"]] = np.nan
    figure = learning_curves(h)
    assert "diverged" in all_texts(figure.axes[0])
    save(figure, tmp_path / "nan.png")


def test_learning_curves_single_epoch(tmp_path):
    figure = learning_curves(history(1), best_epoch=1)
    assert ylabels(figure) == ["loss", "accuracy", "ROC AUC (Keras, binned)"]
    line = figure.axes[0].get_lines()[0]
    assert line.get_marker() == "o"
    save(figure, tmp_path / "one.png")
    assert [t for t in figure.axes[0].get_xticks() if 0.5 <= t <= 1.5] == [1]


def test_learning_curves_from_history_csv(tmp_path):
    path = tmp_path / "history.csv"
    history(5).to_csv(path, index=False)
    save(learning_curves(pd.read_csv(path), best_epoch=3), tmp_path / "csv.png")


def test_learning_curves_rejects_empty_history():
    with pytest.raises(ValueError, match="no rows"):
        learning_curves(history().iloc[:0])


# ---------------------------------------------------------------------------------------- ROC


def test_roc_figure(tmp_path):
    curves = [gaussian_roc(2.0), gaussian_roc(1.0, seed=1)]
    figure = roc_figure(curves, title="test set")
    (ax,) = figure.axes
    assert "false-positive rate" in ax.get_xlabel()
    assert "true-positive rate" in ax.get_ylabel()
    assert ax.get_xlim() == (0, 1)
    assert ax.get_ylim() == (0, 1)
    assert ax.get_aspect() == 1.0
    assert ax.get_title() == "test set"
    labels = legend_texts(ax)
    assert labels[0] == f"d = 2.0 (AUC = {curves[0]['auc']:.3f})"
    assert labels[1].startswith("d = 1.0 (AUC = 0.7")
    assert labels[2].startswith("chance")
    save(figure, tmp_path / "roc.png")


def test_roc_figure_computes_missing_auc():
    curve = {"fpr": [0, 0, 1], "tpr": [0, 1, 1], "label": "perfect"}
    (ax,) = roc_figure([curve]).axes
    assert legend_texts(ax)[0] == "perfect (AUC = 1.000)"


def test_roc_figure_rejects_mismatched_arrays():
    with pytest.raises(ValueError, match="fpr has 3 points, tpr has 2"):
        roc_figure([{"fpr": [0, 0.5, 1], "tpr": [0, 1], "label": "bad", "auc": 0.5}])


def test_rejection_figure(tmp_path):
    curves = [gaussian_roc(2.0), gaussian_roc(1.0, seed=1)]
    figure = rejection_figure(curves)
    (ax,) = figure.axes
    assert ax.get_yscale() == "log"
    assert "signal efficiency" in ax.get_xlabel()
    assert "rejection" in ax.get_ylabel()
    assert legend_texts(ax)[0].startswith("d = 2.0 (AUC = 0.9")
    line = ax.get_lines()[0]
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    fpr, tpr = curves[0]["fpr"], curves[0]["tpr"]
    assert x.min() > 0 and x[0] == tpr[fpr > 0][0]  # fpr == 0 points skipped
    assert y[0] == 1 / fpr[fpr > 0][0]
    assert np.isfinite(y).all() and y.min() >= 1
    assert ax.get_ylim()[1] > y.max()  # headroom for the legend
    save(figure, tmp_path / "rejection.png")


def test_corners_leave_out_only_points_inside_straight_runs() -> None:
    """Every left-out point lies between its kept neighbours on one vertical or horizontal
    line, so the drawn line is the same; a 20,000-event ROC keeps far fewer points."""
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 20_000)
    fpr, tpr, _ = roc_curve(y, rng.normal(size=y.size) + 1.5 * y)
    keep = corners(fpr, tpr)
    assert keep[0] and keep[-1] and keep.sum() < fpr.size / 2
    kept = np.flatnonzero(keep)
    for i in np.flatnonzero(~keep):
        before, after = kept[kept < i][-1], kept[kept > i][0]
        vertical = fpr[before] == fpr[i] == fpr[after] and tpr[before] <= tpr[i] <= tpr[after]
        horizontal = tpr[before] == tpr[i] == tpr[after] and fpr[before] <= fpr[i] <= fpr[after]
        assert vertical or horizontal, i
    # a turn is never left out: the staircase (0,0) (0,1) (1,1) keeps all three
    assert corners(np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0])).all()
    assert corners(np.array([0.0, 1.0]), np.array([0.0, 1.0])).all()


def test_drawn_roc_keeps_the_curve_and_its_auc() -> None:
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 5_000)
    fpr, tpr, _ = roc_curve(y, rng.normal(size=y.size) + y)
    (ax,) = roc_figure([{"fpr": fpr, "tpr": tpr, "label": "c"}]).axes
    line = ax.get_lines()[1]
    x, t = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert x.size < fpr.size
    area = float(np.sum(np.diff(x) * (t[1:] + t[:-1])) / 2)
    assert area == pytest.approx(float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2), abs=1e-12)
    assert legend_texts(ax)[0] == f"c (AUC = {area:.3f})"


# ------------------------------------------------------------------------------------- import


def test_importing_plots_does_not_import_matplotlib():
    code = (
        "import sys, expctl.plots; "
        "print([m for m in sys.modules if m == 'matplotlib' or m.startswith('matplotlib.')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_learning_curves_mark_the_early_stopped_epoch():
    figure = learning_curves(history(12), best_epoch=8, stopped_epoch=12)
    for ax in figure.axes:
        assert {"best epoch 8", "early stop at epoch 12"} <= set(legend_texts(ax))
        stops = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert any(tuple(line.get_xdata()) == (12, 12) for line in stops)
    plain = learning_curves(history(12), best_epoch=8)
    assert not any("early stop" in " ".join(legend_texts(ax)) for ax in plain.axes)
