"""The `polynomial` trunk: Legendre polynomial features of each input, for a linear output layer."""

from __future__ import annotations

import math
from typing import Any


def build_polynomial(model_spec: Any, x: Any) -> Any:
    """P_1(z), ..., P_degree(z) of each input z = x / √3, concatenated (inputs × degree features).

    Built from stock Keras layers (Rescaling, Multiply, Add, Concatenate) by the three-term
    recurrence (n+1) P_{n+1} = (2n+1) z P_n - n P_{n-1}, so model.keras loads without custom
    code. Legendre polynomials are orthogonal on [-1, 1]; a standardised uniform input divided by
    √3 spans that interval, which keeps the features of high degree near unit scale (monomials
    of degree 12 would reach 1.7^12 ≈ 600 and make gradient descent crawl).
    """
    import keras

    z = keras.layers.Rescaling(1.0 / math.sqrt(3.0), name="poly_z")(x)
    previous = keras.layers.Rescaling(0.0, offset=1.0, name="poly_p0")(z)  # P_0 = 1
    current = z
    features = [current]
    for n in range(1, model_spec.degree):
        zp = keras.layers.Multiply(name=f"poly_zp{n}")([z, current])
        nxt = keras.layers.Add(name=f"poly_p{n + 1}")(
            [
                keras.layers.Rescaling((2 * n + 1) / (n + 1), name=f"poly_a{n + 1}")(zp),
                keras.layers.Rescaling(-n / (n + 1), name=f"poly_b{n + 1}")(previous),
            ]
        )
        previous, current = current, nxt
        features.append(current)
    if len(features) == 1:
        return features[0]
    return keras.layers.Concatenate(name="poly_features")(features)
