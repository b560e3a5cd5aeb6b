"""The `train:` section: optimizers (looked up by `name`), early stopping, class weights, techniques."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)

from expctl.spec.base import Bool, Float, Int, Section, tagged
from expctl.spec.schedules import ConstantSchedule, ScheduleSpec
from expctl.spec.techniques import AdversarialSpec, PruningSpec


class OptimizerBase(Section):
    """Keys every optimizer has."""

    learning_rate: Float = Field(1e-3, gt=0, le=100)
    clipnorm: Float | None = Field(None, gt=0, description="clip each gradient to this L2 norm")
    clipvalue: Float | None = Field(None, gt=0, description="clip each gradient element to ±value")


class SgdOptimizer(OptimizerBase):
    name: Literal["sgd"] = "sgd"
    learning_rate: Float = Field(1e-2, gt=0, le=100)
    momentum: Float = Field(0.0, ge=0, lt=1)
    nesterov: Bool = False


class AdagradOptimizer(OptimizerBase):
    name: Literal["adagrad"] = "adagrad"
    learning_rate: Float = Field(1e-2, gt=0, le=100)
    initial_accumulator_value: Float = Field(0.1, ge=0)
    epsilon: Float = Field(1e-7, gt=0)


class RmspropOptimizer(OptimizerBase):
    name: Literal["rmsprop"] = "rmsprop"
    rho: Float = Field(0.9, gt=0, lt=1)
    momentum: Float = Field(0.0, ge=0, lt=1)
    epsilon: Float = Field(1e-7, gt=0)


class AdamOptimizer(OptimizerBase):
    name: Literal["adam"] = "adam"
    beta_1: Float = Field(0.9, ge=0, lt=1)
    beta_2: Float = Field(0.999, ge=0, lt=1)
    epsilon: Float = Field(1e-7, gt=0)
    amsgrad: Bool = False


class AdamwOptimizer(AdamOptimizer):
    name: Literal["adamw"] = "adamw"  # type: ignore[assignment]
    weight_decay: Float = Field(0.004, ge=0)


OPTIMIZERS: dict[str, type[OptimizerBase]] = {
    "sgd": SgdOptimizer,
    "adagrad": AdagradOptimizer,
    "rmsprop": RmspropOptimizer,
    "adam": AdamOptimizer,
    "adamw": AdamwOptimizer,
}


class EarlyStoppingSpec(Section):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs."""

    monitor: str = Field(
        "val_loss", description="a per-epoch log: val_loss, val_auc, val_accuracy, loss, ..."
    )
    patience: Int = Field(5, ge=0, le=100_000)
    min_delta: Float = Field(0.0, ge=0)
    restore_best: Bool = Field(True, description="end with the weights of the best epoch")
    mode: Literal["auto", "min", "max"] = "auto"
    start_from_epoch: Int = Field(0, ge=0, description="epochs to wait before monitoring starts")


OptimizerSpec = tagged(OPTIMIZERS, "name", "adam")


def _class_weight(value: Any) -> str | dict[int, float] | None:
    """`balanced`, or {class index: positive weight}."""
    if value is None or value == "balanced":
        return value
    if not isinstance(value, dict) or not value:
        raise ValueError(f"must be 'balanced' or a mapping {{class index: weight}}, got {value!r}")
    out = {}
    for key, weight in value.items():
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        if isinstance(key, bool) or not isinstance(key, int) or key < 0:
            raise ValueError(f"class {key!r}: keys are class indices 0, 1, ...")
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or weight <= 0
        ):
            raise ValueError(f"class {key}: weight must be a positive number, got {weight!r}")
        out[key] = float(weight)
    return out


ClassWeight = Annotated[
    Any,
    PlainValidator(_class_weight),
    WithJsonSchema(
        {
            "anyOf": [
                {"const": "balanced"},
                {
                    "type": "object",
                    "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                },
                {"type": "null"},
            ]
        }
    ),
]


class RandomSmoothingSpec(Section):
    """The lecture's random smooth labels: per event |ε| with ε ~ N(0, σ_ε), redrawn each epoch."""

    sigma: Float = Field(
        gt=0, lt=1, description="σ_ε of the Gaussian ε is drawn from (the lecture: σ_ε < 1)"
    )


_FIXED_SMOOTHING = TypeAdapter(Annotated[Float, Field(ge=0, lt=0.5, allow_inf_nan=False)])
_SMOOTHING_FORMS = "a number in [0, 0.5) (one fixed ε) or {sigma: σ} with σ in (0, 1) (random ε)"


def _label_smoothing(value: Any) -> float | RandomSmoothingSpec:
    """A number (fixed ε, validated as before) or {sigma: σ}; one message naming what is wrong."""
    if isinstance(value, RandomSmoothingSpec):
        return value
    if isinstance(value, dict):
        try:
            return RandomSmoothingSpec.model_validate(value)
        except ValidationError as exc:
            raise ValueError("; ".join(_smoothing_problem(e) for e in exc.errors())) from None
    try:
        return _FIXED_SMOOTHING.validate_python(value)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ValueError(f"{err['msg']} (got {value!r}); {_SMOOTHING_FORMS}") from None


def _smoothing_problem(err: Any) -> str:
    key = ".".join(str(part) for part in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {key!r}; the random form has one key, sigma"
    if err["type"] == "missing":
        return f"{key}: required key missing ({_SMOOTHING_FORMS})"
    return f"{key}: {err['msg']} (got {err['input']!r}); the lecture's σ_ε is in (0, 1)"


LabelSmoothing = Annotated[
    Any,
    PlainValidator(_label_smoothing),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "exclusiveMaximum": 0.5},
                {
                    "type": "object",
                    "properties": {
                        "sigma": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "exclusiveMaximum": 1,
                            "description": "σ_ε of the Gaussian ε is drawn from (σ_ε < 1)",
                        }
                    },
                    "required": ["sigma"],
                    "additionalProperties": False,
                },
            ]
        }
    ),
]


class TrainSpec(Section):
    """Optimizer, batch size, epochs and early stopping."""

    optimizer: OptimizerSpec = AdamOptimizer()  # type: ignore[valid-type]
    schedule: ScheduleSpec = Field(  # type: ignore[valid-type]
        ConstantSchedule(),
        description="how the learning rate changes; the base rate is optimizer.learning_rate",
    )
    batch_size: Int = Field(256, ge=1, le=10_000_000)
    epochs: Int = Field(30, ge=1, le=1_000_000)
    early_stopping: EarlyStoppingSpec | None = None
    shuffle: Bool = True
    label_smoothing: LabelSmoothing = Field(
        0.0,
        description="classification: hard targets 0/1 become ε and 1-ε (ε/(K-1) per wrong class); "
        "a number is one fixed ε, {sigma: σ} draws |ε| per event and epoch, ε ~ N(0, σ)",
    )
    class_weight: ClassWeight = Field(
        None, description="balanced, or {class index: weight}; classification only"
    )
    precision: Literal["float32", "mixed_bfloat16", "mixed_float16"] = Field(
        "float32",
        description="mixed_*: layers compute in 16 bits, weights, outputs and metrics stay float32",
    )
    jit_compile: Bool = Field(
        False,
        description="compile the train step with XLA; such runs are not bit-reproducible "
        "(TensorFlow's op determinism excludes XLA)",
    )
    adversarial: AdversarialSpec | None = Field(
        None, description="FGSM adversarial training; the test metrics get adversarial_* at ε"
    )
    pruning: PruningSpec | None = Field(
        None, description="magnitude pruning of the hidden kernels; the test metrics get sparsity"
    )
