"""Evaluation metrics: known answers, agreement with scikit-learn, identities and input checks."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from sklearn import metrics as skm

from expctl.evaluation import (
    UndefinedMetricWarning,
    binary_confusion,
    binary_metrics,
    log_loss,
    multiclass_metrics,
    regression_metrics,
    roc_auc,
    roc_curve,
)

TOL = 1e-12
BINARY_KEYS = [
    "loss",
    "accuracy",
    "auc",
    "precision",
    "recall",
    "sensitivity",
    "specificity",
    "f1",
    "brier",
    "n",
]


def binary_data(seed: int, n: int = 2000, decimals: int | None = None):
    """Labels, probabilities (optionally rounded: heavy ties) and positive weights."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    logit = rng.normal(size=n) + 1.2 * y
    p = 1.0 / (1.0 + np.exp(-logit))
    if decimals is not None:
        p = np.round(p, decimals)
    w = rng.uniform(0.1, 3.0, n)
    return y, p, w


def softmax_data(seed: int, n: int = 1500, k: int = 4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += 1.0
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    w = rng.uniform(0.1, 3.0, n)
    return y, p, w


@contextlib.contextmanager
def no_warnings() -> Iterator[None]:
    """Context in which any warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# ----------------------------------------------------------------------------------------------
# ROC curve and AUC
# ----------------------------------------------------------------------------------------------

ROC_CASES = {
    "continuous": dict(decimals=None, weighted=False),
    "ties": dict(decimals=1, weighted=False),
    "weighted": dict(decimals=None, weighted=True),
    "weighted-ties": dict(decimals=2, weighted=True),
}


@pytest.mark.parametrize("case", ROC_CASES)
def test_roc_curve_matches_sklearn(case: str) -> None:
    opts = ROC_CASES[case]
    y, s, w = binary_data(1, decimals=opts["decimals"])
    w = w if opts["weighted"] else None
    fpr, tpr, thr = roc_curve(y, s, sample_weight=w)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    assert fpr.shape == sk_fpr.shape
    if opts["decimals"] == 1:
        assert len(thr) <= 12  # 11 distinct rounded scores at most, + inf: ties collapsed
    np.testing.assert_array_equal(thr, sk_thr)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=TOL)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=TOL)
    assert thr[0] == np.inf and fpr[0] == 0 and tpr[0] == 0
    assert fpr[-1] == pytest.approx(1.0) and tpr[-1] == pytest.approx(1.0)
    assert np.all(np.diff(thr) < 0)


@pytest.mark.parametrize("case", ROC_CASES)
def test_roc_auc_matches_sklearn(case: str) -> None:
    opts = ROC_CASES[case]
    y, s, w = binary_data(2, decimals=opts["decimals"])
    w = w if opts["weighted"] else None
    with no_warnings():
        auc = roc_auc(y, s, sample_weight=w)
    assert type(auc) is float
    assert abs(auc - skm.roc_auc_score(y, s, sample_weight=w)) < TOL


def test_roc_curve_zero_weights_add_no_threshold() -> None:
    y, s, w = binary_data(3, n=500)
    w[::3] = 0.0
    fpr, tpr, thr = roc_curve(y, s, sample_weight=w)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_array_equal(thr, sk_thr)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=TOL)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=TOL)
    assert len(thr) == 1 + np.count_nonzero(w)  # distinct continuous scores of weighted events


def test_roc_curve_known_answer_with_ties() -> None:
    # Scores in decreasing order: 0.9 (pos) | 0.5 (pos), 0.5 (neg) tied | 0.1 (neg).
    y = [0, 1, 1, 0]
    s = [0.5, 0.5, 0.9, 0.1]
    fpr, tpr, thr = roc_curve(y, s)
    np.testing.assert_array_equal(thr, [np.inf, 0.9, 0.5, 0.1])
    np.testing.assert_array_equal(fpr, [0.0, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 0.5, 1.0, 1.0])
    # Pairs (pos, neg): (.9,.5) 1, (.9,.1) 1, (.5,.5) tie 1/2, (.5,.1) 1 -> 3.5 / 4.
    assert roc_auc(y, s) == 0.875
    # Bools and a Keras-style (n, 1) column give the same curve.
    fpr2, tpr2, thr2 = roc_curve(np.array(y, dtype=bool), np.array(s)[:, None])
    np.testing.assert_array_equal(fpr2, fpr)
    np.testing.assert_array_equal(tpr2, tpr)
    np.testing.assert_array_equal(thr2, thr)


def test_roc_curve_million_events_matches_sklearn() -> None:
    rng = np.random.default_rng(4)
    n = 1_000_000
    y = rng.integers(0, 2, n)
    s = (rng.normal(size=n) + y).astype(np.float32)  # float32: many exact ties
    fpr, tpr, thr = roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_array_equal(thr, sk_thr)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=TOL)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=TOL)


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_gives_nan_and_warning(label: int) -> None:
    y = np.full(20, label)
    s = np.linspace(0.0, 1.0, 20)
    with pytest.warns(UndefinedMetricWarning, match="one class") as record:
        auc = roc_auc(y, s)
    assert len(record) == 1 and record[0].filename == __file__  # points at the caller
    assert type(auc) is float and math.isnan(auc)

    with pytest.warns(UndefinedMetricWarning):
        fpr, tpr, _ = roc_curve(y, s)
    undefined, defined = (fpr, tpr) if label == 1 else (tpr, fpr)
    assert np.isnan(undefined).all()
    assert not np.isnan(defined).any() and defined[-1] == 1.0

    with pytest.warns(UndefinedMetricWarning):
        m = binary_metrics(y, s)
    assert math.isnan(m["auc"])
    assert not math.isnan(m["loss"]) and not math.isnan(m["accuracy"])


def test_class_with_zero_total_weight_gives_nan() -> None:
    y = [0, 0, 1, 1]
    s = [0.1, 0.4, 0.35, 0.8]
    with pytest.warns(UndefinedMetricWarning):
        auc = roc_auc(y, s, sample_weight=[1.0, 2.0, 0.0, 0.0])
    assert math.isnan(auc)


# ----------------------------------------------------------------------------------------------
# AUC identities
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_auc_of_reversed_score_is_one_minus_auc(weighted: bool) -> None:
    y, s, w = binary_data(5, decimals=2)  # with ties, which must count one half both ways
    w = w if weighted else None
    auc = roc_auc(y, s, sample_weight=w)
    assert 0.6 < auc < 0.9
    assert roc_auc(y, 1.0 - s, sample_weight=w) == pytest.approx(1.0 - auc, abs=TOL)


def test_auc_invariant_under_increasing_transform() -> None:
    y, s, w = binary_data(6, decimals=3)
    logit = np.log(s + 0.01) - np.log(1.01 - s)  # strictly increasing on [0, 1]
    cubic = 5.0 * s**3 + s - 7.0
    for sw in (None, w):
        auc = roc_auc(y, s, sample_weight=sw)
        assert roc_auc(y, logit, sample_weight=sw) == pytest.approx(auc, abs=TOL)
        assert roc_auc(y, cubic, sample_weight=sw) == pytest.approx(auc, abs=TOL)


def test_integer_weights_equal_repeated_events() -> None:
    rng = np.random.default_rng(7)
    y, s, _ = binary_data(7, n=800, decimals=2)
    counts = rng.integers(1, 5, y.size)
    weighted = roc_auc(y, s, sample_weight=counts)
    repeated = roc_auc(np.repeat(y, counts), np.repeat(s, counts))
    assert weighted == pytest.approx(repeated, abs=TOL)
    assert weighted != pytest.approx(roc_auc(y, s), abs=1e-6)  # the weights do matter here

    fpr_w, tpr_w, thr_w = roc_curve(y, s, sample_weight=counts)
    fpr_r, tpr_r, thr_r = roc_curve(np.repeat(y, counts), np.repeat(s, counts))
    np.testing.assert_array_equal(thr_w, thr_r)
    np.testing.assert_allclose(fpr_w, fpr_r, rtol=0, atol=TOL)
    np.testing.assert_allclose(tpr_w, tpr_r, rtol=0, atol=TOL)

    m_w = binary_metrics(y, s, sample_weight=counts)
    m_r = binary_metrics(np.repeat(y, counts), np.repeat(s, counts))
    for key in BINARY_KEYS:
        if key != "n":
            assert m_w[key] == pytest.approx(m_r[key], abs=TOL), key
    assert m_w["n"] == y.size and m_r["n"] == counts.sum()


# ----------------------------------------------------------------------------------------------
# Binary metrics
# ----------------------------------------------------------------------------------------------

HAND_Y = [1, 1, 1, 0, 0, 0, 1, 1]
HAND_P = [0.9, 0.6, 0.4, 0.2, 0.7, 0.5, 0.1, 0.8]
HAND_W = [2.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0]
# At threshold 0.5 (positive iff p > 0.5), event by event:
#   0: y=1 p=.9 TP | 1: y=1 p=.6 TP | 2: y=1 p=.4 FN | 3: y=0 p=.2 TN
#   4: y=0 p=.7 FP | 5: y=0 p=.5 TN (equal to threshold: negative) | 6: y=1 p=.1 FN | 7: y=1 p=.8 TP
# -> TP=3, FP=1, TN=2, FN=2.
# Weighted: TP = 2+1+1 = 4, FP = 3, TN = 1+1 = 2, FN = 1+1 = 2.
# AUC: positives {.9,.6,.4,.1,.8} beat negatives {.2,.7,.5} in 3+2+1+0+3 = 9 of 15 pairs.


def test_binary_confusion_by_hand() -> None:
    assert binary_confusion(HAND_Y, HAND_P) == {"tp": 3.0, "fp": 1.0, "tn": 2.0, "fn": 2.0}
    assert binary_confusion(HAND_Y, HAND_P, sample_weight=HAND_W) == {
        "tp": 4.0,
        "fp": 3.0,
        "tn": 2.0,
        "fn": 2.0,
    }
    assert all(type(v) is float for v in binary_confusion(HAND_Y, HAND_P).values())


def test_binary_metrics_by_hand() -> None:
    with no_warnings():
        m = binary_metrics(HAND_Y, HAND_P)
    assert list(m) == BINARY_KEYS
    assert all(type(v) is float for v in m.values())
    p_true = [0.9, 0.6, 0.4, 0.8, 0.3, 0.5, 0.1, 0.8]  # probability given to the true class
    assert m["loss"] == pytest.approx(-sum(math.log(q) for q in p_true) / 8, abs=TOL)
    assert m["accuracy"] == 5 / 8
    assert m["auc"] == pytest.approx(9 / 15, abs=TOL)
    assert m["precision"] == 3 / 4
    assert m["recall"] == m["sensitivity"] == 3 / 5
    assert m["specificity"] == 2 / 3
    assert m["f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 2), abs=TOL)
    # squared errors .01 .16 .36 .04 .49 .25 .81 .04 -> 2.16 / 8
    assert m["brier"] == pytest.approx(0.27, abs=TOL)
    assert m["n"] == 8.0
    json.dumps(m)  # plain floats serialise


def test_threshold_edge_is_strictly_greater() -> None:
    y = [1, 0, 1, 0]
    s = [0.5, 0.5, 0.7, 0.2]
    # 0.5 is not > 0.5: both events at the threshold are predicted negative.
    assert binary_confusion(y, s) == {"tp": 1.0, "fp": 0.0, "tn": 2.0, "fn": 1.0}
    assert binary_confusion(y, s, threshold=0.49) == {"tp": 2.0, "fp": 1.0, "tn": 1.0, "fn": 0.0}
    assert binary_confusion(y, s, threshold=0.7) == {"tp": 0.0, "fp": 0.0, "tn": 2.0, "fn": 2.0}
    assert binary_metrics(y, s)["accuracy"] == 0.75
    with pytest.warns(UndefinedMetricWarning, match="precision"):
        assert binary_metrics(y, s, threshold=0.7)["accuracy"] == 0.5


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_metrics_match_sklearn(weighted: bool, threshold: float) -> None:
    y, p, w = binary_data(8, decimals=2)  # rounding puts events exactly on the thresholds
    assert np.any(p == threshold)
    w = w if weighted else None
    with no_warnings():
        m = binary_metrics(y, p, threshold=threshold, sample_weight=w)
    pred = (p > threshold).astype(int)
    expected = {
        "loss": skm.log_loss(y, p, sample_weight=w, labels=[0, 1]),
        "accuracy": skm.accuracy_score(y, pred, sample_weight=w),
        "auc": skm.roc_auc_score(y, p, sample_weight=w),
        "precision": skm.precision_score(y, pred, sample_weight=w),
        "recall": skm.recall_score(y, pred, sample_weight=w),
        "specificity": skm.recall_score(y, pred, pos_label=0, sample_weight=w),
        "f1": skm.f1_score(y, pred, sample_weight=w),
        "brier": skm.brier_score_loss(y, p, sample_weight=w),
    }
    for key, value in expected.items():
        assert abs(m[key] - value) < TOL, key
    assert m["sensitivity"] == m["recall"]
    assert m["n"] == float(y.size)


def test_zero_division_gives_nan_and_warning() -> None:
    y = [1, 1, 0, 0]
    p = [0.1, 0.2, 0.3, 0.4]  # nothing predicted positive
    with pytest.warns(UndefinedMetricWarning, match="precision"):
        m = binary_metrics(y, p)
    assert math.isnan(m["precision"])
    assert m["recall"] == 0.0 and m["f1"] == 0.0  # as sklearn: 2TP/(2TP+FP+FN) = 0/2
    assert m["f1"] == skm.f1_score(y, [0, 0, 0, 0], zero_division=np.nan)

    with pytest.warns(UndefinedMetricWarning) as record:
        m = binary_metrics([0, 0, 0], [0.1, 0.2, 0.3])  # no positives, no positive predictions
    messages = " ".join(str(r.message) for r in record)
    assert "recall" in messages and "f1" in messages and "AUC" in messages
    for key in ("precision", "recall", "sensitivity", "f1", "auc"):
        assert math.isnan(m[key]), key
    assert m["specificity"] == 1.0 and m["accuracy"] == 1.0


def test_binary_loss_clips_like_sklearn() -> None:
    y = np.array([1, 0, 1, 0, 1])
    p = np.array([0.0, 1.0, 1.0, 0.0, 0.3])  # two certain mistakes: clipped, finite
    with no_warnings():
        ours = log_loss(y, p)
    assert math.isfinite(ours) and ours > 10
    assert abs(ours - skm.log_loss(y, p)) < TOL
    assert abs(binary_metrics(y, p)["loss"] - ours) < TOL


@pytest.mark.parametrize("weighted", [False, True])
def test_log_loss_matches_sklearn(weighted: bool) -> None:
    y, p, w = binary_data(9)
    w = w if weighted else None
    assert abs(log_loss(y, p, sample_weight=w) - skm.log_loss(y, p, sample_weight=w)) < TOL
    assert log_loss(y, p[:, None], sample_weight=w) == log_loss(y, p, sample_weight=w)
    yk, pk, wk = softmax_data(9)
    wk = wk if weighted else None
    assert abs(log_loss(yk, pk, sample_weight=wk) - skm.log_loss(yk, pk, sample_weight=wk)) < TOL


# ----------------------------------------------------------------------------------------------
# Multiclass
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_matches_sklearn(weighted: bool) -> None:
    y, p, w = softmax_data(10)
    w = w if weighted else None
    with no_warnings():
        m = multiclass_metrics(y, p, sample_weight=w)
    assert set(m) == {"loss", "accuracy", "auc", "confusion_matrix", "n"}
    pred = p.argmax(axis=1)
    assert abs(m["loss"] - skm.log_loss(y, p, sample_weight=w)) < TOL
    assert abs(m["accuracy"] - skm.accuracy_score(y, pred, sample_weight=w)) < TOL
    sk_auc = skm.roc_auc_score(y, p, multi_class="ovr", average="macro", sample_weight=w)
    assert abs(m["auc"] - sk_auc) < TOL
    sk_cm = skm.confusion_matrix(y, pred, labels=range(4), sample_weight=w)
    np.testing.assert_allclose(np.array(m["confusion_matrix"]), sk_cm, rtol=0, atol=TOL)
    assert m["n"] == float(y.size)
    cell_type = float if weighted else int
    assert all(type(c) is cell_type for row in m["confusion_matrix"] for c in row)
    assert all(type(m[k]) is float for k in ("loss", "accuracy", "auc", "n"))
    json.dumps(m)


def test_multiclass_by_hand() -> None:
    y = [0, 1, 2, 2]
    p = [
        [0.7, 0.2, 0.1],  # true 0, predicted 0
        [0.5, 0.3, 0.2],  # true 1, predicted 0
        [0.1, 0.1, 0.8],  # true 2, predicted 2
        [0.2, 0.6, 0.2],  # true 2, predicted 1
    ]
    m = multiclass_metrics(y, p)
    assert m["confusion_matrix"] == [[1, 0, 0], [1, 0, 0], [0, 1, 1]]
    assert m["accuracy"] == 0.5
    assert m["loss"] == pytest.approx(
        -(math.log(0.7) + math.log(0.3) + math.log(0.8) + math.log(0.2)) / 4
    )
    # One-vs-rest AUCs: class 0: 1 vs 0.5, 0.1, 0.2 -> 1; class 1: .3 vs .2,.1,.6 -> 2/3;
    # class 2: {.8, .2} vs {.1, .2}: (.8>.1, .8>.2, .2>.1, .2=.2 half) -> 3.5/4.
    assert m["auc"] == pytest.approx((1 + 2 / 3 + 3.5 / 4) / 3, abs=TOL)


def test_multiclass_absent_class_is_skipped_with_warning() -> None:
    y, p, _ = softmax_data(11, k=4)
    keep = y != 3
    y, p = y[keep], p[keep]
    with pytest.warns(UndefinedMetricWarning, match=r"\[3\]"):
        m = multiclass_metrics(y, p)
    expected = np.mean([skm.roc_auc_score(y == c, p[:, c]) for c in range(3)])
    assert abs(m["auc"] - expected) < TOL
    assert m["confusion_matrix"][3] == [0, 0, 0, 0]
    assert abs(m["loss"] - skm.log_loss(y, p, labels=range(4))) < TOL


def test_multiclass_one_class_gives_nan_auc() -> None:
    p = np.full((5, 3), 1 / 3)
    with pytest.warns(UndefinedMetricWarning, match="only 1 class"):
        m = multiclass_metrics([2, 2, 2, 2, 2], p)
    assert math.isnan(m["auc"])
    assert m["loss"] == pytest.approx(math.log(3))
    assert m["accuracy"] == 0.0  # argmax ties go to class 0


# ----------------------------------------------------------------------------------------------
# Regression
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("outputs", [None, 3])
def test_regression_matches_sklearn(weighted: bool, outputs: int | None) -> None:
    rng = np.random.default_rng(12)
    shape = (500,) if outputs is None else (500, outputs)
    y = rng.normal(2.0, 3.0, shape)
    pred = y + rng.normal(0.5, 1.0, shape)
    w = rng.uniform(0.1, 3.0, 500) if weighted else None
    with no_warnings():
        m = regression_metrics(y, pred, sample_weight=w)
    assert list(m) == ["loss", "mse", "rmse", "mae", "r2"]
    assert all(type(v) is float for v in m.values())
    expected = {
        "mse": skm.mean_squared_error(y, pred, sample_weight=w),
        "rmse": skm.root_mean_squared_error(y, pred, sample_weight=w),
        "mae": skm.mean_absolute_error(y, pred, sample_weight=w),
        "r2": skm.r2_score(y, pred, sample_weight=w),
    }
    for key, value in expected.items():
        assert abs(m[key] - value) < TOL, key
    assert m["loss"] == m["mse"]
    if outputs is None:
        assert m["rmse"] == pytest.approx(math.sqrt(m["mse"]), abs=TOL)


def test_regression_by_hand_and_column_shapes() -> None:
    y = [1.0, 2.0, 3.0, 4.0]
    pred = [[1.5], [2.0], [2.0], [5.0]]  # Keras-style (n, 1): must not broadcast to (4, 4)
    m = regression_metrics(y, pred)
    # errors -0.5, 0, 1, -1: mse = 2.25/4, mae = 2.5/4; SS_tot = 2.25+.25+.25+2.25 = 5
    assert m["mse"] == 0.5625 and m["mae"] == 0.625 and m["rmse"] == 0.75
    assert m["r2"] == pytest.approx(1 - 2.25 / 5, abs=TOL)


def test_regression_undefined_r2() -> None:
    with pytest.warns(UndefinedMetricWarning, match="constant"):
        m = regression_metrics([2.0, 2.0, 2.0], [1.0, 2.0, 3.0])
    assert math.isnan(m["r2"]) and m["mse"] == pytest.approx(2 / 3)
    with pytest.warns(UndefinedMetricWarning, match="two events"):
        m = regression_metrics([2.0], [1.0])
    assert math.isnan(m["r2"]) and m["mse"] == 1.0


# ----------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: roc_curve([0, 1, 1], [0.1, 0.2]), "lengths must match"),
        (lambda: roc_auc([0, 1], [0.1, np.nan]), "NaN or infinite"),
        (lambda: roc_auc([0, 1], [0.1, np.inf]), "NaN or infinite"),
        (lambda: roc_auc([0, 2], [0.1, 0.2]), "binary labels"),
        (lambda: roc_auc([-1, 1], [0.1, 0.2]), "binary labels"),
        (lambda: roc_auc([0.5, 1], [0.1, 0.2]), "binary labels"),
        (lambda: roc_auc([0, np.nan], [0.1, 0.2]), "binary labels"),
        (lambda: roc_auc([0, 1], [0.1, 0.2], sample_weight=[1.0]), "sample_weight has 1"),
        (lambda: roc_auc([0, 1], [0.1, 0.2], sample_weight=[1.0, np.nan]), "sample_weight"),
        (lambda: roc_auc([], []), "empty"),
        (lambda: roc_auc(["a", "b"], [0.1, 0.2]), "numeric"),
        (lambda: roc_auc([0, 1], [[0.1, 0.2], [0.3, 0.4]]), "1-D"),
        (lambda: binary_confusion([0, 1], [0.1, 0.2], threshold=float("nan")), "threshold"),
        (lambda: binary_metrics([0, 1], [-0.1, 0.2]), r"\[0, 1\]"),
        (lambda: binary_metrics([0, 1], [0.1, 1.5]), r"\[0, 1\]"),
        (lambda: log_loss([0, 1], [0.1, 3.0]), r"\[0, 1\]"),
        (lambda: multiclass_metrics([0, 3], [[0.5, 0.5, 0.0]] * 2), "0..2"),
        (lambda: multiclass_metrics([0, 1.5], [[0.5, 0.5]] * 2), "integer class labels"),
        (lambda: multiclass_metrics([0, 1], [[0.5, 0.6]] * 2), "sum to 1"),
        (lambda: multiclass_metrics([0, 1], [[2.0, -1.0]] * 2), r"\[0, 1\]"),
        (lambda: multiclass_metrics([0, 1, 1], [[0.5, 0.5]] * 2), "lengths must match"),
        (lambda: multiclass_metrics(np.eye(3), np.eye(3)), "argmax"),
        (lambda: multiclass_metrics([0, 1], [0.5, 0.5]), "n_classes"),
        (lambda: regression_metrics([1.0, 2.0], [1.0, np.nan]), "NaN or infinite"),
        (lambda: regression_metrics([1.0, 2.0], [1.0, 2.0, 3.0]), "lengths must match"),
        (lambda: regression_metrics(np.ones((4, 2)), np.ones(4)), "shape"),
    ],
)
def test_bad_input_raises(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()


def test_evaluation_imports_no_heavy_library() -> None:
    code = (
        "import sys, expctl.evaluation\n"
        "heavy = {'tensorflow', 'keras', 'matplotlib', 'sklearn'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
