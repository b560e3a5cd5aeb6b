"""Build a Keras model from the validated spec and the prepared dataset.

The model is self-contained: its first layer standardises the raw features with the mean and
variance of the training split (a fixed Normalization layer), so `model.keras` predicts on raw
events. Trunks, heads and initializers are registries keyed by the spec's names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from expctl.models.cnn import augment_inputs, build_cnn

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
    return INITIALIZERS[spec.name](spec.scale)


def _regularizer(l1: float, l2: float) -> Any:
    import keras

    if l1 == 0 and l2 == 0:
        return None
    return keras.regularizers.L1L2(l1=l1, l2=l2)


def _activation(name: str) -> Any:
    return "leaky_relu" if name == "leaky_relu" else name


def build_mlp(model_spec: Any, x: Any) -> Any:
    """Dense hidden layers, each followed by its dropout (if any)."""
    import keras

    from expctl.models import regularizers as reg

    dropout, l1, l2 = (model_spec.per_layer(k) for k in ("dropout", "l1", "l2"))
    for i, units in enumerate(model_spec.hidden):
        common = {
            "activation": _activation(model_spec.activation),
            "kernel_initializer": make_initializer(model_spec.initializer),
            "kernel_regularizer": _regularizer(l1[i], l2[i]),
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


def _build_polynomial(model_spec: Any, x: Any) -> Any:
    from expctl.models.polynomial import build_polynomial

    return build_polynomial(model_spec, x)


TRUNKS: dict[str, Callable[[Any, Any], Any]] = {
    "mlp": build_mlp,
    "cnn": build_cnn,
    "polynomial": _build_polynomial,
}

#: Per model type, layers applied to the raw inputs before standardisation (e.g. augmentation).
RAW_INPUT_STAGES: dict[str, Callable[[Any, Any], Any]] = {"cnn": augment_inputs}


@dataclass(frozen=True)
class Head:
    """Output layer and per-epoch metrics of one task (the loss comes from regularizers.make_loss)."""

    activation: str
    units: Callable[[int], int]
    metrics: Callable[[], list[Any]]


def _binary_metrics() -> list[Any]:
    import keras

    return [
        keras.metrics.BinaryAccuracy(name="accuracy"),
        keras.metrics.AUC(name="auc", num_thresholds=1000),
    ]


def _multiclass_metrics() -> list[Any]:
    import keras

    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]


def _regression_metrics() -> list[Any]:
    import keras

    return [keras.metrics.MeanAbsoluteError(name="mae")]


HEADS: dict[str, Head] = {
    "binary": Head("sigmoid", lambda k: 1, _binary_metrics),
    "multiclass": Head("softmax", lambda k: k, _multiclass_metrics),
    "regression": Head("linear", lambda k: 1, _regression_metrics),
}


def build_model(model_spec: Any, dataset: Any) -> Any:
    """The uncompiled keras.Model for a spec's `model` section and a prepared Dataset."""
    import keras

    inputs = keras.Input(shape=dataset.train.x.shape[1:], name="features")  # (d,) or (h, w, c)
    x = inputs
    if model_spec.type in RAW_INPUT_STAGES:
        x = RAW_INPUT_STAGES[model_spec.type](model_spec, x)
    if dataset.mean is not None:
        x = keras.layers.Normalization(
            mean=dataset.mean, variance=dataset.std**2, dtype="float32", name="standardize"
        )(x)
    if model_spec.input_noise > 0:
        # after standardisation, so the noise is in units of each feature's spread
        x = keras.layers.GaussianNoise(model_spec.input_noise, name="input_noise")(x)
    x = TRUNKS[model_spec.type](model_spec, x)
    if dataset.heads:
        outputs = {h.name: _head_output(model_spec, h, x) for h in dataset.heads}
        return keras.Model(inputs, outputs, name=f"{model_spec.type}_multitask")
    head = HEADS[dataset.task]
    outputs = keras.layers.Dense(
        head.units(dataset.n_classes),
        activation=head.activation,
        kernel_initializer=make_initializer(model_spec.initializer),
        # a polynomial model is this layer: its ridge penalty (`model.l2`) applies here
        kernel_regularizer=_regularizer(0.0, getattr(model_spec, "output_l2", 0.0)),
        dtype="float32",
        name="output",
    )(x)
    return keras.Model(inputs, outputs, name=f"{model_spec.type}_{dataset.task}")


def _head_output(model_spec: Any, head: Any, x: Any) -> Any:
    """One multitask output, named after its head; a regression output is in its target's
    units: the dense layer predicts the standardised target and a Rescaling layer undoes it."""
    import keras

    task = HEADS[head.task]
    dense = keras.layers.Dense(
        task.units(head.n_classes),
        activation=task.activation,
        kernel_initializer=make_initializer(model_spec.initializer),
        dtype="float32",
        name=head.name if head.task != "regression" else f"{head.name}_standardized",
    )(x)
    if head.task != "regression":
        return dense
    return keras.layers.Rescaling(
        scale=head.std, offset=head.mean, dtype="float32", name=head.name
    )(dense)
