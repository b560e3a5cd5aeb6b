"""The spec as frozen pydantic models: every key, its type, range and default.

Each section forbids unknown keys. Variants (data sources, model types, optimizers) are tagged
unions looked up by their tag (`source`, `type`, `name`), so each variant only accepts its own
keys. This module imports no numpy, TensorFlow or Keras: it is cheap to import.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    BaseModel,
    Field,
    model_validator,
)

from expctl.spec.base import Bool, Float, Int, Section
from expctl.spec.datasets import DATA_SOURCES, DataSpec, JetsData
from expctl.spec.fields import RunName
from expctl.spec.models import (
    HEAD_SOURCES,
    MODEL_INPUTS,
    MODEL_TYPES,
    HeadSpec,
    MlpModel,
    ModelSpec,
    layout_problem,
)
from expctl.spec.schedules import SCHEDULES
from expctl.spec.training import OPTIMIZERS, TrainSpec

#: Where the tagged unions sit in the spec, with their tag key and registry (for error messages).
TAGGED: dict[tuple[str, ...], tuple[str, dict[str, type[BaseModel]]]] = {
    ("data",): ("source", DATA_SOURCES),
    ("model",): ("type", MODEL_TYPES),
    ("train", "optimizer"): ("name", OPTIMIZERS),
    ("train", "schedule"): ("name", SCHEDULES),
}


class EvaluateSpec(Section):
    threshold: Float = Field(
        0.5, gt=0, lt=1, description="score above which an event is called signal"
    )
    fgsm_epsilons: list[Annotated[Float, Field(gt=0, le=100)]] = Field(
        [],
        max_length=32,
        description="FGSM strengths (standard deviations of each input) at which the test split "
        "is also attacked, with or without adversarial training; the test metrics get robustness",
    )

    @model_validator(mode="after")
    def _distinct_epsilons(self) -> EvaluateSpec:
        if len(set(self.fgsm_epsilons)) != len(self.fgsm_epsilons):
            raise ValueError("fgsm_epsilons: each strength once")
        return self


class TrackingSpec(Section):
    """Where a run is also recorded: TensorBoard event files, an MLflow tracking server."""

    tensorboard: Bool = Field(
        True, description="write <run>/tensorboard/ event files (scalars each epoch)"
    )
    histograms: Bool = Field(
        False, description="also a histogram of every weight each epoch in TensorBoard"
    )
    mlflow: str | None = Field(
        None,
        min_length=1,
        description="MLflow tracking URI (file:///path, http://host:5000): export the finished run",
    )
    mlflow_experiment: str = Field(
        "expctl", min_length=1, description="MLflow experiment the run is logged to"
    )

    @model_validator(mode="after")
    def _histograms_need_tensorboard(self) -> TrackingSpec:
        if self.histograms and not self.tensorboard:
            raise ValueError("histograms: true needs tensorboard: true")
        return self


class Spec(Section):
    """A whole experiment: data, model, training and evaluation."""

    name: RunName = "run"
    seed: Int = Field(0, ge=0, lt=2**32)
    data: DataSpec = JetsData()  # type: ignore[valid-type]
    model: ModelSpec = MlpModel()  # type: ignore[valid-type]
    train: TrainSpec = TrainSpec()
    evaluate: EvaluateSpec = EvaluateSpec()
    tracking: TrackingSpec = TrackingSpec()

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
        if self.train.pruning is not None:
            problems = self.train.pruning.epoch_problems(
                self.train.epochs, es.start_from_epoch if es is not None else None
            )
            if problems:
                raise ValueError(problems[0])
        if es is not None and es.monitor.startswith("val_") and self.data.split.val == 0:
            raise ValueError(
                f"train.early_stopping.monitor is {es.monitor!r} but data.split.val is 0: "
                "give the validation split a fraction, or monitor a training metric"
            )
        return self

    @property
    def heads(self) -> list[HeadSpec]:
        """The model's multitask heads (empty: one output for data.target)."""
        return list(getattr(self.model, "heads", None) or [])

    @model_validator(mode="after")
    def _heads_fit(self) -> Spec:
        if not self.heads:
            return self
        if self.data.source not in HEAD_SOURCES:
            raise ValueError(
                f"model.heads: data.source {self.data.source} has no named columns to predict; "
                f"heads need one of {', '.join(HEAD_SOURCES)}"
            )
        for key, value in (
            ("data.label_noise", self.data.label_noise),
            ("train.class_weight", self.train.class_weight),
            ("train.adversarial", self.train.adversarial),
            ("evaluate.fgsm_epsilons", self.evaluate.fgsm_epsilons),
        ):
            if value:
                raise ValueError(f"{key} is not supported with model.heads (multitask)")
        if self.data.task != "auto":
            raise ValueError("data.task: with model.heads each head has its own task; leave it out")
        return self

    @model_validator(mode="after")
    def _model_fits_data(self) -> Spec:
        layout = self.data.layout()
        problem = layout_problem(self.model.type, layout, f"data.source {self.data.source}")
        if problem and "images" in type(self.data).model_fields:
            wanted = MODEL_INPUTS[self.model.type] == "image"
            problem += f", or set data.images: {'true' if wanted else 'false'}"
        if problem:
            raise ValueError(problem)
        return self

    def check_input_shape(self, shape: tuple[int, ...]) -> list[str]:
        """Problems with the model for one event's feature shape (known once data is read)."""
        layout = {1: "table", 3: "image"}.get(len(shape), f"arrays of shape {shape}")
        problem = layout_problem(self.model.type, layout, "the data")
        if problem:
            return [problem]
        check = getattr(self.model, "shape_problems", None)
        return check(tuple(shape)) if check is not None else []

    def check_task(self, task: str) -> list[str]:
        """Problems with keys that do not apply to the data's task (known once data is read)."""
        if self.heads:
            return self._check_heads()
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

    def _check_heads(self) -> list[str]:
        problems = []
        heads = self.heads
        if self.train.label_smoothing and all(h.task == "regression" for h in heads):
            problems.append("train.label_smoothing: applies to classification heads; none has one")
        choices = head_monitor_choices([(h.name, h.task) for h in heads])
        for key, monitor in (
            ("train.early_stopping.monitor", getattr(self.train.early_stopping, "monitor", None)),
            ("train.schedule.monitor", getattr(self.train.schedule, "monitor", None)),
        ):
            if monitor is not None and monitor not in choices:
                problems.append(
                    f"{key}: {monitor!r} is not logged by this multitask model; "
                    f"one of {', '.join(choices)}"
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


def head_monitor_choices(heads: list[tuple[str, str]]) -> list[str]:
    """Logs of a multitask model (Keras' names): loss, then <head>_<metric> for each head."""
    logs = ["loss", *(f"{name}_{m}" for name, task in heads for m in TASK_LOGS[task])]
    return [*logs, *(f"val_{m}" for m in logs)]
