"""HEP figures of merit: working points, best thresholds, AUC intervals and the overtraining test."""

from __future__ import annotations

import contextlib
import math
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from statistics import NormalDist

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from expctl.evaluation import (
    UndefinedMetricWarning,
    auc_in_bins,
    auc_interval,
    best_thresholds,
    overtraining_test,
    rejection_at,
    roc_auc,
    working_points,
)

TOL = 1e-12
WP_KEYS = [
    "signal_efficiency_target",
    "signal_efficiency",
    "signal_efficiency_err",
    "threshold",
    "background_efficiency",
    "background_efficiency_err",
    "rejection",
    "rejection_err",
]


def binary_data(seed: int, n: int = 2000, decimals: int | None = None, shift: float = 1.2):
    """Labels, scores (optionally rounded: heavy ties) and positive weights."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + shift * y)))
    if decimals is not None:
        s = np.round(s, decimals)
    return y, s, rng.uniform(0.1, 3.0, n)


@contextlib.contextmanager
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def z_of(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2.0)


# ----------------------------------------------------------------------------------------------
# Working points
# ----------------------------------------------------------------------------------------------

# Ten events, 5 signal (S) and 5 background (B), in decreasing score:
#   0.9 S | 0.8 S | 0.7 B | 0.6 S | 0.5 S | 0.4 B | 0.3 B | 0.2 S | 0.1 B | 0.05 B
# Selecting score >= t, cumulative (S, B) and (tpr, fpr) at each threshold t:
#   t=0.9 (1,0) (.2,0)   t=0.8 (2,0) (.4,0)   t=0.7 (2,1) (.4,.2)  t=0.6 (3,1) (.6,.2)
#   t=0.5 (4,1) (.8,.2)  t=0.4 (4,2) (.8,.4)  t=0.3 (4,3) (.8,.6)  t=0.2 (5,3) (1,.6) ...
# Target 0.5 -> first tpr >= .5 is t=0.6: eps_S=.6, eps_B=.2, rejection 5;
#   err(eps_B) = sqrt(.2*.8/5) = sqrt(.032), err(R) = sqrt(.032)/.2**2 = 25 sqrt(.032),
#   err(eps_S) = sqrt(.6*.4/5) = sqrt(.048).
# Target 0.8 (reached exactly, 4/5) -> t=0.5: eps_S=.8, eps_B=.2.
# Target 0.4 -> t=0.8: eps_B=0, so rejection and its error are inf, err(eps_B) = 0.
# Target 0.9 and 1.0 -> t=0.2: eps_S=1 (err 0), eps_B=.6, R=1/.6, err(R)=sqrt(.6*.4/5)/.36.
HAND_S = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]
HAND_Y = [1, 1, 0, 1, 1, 0, 0, 1, 0, 0]


def test_working_points_by_hand() -> None:
    with no_warnings():
        wps = working_points(HAND_Y, HAND_S, [0.5, 0.8, 0.4, 0.9, 1.0])
    assert [list(wp) for wp in wps] == [WP_KEYS] * 5
    assert all(type(v) is float for wp in wps for v in wp.values())
    wp = wps[0]
    assert wp["signal_efficiency_target"] == 0.5
    assert wp["threshold"] == 0.6
    assert wp["signal_efficiency"] == pytest.approx(0.6, abs=TOL)
    assert wp["signal_efficiency_err"] == pytest.approx(math.sqrt(0.048), abs=TOL)
    assert wp["background_efficiency"] == pytest.approx(0.2, abs=TOL)
    assert wp["background_efficiency_err"] == pytest.approx(math.sqrt(0.032), abs=TOL)
    assert wp["rejection"] == pytest.approx(5.0, abs=TOL)
    assert wp["rejection_err"] == pytest.approx(25.0 * math.sqrt(0.032), abs=TOL)

    assert wps[1]["threshold"] == 0.5 and wps[1]["signal_efficiency"] == 0.8
    assert wps[1]["background_efficiency"] == pytest.approx(0.2, abs=TOL)

    wp = wps[2]
    assert wp["threshold"] == 0.8 and wp["background_efficiency"] == 0.0
    assert wp["background_efficiency_err"] == 0.0
    assert wp["rejection"] == math.inf and wp["rejection_err"] == math.inf

    for wp in wps[3:]:
        assert wp["threshold"] == 0.2
        assert wp["signal_efficiency"] == 1.0 and wp["signal_efficiency_err"] == 0.0
        assert wp["rejection"] == pytest.approx(1.0 / 0.6, abs=TOL)
        assert wp["rejection_err"] == pytest.approx(math.sqrt(0.6 * 0.4 / 5) / 0.36, abs=TOL)

    assert rejection_at(HAND_Y, HAND_S, 0.5) == pytest.approx(5.0, abs=TOL)
    assert rejection_at(HAND_Y, HAND_S, 0.4) == math.inf
    single = working_points(HAND_Y, HAND_S, 0.5)  # a bare number is one target
    assert single == wps[:1]
    # Keras-style (n, 1) column of scores.
    assert working_points(HAND_Y, np.array(HAND_S)[:, None], [0.5]) == wps[:1]


def test_working_points_integer_weights_equal_repeated_events() -> None:
    rng = np.random.default_rng(11)
    y, s, _ = binary_data(11, n=600, decimals=2)
    counts = rng.integers(1, 5, y.size)
    targets = [0.3, 0.5, 0.7, 0.9]
    weighted = working_points(y, s, targets, sample_weight=counts)
    repeated = working_points(np.repeat(y, counts), np.repeat(s, counts), targets)
    for wp_w, wp_r in zip(weighted, repeated, strict=True):
        assert wp_w["threshold"] == wp_r["threshold"]
        for key in ("signal_efficiency", "background_efficiency", "rejection"):
            assert wp_w[key] == pytest.approx(wp_r[key], abs=TOL), key
    # The errors are not those of the repeated sample: a weight-3 event is one event, not
    # three independent ones. They are binomial on N_eff = (sum w)^2 / sum w^2.
    for label, key in ((1, "signal_efficiency"), (0, "background_efficiency")):
        c = counts[y == label]
        n_eff = c.sum() ** 2 / (c**2).sum()
        for wp_w, wp_r in zip(weighted, repeated, strict=True):
            eff, err = wp_w[key], wp_w[key + "_err"]
            assert err == pytest.approx(math.sqrt(eff * (1 - eff) / n_eff), rel=1e-12)
            assert err > wp_r[key + "_err"]  # N_eff < sum of the counts
    for wp in weighted:
        eff_b, err_b = wp["background_efficiency"], wp["background_efficiency_err"]
        assert wp["rejection_err"] == pytest.approx(err_b / eff_b**2, rel=1e-12)


def test_working_points_equal_weights_are_unweighted() -> None:
    # 14 signal events of weight 0.1: the cumulative sum after 7 of them, divided by the total,
    # is 0.49999999999999994. The target 0.5 is still reached there (EFF_ATOL slack), as without
    # weights; the errors use N_eff = N for equal weights.
    rng = np.random.default_rng(12)
    y = np.array([1] * 14 + [0] * 10)
    s = rng.permutation(y.size) / y.size
    unweighted = working_points(y, s, [0.5, 0.7])
    weighted = working_points(y, s, [0.5, 0.7], sample_weight=np.full(y.size, 0.1))
    for wp_w, wp_u in zip(weighted, unweighted, strict=True):
        assert wp_w["threshold"] == wp_u["threshold"]
        for key in WP_KEYS:
            assert wp_w[key] == pytest.approx(wp_u[key], rel=1e-12, abs=TOL), key


@pytest.mark.parametrize(("decimals", "weighted"), [(None, False), (2, False), (None, True)])
def test_working_points_match_sklearn_roc_curve(decimals: int | None, weighted: bool) -> None:
    y, s, w = binary_data(13, n=3000, decimals=decimals)
    w = w if weighted else None
    targets = np.linspace(0.05, 1.0, 20)
    fpr, tpr, thr = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    with no_warnings():
        wps = working_points(y, s, targets, sample_weight=w)
    for target, wp in zip(targets, wps, strict=True):
        i = int(np.argmax(tpr >= target))  # the first point reaching the target
        assert wp["threshold"] == thr[i]
        assert wp["signal_efficiency"] == pytest.approx(tpr[i], abs=TOL)
        assert wp["signal_efficiency"] >= target
        assert wp["background_efficiency"] == pytest.approx(fpr[i], abs=TOL)
        assert wp["rejection"] == pytest.approx(1.0 / fpr[i], rel=1e-12)
        # The threshold selects score >= threshold, as in roc_curve.
        sel = s >= wp["threshold"]
        ww = np.ones(y.size) if w is None else w
        assert ww[sel & (y == 0)].sum() / ww[y == 0].sum() == pytest.approx(fpr[i], abs=TOL)
        assert rejection_at(y, s, target, sample_weight=w) == wp["rejection"]
    rejections = [wp["rejection"] for wp in wps]
    assert all(np.diff(rejections) <= 0)  # looser cuts reject less


# ----------------------------------------------------------------------------------------------
# Best thresholds
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("decimals", "weighted"), [(None, False), (2, False), (2, True)])
def test_best_thresholds_match_brute_force(decimals: int | None, weighted: bool) -> None:
    y, s, w = binary_data(21, n=400, decimals=decimals, shift=1.5)
    w = w if weighted else None
    _, _, thresholds = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=False)

    def f1_at(t: float) -> float:
        return skm.f1_score(y, s >= t, sample_weight=w, zero_division=0.0)

    def youden_at(t: float) -> float:
        tn, fp, fn, tp = skm.confusion_matrix(y, s >= t, sample_weight=w).ravel()
        return tp / (tp + fn) - fp / (fp + tn)

    candidates = thresholds[1:]  # skip +inf
    f1s = np.array([f1_at(t) for t in candidates])
    js = np.array([youden_at(t) for t in candidates])
    with no_warnings():
        best = best_thresholds(y, s, sample_weight=w)
    assert list(best) == ["max_f1_threshold", "max_f1", "youden_threshold", "youden_j"]
    assert all(type(v) is float for v in best.values())
    assert best["max_f1"] == pytest.approx(f1s.max(), abs=TOL)
    assert f1_at(best["max_f1_threshold"]) == pytest.approx(f1s.max(), abs=TOL)
    assert best["youden_j"] == pytest.approx(js.max(), abs=TOL)
    assert youden_at(best["youden_threshold"]) == pytest.approx(js.max(), abs=TOL)
    assert best["max_f1_threshold"] in candidates and best["youden_threshold"] in candidates


def test_best_thresholds_by_hand() -> None:
    # HAND events (see above): F1 = 2TP / (TP + FP + 5) at t = .9 .8 .7 .6 .5 .4 .3 .2 .1 .05:
    # 2/6, 4/7, 4/8, 6/9, 8/10, 8/11, 8/12, 10/13, 10/14, 10/15 -> max 0.8 at t = 0.5.
    # J = tpr - fpr: .2 .4 .2 .4 .6 .4 .2 .4 .2 0 -> max 0.6 at t = 0.5.
    best = best_thresholds(HAND_Y, HAND_S)
    assert best["max_f1_threshold"] == 0.5 and best["max_f1"] == pytest.approx(0.8, abs=TOL)
    assert best["youden_threshold"] == 0.5 and best["youden_j"] == pytest.approx(0.6, abs=TOL)


# ----------------------------------------------------------------------------------------------
# AUC interval
# ----------------------------------------------------------------------------------------------


def delong_variance_reference(y, s, w=None) -> float:
    """O(n^2) structural components, written out from DeLong et al. (1988) (weighted variant)."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    w = np.ones(y.size) if w is None else np.asarray(w, dtype=float)
    x_sig, x_bkg = s[y == 1], s[y == 0]
    w_sig, w_bkg = w[y == 1], w[y == 0]
    m, n = x_sig.size, x_bkg.size
    psi = (x_sig[:, None] > x_bkg[None, :]) + 0.5 * (x_sig[:, None] == x_bkg[None, :])
    v10 = psi @ w_bkg / w_bkg.sum()  # one per signal event
    v01 = w_sig @ psi / w_sig.sum()  # one per background event
    auc = w_sig @ v10 / w_sig.sum()
    s10 = m / (m - 1) * np.sum(w_sig**2 * (v10 - auc) ** 2) / w_sig.sum() ** 2
    s01 = n / (n - 1) * np.sum(w_bkg**2 * (v01 - auc) ** 2) / w_bkg.sum() ** 2
    if np.all(w == 1.0):  # the textbook form: S10/m + S01/n
        textbook = np.sum((v10 - auc) ** 2) / (m - 1) / m + np.sum((v01 - auc) ** 2) / (n - 1) / n
        assert s10 + s01 == pytest.approx(textbook, rel=1e-12)
    return float(s10 + s01)


@pytest.mark.parametrize(("decimals", "weighted"), [(None, False), (1, False), (2, True)])
def test_delong_matches_quadratic_reference(decimals: int | None, weighted: bool) -> None:
    y, s, w = binary_data(31, n=150, decimals=decimals, shift=0.8)
    w = w if weighted else None
    level = 0.68
    with no_warnings():
        ci = auc_interval(y, s, sample_weight=w, level=level, max_bootstrap_events=0)
    assert ci["method"] == "delong"
    assert ci["auc"] == roc_auc(y, s, sample_weight=w)
    assert 0.0 < ci["low"] < ci["auc"] < ci["high"] < 1.0  # no clipping here
    sigma = math.sqrt(delong_variance_reference(y, s, w))
    assert ci["high"] - ci["auc"] == pytest.approx(z_of(level) * sigma, rel=1e-9)
    assert ci["auc"] - ci["low"] == pytest.approx(z_of(level) * sigma, rel=1e-9)


def test_delong_equal_weights_equal_unweighted() -> None:
    y, s, _ = binary_data(32, n=500, decimals=2)
    plain = auc_interval(y, s, max_bootstrap_events=0)
    weighted = auc_interval(y, s, sample_weight=np.full(y.size, 2.5), max_bootstrap_events=0)
    for key in ("auc", "low", "high"):
        assert weighted[key] == pytest.approx(plain[key], abs=TOL)


def test_delong_interval_is_clipped_to_unit_interval() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.5, 0.4, 0.8, 0.9])  # AUC 8/9 with a wide interval
    ci = auc_interval(y, s, level=0.95, max_bootstrap_events=0)
    assert ci["high"] == 1.0 and ci["low"] < ci["auc"] == pytest.approx(8 / 9, abs=TOL)


@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_equals_explicit_resamples(weighted: bool) -> None:
    # Replays the documented resampling (per resample: signal indices, then background indices,
    # from default_rng(seed), into each class sorted by score) and computes each resample's AUC
    # with roc_auc.
    y, s, w = binary_data(41, n=300, decimals=2)
    w = w if weighted else None
    n_boot, seed, level = 50, 7, 0.9
    ci = auc_interval(y, s, sample_weight=w, level=level, n_boot=n_boot, seed=seed)
    assert ci["method"] == "bootstrap"
    rng = np.random.default_rng(seed)
    sig, bkg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    sig, bkg = sig[np.argsort(s[sig], kind="stable")], bkg[np.argsort(s[bkg], kind="stable")]
    aucs = []
    for _ in range(n_boot):
        idx = np.concatenate(
            [sig[rng.integers(0, sig.size, sig.size)], bkg[rng.integers(0, bkg.size, bkg.size)]]
        )
        aucs.append(roc_auc(y[idx], s[idx], sample_weight=None if w is None else w[idx]))
    low, high = np.quantile(aucs, [0.05, 0.95])
    assert ci["low"] == pytest.approx(low, abs=TOL)
    assert ci["high"] == pytest.approx(high, abs=TOL)


def test_bootstrap_reproducible_and_contains_auc() -> None:
    y, s, w = binary_data(42, n=2000)
    with no_warnings():
        a = auc_interval(y, s)
    assert a == auc_interval(y, s)  # seed=0 by default
    assert set(a) == {"auc", "low", "high", "method"} and a["method"] == "bootstrap"
    assert all(type(a[k]) is float for k in ("auc", "low", "high"))
    assert a["low"] < a["auc"] < a["high"]
    b = auc_interval(y, s, seed=1)
    assert b["auc"] == a["auc"] and (b["low"], b["high"]) != (a["low"], a["high"])
    aw = auc_interval(y, s, sample_weight=w, seed=3)
    assert aw == auc_interval(y, s, sample_weight=w, seed=3)
    assert aw["low"] < aw["auc"] < aw["high"]
    wider = auc_interval(y, s, level=0.95)
    assert wider["low"] < a["low"] and wider["high"] > a["high"]


def test_bootstrap_width_shrinks_like_one_over_sqrt_n() -> None:
    small = auc_interval(*binary_data(43, n=1000)[:2], n_boot=300)
    large = auc_interval(*binary_data(44, n=16000)[:2], n_boot=300)
    ratio = (small["high"] - small["low"]) / (large["high"] - large["low"])
    assert 3.2 < ratio < 5.0  # sqrt(16) = 4


@pytest.mark.parametrize("weighted", [False, True])
def test_delong_and_bootstrap_widths_agree(weighted: bool) -> None:
    y, s, w = binary_data(45, n=5000)
    w = w if weighted else None
    boot = auc_interval(y, s, sample_weight=w, n_boot=400)
    delong = auc_interval(y, s, sample_weight=w, max_bootstrap_events=y.size - 1)
    assert (boot["method"], delong["method"]) == ("bootstrap", "delong")
    assert boot["auc"] == delong["auc"]
    ratio = (boot["high"] - boot["low"]) / (delong["high"] - delong["low"])
    assert abs(ratio - 1.0) < 0.2, ratio


def test_zero_weight_events_are_ignored_by_interval() -> None:
    y, s, w = binary_data(46, n=400)
    w[::4] = 0.0
    keep = w != 0.0
    for max_events in (10_000, 0):
        full = auc_interval(y, s, sample_weight=w, max_bootstrap_events=max_events)
        kept = auc_interval(
            y[keep], s[keep], sample_weight=w[keep], max_bootstrap_events=max_events
        )
        assert full == pytest.approx(kept, abs=TOL)


def test_large_sample_timing_sanity() -> None:
    """Prints timings (run with -s to see them); no timed assertion."""
    for n in (100_000, 1_000_000):
        y, s, _ = binary_data(47, n=n)
        t0 = time.perf_counter()
        ci = auc_interval(y, s)
        t1 = time.perf_counter()
        wps = working_points(y, s, [0.5, 0.7, 0.9])
        t2 = time.perf_counter()
        print(
            f"\nn={n}: auc_interval {t1 - t0:.3f} s ({ci['method']}), working_points {t2 - t1:.3f} s"
        )
        assert ci["method"] == ("bootstrap" if n <= 200_000 else "delong")
        assert ci["low"] < ci["auc"] < ci["high"] and len(wps) == 3


# ----------------------------------------------------------------------------------------------
# Overtraining
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [60, 25000])  # exact and (> 10k per class) asymptotic p-values
def test_overtraining_equals_scipy_ks_2samp(n: int) -> None:
    y_tr, s_tr, _ = binary_data(51, n=n)
    y_te, s_te, _ = binary_data(52, n=n // 2)
    s_tr = np.where(y_tr == 1, s_tr**0.8, s_tr)  # train signal slightly shifted: overtrained
    with no_warnings():
        out = overtraining_test(s_tr, y_tr, s_te, y_te)
    assert list(out) == [
        "ks_pvalue_signal",
        "ks_statistic_signal",
        "ks_pvalue_background",
        "ks_statistic_background",
    ]
    for label, name in ((1, "signal"), (0, "background")):
        ref = stats.ks_2samp(s_tr[y_tr == label], s_te[y_te == label])
        assert out[f"ks_statistic_{name}"] == ref.statistic
        assert out[f"ks_pvalue_{name}"] == ref.pvalue
        assert type(out[f"ks_pvalue_{name}"]) is float
    if n == 25000:
        assert out["ks_pvalue_signal"] < 1e-3 < out["ks_pvalue_background"]


def test_overtraining_missing_class_gives_nan() -> None:
    s_tr, s_te = np.linspace(0, 1, 10), np.linspace(0.05, 0.95, 8)
    with pytest.warns(UndefinedMetricWarning, match="background") as record:
        out = overtraining_test(s_tr, np.ones(10), s_te, np.r_[np.ones(4), np.zeros(4)])
    assert record[0].filename == __file__
    assert math.isnan(out["ks_pvalue_background"]) and math.isnan(out["ks_statistic_background"])
    assert out["ks_statistic_signal"] == stats.ks_2samp(s_tr, s_te[:4]).statistic


# ----------------------------------------------------------------------------------------------
# Degenerate and malformed input
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_gives_nan_and_warning(label: int) -> None:
    y = np.full(20, label)
    s = np.linspace(0.0, 1.0, 20)

    with pytest.warns(UndefinedMetricWarning) as record:
        wps = working_points(y, s, [0.5, 0.9])
    assert len(record) == 1 and record[0].filename == __file__  # points at the caller
    for wp in wps:
        assert math.isnan(wp["rejection"]) and math.isnan(wp["background_efficiency"])
        if label == 0:  # no signal: nothing is defined
            assert math.isnan(wp["threshold"]) and math.isnan(wp["signal_efficiency"])
        else:  # no background: the signal side still is
            assert wp["signal_efficiency"] >= wp["signal_efficiency_target"]

    with pytest.warns(UndefinedMetricWarning) as record:
        rej = rejection_at(y, s, 0.5)
    assert math.isnan(rej) and record[0].filename == __file__

    with pytest.warns(UndefinedMetricWarning) as record:
        best = best_thresholds(y, s)
    assert record[0].filename == __file__
    assert math.isnan(best["youden_j"]) and math.isnan(best["youden_threshold"])
    assert math.isnan(best["max_f1"]) == (label == 0)

    for max_events in (1000, 0):
        with pytest.warns(UndefinedMetricWarning, match="one class") as record:
            ci = auc_interval(y, s, max_bootstrap_events=max_events)
        assert len(record) == 1 and record[0].filename == __file__
        assert all(math.isnan(ci[k]) for k in ("auc", "low", "high"))
        assert ci["method"] == ("bootstrap" if max_events else "delong")


def test_class_with_zero_total_weight_gives_nan() -> None:
    y, s = [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]
    w = [1.0, 2.0, 0.0, 0.0]
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(working_points(y, s, [0.5], sample_weight=w)[0]["rejection"])
    with pytest.warns(UndefinedMetricWarning):
        assert math.isnan(auc_interval(y, s, sample_weight=w)["low"])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: working_points(HAND_Y, HAND_S, [0.0]), r"\(0, 1\]"),
        (lambda: working_points(HAND_Y, HAND_S, [0.5, 1.2]), r"\(0, 1\]"),
        (lambda: working_points(HAND_Y, HAND_S, [-0.1]), r"\(0, 1\]"),
        (lambda: working_points(HAND_Y, HAND_S, [float("nan")]), r"\(0, 1\]"),
        (lambda: working_points(HAND_Y, HAND_S, []), "at least one"),
        (lambda: working_points(HAND_Y, HAND_S, ["high"]), "numbers"),
        (lambda: working_points(HAND_Y, HAND_S[:-1], [0.5]), "lengths must match"),
        (lambda: working_points([0, 2], [0.1, 0.2], [0.5]), "binary labels"),
        (lambda: rejection_at(HAND_Y, HAND_S, 1.5), r"\(0, 1\]"),
        (lambda: rejection_at(HAND_Y, HAND_S, [0.5, 0.7]), "single number"),
        (lambda: best_thresholds(HAND_Y, [np.nan] * 10), "NaN or infinite"),
        (lambda: auc_interval(HAND_Y, HAND_S, level=1.0), "level"),
        (lambda: auc_interval(HAND_Y, HAND_S, level=0.0), "level"),
        (lambda: auc_interval(HAND_Y, HAND_S, n_boot=1), "n_boot"),
        (lambda: overtraining_test([0.1, 0.2], [0, 3], [0.1], [1]), "train_labels"),
        (lambda: overtraining_test([0.1, 0.2], [0, 1], [0.1], [1, 0]), "test_scores"),
        (lambda: overtraining_test([0.1, np.inf], [0, 1], [0.1], [1]), "train_scores"),
    ],
)
def test_bad_input_raises(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_hep_imports_no_heavy_library() -> None:
    code = (
        "import sys, expctl.evaluation.hep\n"
        "heavy = {'tensorflow', 'keras', 'matplotlib', 'sklearn', 'scipy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_auc_in_bins_is_sklearns_auc_of_each_bin() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    energy = rng.uniform(0.0, 3.0, n)
    y = rng.integers(0, 2, n)
    # the classes separate less at high energy, as for boosted jets
    score = y * np.exp(-energy) + rng.normal(0.0, 0.3, n)
    edges = [0.0, 1.0, 2.0, 3.0]
    bins = auc_in_bins(y, score, energy, edges)
    assert [(b["low"], b["high"]) for b in bins] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    for b in bins:
        mask = (energy >= b["low"]) & (energy < b["high"])
        assert b["n"] == mask.sum() and b["n_signal"] == y[mask].sum()
        assert b["auc"] == pytest.approx(skm.roc_auc_score(y[mask], score[mask]), abs=1e-12)
        assert b["auc_low"] < b["auc"] < b["auc_high"]
    assert bins[0]["auc"] > bins[1]["auc"] > bins[2]["auc"]
    # the top edge belongs to the last bin; values outside the edges are left out
    top = auc_in_bins([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], [3.0, 3.0, 5.0, -1.0], [0.0, 3.0])
    assert top[0]["n"] == 2 and top[0]["auc"] == 1.0
    with pytest.raises(ValueError, match="increasing"):
        auc_in_bins(y, score, energy, [1.0, 1.0])
