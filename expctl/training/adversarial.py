"""FGSM adversarial training (Goodfellow et al. 2015) and the FGSM attack that evaluates it.

The lecture's "structured noise": x_adv = x + ε·sign(∇ₓJ(θ, x, y)), the perturbation of size ε
(max norm) that increases the loss most to first order. Training on (1-w)·J(x) + w·J(x_adv)
makes the network flatter around the training events.

Units of ε. expctl models receive raw features and standardise them in their first layer
(z = (x - μ)/σ). Here the raw input x is perturbed by δ = ε·σ·sign(∇ₓJ), σ being that layer's
per-feature standard deviation. Because ∂J/∂x = (∂J/∂z)/σ with σ > 0, sign(∇ₓJ) = sign(∇_zJ) and
the standardised input moves by exactly ε·sign(∇_zJ): ε is in units of each feature's training
standard deviation, i.e. Goodfellow's FGSM on the input the network sees. A model without a
standardisation layer (`data.standardize: false`) is perturbed in raw units (σ = 1).

The attack direction is taken in inference mode (`training=False`): dropout, input noise and
weight noise off, so the attack aims at the deterministic network that is deployed and evaluated,
the direction does not depend on a random dropout mask, and the attack consumes no random state.

Only the TensorFlow backend is supported (tf.GradientTape), single-input models, one replica.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

#: Events per gradient computation in `fgsm_perturb` (as the runner's predict batch).
EVAL_BATCH = 8192

LossFn = Callable[[Any, Any], Any]


def input_scale(model: Any) -> np.ndarray | None:
    """Per-feature σ of the model's standardisation layer ("standardize", else its first layer).

    None when there is no such (non-inverting) `keras.layers.Normalization`:
    then ε is in raw input units. Works on a freshly built model and on a loaded `model.keras`.
    """
    model = _unwrap(model)
    layers = [
        layer
        for layer in getattr(model, "layers", [])
        if not isinstance(layer, keras.layers.InputLayer)
    ]
    # expctl's image models put augmentation (the identity at inference) before "standardize"
    named = [layer for layer in layers if layer.name == "standardize"]
    norm = named[0] if named else (layers[0] if layers else None)
    if not isinstance(norm, keras.layers.Normalization):
        return None
    if norm.invert or norm.variance is None:
        return None
    variance = np.asarray(keras.ops.convert_to_numpy(norm.variance), dtype=np.float64).ravel()
    # the layer divides by max(sqrt(var), eps): use the same σ so δ_z is exactly ε
    return np.maximum(np.sqrt(variance), keras.config.epsilon())


def _unwrap(model: Any) -> Any:
    """The model itself, or the functional model inside an AdversarialTrainer."""
    while isinstance(model, AdversarialTrainer):
        model = model.inner
    return model


def _resolve_scale(model: Any, scale: Any) -> np.ndarray | float:
    if isinstance(scale, str):
        if scale != "auto":
            raise ValueError(f"scale must be 'auto', a number or an array, got {scale!r}")
        found = input_scale(model)
        return 1.0 if found is None else found
    return np.asarray(scale, dtype=np.float64) if np.ndim(scale) else float(scale)


def signed_input_gradient(model: Any, x: Any, y: Any, loss_fn: LossFn) -> Any:
    """sign(∇ₓ loss_fn(y, model(x, training=False))) as a tensor shaped like x.

    Each event's sign depends only on its own loss term (the mean over the batch only scales it),
    so sample weights (all positive) and the loss' reduction do not matter. Zero where the
    gradient is exactly 0.
    """
    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y_pred = model(x, training=False)
        loss = loss_fn(y, y_pred)
    gradient = tape.gradient(loss, x)
    if gradient is None:
        raise ValueError("the loss does not depend on the model's input: no FGSM direction")
    return tf.sign(gradient)


def fgsm_perturb(
    model: Any,
    x: Any,
    y: Any,
    loss_fn: LossFn,
    epsilon: float,
    *,
    scale: Any = "auto",
    batch_size: int = EVAL_BATCH,
) -> np.ndarray:
    """x_adv = x + ε·σ·sign(∇ₓJ(θ, x, y)), batch by batch, as a float32 array shaped like x.

    `loss_fn(y_true, y_pred)` is J (e.g. `expctl.models.regularizers.make_loss(task)`); the
    gradient is taken with `training=False`. `scale` is σ: "auto" (the model's standardisation
    σ, or 1 without one), a number, or one number per feature; `scale=1` gives Goodfellow's
    formula in raw units. A pure function: the model's weights and state are not changed.
    """
    if not epsilon >= 0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    step = np.float32(epsilon) * np.asarray(_resolve_scale(model, scale), dtype=np.float32)
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y)
    out = np.empty_like(x)
    for start in range(0, len(x), batch_size):
        batch = slice(start, start + batch_size)
        sign = signed_input_gradient(model, x[batch], y[batch], loss_fn).numpy()
        out[batch] = x[batch] + step * sign
    return out


@keras.saving.register_keras_serializable(package="expctl")
class AdversarialTrainer(keras.Model):
    """Wrap a model so that `fit` trains it on (1-w)·J(x) + w·J(x_adv), x_adv by FGSM at ε.

    Compile and fit the wrapper instead of the model; the wrapped model's variables are the
    ones trained, so afterwards save (and predict with) `trainer.inner`, a plain functional model
    that loads in safe mode without this module. Per batch: the FGSM direction is taken in
    inference mode and its gradient stopped; then the clean and the perturbed batch each go
    through the model in training mode (their own dropout masks), and J is the compiled loss
    with the batch's sample weights (so `class_weight` applies to both terms) plus the model's
    regularisation losses (in both terms with weights 1-w and w, hence counted once). The `loss`
    log is that combined loss (not comparable with `val_loss`, which is clean); the compiled
    metrics (accuracy, auc, ...) are updated on the clean batch. Validation, evaluate and predict
    are the wrapped model's, unchanged. Works with `steps_per_execution > 1`.
    """

    def __init__(
        self,
        inner: keras.Model,
        epsilon: float = 0.01,
        weight: float = 0.5,
        scale: Any = "auto",
        **kwargs: Any,
    ) -> None:
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon}")
        if not 0 <= weight <= 1:
            raise ValueError(f"weight must be in [0, 1], got {weight}")
        kwargs.setdefault("name", f"adversarial_{inner.name}")
        super().__init__(**kwargs)
        self.inner = inner
        self.epsilon = float(epsilon)
        self.weight = float(weight)
        resolved = _resolve_scale(inner, scale)
        #: σ per feature (or one number): the step on the raw input is ε·σ·sign(∇ₓJ)
        self.scale = resolved.tolist() if isinstance(resolved, np.ndarray) else float(resolved)
        self._step = np.float32(self.epsilon) * np.asarray(self.scale, dtype=np.float32)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        return self.inner(inputs, training=training)

    def perturb(self, x: Any, y: Any) -> Any:
        """x_adv for one batch, with the compiled loss as J (no sample weights), gradient stopped."""
        x = tf.convert_to_tensor(x)

        def attack_loss(y_true: Any, y_pred: Any) -> Any:
            return self.compute_loss(x=x, y=y_true, y_pred=y_pred, training=False)

        sign = signed_input_gradient(self.inner, x, y, attack_loss)
        return tf.stop_gradient(x + tf.cast(self._step, x.dtype) * sign)

    def train_step(self, data: Any) -> dict[str, Any]:
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x = tf.convert_to_tensor(x)
        x_adv = self.perturb(x, y)
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            clean = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            y_adv = self(x_adv, training=True)
            adversarial = self.compute_loss(
                x=x_adv, y=y, y_pred=y_adv, sample_weight=sample_weight, training=True
            )
            loss = (1.0 - self.weight) * clean + self.weight * adversarial
            scaled = self.optimizer.scale_loss(loss)
        for metric in self.metrics:
            if metric.name == "loss":
                # weighted by the batch size, as Keras' own train_step does
                metric.update_state(loss, sample_weight=tf.shape(x)[0])
        weights = self.trainable_weights
        gradients = tape.gradient(scaled, weights)
        self.optimizer.apply_gradients(zip(gradients, weights, strict=True))
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {
            "inner": keras.saving.serialize_keras_object(self.inner),
            "epsilon": self.epsilon,
            "weight": self.weight,
            "scale": self.scale,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AdversarialTrainer:
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(config.pop("inner"))
        return cls(inner, **config)
