"""Regularisation blocks: each test checks the defining property the lecture states."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from expctl.models.regularizers import (
    BinaryCrossentropyWithSmoothing,
    ChainedConstraint,
    ClipWeights,
    NoisyDense,
    SparseCategoricalCrossentropyWithSmoothing,
    kernel_constraint,
    make_loss,
    sample_weight_noise,
)

RNG_SEED = 11


@pytest.fixture(autouse=True)
def _seeded() -> None:
    keras.utils.set_random_seed(RNG_SEED)


def _data(n: int = 16, d: int = 4, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)).astype("float32"), rng.normal(size=(n, k)).astype("float32")


def _one_sgd_step(constraint: keras.constraints.Constraint | None, lr: float) -> np.ndarray:
    """The kernel of a linear Dense(4→3) after one plain-SGD step on a fixed batch."""
    x, y = _data()
    layer = keras.layers.Dense(
        3, kernel_initializer=keras.initializers.Constant(0.01), kernel_constraint=constraint
    )
    model = keras.Sequential([keras.Input((4,)), layer])
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    model.train_on_batch(x, y)
    return layer.kernel.numpy()


# --- weight clipping and max-norm ---------------------------------------------------------------


def test_clip_weights_keeps_every_kernel_value_within_c_after_a_large_step() -> None:
    c = 0.05
    free = _one_sgd_step(None, lr=5.0)
    assert np.abs(free).max() > c  # the step would leave the box without the constraint
    kernel = _one_sgd_step(ClipWeights(c), lr=5.0)
    assert np.abs(kernel).max() <= c
    assert np.isclose(np.abs(kernel), c).any()  # some weight sits on the boundary
    # Values the step left inside the box are untouched.
    inside = np.abs(free) < c
    np.testing.assert_array_equal(kernel[inside], free[inside])


def test_max_norm_bounds_each_units_incoming_weights_after_a_large_step() -> None:
    max_norm = 0.1
    free = _one_sgd_step(None, lr=5.0)
    assert np.linalg.norm(free, axis=0).max() > max_norm
    kernel = _one_sgd_step(kernel_constraint(None, max_norm), lr=5.0)
    norms = np.linalg.norm(kernel, axis=0)  # one column per unit of a Dense kernel
    assert norms.max() <= max_norm
    assert np.isclose(norms, max_norm, rtol=1e-5).any()


def test_clip_and_max_norm_together_satisfy_both() -> None:
    constraint = kernel_constraint(0.05, 0.08)
    assert isinstance(constraint, ChainedConstraint)
    kernel = _one_sgd_step(constraint, lr=5.0)
    assert np.abs(kernel).max() <= 0.05
    assert np.linalg.norm(kernel, axis=0).max() <= 0.08


def test_kernel_constraint_choices() -> None:
    assert kernel_constraint(None, None) is None
    assert isinstance(kernel_constraint(0.1, None), ClipWeights)
    assert isinstance(kernel_constraint(None, 2.0), keras.constraints.MaxNorm)
    with pytest.raises(ValueError):
        kernel_constraint(0.0, None)
    with pytest.raises(ValueError):
        kernel_constraint(None, -1.0)


# --- noise on weights ---------------------------------------------------------------------------


def _noisy_model(weight_noise: float = 0.1, dist: str = "gaussian", seed: int | None = 7):
    layer = NoisyDense(3, weight_noise=weight_noise, weight_noise_dist=dist, seed=seed)
    inputs = keras.Input((4,))
    return keras.Model(inputs, layer(inputs)), layer


def test_weight_noise_is_fresh_in_training_and_absent_at_inference() -> None:
    model, layer = _noisy_model()
    x, _ = _data()
    a, b = layer(x, training=True), layer(x, training=True)
    assert not np.allclose(a, b)

    plain = keras.layers.Dense(3)
    plain.build((None, 4))
    plain.set_weights(layer.get_weights())
    exact = layer(x, training=False).numpy()
    np.testing.assert_array_equal(exact, plain(x).numpy())
    kernel, bias = layer.get_weights()
    np.testing.assert_allclose(exact, x @ kernel + bias, rtol=1e-6, atol=1e-6)

    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, exact)


@pytest.mark.parametrize(("dist", "expected_std"), [("gaussian", 0.2), ("uniform", 0.2 / 3**0.5)])
def test_weight_noise_distribution(dist: str, expected_std: float) -> None:
    # Zero weights and identity inputs: the training output is the kernel noise itself.
    layer = NoisyDense(
        50, weight_noise=0.2, weight_noise_dist=dist, use_bias=False, kernel_initializer="zeros"
    )
    eps = layer(np.eye(200, dtype="float32"), training=True).numpy()
    assert abs(eps.mean()) < 0.01
    assert eps.std() == pytest.approx(expected_std, rel=0.05)
    if dist == "uniform":
        assert np.abs(eps).max() <= 0.2


def _sgd_step(
    x: np.ndarray,
    y: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray],
    noise: tuple[np.ndarray, np.ndarray],
    lr: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One plain-SGD step on the MSE of x·k + b: gradient taken at weights + noise."""
    k, b = tf.Variable(weights[0] + noise[0]), tf.Variable(weights[1] + noise[1])
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((x @ k + b - y) ** 2)
    grad_k, grad_b = tape.gradient(loss, [k, b])
    return weights[0] - lr * grad_k.numpy(), weights[1] - lr * grad_b.numpy()


def _replayed_noise(
    gen: keras.random.SeedGenerator, kernel: np.ndarray, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    # The same seed, shapes and order (kernel, then bias) as NoisyDense reproduce its noise.
    eps_k = sample_weight_noise(kernel.shape, 0.1, "gaussian", gen).numpy()
    return eps_k, sample_weight_noise(bias.shape, 0.1, "gaussian", gen).numpy()


def test_sgd_step_is_the_gradient_at_the_noisy_weights_applied_to_the_stored_ones() -> None:
    lr = 0.1
    model, layer = _noisy_model(seed=7)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    x, y = _data()
    kernel0, bias0 = (w.copy() for w in layer.get_weights())
    model.train_on_batch(x, y)

    noise = _replayed_noise(keras.random.SeedGenerator(7), kernel0, bias0)
    kernel1, bias1 = layer.get_weights()
    noisy_k, noisy_b = _sgd_step(x, y, (kernel0, bias0), noise, lr)
    np.testing.assert_allclose(kernel1, noisy_k, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bias1, noisy_b, rtol=1e-5, atol=1e-6)
    zero = (np.zeros_like(kernel0), np.zeros_like(bias0))
    clean_k, _ = _sgd_step(x, y, (kernel0, bias0), zero, lr)
    assert np.abs(kernel1 - clean_k).max() > 1e-3  # the noise really moved the gradient


def test_each_step_inside_one_compiled_call_draws_fresh_noise() -> None:
    lr, steps = 0.05, 4
    model, layer = _noisy_model(seed=7)
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse", steps_per_execution=steps)
    x, y = _data(n=8 * steps)
    weights = tuple(w.copy() for w in layer.get_weights())
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)  # one compiled call

    gen = keras.random.SeedGenerator(7)
    for i in range(steps):
        batch = slice(8 * i, 8 * (i + 1))
        noise = _replayed_noise(gen, *weights)
        weights = _sgd_step(x[batch], y[batch], weights, noise, lr)
    np.testing.assert_allclose(layer.kernel.numpy(), weights[0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.bias.numpy(), weights[1], rtol=1e-5, atol=1e-6)


def _fit_kernel(weight_noise: float, steps_per_execution: int) -> np.ndarray:
    keras.utils.set_random_seed(RNG_SEED)
    model, layer = _noisy_model(weight_noise=weight_noise, seed=None)
    model.compile(
        optimizer=keras.optimizers.SGD(0.05),
        loss="mse",
        steps_per_execution=steps_per_execution,
    )
    x, y = _data(n=64)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    return layer.kernel.numpy()


def test_weight_noise_in_compiled_fit_is_reproducible_and_independent_of_steps_per_execution() -> (
    None
):
    one = _fit_kernel(0.1, steps_per_execution=1)
    np.testing.assert_array_equal(one, _fit_kernel(0.1, steps_per_execution=1))
    # Fresh noise per step inside one compiled call: the same sequence as one step per call.
    np.testing.assert_allclose(one, _fit_kernel(0.1, steps_per_execution=4), rtol=1e-5, atol=1e-6)
    assert np.abs(one - _fit_kernel(0.0, steps_per_execution=4)).max() > 1e-3


def test_noisy_dense_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        NoisyDense(3, weight_noise=-0.1)
    with pytest.raises(ValueError):
        NoisyDense(3, weight_noise=0.1, weight_noise_dist="cauchy")  # type: ignore[arg-type]


# --- noise on the data --------------------------------------------------------------------------


def test_gaussian_noise_changes_the_inputs_only_in_training() -> None:
    x, _ = _data()
    noise = keras.layers.GaussianNoise(0.3)
    np.testing.assert_array_equal(noise(x, training=False).numpy(), x)
    perturbed = noise(x, training=True).numpy()
    assert (perturbed - x).std() == pytest.approx(0.3, rel=0.3)
    model = keras.Sequential([keras.Input((4,)), noise])
    np.testing.assert_array_equal(model.predict(x, verbose=0), x)


# --- noise on labels ----------------------------------------------------------------------------

P_BINARY = np.array([[0.9], [0.2], [0.6], [0.3]], dtype="float32")
Y_BINARY = np.array([[1.0], [0.0], [1.0], [0.0]], dtype="float32")
P_MULTI = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.25, 0.5, 0.25]], dtype="float32")
Y_MULTI = np.array([0, 2, 1])


def test_binary_label_smoothing_is_eps_and_one_minus_eps_by_hand() -> None:
    eps = 0.2
    t = np.where(Y_BINARY == 1, 1 - eps, eps)  # the lecture: hard 0/1 → ε, 1-ε
    hand = -np.mean(t * np.log(P_BINARY) + (1 - t) * np.log(1 - P_BINARY))
    loss = make_loss("binary", eps)
    assert isinstance(loss, BinaryCrossentropyWithSmoothing) and loss.label_smoothing == eps
    assert float(loss(Y_BINARY, P_BINARY)) == pytest.approx(hand, rel=1e-5)
    assert float(make_loss("binary", 0.0)(Y_BINARY, P_BINARY)) != pytest.approx(hand, rel=1e-3)
    clone = BinaryCrossentropyWithSmoothing.from_config(loss.get_config())
    assert float(clone(Y_BINARY, P_BINARY)) == pytest.approx(hand, rel=1e-5)


@pytest.mark.parametrize("labels", [Y_MULTI, Y_MULTI[:, None]])
def test_multiclass_label_smoothing_by_hand_on_integer_labels(labels: np.ndarray) -> None:
    eps, k = 0.3, P_MULTI.shape[1]
    t = np.where(np.eye(k)[Y_MULTI] == 1, 1 - eps, eps / (k - 1))
    hand = -np.mean(np.sum(t * np.log(P_MULTI), axis=1))
    loss = make_loss("multiclass", eps)
    assert isinstance(loss, SparseCategoricalCrossentropyWithSmoothing)
    assert float(loss(labels, P_MULTI)) == pytest.approx(hand, rel=1e-5)


def test_two_class_smoothing_agrees_with_binary_smoothing() -> None:
    eps = 0.15
    p1 = P_BINARY[:, 0]
    two = np.stack([1 - p1, p1], axis=1)
    binary = float(make_loss("binary", eps)(Y_BINARY, P_BINARY))
    multi = float(make_loss("multiclass", eps)(Y_BINARY[:, 0].astype(int), two))
    assert multi == pytest.approx(binary, rel=1e-5)


def test_no_smoothing_gives_keras_plain_losses() -> None:
    sparse = keras.losses.SparseCategoricalCrossentropy()
    assert isinstance(make_loss("multiclass", 0.0), keras.losses.SparseCategoricalCrossentropy)
    assert float(SparseCategoricalCrossentropyWithSmoothing(0.0)(Y_MULTI, P_MULTI)) == (
        pytest.approx(float(sparse(Y_MULTI, P_MULTI)), rel=1e-6)
    )
    assert isinstance(make_loss("regression", 0.0), keras.losses.MeanSquaredError)


def test_make_loss_refuses_what_it_cannot_do() -> None:
    with pytest.raises(ValueError, match="regression"):
        make_loss("regression", 0.1)
    with pytest.raises(ValueError):
        make_loss("binary", 0.5)  # 1-ε would no longer be the larger target
    with pytest.raises(ValueError):
        make_loss("ranking", 0.0)


# --- save / load --------------------------------------------------------------------------------


def test_model_with_all_blocks_round_trips_through_safe_mode_load(tmp_path: Path) -> None:
    inputs = keras.Input((4,))
    x = keras.layers.GaussianNoise(0.1, name="input_noise")(inputs)
    x = keras.layers.Dense(
        8, activation="relu", kernel_constraint=kernel_constraint(0.5, 1.0), name="dense_1"
    )(x)
    x = NoisyDense(8, weight_noise=0.05, weight_noise_dist="uniform", name="dense_2")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="output")(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer="sgd",
        loss=make_loss("multiclass", 0.1),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        steps_per_execution=2,
    )
    x_train, _ = _data(n=32)
    y_train = np.arange(32) % 3
    model.fit(x_train, y_train, batch_size=8, epochs=1, verbose=0)

    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)

    np.testing.assert_array_equal(
        loaded.predict(x_train, verbose=0), model.predict(x_train, verbose=0)
    )
    constraint = loaded.get_layer("dense_1").kernel_constraint
    assert isinstance(constraint, ChainedConstraint)
    assert isinstance(constraint.constraints[0], ClipWeights)
    assert constraint.constraints[0].c == 0.5
    assert isinstance(constraint.constraints[1], keras.constraints.MaxNorm)
    noisy = loaded.get_layer("dense_2")
    assert isinstance(noisy, NoisyDense)
    assert (noisy.weight_noise, noisy.weight_noise_dist) == (0.05, "uniform")
    assert isinstance(loaded.loss, SparseCategoricalCrossentropyWithSmoothing)
    assert loaded.loss.label_smoothing == pytest.approx(0.1)
    loaded.fit(x_train, y_train, batch_size=8, epochs=1, verbose=0)  # still trainable
