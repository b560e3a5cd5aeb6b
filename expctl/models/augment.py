"""Data augmentation inside the model: Keras preprocessing layers, active in training only.

Each key of the spec's `model.augment` maps to a factory that returns its layer, or None when the
key is off. The layers are applied in registry order to the raw images (before standardisation),
and each is wired into the graph with `training=False`: `fit` calls the model with
`training=True` and so augments, while `predict`, `evaluate` and a bare `model(x)` leave the
images untouched (Keras' random image layers would otherwise default to training mode).
Geometric transformations fill the pixels they move in with 0, the empty pixel of every expctl
image source; `contrast` assumes pixels in [0, 1] and clips to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: Geometric transformations fill with this value: 0 is an empty pixel.
FILL = {"fill_mode": "constant", "fill_value": 0.0, "interpolation": "bilinear"}


def _flip(mode: str) -> Any:
    import keras

    return None if mode == "none" else keras.layers.RandomFlip(mode, name="augment_flip")


def _rotation(factor: float) -> Any:
    import keras

    # Keras' factor is a fraction of a full turn: ±factor·2π
    return keras.layers.RandomRotation(factor, name="augment_rotation", **FILL) if factor else None


def _zoom(factor: float) -> Any:
    import keras

    return keras.layers.RandomZoom(factor, name="augment_zoom", **FILL) if factor else None


def _translation(factor: float) -> Any:
    import keras

    if not factor:
        return None
    return keras.layers.RandomTranslation(factor, factor, name="augment_translation", **FILL)


def _contrast(factor: float) -> Any:
    import keras

    if not factor:
        return None
    return keras.layers.RandomContrast(factor, value_range=(0, 1), name="augment_contrast")


def _noise(stddev: float) -> Any:
    import keras

    return keras.layers.GaussianNoise(stddev, name="augment_noise") if stddev else None


#: `model.augment` key -> factory of its layer (None when off), in the order they are applied.
AUGMENTATIONS: dict[str, Callable[[Any], Any]] = {
    "flip": _flip,
    "rotation": _rotation,
    "zoom": _zoom,
    "translation": _translation,
    "contrast": _contrast,
    "noise": _noise,
}


def augmentation_layers(augment_spec: Any) -> list[Any]:
    """The layers the spec's `augment` section switches on, in the order they are applied."""
    layers = (make(getattr(augment_spec, key)) for key, make in AUGMENTATIONS.items())
    return [layer for layer in layers if layer is not None]


def augment(augment_spec: Any, x: Any) -> Any:
    """Apply the augmentation layers to the symbolic images `x` (training only, see the module doc)."""
    for layer in augmentation_layers(augment_spec):
        x = layer(x, training=False)  # the default for inference; fit overrides it with True
    return x
