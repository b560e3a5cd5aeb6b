"""HEP figures of merit for binary classifiers: working points, rejections, AUC intervals, overtraining.

Signal is label 1 and background label 0. An event is *selected* by a cut when its score is
``>=`` the threshold, the convention of `roc_curve`'s thresholds (note that `binary_confusion`
and `binary_metrics` use ``>`` instead). In these terms the true positive rate is the signal
efficiency ε_S, the false positive rate the background efficiency (mistag rate) ε_B, and the
background rejection is 1/ε_B.

Conventions as in `expctl.evaluation.metrics`: arrays in, plain Python floats out; optional
per-event ``sample_weight`` (HEP event weights) entering every sum as it is (negative weights
included; zero-weight events are ignored); NaN with an `UndefinedMetricWarning` when a result
is undefined (a class missing); ``ValueError`` for malformed input. Only numpy and the standard
library are imported here; `overtraining_test` imports ``scipy.stats`` when called.
"""

from __future__ import annotations

import math
import operator
import sys
import warnings
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from expctl.evaluation import checks
from expctl.evaluation import metrics as _metrics
from expctl.evaluation.checks import FloatArray
from expctl.evaluation.metrics import UndefinedMetricWarning, checked_auc, roc_counts

__all__ = [
    "auc_in_bins",
    "auc_interval",
    "best_thresholds",
    "overtraining_test",
    "rejection_at",
    "working_points",
]

_NAN = float("nan")
_INF = float("inf")

#: A working point reaches its target signal efficiency when ``tpr >= target - EFF_ATOL``: the
#: slack absorbs the rounding of weighted sums (e.g. ten events of weight 0.1 may give a tpr of
#: 0.6999999999999999 for 7 of 10). Unweighted efficiencies k/N are exact, so it never matters.
EFF_ATOL = 1e-10

_MODULES = frozenset({__name__, _metrics.__name__})


def _warn(message: str) -> None:
    """Emit an `UndefinedMetricWarning` attributed to the first caller outside expctl.evaluation."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and frame.f_globals.get("__name__") in _MODULES:
        frame = frame.f_back
        level += 1
    warnings.warn(message, UndefinedMetricWarning, stacklevel=level)


# --------------------------------------------------------------------------------------------
# Working points
# --------------------------------------------------------------------------------------------


def _n_eff(w: FloatArray | None, mask: NDArray[np.bool_]) -> float:
    """Effective number of events (Σw)²/Σw² of the events in ``mask``; their count unweighted."""
    if w is None:
        return float(np.count_nonzero(mask))
    wc = w[mask]
    sum_w2 = float(wc @ wc)
    return float(wc.sum()) ** 2 / sum_w2 if sum_w2 > 0.0 else 0.0


def _binomial_error(eff: float, n_eff: float, what: str) -> float:
    """Binomial error sqrt(ε(1-ε)/N_eff); NaN (with a warning if ε is outside [0, 1])."""
    if math.isnan(eff) or n_eff <= 0.0:
        return _NAN
    var = eff * (1.0 - eff) / n_eff
    if var < 0.0:  # only with negative weights: the efficiency lies outside [0, 1]
        _warn(f"{what} = {eff:g} lies outside [0, 1] (negative weights): its binomial error is NaN")
        return _NAN
    return math.sqrt(var)


def _targets(signal_efficiencies: ArrayLike) -> list[float]:
    try:
        arr = np.asarray(signal_efficiencies, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"signal efficiencies must be numbers in (0, 1], got {signal_efficiencies!r}"
        ) from None
    if arr.ndim > 1:
        raise ValueError(f"signal efficiencies must be a number or a 1-D list, got {arr.shape}")
    arr = arr.reshape(-1)
    if arr.size == 0:
        raise ValueError("give at least one target signal efficiency")
    bad = ~((arr > 0.0) & (arr <= 1.0))  # NaN is caught here too
    if bad.any():
        raise ValueError(f"target signal efficiencies must lie in (0, 1], got {arr[bad].tolist()}")
    return arr.tolist()


def working_points(
    y_true: ArrayLike,
    y_score: ArrayLike,
    signal_efficiencies: ArrayLike,
    sample_weight: ArrayLike | None = None,
) -> list[dict[str, float]]:
    """Working points of the ROC curve at target signal efficiencies, one dict per target.

    For each target ε_S in (0, 1] (a number or a list, e.g. ``[0.5, 0.7, 0.9]``) the chosen
    point is the first point of `roc_curve` (highest threshold, i.e. tightest cut) whose signal
    efficiency (tpr) reaches the target (within `EFF_ATOL`): the point of lowest background
    efficiency among those meeting the target. Keys:

    * ``signal_efficiency_target``, ``signal_efficiency`` (achieved tpr, >= the target) and
      ``signal_efficiency_err``;
    * ``threshold``: select events with ``score >= threshold`` (a score value of the sample);
    * ``background_efficiency`` (fpr, the mistag rate ε_B) and ``background_efficiency_err``;
    * ``rejection`` = 1/ε_B and ``rejection_err`` = σ(ε_B)/ε_B².

    Errors are binomial, sqrt(ε(1-ε)/N_eff), with N_eff = (Σw)²/Σw² over the signal
    (respectively background) events: the event count without weights. They treat the sample as
    independent events of fixed weights and are meaningless near ε = 0 or 1: when no background
    passes (ε_B = 0) the rejection and its error are both +inf; quote a limit instead (ε_B <
    3/N_eff_B at 95% CL, the rule of three). Without signal every value but the target is NaN,
    without background the background values are; both with an `UndefinedMetricWarning`.
    Targets outside (0, 1] raise ``ValueError``. One sort: O(n log n).
    """
    targets = _targets(signal_efficiencies)
    y, s, w = checks.binary_inputs(y_true, y_score, sample_weight)
    fps, tps, thresholds = roc_counts(y, s, w)
    n_sig, n_bkg = float(tps[-1]), float(fps[-1])
    if n_sig <= 0.0:
        _warn(
            "working points are undefined: y_true has no signal (1) events with positive total "
            "weight; returning NaN"
        )
        # NaN efficiencies and no events: every value but the target is NaN
        return [_working_point(t, _NAN, _NAN, _NAN, 0.0, 0.0) for t in targets]
    tpr = tps / n_sig
    if n_bkg <= 0.0:
        _warn(
            "background efficiency and rejection are undefined: y_true has no background (0) "
            "events with positive total weight; returning NaN"
        )
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / n_bkg
    signal = y == 1.0
    n_eff_sig = _n_eff(w, signal)
    n_eff_bkg = _n_eff(w, ~signal)

    points = []
    for target in targets:
        # tpr[-1] == 1.0 exactly, so some point always qualifies; tpr[0] == 0 so i >= 1.
        i = int(np.argmax(tpr >= target - EFF_ATOL))
        points.append(
            _working_point(
                target, float(tpr[i]), float(fpr[i]), float(thresholds[i]), n_eff_sig, n_eff_bkg
            )
        )
    return points


def _working_point(
    target: float,
    eff_s: float,
    eff_b: float,
    threshold: float,
    n_eff_sig: float,
    n_eff_bkg: float,
) -> dict[str, float]:
    """One entry of `working_points`: the efficiencies at the chosen point, their binomial
    errors, and the rejection 1/ε_B (+inf when ε_B = 0, NaN when ε_B is)."""
    err_b = _binomial_error(eff_b, n_eff_bkg, "the background efficiency")
    if math.isnan(eff_b):
        rejection = rejection_err = _NAN
    elif eff_b == 0.0:
        rejection = rejection_err = _INF
    else:
        rejection, rejection_err = 1.0 / eff_b, err_b / eff_b**2
    return {
        "signal_efficiency_target": target,
        "signal_efficiency": eff_s,
        "signal_efficiency_err": _binomial_error(eff_s, n_eff_sig, "the signal efficiency"),
        "threshold": threshold,
        "background_efficiency": eff_b,
        "background_efficiency_err": err_b,
        "rejection": rejection,
        "rejection_err": rejection_err,
    }


def rejection_at(
    y_true: ArrayLike,
    y_score: ArrayLike,
    signal_efficiency: float,
    sample_weight: ArrayLike | None = None,
) -> float:
    """Background rejection 1/ε_B at the working point of one target signal efficiency.

    The ``rejection`` of `working_points` (see there): +inf when no background event passes the
    cut, NaN with an `UndefinedMetricWarning` when a class is missing.
    """
    if np.ndim(signal_efficiency) != 0:
        raise ValueError(
            "signal_efficiency must be a single number; use working_points for several"
        )
    return working_points(y_true, y_score, [signal_efficiency], sample_weight)[0]["rejection"]


# --------------------------------------------------------------------------------------------
# Optimal thresholds
# --------------------------------------------------------------------------------------------


def best_thresholds(
    y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None = None
) -> dict[str, float]:
    """Thresholds maximising F1 and Youden's J = tpr - fpr over the thresholds of `roc_curve`.

    Keys ``max_f1_threshold``, ``max_f1`` (F1 = 2TP / (2TP + FP + FN), weighted counts),
    ``youden_threshold`` and ``youden_j``. Every finite threshold of `roc_curve` (each distinct
    score) is a candidate, an event being selected when ``score >= threshold``; on equal maxima
    the highest threshold (tightest cut) wins. To reproduce the F1 with `binary_metrics`, which
    selects ``score > threshold``, pass a threshold just below this one (e.g.
    ``np.nextafter(t, -np.inf)``). Without signal events all four values are NaN; without
    background Youden's J is; both with an `UndefinedMetricWarning`.
    """
    y, s, w = checks.binary_inputs(y_true, y_score, sample_weight)
    fps, tps, thresholds = roc_counts(y, s, w)
    n_sig, n_bkg = float(tps[-1]), float(fps[-1])
    out = dict.fromkeys(("max_f1_threshold", "max_f1", "youden_threshold", "youden_j"), _NAN)
    if n_sig <= 0.0:
        _warn(
            "best thresholds are undefined: y_true has no signal (1) events with positive total "
            "weight; returning NaN"
        )
        return out
    tp, fp, thr = tps[1:], fps[1:], thresholds[1:]  # skip the +inf threshold (nothing selected)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = 2.0 * tp / (tp + fp + n_sig)  # 2TP + FP + FN with FN = n_sig - TP
    f1 = np.where(np.isfinite(f1), f1, -np.inf)  # a zero denominator needs negative weights
    i = int(np.argmax(f1))
    if np.isfinite(f1[i]):
        out["max_f1_threshold"], out["max_f1"] = float(thr[i]), float(f1[i])
    if n_bkg <= 0.0:
        _warn(
            "Youden's J is undefined: y_true has no background (0) events with positive total "
            "weight; returning NaN"
        )
        return out
    j = tp / n_sig - fp / n_bkg  # the same tpr - fpr as roc_curve's
    i = int(np.argmax(j))
    out["youden_threshold"], out["youden_j"] = float(thr[i]), float(j[i])
    return out


# --------------------------------------------------------------------------------------------
# AUC confidence interval
# --------------------------------------------------------------------------------------------


def _cumulative(x: FloatArray) -> FloatArray:
    """``[0, x0, x0 + x1, ...]``: entry ``k`` is the sum of the first ``k`` values."""
    out = np.empty(x.size + 1)
    out[0] = 0.0
    np.cumsum(x, out=out[1:])
    return out


class _Classes:
    """Signal and background scores, each sorted ascending, and where each falls in the other.

    ``bkg_lo[i]`` / ``bkg_hi[i]`` count the background events scoring below / at most signal
    event ``i``; ``sig_lo[j]`` / ``sig_hi[j]`` the signal events below / at most background event
    ``j``. With cumulative weights ``c``, ``(c[lo] + c[hi]) / 2`` is then the weight of the other
    class below an event plus half the tied weight: the Mann-Whitney count with ties as 1/2.
    """

    def __init__(self, y: FloatArray, s: FloatArray, w: FloatArray | None) -> None:
        signal = y == 1.0
        s_sig, s_bkg = s[signal], s[~signal]
        if w is None:
            # tied unweighted events are interchangeable: a plain (SIMD) sort of the values
            self.s_sig, self.s_bkg = np.sort(s_sig), np.sort(s_bkg)
            self.w_sig = self.w_bkg = None
        else:
            o_sig = np.argsort(s_sig, kind="stable")
            o_bkg = np.argsort(s_bkg, kind="stable")
            self.s_sig, self.s_bkg = s_sig[o_sig], s_bkg[o_bkg]
            self.w_sig, self.w_bkg = w[signal][o_sig], w[~signal][o_bkg]
        self.m, self.n = self.s_sig.size, self.s_bkg.size
        self.bkg_lo = np.searchsorted(self.s_bkg, self.s_sig, side="left")
        self.bkg_hi = np.searchsorted(self.s_bkg, self.s_sig, side="right")
        self.sig_lo = np.searchsorted(self.s_sig, self.s_bkg, side="left")
        self.sig_hi = np.searchsorted(self.s_sig, self.s_bkg, side="right")


def _delong_variance(c: _Classes) -> float:
    """Variance of the (weighted) AUC from DeLong's structural components; NaN if undefined.

    V10_i = Σ_j w_j ψ(s_i, s_j) / W_B for signal event i and V01_j = Σ_i w_i ψ(s_i, s_j) / W_S for
    background event j, with ψ = 1, 1/2, 0 as s_i >, =, < s_j. Then
    Var = m/(m-1) Σ_i w_i²(V10_i - A)²/W_S² + n/(n-1) Σ_j w_j²(V01_j - A)²/W_B², which for unit
    (or equal) weights is DeLong et al. (1988): S10/m + S01/n.
    """
    m, n = c.m, c.n
    if m < 2 or n < 2:
        return _NAN
    w_sig = np.ones(m) if c.w_sig is None else c.w_sig
    w_bkg = np.ones(n) if c.w_bkg is None else c.w_bkg
    cum_sig, cum_bkg = _cumulative(w_sig), _cumulative(w_bkg)
    total_sig, total_bkg = float(cum_sig[-1]), float(cum_bkg[-1])
    v10 = 0.5 * (cum_bkg[c.bkg_lo] + cum_bkg[c.bkg_hi]) / total_bkg
    v01 = (total_sig - 0.5 * (cum_sig[c.sig_lo] + cum_sig[c.sig_hi])) / total_sig

    def term(v: FloatArray, wv: FloatArray, k: int, total: float) -> float:
        dev = wv * (v - float(wv @ v) / total)
        return k / (k - 1) * float(dev @ dev) / total**2

    return term(v10, w_sig, m, total_sig) + term(v01, w_bkg, n, total_bkg)


def _bootstrap_aucs(c: _Classes, n_boot: int, rng: np.random.Generator) -> FloatArray:
    """AUCs of ``n_boot`` stratified resamples (signal and background resampled separately).

    Each resample draws ``m`` signal indices, then ``n`` background indices, with
    ``rng.integers``; the indices refer to each class's events in increasing score order (stable
    sort). Their multiplicities (``np.bincount``) times the weights are the resample's weights.
    """
    aucs = np.empty(n_boot)
    for b in range(n_boot):
        a_sig = np.bincount(rng.integers(0, c.m, size=c.m), minlength=c.m).astype(np.float64)
        a_bkg = np.bincount(rng.integers(0, c.n, size=c.n), minlength=c.n).astype(np.float64)
        if c.w_sig is not None and c.w_bkg is not None:
            a_sig *= c.w_sig
            a_bkg *= c.w_bkg
        cum_bkg = _cumulative(a_bkg)
        w_s, w_b = float(a_sig.sum()), float(cum_bkg[-1])
        pairs = 0.5 * float(a_sig @ (cum_bkg[c.bkg_lo] + cum_bkg[c.bkg_hi]))
        aucs[b] = pairs / (w_s * w_b) if w_s > 0.0 and w_b > 0.0 else np.nan
    return aucs


def auc_interval(
    y_true: ArrayLike,
    y_score: ArrayLike,
    sample_weight: ArrayLike | None = None,
    level: float = 0.68,
    n_boot: int = 200,
    seed: int | None = 0,
    max_bootstrap_events: int = 200_000,
) -> dict[str, Any]:
    """ROC AUC with a confidence interval at ``level``: ``{"auc", "low", "high", "method"}``.

    ``auc`` is `roc_auc` of the whole sample. Up to ``max_bootstrap_events`` events (of nonzero
    weight) the interval is a percentile bootstrap (``method="bootstrap"``): ``n_boot`` stratified
    resamples (signal and background events drawn with replacement separately, so each keeps its
    size; weights travel with their events), drawn from ``np.random.default_rng(seed)`` and so
    reproducible for a given seed. Above that, the interval is the normal one, AUC ± z·σ, with
    DeLong's (1988) variance (``method="delong"``), clipped to [0, 1]; with weights the same
    structural-component variance is computed with weighted sums (it reduces to DeLong's for
    equal weights and is what the weighted bootstrap converges to for large samples), so
    weighted and unweighted large samples are treated alike. Both treat events as independent
    with fixed weights. The bootstrap costs O(n_boot · n) after sorting each class once (200
    resamples take ~0.2 s for 100k events, ~0.4 s at the default 200k limit); DeLong takes
    O(n log n) (~0.35 s for 1M events).

    With one class only all three numbers are NaN, with an `UndefinedMetricWarning`; a DeLong
    interval with fewer than two events in a class has NaN ``low`` and ``high`` (with a warning).
    """
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie strictly between 0 and 1, got {level}")
    n_boot = operator.index(n_boot)
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, got {n_boot}")
    max_bootstrap_events = operator.index(max_bootstrap_events)
    y, s, w = checks.binary_inputs(y_true, y_score, sample_weight)
    if w is not None:
        keep = w != 0.0
        if not keep.all():
            y, s, w = y[keep], s[keep], w[keep]
    method = "bootstrap" if y.size <= max_bootstrap_events else "delong"
    out: dict[str, Any] = {"auc": _NAN, "low": _NAN, "high": _NAN, "method": method}
    signal = y == 1.0
    w_s = float(np.count_nonzero(signal)) if w is None else float(w[signal].sum())
    w_b = float(y.size) - w_s if w is None else float(w[~signal].sum())
    if w_s <= 0.0 or w_b <= 0.0:
        missing = "background (0)" if w_b <= 0.0 else "signal (1)"
        _warn(
            f"the ROC AUC and its interval are undefined: y_true has no {missing} events with "
            "positive total weight (only one class present); returning NaN"
        )
        return out
    auc = checked_auc(y, s, w)
    out["auc"] = auc
    classes = _Classes(y, s, w)
    if method == "bootstrap":
        aucs = _bootstrap_aucs(classes, n_boot, np.random.default_rng(seed))
        aucs = aucs[np.isfinite(aucs)]  # a resample can lose a class only with negative weights
        if aucs.size:
            low, high = np.quantile(aucs, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
            out["low"], out["high"] = float(low), float(high)
        else:
            _warn("every bootstrap resample has a class of total weight <= 0: no AUC interval")
        return out
    var = _delong_variance(classes)
    if math.isnan(var):
        _warn("the DeLong AUC interval needs at least two events of each class; returning NaN")
        return out
    half = NormalDist().inv_cdf(0.5 + level / 2.0) * math.sqrt(max(var, 0.0))
    out["low"] = max(min(0.0, auc), auc - half)
    out["high"] = min(max(1.0, auc), auc + half)
    return out


# --------------------------------------------------------------------------------------------
# Overtraining
# --------------------------------------------------------------------------------------------


def _labels(x: ArrayLike, name: str) -> FloatArray:
    """Binary 0/1 labels as float64; ValueError naming ``name`` otherwise."""
    arr = checks.column(x, name)
    y = arr.astype(np.float64, copy=False)
    bad = (y != 0.0) & (y != 1.0)
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        raise ValueError(f"{name} must hold binary labels 0 and 1; found e.g. {found}")
    return y


def overtraining_test(
    train_scores: ArrayLike,
    train_labels: ArrayLike,
    test_scores: ArrayLike,
    test_labels: ArrayLike,
) -> dict[str, float]:
    """Kolmogorov–Smirnov test of train vs test score distributions, for signal and background.

    Keys ``ks_pvalue_signal``, ``ks_statistic_signal``, ``ks_pvalue_background`` and
    ``ks_statistic_background``: exactly ``scipy.stats.ks_2samp(train, test)`` (two-sided,
    default ``method="auto"``) on the scores of each class. A small p-value (TMVA's rule of
    thumb: below ~0.01-0.05) says the classifier scores its training events differently from
    unseen ones, i.e. it is overtrained. The test is unweighted (``ks_2samp`` takes no weights):
    with strongly varying event weights it compares the unweighted score shapes. A class absent
    from the train or the test set gives NaN for that class with an `UndefinedMetricWarning`.
    """
    from scipy.stats import ks_2samp

    y_train = _labels(train_labels, "train_labels")
    y_test = _labels(test_labels, "test_labels")
    s_train = checks.finite_float(checks.column(train_scores, "train_scores"), "train_scores")
    s_test = checks.finite_float(checks.column(test_scores, "test_scores"), "test_scores")
    checks.check_length(y_train.shape[0], s_train, "train_scores", ref="train_labels")
    checks.check_length(y_test.shape[0], s_test, "test_scores", ref="test_labels")
    out: dict[str, float] = {}
    for label, name in ((1.0, "signal"), (0.0, "background")):
        a, b = s_train[y_train == label], s_test[y_test == label]
        if a.size == 0 or b.size == 0:
            where = "training" if a.size == 0 else "test"
            _warn(f"no {name} events in the {where} set: the {name} KS test is NaN")
            statistic = pvalue = _NAN
        else:
            result = ks_2samp(a, b)
            statistic, pvalue = float(result.statistic), float(result.pvalue)
        out[f"ks_pvalue_{name}"] = pvalue
        out[f"ks_statistic_{name}"] = statistic
    return out


def auc_in_bins(
    y_true: ArrayLike,
    y_score: ArrayLike,
    values: ArrayLike,
    edges: ArrayLike,
    sample_weight: ArrayLike | None = None,
    level: float = 0.68,
    seed: int | None = 0,
) -> list[dict[str, float]]:
    """ROC AUC (with its `auc_interval`) in bins of another quantity, e.g. the energy.

    Bin i holds the events with ``edges[i] <= values < edges[i + 1]`` (the last bin also takes
    ``values == edges[-1]``); events outside the edges are left out. One dict per bin:
    ``{"low", "high", "n", "n_signal", "auc", "auc_low", "auc_high"}``, ``n`` and ``n_signal``
    being event counts. A bin without both classes has NaN AUCs (with `UndefinedMetricWarning`).
    """
    y, s, w = checks.binary_inputs(y_true, y_score, sample_weight)
    v = checks.column(values, "values").astype(np.float64)
    checks.check_length(y.size, v, "values")
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges must be at least two finite increasing numbers, got {e.tolist()}")
    index = np.searchsorted(e, v, side="right") - 1
    index[v == e[-1]] = e.size - 2
    out = []
    for i in range(e.size - 1):
        mask = index == i
        interval = auc_interval(
            y[mask], s[mask], None if w is None else w[mask], level=level, seed=seed
        )
        out.append(
            {
                "low": float(e[i]),
                "high": float(e[i + 1]),
                "n": int(mask.sum()),
                "n_signal": int((y[mask] == 1).sum()),
                "auc": interval["auc"],
                "auc_low": interval["low"],
                "auc_high": interval["high"],
            }
        )
    return out
