"""Field types and vocabularies shared by the spec's sections (no numpy, TensorFlow or Keras)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)

RunName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]

Task = Literal["auto", "binary", "multiclass", "regression"]

ACTIVATIONS = (
    "relu",
    "elu",
    "selu",
    "gelu",
    "silu",
    "swish",
    "tanh",
    "sigmoid",
    "leaky_relu",
    "linear",
)
INITIALIZERS = (
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "random_normal",
    "random_uniform",
    "constant",
    "zeros",
)
#: The columns of the built-in `jets` source (kept equal to expctl.data.jets by a test).
JET_COLUMNS = ("pt", "eta", "mass", "n_constituents", "width", "tau21", "c2", "energy")


def number_per_layer(low: float, high: float | None, what: str) -> Any:
    """A number, or a list with one number per hidden layer, each in [low, high)."""

    def check(value: Any) -> float | list[float]:
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError(f"{what} must be a number or a non-empty list of numbers")
        out = []
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise ValueError(
                    f"{what} must be a number or a list of numbers (one per hidden layer), got {v!r}"
                )
            if not math.isfinite(v):
                raise ValueError(f"{what} must be finite, got {v!r}")
            if v < low or (high is not None and v >= high):
                bound = f"in [{low:g}, {high:g})" if high is not None else f">= {low:g}"
                raise ValueError(f"{what} must be {bound}, got {v!r}")
            out.append(float(v))
        return out if isinstance(value, list) else out[0]

    schema = {
        "anyOf": [
            {"type": "number", "minimum": low} | ({"exclusiveMaximum": high} if high else {}),
            {"type": "array", "items": {"type": "number", "minimum": low}, "minItems": 1},
        ]
    }
    return Annotated[float | list[float], PlainValidator(check), WithJsonSchema(schema)]
