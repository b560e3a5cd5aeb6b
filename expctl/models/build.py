"""Build a Keras model from the validated spec and the prepared dataset.

The model is self-contained: its first layer standardises the raw features with the mean and
variance of the training split (a fixed Normalization layer), so `model.keras` predicts on raw
events. Trunks, heads and initializers (`expctl.models.mlp`) are registries keyed by the spec's
names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from expctl.models.cnn import augment_inputs, build_cnn
from expctl.models.mlp import INITIALIZERS, build_mlp, make_initializer, weight_regularizer

__all__ = ["HEADS", "INITIALIZERS", "RAW_INPUT_STAGES", "TRUNKS", "Head", "build_model"]


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


#: Thresholds of the per-epoch (training and validation) AUC Keras computes; the test AUC in
#: metrics.json is exact (every event).
AUC_THRESHOLDS = 1000


def _binary_metrics() -> list[Any]:
    import keras

    return [
        keras.metrics.BinaryAccuracy(name="accuracy"),
        keras.metrics.AUC(name="auc", num_thresholds=AUC_THRESHOLDS),
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

    inputs = keras.Input(shape=dataset.input_shape, name="features")  # (d,) or (h, w, c)
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
        kernel_regularizer=weight_regularizer(0.0, getattr(model_spec, "output_l2", 0.0)),
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
