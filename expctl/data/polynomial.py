"""The built-in `polynomial` regression source: y = f(x) + N(0, σ²) with a known polynomial f.

Because f and σ² are known, `expctl biasvar` can split the test error into noise, bias² and
variance (not only bias²+noise and variance). `TRUTHS` maps a source name to the function that
gives f at given feature values and σ² for its spec section; a source not in it has no known truth.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

#: Stream of the random coefficients (drawn when only `degree` is given), apart from x and noise.
_COEFFICIENT_STREAM = 0xC0EF
#: Stream of fresh training sets (`draw`), apart from the data set itself.
_FRESH_STREAM = 0xF4E5


def coefficients(spec: Any, seed: int) -> np.ndarray:
    """The polynomial's coefficients, lowest order first: as given, or N(0, 1) drawn from the seed."""
    if spec.coefficients is not None:
        return np.asarray(spec.coefficients, dtype=np.float64)
    rng = np.random.default_rng([seed, _COEFFICIENT_STREAM])
    degree = 2 if spec.degree is None else spec.degree
    return rng.normal(0.0, 1.0, degree + 1)


def generate(spec: Any, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x (n,) uniform in [x_min, x_max], f(x), and y = f(x) + N(0, σ²), all float64.

    x is rounded to float32 first: the model sees float32 features, and f must be the truth at
    exactly the x the model sees.
    """
    rng = np.random.default_rng(seed)
    x = rng.uniform(spec.x_min, spec.x_max, spec.n_samples).astype(np.float32).astype(np.float64)
    f = np.polynomial.polynomial.polyval(x, coefficients(spec, seed))
    y = f + rng.normal(0.0, spec.sigma, spec.n_samples)
    return x, f, y


def _polynomial_truth(spec: Any, seed: int) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    coef = coefficients(spec, seed)

    def f(features: np.ndarray) -> np.ndarray:
        x = np.asarray(features, dtype=np.float64)
        return np.polynomial.polynomial.polyval(x[:, 0] if x.ndim == 2 else x, coef)

    return f, float(spec.sigma) ** 2


def draw(spec: Any, seed: int, member: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Member `member`'s fresh training set of n events from the distribution of the data set of
    `seed`: features (n, 1) and targets."""
    rng = np.random.default_rng([seed, member, _FRESH_STREAM])
    x = rng.uniform(spec.x_min, spec.x_max, n).astype(np.float32).astype(np.float64)
    f = np.polynomial.polynomial.polyval(x, coefficients(spec, seed))
    y = f + rng.normal(0.0, spec.sigma, n)
    return x[:, None], y


#: data.source -> (data spec, data seed, member, n) -> n fresh events (features, targets): sources
#: that can draw new training sets, so members see independent training sets, not resamples.
GENERATORS: dict[str, Callable[[Any, int, int, int], tuple[np.ndarray, np.ndarray]]] = {
    "polynomial": draw,
}

#: data.source -> (data spec, data seed) -> (f at raw feature values, noise variance σ²).
TRUTHS: dict[str, Callable[[Any, int], tuple[Callable[[np.ndarray], np.ndarray], float]]] = {
    "polynomial": _polynomial_truth,
}


def describe(spec: Any, seed: int) -> str:
    """`polynomial: y = 0.5 + 2x² + N(0, 0.3²), x in [-1, 1], 200 events`."""
    terms = []
    for power, c in enumerate(coefficients(spec, seed)):
        if c == 0:
            continue
        x = "" if power == 0 else ("x" if power == 1 else f"x^{power}")
        terms.append(f"{c:.4g}{x}")
    poly = " + ".join(terms) or "0"
    return (
        f"polynomial: y = {poly} + N(0, {spec.sigma:g}²), x in [{spec.x_min:g}, {spec.x_max:g}], "
        f"{spec.n_samples} events"
    )
