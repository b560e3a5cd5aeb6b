"""Learning-rate schedules by name: what the optimizer gets as `learning_rate`, plus fit callbacks.

Every schedule is a built-in Keras class (ExponentialDecay, CosineDecay) or a Keras callback
(ReduceLROnPlateau), so a model saved with its optimizer loads with `safe_mode=True` and no
custom objects. Keras steps are optimizer iterations (batches), counted from 0 over the whole fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras

    LearningRate = float | keras.optimizers.schedules.LearningRateSchedule
    #: builder(spec, base_lr, steps_per_epoch, epochs) -> (optimizer learning_rate, fit callbacks)
    Builder = Callable[[Any, float, int, int], tuple[LearningRate, list[keras.callbacks.Callback]]]


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps in one epoch of `model.fit` on arrays: one per batch, the last one partial."""
    return max(1, math.ceil(n_train / batch_size))


def _constant(
    spec: Any, base_lr: float, steps_per_epoch: int, epochs: int
) -> tuple[LearningRate, list[keras.callbacks.Callback]]:
    """The base learning rate throughout."""
    return base_lr, []


def _step(
    spec: Any, base_lr: float, steps_per_epoch: int, epochs: int
) -> tuple[LearningRate, list[keras.callbacks.Callback]]:
    """base_lr × factor^floor(epoch / every_epochs), epoch counted from 0.

    A staircase ExponentialDecay is exactly this function: unlike PiecewiseConstantDecay it costs
    one op per step whatever the number of drops, and needs no list of boundaries.
    """
    import keras

    return keras.optimizers.schedules.ExponentialDecay(
        base_lr,
        decay_steps=spec.every_epochs * steps_per_epoch,
        decay_rate=spec.factor,
        staircase=True,
    ), []


def _exponential(
    spec: Any, base_lr: float, steps_per_epoch: int, epochs: int
) -> tuple[LearningRate, list[keras.callbacks.Callback]]:
    """base_lr × decay_rate^(step / (decay_epochs × steps_per_epoch)), floored if `staircase`."""
    import keras

    return keras.optimizers.schedules.ExponentialDecay(
        base_lr,
        decay_steps=spec.decay_epochs * steps_per_epoch,
        decay_rate=spec.decay_rate,
        staircase=spec.staircase,
    ), []


def _cosine(
    spec: Any, base_lr: float, steps_per_epoch: int, epochs: int
) -> tuple[LearningRate, list[keras.callbacks.Callback]]:
    """Cosine decay from base_lr to min_lr_fraction × base_lr over all epochs × steps_per_epoch."""
    import keras

    return keras.optimizers.schedules.CosineDecay(
        base_lr, decay_steps=epochs * steps_per_epoch, alpha=spec.min_lr_fraction
    ), []


def _warmup_cosine(
    spec: Any, base_lr: float, steps_per_epoch: int, epochs: int
) -> tuple[LearningRate, list[keras.callbacks.Callback]]:
    """Linear from start_fraction × base_lr to base_lr over the warm-up, then cosine to the end.

    Keras' CosineDecay counts `decay_steps` after the warm-up, so they are the remaining steps.
    """
    import keras

    if spec.warmup_epochs >= epochs:
        raise ValueError(spec.epoch_problems(epochs)[0])
    warmup_steps = spec.warmup_epochs * steps_per_epoch
    decay_steps = (epochs - spec.warmup_epochs) * steps_per_epoch
    if warmup_steps == 0:
        return _cosine(spec, base_lr, steps_per_epoch, epochs)
    return keras.optimizers.schedules.CosineDecay(
        base_lr * spec.start_fraction,
        decay_steps=decay_steps,
        alpha=spec.min_lr_fraction,
        warmup_target=base_lr,
        warmup_steps=warmup_steps,
    ), []


def _plateau(
    spec: Any, base_lr: float, steps_per_epoch: int, epochs: int, heads: Sequence[str] = ()
) -> tuple[LearningRate, list[keras.callbacks.Callback]]:
    """A constant learning rate that a ReduceLROnPlateau callback lowers at the end of epochs.

    The optimizer must get a float: Keras refuses to set the learning rate of an optimizer built
    with a schedule, so the callback would fail at its first drop. `heads`: a multitask model's
    head names, for the direction of a head's log in mode auto.
    """
    import keras

    from expctl.training.callbacks import monitor_mode

    callback = keras.callbacks.ReduceLROnPlateau(
        monitor=spec.monitor,
        factor=spec.factor,
        patience=spec.patience,
        min_delta=spec.min_delta,
        min_lr=spec.min_lr,
        cooldown=spec.cooldown,
        mode=monitor_mode(spec.monitor, spec.mode, heads, key="train.schedule.monitor"),
        verbose=0,
    )
    return base_lr, [callback]


#: spec `train.schedule.name` -> builder
SCHEDULE_BUILDERS: dict[str, Builder] = {
    "constant": _constant,
    "step": _step,
    "exponential": _exponential,
    "cosine": _cosine,
    "warmup_cosine": _warmup_cosine,
    "plateau": _plateau,
}


def make_schedule(
    spec: Any, base_lr: float, steps_per_epoch: int, epochs: int, heads: Sequence[str] = ()
) -> tuple[LearningRate, list[keras.callbacks.Callback]]:
    """The optimizer's `learning_rate` and the callbacks to add to fit for a `train.schedule`.

    Args:
        spec: a `train.schedule` section (any model of `expctl.spec.schedules.SCHEDULES`).
        base_lr: `train.optimizer.learning_rate`.
        steps_per_epoch: batches per epoch, see `steps_per_epoch(n_train, batch_size)`.
        epochs: `train.epochs` (the schedule spans all of them even if early stopping ends sooner).
        heads: a multitask model's head names (the plateau schedule's monitor may be a head's log).

    Returns:
        A float or a Keras LearningRateSchedule for the optimizer's constructor, and a list of
        callbacks (possibly empty) that must be passed to `model.fit`.
    """
    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(
            f"steps_per_epoch and epochs must be >= 1, got {steps_per_epoch} and {epochs}"
        )
    builder = SCHEDULE_BUILDERS[spec.name]
    if builder is _plateau:  # the one schedule that watches a log, which may be a head's
        return _plateau(spec, float(base_lr), steps_per_epoch, epochs, heads)
    return builder(spec, float(base_lr), steps_per_epoch, epochs)
