"""Training pieces: callbacks fed hand-written epoch logs, optimizers and initializers from the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from expctl.models.build import INITIALIZERS, build_model  # noqa: E402
from expctl.spec import spec_from_dict  # noqa: E402
from expctl.spec.fields import INITIALIZERS as SPEC_INITIALIZERS  # noqa: E402
from expctl.spec.training import OPTIMIZERS as SPEC_OPTIMIZERS  # noqa: E402
from expctl.training import OPTIMIZERS, make_optimizer  # noqa: E402
from expctl.training.callbacks import DivergenceStop, EpochRecorder  # noqa: E402
from expctl.training.fit import steps_per_execution  # noqa: E402


class _FakeModel:
    stop_training = False

    class optimizer:
        learning_rate = 0.5


def test_divergence_stop_on_hand_written_logs() -> None:
    cb = DivergenceStop()
    cb.set_model(_FakeModel())
    cb.on_epoch_end(0, {"loss": 0.7, "val_loss": 0.6})
    assert not cb.model.stop_training and cb.diverged_epoch is None
    cb.on_epoch_end(1, {"loss": 0.5, "val_loss": math.inf})
    assert cb.model.stop_training and cb.diverged_epoch == 2 and "val_loss is inf" in cb.reason


def test_epoch_recorder_rows() -> None:
    seen = []
    cb = EpochRecorder(lambda rows: seen.append(len(rows)))
    cb.set_model(_FakeModel())
    for epoch in range(3):
        cb.on_epoch_begin(epoch)
        cb.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0})
    assert seen == [1, 2, 3]
    assert [r["epoch"] for r in cb.rows] == [1, 2, 3]
    assert cb.rows[2]["loss"] == pytest.approx(1 / 3) and cb.rows[0]["learning_rate"] == 0.5


def test_registries_cover_the_spec() -> None:
    assert set(OPTIMIZERS) == set(SPEC_OPTIMIZERS)
    assert set(INITIALIZERS) == set(SPEC_INITIALIZERS)


@pytest.mark.parametrize("name", sorted(SPEC_OPTIMIZERS))
def test_optimizer_hyperparameters_reach_keras(name: str) -> None:
    spec = spec_from_dict(
        {"train": {"optimizer": {"name": name, "learning_rate": 0.05, "clipnorm": 1.0}}}
    )
    opt = make_optimizer(spec.train.optimizer)
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.05)
    assert opt.clipnorm == 1.0
    if name == "sgd":
        spec = spec_from_dict(
            {"train": {"optimizer": {"name": "sgd", "momentum": 0.9, "nesterov": True}}}
        )
        opt = make_optimizer(spec.train.optimizer)
        assert opt.momentum == 0.9 and opt.nesterov
    if name == "rmsprop":
        spec = spec_from_dict({"train": {"optimizer": {"name": "rmsprop", "rho": 0.8}}})
        assert make_optimizer(spec.train.optimizer).rho == 0.8


def _dataset(n_features: int = 50):
    from expctl.data import Dataset, Split

    x = np.zeros((4, n_features), np.float32)
    y = np.zeros(4, np.int64)
    return Dataset(
        Split(x, y),
        Split(x, y),
        Split(x, y),
        "binary",
        tuple(f"f{i}" for i in range(n_features)),
        "y",
        (0, 1),
        np.zeros(n_features),
        np.ones(n_features),
        "test",
    )


@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
def test_initializer_scale_multiplies_the_weight_spread(scale: float) -> None:
    keras.utils.set_random_seed(0)
    spec = spec_from_dict(
        {"model": {"hidden": [400], "initializer": {"name": "he_normal", "scale": scale}}}
    )
    model = build_model(spec.model, _dataset(400))
    kernel = model.get_layer("dense_1").kernel.numpy()
    # he_normal: std sqrt(2/fan_in) (Keras corrects the truncated normal for its truncation)
    expected = scale * math.sqrt(2 / 400)
    assert kernel.std() == pytest.approx(expected, rel=0.02)


def test_model_structure_follows_the_spec() -> None:
    spec = spec_from_dict(
        {"model": {"hidden": [16, 8], "dropout": [0.0, 0.3], "l2": [1e-3, 0.0], "l1": 0.0}}
    )
    model = build_model(spec.model, _dataset(5))
    names = [layer.name for layer in model.layers]
    assert names == ["features", "standardize", "dense_1", "dense_2", "dropout_2", "output"]
    assert model.get_layer("dropout_2").rate == 0.3
    assert model.get_layer("dense_1").kernel_regularizer.l2 == pytest.approx(1e-3)
    assert model.get_layer("dense_2").kernel_regularizer is None
    assert model.output_shape == (None, 1)


def test_constant_initializer_makes_units_identical() -> None:
    spec = spec_from_dict(
        {"model": {"hidden": [4], "initializer": {"name": "constant", "scale": 2.0}}}
    )
    kernel = build_model(spec.model, _dataset(3)).get_layer("dense_1").kernel.numpy()
    assert np.all(kernel == pytest.approx(0.1))


def test_steps_per_execution() -> None:
    assert steps_per_execution(100, 256) == 1
    assert steps_per_execution(12000, 256) == 47
    assert steps_per_execution(10**6, 32) == 64


def test_run_hooks_transform_the_dataset_and_add_callbacks(tmp_path) -> None:
    """`RunHooks.dataset` changes what is trained on; `RunHooks.callbacks` see every epoch."""
    import dataclasses
    import json

    from conftest import TINY

    from expctl.runner import RunHooks, run
    from expctl.spec import LoadedSpec

    loaded = LoadedSpec(spec_from_dict(TINY), "<test>", tmp_path)
    seen: list[int] = []
    sizes: list[int] = []

    class Probe(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(epoch)

    def half(dataset):
        sizes.append(len(dataset.train))
        train = dataset.train
        keep = slice(0, len(train) // 2)
        smaller = dataclasses.replace(train, x=train.x[keep], y=train.y[keep])
        return dataclasses.replace(dataset, train=smaller)

    outcome = run(loaded, tmp_path, hooks=RunHooks(dataset=half, callbacks=[Probe()]))
    assert seen == [0, 1]
    data = json.loads((outcome.run_dir / "data.json").read_text())
    assert data["n_train"] == sizes[0] // 2


def test_run_hooks_can_leave_out_the_plots(tmp_path) -> None:
    from conftest import TINY

    from expctl.runner import RunHooks, run
    from expctl.spec import LoadedSpec

    loaded = LoadedSpec(spec_from_dict(TINY), "<test>", tmp_path)
    with_plots = run(loaded, tmp_path / "a")
    without = run(loaded, tmp_path / "b", hooks=RunHooks(plots=False))
    assert (with_plots.run_dir / "plots" / "roc.png").is_file()
    assert not any((without.run_dir / "plots").iterdir())
    assert without.metrics == with_plots.metrics  # the numbers do not depend on drawing
