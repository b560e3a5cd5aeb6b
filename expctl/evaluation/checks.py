"""Input checks shared by the metric modules: arrays in, validated float64/int arrays out.

Every check raises ``ValueError`` with a message naming the argument (mismatched lengths, NaN or
infinite values, labels outside the expected set, probabilities outside [0, 1]); none warns or
returns NaN, so the metrics decide what an undefined result is. A single column ``(n, 1)``, as
Keras returns for a sigmoid output, is accepted wherever a 1-D array of length ``n`` is expected.
Only numpy is imported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "PROBA_SUM_ATOL",
    "FloatArray",
    "binary_inputs",
    "binary_labels",
    "check_length",
    "check_probabilities",
    "class_labels",
    "column",
    "finite_float",
    "multiclass_inputs",
    "numeric",
    "weights",
]

#: Largest tolerated deviation of a row sum of class probabilities from 1 (float32 softmax is
#: off by ~1e-7; logits or per-class sigmoids are off by far more).
PROBA_SUM_ATOL = 1e-3

FloatArray = NDArray[np.float64]


def numeric(x: ArrayLike, name: str) -> NDArray[Any]:
    """Return ``x`` as a numeric (bool, int or float) numpy array; raise ValueError otherwise."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: metrics need at least one event")
    return arr


def column(x: ArrayLike, name: str) -> NDArray[Any]:
    """Return ``x`` as a numeric 1-D array; a single column ``(n, 1)`` is flattened."""
    arr = numeric(x, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (or a single column), got shape {arr.shape}")
    return arr


def finite_float(arr: NDArray[Any], name: str) -> FloatArray:
    """Cast to float64 and check that every value is finite."""
    out = arr.astype(np.float64, copy=False)
    finite = np.isfinite(out)
    if not finite.all():
        bad = out.size - int(np.count_nonzero(finite))
        raise ValueError(f"{name} contains NaN or infinite values ({bad} of {out.size})")
    return out


def check_length(n: int, arr: NDArray[Any], name: str, ref: str = "y_true") -> None:
    """Check that ``arr`` has ``n`` events (rows); the message names ``name`` and ``ref``."""
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} events but {ref} has {n}: lengths must match")


def weights(sample_weight: ArrayLike | None, n: int) -> FloatArray | None:
    """Validate ``sample_weight`` against ``n`` events; None stays None."""
    if sample_weight is None:
        return None
    w = finite_float(column(sample_weight, "sample_weight"), "sample_weight")
    check_length(n, w, "sample_weight")
    return w


def binary_labels(y_true: ArrayLike) -> FloatArray:
    """Return binary labels as float64 0.0/1.0; raise if any label is not 0 or 1."""
    arr = column(y_true, "y_true")
    y = arr.astype(np.float64, copy=False)
    bad = (y != 0.0) & (y != 1.0)  # NaN is caught here too
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        raise ValueError(
            f"y_true must hold binary labels 0 and 1 (bools accepted); found e.g. {found}"
        )
    return y


def binary_inputs(
    y_true: ArrayLike, y_score: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """Validated ``(labels, scores, weights)`` of a binary metric's arguments, all float64.

    Labels are 0.0/1.0, scores are any finite numbers (not checked to be probabilities: see
    `check_probabilities`), weights are None when ``sample_weight`` is None.
    """
    y = binary_labels(y_true)
    s = finite_float(column(y_score, "y_score"), "y_score")
    check_length(y.shape[0], s, "y_score")
    return y, s, weights(sample_weight, y.shape[0])


def check_probabilities(p: FloatArray, name: str) -> None:
    """Check that every value of ``p`` (finite, from `finite_float`) lies in [0, 1]."""
    lo, hi = float(p.min()), float(p.max())
    if lo < 0.0 or hi > 1.0:
        raise ValueError(
            f"{name} must be probabilities in [0, 1], found values in [{lo:g}, {hi:g}] "
            "(pass the sigmoid/softmax output, not logits)"
        )


def class_labels(y_true: ArrayLike, n_classes: int) -> NDArray[np.intp]:
    """Return integer class labels, checking that they lie in 0..n_classes-1."""
    arr = column(y_true, "y_true")
    y = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(y) | (y != np.round(y)) | (y < 0) | (y >= n_classes)
    if bad.any():
        found = np.unique(arr[bad])[:5].tolist()
        raise ValueError(
            f"y_true must hold integer class labels 0..{n_classes - 1} "
            f"(one per column of proba); found e.g. {found}"
        )
    return y.astype(np.intp)


def multiclass_inputs(
    y_true: ArrayLike, proba: ArrayLike, sample_weight: ArrayLike | None
) -> tuple[NDArray[np.intp], FloatArray, FloatArray | None]:
    """Validated ``(labels, proba, weights)`` of a multiclass metric's arguments.

    ``proba`` is (n, K >= 2) with rows summing to 1 within `PROBA_SUM_ATOL`; labels are integers
    in 0..K-1 (one-hot labels are refused with a hint); weights are None when not given.
    """
    p = numeric(proba, "proba")
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"proba must have shape (n_events, n_classes >= 2), got {p.shape}")
    p = finite_float(p, "proba")
    y_arr = np.asarray(y_true)
    if y_arr.ndim == 2 and y_arr.shape[1] == p.shape[1] and y_arr.shape[1] > 1:
        raise ValueError(
            f"y_true must hold integer class labels, got shape {y_arr.shape}; "
            "for one-hot labels pass y_true.argmax(axis=1)"
        )
    y = class_labels(y_true, p.shape[1])
    check_length(y.shape[0], p, "proba")
    check_probabilities(p, "proba")
    dev = np.abs(p.sum(axis=1) - 1.0)
    if (dev > PROBA_SUM_ATOL).any():
        raise ValueError(
            f"proba rows must sum to 1 (largest deviation {float(dev.max()):.3g} > "
            f"{PROBA_SUM_ATOL:g}): pass softmax probabilities"
        )
    return y, p, weights(sample_weight, y.shape[0])
