"""The bias/variance decomposition of an ensemble's test error (numpy only).

Members h_1..h_K are trained on different resamples of the training data and evaluated on the same
test points x_i with targets y_i. With the main prediction h̄(x) = mean_k h_k(x) and averages over
the test points (optionally weighted) and the members:

    expected_error   = mean (y - h_k)²
    variance         = mean (h_k - h̄)²
    bias2_plus_noise = mean (y - h̄)²              expected_error = bias2_plus_noise + variance

exactly, because sum_k (h_k - h̄) = 0. When the true function f and the noise variance σ² are
known (a generated data set), also

    bias2                    = mean (f - h̄)²
    expected_error_noiseless = mean (f - h_k)²     = bias2 + variance, exactly
    noise                    = σ²
    residual                 = expected_error - (noise + bias2 + variance)

where the residual is the finite-sample cross term 2 mean (y - f)(f - h̄) plus the difference
between the test sample's mean (y - f)² and σ²; it goes to 0 as the test set grows.

Predictions may carry a trailing axis (class probabilities): squared errors are then summed over
it, which is the multiclass Brier score; for a binary classifier pass P(positive) and the labels
0/1, and the squared error is the Brier score.

`zero_one` is the 0-1 loss decomposition of Domingos (2000), taking the observed label as the
optimal prediction (noise 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _weights(weight: np.ndarray | None, n: int) -> np.ndarray:
    if weight is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"weight has shape {w.shape}; expected ({n},), one per test point")
    if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("weights must be finite, non-negative and not all zero")
    return w / w.sum()


def _sq(diff: np.ndarray, n_point_axes: int) -> np.ndarray:
    """Squared error per point: summed over any trailing (class) axis."""
    sq = diff * diff
    while sq.ndim > n_point_axes:
        sq = sq.sum(axis=-1)
    return sq


def _check(predictions: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h = np.asarray(predictions, dtype=np.float64)
    t = np.asarray(y, dtype=np.float64)
    if h.ndim < 2:
        raise ValueError(f"predictions have shape {h.shape}; expected (members, points, ...)")
    if h.shape[0] < 2:
        raise ValueError("a decomposition needs at least 2 members")
    if h.shape[1:] != t.shape:
        raise ValueError(
            f"predictions have shape {h.shape} but the targets {t.shape}; "
            "expected (members, *targets.shape)"
        )
    return h, t


def decompose(
    predictions: np.ndarray,
    y: np.ndarray,
    *,
    f: np.ndarray | None = None,
    noise: float | None = None,
    weight: np.ndarray | None = None,
) -> dict[str, float]:
    """Squared-error decomposition of member predictions (K, n[, c]) against targets y (n[, c]).

    `f`: the true function at the test points (same shape as y) and `noise`: σ², when known; they
    add `bias2`, `expected_error_noiseless` and (with `noise`) `noise` and `residual`.
    `weight`: per test point weights (HEP event weights); averages become weighted averages.
    """
    h, t = _check(predictions, y)
    n = t.shape[0]
    w = _weights(weight, n)
    main = h.mean(axis=0)

    def avg(per_point: np.ndarray) -> float:
        return float(np.dot(per_point, w))

    out = {
        "expected_error": avg(_sq(t[None] - h, 2).mean(axis=0)),
        "variance": avg(_sq(h - main[None], 2).mean(axis=0)),
        "bias2_plus_noise": avg(_sq(t - main, 1)),
    }
    if f is not None:
        truth = np.asarray(f, dtype=np.float64)
        if truth.shape != t.shape:
            raise ValueError(f"f has shape {truth.shape}; expected {t.shape}")
        out["bias2"] = avg(_sq(truth - main, 1))
        out["expected_error_noiseless"] = avg(_sq(truth[None] - h, 2).mean(axis=0))
        if noise is not None:
            out["noise"] = float(noise)
            out["residual"] = out["expected_error"] - (noise + out["bias2"] + out["variance"])
    return out


def main_prediction(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The mode of the members' labels (K, n) at each point; ties go to the lowest class."""
    counts = np.stack([(labels == c).sum(axis=0) for c in range(n_classes)])
    return counts.argmax(axis=0)


def zero_one(
    labels: np.ndarray, y: np.ndarray, n_classes: int = 2, weight: np.ndarray | None = None
) -> dict[str, float]:
    """Domingos (2000) decomposition of the 0-1 loss of member labels (K, n) against labels y (n,).

    With the main prediction y_m(x) = the mode over members, B(x) = [y_m ≠ y] and
    V(x) = P_k(h_k ≠ y_m): `bias` = mean B, `variance` = mean V, `unbiased_variance` =
    mean (1 - B) V, `biased_variance` = mean B V, and `net_variance` = `unbiased_variance` -
    mean B c V with c(x) = P_k(h_k = y | h_k ≠ y_m) (c = 1 for two classes, so then net =
    unbiased - biased). `expected_loss` = mean [h_k ≠ y] = `bias` + `net_variance` exactly.
    Noise is taken as 0: the observed label is the optimal prediction.
    """
    h = np.asarray(labels)
    t = np.asarray(y)
    if h.ndim != 2 or h.shape[1:] != t.shape:
        raise ValueError(f"labels have shape {h.shape}; expected (members, {t.shape[0]})")
    w = _weights(weight, t.shape[0])
    ym = main_prediction(h, n_classes)
    b = (ym != t).astype(np.float64)
    v = (h != ym[None]).mean(axis=0)
    hit = (h == t[None]).mean(axis=0)  # P(h = y); where B = 1 these members differ from y_m
    with np.errstate(invalid="ignore", divide="ignore"):
        c = np.where(v > 0, hit / np.where(v > 0, v, 1.0), 0.0)
    return {
        "expected_loss": float(np.dot((h != t[None]).mean(axis=0), w)),
        "bias": float(np.dot(b, w)),
        "variance": float(np.dot(v, w)),
        "unbiased_variance": float(np.dot((1 - b) * v, w)),
        "biased_variance": float(np.dot(b * v, w)),
        "net_variance": float(np.dot((1 - b) * v - b * c * v, w)),
    }


#: With a known truth, bias² + variance below this fraction of the test error is a good fit.
GOOD_FIT = 0.05


def verdict(point: dict[str, Any]) -> str:
    """`high bias`, `high variance` or (truth known) `good fit`, with the numbers behind it.

    Compares bias² with the variance when the true function is known (and calls it a good fit
    when both together are under GOOD_FIT of the test error: the rest is noise); otherwise
    bias² + noise (an upper bound on bias², the noise cannot be separated) with the variance,
    unless the test error is more than twice the train error (over-fitting: high variance).
    """
    variance = point["variance"]
    if point.get("bias2") is not None:
        name, bias = "bias²", point["bias2"]
        extra = f", noise {point['noise']:.4g}" if point.get("noise") is not None else ""
    else:
        name, bias = "bias²+noise", point["bias2_plus_noise"]
        extra = " (noise unknown: bias²+noise bounds bias² from above)"
    gap = ""
    reducible = bias + variance
    if name == "bias²" and reducible < GOOD_FIT * point["expected_error"]:
        return (
            f"good fit: bias² {bias:.4g} + variance {variance:.4g} is under "
            f"{GOOD_FIT:.0%} of the test error {point['expected_error']:.4g}{extra}; "
            "what is left is noise"
        )
    if point.get("train_error") is not None:
        gap = f"; train error {point['train_error']:.4g}, test error {point['expected_error']:.4g}"
    train = point.get("train_error")
    if name != "bias²" and train is not None and point["expected_error"] - train > train:
        # without f the noise hides in bias²+noise; a model that fits its training set far
        # better than the test set is over-fitting whatever the noise level
        return (
            f"high variance: test error {point['expected_error']:.4g} is more than twice the "
            f"train error {train:.4g}; variance {variance:.4g}, {name} {bias:.4g}{extra}; "
            "regularise or add data"
        )
    if bias >= variance:
        return (
            f"high bias: {name} {bias:.4g} >= variance {variance:.4g}{extra}{gap}; "
            "increase capacity or train longer"
        )
    return (
        f"high variance: variance {variance:.4g} > {name} {bias:.4g}{extra}{gap}; "
        "regularise or add data"
    )
