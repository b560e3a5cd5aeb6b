"""FGSM adversarial training and magnitude pruning: each test checks a defining property."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from expctl.cli import cli
from expctl.data.dataset import Split
from expctl.evaluation.tasks import evaluate
from expctl.models.regularizers import ClipWeights, make_loss
from expctl.spec.base import Section
from expctl.spec.techniques import AdversarialSpec, PruningSpec
from expctl.training.adversarial import (
    AdversarialTrainer,
    fgsm_perturb,
    input_scale,
)
from expctl.training.predict import adversarial_evaluation
from expctl.training.pruning import (
    MagnitudePruning,
    polynomial_sparsity,
    prunable_layers,
    remove_masks,
    sparsity,
)

RNG_SEED = 5
W = np.array([[0.8], [-0.5], [0.3]], dtype=np.float32)
B = np.array([0.1], dtype=np.float32)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(RNG_SEED)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _bce(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def _logistic(l2: float = 0.0, normalization: tuple[np.ndarray, np.ndarray] | None = None):
    """Logistic regression with the known weights W, B (optionally after a Normalization)."""
    inputs = keras.Input(shape=(3,), name="features")
    x = inputs
    if normalization is not None:
        x = keras.layers.Normalization(
            mean=normalization[0], variance=normalization[1], name="standardize"
        )(x)
    layer = keras.layers.Dense(
        1,
        activation="sigmoid",
        kernel_regularizer=keras.regularizers.L2(l2) if l2 else None,
        name="output",
    )
    model = keras.Model(inputs, layer(x))
    layer.set_weights([W, B])
    return model


def _data(n: int = 32, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, (rng.random(n) < 0.5).astype(np.float32)


# ------------------------------------------------------------------------------------------ FGSM


def test_fgsm_on_logistic_regression_is_x_plus_eps_sign_of_p_minus_y_times_w() -> None:
    model = _logistic()
    x, y = _data()
    eps = 0.05
    p = _sigmoid(x @ W + B)[:, 0]
    expected = x + eps * np.sign((p - y)[:, None] * W[:, 0][None, :])  # ∇ₓJ = (p - y)·w
    x_adv = fgsm_perturb(model, x, y, make_loss("binary"), eps)
    np.testing.assert_allclose(x_adv, expected, rtol=0, atol=1e-6)
    assert input_scale(model) is None  # no standardisation layer: raw units
    np.testing.assert_array_equal(model.layers[-1].get_weights()[0], W)  # pure


def test_fgsm_step_is_eps_standard_deviations_of_each_feature() -> None:
    mean = np.array([1.0, -2.0, 0.0], dtype=np.float32)
    var = np.array([4.0, 0.25, 100.0], dtype=np.float32)
    model = _logistic(normalization=(mean, var))
    x, y = _data()
    x = mean + np.sqrt(var) * x
    eps = 0.1
    sigma = np.sqrt(var)
    p = _sigmoid(((x - mean) / sigma) @ W + B)[:, 0]
    # ∇ₓJ = (p - y)·w/σ has the sign of (p - y)·w; the raw step is ε·σ
    expected = x + eps * sigma * np.sign((p - y)[:, None] * W[:, 0][None, :])
    x_adv = fgsm_perturb(model, x, y, make_loss("binary"), eps)
    np.testing.assert_allclose(input_scale(model), sigma, rtol=1e-6)
    np.testing.assert_allclose(x_adv, expected, rtol=1e-5, atol=1e-5)
    # the standardised input moves by exactly ε per feature
    np.testing.assert_allclose(np.abs((x_adv - x) / sigma), eps, rtol=1e-4)
    raw = fgsm_perturb(model, x, y, make_loss("binary"), eps, scale=1.0)
    np.testing.assert_allclose(np.abs(raw - x), eps, rtol=1e-4)


@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_train_step_loss_and_update_are_those_of_the_weighted_sum(weight: float) -> None:
    l2, lr, eps = 0.01, 0.5, 0.2
    x, y = _data()
    sw = np.linspace(0.5, 2.0, len(y)).astype(np.float32)
    trainer = AdversarialTrainer(_logistic(l2=l2), epsilon=eps, weight=weight)
    trainer.compile(optimizer=keras.optimizers.SGD(lr), loss=make_loss("binary"))
    logs = trainer.train_on_batch(x, y, sample_weight=sw, return_dict=True)

    p = _sigmoid(x @ W + B)[:, 0]
    x_adv = x + eps * np.sign((p - y)[:, None] * W[:, 0][None, :])
    p_adv = _sigmoid(x_adv @ W + B)[:, 0]
    n = len(y)
    j_clean = np.sum(sw * _bce(p, y)) / n  # Keras: sum over batch size
    j_adv = np.sum(sw * _bce(p_adv, y)) / n
    penalty = l2 * np.sum(W**2)  # counted once
    expected = (1 - weight) * j_clean + weight * j_adv + penalty
    assert logs["loss"] == pytest.approx(expected, rel=1e-5)

    grad_w = (
        (1 - weight) * x.T @ (sw * (p - y)) / n
        + weight * x_adv.T @ (sw * (p_adv - y)) / n
        + 2 * l2 * W[:, 0]
    )
    grad_b = (1 - weight) * np.sum(sw * (p - y)) / n + weight * np.sum(sw * (p_adv - y)) / n
    kernel, bias = trainer.inner.layers[-1].get_weights()
    np.testing.assert_allclose(kernel[:, 0], W[:, 0] - lr * grad_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias, B - lr * grad_b, rtol=1e-5, atol=1e-6)


def _mlp(x: np.ndarray, dropout: float = 0.0, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(x.shape[1],), name="features")
    h = keras.layers.Normalization(mean=x.mean(0), variance=x.var(0), name="standardize")(inputs)
    h = keras.layers.Dense(16, activation="relu", name="dense_1")(h)
    if dropout:
        h = keras.layers.Dropout(dropout, name="dropout_1")(h)
    h = keras.layers.Dense(16, activation="relu", name="dense_2")(h)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="output")(h)
    return keras.Model(inputs, outputs)


def test_attack_direction_is_taken_in_inference_mode() -> None:
    x, y = _data(n=64, d=4)
    model = _mlp(x, dropout=0.5)
    trainer = AdversarialTrainer(model, epsilon=0.1, weight=0.5)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss=make_loss("binary"))
    expected = fgsm_perturb(model, x, y, make_loss("binary"), 0.1)
    for _ in range(2):  # no dropout mask in the direction: the same twice
        np.testing.assert_allclose(trainer.perturb(x, y).numpy(), expected, rtol=1e-6, atol=1e-6)
    sigma = input_scale(model)
    np.testing.assert_allclose(np.abs(expected - x) / sigma, 0.1, rtol=1e-4)


def _fit_weights(steps_per_execution: int) -> list[np.ndarray]:
    x, y = _data(n=96, d=4)
    model = _mlp(x)
    trainer = AdversarialTrainer(model, epsilon=0.1, weight=0.5)
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=make_loss("binary"),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy")],
        steps_per_execution=steps_per_execution,
    )
    trainer.fit(
        x, y, batch_size=16, epochs=2, shuffle=False, verbose=0, class_weight={0: 1.0, 1: 3.0}
    )
    return model.get_weights()


def test_steps_per_execution_does_not_change_adversarial_training() -> None:
    for one, grouped in zip(_fit_weights(1), _fit_weights(6), strict=True):
        np.testing.assert_allclose(one, grouped, rtol=1e-5, atol=1e-6)


def _robust_vs_weak(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One feature separating the classes with a margin, 30 weakly informative noisy ones."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = 2.0 * y - 1.0
    robust = s + rng.normal(0, 0.3, n)
    weak = 0.3 * s[:, None] + rng.normal(0, 1, (n, 30))
    return np.column_stack([robust, weak]).astype(np.float32), y.astype(np.float32)


def _adversarial_accuracy(eps_train: float | None, x, y, x_test, y_test) -> float:
    model = _mlp(x)
    trainer = model if eps_train is None else AdversarialTrainer(model, eps_train, 0.5)
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.01), loss=make_loss("binary"), steps_per_execution=8
    )
    trainer.fit(x, y, batch_size=64, epochs=6, verbose=0)
    metrics = adversarial_evaluation(model, Split(x_test, y_test, None), "binary", 0.3)
    assert set(metrics) == {
        "adversarial_epsilon",
        "adversarial_loss",
        "adversarial_accuracy",
        "adversarial_auc",
    }
    return metrics["adversarial_accuracy"]


def test_adversarial_training_raises_adversarial_accuracy() -> None:
    x, y = _robust_vs_weak(1000, seed=1)
    x_test, y_test = _robust_vs_weak(1000, seed=2)
    plain = _adversarial_accuracy(None, x, y, x_test, y_test)
    robust = _adversarial_accuracy(0.3, x, y, x_test, y_test)
    assert robust > plain + 0.1, (plain, robust)
    assert robust > 0.9


def test_adversarial_metrics_agree_with_a_hand_computed_attack() -> None:
    from expctl.evaluation import binary_metrics, roc_auc

    model = _logistic()
    x, y = _data(n=200)
    eps = 0.3
    p = _sigmoid(x @ W + B)[:, 0]
    x_adv = x + eps * np.sign((p - y)[:, None] * W[:, 0][None, :])
    s = _sigmoid(x_adv @ W + B)[:, 0]
    metrics = adversarial_evaluation(model, Split(x, y, None), "binary", eps, threshold=0.4)
    assert metrics["adversarial_accuracy"] == pytest.approx(np.mean((s > 0.4) == (y == 1)))
    assert metrics["adversarial_loss"] == pytest.approx(np.mean(_bce(s, y)), rel=1e-5)
    assert metrics["adversarial_auc"] == pytest.approx(roc_auc(y, s), abs=1e-6)
    clean = np.mean((p > 0.4) == (y == 1))
    assert metrics["adversarial_accuracy"] < clean
    # event weights enter exactly as in every other test metric
    w = np.linspace(0.5, 2.0, len(y))
    weighted = adversarial_evaluation(model, Split(x, y, w), "binary", eps, threshold=0.4)
    expected = binary_metrics(y, s, threshold=0.4, sample_weight=w)
    assert weighted["adversarial_accuracy"] == pytest.approx(expected["accuracy"], rel=1e-6)
    assert weighted["adversarial_auc"] == pytest.approx(expected["auc"], abs=1e-6)


def test_adversarial_metrics_multiclass_and_regression_keys() -> None:
    x, _ = _data(n=40, d=3)
    inputs = keras.Input(shape=(3,))
    multi = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(inputs))
    labels = np.arange(40) % 4
    out = adversarial_evaluation(multi, Split(x, labels, None), "multiclass", 0.1)
    assert 0 <= out["adversarial_accuracy"] <= 1 and "adversarial_auc" not in out
    reg = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    target = x.sum(axis=1)
    out = adversarial_evaluation(reg, Split(x, target, None), "regression", 0.1)
    assert out["adversarial_rmse"] >= out["adversarial_mae"] > 0


def test_saved_inner_model_and_trainer_load_in_safe_mode(tmp_path: Path) -> None:
    x, y = _data(n=64, d=4)
    model = _mlp(x, dropout=0.2)
    trainer = AdversarialTrainer(model, epsilon=0.1, weight=0.5)
    trainer.compile(optimizer=keras.optimizers.Adam(0.01), loss=make_loss("binary"))
    trainer.fit(x, y, batch_size=16, epochs=2, verbose=0)
    expected = model.predict(x, verbose=0)

    model.save(tmp_path / "inner.keras")
    inner = keras.saving.load_model(tmp_path / "inner.keras", safe_mode=True)
    assert isinstance(inner, keras.Model) and not isinstance(inner, AdversarialTrainer)
    np.testing.assert_allclose(inner.predict(x, verbose=0), expected, rtol=1e-6)

    trainer.save(tmp_path / "trainer.keras")
    loaded = keras.saving.load_model(tmp_path / "trainer.keras", safe_mode=True)
    assert isinstance(loaded, AdversarialTrainer)
    assert (loaded.epsilon, loaded.weight) == (0.1, 0.5)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)


def test_trainer_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="epsilon"):
        AdversarialTrainer(_logistic(), epsilon=0.0)
    with pytest.raises(ValueError, match="weight"):
        AdversarialTrainer(_logistic(), epsilon=0.1, weight=1.5)


# --------------------------------------------------------------------------------------- pruning


def _pruning_data(n: int = 256, d: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.float32)


def _compiled(model: keras.Model, steps_per_execution: int = 4) -> keras.Model:
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss=make_loss("binary"),
        steps_per_execution=steps_per_execution,
    )
    return model


def _masks(model: keras.Model) -> dict[str, np.ndarray]:
    return {layer.name: layer.kernel.constraint.mask.numpy() for layer in prunable_layers(model)}


def test_schedule_is_zhu_and_gupta_polynomial() -> None:
    s_f, start, end = 0.8, 1, 5
    expected = {0: 0.0, 1: 0.0, 2: 0.4625, 3: 0.7, 4: 0.7875, 5: 0.8, 9: 0.8}
    for epoch, value in expected.items():
        assert polynomial_sparsity(epoch, s_f, start, end) == pytest.approx(value)
    assert polynomial_sparsity(2.5, s_f, start, end) == pytest.approx(
        s_f * (1 - (1 - 1.5 / 4) ** 3)
    )


def test_each_epoch_trains_at_the_scheduled_sparsity() -> None:
    x, y = _pruning_data()
    model = _compiled(_mlp(x))
    pruning = MagnitudePruning(0.8, start_epoch=1, end_epoch=5)
    history = model.fit(x, y, batch_size=32, epochs=7, verbose=0, callbacks=[pruning])
    n = sum(np.prod(layer.kernel.shape) for layer in prunable_layers(model))
    assert [layer.name for layer in prunable_layers(model)] == ["dense_1", "dense_2"]
    for epoch, logged in enumerate(history.history["sparsity"]):
        # Keras' epoch index k is epoch k + 1, which trains with s(k + 1)
        assert logged == pytest.approx(pruning.schedule(epoch + 1), abs=2 / n), epoch
    assert history.history["sparsity"][:2] == [0.0, pytest.approx(0.4625, abs=2 / n)]
    assert history.history["sparsity"][4] == pytest.approx(0.8, abs=2 / n)


def test_sparsity_reaches_target_and_pruned_weights_stay_zero() -> None:
    x, y = _pruning_data()
    model = _compiled(_mlp(x))
    output_before = model.get_layer("output").kernel.numpy().copy()
    model.fit(x, y, batch_size=32, epochs=4, verbose=0, callbacks=[MagnitudePruning(0.75, 0, 3)])
    assert sparsity(model) == pytest.approx(0.75, abs=0.01)
    masks = _masks(model)
    kept_before = {k: model.get_layer(k).kernel.numpy().copy() for k in masks}
    # further training steps, in a new fit call with a callback that no longer changes the mask
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[MagnitudePruning(0.75, 0, 1)])
    for name, mask in masks.items():
        kernel = model.get_layer(name).kernel.numpy()
        assert np.all(kernel[mask == 0] == 0.0), name
        np.testing.assert_array_equal(_masks(model)[name], mask)
        assert np.abs(kernel - kept_before[name])[mask == 1].max() > 0  # still training
    assert np.count_nonzero(model.get_layer("output").kernel.numpy() == 0) == 0
    assert not np.array_equal(model.get_layer("output").kernel.numpy(), output_before)
    assert sparsity(model) == pytest.approx(0.75, abs=0.01)
    remove_masks(model)
    assert model.get_layer("dense_1").kernel.constraint is None


def test_pruned_model_saves_zeros_and_loads_in_safe_mode(tmp_path: Path) -> None:
    x, y = _pruning_data()
    model = _compiled(_mlp(x))
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[MagnitudePruning(0.6, 0, 2)])
    model.save(tmp_path / "pruned.keras")
    loaded = keras.saving.load_model(tmp_path / "pruned.keras", safe_mode=True)
    assert sparsity(loaded) == pytest.approx(sparsity(model)) == pytest.approx(0.6, abs=0.01)
    for name in ("dense_1", "dense_2"):
        np.testing.assert_array_equal(
            loaded.get_layer(name).kernel.numpy(), model.get_layer(name).kernel.numpy()
        )
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_layer_choice_output_layer_and_existing_constraint() -> None:
    x, y = _pruning_data()
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(x.shape[1],))
    h = keras.layers.Dense(16, activation="relu", kernel_constraint=ClipWeights(0.05))(inputs)
    out = keras.layers.Dense(1, activation="sigmoid", name="output")(h)
    model = _compiled(keras.Model(inputs, out))
    hidden = model.layers[1]
    model.fit(
        x,
        y,
        batch_size=32,
        epochs=3,
        verbose=0,
        callbacks=[MagnitudePruning(0.5, 0, 2, prune_output=True)],
    )
    for layer in (hidden, model.get_layer("output")):
        kernel = layer.kernel.numpy()
        assert np.mean(kernel == 0) == pytest.approx(0.5, abs=1 / kernel.size)
    assert np.abs(hidden.kernel.numpy()).max() <= 0.05 + 1e-7  # its own constraint still holds
    assert [layer.name for layer in prunable_layers(model, layers=["output"])] == ["output"]
    with pytest.raises(ValueError):
        prunable_layers(model, layers=["missing"])


def test_frequency_steps_prunes_inside_the_epoch() -> None:
    x, y = _pruning_data()  # 256 events, batch 32: 8 steps per epoch
    model = _compiled(_mlp(x), steps_per_execution=1)
    epoch_only = MagnitudePruning(0.5, 1, 2)
    assert "on_train_batch_end" not in vars(epoch_only)  # no batch hook: Keras stays async
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[epoch_only])
    assert sparsity(model) == 0.0  # pruned only before the next epoch

    model = _compiled(_mlp(x), steps_per_execution=1)
    seen: list[float] = []

    class Watch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            seen.append(sparsity(self.model))

    stepwise = MagnitudePruning(0.5, 1, 2, frequency_steps=4)
    assert "on_train_batch_end" in vars(stepwise)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[stepwise, Watch()])
    expected = [0.0] * 3 + [polynomial_sparsity(1.5, 0.5, 1, 2)] * 4 + [0.5]
    np.testing.assert_allclose(seen, expected, atol=0.005)


def test_pruning_and_adversarial_training_together() -> None:
    x, y = _pruning_data()
    model = _mlp(x)
    trainer = _compiled(AdversarialTrainer(model, epsilon=0.05, weight=0.5))
    history = trainer.fit(
        x, y, batch_size=32, epochs=3, verbose=0, callbacks=[MagnitudePruning(0.5, 0, 2)]
    )
    assert history.history["sparsity"][-1] == pytest.approx(0.5, abs=0.01)
    assert sparsity(model) == pytest.approx(0.5, abs=0.01)


def test_pruning_needs_a_hidden_layer() -> None:
    model = _compiled(_logistic())
    x, y = _data(n=32)
    with pytest.raises(ValueError, match="no Dense/Conv kernel"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[MagnitudePruning(0.5, 0, 1)])
    assert np.isnan(sparsity(model))


# ------------------------------------------------------------------------------------------ spec


class _Train(Section):
    adversarial: AdversarialSpec | None = None
    pruning: PruningSpec | None = None


def test_spec_defaults() -> None:
    spec = _Train.model_validate({"adversarial": {}, "pruning": {"target_sparsity": 0.8}})
    assert spec.adversarial == AdversarialSpec(method="fgsm", epsilon=0.01, weight=0.5)
    assert (spec.pruning.start_epoch, spec.pruning.end_epoch) == (0, 10)
    assert spec.pruning.frequency_steps is None and spec.pruning.prune_output is False
    assert _Train().adversarial is None and _Train().pruning is None


@pytest.mark.parametrize(
    "data",
    [
        {"adversarial": {"epsilon": 0}},
        {"adversarial": {"epsilon": -0.1}},
        {"adversarial": {"epsilon": "0.1"}},  # strict: no strings
        {"adversarial": {"weight": 1.5}},
        {"adversarial": {"weight": -0.1}},
        {"adversarial": {"method": "pgd"}},
        {"adversarial": {"eps": 0.1}},  # unknown key
        {"pruning": {}},  # target_sparsity is required
        {"pruning": {"target_sparsity": 0}},
        {"pruning": {"target_sparsity": 1.0}},
        {"pruning": {"target_sparsity": True}},
        {"pruning": {"target_sparsity": 0.5, "start_epoch": -1}},
        {"pruning": {"target_sparsity": 0.5, "end_epoch": 0}},
        {"pruning": {"target_sparsity": 0.5, "start_epoch": 4, "end_epoch": 4}},
        {"pruning": {"target_sparsity": 0.5, "start_epoch": 5, "end_epoch": 3}},
        {"pruning": {"target_sparsity": 0.5, "frequency_steps": 0}},
        {"pruning": {"target_sparsity": 0.5, "end_epoch": 2.0}},  # strict int
        {"pruning": {"target_sparsity": 0.5, "sparsity": 0.5}},  # unknown key
    ],
)
def test_spec_refuses(data: dict) -> None:
    with pytest.raises(ValidationError):
        _Train.model_validate(data)


def test_spec_end_before_start_message_and_epoch_problems() -> None:
    with pytest.raises(ValidationError, match=r"end_epoch \(3\) must be after start_epoch \(5\)"):
        PruningSpec(target_sparsity=0.5, start_epoch=5, end_epoch=3)
    spec = PruningSpec(target_sparsity=0.5, start_epoch=0, end_epoch=10)
    assert spec.epoch_problems(10) == []
    assert "train.epochs" in spec.epoch_problems(9)[0]
    assert spec.epoch_problems(20, early_stopping_start=9) == []
    assert "start_from_epoch" in spec.epoch_problems(20, early_stopping_start=3)[0]
    with pytest.raises(ValidationError):  # frozen
        spec.end_epoch = 3  # type: ignore[misc]


def test_robustness_scan_starts_clean_and_repeats_the_single_attack() -> None:
    from expctl.training.predict import robustness_scan

    model = _logistic()
    x, y = _data(n=200)
    split = Split(x, y, None)
    p = _sigmoid(x @ W + B)[:, 0]
    clean = evaluate("binary", y, p, 0.4, None)
    points = robustness_scan(model, split, "binary", [0.3, 0.1], clean, threshold=0.4)
    assert [p["epsilon"] for p in points] == [0.0, 0.1, 0.3]  # clean first, then sorted
    assert points[0] == {"epsilon": 0.0, "accuracy": clean["accuracy"], "auc": clean["auc"],
                         "loss": clean["loss"]}  # fmt: skip
    assert clean["accuracy"] == pytest.approx(np.mean((p > 0.4) == (y == 1)))
    for point in points[1:]:
        single = adversarial_evaluation(model, split, "binary", point["epsilon"], threshold=0.4)
        assert point["auc"] == single["adversarial_auc"]
        assert point["accuracy"] == single["adversarial_accuracy"]
    # a stronger attack never helps a logistic regression (the step follows the loss gradient)
    assert points[0]["auc"] >= points[1]["auc"] >= points[2]["auc"]


def test_fgsm_epsilons_in_a_run_without_adversarial_training(write_spec, tmp_path: Path) -> None:
    path = write_spec({"evaluate": {"fgsm_epsilons": [0.2, 0.05]}})
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(path), "-q", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    (run,) = list(out.iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    scan = metrics["robustness"]
    assert [p["epsilon"] for p in scan] == [0.0, 0.05, 0.2]
    assert scan[0]["auc"] == pytest.approx(metrics["auc"], abs=1e-12)
    assert scan[0]["loss"] == pytest.approx(metrics["loss"], rel=1e-6)
    assert "adversarial_auc" not in metrics  # no train.adversarial: no single-ε entries
