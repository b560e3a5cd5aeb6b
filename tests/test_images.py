"""Image support: the image sources, the `cnn` model with augmentation, and image runs end to end."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from expctl.cli import cli
from expctl.data import SOURCES, load_table
from expctl.data.images import (
    generate_jet_images,
    keras_cache_paths,
    load_mnist,
    second_cluster_fraction,
)
from expctl.errors import DataError, SpecError
from expctl.spec import load_spec, resolved_yaml, spec_from_dict
from expctl.spec.datasets import DATA_SOURCES, SOURCE_LAYOUTS
from expctl.spec.models import MODEL_INPUTS, MODEL_TYPES, CnnModel, MlpModel

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "datasets" / "mnist.npz"

#: A CNN small enough to train on 8x8 or 16x16 images in a second or two.
SMALL_CNN: dict[str, Any] = {
    "type": "cnn",
    "conv": [{"filters": 4, "pool": 2}],
    "hidden": [8],
}


def _mnist_file() -> Path | None:
    """The real mnist.npz, via $EXPCTL_DATA_DIR or the shared datasets folder, if reachable."""
    data_dir = os.environ.get("EXPCTL_DATA_DIR")
    for candidate in ([Path(data_dir) / "mnist.npz"] if data_dir else []) + [SHARED_MNIST]:
        if candidate.is_file():
            return candidate
    return None


needs_mnist = pytest.mark.skipif(
    _mnist_file() is None, reason="mnist.npz not reachable (set EXPCTL_DATA_DIR)"
)


# ------------------------------------------------------------------------------ standardisation


def _prepare(data_spec: Any, base_dir: Path, seed: int) -> Any:
    from expctl.data import prepare

    return prepare(data_spec, base_dir, seed)


def test_images_are_standardised_per_channel_on_the_training_split() -> None:
    spec = spec_from_dict({"data": {"source": "digits", "images": True}, "model": SMALL_CNN})
    dataset = _prepare(spec.data, ROOT, 0)
    x = dataset.train.x
    assert x.shape[1:] == (8, 8, 1)
    assert dataset.mean.shape == dataset.std.shape == (1,)
    assert dataset.mean[0] == pytest.approx(float(np.mean(x, dtype=np.float64)), rel=1e-9)
    assert dataset.std[0] == pytest.approx(float(np.std(x, dtype=np.float64)), rel=1e-9)
    # a table keeps one mean per column
    table = _prepare(spec_from_dict({"data": {"source": "digits"}}).data, ROOT, 0)
    assert table.mean.shape == (64,)
    np.testing.assert_allclose(table.mean, table.train.x.mean(axis=0), rtol=1e-6)


def test_cnn_on_a_table_and_mlp_on_images_say_how_to_fix_it() -> None:
    from expctl.errors import SpecError

    with pytest.raises(SpecError, match=r"set data\.images: true"):
        spec_from_dict({"data": {"source": "digits"}, "model": SMALL_CNN})
    with pytest.raises(SpecError, match=r"set data\.images: false"):
        spec_from_dict({"data": {"source": "digits", "images": True}})


# ------------------------------------------------------------------------------------- registries


def test_registries_cover_every_source_and_model() -> None:
    assert set(SOURCE_LAYOUTS) == set(DATA_SOURCES) == set(SOURCES)
    assert set(MODEL_INPUTS) == set(MODEL_TYPES)
    from expctl.models import TRUNKS
    from expctl.models.augment import AUGMENTATIONS
    from expctl.spec.models import AugmentSpec

    assert set(TRUNKS) == set(MODEL_TYPES)
    assert set(AUGMENTATIONS) == set(AugmentSpec.model_fields)


# ---------------------------------------------------------------------------------------- sources


def test_digits_images_are_the_digits_as_8x8_images() -> None:
    spec = spec_from_dict({"data": {"source": "digits", "images": True}, "model": SMALL_CNN})
    table = load_table(spec.data, ROOT, 0)
    flat = load_table(spec_from_dict({"data": {"source": "digits"}}).data, ROOT, 0)
    assert table.features.shape == (1797, 8, 8, 1) and table.features.dtype == np.float32
    assert table.features.min() == 0.0 and table.features.max() == 1.0
    np.testing.assert_allclose(table.features.reshape(1797, 64), flat.features / 16.0, atol=1e-7)
    np.testing.assert_array_equal(table.target, flat.target)
    assert len(table.feature_names) == 64 and table.feature_names[9] == "pixel_1_1"


def test_digits_images_subset_is_seeded() -> None:
    spec = spec_from_dict(
        {"data": {"source": "digits", "images": True, "n_samples": 300}, "model": SMALL_CNN}
    )
    a, b = (_prepare(spec.data, ROOT, 4) for _ in range(2))
    assert len(a.train) + len(a.val) + len(a.test) == 300
    assert a.train.x.shape[1:] == (8, 8, 1)
    np.testing.assert_array_equal(a.train.x, b.train.x)
    assert a.mean is not None and a.mean.shape == (1,)  # one mean for the one channel


def test_jet_images_shapes_range_and_determinism() -> None:
    a = generate_jet_images(400, seed=5, image_size=25, signal_fraction=0.25)
    assert a.images.shape == (400, 25, 25, 1) and a.images.dtype == np.float32
    assert a.label.dtype == np.int64 and a.label.sum() == 100
    assert a.images.min() >= 0 and a.images.max() <= 1
    np.testing.assert_allclose(a.images.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)  # pT-normalised
    b = generate_jet_images(400, seed=5, image_size=25, signal_fraction=0.25)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.label, b.label)
    c = generate_jet_images(400, seed=6, image_size=25, signal_fraction=0.25)
    assert not np.array_equal(a.images, c.images)
    assert generate_jet_images(10, seed=1, image_size=16).images.shape == (10, 16, 16, 1)


def test_w_jets_have_a_second_prong() -> None:
    from sklearn.metrics import roc_auc_score

    jets = generate_jet_images(3000, seed=2)
    w, qcd = jets.label == 1, jets.label == 0
    second = second_cluster_fraction(jets.images)
    # the second prong carries z >= 0.1 of a W jet's pT, usually far less of a QCD jet's
    assert np.median(second[w]) > 0.15 > 0.06 > np.median(second[qcd])
    assert roc_auc_score(jets.label, second) > 0.85
    # prongs separated by ΔR = m / (pT √(z(1-z))): the splitting mass of W jets is the W's
    assert 75 < np.median(jets.mass[w]) < 86
    assert np.median(jets.mass[qcd]) < 40


def test_jet_images_source() -> None:
    spec = spec_from_dict(
        {"data": {"source": "jet_images", "n_samples": 200, "image_size": 12}, "model": SMALL_CNN}
    )
    table = load_table(spec.data, ROOT, 7)
    np.testing.assert_array_equal(
        table.features, generate_jet_images(200, seed=7, image_size=12).images
    )
    assert table.target_name == "label" and len(table.feature_names) == 144


def _fake_keras_npz(path: Path, **replace: Any) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (60, 6, 6), dtype=np.uint8),
        "y_train": np.arange(60, dtype=np.uint8) % 3,
        "x_test": rng.integers(0, 256, (30, 6, 6), dtype=np.uint8),
        "y_test": np.arange(30, dtype=np.uint8) % 3,
    }
    arrays.update(replace)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez_compressed(path, **arrays)
    return path


def _mnist_spec(**data: Any) -> Any:
    return spec_from_dict({"data": {"source": "mnist", **data}, "model": SMALL_CNN}).data


def test_mnist_source_reads_any_keras_layout_npz(tmp_path: Path) -> None:
    path = _fake_keras_npz(tmp_path / "tiny.npz")
    table = load_mnist(_mnist_spec(path="tiny.npz"), tmp_path, 0)
    assert table.features.shape == (90, 6, 6, 1) and table.features.dtype == np.float32
    assert table.features.min() >= 0 and table.features.max() <= 1
    with np.load(path) as npz:  # train then test, pixels / 255
        np.testing.assert_allclose(table.features[60:, ..., 0], npz["x_test"] / 255.0, rtol=1e-6)
    assert table.target.dtype == np.int64 and set(table.target) == {0, 1, 2}
    sub = load_mnist(_mnist_spec(path="tiny.npz", n_samples=50), tmp_path, 3)
    again = load_mnist(_mnist_spec(path="tiny.npz", n_samples=50), tmp_path, 3)
    assert sub.features.shape[0] == 50
    np.testing.assert_array_equal(sub.features, again.features)


@pytest.mark.parametrize(
    ("replace", "expect"),
    [
        ({"y_test": None}, "no array(s) 'y_test'"),
        ({"x_test": np.array([{"a": 1}] * 30, dtype=object)}, "holds Python objects"),
        ({"x_test": np.full((30, 6, 6), 300.0)}, "pixels range over [0, 300]"),
        ({"x_test": np.zeros((30, 5, 5), dtype=np.uint8)}, "training images are (6, 6, 1)"),
        ({"y_train": np.zeros(59, dtype=np.uint8)}, "one label per image"),
    ],
)
def test_mnist_source_refuses_bad_files(tmp_path: Path, replace: dict, expect: str) -> None:
    _fake_keras_npz(tmp_path / "bad.npz", **replace)
    with pytest.raises(DataError) as err:
        load_mnist(_mnist_spec(path="bad.npz"), tmp_path, 0)
    assert expect in str(err.value)


def test_mnist_source_refuses_a_file_that_is_no_zip(tmp_path: Path) -> None:
    (tmp_path / "mnist.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"cannot read as \.npz"):
        load_mnist(_mnist_spec(), tmp_path, 0)
    with zipfile.ZipFile(tmp_path / "empty.npz", "w"):
        pass
    with pytest.raises(DataError, match=r"not a Keras-layout \.npz"):
        load_mnist(_mnist_spec(path="empty.npz"), tmp_path, 0)


def test_mnist_source_falls_back_to_the_keras_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXPCTL_DATA_DIR", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert keras_cache_paths("mnist.npz")[0] == tmp_path / "keras" / "datasets" / "mnist.npz"
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    _fake_keras_npz(tmp_path / "keras" / "datasets" / "mnist.npz")
    table = load_mnist(_mnist_spec(), tmp_path / "specs", 0)
    assert table.features.shape == (90, 6, 6, 1) and "keras" in table.description


def test_mnist_not_found_explains_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EXPCTL_DATA_DIR", raising=False)
    monkeypatch.setattr(
        "expctl.data.images.keras_cache_paths", lambda name: [tmp_path / "cache" / name]
    )
    with pytest.raises(DataError) as err:
        load_mnist(_mnist_spec(), tmp_path, 0)
    message = str(err.value)
    assert "'mnist.npz' not found" in message and "EXPCTL_DATA_DIR" in message
    assert "data.download: true" in message
    spec = tmp_path / "mnist.yaml"
    spec.write_text(yaml.safe_dump({"data": {"source": "mnist"}, "model": SMALL_CNN}))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(spec), "--output-dir", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert not out.exists() or not any(out.iterdir())


@needs_mnist
def test_real_mnist(monkeypatch: pytest.MonkeyPatch) -> None:
    path = _mnist_file()
    monkeypatch.setenv("EXPCTL_DATA_DIR", str(path.parent))
    spec = _mnist_spec(n_samples=2000, seed=1)
    table = load_mnist(spec, ROOT / "experiments", 1)
    assert table.features.shape == (2000, 28, 28, 1) and table.features.dtype == np.float32
    assert table.features.min() == 0.0 and table.features.max() == 1.0
    assert set(table.target) == set(range(10))
    dataset = _prepare(spec, ROOT / "experiments", 1)  # the same 2,000 images, split 60/20/20
    assert (len(dataset.train), len(dataset.val), len(dataset.test)) == (1200, 400, 400)
    everything = load_mnist(_mnist_spec(), ROOT / "experiments", 1)
    assert everything.features.shape[0] == 70000


# ----------------------------------------------------------------------------------------- schema


def test_cnn_spec_defaults_and_round_trip() -> None:
    spec = spec_from_dict({"data": {"source": "mnist"}, "model": {"type": "cnn"}})
    model = spec.model
    assert isinstance(model, CnnModel)
    assert [c.filters for c in model.conv] == [32, 64] and model.hidden == [128]
    assert model.augment.flip == "none" and model.augment.rotation == 0
    assert isinstance(spec_from_dict({}).model, MlpModel)
    full = spec_from_dict(
        {
            "data": {"source": "jet_images", "n_samples": 500},
            "model": {
                "type": "cnn",
                "conv": [{"filters": 8, "batch_norm": True, "pool": 2, "dropout": 0.1}],
                "hidden": [16, 8],
                "dropout": [0.2, 0.0],
                "augment": {"flip": "horizontal_and_vertical", "rotation": 0.5, "noise": 0.01},
            },
        }
    )
    assert full.model.per_layer("dropout") == [0.2, 0.0]
    assert spec_from_dict(yaml.safe_load(resolved_yaml(full))) == full


@pytest.mark.parametrize(
    ("model", "expect"),
    [
        ({"augment": {"rotation": 0.6}}, "model.augment.rotation"),
        ({"augment": {"flip": "horizontl"}}, "did you mean 'horizontal'"),
        ({"augment": {"contrast": 1.5}}, "model.augment.contrast"),
        ({"augment": {"zoom": -0.1}}, "model.augment.zoom"),
        ({"augment": {"shear": 0.1}}, "unknown key"),
        ({"conv": []}, "model.conv"),
        ({"conv": [{"kernel_size": 3}]}, "model.conv[0].filters: required"),
        ({"conv": [{"filters": 8, "padding": "full"}]}, "model.conv[0].padding"),
        ({"hidden": [8, 8], "dropout": [0.1]}, "dropout has 1 values"),
    ],
)
def test_bad_cnn_values(tmp_path: Path, model: dict, expect: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump({"data": {"source": "mnist"}, "model": {"type": "cnn", **model}})
    )
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert expect in str(err.value)


@pytest.mark.parametrize(
    ("data", "model", "expect"),
    [
        ({"source": "jets"}, {"type": "cnn"}, "model.type cnn takes images"),
        ({"source": "digits"}, {"type": "cnn"}, "use model.type mlp"),
        ({"source": "mnist"}, {"type": "mlp"}, "use model.type cnn"),
        ({"source": "jet_images"}, {}, "data.source jet_images gives images"),
        ({"source": "jet_images", "image_size": 128, "n_samples": 100000}, SMALL_CNN, "pixels"),
    ],
)
def test_model_must_fit_the_data(tmp_path: Path, data: dict, model: dict, expect: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"data": data, "model": model}))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert expect in str(err.value)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out), "-q"])
    assert result.exit_code == 2 and not out.exists()


def test_input_shape_checks_once_the_data_is_read() -> None:
    cnn = spec_from_dict({"data": {"source": "digits", "images": True}, "model": SMALL_CNN})
    assert cnn.check_input_shape((8, 8, 1)) == []
    assert "takes images" in cnn.check_input_shape((64,))[0]
    assert "use model.type mlp" in cnn.check_input_shape((64,))[0]
    assert "takes a table" in spec_from_dict({}).check_input_shape((8, 8, 1))[0]
    deep = spec_from_dict(
        {
            "data": {"source": "digits", "images": True},
            "model": {"type": "cnn", "conv": [{"filters": 4, "pool": 2}] * 4},
        }
    )
    assert deep.check_input_shape((8, 8, 1)) == [
        "model.conv[3]: pool 2 leaves no pixels of the 8x8 image; "
        "use a smaller pool or fewer pooling layers"
    ]
    assert deep.check_input_shape((28, 28, 1)) == []
    valid = spec_from_dict(
        {
            "data": {"source": "digits", "images": True},
            "model": {
                "type": "cnn",
                "conv": [{"filters": 4, "kernel_size": 5, "padding": "valid"}] * 2,
            },
        }
    )
    assert "model.conv[1]: a 8x8 image has no pixels left" in valid.check_input_shape((8, 8, 1))[0]


# ------------------------------------------------------------------------------------------ model


def _dataset(source: dict[str, Any], model: dict[str, Any], seed: int = 0) -> tuple[Any, Any]:
    spec = spec_from_dict({"data": source, "model": model})
    return spec, _prepare(spec.data, ROOT, seed)


def test_cnn_builds_with_the_expected_layers() -> None:
    from expctl.models import build_model

    spec, data = _dataset(
        {"source": "digits", "images": True},
        {
            "type": "cnn",
            "conv": [
                {"filters": 8, "batch_norm": True, "dropout": 0.1},
                {"filters": 16, "pool": 2, "l2": 1e-4},
            ],
            "hidden": [12],
            "dropout": 0.2,
            "max_norm": 3.0,
        },
    )
    model = build_model(spec.model, data)
    names = [layer.name for layer in model.layers]
    assert names == [
        "features",
        "standardize",
        "conv_1",
        "batch_norm_1",
        "conv_1_activation",
        "conv_dropout_1",
        "conv_2",
        "pool_2",
        "flatten",
        "dense_1",
        "dropout_1",
        "output",
    ]
    assert model.input_shape == (None, 8, 8, 1) and model.output_shape == (None, 10)
    conv_1, conv_2 = model.get_layer("conv_1"), model.get_layer("conv_2")
    assert not conv_1.use_bias and conv_1.activation.__name__ == "linear"
    assert conv_2.use_bias and conv_2.activation.__name__ == "relu"
    assert conv_2.kernel_regularizer is not None
    assert conv_2.kernel_constraint.axis == [0, 1, 2]  # max-norm of each filter
    assert model.get_layer("pool_2").output.shape == (None, 4, 4, 16)


def test_cnn_binary_with_global_pooling_and_weight_noise() -> None:
    from expctl.models import build_model
    from expctl.models.regularizers import NoisyDense

    spec, data = _dataset(
        {"source": "jet_images", "n_samples": 100, "image_size": 16},
        {**SMALL_CNN, "global_pool": "average", "weight_noise": 0.01},
    )
    model = build_model(spec.model, data)
    assert model.output_shape == (None, 1) and model.name == "cnn_binary"
    assert "global_average_pool" in [layer.name for layer in model.layers]
    assert isinstance(model.get_layer("dense_1"), NoisyDense)


ALL_AUGMENTATIONS = {
    "flip": "horizontal_and_vertical",
    "rotation": 0.1,
    "zoom": 0.2,
    "translation": 0.2,
    "contrast": 0.5,
    "noise": 0.1,
}


@pytest.mark.parametrize("key", sorted(ALL_AUGMENTATIONS))
def test_each_augmentation_changes_images_in_training_only(key: str) -> None:
    import keras

    from expctl.models import build_model

    spec, data = _dataset(
        {"source": "digits", "images": True},
        {**SMALL_CNN, "augment": {key: ALL_AUGMENTATIONS[key]}},
    )
    model = build_model(spec.model, data)
    augmented = keras.Model(model.input, model.get_layer(f"augment_{key}").output)
    x = data.train.x[:64]
    np.testing.assert_array_equal(np.asarray(augmented(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(augmented(x)), x)
    assert not np.allclose(np.asarray(augmented(x, training=True)), x)


def test_augmented_model_predicts_deterministically_and_loads_in_safe_mode(
    tmp_path: Path,
) -> None:
    from expctl.models import build_model, load_model

    spec, data = _dataset(
        {"source": "digits", "images": True}, {**SMALL_CNN, "augment": ALL_AUGMENTATIONS}
    )
    model = build_model(spec.model, data)
    x = data.test.x[:100]
    plain = np.asarray(model(x, training=False))
    assert not np.allclose(np.asarray(model(x, training=True)), plain)
    np.testing.assert_array_equal(np.asarray(model(x)), plain)
    np.testing.assert_allclose(model.predict(x, verbose=0), plain, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_model(path)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), plain, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------ end to end


def _run(tmp_path: Path, spec: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(path), "--output-dir", str(out), "-q"])
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    return run, json.loads((run / "metrics.json").read_text())


def test_cnn_run_on_digits_images(tmp_path: Path) -> None:
    from expctl.models import load_model

    run, metrics = _run(
        tmp_path,
        {
            "name": "cnn-digits",
            "seed": 1,
            "data": {"source": "digits", "images": True},
            "model": {**SMALL_CNN, "augment": {"rotation": 0.03, "noise": 0.02}},
            "train": {"batch_size": 64, "epochs": 2, "optimizer": {"learning_rate": 0.01}},
        },
    )
    assert metrics["accuracy"] > 0.3  # ten classes: chance is 0.1
    data = json.loads((run / "data.json").read_text())
    assert data["task"] == "multiclass" and data["n_train"] == 1077
    model = load_model(run / "model.keras")
    assert model.input_shape == (None, 8, 8, 1)
    assert "augment_rotation" in [layer.name for layer in model.layers]


def test_cnn_run_on_jet_images(tmp_path: Path) -> None:
    _, metrics = _run(
        tmp_path,
        {
            "name": "cnn-jets",
            "seed": 2,
            "data": {"source": "jet_images", "n_samples": 1200, "image_size": 16},
            "model": {**SMALL_CNN, "augment": {"flip": "horizontal_and_vertical"}},
            "train": {"batch_size": 64, "epochs": 2, "optimizer": {"learning_rate": 0.01}},
        },
    )
    assert metrics["auc"] > 0.75


@needs_mnist
def test_cnn_run_on_a_mnist_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPCTL_DATA_DIR", str(_mnist_file().parent))
    _, metrics = _run(
        tmp_path,
        {
            "data": {"source": "mnist", "n_samples": 2000},
            "model": {**SMALL_CNN, "conv": [{"filters": 8, "pool": 2}]},
            "train": {"batch_size": 32, "epochs": 3, "optimizer": {"learning_rate": 0.003}},
        },
    )
    assert metrics["accuracy"] > 0.6  # ten classes: chance is 0.1


@pytest.mark.parametrize("name", ["cnn_digits", "cnn_mnist", "jet_images"])
def test_example_specs_validate(name: str) -> None:
    spec = load_spec(ROOT / "experiments" / f"{name}.yaml").spec
    assert spec.model.type == "cnn"


@pytest.mark.slow
def test_example_cnn_digits_spec_runs(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["run", str(ROOT / "experiments" / "cnn_digits.yaml"), "--output-dir", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    (run,) = out.iterdir()
    assert json.loads((run / "metrics.json").read_text())["accuracy"] > 0.9
