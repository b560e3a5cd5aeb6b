"""Evaluation metrics for binary, multiclass and regression models: pure numpy functions of arrays.

Every function takes plain arrays (numpy, lists, pandas columns, Keras ``predict`` output) and
returns plain Python floats (``float('nan')`` included), so results serialise to JSON as they are.
Conventions, after scikit-learn's ``sklearn.metrics``:

* ``sample_weight`` is an optional per-event weight; every metric is then the exactly weighted
  formula (weighted counts, weighted means). Weights must be finite; negative weights (NLO event
  weights in HEP) are accepted and enter the sums as they are.
* A metric that is undefined for the input (one class only, a zero denominator, zero total weight)
  emits an `UndefinedMetricWarning` and is NaN; it never raises.
* Malformed input (mismatched lengths, NaN or infinite values, labels outside the expected set,
  probabilities outside [0, 1]) raises ``ValueError`` with a message naming the argument.
* A single column of shape ``(n, 1)``, as Keras returns for a sigmoid output, is accepted wherever
  a 1-D array of length ``n`` is expected.

Only numpy is imported: no TensorFlow, Keras, matplotlib or scikit-learn.
"""

from __future__ import annotations

import math
import sys
import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from expctl.evaluation import checks
from expctl.evaluation.checks import FloatArray

__all__ = [
    "UndefinedMetricWarning",
    "binary_confusion",
    "binary_metrics",
    "log_loss",
    "multiclass_metrics",
    "regression_metrics",
    "roc_auc",
    "roc_curve",
]

#: Probabilities are clipped to [EPS, 1 - EPS] before taking logs (as sklearn does for float64).
EPS = float(np.finfo(np.float64).eps)
_NAN = float("nan")


class UndefinedMetricWarning(UserWarning):
    """A metric is undefined for the given input (e.g. only one class present); it is NaN."""


# --------------------------------------------------------------------------------------------
# Warnings (input validation lives in expctl.evaluation.checks)
# --------------------------------------------------------------------------------------------


def _warn(message: str) -> None:
    """Emit an `UndefinedMetricWarning` attributed to the first caller outside this module."""
    frame = sys._getframe(1)
    level = 2  # stacklevel of the frame that called _warn
    while frame.f_back is not None and frame.f_globals.get("__name__") == __name__:
        frame = frame.f_back
        level += 1
    warnings.warn(message, UndefinedMetricWarning, stacklevel=level)


# --------------------------------------------------------------------------------------------
# Weighted reductions
# --------------------------------------------------------------------------------------------


def _mean(values: FloatArray, w: FloatArray | None, what: str) -> float:
    """(Weighted) mean over events of ``values`` (1-D); NaN with a warning if total weight is 0."""
    if w is None:
        return float(np.mean(values))
    total = float(w.sum())
    if total == 0.0:
        _warn(f"{what} is undefined: the sample weights sum to 0")
        return _NAN
    return float(np.dot(w, values) / total)


def _divide(num: float, den: float, what: str) -> float:
    """``num / den`` as a float; NaN with a warning (``what`` says why) when ``den`` is 0."""
    if den == 0.0:
        _warn(f"{what}; returning NaN")
        return _NAN
    return float(num / den)


# --------------------------------------------------------------------------------------------
# ROC
# --------------------------------------------------------------------------------------------


def roc_counts(
    y: FloatArray, s: FloatArray, w: FloatArray | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Cumulative (weighted) false and true positives at each distinct score, with (0, 0) first.

    Returns ``fps, tps, thresholds``; ``thresholds`` decreases from +inf, and point ``i`` counts
    the events with ``score >= thresholds[i]``. Events of zero weight are dropped (as in sklearn)
    so that they add no threshold. The arrays must come from `checks.binary_inputs` (nothing is
    checked here); the curves of `roc_curve` and of the `hep` figures of merit are built on it.
    """
    if w is not None:
        keep = w != 0.0
        if not keep.all():
            y, s, w = y[keep], s[keep], w[keep]
    # Descending score. Not a stable sort: tied events collapse into one point below, whose
    # counts do not depend on their order, and numpy's default (SIMD) sort is 4x faster on 1M.
    order = np.argsort(-s)
    s = s[order]
    y = y[order]
    # Last index of each run of equal scores: ties collapse into one point of the curve.
    last = np.flatnonzero(np.diff(s))
    last = np.append(last, s.size - 1) if s.size else last
    if w is None:
        tps = np.cumsum(y)[last]
        fps = (last + 1.0) - tps
    else:
        w = w[order]
        tps = np.cumsum(y * w)[last]
        # fps as its own cumulative sum keeps it monotone despite rounding.
        fps = np.cumsum((1.0 - y) * w)[last]
    zero = np.zeros(1)
    thresholds = np.concatenate([[np.inf], s[last]])
    return np.concatenate([zero, fps]), np.concatenate([zero, tps]), thresholds


def checked_auc(y: FloatArray, s: FloatArray, w: FloatArray | None) -> float:
    """Area under the ROC curve of inputs from `checks.binary_inputs`; NaN if a class is missing.

    The NaN comes with an `UndefinedMetricWarning` attributed to the first caller outside this
    module. Used by `roc_auc`, `binary_metrics` and `hep.auc_interval`, which check first.
    """
    fps, tps, _ = roc_counts(y, s, w)
    if fps[-1] <= 0.0 or tps[-1] <= 0.0:
        missing = "negative (0)" if fps[-1] <= 0.0 else "positive (1)"
        _warn(
            f"ROC AUC is undefined: y_true has no {missing} events with positive total weight "
            "(only one class present); returning NaN"
        )
        return _NAN
    fpr = fps / fps[-1]
    tpr = tps / tps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)


def roc_curve(
    y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Receiver operating characteristic: false and true positive rates at every distinct score.

    Same output as ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``: ``fpr, tpr,
    thresholds`` (float64 arrays of equal length), thresholds strictly decreasing, the first
    being +inf with the point (0, 0); point ``i`` classifies ``score >= thresholds[i]`` as
    positive. Events with equal scores collapse into one point, and events of zero weight are
    ignored. ``y_true`` holds 0/1 labels (bools accepted); in HEP terms ``tpr`` is the signal
    efficiency and ``fpr`` the background efficiency (mistag rate).

    If a class is missing (total weight <= 0) its rate is undefined: that array is all NaN and an
    `UndefinedMetricWarning` is emitted. Runs in O(n log n) (one sort).
    """
    y, s, w = checks.binary_inputs(y_true, y_score, sample_weight)
    fps, tps, thresholds = roc_counts(y, s, w)
    if fps[-1] <= 0.0:
        _warn("No negative (0) events in y_true: the false positive rate is undefined (NaN)")
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / fps[-1]
    if tps[-1] <= 0.0:
        _warn("No positive (1) events in y_true: the true positive rate is undefined (NaN)")
        tpr = np.full(tps.shape, np.nan)
    else:
        tpr = tps / tps[-1]
    return fpr, tpr, thresholds


def roc_auc(y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Area under the ROC curve (trapezoidal rule on `roc_curve`), as sklearn's ``roc_auc_score``.

    Equals the (weighted) probability that a random positive event scores higher than a random
    negative one, ties counting one half. Depends only on the ranking of the scores, so any
    strictly increasing transform of ``y_score`` leaves it unchanged. NaN with an
    `UndefinedMetricWarning` when ``y_true`` holds only one class.
    """
    y, s, w = checks.binary_inputs(y_true, y_score, sample_weight)
    return checked_auc(y, s, w)


# --------------------------------------------------------------------------------------------
# Binary classification
# --------------------------------------------------------------------------------------------


def _confusion(
    y: FloatArray, s: FloatArray, threshold: float, w: FloatArray | None
) -> dict[str, float]:
    """(Weighted) confusion counts of validated inputs; predicted positive iff ``s > threshold``."""
    codes = 2 * (y == 1.0).astype(np.intp) + (s > threshold).astype(np.intp)
    tn, fp, fn, tp = np.bincount(codes, weights=w, minlength=4).tolist()
    return {"tp": float(tp), "fp": float(fp), "tn": float(tn), "fn": float(fn)}


def _threshold(threshold: float) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number, got {threshold!r}") from None
    if math.isnan(t):
        raise ValueError("threshold must be a number, got NaN")
    return t


def binary_confusion(
    y_true: ArrayLike,
    y_score: ArrayLike,
    threshold: float = 0.5,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """Confusion counts ``{"tp", "fp", "tn", "fn"}`` at a fixed threshold, as floats.

    An event is predicted positive iff ``y_score > threshold`` (strictly greater, like Keras'
    ``BinaryAccuracy``): a score exactly equal to the threshold counts as negative. Note that
    `roc_curve` uses ``>=`` at its thresholds, as sklearn does. With ``sample_weight`` the counts
    are sums of weights.
    """
    y, s, w = checks.binary_inputs(y_true, y_score, sample_weight)
    return _confusion(y, s, _threshold(threshold), w)


def _binary_log_losses(y: FloatArray, p: FloatArray) -> FloatArray:
    """Per-event binary cross-entropy; ``p`` and ``1 - p`` clipped to [EPS, 1 - EPS] as sklearn."""
    p_pos = np.clip(p, EPS, 1.0 - EPS)
    p_neg = np.clip(1.0 - p, EPS, 1.0 - EPS)
    return -np.where(y == 1.0, np.log(p_pos), np.log(p_neg))


def binary_metrics(
    y_true: ArrayLike,
    y_score: ArrayLike,
    threshold: float = 0.5,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """All binary-classification metrics of probabilities ``y_score`` (of class 1) in one dict.

    Keys: ``loss`` (binary cross-entropy, natural log, weighted mean over events; probabilities
    clipped as in `log_loss`), ``accuracy``, ``auc`` (threshold-free, `roc_auc`), ``precision``,
    ``recall``, ``sensitivity`` (== recall; the signal efficiency), ``specificity``
    (TN / (TN + FP); one minus the background efficiency), ``f1`` (2TP / (2TP + FP + FN)),
    ``brier`` (mean squared error of the probability) and ``n`` (number of events, unweighted,
    as a float). Threshold metrics predict positive iff ``y_score > threshold``, as in
    `binary_confusion`. A zero denominator gives NaN with an `UndefinedMetricWarning` (like
    sklearn's ``zero_division=np.nan``). ``y_score`` must lie in [0, 1]; for raw scores or logits
    use `roc_auc` and `binary_confusion` instead.
    """
    y, p, w = checks.binary_inputs(y_true, y_score, sample_weight)
    checks.check_probabilities(p, "y_score")
    c = _confusion(y, p, _threshold(threshold), w)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    recall = _divide(tp, tp + fn, "recall (sensitivity) is undefined with no positive events")
    return {
        "loss": _mean(_binary_log_losses(y, p), w, "loss"),
        "accuracy": _divide(
            tp + tn, tp + fp + tn + fn, "accuracy is undefined: the sample weights sum to 0"
        ),
        "auc": checked_auc(y, p, w),
        "precision": _divide(
            tp, tp + fp, "precision is undefined with no event predicted positive"
        ),
        "recall": recall,
        "sensitivity": recall,
        "specificity": _divide(tn, tn + fp, "specificity is undefined with no negative events"),
        "f1": _divide(
            2.0 * tp,
            2.0 * tp + fp + fn,
            "f1 is undefined with no positive events and no positive predictions",
        ),
        "brier": _mean((p - y) ** 2, w, "brier"),
        "n": float(y.shape[0]),
    }


# --------------------------------------------------------------------------------------------
# Multiclass classification
# --------------------------------------------------------------------------------------------


def _categorical_log_losses(y: NDArray[np.intp], p: FloatArray) -> FloatArray:
    """Per-event categorical cross-entropy: -log of the clipped probability of the true class."""
    p_true = p[np.arange(y.shape[0]), y]
    return -np.log(np.clip(p_true, EPS, 1.0 - EPS))


def multiclass_metrics(
    y_true: ArrayLike, proba: ArrayLike, sample_weight: ArrayLike | None = None
) -> dict[str, Any]:
    """Metrics of class probabilities ``proba`` (n, K) for integer labels ``y_true`` in 0..K-1.

    Keys: ``loss`` (categorical cross-entropy, natural log, weighted mean), ``accuracy`` (of the
    argmax; ties go to the lowest class), ``auc`` (macro average of the one-vs-rest AUCs),
    ``confusion_matrix`` (K x K list of lists, rows = true class, columns = predicted class; ints
    without weights, floats with weights) and ``n`` (number of events, as a float).

    The number of classes K is the number of columns of ``proba``; rows must sum to 1 within
    `checks.PROBA_SUM_ATOL`. The AUC averages over the classes present in ``y_true`` (with nonzero
    weight): it equals ``sklearn.metrics.roc_auc_score(multi_class="ovr", average="macro")`` when
    all classes are present; absent classes are skipped with an `UndefinedMetricWarning`, and
    fewer than two present classes give NaN. For one-hot labels pass ``argmax(axis=1)``.
    """
    y, p, w = checks.multiclass_inputs(y_true, proba, sample_weight)
    n, k = p.shape
    pred = np.argmax(p, axis=1)
    counts = np.bincount(y * k + pred, weights=w, minlength=k * k).reshape(k, k)
    if w is None:
        confusion = counts.astype(np.int64).tolist()
    else:
        confusion = counts.astype(np.float64).tolist()

    present_mask = np.zeros(k, dtype=bool)
    present_mask[np.unique(y if w is None else y[w != 0.0])] = True
    present = np.flatnonzero(present_mask)
    if present.size < 2:
        _warn(
            f"multiclass ROC AUC is undefined: only {present.size} class(es) present in y_true; "
            "returning NaN"
        )
        auc = _NAN
    else:
        if present.size < k:
            absent = np.flatnonzero(~present_mask).tolist()
            _warn(
                f"classes {absent} are absent from y_true: their one-vs-rest AUC is undefined and "
                f"the macro AUC averages over the {present.size} present classes only"
            )
        aucs = [checked_auc((y == c).astype(np.float64), p[:, c], w) for c in present]
        auc = float(np.mean(aucs))

    return {
        "loss": _mean(_categorical_log_losses(y, p), w, "loss"),
        "accuracy": _mean((pred == y).astype(np.float64), w, "accuracy"),
        "auc": auc,
        "confusion_matrix": confusion,
        "n": float(n),
    }


def log_loss(y_true: ArrayLike, proba: ArrayLike, sample_weight: ArrayLike | None = None) -> float:
    """Cross-entropy (natural log), weighted mean over events, as ``sklearn.metrics.log_loss``.

    Binary when ``proba`` is 1-D or a single column (probability of class 1; ``y_true`` in
    {0, 1}); multiclass when ``proba`` is (n, K) with K >= 2 (``y_true`` integers 0..K-1, rows
    summing to 1). Probabilities are cast to float64 and clipped to [EPS, 1 - EPS] with
    ``EPS = np.finfo(np.float64).eps``, so the result agrees with sklearn on float64 input (sklearn
    uses float32's eps for float32 input). Unlike sklearn, a one-class ``y_true`` needs no
    ``labels`` argument: the classes are fixed by the shape of ``proba``.
    """
    p_arr = np.asarray(proba)
    if p_arr.ndim == 1 or (p_arr.ndim == 2 and p_arr.shape[1] == 1):
        y, p, w = checks.binary_inputs(y_true, p_arr, sample_weight)
        checks.check_probabilities(p, "proba")
        return _mean(_binary_log_losses(y, p), w, "log loss")
    yc, pc, w = checks.multiclass_inputs(y_true, p_arr, sample_weight)
    return _mean(_categorical_log_losses(yc, pc), w, "log loss")


# --------------------------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------------------------


def _as_outputs(x: ArrayLike, name: str) -> FloatArray:
    arr = checks.numeric(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, n_outputs), got {arr.shape}")
    return checks.finite_float(arr, name)


def regression_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """Regression metrics ``{"loss", "mse", "rmse", "mae", "r2"}``; ``loss`` is the mse.

    Accepts ``(n,)`` or ``(n, n_outputs)`` arrays; ``(n,)`` and ``(n, 1)`` are interchangeable
    (no broadcasting to (n, n)). With several outputs each metric is computed per output and
    averaged, as sklearn's ``multioutput="uniform_average"`` (so ``rmse`` is the mean of the
    per-output RMSEs). ``r2`` is 1 - SS_res / SS_tot with the weighted mean of ``y_true``; where
    it is undefined (fewer than two events, or constant ``y_true``) it is NaN with an
    `UndefinedMetricWarning` (sklearn would return 1.0 or 0.0 there by default).
    """
    t = _as_outputs(y_true, "y_true")
    p = _as_outputs(y_pred, "y_pred")
    checks.check_length(t.shape[0], p, "y_pred")
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but y_pred has shape {p.shape}")
    n = t.shape[0]
    w = checks.weights(sample_weight, n)
    if w is not None and float(w.sum()) == 0.0:
        _warn("regression metrics are undefined: the sample weights sum to 0")
        return dict.fromkeys(("loss", "mse", "rmse", "mae", "r2"), _NAN)

    def wmean(v: FloatArray) -> FloatArray:  # per-output (weighted) mean over events
        return np.average(v, axis=0, weights=w)

    err = t - p
    mse_j = wmean(err**2)
    mae_j = wmean(np.abs(err))
    if n < 2:
        _warn("R^2 is undefined with fewer than two events: returning NaN")
        r2 = _NAN
    else:
        ww = np.ones(n) if w is None else w
        ss_res = ww @ err**2
        ss_tot = ww @ (t - wmean(t)) ** 2
        if (ss_tot == 0.0).any():
            _warn("R^2 is undefined: y_true is constant (zero total variance); returning NaN")
            r2 = _NAN
        else:
            r2 = float(np.mean(1.0 - ss_res / ss_tot))
    mse = float(np.mean(mse_j))
    return {
        "loss": mse,
        "mse": mse,
        "rmse": float(np.mean(np.sqrt(mse_j))),
        "mae": float(np.mean(mae_j)),
        "r2": r2,
    }
