"""Figures: overtraining check, confusion matrix, rejection with a ratio panel, AUC intervals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from expctl.plots import (
    confusion_figure,
    overtraining_figure,
    rejection_figure,
    rejection_ratio_figure,
    roc_figure,
)


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def save(figure, path: Path) -> None:
    figure.savefig(path)
    assert path.stat().st_size > 1000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def scores(n: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid of Gaussian logits: signal (label 1) at +separation/2, background at -separation/2."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    logits = rng.normal(np.where(labels == 1, separation / 2, -separation / 2), 1.0)
    return 1 / (1 + np.exp(-logits)), labels


def gaussian_roc(separation: float, label: str, n: int = 2000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    s = np.concatenate([rng.normal(separation, 1, n), rng.normal(0, 1, n)])
    is_signal = np.concatenate([np.ones(n), np.zeros(n)])[np.argsort(-s)]
    tpr = np.concatenate([[0], np.cumsum(is_signal) / n])
    fpr = np.concatenate([[0], np.cumsum(1 - is_signal) / n])
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    return {"fpr": fpr, "tpr": tpr, "label": label, "auc": auc}


# ---------------------------------------------------------------------------------- overtraining


def overtraining(**kwargs):
    train_s, train_y = scores(4000, 2.6, seed=1)
    test_s, test_y = scores(1000, 2.3, seed=2)
    return overtraining_figure(train_s, train_y, test_s, test_y, **kwargs), (test_s, test_y)


def test_overtraining_figure(tmp_path):
    ks = {"ks_pvalue_signal": 0.4312, "ks_pvalue_background": 0.1249}
    figure, (test_s, test_y) = overtraining(ks=ks, title="MLP")
    (ax,) = figure.axes
    assert figure.dpi == 120
    assert ax.get_xlabel() == "classifier output"
    assert "normalised entries" in ax.get_ylabel()
    assert ax.get_yscale() == "linear"
    assert ax.get_title() == "MLP"
    assert legend_texts(ax) == [
        "signal (training)",
        "background (training)",
        "signal (test)",
        "background (test)",
    ]
    assert texts(ax) == ["KS p-value: signal 0.43, background 0.12"]
    # Probabilities: 40 common bins over [0, 1]; every training histogram has unit area.
    edges = np.linspace(0, 1, 41)
    assert ax.get_xlim() == (0, 1)
    steps = ax.patches
    assert steps and all(np.allclose(p.get_data().edges, edges) for p in steps)
    for p in steps:
        assert np.sum(p.get_data().values * np.diff(edges)) == pytest.approx(1)
    # Test points: density with sqrt(N) errors, scaled by the same factor; empty bins left out.
    counts, _ = np.histogram(test_s[test_y == 1], edges)
    scale = 1 / (counts.sum() * np.diff(edges))
    line = ax.containers[0]  # signal (test)
    y = np.asarray(line.lines[0].get_ydata())
    np.testing.assert_allclose(y, (counts * scale)[counts > 0])
    segments = line.lines[2][0].get_segments()
    half = np.array([(s[1, 1] - s[0, 1]) / 2 for s in segments])
    np.testing.assert_allclose(half, (np.sqrt(counts) * scale)[counts > 0])
    # Headroom: the legend sits above the tallest bar.
    assert ax.get_ylim()[1] > 1.3 * max(p.get_data().values.max() for p in steps)
    save(figure, tmp_path / "overtraining.png")


def test_overtraining_figure_log_and_no_ks(tmp_path):
    figure, _ = overtraining(log=True)
    (ax,) = figure.axes
    assert ax.get_yscale() == "log"
    assert ax.get_ylim()[0] > 0
    assert texts(ax) == []
    save(figure, tmp_path / "overtraining_log.png")


def test_overtraining_figure_ks_formatting():
    ks = {"ks_pvalue_signal": 3.04e-5, "ks_pvalue_background": float("nan")}
    figure, _ = overtraining(ks=ks)
    assert texts(figure.axes[0]) == ["KS p-value: signal 3.0e-05, background n/a"]
    figure, _ = overtraining(ks={"ks_pvalue_signal": 1.0})
    assert texts(figure.axes[0]) == ["KS p-value: signal 1.00, background n/a"]


def test_overtraining_figure_unbounded_scores_use_their_range():
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(500), np.zeros(500)]
    train = np.r_[rng.normal(2, 1, 500), rng.normal(-2, 1, 500)]
    test = np.r_[rng.normal(2, 1, 500), rng.normal(-2, 1, 500), np.nan]
    figure = overtraining_figure(train, y, test, np.r_[y, 1], bins=25)
    (ax,) = figure.axes
    lo = min(train.min(), np.nanmin(test))
    hi = max(train.max(), np.nanmax(test))
    assert ax.get_xlim() == pytest.approx((lo, hi))
    assert len(ax.patches[0].get_data().values) == 25


def test_overtraining_figure_rejects_bad_input():
    s, y = scores(100, 2.0, seed=0)
    with pytest.raises(ValueError, match="training scores have 100 entries, labels 99"):
        overtraining_figure(s, y[:-1], s, y)
    with pytest.raises(ValueError, match="0 \\(background\\) or 1 \\(signal\\)"):
        overtraining_figure(s, y * 2, s, y)
    with pytest.raises(ValueError, match="no signal event"):
        overtraining_figure(s, y, s, np.zeros_like(y))


# ------------------------------------------------------------------------------------ confusion


def test_confusion_figure_binary(tmp_path):
    matrix = [[90, 10], [30, 70]]
    figure = confusion_figure(matrix, ["background", "signal"], title="threshold 0.5")
    (ax,) = figure.axes
    assert ax.get_xlabel() == "predicted class"
    assert ax.get_ylabel() == "true class"
    assert ax.get_title() == "threshold 0.5"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["background", "signal"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["background", "signal"]
    # Cells row by row: fraction of the true class, then the count.
    assert texts(ax) == ["0.90\n(90)", "0.10\n(10)", "0.30\n(30)", "0.70\n(70)"]
    fractions = np.array([float(t.split("\n")[0]) for t in texts(ax)]).reshape(2, 2)
    m = np.array(matrix, dtype=float)
    np.testing.assert_allclose(fractions, m / m.sum(axis=1, keepdims=True))
    # Cell centres at (column, row): rows are the true class.
    assert [t.get_position() for t in ax.texts] == [(0, 0), (1, 0), (0, 1), (1, 1)]
    # White on the dark diagonal, black on the light off-diagonal cells.
    assert [t.get_color() for t in ax.texts] == ["white", "black", "black", "white"]
    (colorbar_ax,) = ax.child_axes
    assert colorbar_ax.get_ylabel() == "fraction of true class"
    assert colorbar_ax.get_ylim() == (0, 1)
    save(figure, tmp_path / "confusion2.png")


def test_confusion_figure_counts_small_fractions_and_empty_rows():
    matrix = [[996, 4, 0], [0, 0, 0], [1, 2, 997]]
    figure = confusion_figure(matrix, ["a", "b", "c"], normalize=False)
    (ax,) = figure.axes
    assert texts(ax) == [
        ">0.99\n(996)",
        "<0.01\n(4)",
        "0",
        "–",
        "–",
        "–",
        "<0.01\n(1)",
        "<0.01\n(2)",
        ">0.99\n(997)",
    ]
    assert ax.child_axes[0].get_ylabel() == "events"
    weighted = confusion_figure(np.array(matrix) * 0.5, None, normalize=False)
    assert weighted.axes[0].child_axes[0].get_ylabel() == "sum of weights"
    assert texts(weighted.axes[0])[0] == ">0.99\n(498)"
    assert [t.get_text() for t in weighted.axes[0].get_xticklabels()] == ["0", "1", "2"]


def test_confusion_figure_ten_classes(tmp_path):
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 15, (10, 10)) + np.diag(rng.integers(800, 1000, 10))
    figure = confusion_figure(matrix, [str(d) for d in range(10)], title="digits")
    (ax,) = figure.axes
    assert len(ax.texts) == 100
    assert [t.get_text() for t in ax.get_xticklabels()] == [str(d) for d in range(10)]
    rows = matrix / matrix.sum(axis=1, keepdims=True)
    diagonal = [ax.texts[11 * i].get_text() for i in range(10)]
    assert diagonal == [f"{rows[i, i]:.2f}\n({matrix[i, i]})" for i in range(10)]
    save(figure, tmp_path / "confusion10.png")


def test_confusion_figure_rejects_bad_input():
    with pytest.raises(ValueError, match="square"):
        confusion_figure([[1, 2, 3], [4, 5, 6]], ["a", "b"])
    with pytest.raises(ValueError, match="3 class names for a 2 x 2"):
        confusion_figure([[1, 2], [3, 4]], ["a", "b", "c"])
    with pytest.raises(ValueError, match="non-negative"):
        confusion_figure([[1, -2], [3, 4]], ["a", "b"])


# ------------------------------------------------------------------------- AUC interval labels


def test_auc_interval_in_legends():
    symmetric = gaussian_roc(2.0, "sym") | {"auc": 0.912, "auc_ci68": (0.908, 0.916)}
    asymmetric = gaussian_roc(1.5, "asym") | {"auc": 0.912, "auc_ci68": [0.908, 0.915]}
    precise = gaussian_roc(1.0, "precise") | {"auc": 0.91234, "auc_ci68": (0.91211, 0.91257)}
    plain = gaussian_roc(0.5, "plain") | {"auc": 0.6, "auc_ci68": None}
    curves = [symmetric, asymmetric, precise, plain]
    expected = [
        "sym (AUC = 0.912 ± 0.004)",
        "asym (AUC = 0.912 [0.908, 0.915])",
        "precise (AUC = 0.9123 ± 0.0002)",
        "plain (AUC = 0.600)",
    ]
    assert legend_texts(roc_figure(curves).axes[0])[:4] == expected
    assert legend_texts(rejection_figure(curves).axes[0])[:4] == expected
    top = rejection_ratio_figure(curves).axes[0]
    assert legend_texts(top)[:4] == expected


# ------------------------------------------------------------------------------ rejection ratio


def test_rejection_ratio_figure(tmp_path):
    curves = [
        gaussian_roc(1.0, "d = 1.0"),
        gaussian_roc(1.5, "d = 1.5", seed=1),
        gaussian_roc(2.0, "d = 2.0", seed=2),
    ]
    figure = rejection_ratio_figure(curves, title="test set")
    top, bottom = figure.axes
    assert top.get_yscale() == "log"
    assert top.get_ylabel() == r"background rejection $1/\varepsilon_B$"
    assert top.get_xlabel() == ""
    assert top.get_title() == "test set"
    assert "signal efficiency" in bottom.get_xlabel()
    assert bottom.get_ylabel() == "ratio to d = 1.0"
    assert top.get_shared_x_axes().joined(top, bottom)
    assert bottom.get_position().height < 0.6 * top.get_position().height
    assert legend_texts(top)[0].startswith("d = 1.0 (AUC = 0.7")
    assert legend_texts(top)[-1].startswith("random")
    # The top panel is the rejection figure: same lines.
    reference = rejection_figure(curves).axes[0]
    for mine, theirs in zip(top.get_lines(), reference.get_lines(), strict=True):
        np.testing.assert_array_equal(mine.get_xydata(), theirs.get_xydata())
    # Bottom: the line at 1 (the reference), then one ratio per other curve, better than 1.
    one, *ratios = bottom.get_lines()
    assert list(one.get_ydata()) == [1, 1]
    assert [line.get_label() for line in ratios] == ["d = 1.5", "d = 2.0"]
    for line in ratios:
        x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
        assert (y[(x > 0.2) & (x < 0.95)] > 1).all()
    save(figure, tmp_path / "rejection_ratio.png")


def test_rejection_ratio_of_identical_curves_is_one():
    curve = gaussian_roc(1.5, "a")
    figure = rejection_ratio_figure([curve, dict(curve, label="b")])
    (ratio,) = figure.axes[1].get_lines()[1:]
    x, y = np.asarray(ratio.get_xdata()), np.asarray(ratio.get_ydata())
    defined = np.isfinite(y)
    assert defined.sum() > 0.9 * y.size
    assert (y[defined] == 1).all()
    # Undefined where no background passes (fpr == 0 at the smallest efficiencies).
    first = curve["tpr"][curve["fpr"] > 0].min()
    assert not defined[x < first].any()


def test_rejection_ratio_interpolates_like_the_log_plot():
    a = {"fpr": [0, 0.1, 0.2, 1], "tpr": [0, 0.5, 0.8, 1], "label": "A"}
    b = {"fpr": [0, 0.05, 0.1, 0.5], "tpr": [0, 0.5, 0.8, 1], "label": "B"}
    figure = rejection_ratio_figure([a, b], reference="A")
    assert figure.axes[1].get_ylabel() == "ratio to A"
    ratio = figure.axes[1].get_lines()[1]
    x, y = np.asarray(ratio.get_xdata()), np.asarray(ratio.get_ydata())
    # B has half of A's mistag rate at every ROC point: the ratio is 2 wherever both are defined,
    # i.e. from the first point with background (eff 0.5) to full efficiency.
    defined = np.isfinite(y)
    np.testing.assert_allclose(x[defined][[0, -1]], [0.5, 1.0])
    np.testing.assert_allclose(y[defined], 2.0)
    # Reference = B: A over B is a half.
    figure = rejection_ratio_figure([a, b], reference=1)
    y = np.asarray(figure.axes[1].get_lines()[1].get_ydata())
    np.testing.assert_allclose(y[np.isfinite(y)], 0.5)
    assert figure.axes[1].get_ylim()[0] < 0.5 < 1 < figure.axes[1].get_ylim()[1]


def test_rejection_ratio_single_curve_and_bad_reference():
    curve = gaussian_roc(1.0, "only")
    figure = rejection_ratio_figure([curve])
    assert len(figure.axes[1].get_lines()) == 1  # just the line at 1
    with pytest.raises(ValueError, match="'nope' is not one of"):
        rejection_ratio_figure([curve], reference="nope")
    with pytest.raises(ValueError, match="out of range"):
        rejection_ratio_figure([curve], reference=2)
    with pytest.raises(ValueError, match="no curves"):
        rejection_ratio_figure([])


# ------------------------------------------------------------------------------------- import


def test_importing_plot_views_does_not_import_matplotlib():
    code = (
        "import sys, expctl.plots, expctl.plots.overtraining, expctl.plots.confusion; "
        "from expctl.plots import rejection_ratio_figure, overtraining_figure, confusion_figure; "
        "print([m for m in sys.modules if m == 'matplotlib' or m.startswith('matplotlib.')])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
