"""The `cnn` trunk: convolution blocks, then the dense hidden layers of the `mlp` trunk.

Each block is Conv2D -> (BatchNormalization) -> activation -> (MaxPooling2D) -> (Dropout); with
batch norm the convolution has no bias (the normalisation's shift replaces it). The last feature
maps are flattened, or reduced by global average or max pooling, and feed `build_mlp`.
Augmentation (`augment_inputs`) runs on the raw images, before the standardisation layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from expctl.models.mlp import build_mlp, keras_activation, make_initializer


def _flatten() -> Any:
    import keras

    return keras.layers.Flatten(name="flatten")


def _global_average() -> Any:
    import keras

    return keras.layers.GlobalAveragePooling2D(name="global_average_pool")


def _global_max() -> Any:
    import keras

    return keras.layers.GlobalMaxPooling2D(name="global_max_pool")


#: `model.global_pool` -> the layer turning the last feature maps into a vector.
GLOBAL_POOLS: dict[str, Callable[[], Any]] = {
    "none": _flatten,
    "average": _global_average,
    "max": _global_max,
}


def conv_constraint(weight_clip: float | None, max_norm: float | None) -> Any:
    """Clipping and/or max-norm of each filter (its kernel over height, width and input channels)."""
    import keras

    from expctl.models import regularizers as reg

    parts: list[Any] = []
    if weight_clip is not None:
        parts.append(reg.ClipWeights(weight_clip))
    if max_norm is not None:
        parts.append(keras.constraints.MaxNorm(max_value=max_norm, axis=[0, 1, 2]))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else reg.ChainedConstraint(parts)


def build_cnn(model_spec: Any, x: Any) -> Any:
    """Convolution blocks, a flatten or global pooling, then the dense hidden layers."""
    import keras

    activation = keras_activation(model_spec.activation)
    for i, layer in enumerate(model_spec.conv, start=1):
        x = keras.layers.Conv2D(
            layer.filters,
            layer.kernel_size,
            padding=layer.padding,
            activation=None if layer.batch_norm else activation,
            use_bias=not layer.batch_norm,
            kernel_initializer=make_initializer(model_spec.initializer),
            kernel_regularizer=keras.regularizers.L2(layer.l2) if layer.l2 > 0 else None,
            kernel_constraint=conv_constraint(model_spec.weight_clip, model_spec.max_norm),
            name=f"conv_{i}",
        )(x)
        if layer.batch_norm:
            x = keras.layers.BatchNormalization(name=f"batch_norm_{i}")(x)
            x = keras.layers.Activation(activation, name=f"conv_{i}_activation")(x)
        if layer.pool > 1:
            x = keras.layers.MaxPooling2D(layer.pool, name=f"pool_{i}")(x)
        if layer.dropout > 0:
            x = keras.layers.Dropout(layer.dropout, name=f"conv_dropout_{i}")(x)
    x = GLOBAL_POOLS[model_spec.global_pool]()(x)
    return build_mlp(model_spec, x)


def augment_inputs(model_spec: Any, x: Any) -> Any:
    """The spec's `augment` layers on the raw images (training only)."""
    from expctl.models.augment import augment

    return augment(model_spec.augment, x)
