"""Plots: figures from arrays, robust to diverged histories, no matplotlib on import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from expctl.plots import learning_curves, rejection_figure, roc_figure


def _history(epochs: int = 10) -> pd.DataFrame:
    e = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": e,
            "loss": 1 / e,
            "val_loss": 1 / e + 0.05,
            "accuracy": 1 - 0.5 / e,
            "val_accuracy": 1 - 0.6 / e,
            "learning_rate": 0.1 * 0.9**e,
        }
    )


def _labels(figure) -> list[tuple[str, str]]:
    return [(ax.get_xlabel(), ax.get_ylabel()) for ax in figure.axes]


def test_learning_curves_panels_and_best_epoch(tmp_path: Path) -> None:
    figure = learning_curves(_history(), best_epoch=4, title="t")
    assert _labels(figure) == [("epoch", "loss"), ("epoch", "accuracy"), ("epoch", "learning rate")]
    assert figure.axes[2].get_yscale() == "log"
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert legend == ["training", "validation", "best epoch 4"]
    figure.savefig(tmp_path / "lc.png")
    assert (tmp_path / "lc.png").stat().st_size > 10_000


def test_learning_curves_constant_lr_single_epoch_and_no_validation() -> None:
    history = _history(1).drop(columns=["val_loss", "val_accuracy"])
    history["learning_rate"] = 0.01
    figure = learning_curves(history)
    assert len(figure.axes) == 2  # no learning-rate panel when it never changes
    assert figure.axes[0].lines[0].get_marker() == "o"


def test_learning_curves_of_a_diverged_run() -> None:
    history = _history(3)
    history.loc[2, ["loss", "val_loss"]] = [np.nan, np.inf]
    figure = learning_curves(history)
    assert len(figure.axes[0].lines[0].get_xdata()) == 2
    assert any("diverged" in t.get_text() for t in figure.axes[0].texts)


def test_roc_and_rejection_figures(tmp_path: Path) -> None:
    fpr = np.array([0.0, 0.0, 0.1, 0.5, 1.0])
    tpr = np.array([0.0, 0.3, 0.6, 0.9, 1.0])
    curves = [
        {"fpr": fpr, "tpr": tpr, "label": "a", "auc": 0.8125},
        {"fpr": fpr, "tpr": tpr, "label": "b", "auc": float("nan")},
    ]
    roc = roc_figure(curves, title="ROC")
    (ax,) = roc.axes
    assert "signal efficiency" in ax.get_ylabel() and "background efficiency" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["a (AUC = 0.812)", "b"]
    rejection = rejection_figure(curves)
    (ax,) = rejection.axes
    assert ax.get_yscale() == "log"
    np.testing.assert_allclose(
        ax.lines[0].get_ydata(), 1 / fpr[fpr > 0]
    )  # points with fpr 0 are skipped
    roc.savefig(tmp_path / "roc.png")
    rejection.savefig(tmp_path / "rej.png")


def test_importing_plots_does_not_import_matplotlib() -> None:
    code = "import sys, expctl.plots; print('matplotlib' in sys.modules)"
    assert (
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.strip()
        == "False"
    )
