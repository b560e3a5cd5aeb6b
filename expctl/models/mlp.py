"""The `mlp` trunk (dense hidden layers) and the layer settings every trunk and head shares.

Initializers are a registry keyed by the spec's `initializer.name`; `keras_activation` and
`weight_regularizer` turn spec values into Keras arguments. Keras is imported when called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Base spread of the `random_*` and `constant` initializers, multiplied by `initializer.scale`.
SMALL_INIT = 0.05


def _variance_scaling(base: float, mode: str, distribution: str) -> Callable[[float], Any]:
    def make(scale: float) -> Any:
        import keras

        # `scale` multiplies the standard deviation, so the variance scale goes with its square.
        return keras.initializers.VarianceScaling(
            scale=base * scale**2, mode=mode, distribution=distribution
        )

    return make


def _random_normal(scale: float) -> Any:
    import keras

    return keras.initializers.RandomNormal(stddev=SMALL_INIT * scale)


def _random_uniform(scale: float) -> Any:
    import keras

    return keras.initializers.RandomUniform(minval=-SMALL_INIT * scale, maxval=SMALL_INIT * scale)


def _constant(scale: float) -> Any:
    import keras

    # Every weight equal: units stay interchangeable (the symmetry the lecture warns about).
    return keras.initializers.Constant(SMALL_INIT * scale)


def _zeros(scale: float) -> Any:
    import keras

    return keras.initializers.Zeros()


INITIALIZERS: dict[str, Callable[[float], Any]] = {
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "truncated_normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),
    "he_normal": _variance_scaling(2.0, "fan_in", "truncated_normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "truncated_normal"),
    "random_normal": _random_normal,
    "random_uniform": _random_uniform,
    "constant": _constant,
    "zeros": _zeros,
}


def make_initializer(spec: Any) -> Any:
    """A new Keras initializer for the spec's `initializer` section (its `name` and `scale`)."""
    return INITIALIZERS[spec.name](spec.scale)


def weight_regularizer(l1: float, l2: float) -> Any:
    """An L1L2 kernel regularizer, or None when both penalties are 0 (Keras then adds no loss)."""
    import keras

    if l1 == 0 and l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def keras_activation(name: str) -> Any:
    """The Keras `activation=` argument for the spec's activation name (the names are Keras's)."""
    return "leaky_relu" if name == "leaky_relu" else name


def build_mlp(model_spec: Any, x: Any) -> Any:
    """Dense hidden layers, each followed by its dropout (if any)."""
    import keras

    from expctl.models import regularizers as reg

    dropout, l1, l2 = (model_spec.per_layer(k) for k in ("dropout", "l1", "l2"))
    for i, units in enumerate(model_spec.hidden):
        common = {
            "activation": keras_activation(model_spec.activation),
            "kernel_initializer": make_initializer(model_spec.initializer),
            "kernel_regularizer": weight_regularizer(l1[i], l2[i]),
            "kernel_constraint": reg.kernel_constraint(model_spec.weight_clip, model_spec.max_norm),
            "name": f"dense_{i + 1}",
        }
        if model_spec.weight_noise > 0:
            layer = reg.NoisyDense(
                units,
                weight_noise=model_spec.weight_noise,
                weight_noise_dist=model_spec.weight_noise_dist,
                **common,
            )
        else:
            layer = keras.layers.Dense(
                units, **common
            )  # plain Keras when no expctl layer is needed
        x = layer(x)
        if dropout[i] > 0:
            x = keras.layers.Dropout(dropout[i], name=f"dropout_{i + 1}")(x)
    return x
