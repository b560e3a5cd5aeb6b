"""Learning-rate schedules of `train.schedule`: one frozen model per `name`, each with its own keys.

The base learning rate stays `train.optimizer.learning_rate`; a schedule only says how it changes.
Epoch counts are whole epochs; `expctl.training.schedules` turns them into optimizer steps. Checks
that need `train.epochs` are in `ScheduleBase.epoch_problems`, for TrainSpec's validator to call.
Like `expctl.spec.schema`, this module imports no numpy, TensorFlow or Keras.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from expctl.spec.base import Bool, Float, Int, Section, tagged

_MAX_EPOCHS = 1_000_000


class ScheduleBase(Section):
    """Keys every schedule has (none but its `name`) and the checks against `train.epochs`."""

    def epoch_problems(self, epochs: int) -> list[str]:
        """What is wrong with this schedule for a training of `epochs` epochs (empty if nothing)."""
        return []


class ConstantSchedule(ScheduleBase):
    """The base learning rate throughout."""

    name: Literal["constant"] = "constant"


class StepSchedule(ScheduleBase):
    """Multiply the learning rate by `factor` every `every_epochs` epochs."""

    name: Literal["step"] = "step"
    every_epochs: Int = Field(
        10, ge=1, le=_MAX_EPOCHS, description="epochs between two drops of the learning rate"
    )
    factor: Float = Field(0.1, gt=0, le=1, description="multiplies the learning rate at each drop")


class ExponentialSchedule(ScheduleBase):
    """Multiply the learning rate by `decay_rate` per `decay_epochs` epochs, smoothly or in steps."""

    name: Literal["exponential"] = "exponential"
    decay_rate: Float = Field(0.96, gt=0, le=1, description="factor per `decay_epochs` epochs")
    decay_epochs: Int = Field(1, ge=1, le=_MAX_EPOCHS)
    staircase: Bool = Field(
        False, description="drop once per `decay_epochs` epochs instead of after every batch"
    )


class CosineSchedule(ScheduleBase):
    """Cosine decay from the base learning rate to `min_lr_fraction` of it at the last step."""

    name: Literal["cosine"] = "cosine"
    min_lr_fraction: Float = Field(
        0.0, ge=0, lt=1, description="final learning rate, as a fraction of the base one"
    )


class WarmupCosineSchedule(ScheduleBase):
    """Linear warm-up to the base learning rate over `warmup_epochs`, then cosine decay to the end."""

    name: Literal["warmup_cosine"] = "warmup_cosine"
    warmup_epochs: Int = Field(1, ge=0, le=_MAX_EPOCHS, description="0: no warm-up (plain cosine)")
    start_fraction: Float = Field(
        0.0, ge=0, lt=1, description="learning rate at step 0, as a fraction of the base one"
    )
    min_lr_fraction: Float = Field(
        0.0, ge=0, lt=1, description="final learning rate, as a fraction of the base one"
    )

    def epoch_problems(self, epochs: int) -> list[str]:
        if self.warmup_epochs >= epochs:
            return [
                f"train.schedule.warmup_epochs ({self.warmup_epochs}) must be less than "
                f"train.epochs ({epochs}): the warm-up would leave no epoch for the decay"
            ]
        return []


class PlateauSchedule(ScheduleBase):
    """Multiply the learning rate by `factor` when `monitor` stops improving (ReduceLROnPlateau)."""

    name: Literal["plateau"] = "plateau"
    monitor: str = Field(
        "val_loss", description="a per-epoch log: val_loss, val_auc, val_accuracy, loss, ..."
    )
    factor: Float = Field(0.5, gt=0, lt=1, description="multiplies the learning rate at each drop")
    patience: Int = Field(
        3, ge=1, le=100_000, description="epochs without improvement before a drop"
    )
    min_delta: Float = Field(0.0, ge=0, description="smallest change that counts as improvement")
    min_lr: Float = Field(0.0, ge=0, description="the learning rate never drops below this")
    cooldown: Int = Field(0, ge=0, le=100_000, description="epochs to wait after a drop")
    mode: Literal["auto", "min", "max"] = "auto"


SCHEDULES: dict[str, type[ScheduleBase]] = {
    "constant": ConstantSchedule,
    "step": StepSchedule,
    "exponential": ExponentialSchedule,
    "cosine": CosineSchedule,
    "warmup_cosine": WarmupCosineSchedule,
    "plateau": PlateauSchedule,
}

ScheduleSpec = tagged(SCHEDULES, "name", "constant")
