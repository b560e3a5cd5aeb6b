"""Optimizers by name: the spec's keys are the Keras constructor's keyword arguments."""

from __future__ import annotations

from typing import Any

#: spec `train.optimizer.name` -> attribute of keras.optimizers
OPTIMIZERS: dict[str, str] = {
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "rmsprop": "RMSprop",
    "adam": "Adam",
    "adamw": "AdamW",
}


def make_optimizer(spec: Any, learning_rate: Any = None) -> Any:
    """A fresh Keras optimizer for the spec's `train.optimizer` section.

    `learning_rate` (a float or a Keras schedule) replaces the spec's constant rate when given.
    """
    import keras

    cls = getattr(keras.optimizers, OPTIMIZERS[spec.name])
    kwargs = {k: v for k, v in spec.model_dump().items() if k != "name" and v is not None}
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    return cls(**kwargs)
