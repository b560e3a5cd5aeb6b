"""model_summary.txt: Keras' layer table with each layer's settings, then what acts on training
outside the layers (adversarial training, pruning, precision, label smoothing, ...)."""

from __future__ import annotations

import math
from typing import Any


def model_summary(model: Any, spec: Any) -> str:
    """model_summary.txt: Keras' layer table, then what acts on training outside the layers."""
    lines = [f"model {model.name}: {model.count_params():,} parameters", ""]
    lines.append(f"{'layer (type)':<44} {'output shape':<22} {'params':>9}  settings")
    for layer in model.layers:
        shape = str(tuple(getattr(layer, "output", None).shape)) if layer.output is not None else ""
        lines.append(
            f"{layer.name + ' (' + type(layer).__name__ + ')':<44} {shape:<22} "
            f"{layer.count_params():>9,}  {_layer_settings(layer)}".rstrip()
        )
    train_spec = spec.train
    extra = []
    if train_spec.adversarial is not None:
        a = train_spec.adversarial
        extra.append(
            f"adversarial training: {a.method}, epsilon {a.epsilon:g} (standard deviations "
            f"of each input), loss (1-{a.weight:g})·J(x) + {a.weight:g}·J(x_adv)"
        )
    if train_spec.pruning is not None:
        pr = train_spec.pruning
        extra.append(
            f"pruning: magnitude, target sparsity {pr.target_sparsity:g} of the hidden kernels, "
            f"polynomial from epoch {pr.start_epoch} to {pr.end_epoch}"
        )
    if train_spec.precision != "float32":
        extra.append(f"precision: {train_spec.precision} (outputs, loss and metrics in float32)")
    if train_spec.jit_compile:
        extra.append("jit_compile: XLA (op determinism off: reruns may differ in the last bits)")
    if train_spec.label_smoothing:
        extra.append(_label_smoothing_line(train_spec.label_smoothing))
    if spec.data.label_noise:
        extra.append(f"label noise: {spec.data.label_noise:g} of the training labels flipped")
    if train_spec.class_weight is not None:
        extra.append(f"class weights: {train_spec.class_weight}")
    text = "\n".join(lines)
    return text + ("\n\ntraining:\n  " + "\n  ".join(extra) if extra else "") + "\n"


#: Layer config keys worth showing in model_summary.txt (what each technique set).
_SHOWN_SETTINGS = (
    "units",
    "filters",
    "kernel_size",
    "padding",
    "pool_size",
    "activation",
    "rate",
    "stddev",
    "factor",
    "height_factor",
    "width_factor",
    "mode",
    "weight_noise",
    "weight_noise_dist",
    "scale",
    "offset",
)


def _layer_settings(layer: Any) -> str:
    config = layer.get_config()
    parts = [f"{k}={config[k]}" for k in _SHOWN_SETTINGS if config.get(k) not in (None, "linear")]
    for key in ("kernel_regularizer", "kernel_constraint"):
        value = config.get(key)
        if isinstance(value, dict):
            inner = value.get("config") or {}
            args = ",".join(
                f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in inner.items()
            )
            parts.append(f"{key.removeprefix('kernel_')}={value.get('class_name')}({args})")
    return " ".join(parts)


__all__ = ["model_summary"]


def _label_smoothing_line(smoothing: Any) -> str:
    """The summary's line for train.label_smoothing: a fixed ε, or ε ~ N(0, σ) drawn per event."""
    sigma = getattr(smoothing, "sigma", None)
    if sigma is None:
        return f"label smoothing: targets {smoothing:g} and 1-ε"
    return (
        f"label smoothing: random, targets |ε| and 1-|ε| with ε ~ N(0, {sigma:g}) drawn per event "
        f"and epoch (mean |ε| {sigma * math.sqrt(2 / math.pi):.3g} before |ε| is clipped to (K-1)/K)"
    )
