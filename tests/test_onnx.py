"""`expctl export RUN --onnx FILE`: the ONNX model gives Keras' inference scores (onnxruntime).

The trained models are tiny (1-2 epochs); the scores compared are independent of the exporter's
own check: the file written is run again here with onnxruntime and compared with the run's
predictions.npz (written by training) and with Keras' predict on 1,000 events.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import keras  # noqa: E402

from expctl.export import onnx as export_onnx_module  # noqa: E402
from expctl.export.onnx import (  # noqa: E402
    REGISTRY,
    TOLERANCE,
    UnsupportedLayerError,
    compare,
    convert,
    registered_name,
)

ROOT = Path(__file__).resolve().parents[1]
N_EVENTS = 1000


def train(tmp_path: Path, spec: dict[str, Any]) -> Path:
    """Train `spec` with `expctl run`; its run directory."""
    path = tmp_path / f"{spec['name']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "outputs"
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out), "-q"])
    assert result.exit_code == 0, result.output
    (run_dir,) = [p for p in out.iterdir() if spec["name"] in p.name]
    return run_dir


def thousand_events(x: np.ndarray, seed: int = 0) -> np.ndarray:
    """1,000 events like `x`: its rows, then rows drawn again with Gaussian jitter of 0.1 σ."""
    rng = np.random.default_rng(seed)
    extra = x[rng.integers(0, len(x), N_EVENTS)]
    spread = x.reshape(len(x), -1).std(axis=0).reshape(x.shape[1:])
    jittered = extra + 0.1 * spread * rng.standard_normal(extra.shape)
    return np.concatenate([x, jittered.astype(np.float32)])[:N_EVENTS]


def run_test_events(run_dir: Path) -> np.ndarray:
    """The run's test features, prepared again from its spec.yaml (as the command does)."""
    from expctl.runner.resume import same_data, stored_spec
    from expctl.runs import RunView

    loaded, record = stored_spec(RunView(run_dir))
    return same_data(loaded, record, run_dir).test.x


def onnx_scores(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {"features": x.astype(np.float32)}), strict=True))


def assert_matches_run(run_dir: Path, onnx_file: Path, heads: list[str] | None = None) -> None:
    """ONNX scores equal predictions.npz on the run's test events and Keras' on 1,000 events."""
    from expctl.models import load_model

    x = run_test_events(run_dir)
    stored = np.load(run_dir / "predictions.npz", allow_pickle=False)
    got = onnx_scores(onnx_file, x)
    pairs = {f"score_{h}": f"y_score_{h}" for h in heads} if heads else {"score": "y_score"}
    assert sorted(got) == sorted(pairs)
    for out_name, npz_name in pairs.items():
        want = stored[npz_name]
        have = got[out_name][:, 0] if want.ndim == 1 else got[out_name]
        scale = np.maximum(1.0, np.abs(want))
        assert np.max(np.abs(have - want) / scale) <= TOLERANCE, out_name
    events = thousand_events(x)
    assert len(events) == N_EVENTS
    model = load_model(run_dir / "model.keras")
    keras_out = model.predict(events, verbose=0)
    if not isinstance(keras_out, dict):
        keras_out = {"score": keras_out}
    else:
        keras_out = {f"score_{k}": v for k, v in keras_out.items()}
    got = onnx_scores(onnx_file, events)
    for name, want in keras_out.items():
        scale = np.maximum(1.0, np.abs(want))
        assert np.max(np.abs(got[name] - want) / scale) <= TOLERANCE, name


def cli_export(run_dir: Path, onnx_file: Path) -> Any:
    return CliRunner().invoke(cli, ["export", str(run_dir), "--onnx", str(onnx_file)])


# --- acceptance: trained runs, through the command -----------------------------------------------


@pytest.mark.slow  # ~10 s: trains 2 epochs on 5,000 jets, then exports
def test_mlp_with_every_lecture_layer(tmp_path: Path) -> None:
    spec = {
        "name": "lecture",
        "seed": 4,
        "data": {"source": "jets", "n_samples": 5000},
        "model": {
            "type": "mlp",
            "hidden": [16, 8],
            "activation": "elu",
            "dropout": 0.2,
            "input_noise": 0.1,
            "weight_noise": 0.02,
            "weight_clip": 0.3,
            "l1": 1.0e-4,
            "l2": 1.0e-4,
        },
        "train": {
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "batch_size": 128,
            "epochs": 2,
            "label_smoothing": 0.1,
            "pruning": {"target_sparsity": 0.5, "start_epoch": 0, "end_epoch": 1},
        },
    }
    run_dir = train(tmp_path, spec)
    onnx_file = tmp_path / "lecture.onnx"
    result = cli_export(run_dir, onnx_file)
    assert result.exit_code == 0, result.output
    assert "on 1000 test events" in result.output
    assert_matches_run(run_dir, onnx_file)
    # the stored (clipped, pruned) weights are what is exported: half of each hidden kernel is 0
    model = onnx.load(onnx_file)
    kernels = {
        t.name: onnx.numpy_helper.to_array(t)
        for t in model.graph.initializer
        if t.name.endswith("_kernel")
    }
    for name in ("dense_1_kernel", "dense_2_kernel"):
        assert np.mean(kernels[name] == 0) == pytest.approx(0.5, abs=0.01)
        assert np.max(np.abs(kernels[name])) <= 0.3
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["expctl.features"])[:2] == ["pt", "eta"]
    assert meta["expctl.run"] == run_dir.name


@pytest.mark.slow  # ~12 s: a 2-epoch CNN on the 8x8 digits, then exports
def test_cnn_with_augmentation_and_batch_norm(tmp_path: Path) -> None:
    spec = {
        "name": "cnn",
        "seed": 2,
        "data": {"source": "digits", "images": True},
        "model": {
            "type": "cnn",
            "conv": [
                {"filters": 6, "kernel_size": 3, "padding": "same", "batch_norm": True, "pool": 2},
                {"filters": 4, "kernel_size": 2, "padding": "valid", "dropout": 0.1},
            ],
            "hidden": [12],
            "activation": "gelu",
            "augment": {
                "flip": "horizontal",
                "rotation": 0.05,
                "zoom": 0.1,
                "translation": 0.1,
                "contrast": 0.1,
                "noise": 0.05,
            },
        },
        "train": {
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "batch_size": 64,
            "epochs": 2,
        },
    }
    run_dir = train(tmp_path, spec)
    onnx_file = tmp_path / "cnn.onnx"
    result = cli_export(run_dir, onnx_file)
    assert result.exit_code == 0, result.output
    assert "features ['batch', 8, 8, 1]" in result.output
    assert "score ['batch', 10]" in result.output
    assert_matches_run(run_dir, onnx_file)


@pytest.mark.slow  # ~8 s: a 2-head model on 5,000 jets, then exports
def test_multitask(tmp_path: Path) -> None:
    spec = {
        "name": "multitask",
        "seed": 1,
        "data": {"source": "jets", "n_samples": 5000},
        "model": {
            "type": "mlp",
            "hidden": [16],
            "dropout": 0.1,
            "heads": [
                {"name": "signal", "task": "binary", "target": "label"},
                {"name": "energy", "task": "regression", "target": "energy", "loss_weight": 0.5},
            ],
        },
        "train": {
            "optimizer": {"name": "adam", "learning_rate": 0.01},
            "batch_size": 128,
            "epochs": 2,
        },
    }
    run_dir = train(tmp_path, spec)
    onnx_file = tmp_path / "multitask.onnx"
    result = cli_export(run_dir, onnx_file)
    assert result.exit_code == 0, result.output
    assert_matches_run(run_dir, onnx_file, heads=["signal", "energy"])
    # the energy head is in GeV (its Rescaling folded in), not standardised
    energy = onnx_scores(onnx_file, run_test_events(run_dir))["score_energy"]
    assert np.median(energy) > 10


# --- the converter on hand-built models (no training) ---------------------------------------------


def _random_weights(model: Any, seed: int = 0) -> Any:
    """Non-trivial weights everywhere (batch norm statistics too), so every constant matters."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        value = rng.normal(0, 0.5, w.shape)
        if "variance" in w.path:
            value = rng.uniform(0.5, 2.0, w.shape)
        w.assign(value.astype(np.float32))
    return model


def _check(model: Any, x: np.ndarray) -> None:
    check = compare(convert(model), model, x)
    assert check.ok, check
    assert check.events == len(x)


@pytest.mark.parametrize(
    "activation",
    [
        "relu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "swish",
        "tanh",
        "sigmoid",
        "leaky_relu",
        "linear",
        "softmax",
    ],
)
def test_activations(activation: str) -> None:
    inputs = keras.Input((5,), name="features")
    x = keras.layers.Dense(7, activation=activation)(inputs)
    model = _random_weights(keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)))
    _check(model, np.random.default_rng(1).normal(0, 2, (N_EVENTS, 5)).astype(np.float32))


@pytest.mark.parametrize("pool", ["flatten", "average", "max"])
def test_cnn_layers_nhwc(pool: str) -> None:
    """Non-square images and kernels, valid and same padding, pooling, batch norm, each head."""
    inputs = keras.Input((9, 7, 2), name="features")
    x = keras.layers.Normalization(mean=[0.5, -1.0], variance=[4.0, 0.25])(inputs)
    x = keras.layers.Conv2D(3, (3, 2), padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(4, 2, padding="valid", activation="tanh")(x)
    x = keras.layers.BatchNormalization()(x)  # on NCHW after a conv
    layer = {
        "flatten": keras.layers.Flatten(),
        "average": keras.layers.GlobalAveragePooling2D(),
        "max": keras.layers.GlobalMaxPooling2D(),
    }[pool]
    x = keras.layers.Dense(2, activation="softmax")(layer(x))
    model = _random_weights(keras.Model(inputs, x))
    events = np.random.default_rng(2).normal(0, 1, (N_EVENTS, 9, 7, 2)).astype(np.float32)
    _check(model, events)


def test_polynomial_and_merge_layers() -> None:
    """The polynomial trunk's stock layers (Rescaling, Multiply, Add, Concatenate), and Reshape."""
    from types import SimpleNamespace

    from expctl.models.polynomial import build_polynomial

    inputs = keras.Input((3,), name="features")
    x = build_polynomial(SimpleNamespace(degree=4), inputs)
    x = keras.layers.Reshape((4, 3))(x)
    x = keras.layers.Flatten()(x)
    model = _random_weights(keras.Model(inputs, keras.layers.Dense(1)(x)))
    _check(model, np.random.default_rng(3).uniform(-1, 1, (N_EVENTS, 3)).astype(np.float32))


def test_a_wrong_conversion_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: relu emitted as an identity differs from Keras."""
    monkeypatch.setitem(
        export_onnx_module.ACTIVATIONS, "relu", lambda g, x, b: g.op("Identity", [x], b)
    )
    inputs = keras.Input((4,), name="features")
    model = _random_weights(keras.Model(inputs, keras.layers.Dense(2, activation="relu")(inputs)))
    check = compare(convert(model), model, np.random.default_rng(0).normal(size=(50, 4)))
    assert not check.ok
    assert check.max_abs_diff["score"] > 0.1


def test_unknown_layer_is_named() -> None:
    inputs = keras.Input((4,), name="features")
    x = keras.layers.LayerNormalization(name="my_norm")(inputs)
    with pytest.raises(UnsupportedLayerError, match="'my_norm' is a LayerNormalization"):
        convert(keras.Model(inputs, x))


def test_mixed_precision_is_refused() -> None:
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(3, dtype="mixed_float16", name="half")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(hidden))
    with pytest.raises(UnsupportedLayerError, match=r"'half'.*float16"):
        convert(model)


# --- the registry covers every layer class expctl builds ----------------------------------------


def _keras_layer_names_used(package: Path) -> set[str]:
    """Every `keras.layers.X` / `from keras.layers import X` of the modules under `package`."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "layers"
                and isinstance(node.value.value, ast.Name)
                and node.value.value.id == "keras"
            ):
                names.add(node.attr)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("keras"):
                names.update(alias.name for alias in node.names)
    return names


def _expctl_layer_classes() -> set[str]:
    """Registered names of every Layer class expctl registers (all its modules imported)."""
    import expctl

    for info in pkgutil.walk_packages(expctl.__path__, "expctl."):
        if info.name.startswith(("expctl.ui", "expctl.cli", "expctl.__main__")):
            continue
        try:
            importlib.import_module(info.name)
        except ImportError:  # an optional extra that is not installed
            continue
    return {
        name
        for name, obj in keras.saving.get_custom_objects().items()
        if isinstance(obj, type)
        and issubclass(obj, keras.layers.Layer)
        and not issubclass(obj, keras.Model)
    }


def test_registry_converts_every_layer_class_expctl_builds() -> None:
    used = {
        keras.saving.get_registered_name(getattr(keras.layers, name))
        for name in _keras_layer_names_used(ROOT / "expctl" / "models")
        if isinstance(getattr(keras.layers, name, None), type)
        and issubclass(getattr(keras.layers, name), keras.layers.Layer)
    } - {"InputLayer"}
    custom = _expctl_layer_classes()
    # the scan sees what it must: the trunks' layers and expctl's own
    assert {"Dense", "Conv2D", "Normalization", "RandomRotation", "Concatenate"} <= used
    assert "expctl>NoisyDense" in custom
    missing = sorted((used | custom) - set(REGISTRY))
    assert not missing, f"expctl.export.onnx.REGISTRY has no converter for {missing}"


def test_registry_covers_the_models_built_from_the_example_specs() -> None:
    """Every layer of the models the example specs build (small stand-in data) is converted."""
    from types import SimpleNamespace

    from expctl.models import build_model
    from expctl.spec import load_spec

    seen = set()
    for path in sorted((ROOT / "experiments").glob("**/*.yaml")):
        text = yaml.safe_load(path.read_text())
        if not isinstance(text, dict) or "model" not in text or "sweep" in text:
            continue
        spec = load_spec(path).spec
        images = spec.model.type == "cnn"
        shape = (8, 8, 1) if images else (4,)
        heads = tuple(
            SimpleNamespace(name=h.name, task=h.task, n_classes=2, mean=0.0, std=1.0)
            for h in spec.heads or ()
        )
        dataset = SimpleNamespace(
            train=SimpleNamespace(x=np.zeros((2, *shape), np.float32)),
            input_shape=shape,
            mean=np.zeros(shape[-1]),
            std=np.ones(shape[-1]),
            heads=heads,
            task="binary",
            n_classes=2,
        )
        model = build_model(spec.model, dataset)
        seen |= {registered_name(layer) for layer in model.layers} - {"InputLayer"}
    assert {"Dense", "Conv2D", "Normalization"} <= seen
    assert not seen - set(REGISTRY), seen - set(REGISTRY)


# --- bad input: exit 2, nothing written ---------------------------------------------------------


def test_missing_run_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    result = CliRunner().invoke(
        cli, ["export", "nope", "--onnx", str(out), "--output-dir", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert "nope" in result.output
    assert not out.exists()


@pytest.mark.parametrize("status", ["failed", "running", "interrupted"])
def test_run_not_completed_exits_2(trained_runs, tmp_path: Path, status: str) -> None:
    import shutil

    run_dir = tmp_path / trained_runs["binary"].name
    shutil.copytree(trained_runs["binary"], run_dir)
    record = json.loads((run_dir / "status.json").read_text())
    record["status"] = status
    (run_dir / "status.json").write_text(json.dumps(record))
    out = tmp_path / "m.onnx"
    result = cli_export(run_dir, out)
    assert result.exit_code == 2, result.output
    assert "only a completed run's model is exported" in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [run_dir.name]


def test_cli_exports_the_binary_run_and_refuses_a_mismatch(
    trained_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = trained_runs["binary"]
    out = tmp_path / "binary.onnx"
    result = cli_export(run_dir, out)
    assert result.exit_code == 0, result.output
    assert "input  features ['batch', 7] float32" in result.output
    assert "output score ['batch', 1]" in result.output
    assert_matches_run(run_dir, out)
    # a wrong conversion: exit 1, the file is not written (nor any temporary)
    monkeypatch.setitem(
        export_onnx_module.ACTIVATIONS, "relu", lambda g, x, b: g.op("Identity", [x], b)
    )
    bad = tmp_path / "bad.onnx"
    result = cli_export(run_dir, bad)
    assert result.exit_code == 1, result.output
    assert "differs from Keras" in result.output and "nothing written" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["binary.onnx"]


def test_usage_errors(trained_runs, tmp_path: Path) -> None:
    run_dir = str(trained_runs["binary"])
    both = ["export", run_dir, "--onnx", str(tmp_path / "a.onnx"), "--mlflow", "sqlite:///x.db"]
    for argv in (["export", run_dir], both, ["export", run_dir, run_dir, "--onnx", "a.onnx"]):
        result = CliRunner().invoke(cli, argv)
        assert result.exit_code == 2, (argv, result.output)
    result = cli_export(trained_runs["binary"], tmp_path / "no" / "such" / "dir.onnx")
    assert result.exit_code == 2 and "does not exist" in result.output
    assert list(tmp_path.iterdir()) == []


def test_missing_extra_gives_the_install_hint(
    trained_runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    out = tmp_path / "m.onnx"
    result = cli_export(trained_runs["binary"], out)
    assert result.exit_code == 2, result.output
    assert "uv sync --extra onnx" in result.output
    assert not out.exists()
