"""Learning-rate schedules: spec validation, rates against hand-written formulas, plateau, save/load."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

# The schema first: once it imports expctl.spec.schedules itself, that order is the one that works.
from expctl.spec import base as schema
from expctl.spec.schedules import (
    SCHEDULES,
    ConstantSchedule,
    PlateauSchedule,
    ScheduleSpec,
    WarmupCosineSchedule,
)

keras = pytest.importorskip("keras")

from expctl.training.schedules import (  # noqa: E402
    SCHEDULE_BUILDERS,
    make_schedule,
    steps_per_epoch,
)


class T(schema.Section):
    schedule: ScheduleSpec = ConstantSchedule()  # type: ignore[valid-type]


def parse(schedule: dict[str, Any]) -> Any:
    return T.model_validate({"schedule": schedule}).schedule


def lr_at(lr: Any, step: int) -> float:
    return float(keras.ops.convert_to_numpy(lr(step))) if callable(lr) else float(lr)


# ------------------------------------------------------------------------------------------ spec


def test_registries_match() -> None:
    assert list(SCHEDULE_BUILDERS) == list(SCHEDULES)
    for name, model in SCHEDULES.items():
        assert model().name == name


def test_defaults() -> None:
    assert parse({}) == ConstantSchedule()
    assert T().schedule == ConstantSchedule()
    step = parse({"name": "step"})
    assert (step.every_epochs, step.factor) == (10, 0.1)
    plateau = parse({"name": "plateau"})
    assert (plateau.monitor, plateau.factor, plateau.patience) == ("val_loss", 0.5, 3)
    assert parse({"name": "warmup_cosine", "warmup_epochs": 0}).warmup_epochs == 0


def test_unknown_name_lists_choices() -> None:
    with pytest.raises(ValidationError) as info:
        parse({"name": "cosine_restarts"})
    assert "unknown name: expected one of constant, step, exponential, cosine" in str(info.value)
    assert "warmup_cosine, plateau" in str(info.value)


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "step", "every_epochs": 0},
        {"name": "step", "factor": 0.0},
        {"name": "step", "factor": 1.5},
        {"name": "step", "every_epochs": 2.5},
        {"name": "step", "every_epochs": "3"},
        {"name": "exponential", "decay_rate": 0.0},
        {"name": "exponential", "decay_rate": 1.01},
        {"name": "exponential", "decay_epochs": 0},
        {"name": "exponential", "staircase": "yes"},
        {"name": "cosine", "min_lr_fraction": 1.0},
        {"name": "cosine", "min_lr_fraction": -0.1},
        {"name": "cosine", "min_lr_fraction": math.nan},
        {"name": "warmup_cosine", "warmup_epochs": -1},
        {"name": "warmup_cosine", "start_fraction": 1.0},
        {"name": "plateau", "factor": 1.0},
        {"name": "plateau", "patience": 0},
        {"name": "plateau", "min_delta": -1e-3},
        {"name": "plateau", "min_lr": -1.0},
        {"name": "plateau", "mode": "up"},
    ],
)
def test_out_of_range_rejected(schedule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse(schedule)


@pytest.mark.parametrize(
    "schedule",
    [
        {"every_epochs": 5},  # no name: constant, which has no keys
        {"name": "constant", "factor": 0.5},
        {"name": "cosine", "factor": 0.5},
        {"name": "step", "decay_rate": 0.5},
        {"name": "plateau", "patients": 3},
    ],
)
def test_unknown_keys_rejected(schedule: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        parse(schedule)


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        parse({"name": "step"}).factor = 0.5  # type: ignore[misc]


def test_warmup_must_leave_epochs_to_decay() -> None:
    spec = WarmupCosineSchedule(warmup_epochs=5)
    assert spec.epoch_problems(6) == []
    (problem,) = spec.epoch_problems(5)
    assert "train.schedule.warmup_epochs (5)" in problem and "train.epochs (5)" in problem
    assert PlateauSchedule().epoch_problems(1) == []
    with pytest.raises(ValueError, match="warmup_epochs"):
        make_schedule(spec, 0.1, 10, 5)


# ----------------------------------------------------------------------------- learning rates

BASE, SPE, EPOCHS = 0.1, 7, 12
TOTAL = SPE * EPOCHS
#: step 0, last step of epoch 1, first of epoch 2, mid-training, last step, past the end
STEPS = (0, SPE - 1, SPE, TOTAL // 2, TOTAL - 1, TOTAL, TOTAL + 3 * SPE)


def cosine(t: float, length: float, top: float, alpha: float) -> float:
    t = min(t, length)
    return top * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t / length)) + alpha)


def warmup_cosine(step: int, warmup: int, start: float, alpha: float) -> float:
    w = warmup * SPE
    if step < w:
        return BASE * start + (BASE - BASE * start) * step / w
    return cosine(step - w, TOTAL - w, BASE, alpha)


CASES: list[tuple[dict[str, Any], Any]] = [
    ({"name": "constant"}, lambda s: BASE),
    ({"name": "step", "every_epochs": 3, "factor": 0.5}, lambda s: BASE * 0.5 ** (s // SPE // 3)),
    ({"name": "step", "every_epochs": 1}, lambda s: BASE * 0.1 ** (s // SPE)),
    ({"name": "step", "every_epochs": 100}, lambda s: BASE),
    ({"name": "exponential"}, lambda s: BASE * 0.96 ** (s / SPE)),
    (
        {"name": "exponential", "decay_rate": 0.5, "decay_epochs": 2, "staircase": True},
        lambda s: BASE * 0.5 ** (s // (2 * SPE)),
    ),
    ({"name": "cosine"}, lambda s: cosine(s, TOTAL, BASE, 0.0)),
    ({"name": "cosine", "min_lr_fraction": 0.1}, lambda s: cosine(s, TOTAL, BASE, 0.1)),
    ({"name": "warmup_cosine"}, lambda s: warmup_cosine(s, 1, 0.0, 0.0)),
    (
        {
            "name": "warmup_cosine",
            "warmup_epochs": 3,
            "start_fraction": 0.1,
            "min_lr_fraction": 0.2,
        },
        lambda s: warmup_cosine(s, 3, 0.1, 0.2),
    ),
    ({"name": "warmup_cosine", "warmup_epochs": 0}, lambda s: cosine(s, TOTAL, BASE, 0.0)),
    ({"name": "plateau"}, lambda s: BASE),
]


@pytest.mark.parametrize(
    ("schedule", "formula"),
    CASES,
    ids=["-".join(f"{k}={v}" if k != "name" else str(v) for k, v in c.items()) for c, _ in CASES],
)
def test_learning_rate_follows_formula(schedule: dict[str, Any], formula: Any) -> None:
    lr, callbacks = make_schedule(parse(schedule), BASE, SPE, EPOCHS)
    if schedule["name"] in ("constant", "plateau"):
        assert isinstance(lr, float) and lr == BASE
    else:
        assert isinstance(lr, keras.optimizers.schedules.LearningRateSchedule)
    assert len(callbacks) == (schedule["name"] == "plateau")
    for step in STEPS:
        assert lr_at(lr, step) == pytest.approx(formula(step), rel=1e-5, abs=1e-9), step


def test_milestones() -> None:
    """The points that matter, written out: warm-up peak, step drops, the end of cosine."""
    lr, _ = make_schedule(parse({"name": "warmup_cosine", "warmup_epochs": 2}), BASE, SPE, EPOCHS)
    assert lr_at(lr, 0) == 0.0
    assert lr_at(lr, SPE) == pytest.approx(BASE / 2)
    assert lr_at(lr, 2 * SPE) == pytest.approx(BASE)
    assert lr_at(lr, TOTAL) == pytest.approx(0.0, abs=1e-9)
    lr, _ = make_schedule(parse({"name": "step", "every_epochs": 2}), BASE, SPE, EPOCHS)
    assert lr_at(lr, 2 * SPE - 1) == pytest.approx(BASE)
    assert lr_at(lr, 2 * SPE) == pytest.approx(BASE * 0.1)


def test_optimizer_reads_the_schedule() -> None:
    lr, _ = make_schedule(parse({"name": "step", "every_epochs": 1}), BASE, SPE, EPOCHS)
    opt = keras.optimizers.SGD(learning_rate=lr)
    opt.iterations.assign(SPE)
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(BASE * 0.1)
    with pytest.raises(TypeError):
        opt.learning_rate = 0.5  # why plateau needs a float learning rate


def test_steps_per_epoch() -> None:
    assert steps_per_epoch(640, 64) == 10
    assert steps_per_epoch(641, 64) == 11
    assert steps_per_epoch(3, 64) == 1
    with pytest.raises(ValueError):
        make_schedule(ConstantSchedule(), BASE, 0, EPOCHS)


# ------------------------------------------------------------------------------------- plateau


def tiny_model(lr: Any) -> Any:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
    return model


def current_lr(model: Any) -> float:
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_plateau_halves_after_patience() -> None:
    spec = parse({"name": "plateau", "patience": 2, "min_lr": 0.03})
    lr, (callback,) = make_schedule(spec, BASE, SPE, EPOCHS)
    model = tiny_model(lr)
    callback.set_model(model)
    callback.on_train_begin()
    seen = []
    for epoch, val_loss in enumerate([1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.75, 0.75, 0.75, 0.75]):
        callback.on_epoch_end(epoch, {"loss": 0.5, "val_loss": val_loss})
        seen.append(round(current_lr(model), 6))
    # epochs 3 and 4 do not beat 0.8: halved after epoch 4; 0.7 at epoch 5 is the new best,
    # then two more without improvement halve it to 0.025, clipped to min_lr 0.03, and it stays.
    assert seen == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.03, 0.03, 0.03, 0.03]


def test_plateau_max_mode() -> None:
    spec = parse({"name": "plateau", "monitor": "val_auc", "mode": "max", "patience": 1})
    lr, (callback,) = make_schedule(spec, BASE, SPE, EPOCHS)
    model = tiny_model(lr)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, auc in enumerate([0.80, 0.85, 0.84]):
        callback.on_epoch_end(epoch, {"val_auc": auc})
    assert current_lr(model) == pytest.approx(BASE * 0.5)


# ---------------------------------------------------------------------------------- save, load


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_fit_save_load(name: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = rng.normal(size=(40, 1)).astype("float32")
    spe = steps_per_epoch(32, 8)
    lr, callbacks = make_schedule(parse({"name": name}), BASE, spe, 3)
    model = tiny_model(lr)
    model.fit(
        x[:32],
        y[:32],
        batch_size=8,
        epochs=1,
        validation_data=(x[32:], y[32:]),
        callbacks=callbacks,
        verbose=0,
    )
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == spe
    assert current_lr(loaded) == pytest.approx(current_lr(model))
    if not isinstance(lr, float):
        restored = loaded.optimizer._learning_rate
        assert type(restored) is type(lr) and restored.get_config() == lr.get_config()
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
