"""Magnitude pruning with the polynomial schedule of Zhu & Gupta (2017), "To prune, or not to prune".

Regularisation by architecture (the lecture's "dropout and pruning"): the smallest-magnitude
weights of each hidden Dense/Conv kernel are set to zero and kept there, the sparsity growing as
s(e) = s_f·(1 - (1 - (e - e0)/(e1 - e0))³) during epoch e (1-based): epochs 1..e0 train the
dense network, epoch e1 and later ones train at the target s_f (and fine-tune). Biases are
never pruned; the output layer only with `prune_output=True`.

How pruned weights stay zero: each pruned kernel variable gets a constraint w ↦ c(w)·m (c the
layer's own kernel constraint, if any; m a binary mask variable). Keras applies a variable's
constraint after every optimizer update, inside the compiled train step, so the mask holds after
every step, also with `steps_per_execution > 1`; the cost is one multiply per kernel weight per
step. The callback changes m (and zeroes the kernel) between steps; it never runs per batch
unless `frequency_steps` is given. The constraint is set on the variable only, not in the layer's
config: a saved model is plain Keras (zeros included) and loads in safe mode without this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

#: Layer types whose `kernel` is pruned (subclasses included, e.g. expctl's NoisyDense).
PRUNABLE = (
    keras.layers.Dense,
    keras.layers.EinsumDense,
    keras.layers.Conv1D,
    keras.layers.Conv2D,
    keras.layers.Conv3D,
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)


def polynomial_sparsity(
    epochs_done: float, target_sparsity: float, start_epoch: int, end_epoch: int
) -> float:
    """Zhu & Gupta's s(e) = s_f·(1 - (1 - (e - e0)/(e1 - e0))³), 0 before e0 and s_f after e1.

    `epochs_done` is the (1-based, possibly fractional) epoch; 0 up to e0, s_f from e1 on.
    """
    if epochs_done <= start_epoch:
        return 0.0
    if epochs_done >= end_epoch:
        return float(target_sparsity)
    progress = (epochs_done - start_epoch) / (end_epoch - start_epoch)
    return float(target_sparsity * (1.0 - (1.0 - progress) ** 3))


def _target_model(model: Any) -> Any:
    """The functional model holding the layers: `model`, or the one a trainer wraps (`.inner`)."""
    while hasattr(model, "inner"):
        model = model.inner
    return model


def _is_output(layer: Any, model: Any) -> bool:
    outputs = {id(t) for t in keras.tree.flatten(getattr(model, "outputs", None) or [])}
    try:
        produced = keras.tree.flatten(layer.output)
    except (AttributeError, ValueError, RuntimeError):
        return False
    return any(id(t) in outputs for t in produced)


def prunable_layers(
    model: Any, layers: Sequence[str] | None = None, prune_output: bool = False
) -> list[Any]:
    """The layers whose kernel is pruned.

    Default: every Dense/EinsumDense/Conv layer of the (functional) model except the layers that
    produce the model's outputs (unless `prune_output`). `layers` names them explicitly instead
    (ValueError if one is missing or has no kernel). An AdversarialTrainer is looked through.
    """
    model = _target_model(model)
    if layers is not None:
        chosen = []
        for name in layers:
            layer = model.get_layer(name)  # ValueError when absent
            if not isinstance(getattr(layer, "kernel", None), keras.Variable):
                raise ValueError(f"layer {name!r} has no kernel to prune")
            chosen.append(layer)
        return chosen
    return [
        layer
        for layer in model.layers
        if isinstance(layer, PRUNABLE)
        and isinstance(getattr(layer, "kernel", None), keras.Variable)
        and (prune_output or not _is_output(layer, model))
    ]


def sparsity(model: Any, layers: Sequence[str] | None = None, prune_output: bool = False) -> float:
    """Fraction of exactly-zero weights over the kernels of the pruned layers (metrics.json).

    Same layer selection as `MagnitudePruning` (pass the same `layers`/`prune_output`); works on
    a loaded model. NaN when there is no such layer.
    """
    kernels = [
        np.asarray(layer.kernel.numpy()) for layer in prunable_layers(model, layers, prune_output)
    ]
    total = sum(k.size for k in kernels)
    if total == 0:
        return math.nan
    return float(sum(int(np.count_nonzero(k == 0)) for k in kernels) / total)


class _MaskConstraint(keras.constraints.Constraint):
    """w ↦ base(w)·mask: the kernel's own constraint first, then the pruning mask (not saved)."""

    def __init__(self, mask: keras.Variable, base: Any = None) -> None:
        self.mask = mask
        self.base = base

    def __call__(self, w: Any) -> Any:
        if self.base is not None:
            w = self.base(w)
        return w * keras.ops.cast(self.mask, w.dtype)


def _attach_mask(kernel: keras.Variable) -> tuple[keras.Variable, bool]:
    """The kernel's mask variable, attaching a mask of ones first if it has none."""
    if isinstance(kernel.constraint, _MaskConstraint):
        return kernel.constraint.mask, False
    name = kernel.path.replace("/", "_") + "_pruning_mask"
    mask = keras.Variable(
        np.ones(kernel.shape, dtype=np.float32), trainable=False, dtype="float32", name=name
    )
    kernel.constraint = _MaskConstraint(mask, kernel.constraint)
    return mask, True


def remove_masks(model: Any) -> None:
    """Detach the pruning masks: further training may make pruned weights non-zero again."""
    for layer in _target_model(model).layers:
        kernel = getattr(layer, "kernel", None)
        if isinstance(kernel, keras.Variable) and isinstance(kernel.constraint, _MaskConstraint):
            kernel.constraint = kernel.constraint.base


def prune_kernel(kernel: keras.Variable, mask: keras.Variable, target: float) -> float:
    """Zero the smallest |w| of `kernel` until round(target·n) weights are pruned; the new sparsity.

    Pruning only grows: weights already masked stay masked and count first. Ties are broken by
    position (stable sort), so exactly round(target·n) weights end up masked (or more, if more
    were masked before).
    """
    w = np.asarray(kernel.numpy())
    m = np.asarray(mask.numpy())
    n = w.size
    wanted = round(target * n)
    if wanted > n - int(np.count_nonzero(m)):
        key = np.where(m.ravel() > 0, np.abs(w.ravel()).astype(np.float64), -1.0)
        order = np.argsort(key, kind="stable")
        new = np.ones(n, dtype=np.float32)
        new[order[:wanted]] = 0.0
        m = new.reshape(w.shape)
        mask.assign(m)
    kernel.assign((w * m).astype(w.dtype))
    return float(1.0 - np.count_nonzero(m) / n)


class MagnitudePruning(keras.callbacks.Callback):
    """Prune hidden kernels to Zhu & Gupta's schedule during `fit`; pruned weights stay zero.

    At the start of epoch e (1-based; Keras' index + 1) every pruned kernel is brought to s(e)
    (`polynomial_sparsity`), so an epoch's training and its validation metrics all see one
    mask, and epoch `end_epoch` and later ones train at the target s_f: train at least
    `end_epoch` epochs (any further ones fine-tune the pruned network). With
    `frequency_steps`, the kernels are also pruned every `frequency_steps` optimizer steps at
    the fractional epoch reached; this is checked at the end of each compiled call, so its
    granularity is max(frequency_steps, steps_per_execution), and it makes Keras run batch
    callbacks synchronously. The mask is enforced after every step (see the module docstring).

    At each epoch's end the logs get `sparsity` (zeros over the pruned kernels): put this
    callback before any callback that records the logs. EarlyStopping's restored weights carry
    the sparsity of their epoch: let it start monitoring at epoch index >= `end_epoch`
    (`start_from_epoch`) to keep the target. Layers: see `prunable_layers`; the callback also
    works when `fit` runs an AdversarialTrainer (it prunes the wrapped model).
    """

    def __init__(
        self,
        target_sparsity: float,
        start_epoch: int = 0,
        end_epoch: int = 10,
        frequency_steps: int | None = None,
        layers: Sequence[str] | None = None,
        prune_output: bool = False,
    ) -> None:
        super().__init__()
        if not 0 < target_sparsity < 1:
            raise ValueError(f"target_sparsity must be in (0, 1), got {target_sparsity}")
        if start_epoch < 0 or end_epoch <= start_epoch:
            raise ValueError(
                f"need 0 <= start_epoch < end_epoch, got start {start_epoch}, end {end_epoch}"
            )
        if frequency_steps is not None and frequency_steps < 1:
            raise ValueError(f"frequency_steps must be >= 1, got {frequency_steps}")
        self.target_sparsity = float(target_sparsity)
        self.start_epoch = int(start_epoch)
        self.end_epoch = int(end_epoch)
        self.frequency_steps = frequency_steps
        self.layers = list(layers) if layers is not None else None
        self.prune_output = prune_output
        self.pruned: list[tuple[keras.Variable, keras.Variable]] = []
        self.current_sparsity = 0.0
        self._epoch = 0
        self._last_bucket = 0
        if frequency_steps is not None:
            # Only then a batch hook: Keras keeps batch callbacks asynchronous when no callback
            # overrides one, so the epoch-level default costs nothing per batch.
            self.on_train_batch_end = self._on_train_batch_end

    def schedule(self, epoch: float) -> float:
        """The sparsity epoch `epoch` (1-based; fractional inside an epoch) trains with."""
        return polynomial_sparsity(epoch, self.target_sparsity, self.start_epoch, self.end_epoch)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        chosen = prunable_layers(self.model, self.layers, self.prune_output)
        if not chosen:
            raise ValueError(
                "pruning: the model has no Dense/Conv kernel to prune "
                "(the output layer is pruned only with prune_output)"
            )
        attached = False
        self.pruned = []
        self._last_bucket = 0
        for layer in chosen:
            mask, new = _attach_mask(layer.kernel)
            attached |= new
            self.pruned.append((layer.kernel, mask))
        if attached and self.model.train_function is not None:
            # constraints are read when the train step is traced: trace it again
            self.model.make_train_function(force=True)

    def prune(self, target: float) -> float:
        """Bring every pruned kernel to at least `target` sparsity now; the resulting sparsity."""
        zeros = total = 0.0
        for kernel, mask in self.pruned:
            size = math.prod(kernel.shape)
            zeros += prune_kernel(kernel, mask, target) * size
            total += size
        self.current_sparsity = zeros / total if total else 0.0
        return self.current_sparsity

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch
        target = self.schedule(epoch + 1)  # Keras' index is 0-based
        if target > 0:
            self.prune(target)

    def _on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        steps = (self.params or {}).get("steps")
        if not steps or self.frequency_steps is None:
            return
        step = self._epoch * steps + batch + 1  # optimizer steps done since epoch index 0
        bucket = step // self.frequency_steps
        if bucket > self._last_bucket:  # a multiple of frequency_steps was passed
            self._last_bucket = bucket
            target = self.schedule(step / steps + 1)
            if target > 0:
                self.prune(target)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if logs is not None:
            logs["sparsity"] = sparsity(self.model, self.layers, self.prune_output)
