"""The spec as frozen pydantic models: every key, its type, range and default.

Each section forbids unknown keys. Variants (data sources, model types, optimizers) are tagged
unions looked up by their tag (`source`, `type`, `name`), so each variant only accepts its own
keys. This module imports no numpy, TensorFlow or Keras: it is cheap to import.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from expctl.spec.base import Bool, Float, Int, Section, tagged
from expctl.spec.schedules import SCHEDULES, ConstantSchedule, ScheduleSpec

#: Run names end up in directory names: no separators, no dots at the start, bounded length.
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


def _per_layer(low: float, high: float | None, what: str) -> Any:
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


# ----------------------------------------------------------------------------------------- data


class SplitSpec(Section):
    """Fractions of the events in the train, validation and test splits (they sum to 1)."""

    train: Float = Field(0.6, gt=0, lt=1)
    val: Float = Field(0.2, ge=0, lt=1)
    test: Float = Field(0.2, gt=0, lt=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitSpec:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class DataCommon(Section):
    """Keys every data source has."""

    split: SplitSpec = SplitSpec()
    task: Task = Field(
        "auto", description="binary | multiclass | regression; auto infers it from the target"
    )
    standardize: Bool = Field(
        True, description="standardise features with mean/std of the training split"
    )
    seed: Int | None = Field(
        None,
        ge=0,
        lt=2**32,
        description="seed of data generation, subsampling and split; default: the run's seed",
    )
    label_noise: Float = Field(
        0.0, ge=0, lt=1, description="flip this fraction of the training labels (never val/test)"
    )


class JetsData(DataCommon):
    """Built-in synthetic W-jet vs QCD-jet features (see docs/jets.md)."""

    source: Literal["jets"] = "jets"
    n_samples: Int = Field(20000, ge=50, le=50_000_000)
    signal_fraction: Float = Field(0.5, gt=0, lt=1)
    target: Literal["label", "energy"] = "label"
    features: list[Literal[JET_COLUMNS]] | None = Field(  # type: ignore[valid-type]
        None, min_length=1, description="default: every observable (all but energy and label)"
    )


class DigitsData(DataCommon):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes), as 64 features."""

    source: Literal["digits"] = "digits"
    n_samples: Int | None = Field(None, ge=50, description="use a random subset of this size")


class TableFile(DataCommon):
    """A table on disk: one row per event, one column per feature."""

    path: str = Field(
        min_length=1, description="relative paths: spec folder, then $EXPCTL_DATA_DIR"
    )
    target: str = Field(min_length=1)
    features: list[str] | None = Field(None, min_length=1, description="default: all other columns")
    weight: str | None = Field(
        None,
        min_length=1,
        description="column of per-event weights, used in the loss and every metric",
    )
    n_samples: Int | None = Field(None, ge=50, description="use a random subset of this size")


class CsvData(TableFile):
    source: Literal["csv"] = "csv"


class ParquetData(TableFile):
    source: Literal["parquet"] = "parquet"


class NpzData(DataCommon):
    """A NumPy .npz archive (never unpickled): features and target as two named arrays."""

    source: Literal["npz"] = "npz"
    path: str = Field(min_length=1)
    x: str = Field(
        "x", min_length=1, description="name of the feature array (n_events, n_features)"
    )
    y: str = Field("y", min_length=1, description="name of the target array (n_events,)")
    weight: str | None = Field(
        None, min_length=1, description="name of an array of per-event weights"
    )
    n_samples: Int | None = Field(None, ge=50)


class PolynomialData(DataCommon):
    """Built-in regression data: y = a known polynomial of x + N(0, sigma²), x uniform in a range.

    Give the `coefficients` (lowest order first), or a `degree` for N(0, 1) coefficients drawn
    from the data seed. The truth is known, so `expctl biasvar` reports noise and bias² apart.
    """

    source: Literal["polynomial"] = "polynomial"
    coefficients: list[Float] | None = Field(
        None, min_length=1, max_length=21, description="c0, c1, ...: y = c0 + c1 x + c2 x² + ..."
    )
    degree: Int | None = Field(
        None, ge=0, le=20, description="degree of random N(0, 1) coefficients; default 2"
    )
    sigma: Float = Field(0.3, ge=0, description="standard deviation of the Gaussian noise on y")
    n_samples: Int = Field(500, ge=50, le=10_000_000)
    x_min: Float = -1.0
    x_max: Float = 1.0
    task: Literal["auto", "regression"] = "regression"

    @model_validator(mode="after")
    def _range(self) -> PolynomialData:
        if not self.x_min < self.x_max:
            raise ValueError(f"x_min must be below x_max, got {self.x_min:g} >= {self.x_max:g}")
        if self.coefficients is not None and self.degree is not None:
            raise ValueError("give coefficients or degree, not both")
        return self


DATA_SOURCES: dict[str, type[DataCommon]] = {
    "jets": JetsData,
    "digits": DigitsData,
    "csv": CsvData,
    "parquet": ParquetData,
    "npz": NpzData,
    "polynomial": PolynomialData,
}


# ---------------------------------------------------------------------------------------- model


class InitializerSpec(Section):
    """Initial weights: a Keras initializer whose spread is multiplied by `scale`."""

    name: Literal[INITIALIZERS] = "glorot_uniform"  # type: ignore[valid-type]
    scale: Float = Field(
        1.0, gt=0, le=1e3, description="multiplies the spread (std) of the initial weights"
    )


class MlpModel(Section):
    """A multilayer perceptron: dense hidden layers, then an output head for the task."""

    type: Literal["mlp"] = "mlp"
    hidden: list[Annotated[int, Strict(), Field(ge=1, le=100_000)]] = Field(
        default_factory=lambda: [64, 64], max_length=64
    )
    activation: Literal[ACTIVATIONS] = "relu"  # type: ignore[valid-type]
    dropout: _per_layer(0.0, 1.0, "dropout") = 0.0  # type: ignore[valid-type]
    l1: _per_layer(0.0, None, "l1") = 0.0  # type: ignore[valid-type]
    l2: _per_layer(0.0, None, "l2") = 0.0  # type: ignore[valid-type]
    initializer: InitializerSpec = InitializerSpec()
    weight_clip: Float | None = Field(
        None, gt=0, description="clip every kernel value to ±c after each update"
    )
    max_norm: Float | None = Field(
        None, gt=0, description="max-norm constraint on each unit's incoming weights"
    )
    input_noise: Float = Field(
        0.0,
        ge=0,
        le=1,
        description="std of Gaussian noise on the standardised inputs, training only",
    )
    weight_noise: Float = Field(
        0.0, ge=0, description="each training step uses θ+ε with ε drawn afresh; inference uses θ"
    )
    weight_noise_dist: Literal["gaussian", "uniform"] = Field(
        "gaussian", description="gaussian: ε ~ N(0, σ²); uniform: ε ~ U(-σ, σ), σ = weight_noise"
    )

    @model_validator(mode="after")
    def _one_value_per_layer(self) -> MlpModel:
        for key in ("dropout", "l1", "l2"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) != len(self.hidden):
                raise ValueError(
                    f"{key} has {len(value)} values but hidden has {len(self.hidden)} layers: "
                    "give one number, or one per hidden layer"
                )
        return self

    def per_layer(self, key: str) -> list[float]:
        """The value of `dropout`, `l1` or `l2` for each hidden layer."""
        value = getattr(self, key)
        return list(value) if isinstance(value, list) else [value] * len(self.hidden)


class PolynomialModel(Section):
    """A linear model on polynomial features (Legendre polynomials) of each input, up to `degree`.

    The features of each input are P_1(z) .. P_degree(z) with z the standardised input over √3
    (a uniform input spans [-1, 1]); the span is that of x, x², ..., so this is polynomial
    regression, but well conditioned for gradient descent. `l2` penalises the output weights.
    """

    type: Literal["polynomial"] = "polynomial"
    degree: Int = Field(2, ge=1, le=30)
    l2: Float = Field(0.0, ge=0, description="L2 penalty on the coefficients (ridge)")
    initializer: InitializerSpec = InitializerSpec()
    input_noise: Float = Field(
        0.0,
        ge=0,
        le=1,
        description="std of Gaussian noise on the standardised inputs, training only",
    )

    @property
    def output_l2(self) -> float:
        """L2 penalty of the output layer (build_model reads it; an MLP has none)."""
        return self.l2


MODEL_TYPES: dict[str, type[Section]] = {"mlp": MlpModel, "polynomial": PolynomialModel}


# ------------------------------------------------------------------------------------- training


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


# --------------------------------------------------------------------------------- tagged unions


DataSpec = tagged(DATA_SOURCES, "source", "jets")
ModelSpec = tagged(MODEL_TYPES, "type", "mlp")
OptimizerSpec = tagged(OPTIMIZERS, "name", "adam")

#: Where the tagged unions sit in the spec, with their tag key and registry (for error messages).
TAGGED: dict[tuple[str, ...], tuple[str, dict[str, type[BaseModel]]]] = {
    ("data",): ("source", DATA_SOURCES),
    ("model",): ("type", MODEL_TYPES),
    ("train", "optimizer"): ("name", OPTIMIZERS),
    ("train", "schedule"): ("name", SCHEDULES),
}


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
    label_smoothing: Float = Field(
        0.0,
        ge=0,
        lt=1,
        description="classification: hard targets 0/1 become ε/K and 1-ε+ε/K (Keras)",
    )
    class_weight: ClassWeight = Field(
        None, description="balanced, or {class index: weight}; classification only"
    )


class EvaluateSpec(Section):
    threshold: Float = Field(
        0.5, gt=0, lt=1, description="score above which an event is called signal"
    )


class Spec(Section):
    """A whole experiment: data, model, training and evaluation."""

    name: RunName = "run"
    seed: Int = Field(0, ge=0, lt=2**32)
    data: DataSpec = JetsData()  # type: ignore[valid-type]
    model: ModelSpec = MlpModel()  # type: ignore[valid-type]
    train: TrainSpec = TrainSpec()
    evaluate: EvaluateSpec = EvaluateSpec()

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        sched = self.train.schedule
        problems = sched.epoch_problems(self.train.epochs)
        if problems:
            raise ValueError(problems[0])
        if (
            sched.name == "plateau"
            and sched.monitor.startswith("val_")
            and self.data.split.val == 0
        ):
            raise ValueError(
                f"train.schedule.monitor is {sched.monitor!r} but data.split.val is 0: "
                "give the validation split a fraction, or monitor a training metric"
            )
        es = self.train.early_stopping
        if es is not None and es.monitor.startswith("val_") and self.data.split.val == 0:
            raise ValueError(
                f"train.early_stopping.monitor is {es.monitor!r} but data.split.val is 0: "
                "give the validation split a fraction, or monitor a training metric"
            )
        return self

    def check_task(self, task: str) -> list[str]:
        """Problems with keys that do not apply to the data's task (known once data is read)."""
        problems = []
        if task == "regression":
            for key, value in (
                ("train.label_smoothing", self.train.label_smoothing),
                ("data.label_noise", self.data.label_noise),
                ("train.class_weight", self.train.class_weight),
            ):
                if value:
                    problems.append(
                        f"{key}: applies to classification only, but the task is regression"
                    )
        es = self.train.early_stopping
        if es is not None and es.monitor not in monitor_choices(task):
            problems.append(
                f"train.early_stopping.monitor: {es.monitor!r} is not logged for a {task} task; "
                f"one of {', '.join(monitor_choices(task))}"
            )
        sched = self.train.schedule
        if sched.name == "plateau" and sched.monitor not in monitor_choices(task):
            problems.append(
                f"train.schedule.monitor: {sched.monitor!r} is not logged for a {task} task; "
                f"one of {', '.join(monitor_choices(task))}"
            )
        return problems


#: Per-epoch logs each task produces; early stopping may only monitor these.
TASK_LOGS: dict[str, tuple[str, ...]] = {
    "binary": ("loss", "accuracy", "auc"),
    "multiclass": ("loss", "accuracy"),
    "regression": ("loss", "mae"),
}


def monitor_choices(task: str) -> list[str]:
    """Names early stopping can monitor for a task (training and validation logs)."""
    logs = TASK_LOGS[task]
    return [*logs, *(f"val_{m}" for m in logs)]
