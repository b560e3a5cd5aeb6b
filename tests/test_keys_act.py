"""Spec keys shown to act: each test fails if its key were silently ignored on the way to Keras.

Everything is built through expctl's own code paths from a spec (`spec_from_dict`,
`expctl.data.prepare`, `expctl.models.build_model`, `expctl.training`), and checked against a
hand computation, an identity or an observable of the built object (a loss term's value, an
optimizer step, a layer's dtype, the compiled train function's graph, the optimizer's step count).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from expctl.data import prepare  # noqa: E402
from expctl.models import build_model  # noqa: E402
from expctl.spec import spec_from_dict  # noqa: E402
from expctl.training import make_optimizer, train  # noqa: E402
from expctl.training.setup import configure_keras  # noqa: E402


def _spec(
    data: dict[str, Any] | None = None,
    model: dict[str, Any] | None = None,
    train_: dict[str, Any] | None = None,
) -> Any:
    """A validated spec on the built-in jets generator, with the given sections' keys."""
    return spec_from_dict(
        {
            "seed": 5,
            "data": {"source": "jets", "n_samples": 300, **(data or {})},
            "model": {"type": "mlp", "hidden": [4], **(model or {})},
            "train": {"epochs": 1, **(train_ or {})},
        }
    )


def _optimizer(**keys: Any) -> Any:
    """The Keras optimizer expctl makes for `train.optimizer: {keys}`."""
    return make_optimizer(_spec(train_={"optimizer": keys}).train.optimizer)


def _steps(optimizer: Any, w0: list[float], grads: list[list[float]]) -> np.ndarray:
    """Apply each gradient in turn to a variable starting at `w0`; its final value."""
    w = keras.Variable(np.array(w0, np.float32))
    for g in grads:
        optimizer.apply_gradients([(keras.ops.convert_to_tensor(np.array(g, np.float32)), w)])
    return keras.ops.convert_to_numpy(w)


# ---- data.label_noise ---------------------------------------------------------------------


def test_label_noise_flips_that_fraction_of_the_training_labels_only(tmp_path: Path) -> None:
    fraction, n = 0.2, 4000
    clean = prepare(_spec(data={"n_samples": n}).data, tmp_path, seed=5)
    noisy = prepare(_spec(data={"n_samples": n, "label_noise": fraction}).data, tmp_path, seed=5)
    # same events in the same splits: the features agree, so the labels can be compared
    np.testing.assert_array_equal(clean.train.x, noisy.train.x)
    flipped = clean.train.y != noisy.train.y
    n_train = len(clean.train)
    sigma = math.sqrt(fraction * (1 - fraction) / n_train)  # binomial error of the fraction
    assert abs(flipped.mean() - fraction) < 4 * sigma, flipped.mean()
    assert int(flipped.sum()) == noisy.extra["label_noise_flipped"]
    # validation and test labels are the true ones
    for part in ("val", "test"):
        np.testing.assert_array_equal(getattr(clean, part).x, getattr(noisy, part).x)
        np.testing.assert_array_equal(getattr(clean, part).y, getattr(noisy, part).y)


# ---- model.l1 -----------------------------------------------------------------------------


def test_l1_penalty_is_l1_times_the_sum_of_absolute_kernel_weights(tmp_path: Path) -> None:
    keras.utils.set_random_seed(0)
    l1, l2 = [1.0e-2, 3.0e-3], [0.0, 2.0e-3]
    spec = _spec(model={"hidden": [6, 3], "l1": l1, "l2": l2})
    dataset = prepare(spec.data, tmp_path, seed=5)
    model = build_model(spec.model, dataset)
    kernels = [model.get_layer(f"dense_{i + 1}").kernel.numpy() for i in range(2)]
    by_hand = sum(
        a * np.abs(k).sum() + b * np.square(k).sum()
        for a, b, k in zip(l1, l2, kernels, strict=True)
    )
    assert by_hand > 0
    penalty = sum(float(keras.ops.convert_to_numpy(t)) for t in model.losses)
    assert penalty == pytest.approx(by_hand, rel=1e-5)


# ---- train.optimizer: clipvalue, clipnorm, beta_1/beta_2, weight_decay ------------------------


def test_clipvalue_clips_each_gradient_element() -> None:
    opt = _optimizer(name="sgd", learning_rate=1.0, clipvalue=0.5)
    # w ← w - lr · clip(g, -0.5, 0.5)
    after = _steps(opt, [0.0, 0.0, 0.0], [[2.0, -0.3, -5.0]])
    np.testing.assert_allclose(after, [-0.5, 0.3, 0.5], rtol=1e-6)


def test_clipnorm_rescales_the_gradient_to_that_norm() -> None:
    opt = _optimizer(name="sgd", learning_rate=1.0, clipnorm=1.0)
    # |g| = 5 > 1: g becomes g / 5
    after = _steps(opt, [0.0, 0.0], [[3.0, -4.0]])
    np.testing.assert_allclose(after, [-0.6, 0.8], rtol=1e-6)


def _adam_by_hand(
    w0: list[float], grads: list[list[float]], lr: float, beta_1: float, beta_2: float
) -> np.ndarray:
    """Kingma & Ba's Adam (bias-corrected moments), epsilon negligible against |g| ~ 1."""
    w = np.array(w0, np.float64)
    m = v = np.zeros_like(w)
    for t, g in enumerate(np.array(grads, np.float64), start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        w = w - lr * (m / (1 - beta_1**t)) / np.sqrt(v / (1 - beta_2**t))
    return w


def test_adam_betas_reach_the_update() -> None:
    lr, beta_1, beta_2 = 0.1, 0.5, 0.75
    opt = _optimizer(name="adam", learning_rate=lr, beta_1=beta_1, beta_2=beta_2)
    assert opt.beta_1 == beta_1 and opt.beta_2 == beta_2
    # Adam's first step is lr·sign(g) whatever the betas: three steps with changing gradients
    w0, grads = [1.0, -1.0], [[1.0, -2.0], [-3.0, 0.5], [2.0, 2.0]]
    expected = _adam_by_hand(w0, grads, lr, beta_1, beta_2)
    with_defaults = _adam_by_hand(w0, grads, lr, 0.9, 0.999)
    assert np.abs(expected - with_defaults).max() > 0.01  # the test can tell the betas apart
    np.testing.assert_allclose(_steps(opt, w0, grads), expected, rtol=1e-5)


def test_adamw_weight_decay_shrinks_the_weights_by_lr_wd_w() -> None:
    lr, wd = 0.1, 0.5
    opt = _optimizer(name="adamw", learning_rate=lr, weight_decay=wd)
    assert opt.weight_decay == wd
    # a zero gradient moves no Adam moment: only the decoupled decay w ← w - lr·wd·w acts
    w0 = [1.0, -2.0, 3.0]
    after = _steps(opt, w0, [[0.0, 0.0, 0.0]])
    np.testing.assert_allclose(after, np.array(w0) * (1 - lr * wd), rtol=1e-6)


# ---- train.precision: mixed_float16 ---------------------------------------------------------


def test_mixed_float16_layers_compute_in_float16_outputs_in_float32(tmp_path: Path) -> None:
    import expctl
    from expctl.models.io import load_model
    from expctl.runs import layout

    spec = {
        "name": "f16",
        "seed": 5,
        "data": {"source": "jets", "n_samples": 300},
        "model": {"type": "mlp", "hidden": [4]},
        "train": {"epochs": 1, "batch_size": 64, "precision": "mixed_float16"},
    }
    run = expctl.run(spec, output_dir=tmp_path)  # the whole path: spec -> runner -> model.keras
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    model = load_model(run.path / layout.MODEL)
    hidden = model.get_layer("dense_1")
    assert hidden.compute_dtype == "float16" and hidden.variable_dtype == "float32"
    assert model.get_layer("output").compute_dtype == "float32"
    x = np.zeros((2, *model.input_shape[1:]), np.float32)
    assert hidden(x).dtype == "float16"  # the first hidden layer sees the d features
    y_pred = model(x)
    assert y_pred.dtype == "float32"  # so the loss and every metric are float32


# ---- train.jit_compile, train.batch_size ----------------------------------------------------


@pytest.fixture
def no_op_determinism() -> Iterator[None]:
    """XLA is unavailable with op determinism (as a run with jit_compile does); restored after."""
    from tensorflow.python.framework.config import is_op_determinism_enabled

    was = is_op_determinism_enabled()
    configure_keras(5, deterministic=False)
    yield
    if was:
        tf.config.experimental.enable_op_determinism()


def _fit_one_epoch(spec: Any, tmp_path: Path) -> Any:
    """Build and train the spec's model for its epochs with expctl's fit loop; the model."""
    dataset = prepare(spec.data, tmp_path, seed=spec.seed)
    model = build_model(spec.model, dataset)
    train(model, dataset, spec.train, lambda rows: None, seed=spec.seed)
    return model, dataset


def _xla_must_compile(train_function: Any) -> list[str]:
    """Functions of the traced train step marked for XLA (`_XlaMustCompile`)."""
    marked = []
    for cell in train_function.__closure__ or ():
        traced = cell.cell_contents
        if not hasattr(traced, "_list_all_concrete_functions"):  # a tf.function
            continue
        for concrete in traced._list_all_concrete_functions():
            for f in concrete.graph.as_graph_def().library.function:
                if f.attr["_XlaMustCompile"].b:
                    marked.append(f.signature.name)
    return marked


def test_jit_compile_makes_the_train_step_xla_compiled(
    tmp_path: Path, no_op_determinism: None
) -> None:
    model, _ = _fit_one_epoch(_spec(train_={"jit_compile": True, "batch_size": 64}), tmp_path)
    assert model.jit_compile is True
    assert any("one_step_on_data" in name for name in _xla_must_compile(model.train_function))


def test_without_jit_compile_nothing_is_xla_compiled(tmp_path: Path) -> None:
    model, _ = _fit_one_epoch(_spec(train_={"batch_size": 64}), tmp_path)
    assert model.jit_compile is False
    assert _xla_must_compile(model.train_function) == []


def test_batch_size_one_makes_one_optimizer_step_per_training_event(tmp_path: Path) -> None:
    model, dataset = _fit_one_epoch(
        _spec(data={"n_samples": 120}, train_={"batch_size": 1}), tmp_path
    )
    n_train = len(dataset.train)
    assert n_train > 1
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == n_train
