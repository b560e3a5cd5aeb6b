"""Regularisation building blocks: weight clipping, weight noise and label smoothing.

Everything here is registered under the `expctl` package so a saved `model.keras` loads with
`keras.saving.load_model(path, safe_mode=True)` once this module has been imported. Input noise
needs no class of its own: the builder uses `keras.layers.GaussianNoise`, active only in training.
"""

from __future__ import annotations

from typing import Any, Literal

import keras
from keras import ops

NoiseDist = Literal["gaussian", "uniform"]
NOISE_DISTS: tuple[str, ...] = ("gaussian", "uniform")
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")


@keras.saving.register_keras_serializable(package="expctl")
class ClipWeights(keras.constraints.Constraint):
    """Clip every weight to [-c, c] (the lecture's "weight clipping").

    Keras applies a layer's `kernel_constraint` to the variable after each optimizer update,
    so the stored weights never leave the box, whatever the learning rate.
    """

    def __init__(self, c: float) -> None:
        if not c > 0:
            raise ValueError(f"weight clip must be positive, got {c}")
        self.c = float(c)

    def __call__(self, w: Any) -> Any:
        return ops.clip(w, -self.c, self.c)

    def get_config(self) -> dict[str, Any]:
        return {"c": self.c}


@keras.saving.register_keras_serializable(package="expctl")
class ChainedConstraint(keras.constraints.Constraint):
    """Apply several constraints one after the other, in the given order.

    Clipping then max-norm leaves both satisfied: max-norm only scales a column down, so the
    clipped values stay inside [-c, c].
    """

    def __init__(self, constraints: list[Any]) -> None:
        # Accept configs too, so `from_config` round-trips the nested constraints.
        self.constraints = [keras.constraints.get(c) for c in constraints]

    def __call__(self, w: Any) -> Any:
        for constraint in self.constraints:
            w = constraint(w)
        return w

    def get_config(self) -> dict[str, Any]:
        return {"constraints": [keras.saving.serialize_keras_object(c) for c in self.constraints]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ChainedConstraint:
        return cls([keras.saving.deserialize_keras_object(c) for c in config["constraints"]])


def kernel_constraint(
    weight_clip: float | None, max_norm: float | None
) -> keras.constraints.Constraint | None:
    """The kernel constraint of a hidden layer: clipping, max-norm, both (clip first), or None.

    `max_norm` bounds the L2 norm of each unit's incoming weights (a Dense kernel's columns,
    `axis=0`); Keras divides by `norm + epsilon`, so the result is a hair below the bound.
    """
    parts: list[keras.constraints.Constraint] = []
    if weight_clip is not None:
        parts.append(ClipWeights(weight_clip))
    if max_norm is not None:
        if not max_norm > 0:
            raise ValueError(f"max_norm must be positive, got {max_norm}")
        parts.append(keras.constraints.MaxNorm(max_value=max_norm, axis=0))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else ChainedConstraint(parts)


def sample_weight_noise(shape: Any, scale: float, dist: str, seed: Any, dtype: Any = None) -> Any:
    """Noise ε of the given shape: N(0, scale²) for "gaussian", U(-scale, +scale) for "uniform".

    `seed` is a `keras.random.SeedGenerator` (each call advances it) or an int; drawing from a
    fresh generator with the same seed, shapes and order reproduces a layer's noise exactly.
    """
    if dist == "gaussian":
        return keras.random.normal(shape, stddev=scale, dtype=dtype, seed=seed)
    if dist == "uniform":
        return keras.random.uniform(shape, minval=-scale, maxval=scale, dtype=dtype, seed=seed)
    raise ValueError(f"weight_noise_dist must be one of {NOISE_DISTS}, got {dist!r}")


@keras.saving.register_keras_serializable(package="expctl")
class NoisyDense(keras.layers.Dense):
    """A Dense layer whose weights are perturbed, θ̂ = θ + ε, on every training forward pass.

    The lecture's "noise on weights" (a Bayesian-NN-like ensemble around θ): with training=True
    the kernel and the bias get fresh noise each call, so the gradient is taken at θ̂ and the
    optimizer applies it to the stored θ (∂θ̂/∂θ = 1). With training=False (predict, evaluate)
    the layer is exactly a Dense with weights θ. One ε is drawn per forward pass (per batch)
    and shared by the batch's samples: each step trains one member of the ensemble. The noise
    comes from a `SeedGenerator` whose state is a variable, so it is fresh per step inside
    `tf.function` and with `steps_per_execution > 1`, and reproducible under
    `keras.utils.set_random_seed` (seed=None) or with an explicit `seed`. LoRA and quantization
    are not supported.
    """

    def __init__(
        self,
        units: int,
        weight_noise: float = 0.0,
        weight_noise_dist: NoiseDist = "gaussian",
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        if weight_noise < 0:
            raise ValueError(f"weight_noise must be >= 0, got {weight_noise}")
        if weight_noise_dist not in NOISE_DISTS:
            raise ValueError(
                f"weight_noise_dist must be one of {NOISE_DISTS}, got {weight_noise_dist!r}"
            )
        if kwargs.get("lora_rank") or kwargs.get("quantization_config"):
            raise ValueError("NoisyDense does not support LoRA or quantization")
        super().__init__(units, **kwargs)
        self.weight_noise = float(weight_noise)
        self.weight_noise_dist = weight_noise_dist
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.weight_noise == 0:
            return super().call(inputs, training=training)
        kernel = ops.convert_to_tensor(self.kernel)
        # Kernel first, then bias: tests reproduce the noise by drawing in this order.
        kernel = kernel + self._noise(kernel)
        x = ops.matmul(inputs, kernel)
        if self.bias is not None:
            bias = ops.convert_to_tensor(self.bias)
            x = ops.add(x, bias + self._noise(bias))
        if self.activation is not None:
            x = self.activation(x)
        return x

    def _noise(self, w: Any) -> Any:
        return sample_weight_noise(
            ops.shape(w), self.weight_noise, self.weight_noise_dist, self.seed_generator, w.dtype
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "weight_noise": self.weight_noise,
                "weight_noise_dist": self.weight_noise_dist,
                "seed": self.seed,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="expctl")
class BinaryCrossentropyWithSmoothing(keras.losses.BinaryCrossentropy):
    """Binary crossentropy whose hard targets 0/1 become ε and 1-ε (the lecture's smooth labels).

    Keras' own `label_smoothing` s maps y to y(1-s) + s/2, so s = 2ε gives exactly ε, 1-ε;
    this class stores and reports ε itself, so the saved model says what the spec said.
    """

    def __init__(
        self, label_smoothing: float = 0.0, name: str = "binary_crossentropy", **kwargs: Any
    ) -> None:
        if not 0 <= label_smoothing < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
        kwargs.pop("from_logits", None)
        super().__init__(label_smoothing=2 * float(label_smoothing), name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["label_smoothing"] = self.label_smoothing
        return config


def _one_hot(y_true: Any, y_pred: Any) -> Any:
    """Integer labels, shaped (batch,) or (batch, 1), one-hot over y_pred's K classes."""
    y_true = ops.convert_to_tensor(y_true)
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)  # one_hot wants (batch,)
    return ops.one_hot(ops.cast(y_true, "int32"), y_pred.shape[-1], dtype=y_pred.dtype)


def _smooth_one_hot(one_hot: Any, eps: Any) -> Any:
    """Targets 1-ε for the true class and ε/(K-1) for each other; ε a number or one per event."""
    k = one_hot.shape[-1]
    return one_hot * (1.0 - eps) + (1.0 - one_hot) * (eps / max(k - 1, 1))


@keras.saving.register_keras_serializable(package="expctl")
class SparseCategoricalCrossentropyWithSmoothing(keras.losses.Loss):
    """Categorical crossentropy on integer labels with smooth targets: 1-ε for the true class,
    ε/(K-1) for each of the K-1 others (K = the number of predicted classes).

    For K = 2 these are the lecture's ε and 1-ε, as `BinaryCrossentropyWithSmoothing`. Keras
    3.15's `SparseCategoricalCrossentropy` has no smoothing (and Keras' convention, y(1-ε) + ε/K,
    is not the lecture's), so the targets are built here; the labels stay integers, so
    `SparseCategoricalAccuracy` keeps working.
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        from_logits: bool = False,
        name: str = "sparse_categorical_crossentropy_with_smoothing",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)
        self.from_logits = from_logits

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        one_hot = _one_hot(y_true, y_pred)
        target = _smooth_one_hot(one_hot, self.label_smoothing)
        return keras.losses.categorical_crossentropy(target, y_pred, from_logits=self.from_logits)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"label_smoothing": self.label_smoothing, "from_logits": self.from_logits})
        return config


@keras.saving.register_keras_serializable(package="expctl")
class RandomLabelSmoothing(keras.losses.Loss):
    """Crossentropy against the lecture's random smooth labels: per event ε ~ N(0, σ_ε).

    Each call draws one |ε| per event from `seed_generator`; the true class's target is 1-|ε|,
    each of the K-1 others gets |ε|/(K-1) (binary: targets |ε| and 1-|ε|). |ε| is clipped to
    (K-1)/K (0.5 for binary), the uniform target: beyond it the true class would get less than a
    wrong one, i.e. the label would be flipped, not smoothed; for σ = 0.1 that clip touches one
    event in ~10⁶. The loss is linear in the targets, so its mean over ε is the loss against the
    mean targets (E|ε| = σ·sqrt(2/π) before the clip). Validation is drawn too (Keras' loss
    cannot tell the two apart). Whoever wants a run's draws reproducible per epoch reseeds
    `seed_generator` (expctl.training does, with the model's own generators).

    Args:
        sigma: σ_ε, in (0, 1) as in the lecture.
        task: "binary" (one sigmoid output, labels 0/1) or "multiclass" (softmax over K,
            integer labels).
        seed: the generator's initial seed (None: drawn from Keras' global seed).
    """

    def __init__(
        self,
        sigma: float,
        task: str = "binary",
        seed: int | None = None,
        name: str = "random_label_smoothing",
        **kwargs: Any,
    ) -> None:
        if not 0 < sigma < 1:
            raise ValueError(f"label smoothing sigma must be in (0, 1), got {sigma}")
        if task not in ("binary", "multiclass"):
            raise ValueError(
                f"random label smoothing applies to binary or multiclass, not {task!r}"
            )
        super().__init__(name=name, **kwargs)
        self.sigma = float(sigma)
        self.task = task
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def draw(self, n: Any, n_classes: int, dtype: str = "float32") -> Any:
        """|ε| for `n` events, shape (n, 1), clipped to (K-1)/K; advances `seed_generator`."""
        eps = keras.random.normal((n,), stddev=self.sigma, dtype=dtype, seed=self.seed_generator)
        return ops.expand_dims(ops.minimum(ops.abs(eps), (n_classes - 1) / n_classes), -1)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        n = ops.shape(y_pred)[0]
        if self.task == "binary":
            y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))
            eps = self.draw(n, 2, y_pred.dtype)
            target = y_true + eps * (1.0 - 2.0 * y_true)
            return keras.losses.binary_crossentropy(target, y_pred)
        one_hot = _one_hot(y_true, y_pred)
        target = _smooth_one_hot(one_hot, self.draw(n, one_hot.shape[-1], y_pred.dtype))
        return keras.losses.categorical_crossentropy(target, y_pred)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"sigma": self.sigma, "task": self.task, "seed": self.seed})
        return config


def make_loss(task: str, label_smoothing: float = 0.0, *, sigma: float = 0.0) -> keras.losses.Loss:
    """The training loss of a task ("binary", "multiclass", "regression"), with label smoothing.

    The lecture's smooth labels: hard targets become ε (wrong classes, ε/(K-1) each with K
    classes) and 1-ε (the true class), with one fixed ε = `label_smoothing`, or with `sigma` > 0
    the lecture's random ε ~ N(0, σ_ε), drawn per event (`RandomLabelSmoothing`; give one or
    the other). With neither the result is Keras' plain loss, unchanged. Regression has no
    labels to smooth: either raises ValueError.
    """
    if not 0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    if sigma:
        if label_smoothing:
            raise ValueError("label smoothing: a fixed ε or a random one (sigma), not both")
        if task == "regression":
            raise ValueError("label_smoothing applies to classification, not regression")
        return RandomLabelSmoothing(sigma, task)
    if task == "binary":
        if label_smoothing == 0:
            return keras.losses.BinaryCrossentropy()
        return BinaryCrossentropyWithSmoothing(label_smoothing)
    if task == "multiclass":
        if label_smoothing == 0:
            return keras.losses.SparseCategoricalCrossentropy()
        return SparseCategoricalCrossentropyWithSmoothing(label_smoothing=label_smoothing)
    if task == "regression":
        if label_smoothing > 0:
            raise ValueError("label_smoothing applies to classification, not regression")
        return keras.losses.MeanSquaredError()
    raise ValueError(f"task must be one of {TASKS}, got {task!r}")
