"""`expctl export RUN --onnx FILE`: a run's model.keras as one self-contained ONNX model, checked.

The ONNX graph takes the raw features, as model.keras does: the standardisation and every other
layer are folded in as constants, in their inference behaviour (dropout, noise and augmentation
are identities; batch norm uses its moving statistics; weight noise, clipping, pruning masks and
L1/L2 penalties only act in training, so the stored weights are exported as they are). No
tf2onnx: `REGISTRY` maps each layer class an expctl model can contain to a function emitting
its ONNX nodes (onnx.helper), so a new layer class fails loudly instead of exporting wrong.

Input "features": [batch, n_features] float32 (images: [batch, height, width, channels], NHWC as
in Keras; the graph transposes to ONNX's NCHW around convolutions). Outputs: "score" for a
single-output model, "score_<head>" per head of a multitask model (the names predictions.npz
uses, y_score and y_score_<head>), each [batch, units] as the Keras output. Before the file is
written, onnxruntime runs it on up to `SAMPLE_EVENTS` of the run's test events and its scores
are compared with Keras' `predict`: a difference above `TOLERANCE` fails the export (exit 1)
and nothing is written. onnx and onnxruntime come with the optional extra `expctl[onnx]`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from expctl.errors import BadInputError, ExpctlError
from expctl.runs import RunView, layout
from expctl.runs.atomic import atomic_write_bytes

INSTALL_HINT = "install it with `uv sync --extra onnx` (or `pip install 'expctl[onnx]'`)"
#: ONNX operator set of the exported graph: ONNX Runtime >= 1.12 (2022) runs it.
OPSET = 17
INPUT_NAME = "features"
#: Output name of a single-output model; a multitask model's are f"{OUTPUT_NAME}_{head}".
OUTPUT_NAME = "score"
#: Largest allowed |onnx - keras| / max(1, |keras|): absolute for scores in [0, 1], relative for
#: regression outputs in their target's units (float32 resolves ~6e-8 of a value, not 1e-5 of 500).
TOLERANCE = 1e-5
#: At most this many test events are compared.
SAMPLE_EVENTS = 1000


class OnnxMismatchError(ExpctlError):
    """onnxruntime's scores differ from Keras' by more than TOLERANCE: exit 1, nothing written."""


class UnsupportedLayerError(BadInputError):
    """A layer (class or setting) the ONNX export cannot convert: exit 2, nothing written."""


def require_onnx() -> tuple[Any, Any]:
    """The onnx and onnxruntime modules, or BadInputError (exit 2) with the install hint."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise BadInputError(
            f"ONNX export needs onnx and onnxruntime ({exc}): {INSTALL_HINT}"
        ) from None
    return onnx, onnxruntime


# --- the graph being built -------------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """A value of the graph: its ONNX name, and its layout: "keras" (as the Keras tensor, NHWC
    for images) or "nchw" (a 4-d tensor transposed for ONNX's convolutions)."""

    name: str
    layout: str = "keras"


@dataclass
class Graph:
    """Nodes and initializers of the graph under construction, with unique names."""

    nodes: list[Any] = field(default_factory=list)
    initializers: list[Any] = field(default_factory=list)
    used: set[str] = field(default_factory=set)

    def unique(self, base: str) -> str:
        name, i = base, 1
        while name in self.used:
            i += 1
            name = f"{base}_{i}"
        self.used.add(name)
        return name

    def const(self, base: str, value: Any) -> str:
        """A float32 initializer (int64 for integer arrays) holding `value`."""
        from onnx import numpy_helper

        array = np.asarray(value)
        array = array.astype(np.int64 if array.dtype.kind in "iu" else np.float32)
        name = self.unique(base)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def op(self, op_type: str, inputs: list[str], base: str, **attrs: Any) -> str:
        """Append one node; the name of its (single) output."""
        from onnx import helper

        out = self.unique(base)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def keras(self, t: Tensor) -> str:
        """`t` in Keras' layout (NCHW is transposed back to NHWC)."""
        if t.layout == "keras":
            return t.name
        return self.op("Transpose", [t.name], f"{t.name}_nhwc", perm=[0, 2, 3, 1])

    def nchw(self, t: Tensor) -> str:
        """A 4-d `t` in ONNX's NCHW layout."""
        if t.layout == "nchw":
            return t.name
        return self.op("Transpose", [t.name], f"{t.name}_nchw", perm=[0, 3, 1, 2])


def _array(variable: Any) -> np.ndarray:
    """A Keras variable or tensor as a numpy array (the stored value)."""
    import keras

    return np.asarray(keras.ops.convert_to_numpy(variable))


def _config(layer: Any) -> dict[str, Any]:
    return dict(layer.get_config())


def _unsupported(layer: Any, why: str) -> UnsupportedLayerError:
    return UnsupportedLayerError(
        f"ONNX export: layer {layer.name!r} ({type(layer).__name__}): {why}"
    )


# --- activations -------------------------------------------------------------------------------


def _gelu(g: Graph, x: str, base: str) -> str:
    """Keras' exact gelu: x/2 · (1 + erf(x/√2))."""
    erf = g.op(
        "Erf", [g.op("Div", [x, g.const("sqrt2", math.sqrt(2.0))], f"{base}_s")], f"{base}_erf"
    )
    one_plus = g.op("Add", [erf, g.const("one", 1.0)], f"{base}_1p")
    return g.op("Mul", [g.op("Mul", [x, g.const("half", 0.5)], f"{base}_h"), one_plus], base)


def _silu(g: Graph, x: str, base: str) -> str:
    return g.op("Mul", [x, g.op("Sigmoid", [x], f"{base}_sigmoid")], base)


#: Keras activation name -> emitter(graph, input name, output base name) -> output name.
#: Elementwise, so they keep the layout; softmax (over the last axis) is handled apart.
ACTIVATIONS: dict[str, Callable[[Graph, str, str], str]] = {
    "relu": lambda g, x, b: g.op("Relu", [x], b),
    "sigmoid": lambda g, x, b: g.op("Sigmoid", [x], b),
    "tanh": lambda g, x, b: g.op("Tanh", [x], b),
    "elu": lambda g, x, b: g.op("Elu", [x], b, alpha=1.0),
    # ONNX's defaults are float32 roundings of SELU's α and λ, Keras' constants
    "selu": lambda g, x, b: g.op("Selu", [x], b),
    "gelu": _gelu,
    "silu": _silu,
    "swish": _silu,
    "leaky_relu": lambda g, x, b: g.op("LeakyRelu", [x], b, alpha=0.2),  # Keras' default slope
    "softplus": lambda g, x, b: g.op("Softplus", [x], b),
    "softsign": lambda g, x, b: g.op("Softsign", [x], b),
    "exponential": lambda g, x, b: g.op("Exp", [x], b),
}


def _activation(g: Graph, layer: Any, name: Any, x: Tensor) -> Tensor:
    """The activation `name` (as in a layer's config) applied to `x`."""
    if name in (None, "linear"):
        return x
    if name == "softmax":
        return Tensor(g.op("Softmax", [g.keras(x)], f"{layer.name}_softmax", axis=-1))
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise _unsupported(
            layer, f"activation {name!r} is not converted; known: softmax, {', '.join(ACTIVATIONS)}"
        )
    return Tensor(ACTIVATIONS[name](g, x.name, f"{layer.name}_{name}"), x.layout)


# --- layers --------------------------------------------------------------------------------------

Converter = Callable[[Graph, Any, list[Tensor]], Tensor]


def _one(layer: Any, inputs: list[Tensor]) -> Tensor:
    if len(inputs) != 1:
        raise _unsupported(layer, f"takes one input, got {len(inputs)}")
    return inputs[0]


def _identity(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    """Dropout, noise and augmentation: identities in inference, so no node at all."""
    return _one(layer, inputs)


def _dense(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    """x·W + b, then the activation (Dense and expctl's NoisyDense: its noise is training-only)."""
    x = g.keras(_one(layer, inputs))
    if getattr(layer, "quantization_mode", None):
        raise _unsupported(layer, "quantized Dense layers are not converted")
    y = g.op(
        "MatMul", [x, g.const(f"{layer.name}_kernel", _array(layer.kernel))], f"{layer.name}_matmul"
    )
    if layer.bias is not None:
        y = g.op(
            "Add", [y, g.const(f"{layer.name}_bias", _array(layer.bias))], f"{layer.name}_bias_add"
        )
    return _activation(g, layer, _config(layer).get("activation"), Tensor(y))


def _normalization(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    """Keras' Normalization: (x - mean) / max(√variance, ε), or its inverse with invert=True."""
    import keras

    x = g.keras(_one(layer, inputs))
    mean = _array(layer.mean).astype(np.float32)
    scale = np.maximum(
        np.sqrt(_array(layer.variance).astype(np.float32)), np.float32(keras.config.epsilon())
    )
    if _config(layer).get("invert"):
        y = g.op("Mul", [x, g.const(f"{layer.name}_std", scale)], f"{layer.name}_mul")
        return Tensor(g.op("Add", [y, g.const(f"{layer.name}_mean", mean)], layer.name))
    y = g.op("Sub", [x, g.const(f"{layer.name}_mean", mean)], f"{layer.name}_sub")
    return Tensor(g.op("Div", [y, g.const(f"{layer.name}_std", scale)], layer.name))


def _rescaling(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    """x·scale + offset (a multitask regression head in its target's units; polynomial terms)."""
    x = g.keras(_one(layer, inputs))
    config = _config(layer)
    scale, offset = (np.asarray(config[k], dtype=np.float32) for k in ("scale", "offset"))
    y = g.op("Mul", [x, g.const(f"{layer.name}_scale", scale)], f"{layer.name}_mul")
    return Tensor(g.op("Add", [y, g.const(f"{layer.name}_offset", offset)], layer.name))


def _activation_layer(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    return _activation(g, layer, _config(layer).get("activation"), _one(layer, inputs))


def _batch_norm(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    """Inference batch norm as TensorFlow computes it: x·s + (β - μ·s), s = γ / √(σ² + ε)."""
    x = _one(layer, inputs)
    config = _config(layer)
    axis = config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list | tuple) and len(axis) == 1 else axis
    rank = len(layer.input.shape)
    if axis not in (-1, rank - 1):
        raise _unsupported(layer, f"batch norm over axis {axis} (only the last, channels_last)")
    variance = _array(layer.moving_variance).astype(np.float32)
    mean = _array(layer.moving_mean).astype(np.float32)
    inv = (1.0 / np.sqrt(variance + np.float32(layer.epsilon))).astype(np.float32)
    if layer.gamma is not None:
        inv = (inv * _array(layer.gamma)).astype(np.float32)
    shift = -mean * inv
    if layer.beta is not None:
        shift = _array(layer.beta).astype(np.float32) + shift
    if x.layout == "nchw":  # channels on axis 1: constants of shape (C, 1, 1)
        inv, shift = inv.reshape(-1, 1, 1), shift.reshape(-1, 1, 1)
    y = g.op("Mul", [x.name, g.const(f"{layer.name}_scale", inv)], f"{layer.name}_mul")
    return Tensor(g.op("Add", [y, g.const(f"{layer.name}_shift", shift)], layer.name), x.layout)


def _channels_last(layer: Any) -> dict[str, Any]:
    config = _config(layer)
    if config.get("data_format", "channels_last") != "channels_last":
        raise _unsupported(layer, f"data_format {config['data_format']!r} (only channels_last)")
    return config


def _pads(layer: Any, padding: str) -> dict[str, Any]:
    if padding == "valid":
        return {"pads": [0, 0, 0, 0]}
    if padding == "same":
        # TensorFlow puts the odd pixel of padding at the end, as ONNX's SAME_UPPER
        return {"auto_pad": "SAME_UPPER"}
    raise _unsupported(layer, f"padding {padding!r} (valid or same)")


def _conv2d(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    """Conv2D on NCHW: the kernel (h, w, in, out) becomes ONNX's (out, in, h, w)."""
    config = _channels_last(layer)
    if config.get("groups", 1) != 1:
        raise _unsupported(layer, "grouped convolutions are not converted")
    x = g.nchw(_one(layer, inputs))
    kernel = _array(layer.kernel).transpose(3, 2, 0, 1)
    names = [x, g.const(f"{layer.name}_kernel", kernel)]
    if layer.bias is not None:
        names.append(g.const(f"{layer.name}_bias", _array(layer.bias)))
    y = g.op(
        "Conv",
        names,
        f"{layer.name}_conv",
        kernel_shape=list(kernel.shape[2:]),
        strides=list(config["strides"]),
        dilations=list(config["dilation_rate"]),
        **_pads(layer, config["padding"]),
    )
    return _activation(g, layer, config.get("activation"), Tensor(y, "nchw"))


def _max_pool2d(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    config = _channels_last(layer)
    pool = list(config["pool_size"])
    strides = list(config.get("strides") or pool)
    x = g.nchw(_one(layer, inputs))
    y = g.op(
        "MaxPool",
        [x],
        layer.name,
        kernel_shape=pool,
        strides=strides,
        **_pads(layer, config["padding"]),
    )
    return Tensor(y, "nchw")


def _global_pool(op_type: str) -> Converter:
    def convert(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
        config = _channels_last(layer)
        x = _one(layer, inputs)
        keepdims = bool(config.get("keepdims", False))
        if keepdims:  # the kept axes must come out NHWC
            x = Tensor(g.keras(x))
        axes = [2, 3] if x.layout == "nchw" else [1, 2]
        return Tensor(g.op(op_type, [x.name], layer.name, axes=axes, keepdims=int(keepdims)))

    return convert


def _flatten(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    """Keras flattens NHWC row-major: back to NHWC first, then ONNX's Flatten."""
    _channels_last(layer)
    return Tensor(g.op("Flatten", [g.keras(_one(layer, inputs))], layer.name, axis=1))


def _reshape(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    shape = [0, *(int(d) for d in _config(layer)["target_shape"])]  # 0: keep the batch axis
    x = g.keras(_one(layer, inputs))
    return Tensor(g.op("Reshape", [x, g.const(f"{layer.name}_shape", shape)], layer.name))


def _merge(op_type: str) -> Converter:
    def convert(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
        names = [g.keras(t) for t in inputs]
        y = names[0]
        for i, other in enumerate(names[1:], start=1):  # pairwise, in Keras' order
            y = g.op(
                op_type, [y, other], layer.name if i == len(names) - 1 else f"{layer.name}_{i}"
            )
        return Tensor(y)

    return convert


def _concatenate(g: Graph, layer: Any, inputs: list[Tensor]) -> Tensor:
    axis = int(_config(layer).get("axis", -1))
    return Tensor(g.op("Concat", [g.keras(t) for t in inputs], layer.name, axis=axis))


#: Registered Keras name of a layer class (keras.saving.get_registered_name: the class name for
#: Keras' own layers, "expctl>Name" for expctl's) -> its converter. Every class expctl's model
#: builders can produce must be here (tests/test_onnx.py walks them).
REGISTRY: dict[str, Converter] = {
    "Dense": _dense,
    "expctl>NoisyDense": _dense,
    "Normalization": _normalization,
    "Rescaling": _rescaling,
    "Activation": _activation_layer,
    "BatchNormalization": _batch_norm,
    "Conv2D": _conv2d,
    "MaxPooling2D": _max_pool2d,
    "GlobalAveragePooling2D": _global_pool("ReduceMean"),
    "GlobalMaxPooling2D": _global_pool("ReduceMax"),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Add": _merge("Add"),
    "Multiply": _merge("Mul"),
    "Concatenate": _concatenate,
    # training-only layers: identities in inference
    "Dropout": _identity,
    "SpatialDropout2D": _identity,
    "GaussianNoise": _identity,
    "GaussianDropout": _identity,
    "AlphaDropout": _identity,
    "RandomFlip": _identity,
    "RandomRotation": _identity,
    "RandomZoom": _identity,
    "RandomTranslation": _identity,
    "RandomContrast": _identity,
    "Identity": _identity,
}


def registered_name(layer: Any) -> str:
    """The REGISTRY key of a layer: its class' registered Keras name."""
    import keras

    return keras.saving.get_registered_name(type(layer))


# --- the model -----------------------------------------------------------------------------------


def _history(node: Any) -> tuple[str, int, int] | None:
    if isinstance(node, dict) and node.get("class_name") == "__keras_tensor__":
        name, node_index, tensor_index = node["config"]["keras_history"]
        return str(name), int(node_index), int(tensor_index)
    return None


def _tensor_refs(node: Any) -> list[tuple[str, int, int]]:
    """The Keras tensors a serialized call argument refers to, in order (lists are walked)."""
    found = _history(node)
    if found is not None:
        return [found]
    if isinstance(node, list | tuple):
        return [ref for item in node for ref in _tensor_refs(item)]
    return []


def _outputs(config: dict[str, Any]) -> list[tuple[str, tuple[str, int, int]]]:
    """(ONNX output name, Keras tensor) for each model output."""
    outputs = config["output_layers"]
    if isinstance(outputs, dict):
        return [(f"{OUTPUT_NAME}_{head}", tuple(ref)) for head, ref in outputs.items()]
    if outputs and isinstance(outputs[0], str):
        outputs = [outputs]
    if len(outputs) == 1:
        return [(OUTPUT_NAME, tuple(outputs[0]))]
    return [(f"{OUTPUT_NAME}_{i}", tuple(ref)) for i, ref in enumerate(outputs)]


def _dims(shape: Any) -> list[Any]:
    return ["batch" if i == 0 else (d if d is not None else f"d{i}") for i, d in enumerate(shape)]


def convert(model: Any, metadata: dict[str, str] | None = None) -> Any:
    """The onnx.ModelProto of a functional Keras model (layers from `REGISTRY`), checked by onnx.

    UnsupportedLayerError (exit 2) names the first layer class or setting it cannot convert.
    """
    onnx, _ = require_onnx()
    from onnx import TensorProto, helper

    config = model.get_config()
    inputs = config.get("input_layers")
    if not inputs or (not isinstance(inputs[0], str) and len(inputs) != 1):
        raise BadInputError(f"ONNX export: model {model.name!r} must have exactly one input")
    tensors: dict[tuple[str, int, int], Tensor] = {}
    g = Graph()
    g.used.add(INPUT_NAME)
    graph_inputs = []
    for entry in config["layers"]:
        layer = model.get_layer(entry["name"])
        if type(layer).__name__ == "InputLayer":
            shape = _dims(model.inputs[0].shape)
            graph_inputs.append(helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, shape))
            tensors[(layer.name, 0, 0)] = Tensor(INPUT_NAME)
            continue
        key = registered_name(layer)
        if key not in REGISTRY:
            raise UnsupportedLayerError(
                f"ONNX export: layer {layer.name!r} is a {key}, which the export does not convert "
                f"(expctl.export.onnx.REGISTRY converts: {', '.join(sorted(REGISTRY))})"
            )
        compute = getattr(getattr(layer, "dtype_policy", None), "compute_dtype", "float32")
        if compute != "float32":
            raise _unsupported(
                layer, f"computes in {compute} (mixed precision); the export is float32"
            )
        nodes = entry.get("inbound_nodes") or []
        if len(nodes) != 1:
            raise _unsupported(layer, f"called {len(nodes)} times (only layers called once)")
        refs = _tensor_refs(nodes[0].get("args", []))
        tensors[(layer.name, 0, 0)] = REGISTRY[key](g, layer, [tensors[r] for r in refs])
    graph_outputs = []
    for name, ref in _outputs(config):
        g.used.add(name)
        g.nodes.append(helper.make_node("Identity", [g.keras(tensors[ref])], [name], name=name))
        shape = _dims(model.get_layer(ref[0]).output.shape)
        graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
    graph = helper.make_graph(g.nodes, model.name, graph_inputs, graph_outputs, g.initializers)
    proto = helper.make_model(
        graph, producer_name="expctl", opset_imports=[helper.make_opsetid("", OPSET)]
    )
    proto.ir_version = 8  # what ONNX Runtime >= 1.12 reads, with opset 17
    helper.set_model_props(proto, metadata or {})
    onnx.checker.check_model(proto, full_check=True)
    return proto


# --- the check and the export ---------------------------------------------------------------------


@dataclass(frozen=True)
class OnnxCheck:
    """onnxruntime against Keras on `events` events: the largest differences per output."""

    events: int
    #: output name -> max |onnx - keras|
    max_abs_diff: dict[str, float]
    #: output name -> max |onnx - keras| / max(1, |keras|), what TOLERANCE bounds
    max_scaled_diff: dict[str, float]

    @property
    def worst(self) -> float:
        return max(self.max_scaled_diff.values(), default=0.0)

    @property
    def ok(self) -> bool:
        return self.worst <= TOLERANCE


def run_onnx(proto_or_bytes: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """onnxruntime's outputs (by name) on `x`, on the CPU."""
    _, ort = require_onnx()
    data = (
        proto_or_bytes if isinstance(proto_or_bytes, bytes) else proto_or_bytes.SerializeToString()
    )
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    values = session.run(names, {INPUT_NAME: np.ascontiguousarray(x, dtype=np.float32)})
    return dict(zip(names, values, strict=True))


def keras_outputs(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Keras' inference outputs on `x`, by the ONNX output names."""
    out = model.predict(np.asarray(x, dtype=np.float32), verbose=0, batch_size=256)
    config = model.get_config()
    names = [name for name, _ in _outputs(config)]
    if isinstance(out, dict):
        heads = list(config["output_layers"])
        return {f"{OUTPUT_NAME}_{h}": np.asarray(out[h]) for h in heads}
    if isinstance(out, list | tuple):
        return {n: np.asarray(v) for n, v in zip(names, out, strict=True)}
    return {names[0]: np.asarray(out)}


def compare(proto: Any, model: Any, x: np.ndarray) -> OnnxCheck:
    """Run both on `x` and measure the largest differences of each output (NaN vs NaN is equal)."""
    expected = keras_outputs(model, x)
    got = run_onnx(proto, x)
    abs_diff, scaled = {}, {}
    for name, want in expected.items():
        want = want.astype(np.float64)
        have = got[name].astype(np.float64).reshape(want.shape)
        diff = np.abs(have - want)
        diff[np.isnan(have) & np.isnan(want)] = 0.0
        diff[np.isnan(diff)] = np.inf
        abs_diff[name] = float(diff.max(initial=0.0))
        scaled[name] = float((diff / np.maximum(1.0, np.abs(np.nan_to_num(want)))).max(initial=0.0))
    return OnnxCheck(len(x), abs_diff, scaled)


@dataclass(frozen=True)
class OnnxExport:
    """What `export_onnx` wrote: the file, its input and outputs (name -> shape), the check."""

    path: Path
    input_shape: list[Any]
    outputs: dict[str, list[Any]]
    check: OnnxCheck
    input_name: str = INPUT_NAME
    opset: int = OPSET


def exportable(run_dir: Path) -> RunView:
    """The run's view if it can be exported (completed, with its model); BadInputError otherwise."""
    view = RunView(run_dir)
    if not view.recorded_status:
        raise BadInputError(f"cannot export {run_dir}: " + "; ".join(view.warnings))
    if view.kind != "run":
        raise BadInputError(
            f"{run_dir} is a {view.kind} experiment, not a run: export one of its runs"
        )
    if view.state != "completed":
        raise BadInputError(
            f"{run_dir}: the run is {view.state}; only a completed run's model is exported"
        )
    if not view.exists(layout.MODEL):
        raise BadInputError(f"{run_dir}: no {layout.MODEL} (nothing to export)")
    return view


def _metadata(view: RunView, names: list[str]) -> dict[str, str]:
    data = view.data or {}
    meta = {"expctl.run": view.path.name, "expctl.outputs": json.dumps(names)}
    for key in ("task", "features", "classes", "target"):
        if data.get(key) is not None:
            meta[f"expctl.{key}"] = json.dumps(data[key])
    return meta


def export_onnx(
    run_dir: Path,
    out: Path,
    events: Callable[[Path, int], np.ndarray],
    n_events: int = SAMPLE_EVENTS,
) -> OnnxExport:
    """Convert a completed run's model.keras to ONNX, check it with onnxruntime on
    `events(run_dir, n_events)` (up to n of the run's raw test features), then write `out`
    atomically.

    BadInputError (exit 2) before anything is written: the run is not completed, onnx is not
    installed, a layer cannot be converted, `out`'s folder does not exist. OnnxMismatchError
    (exit 1), nothing written: onnxruntime and Keras differ by more than TOLERANCE.
    """
    from expctl.models.io import load_model

    run_dir, out = Path(run_dir), Path(out)
    view = exportable(run_dir)
    require_onnx()
    if not out.parent.is_dir():
        raise BadInputError(f"--onnx {out}: folder {out.parent} does not exist")
    if out.is_dir():
        raise BadInputError(f"--onnx {out}: is a folder; give a file name such as model.onnx")
    model = load_model(view.file(layout.MODEL))
    names = [name for name, _ in _outputs(model.get_config())]
    proto = convert(model, _metadata(view, names))
    x = np.asarray(events(run_dir, n_events))[:n_events]
    if len(x) == 0:
        raise BadInputError(f"{run_dir}: no test events to check the ONNX model on")
    check = compare(proto, model, x)
    if not check.ok:
        worst = max(check.max_scaled_diff, key=check.max_scaled_diff.__getitem__)
        raise OnnxMismatchError(
            f"ONNX export of {run_dir.name} refused: on {check.events} test events output "
            f"{worst!r} differs from Keras by {check.max_abs_diff[worst]:.3g} "
            f"(scaled {check.worst:.3g} > {TOLERANCE:g}); nothing written to {out}"
        )
    atomic_write_bytes(out, proto.SerializeToString())
    shapes = {
        o.name: [d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim]
        for o in proto.graph.output
    }
    (first,) = proto.graph.input
    input_shape = [d.dim_param or d.dim_value for d in first.type.tensor_type.shape.dim]
    return OnnxExport(out, input_shape, shapes, check)


__all__ = [
    "INPUT_NAME",
    "OUTPUT_NAME",
    "REGISTRY",
    "SAMPLE_EVENTS",
    "TOLERANCE",
    "OnnxCheck",
    "OnnxExport",
    "OnnxMismatchError",
    "UnsupportedLayerError",
    "compare",
    "convert",
    "export_onnx",
    "exportable",
    "registered_name",
    "require_onnx",
]
