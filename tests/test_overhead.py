"""Constant per-run overhead (issue 15): the training-split sample for the overtraining test, and
ROC figures drawn from a bounded number of points however many test events there are."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import stats

from expctl.evaluation import roc_curve
from expctl.plots import overtraining_figure, rejection_figure, roc_figure
from expctl.plots.roc import DRAWN_POINTS, drawn_points, thin
from expctl.plots.run_figures import binary_figures
from expctl.training.predict import TRAIN_SCORE_SAMPLE, train_sample


def split_of(n: int) -> SimpleNamespace:
    """What `train_sample` reads of a Dataset: the training split's length."""
    return SimpleNamespace(train=np.zeros(n))


# ------------------------------------------------------------------------------ training sample


def test_train_sample_takes_a_small_split_whole_in_order() -> None:
    np.testing.assert_array_equal(train_sample(split_of(1_000), seed=3), np.arange(1_000))
    np.testing.assert_array_equal(train_sample(split_of(50), seed=3, limit=50), np.arange(50))


def test_train_sample_of_a_large_split_is_bounded_sorted_distinct_and_seeded() -> None:
    n = 2_400_000
    sample = train_sample(split_of(n), seed=7)
    assert sample.size == TRAIN_SCORE_SAMPLE == 100_000
    assert (np.diff(sample) > 0).all()  # sorted, no event twice
    assert sample[0] >= 0 and sample[-1] < n
    np.testing.assert_array_equal(sample, train_sample(split_of(n), seed=7))
    assert not np.array_equal(sample, train_sample(split_of(n), seed=8))


def test_train_sample_is_uniform_over_the_split() -> None:
    """A uniform sample: the indices' distribution is uniform on [0, n) (KS test), so the sampled
    events' score distribution is the split's whatever order the split is in."""
    n = 1_000_000
    sample = train_sample(split_of(n), seed=1, limit=20_000)
    assert sample.size == 20_000
    assert stats.kstest(sample / n, "uniform").pvalue > 1e-3
    # a split sorted by label: the sample keeps the label fraction (0.3) to binomial precision
    labels = np.arange(n) < 0.3 * n
    fraction = labels[sample].mean()
    assert abs(fraction - 0.3) < 5 * np.sqrt(0.3 * 0.7 / sample.size)


def test_train_sample_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        train_sample(split_of(10), seed=0, limit=0)


# ------------------------------------------------------------------------- ROC figures, thinned


def big_roc(n: int = 400_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    fpr, tpr, _ = roc_curve(y, rng.normal(size=n) + 1.5 * y)
    return fpr, tpr


@pytest.mark.parametrize("log_y", [False, True])
def test_thin_keeps_every_point_within_its_bound(log_y: bool) -> None:
    """Each left-out point lies within one step (path length / max_points, in axis spans) of the
    kept point before it, so of the drawn line; at most max_points + 1 points are kept."""
    fpr, tpr = big_roc()
    x, y = (tpr[fpr > 0], 1 / fpr[fpr > 0]) if log_y else (fpr, tpr)
    max_points = 500
    keep = thin(x, y, max_points, log_y=log_y)
    assert keep[0] and keep[-1]
    assert keep.sum() <= max_points + 1
    ys = np.log10(y) if log_y else y
    sx, sy = np.ptp(x), np.ptp(ys)
    length = np.sum(np.abs(np.diff(x)) / sx + np.abs(np.diff(ys)) / sy)
    assert length <= 2 + 1e-9  # monotone in both axes
    previous = np.maximum.accumulate(np.where(keep, np.arange(x.size), 0))
    distance = np.abs(x - x[previous]) / sx + np.abs(ys - ys[previous]) / sy
    assert distance.max() < length / max_points


def test_thin_keeps_short_curves_whole() -> None:
    x = np.linspace(0, 1, 100)
    assert thin(x, x**2, 100).all()
    # a curve of one repeated point: its two ends
    keep = thin(np.zeros(10), np.zeros(10), 5)
    assert keep.tolist() == [True] + [False] * 8 + [True]


def test_drawn_roc_of_many_events_has_a_bounded_number_of_points() -> None:
    fpr, tpr = big_roc()
    curve = {"fpr": fpr, "tpr": tpr, "label": "big"}
    (ax,) = roc_figure([curve]).axes
    line = ax.get_lines()[1]
    x, t = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert fpr.size > 100 * DRAWN_POINTS // 4 and x.size <= DRAWN_POINTS + 1
    assert (x[0], t[0], x[-1], t[-1]) == (fpr[0], tpr[0], fpr[-1], tpr[-1])
    # the drawn line's area is the curve's AUC to within the thinning's bound (2 / DRAWN_POINTS)
    exact = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2)
    drawn = float(np.sum(np.diff(x) * (t[1:] + t[:-1])) / 2)
    assert drawn == pytest.approx(exact, abs=2 / DRAWN_POINTS)
    # the legend's AUC is computed from every point, not from the drawn ones
    assert f"(AUC = {exact:.3f})" in ax.get_legend().get_texts()[0].get_text()

    (ax,) = rejection_figure([curve]).axes
    line = ax.get_lines()[0]
    assert np.asarray(line.get_xdata()).size <= DRAWN_POINTS + 1
    assert np.asarray(line.get_ydata())[0] == 1 / fpr[fpr > 0][0]


def test_drawn_points_are_corners_first() -> None:
    """Below the bound only the points inside straight runs are left out (as before)."""
    fpr = np.array([0.0, 0.0, 0.0, 0.5, 1.0])
    tpr = np.array([0.0, 0.5, 1.0, 1.0, 1.0])
    assert drawn_points(fpr, tpr).tolist() == [0, 2, 4]


# ------------------------------------------------------------------ overtraining figure's sample


def scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return np.clip(rng.normal(0.3 + 0.4 * y, 0.15), 0, 1), y


def texts(figure) -> str:
    return " ".join(t.get_text() for t in figure.axes[0].texts)


def test_overtraining_figure_states_the_training_sample() -> None:
    train_s, train_y = scores(1_000, 0)
    test_s, test_y = scores(500, 1)
    ks = {"ks_pvalue_signal": 0.4, "ks_pvalue_background": 0.7}
    figure = overtraining_figure(train_s, train_y, test_s, test_y, ks=ks, train_events=240_000)
    assert "training: a random 1,000 of 240,000 events" in texts(figure)
    assert "KS p-value: signal 0.40, background 0.70" in texts(figure)
    # the whole split (or no size given): nothing to state
    for events in (1_000, None):
        figure = overtraining_figure(train_s, train_y, test_s, test_y, train_events=events)
        assert "random" not in texts(figure)


def test_binary_figures_pass_the_training_split_size_on() -> None:
    train_s, train_y = scores(1_000, 0)
    test_s, test_y = scores(500, 1)
    metrics = {
        "auc": 0.9,
        "auc_ci68_low": 0.89,
        "auc_ci68_high": 0.91,
        "confusion_matrix": [[1, 2], [3, 4]],
    }
    figures = binary_figures(
        "run", test_y, test_s, train_y, train_s, metrics, None, 0.5, train_events=5_000
    )
    assert "training: a random 1,000 of 5,000 events" in texts(figures["overtraining.png"]())
